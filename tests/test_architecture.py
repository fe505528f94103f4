"""The import contract: arrows point one way, read from the source with ``ast`` (no import is run).

    faces (cli/, service/, dashboard/)
      -> workspace and its components (workspace, pipeline, builds, components/, profiles/,
         realtime/, journal/)
        -> stages, in pipeline order: ingest, clean, identity, features, tags, segments, models
          -> base (engine/, config, sources, schema, errors, expressions, normalize, labels, datasets/, …)

- only the faces import typer, rich, fastapi, uvicorn or starlette;
- a layer imports only layers below it; a stage imports only earlier stages (ingest not even clean);
- backend differences stay in engine/: no ``engine.name ==`` branch, no ``.con.sql(`` / ``.con.table(``.

Each failure names the file, the line and the arrow, so the next engineer is told at once.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "huaxiang"

FACES = ("cli", "service", "dashboard")
WORKSPACE = ("workspace", "pipeline", "builds", "components", "profiles", "profile", "realtime", "journal",
             "Workspace")
STAGES = ("ingest", "clean", "identity", "features", "tags", "segments", "models")
BASE = ("engine", "config", "config_errors", "sources", "locks", "schema", "errors", "exprs", "expressions", "normalize",
        "labels", "datasets", "examples")
# huaxiang.yaml's schema is composed of each stage's settings model (pydantic specs that import only
# the base): config may import exactly these.
SETTINGS_MODULES = ("huaxiang.features.settings", "huaxiang.identity.settings", "huaxiang.models.settings",
                    "huaxiang.segments.settings", "huaxiang.tags.specs")
FACE_LIBRARIES = ("typer", "rich", "fastapi", "uvicorn", "starlette", "click")

# Arrows that point the wrong way and are tolerated for now, each with the reason (file relative to
# src/huaxiang, what it imports/does). Empty: keep it so.
ALLOWED: set[tuple[str, str]] = set()


def _layer(module: str) -> tuple[str, int]:
    """``(layer, rank)`` of a dotted module under ``huaxiang`` (``huaxiang.tags.stage`` -> ``("tags", 2)``)."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "Workspace"  # the package itself re-exports Workspace
    if top in FACES:
        return "face", 3
    if top in WORKSPACE:
        return "workspace", 2
    if top in STAGES:
        return "stage", 1
    return "base", 0


def _modules() -> Iterator[tuple[Path, str]]:
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield path, ".".join(parts)


def _imports(path: Path, module: str) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """``(line, imported module, names)`` for every import in the file, at any depth (lazy ones too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = tuple(a.name for a in node.names)
            yield node.lineno, base, names
            # ``from huaxiang import normalize`` imports the module huaxiang.normalize
            if base == "huaxiang":
                for name in names:
                    yield node.lineno, f"huaxiang.{name}", ()


def _rel(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def test_the_layers_are_where_the_contract_says() -> None:
    tops = {p.name if p.is_dir() else p.stem for p in SRC.iterdir()
            if not p.name.startswith((".", "_")) and (p.is_dir() or p.suffix == ".py")}
    tops -= {"py", "__pycache__"}
    unknown = tops - set(FACES) - set(WORKSPACE) - set(STAGES) - set(BASE)
    assert not unknown, f"place {sorted(unknown)} in a layer of tests/test_architecture.py"


def test_only_the_faces_import_face_libraries() -> None:
    wrong = []
    for path, module in _modules():
        if _layer(module)[0] == "face":
            continue
        for line, imported, _ in _imports(path, module):
            if imported.split(".")[0] in FACE_LIBRARIES:
                wrong.append(f"{_rel(path)}:{line} imports {imported} (only cli/, service/, dashboard/ may)")
    assert not wrong, "\n".join(wrong)


def test_arrows_point_down_the_layers() -> None:
    wrong = []
    for path, module in _modules():
        layer, rank = _layer(module)
        for line, imported, names in _imports(path, module):
            if not imported.startswith("huaxiang.") or imported == module:
                continue  # ``from huaxiang import x`` is checked as huaxiang.x
            if (_rel(path), ".".join(imported.split(".")[:2])) in ALLOWED:
                continue
            other, other_rank = _layer(imported)
            # a stage takes its protocol types (StageContext, StageResult) from the pipeline
            if layer == "stage" and imported == "huaxiang.pipeline" and set(names) <= {"StageContext",
                                                                                      "StageResult"}:
                continue
            if module == "huaxiang.config" and imported in SETTINGS_MODULES:
                continue
            if other_rank > rank:
                wrong.append(f"{_rel(path)}:{line}: {layer} imports {imported} ({other}): arrows point down "
                             "faces -> workspace -> stages -> base")
            elif layer == other == "stage":
                mine, theirs = module.split(".")[1], imported.split(".")[1]
                if STAGES.index(theirs) > STAGES.index(mine):
                    wrong.append(f"{_rel(path)}:{line}: stage {mine} imports the later stage {theirs}")
                elif mine == "ingest" and theirs == "clean":
                    wrong.append(f"{_rel(path)}:{line}: ingest imports clean; shared code goes in "
                                 "huaxiang.normalize")
    assert not wrong, "\n".join(wrong)


_BACKEND_BRANCHES = {
    "engine.name ==": re.compile(r"\b(?:engine|eng)\.name\s*[!=]="),
    ".con.sql(": re.compile(r"\.con\.sql\("),
    ".con.table(": re.compile(r"\.con\.table\("),
}


def test_backend_differences_stay_in_the_engine() -> None:
    wrong = []
    for path, _ in _modules():
        rel = _rel(path)
        if rel.startswith("engine/"):
            continue
        for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for what, pattern in _BACKEND_BRANCHES.items():
                if pattern.search(text) and (rel, what) not in ALLOWED:
                    wrong.append(f"{rel}:{n}: {what} outside engine/ (give the engine a hook instead)")
    assert not wrong, "\n".join(wrong)


def test_the_allow_list_holds_only_live_exceptions() -> None:
    """An exception removed from the code must leave the list too, so the list only shrinks."""
    stale = []
    for rel, what in sorted(ALLOWED):
        text = (SRC / rel).read_text(encoding="utf-8")
        pattern = _BACKEND_BRANCHES.get(what)
        found = bool(pattern.search(text)) if pattern else what in {
            imp for _, imp, _ in _imports(SRC / rel, "huaxiang." + rel[:-3].replace("/", "."))
        } or any(i.startswith(what + ".") for _, i, _ in _imports(SRC / rel, "huaxiang." + rel[:-3].replace("/", ".")))
        if not found:
            stale.append(f"{rel}: {what}")
    assert not stale, f"remove from ALLOWED (fixed): {stale}"


@pytest.mark.parametrize("name", ["importlib", "find_spec"])
def test_commands_and_stages_are_listed_not_discovered(name: str) -> None:
    for path in [SRC / "pipeline.py", *sorted((SRC / "cli").glob("*.py"))]:
        assert name not in path.read_text(encoding="utf-8"), f"{_rel(path)} uses {name}: list modules explicitly"


def test_every_listed_stage_and_command_module_imports() -> None:
    import huaxiang.cli as cli
    from huaxiang.pipeline import STAGES as PIPELINE

    assert [s.name for s in PIPELINE] == list(STAGES)
    for module in cli.COMMAND_MODULES:
        assert callable(module.register), module.__name__
    # each stage's function is imported by name when it runs: check the names exist now
    import importlib

    for stage in PIPELINE[2:]:
        module = importlib.import_module(f"huaxiang.{stage.name}.stage")
        assert callable(getattr(module, f"run_{stage.name}")), stage.name
