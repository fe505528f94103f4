"""``ws.tags``: the tag library in force, a person's tag history, persons per tag over builds.

Examples
--------
>>> import tempfile, huaxiang
>>> ws = huaxiang.Workspace.init(tempfile.mkdtemp())
>>> catalog = ws.tags.catalog(lang="en")
>>> catalog.set_index("id").loc["night_owl", "name"]
'Night owl'
>>> ws.tags.history("P1")
Traceback (most recent call last):
...
huaxiang.errors.WorkspaceError: no tag history yet; run `huaxiang build` first
>>> ws.close()
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

import pandas as pd

from huaxiang.errors import WorkspaceError
from huaxiang.labels import check_lang

if TYPE_CHECKING:
    from huaxiang.workspace import Workspace

__all__ = ["TagsComponent"]


class TagsComponent:
    """``ws.tags``: catalogue, history and trend of the rule tags."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def catalog(self, *, lang: str = "zh", include_disabled: bool = False) -> pd.DataFrame:
        """The tags in force (built-in + ``huaxiang.yaml``): id, name, category, group, priority, rule,
        description, and ``tier``: ``event`` (an incoming event can change it; the live service
        updates it within a second) or ``scheduled`` (it changes with the passing of time, e.g.
        ``recency_days > 365``: re-evaluated every ``service.refresh_every``).

        Read from the configuration, so it works before any build; ``include_disabled`` adds the
        switched-off tags and an ``enabled`` column.

        >>> import tempfile, huaxiang
        >>> with huaxiang.Workspace.init(tempfile.mkdtemp()) as ws:
        ...     print(ws.tags.catalog().set_index("id").loc["night_owl", "name"])
        夜猫子
        """
        from huaxiang.tags.refresh import tag_tiers
        from huaxiang.tags.specs import resolve_tag_specs

        check_lang(lang)
        specs = resolve_tag_specs(self._ws.config.tags, include_disabled=include_disabled)
        tiers = tag_tiers(specs)
        return pd.DataFrame([{
            "id": s.id, "name": s.name(lang), "category": s.category, "group": s.group or "",
            "priority": s.priority if s.group else "", "rule": s.rule, "description": s.description(lang),
            "tier": tiers[s.id],
            **({"enabled": s.enabled} if include_disabled else {}),
        } for s in specs])

    def history(self, person_id: str, *, lang: str = "zh") -> pd.DataFrame:
        """When each tag of a person started and ended: ``person_id, tag_id, name, valid_from, valid_to``.

        >>> # ws.tags.history("P0000123", lang="en")
        """
        check_lang(lang)
        eng = self._ws.engine
        if not eng.has_table("tags"):
            raise WorkspaceError("no tag history yet; run `huaxiang build` first")
        h = eng.table("tags")
        frame = eng.execute(h.filter(h.person_id == person_id).order_by(["valid_from", "tag_id"]))
        return self._with_names(frame, lang)

    def trend(self, tag_id: str | None = None, *, lang: str = "zh") -> pd.DataFrame:
        """Persons per tag at each build: ``tag_id, name, built_at, as_of, persons``.

        An unknown ``tag_id`` raises :class:`~huaxiang.errors.WorkspaceError` naming the closest one.

        >>> # ws.tags.trend("night_owl")
        """
        check_lang(lang)
        eng = self._ws.engine
        if not eng.has_table("tag_trend"):
            raise WorkspaceError("no tag trend yet; run `huaxiang build` first")
        t = eng.table("tag_trend")
        if tag_id is not None:
            known = set(eng.execute(t.tag_id.name("tag_id").as_table().distinct())["tag_id"])
            if tag_id not in known:
                close = difflib.get_close_matches(tag_id, sorted(known), n=1)
                raise WorkspaceError(f"no trend for tag {tag_id!r}"
                                     + (f"; did you mean {close[0]!r}?" if close else "")
                                     + f" tags: {', '.join(sorted(known))}")
            t = t.filter(t.tag_id == tag_id)
        return self._with_names(eng.execute(t.order_by(["tag_id", "built_at"])), lang)

    def _with_names(self, frame: pd.DataFrame, lang: str) -> pd.DataFrame:
        eng = self._ws.engine
        if frame.empty or not eng.has_table("tag_catalog"):
            return frame
        cat = eng.execute(eng.table("tag_catalog"))
        names = dict(zip(cat["tag_id"], cat["name_en" if lang == "en" else "name_zh"], strict=True))
        out = frame.copy()
        out.insert(list(out.columns).index("tag_id") + 1, "name", out["tag_id"].map(names))
        return out
