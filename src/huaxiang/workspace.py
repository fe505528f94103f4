"""The Workspace: one folder, one ``huaxiang.yaml``, one warehouse — the entry point of the Python API.

Examples
--------
>>> import tempfile, huaxiang
>>> folder = tempfile.mkdtemp()
>>> ws = huaxiang.Workspace.init(folder)          # a commented, empty huaxiang.yaml
>>> report = ws.build()                           # no sources yet: empty canonical tables
>>> report.tables["orders"]
0
>>> ws.table("orders").columns[:3]
('source', 'source_row', 'order_id')

Each capability is a component (in the manner of Splink's ``linker.training``): ``ws.identity``,
``ws.profiles``, ``ws.tags``, ``ws.segments``, ``ws.models`` and ``ws.funnel()``.

>>> ws.tags.catalog(lang="en").set_index("id").loc["night_owl", "name"]
'Night owl'
>>> ws.close()
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir
import pandas as pd

from huaxiang.config import CONFIG_FILE, WorkspaceConfig, load_config
from huaxiang.engine import create_engine
from huaxiang.engine.base import Engine
from huaxiang.errors import WorkspaceError

if TYPE_CHECKING:
    from huaxiang.components import IdentityComponent, ModelsComponent, SegmentsComponent, TagsComponent
    from huaxiang.engine.snapshot import SnapshotInfo
    from huaxiang.profiles import ProfilesComponent

RUNS_DIR = "runs"

#: Prefixes of the engine's own scratch tables (ours, Splink's, Ibis's): not shown as workspace tables.
SCRATCH_PREFIXES = ("_hx_", "__splink__", "ibis_")


@dataclass
class BuildReport:
    """What one build did: per source counts, per stage seconds, rows per table."""

    workspace: str
    engine: str
    started_at: str
    seconds: float
    sources: list[dict[str, Any]] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    def to_json(self) -> str:
        """The report as one JSON object."""
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2, default=str)


def default_data_dir() -> Path:
    """Where the real public data sets live: ``$HUAXIANG_DATA``, else ``shared/data`` beside the checkout."""
    env = os.environ.get("HUAXIANG_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return Path.cwd().parent / "shared" / "data"


class Workspace:
    """A workspace folder and its warehouse.

    Use :meth:`open` for an existing folder and :meth:`init` to create one.
    The engine connection opens on first use and is shared by every stage.
    """

    def __init__(self, path: str | Path, config: WorkspaceConfig, *, engine: str | None = None,
                 engine_options: dict[str, Any] | None = None) -> None:
        self.path = Path(path).resolve()
        self.config = config
        self.engine_name = engine or config.engine.name
        self._engine_options = engine_options or {}
        self._engine: Engine | None = None

    # ----------------------------------------------------------- lifecycle
    @classmethod
    def open(cls, path: str | Path = ".", *, engine: str | None = None, **engine_options: Any) -> Workspace:
        """Open the workspace in ``path`` (a folder with ``huaxiang.yaml``)."""
        folder = Path(path)
        if not folder.exists():
            raise WorkspaceError(f"{folder}: no such folder; create a workspace with `huaxiang init {folder}`")
        config = load_config(folder / CONFIG_FILE)
        return cls(folder, config, engine=engine, engine_options=engine_options)

    @classmethod
    def init(cls, path: str | Path, *, example: str | None = None, data: str | Path | None = None,
             force: bool = False, **example_options: Any) -> Workspace:
        """Create a workspace folder: an empty commented config, or a ready example.

        ``example`` is one of :func:`huaxiang.examples.list_examples`; ``data`` the folder holding
        the public data sets (default :func:`default_data_dir`).
        """
        from huaxiang.examples import write_example, write_template

        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / CONFIG_FILE
        if target.exists() and not force:
            raise WorkspaceError(f"{target} already exists; pass --force to overwrite it")
        if example is None:
            write_template(folder)
        else:
            write_example(example, folder, data_dir=Path(data) if data else default_data_dir(), **example_options)
        return cls.open(folder)

    @property
    def engine(self) -> Engine:
        """The engine connection (opened on first use)."""
        if self._engine is None:
            from huaxiang.builds import engine_options

            self._engine = create_engine(self.engine_name, workspace_dir=self.path, **engine_options(self))
        return self._engine

    @property
    def reading_snapshot(self) -> SnapshotInfo | None:
        """The service's read-only snapshot this workspace reads (another process serves it), else None.

        Known once the engine is open; see :mod:`huaxiang.engine.snapshot`.
        """
        return self._engine.snapshot if self._engine is not None else None

    @property
    def data_dir(self) -> Path:
        """Folder relative source paths start from."""
        if self.config.data_dir:
            d = Path(self.config.data_dir).expanduser()
            return d if d.is_absolute() else self.path / d
        return self.path

    def close(self) -> None:
        """Close the engine connection."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------- components
    @cached_property
    def identity(self) -> IdentityComponent:
        """Explain and correct who is who: ``explain``, ``merge``, ``split``, ``attach``, ``resolve``."""
        from huaxiang.components import IdentityComponent

        return IdentityComponent(self)

    @cached_property
    def profiles(self) -> ProfilesComponent:
        """The customer 360: ``ws.profiles.get(person_id | phone= | email= | source_id= | user_id= …)``."""
        from huaxiang.profiles import ProfilesComponent

        return ProfilesComponent(self)

    @cached_property
    def tags(self) -> TagsComponent:
        """The tag library in force, a person's tag history, persons per tag over builds."""
        from huaxiang.components import TagsComponent

        return TagsComponent(self)

    @cached_property
    def segments(self) -> SegmentsComponent:
        """Segment sizes, persona cards and the clustering's choice of k."""
        from huaxiang.components import SegmentsComponent

        return SegmentsComponent(self)

    @cached_property
    def models(self) -> ModelsComponent:
        """Model evaluations against their baselines and one person's scores."""
        from huaxiang.components import ModelsComponent

        return ModelsComponent(self)

    def funnel(self, by: str | None = None, *, steps: Sequence[str] | None = None) -> pd.DataFrame:
        """The population funnel, whole or one block per ``channel`` / ``segment``.

        See :func:`huaxiang.components.funnel.population_funnel_frame`.

        >>> # ws.funnel(by="channel")[["channel", "step", "persons", "conversion"]]
        """
        from huaxiang.components import population_funnel_frame

        return population_funnel_frame(self, by=by, steps=steps)

    # --------------------------------------------------------------- build
    def build(self, *, stages: Sequence[str] | None = None,
              progress: Callable[[str, str], None] | None = None) -> BuildReport:
        """Run the pipeline stages (all by default) and return a :class:`BuildReport`.

        The build is atomic: it runs on a staging copy of the warehouse and replaces the live one
        only when every stage succeeded; a failure leaves every table as the last successful build
        left it. A second build while one runs (or while the service holds the workspace) is refused
        with :class:`~huaxiang.errors.WorkspaceBusyError`. See :mod:`huaxiang.builds`.

        ``progress(stage, item)`` is called as work starts (for progress bars).
        """
        from huaxiang.builds import run_build

        report = BuildReport(workspace=str(self.path), engine=self.engine_name,
                             started_at=datetime.now().isoformat(timespec="seconds"), seconds=0.0)
        return run_build(self, report, stages=stages, progress=progress, save=self._save_report)

    def _save_report(self, report: BuildReport) -> None:
        runs = self.path / RUNS_DIR
        runs.mkdir(exist_ok=True)
        stamp = report.started_at.replace(":", "")
        text = report.to_json()
        (runs / f"build-{stamp}.json").write_text(text, encoding="utf-8")
        (runs / "last_build.json").write_text(text, encoding="utf-8")

    def last_build(self) -> BuildReport | None:
        """The report of the most recent build, if any."""
        file = self.path / RUNS_DIR / "last_build.json"
        if not file.exists():
            return None
        return BuildReport(**json.loads(file.read_text(encoding="utf-8")))

    # -------------------------------------------------------------- tables
    def table(self, name: str) -> ir.Table:
        """A stored table as an Ibis table expression."""
        return self.engine.table(name)

    def tables(self) -> list[str]:
        """Names of the stored tables (the engine's scratch tables, :data:`SCRATCH_PREFIXES`, excluded)."""
        return sorted(t for t in self.engine.list_tables() if not t.startswith(SCRATCH_PREFIXES))

    def show(self, name: str, *, limit: int = 20, where: str | None = None) -> pd.DataFrame:
        """Rows of a table, optionally filtered by a condition over its columns.

        The condition is parsed and checked (never run as SQL): see :mod:`huaxiang.expressions`.

        >>> # ws.show("orders", where="amount > 100", limit=5)
        """
        from huaxiang.builds import show_rows

        return show_rows(self, name, limit=limit, where=where)

    def quarantine_summary(self, source: str | None = None, *, examples: int = 3) -> pd.DataFrame:
        """Rejected rows grouped by source and reason, with counts, example rows and the offending values.

        ``reason`` is the kind (quoted values and row numbers replaced by ``…``); ``example_values``
        lists up to ``examples`` distinct values the rows had (empty when the reason quotes none).
        """
        q = self.table("quarantine")
        if source is not None:
            q = q.filter(q.source == source)
        frame = self.engine.execute(q.select("source", "target_table", "reason", "source_row", "payload"))
        if frame.empty:
            return pd.DataFrame(columns=["source", "target_table", "reason", "rows", "example_rows",
                                         "example_values", "example"])
        # Group reasons by their kind (the text before any quoted value) so similar rows collapse.
        frame["kind"] = (frame["reason"].str.replace(r"'[^']*'", "'…'", regex=True)
                         .str.replace(r"row \d+", "row …", regex=True)
                         .str.replace(r"=[^),]*", "=…", regex=True))
        grouped = (
            frame.sort_values("source_row")
            .groupby(["source", "target_table", "kind"], sort=False)
            .agg(rows=("reason", "size"), example_rows=("source_row", lambda s: list(s[:examples])),
                 example_values=("reason", lambda s: _quoted_values(s, examples)),
                 example=("payload", "first"))
            .reset_index()
            .rename(columns={"kind": "reason"})
            .sort_values(["source", "rows"], ascending=[True, False])
        )
        return grouped.reset_index(drop=True)


def _quoted_values(reasons: pd.Series, limit: int) -> list[str]:
    """Distinct values quoted in ``reasons`` (``cannot read '昨天' as …`` → ``昨天``; ``(order_id=S1)`` → ``S1``)."""
    seen: list[str] = []
    for reason in reasons:
        for value in re.findall(r"'([^']*)'|=([^),]*)", str(reason)):
            value = value[0] or value[1]
            if value not in seen:
                seen.append(value)
            if len(seen) >= limit:
                return seen
    return seen
