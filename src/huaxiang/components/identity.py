"""``ws.identity``: explain who is who, and correct it (merge, split, attach new records).

Corrections are stored in ``identity_overrides.yaml`` by record key, so they survive rebuilds; with
``rebuild=True`` (the default) the identity stage runs again at once.

Examples
--------
>>> import tempfile, huaxiang
>>> ws = huaxiang.Workspace.init(tempfile.mkdtemp())
>>> ws.identity.explain("P1")
Traceback (most recent call last):
...
huaxiang.errors.WorkspaceError: no identity tables yet; run `huaxiang build` (the identity stage) first
>>> ws.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd
from pydantic import BaseModel, ConfigDict

from huaxiang.errors import WorkspaceError
from huaxiang.locks import hold_workspace

if TYPE_CHECKING:
    from huaxiang.workspace import Workspace

__all__ = ["IdentityComponent", "IdentityExplanation"]


class IdentityExplanation(BaseModel):
    """A person's records and the links that joined them.

    ``records``: one row per source record (``record_key`` and its main attributes);
    ``links``: ``record_key, linked_record_key, rule, identifier_value, match_probability`` —
    ``rule`` is the shared identifier type, ``splink`` or ``operator_merge``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    asked: str
    person_id: str
    records: pd.DataFrame
    links: pd.DataFrame

    @property
    def merged(self) -> bool:
        """Whether the id asked for is an alias of a person merged into ``person_id``."""
        return self.asked != self.person_id


class IdentityComponent:
    """``ws.identity``: explain, merge, split, attach and resolve persons."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def _require(self) -> None:
        if not self._ws.engine.has_table("record_persons"):
            raise WorkspaceError("no identity tables yet; run `huaxiang build` (the identity stage) first")

    def resolve(self, person_id: str) -> str:
        """The current id of ``person_id`` (following ``person_aliases`` after a merge).

        Raises :class:`~huaxiang.errors.WorkspaceError` when the id is unknown.

        >>> # ws.identity.resolve("P0a1b2c3d4e5f6789")  ->  'P3f2a9c0d1e4b5a67' (merged into it)
        """
        from huaxiang.identity.operations import resolve_person_id

        self._require()
        return resolve_person_id(self._ws, person_id)

    def explain(self, person_id: str) -> IdentityExplanation:
        """The records of a person and which rule or match probability joined each.

        >>> # e = ws.identity.explain("P3f2a9c0d1e4b5a67"); e.links[["rule", "match_probability"]]
        """
        from huaxiang.identity.operations import explain_person

        pid = self.resolve(person_id)
        records, links = explain_person(self._ws, pid)
        return IdentityExplanation(asked=person_id, person_id=pid, records=records, links=links)

    def _refresh(self, person_ids: list[str]) -> None:
        """Refresh what the later stages derived for ``person_ids`` (features, tags, segments, scores)."""
        from huaxiang.realtime.refresh import refresh_persons

        refresh_persons(self._ws, person_ids)

    def merge(self, person_ids: Sequence[str], *, note: str = "", rebuild: bool = True) -> list[str]:
        """Record that these persons are one; returns the record keys now held together.

        >>> # ws.identity.merge(["P3f2a9c0d1e4b5a67", "P0a1b2c3d4e5f6789"], note="same customer, ticket 42")
        """
        from huaxiang.identity.operations import merge_persons

        self._require()
        with hold_workspace(self._ws.path, what="identity merge"):
            keys = merge_persons(self._ws, person_ids, note=note, refresh=self._refresh)
        if rebuild:
            self._ws.build(stages=["identity"])
        return keys

    def split(self, person_id: str, records: Sequence[str], *, rebuild: bool = True) -> list[str]:
        """Record that ``records`` (``source:customer_id`` keys) are someone else; returns the records kept.

        >>> # ws.identity.split("P3f2a9c0d1e4b5a67", ["crm:M0000123"])
        """
        from huaxiang.identity.operations import split_person

        self._require()
        with hold_workspace(self._ws.path, what="identity split"):
            rest = split_person(self._ws, person_id, list(records), refresh=self._refresh)
        if rebuild:
            self._ws.build(stages=["identity"])
        return rest

    def attach(self) -> dict[str, int]:
        """Attach records that arrived since the last identity build; returns counts per outcome.

        >>> # ws.identity.attach()  ->  {'attached': 12, 'new_persons': 3, 'deferred': 0}
        """
        from huaxiang.identity.operations import attach_records

        self._require()
        with hold_workspace(self._ws.path, what="identity attach"):
            return attach_records(self._ws, refresh=self._refresh)
