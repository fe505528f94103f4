"""Identity commands: ``huaxiang identity explain|merge|split|attach`` and ``huaxiang dedupe``.

Examples
--------
$ huaxiang identity explain P3f2a9c0d1e4b5a67 -w shop
$ huaxiang identity merge P3f2a9c0d1e4b5a67 P0a1b2c3d4e5f6789 -w shop --note "same customer, ticket 42"
$ huaxiang identity split P3f2a9c0d1e4b5a67 --records crm:M0000123 -w shop
$ huaxiang dedupe people.csv --id-col rec_id --fields given_name,surname,date_of_birth --out clusters.csv
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from huaxiang.cli.output import fmt_count, opened_workspace, print_frame, say, user_errors
from huaxiang.cli.params import LangEnOpt, RebuildOpt, WorkspaceOpt
from huaxiang.labels import label


def _applied(rebuild: bool) -> str:
    return "" if rebuild else "; run `huaxiang build --stage identity` to apply"


def register(app: typer.Typer) -> None:
    """Add the ``identity`` group and ``dedupe``."""
    identity = typer.Typer(help="Explain and correct identity resolution (who is who).", no_args_is_help=True)
    app.add_typer(identity, name="identity")

    @identity.command("explain")
    def explain(
        person_id: Annotated[str, typer.Argument(help="A person id (an alias of a merged person works too).")],
        workspace: WorkspaceOpt = Path("."),
        lang: LangEnOpt = "en",
    ) -> None:
        """Show the records of a person and which rule or match probability joined each."""
        with user_errors():
            with opened_workspace(workspace) as ws:
                found = ws.identity.explain(person_id)
            if found.merged:
                say(label("msg.merged_into", lang, person_id, found.person_id))
            print_frame(found.records.rename(columns={"name": "attr.name"}),
                        title=label("title.records_of", lang, found.person_id), lang=lang)
            if len(found.links):
                print_frame(found.links, title=label("title.why_one", lang), lang=lang)
            else:
                say(label("msg.single_record", lang))

    @identity.command("merge")
    def merge(
        person_ids: Annotated[list[str], typer.Argument(help="Two or more person ids that are one person.")],
        workspace: WorkspaceOpt = Path("."),
        note: Annotated[str, typer.Option("--note", help="Why (kept in identity_overrides.yaml).")] = "",
        rebuild: RebuildOpt = True,
    ) -> None:
        """Merge persons (stored in identity_overrides.yaml; survives rebuilds)."""
        with user_errors():
            with opened_workspace(workspace) as ws:
                keys = ws.identity.merge(person_ids, note=note, rebuild=rebuild)
            say(f"merged {len(keys)} records into one person" + _applied(rebuild))

    @identity.command("split")
    def split(
        person_id: Annotated[str, typer.Argument(help="The person to split.")],
        records: Annotated[str, typer.Option("--records", help="Comma-separated record keys source:id to split off.")],
        workspace: WorkspaceOpt = Path("."),
        rebuild: RebuildOpt = True,
    ) -> None:
        """Split records off a person (stored in identity_overrides.yaml; survives rebuilds)."""
        with user_errors():
            keys = [r.strip() for r in records.split(",") if r.strip()]
            with opened_workspace(workspace) as ws:
                ws.identity.split(person_id, keys, rebuild=rebuild)
            say(f"split {len(keys)} record(s) off {person_id}" + _applied(rebuild))

    @identity.command("attach")
    def attach(workspace: WorkspaceOpt = Path(".")) -> None:
        """Attach records that arrived since the last identity build to existing persons."""
        with user_errors():
            with opened_workspace(workspace) as ws:
                counts = ws.identity.attach()
            say(", ".join(f"{k}: {fmt_count(v)}" for k, v in counts.items()))

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
        from huaxiang.errors import ConfigError
        from huaxiang.identity.dedupe import dedupe_files, write_clusters

        with user_errors():
            if not 0.0 < threshold < 1.0:
                raise ConfigError(f"--threshold {threshold}: a match probability strictly between 0 and 1")
            chosen = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
            frame = dedupe_files(input_path, id_col=id_col, fields=chosen, link_with=link_with, threshold=threshold)
            path = write_clusters(frame, out)
            say(f"{fmt_count(len(frame))} records → {fmt_count(frame['cluster_id'].nunique())} clusters; "
                f"written to {path}")
