"""``ws.segments``: segment sizes and persona cards (RFM segments, the 8 RFM cells, K-means clusters).

Examples
--------
>>> import tempfile, huaxiang
>>> ws = huaxiang.Workspace.init(tempfile.mkdtemp())
>>> ws.segments.summary()
Traceback (most recent call last):
...
huaxiang.errors.WorkspaceError: no persona cards yet; run `huaxiang build` first (the segments stage writes them)
>>> ws.close()
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pandas as pd

from huaxiang.errors import ConfigError, WorkspaceError
from huaxiang.labels import check_lang

if TYPE_CHECKING:
    from huaxiang.workspace import Workspace

__all__ = ["KINDS", "SegmentsComponent"]

#: The kinds of persona card, in the order they are shown.
KINDS = ("rfm", "cell", "cluster")
_JSON_COLUMNS = ("top_features", "top_tags", "top_categories")


def check_kind(kind: str | None) -> None:
    """Raise :class:`~huaxiang.errors.ConfigError` unless ``kind`` is None or one of :data:`KINDS`.

    >>> check_kind("rfm")
    """
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"--kind {kind!r}: use one of {', '.join(KINDS)}")


class SegmentsComponent:
    """``ws.segments``: sizes, persona cards and the clustering's choice of k."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def persona_cards(self, kind: str | None = None, lang: str = "zh") -> pd.DataFrame:
        """Persona cards, RFM segments first, then cells, then clusters.

        ``top_features``, ``top_tags`` and ``top_categories`` come as lists (parsed from the stored
        JSON); ``name``, ``label`` and ``description`` are in ``lang`` (the ``_zh``/``_en`` columns stay).

        >>> # ws.segments.persona_cards(kind="cluster", lang="en")[["key", "name", "size", "share"]]
        """
        check_lang(lang)
        check_kind(kind)
        eng = self._ws.engine
        if not eng.has_table("persona_cards"):
            raise WorkspaceError("no persona cards yet; run `huaxiang build` first (the segments stage writes them)")
        cards = eng.table("persona_cards")
        if kind is not None:
            cards = cards.filter(cards.kind == kind)
        frame = eng.execute(cards)
        order = {k: i for i, k in enumerate(KINDS)}
        frame = frame.assign(_o=frame["kind"].map(order)).sort_values("_o", kind="stable").drop(columns="_o")
        frame = frame.reset_index(drop=True)
        for col in _JSON_COLUMNS:
            if col in frame.columns:
                frame[col] = [json.loads(v) if isinstance(v, str) and v else [] for v in frame[col]]
        for col in ("name", "label", "description"):
            if f"{col}_{lang}" in frame.columns:
                frame[col] = frame[f"{col}_{lang}"]
        return frame

    def summary(self, kind: str | None = None, lang: str = "zh") -> pd.DataFrame:
        """Sizes: ``kind, key, name, size, share`` (share of all persons, 0..1).

        >>> # ws.segments.summary(kind="rfm", lang="en")
        """
        cards = self.persona_cards(kind, lang)
        return cards[["kind", "key", "name", "size", "share"]].reset_index(drop=True)

    def cluster_search(self) -> pd.DataFrame:
        """The K-means search over k: ``k, inertia, silhouette, chosen, elbow, n_fit, reused, as_of`` (empty before a build).

        >>> # ws.segments.cluster_search().query("chosen")
        """
        eng = self._ws.engine
        if not eng.has_table("cluster_report"):
            return pd.DataFrame(columns=["k", "inertia", "silhouette", "chosen", "elbow", "n_fit", "reused", "as_of"])
        frame: pd.DataFrame = eng.execute(eng.table("cluster_report"))
        return frame
