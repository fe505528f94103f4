"""``ws.models``: each model's evaluation against its baseline, and one person's scores.

Examples
--------
>>> import tempfile, huaxiang
>>> ws = huaxiang.Workspace.init(tempfile.mkdtemp())
>>> ws.models.report()
Traceback (most recent call last):
...
huaxiang.errors.WorkspaceError: no model reports yet; run `huaxiang build` (the models stage) first
>>> ws.close()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from huaxiang.errors import PersonNotFoundError, WorkspaceError

if TYPE_CHECKING:
    from huaxiang.workspace import Workspace

__all__ = ["ModelsComponent", "lower_is_better"]


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` is the better one (errors and Brier scores).

    >>> lower_is_better("brier_30d"), lower_is_better("auc")
    (True, False)
    """
    return str(metric).startswith(("brier", "mae"))


class ModelsComponent:
    """``ws.models``: the ``model_reports`` and ``scores`` tables, read for people."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def report(self) -> pd.DataFrame:
        """Each model's evaluation: ``model, metric, value, baseline, baseline_value, train_window, n, note``
        plus ``beats_baseline`` (True/False, None when there is no baseline or the model was skipped).

        >>> # ws.models.report().query("model == 'churn'")
        """
        eng = self._ws.engine
        if not eng.has_table("model_reports"):
            raise WorkspaceError("no model reports yet; run `huaxiang build` (the models stage) first")
        frame: pd.DataFrame = eng.execute(eng.table("model_reports"))
        beats: list[bool | None] = []
        for row in frame.to_dict(orient="records"):
            v, b = row.get("value"), row.get("baseline_value")
            if row["metric"] == "skipped" or not row.get("baseline") or pd.isna(v) or pd.isna(b):
                beats.append(None)
            else:
                beats.append(bool(v < b) if lower_is_better(row["metric"]) else bool(v > b))
        return frame.assign(beats_baseline=pd.Series(beats, index=frame.index, dtype="object"))

    def scores(self, person_id: str) -> pd.Series:
        """One person's scores (clv, churn_prob, p_purchase_30d, anomaly and its reasons …) as a Series.

        Raises :class:`~huaxiang.errors.PersonNotFoundError` when the person has no scores.

        >>> # ws.models.scores("P0000123")["churn_prob"]
        """
        eng = self._ws.engine
        if not eng.has_table("scores"):
            raise WorkspaceError("no scores yet; run `huaxiang build` (the models stage) first")
        t = eng.table("scores")
        frame = eng.execute(t.filter(t.person_id == person_id))
        if frame.empty:
            raise PersonNotFoundError(f"no scores for person {person_id!r}; find one with `huaxiang show scores`")
        row: pd.Series = frame.iloc[0]
        return row
