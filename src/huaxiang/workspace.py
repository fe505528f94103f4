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
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from huaxiang.config import CONFIG_FILE, WorkspaceConfig, load_config
from huaxiang.engine import create_engine
from huaxiang.engine.base import Engine
from huaxiang.errors import WorkspaceError

RUNS_DIR = "runs"


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
            opts: dict[str, Any] = {
                "threads": self.config.engine.threads, "memory_limit": self.config.engine.memory_limit,
                "master": self.config.engine.master, "conf": self.config.engine.conf,
                "path": self.config.engine.path,
            }
            opts.update(self._engine_options)
            self._engine = create_engine(self.engine_name, workspace_dir=self.path, **opts)
        return self._engine

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
        """Names of the stored tables (internal ``_hx_`` tables excluded)."""
        return sorted(t for t in self.engine.list_tables() if not t.startswith("_hx_"))

    def show(self, name: str, *, limit: int = 20, where: str | None = None) -> pd.DataFrame:
        """Rows of a table, optionally filtered by a condition over its columns.

        The condition is parsed and checked (never run as SQL): see :mod:`huaxiang.expressions`.

        >>> # ws.show("orders", where="amount > 100", limit=5)
        """
        from huaxiang.builds import show_rows

        return show_rows(self, name, limit=limit, where=where)

    def quarantine_summary(self, source: str | None = None, *, examples: int = 3) -> pd.DataFrame:
        """Rejected rows grouped by source and reason, with counts and example rows."""
        q = self.table("quarantine")
        if source is not None:
            q = q.filter(q.source == source)
        frame = self.engine.execute(q.select("source", "target_table", "reason", "source_row", "payload"))
        if frame.empty:
            return pd.DataFrame(columns=["source", "target_table", "reason", "rows", "example_rows", "example"])
        # Group reasons by their kind (the text before any quoted value) so similar rows collapse.
        frame["kind"] = frame["reason"].str.replace(r"'[^']*'", "'…'", regex=True).str.replace(
            r"row \d+", "row …", regex=True
        )
        grouped = (
            frame.sort_values("source_row")
            .groupby(["source", "target_table", "kind"], sort=False)
            .agg(rows=("reason", "size"), example_rows=("source_row", lambda s: list(s[:examples])),
                 example=("payload", "first"))
            .reset_index()
            .rename(columns={"kind": "reason"})
            .sort_values(["source", "rows"], ascending=[True, False])
        )
        return grouped.reset_index(drop=True)
