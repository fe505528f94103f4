"""Identity commands: ``huaxiang identity explain|merge|split|attach`` and ``huaxiang dedupe``.

Examples
--------
$ huaxiang identity explain P3f2a9c0d1e4b5a67 -w shop
$ huaxiang identity merge P3f2a9c0d1e4b5a67 P0a1b2c3d4e5f6789 -w shop
$ huaxiang identity split P3f2a9c0d1e4b5a67 --records crm:M0000123 -w shop
$ huaxiang dedupe people.csv --id-col rec_id --fields given_name,surname,date_of_birth --out clusters.csv
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

WorkspaceOpt = Annotated[Path, typer.Option("--workspace", "-w", help="Workspace folder.")]


def register(app: typer.Typer) -> None:
    """Add the identity commands to the ``huaxiang`` CLI."""
    identity = typer.Typer(help="Explain and correct identity resolution (who is who).", no_args_is_help=True)
    app.add_typer(identity, name="identity")

    @identity.command("explain")
    def explain(
        person_id: Annotated[str, typer.Argument(help="A person id (an alias of a merged person works too).")],
        workspace: WorkspaceOpt = Path("."),
    ) -> None:
        """Show the records of a person and which rule or match probability joined each."""
        from huaxiang.cli import console, opened_workspace, print_frame, user_errors
        from huaxiang.identity.operations import explain_person, resolve_person_id

        with user_errors():
            with opened_workspace(workspace) as ws:
                pid = resolve_person_id(ws, person_id)
                records, links = explain_person(ws, pid)
            if pid != person_id:
                console.print(f"{person_id} was merged into {pid}")
            print_frame(records, title=f"records of {pid}")
            if len(links):
                print_frame(links, title="why they are one person")
            else:
                console.print("a single record: nothing joined")

    @identity.command("merge")
    def merge(
        person_ids: Annotated[list[str], typer.Argument(help="Two or more person ids that are one person.")],
        workspace: WorkspaceOpt = Path("."),
        rebuild: Annotated[bool, typer.Option(help="Re-run the identity stage now.")] = True,
    ) -> None:
        """Merge persons (stored in identity_overrides.yaml; survives rebuilds)."""
        from huaxiang.cli import console, opened_workspace, user_errors
        from huaxiang.identity.operations import merge_persons

        with user_errors():
            with opened_workspace(workspace) as ws:
                keys = merge_persons(ws, person_ids)
                if rebuild:
                    ws.build(stages=["identity"])
            console.print(f"merged {len(keys)} records into one person" + ("" if rebuild else
                          "; run `huaxiang build --stage identity` to apply"))

    @identity.command("split")
    def split(
        person_id: Annotated[str, typer.Argument(help="The person to split.")],
        records: Annotated[str, typer.Option("--records", help="Comma-separated record keys source:id to split off.")],
        workspace: WorkspaceOpt = Path("."),
        rebuild: Annotated[bool, typer.Option(help="Re-run the identity stage now.")] = True,
    ) -> None:
        """Split records off a person (stored in identity_overrides.yaml; survives rebuilds)."""
        from huaxiang.cli import console, opened_workspace, user_errors
        from huaxiang.identity.operations import split_person

        with user_errors():
            with opened_workspace(workspace) as ws:
                keys = [r.strip() for r in records.split(",") if r.strip()]
                split_person(ws, person_id, keys)
                if rebuild:
                    ws.build(stages=["identity"])
            console.print(f"split {len(keys)} record(s) off {person_id}" + ("" if rebuild else
                          "; run `huaxiang build --stage identity` to apply"))

    @identity.command("attach")
    def attach(workspace: WorkspaceOpt = Path(".")) -> None:
        """Attach records that arrived since the last identity build to existing persons."""
        from huaxiang.cli import console, opened_workspace, user_errors
        from huaxiang.identity.operations import attach_records

        with user_errors():
            with opened_workspace(workspace) as ws:
                counts = attach_records(ws)
            console.print(", ".join(f"{k}: {v}" for k, v in counts.items()))

    @app.command("dedupe")
    def dedupe(
        input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="CSV or Parquet file.")],
        id_col: Annotated[str, typer.Option("--id-col", help="Column holding a unique record id.")],
        out: Annotated[Path, typer.Option("--out", help="Where to write record_id,cluster_id (.csv or .parquet).")],
        fields: Annotated[str | None, typer.Option("--fields", help="Comma-separated columns to compare "
                                                                    "(default: all but the id).")] = None,
        link_with: Annotated[Path | None, typer.Option("--link-with", help="A second file: link the two.")] = None,
        threshold: Annotated[float, typer.Option(help="Match probability a pair needs.")] = 0.95,
    ) -> None:
        """Find duplicate records in a file (or links between two files) with a model trained on the data."""
        from huaxiang.cli import console, user_errors
        from huaxiang.errors import ConfigError
        from huaxiang.identity.dedupe import dedupe_files, write_clusters

        with user_errors():
            if not 0.0 < threshold < 1.0:
                raise ConfigError(f"--threshold {threshold}: a match probability strictly between 0 and 1")
            chosen = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
            frame = dedupe_files(input_path, id_col=id_col, fields=chosen, link_with=link_with, threshold=threshold)
            path = write_clusters(frame, out)
            n_clusters = frame["cluster_id"].nunique()
            console.print(f"{len(frame):,} records → {n_clusters:,} clusters; written to {path}")
