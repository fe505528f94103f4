"""Refresh the derived rows of a few persons, and everyone on a schedule.

:class:`PersonRefresher` is the incremental path shared by the live updater and the identity
corrections (``identity merge``, ``split``, ``attach``): the touched persons' features
(:class:`~huaxiang.features.refresh.FeatureRefresher`), tags and tag history
(:class:`~huaxiang.tags.refresh.TagRefresher`), and one row per person in ``person_refresh``
(``person_id, refreshed_at, as_of``: when the person was last refreshed and the cut-off of their
features).

Time: the live ``as_of`` is the next midnight after now (:func:`live_as_of`) — the cut-off a build
uses when its latest data is from today (the day after the latest order or event) — so ages measured
to ``as_of`` (``recency_days``, ``T``, …) count whole days the way a build counts them and the
compiled refresh is reused all day. :func:`refresh_everyone` (the scheduled refresh) recomputes every
person's features and tags at a new ``as_of``: the rules that change with the passing of time.

Each refresh ends by publishing the persons' profile documents (:meth:`ws.profiles.publish
<huaxiang.profiles.ProfilesComponent.publish>`): the profile API reads those.

Segments and scores come from population models (k-means, RFM quantiles, BG/NBD, churn): a refreshed
person's rows are recomputed with the last build's models and figures
(:func:`~huaxiang.segments.refresh.refresh_segments`: RFM ranks among everyone's stored features and the
saved k-means centroids; :func:`~huaxiang.models.scorer.refresh_scores`: the fitted models and choices
the models stage saved); the persona cards, model reports and recommendations stay the last build's;
a retired id's rows are removed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from huaxiang.features.refresh import FeatureRefresher
from huaxiang.models.scorer import refresh_scores
from huaxiang.segments.refresh import refresh_segments
from huaxiang.tags.refresh import TagRefresher
from huaxiang.tags.specs import resolve_tag_specs

__all__ = ["PersonRefresher", "RefreshResult", "live_as_of", "refresh_everyone", "refresh_persons"]

REFRESH_TABLE = "person_refresh"


def live_as_of(now: datetime | None = None) -> datetime:
    """The next midnight after ``now``: the features' cut-off on the live path.

    >>> live_as_of(datetime(2026, 12, 7, 18, 30))
    datetime.datetime(2026, 12, 8, 0, 0)
    """
    now = now or datetime.now()
    return now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


@dataclass
class RefreshResult:
    """What one refresh did: persons, tag changes and seconds per step."""

    persons: list[str] = field(default_factory=list)
    tag_changes: pd.DataFrame = field(default_factory=pd.DataFrame)
    seconds: dict[str, float] = field(default_factory=dict)


class PersonRefresher:
    """Recompute features, tags, segments, scores and the refresh stamp of a few persons (see the module
    docstring).

    Built once per workspace connection: the compiled queries and the population figures are kept.
    """

    def __init__(self, ws: Any, *, publish: bool = True) -> None:
        self.ws = ws
        #: Write the refreshed persons' documents to the profile store (what the profile API reads).
        self.publish = publish
        self.features = FeatureRefresher(ws.engine, ws.config.features, country=ws.config.country)
        self.tags = TagRefresher(ws.engine, resolve_tag_specs(ws.config.tags))

    def reset(self) -> None:
        """Forget compiled queries and population figures (after a build or a scheduled refresh)."""
        self.features.reset()
        self.tags = TagRefresher(self.ws.engine, resolve_tag_specs(self.ws.config.tags))

    def refresh(self, person_ids: Sequence[str], *, as_of: datetime | None = None, at: datetime | None = None,
                attributes_changed: bool = True, models: bool = True) -> RefreshResult:
        """Refresh ``person_ids`` at ``as_of`` (default :func:`live_as_of`); ``at`` stamps tag changes
        and ``refreshed_at`` (default now). ``models=False`` leaves segments and scores for a later
        :meth:`refresh_models` (the live updater batches those: they cost the same for 10 persons or 1,000)."""
        ids = sorted({str(p) for p in person_ids})
        out = RefreshResult(persons=ids)
        if not ids or not self.ws.engine.has_table("features"):
            return out
        at = at or datetime.now().replace(microsecond=0)
        as_of = as_of or live_as_of(at)
        t0 = time.perf_counter()
        self.features.refresh(ids, as_of=as_of, attributes_changed=attributes_changed)
        t1 = time.perf_counter()
        out.tag_changes = self.tags.refresh(ids, at=at)
        t2 = time.perf_counter()
        if models:
            self._models(ids, as_of)
        t3 = time.perf_counter()
        stamps = pd.DataFrame({"person_id": ids, "refreshed_at": pd.Timestamp(at), "as_of": pd.Timestamp(as_of)})
        stamps = stamps.astype({"refreshed_at": "datetime64[us]", "as_of": "datetime64[us]"})
        self.ws.engine.replace_rows(REFRESH_TABLE, stamps, ids)
        t4 = time.perf_counter()
        if self.publish:
            self.ws.profiles.publish(ids)
        out.seconds = {"features": t1 - t0, "tags": t2 - t1, "models": t3 - t2, "stamp": t4 - t3,
                       "publish": time.perf_counter() - t4,
                       **{f"features.{k}": v for k, v in self.features.timings.items()}}
        return out

    def warm(self, as_of: datetime) -> float:
        """Compile the feature and tag queries for ``as_of`` and read the population figures now (seconds
        spent), so the first events after a start do not wait for them."""
        eng = self.ws.engine
        # The compiled query keeps what the data could say when it was compiled (features.capabilities):
        # compiled over an empty warehouse it would leave every feature NULL. Only a built one is warmed.
        if not eng.has_table("features") or not int(eng.execute(eng.table("features").count())):
            return 0.0
        t0 = time.perf_counter()
        for attributes in (True, False):
            self.features.compute([], as_of=as_of, attributes_changed=attributes)
        self.tags.warm()
        return time.perf_counter() - t0

    def _models(self, ids: list[str], as_of: datetime) -> None:
        refresh_segments(self.ws.engine, ids, self.ws.config.segments, workspace_dir=self.ws.path, as_of=as_of)
        refresh_scores(self.ws.engine, ids, workspace_dir=self.ws.path, as_of=as_of)

    def refresh_models(self, person_ids: Sequence[str], *, as_of: datetime | None = None) -> dict[str, float]:
        """Recompute the segments and scores of ``person_ids`` (refreshed before with ``models=False``)
        and publish their profiles again; returns seconds per step."""
        ids = sorted({str(p) for p in person_ids})
        if not ids or not self.ws.engine.has_table("features"):
            return {}
        t0 = time.perf_counter()
        self._models(ids, as_of or live_as_of())
        t1 = time.perf_counter()
        if self.publish:
            self.ws.profiles.publish(ids)
        return {"models": t1 - t0, "models.publish": time.perf_counter() - t1}


def refresh_persons(ws: Any, person_ids: Sequence[str], *, as_of: datetime | None = None) -> RefreshResult:
    """Refresh ``person_ids`` once (the identity corrections' entry point; see :class:`PersonRefresher`).

    ``as_of`` defaults to the features' stored cut-off, so a correction on a batch-built workspace
    gives the rows a rebuild would give.
    """
    from huaxiang.tags.stage import features_as_of

    eng = ws.engine
    if not eng.has_table("features"):
        return RefreshResult(persons=sorted(person_ids))
    as_of = as_of or features_as_of(eng, eng.table("features"))
    return PersonRefresher(ws).refresh(person_ids, as_of=as_of)


def refresh_everyone(ws: Any, *, as_of: datetime | None = None) -> dict[str, Any]:
    """The scheduled refresh: every person's features and tags at ``as_of`` (default :func:`live_as_of`).

    Runs the features and tags stages with that cut-off (the rules that change with time alone, and
    the population figures the incremental path reads); returns the stages' details.
    """
    from huaxiang.features.stage import run_features
    from huaxiang.pipeline import StageContext
    from huaxiang.tags.stage import run_tags

    as_of = as_of or live_as_of()
    features = dict(ws.config.features or {})
    features["as_of"] = as_of
    config = ws.config.model_copy(update={"features": features})
    ctx = StageContext(engine=ws.engine, config=config, workspace_dir=ws.path, data_dir=ws.data_dir)
    started = time.perf_counter()
    details: dict[str, Any] = {"features": run_features(ctx).details, "tags": run_tags(ctx).details}
    eng = ws.engine
    stamps = eng.execute(eng.table("features").select("person_id"))
    stamps["refreshed_at"] = pd.Timestamp(datetime.now().replace(microsecond=0))
    stamps["as_of"] = pd.Timestamp(as_of)
    stamps = stamps.astype({"refreshed_at": "datetime64[us]", "as_of": "datetime64[us]"})
    import ibis

    eng.materialize(REFRESH_TABLE, ibis.memtable(stamps))
    details["published"] = ws.profiles.publish_all()
    details["seconds"] = round(time.perf_counter() - started, 3)
    return details
