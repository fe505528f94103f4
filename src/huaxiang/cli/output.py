"""What the command line prints, written once: the console, error lines, titled tables, number formats.

Every table a command prints goes through :func:`print_frame`: a title, headers from the label
catalogue (:mod:`huaxiang.labels`) in ``--lang``, counts with thousands separators, shares as
percentages, durations in days/hours/minutes, money with the workspace currency, and empty cells
for missing values (never ``NaN``). On a terminal tables fit the window; piped, lines run up to
200 characters (``COLUMNS`` overrides) and long cells wrap instead of being cut.

Examples
--------
>>> fmt_count(13952807)
'13,952,807'
>>> fmt_share(0.910884)
'91.1%'
>>> fmt_duration(13952807.0, "en"), fmt_duration(13952807.0, "zh")
('161 d 11 h', '161天11小时')
>>> fmt_money(1234.5, "CNY")
'¥1,234.50'
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from huaxiang.errors import HuaxiangError, WorkspaceError
from huaxiang.labels import label

if TYPE_CHECKING:
    from huaxiang.workspace import Workspace

#: Set by the app callback: ``--debug`` shows tracebacks and Spark's Java logging.
state: dict[str, bool] = {"debug": False}

_PIPED_WIDTH = 200
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$")
_SYMBOLS = {"CNY": "¥", "RMB": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}

# Column kinds by name: how a value of that column reads best.
_MONEY = {"clv", "amount", "discount_amount", "list_price", "unit_price", "spend_total", "spend_365d",
          "spend_90d", "monetary_value", "avg_order_value"}
_SHARE = {"share", "conversion", "drop_off", "session_conversion", "churn_prob", "p_alive", "p_purchase_30d",
          "rule_precision", "rule_recall", "match_probability"}
_SECONDS = {"median_seconds_from_previous", "seconds_from_previous"}
_DAYS = {"expected_days_to_next_purchase", "tenure_days", "recency_days", "repurchase_interval_days"}


def is_terminal() -> bool:
    """Whether stdout is an interactive terminal (progress lines, window-wide tables)."""
    return sys.stdout.isatty()


def console() -> Console:
    """A console on the current stdout: window-wide on a terminal, 200 columns (or ``COLUMNS``) when piped."""
    if is_terminal():
        return Console()
    return Console(width=int(os.environ.get("COLUMNS") or _PIPED_WIDTH), soft_wrap=False)


def err_console() -> Console:
    """A console on stderr for error lines."""
    return Console(stderr=True)


def echo(text: str) -> None:
    """Print plain text (JSON, lists) as is."""
    typer.echo(text)


def say(text: str) -> None:
    """Print one line of prose (rich markup allowed, no highlighting of numbers)."""
    console().print(text, highlight=False, soft_wrap=True)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn huaxiang's errors into one red line and exit 1 (``--debug`` re-raises them)."""
    try:
        yield
    except (HuaxiangError, FileNotFoundError, ImportError) as exc:
        if state["debug"]:
            raise
        err_console().print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(1) from None


def _quiet_spark_conf(ws: Workspace) -> dict[str, Any]:
    """Engine options that keep Spark's Java logging to errors (unless ``--debug``)."""
    if state["debug"] or ws.engine_name != "spark":
        return {}
    props = Path(__file__).with_name("log4j2-quiet.properties")
    conf = dict(ws.config.engine.conf)
    java = conf.get("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
    conf["spark.driver.extraJavaOptions"] = f"{java} -Dlog4j2.configurationFile=file:{props}"
    return {"conf": conf}


def open_workspace(workspace: Path, engine: str | None = None) -> Workspace:
    """The workspace in ``workspace`` (on ``engine``), Spark's Java logging quiet unless ``--debug``."""
    from huaxiang.workspace import Workspace

    ws = Workspace.open(workspace, engine=engine)
    quiet = _quiet_spark_conf(ws)
    return Workspace.open(workspace, engine=engine, **quiet) if quiet else ws


@contextmanager
def opened_workspace(workspace: Path, engine: str | None = None, *, needs: str | None = None,
                     missing: str = "") -> Iterator[Workspace]:
    """The workspace in ``workspace``, closed on exit (what every command that reads one does).

    ``needs``: a table the command reads; when the workspace lacks it, a
    :class:`~huaxiang.errors.WorkspaceError` with ``missing`` (what to run to get it). When another
    process serves the workspace, what was read came from its snapshot: one line on stderr says so.
    """
    ws = open_workspace(workspace, engine)
    try:
        if needs is not None and not ws.engine.has_table(needs):
            raise WorkspaceError(missing or f"no {needs} table yet; run `huaxiang build` first")
        yield ws
        print_snapshot_note(ws)
    finally:
        ws.close()


def print_snapshot_note(ws: Workspace) -> None:
    """One line on stderr when ``ws`` read a served workspace's snapshot (not its live warehouse)."""
    info = ws.reading_snapshot
    if info is not None:
        err_console().print(f"note: {info.note()}", highlight=False, markup=False, soft_wrap=True)


# ------------------------------------------------------------------------------------------ formats


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt_count(value: Any) -> str:
    """A whole number with thousands separators (empty when missing).

    >>> fmt_count(1234.0), fmt_count(None)
    ('1,234', '')
    """
    return "" if _missing(value) else f"{int(value):,}"


def fmt_share(value: Any, digits: int = 1) -> str:
    """A share 0..1 as a percentage.

    >>> fmt_share(0.05036), fmt_share(float("nan"))
    ('5.0%', '')
    """
    return "" if _missing(value) else f"{float(value):.{digits}%}"


def fmt_duration(seconds: Any, lang: str = "en") -> str:
    """Seconds in the two largest units that matter: days and hours, hours and minutes, or minutes.

    >>> fmt_duration(62), fmt_duration(3 * 3600 + 120, "zh"), fmt_duration(None)
    ('1 min 2 s', '3小时2分钟', '')
    """
    if _missing(seconds):
        return ""
    total = round(float(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts: list[tuple[int, str]]
    if days:
        parts = [(days, "unit.days"), (hours, "unit.hours")]
    elif hours:
        parts = [(hours, "unit.hours"), (minutes, "unit.minutes")]
    elif minutes:
        parts = [(minutes, "unit.minutes"), (secs, "unit.seconds")]
    else:
        parts = [(secs, "unit.seconds")]
    sep = "" if lang == "zh" else " "
    return sep.join(f"{n}{sep}{label(unit, lang)}" for n, unit in parts if n or len(parts) == 1)


def fmt_days(days: Any, lang: str = "en") -> str:
    """A number of days, one decimal (``12.5 d`` / ``12.5天``).

    >>> fmt_days(12.46, "zh")
    '12.5天'
    """
    if _missing(days):
        return ""
    sep = "" if lang == "zh" else " "
    return f"{float(days):,.1f}{sep}{label('unit.days', lang)}"


def fmt_money(value: Any, currency: str = "CNY") -> str:
    """An amount with its currency symbol (or ISO code) and two decimals.

    >>> fmt_money(-3.5, "USD"), fmt_money(10, "CHF")
    ('-$3.50', 'CHF 10.00')
    """
    if _missing(value):
        return ""
    v = float(value)
    symbol = _SYMBOLS.get(currency.upper())
    text = f"{abs(v):,.2f}"
    sign = "-" if v < 0 else ""
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{currency.upper()} {text}"


def fmt_value(value: Any) -> str:
    """Any cell: whole numbers with separators, other floats to 4 significant digits, dates in ISO.

    >>> fmt_value(0.123456), fmt_value(13952807.0), fmt_value(pd.Timestamp("2025-03-01"))
    ('0.1235', '13,952,807', '2025-03-01')
    >>> fmt_value("2019-07-23T10:20:44"), fmt_value([203, 1509])
    ('2019-07-23 10:20:44', '203, 1509')
    """
    if isinstance(value, list | tuple):  # row numbers, codes: no thousands separators inside a list
        return ", ".join(str(v) if isinstance(v, int) else fmt_value(v) for v in value)
    if _missing(value):
        return ""
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, pd.Timestamp | datetime):
        ts = pd.Timestamp(value)
        return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iu"):
        return f"{int(value):,}"
    if isinstance(value, float) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "f"):
        v = float(value)
        if math.isfinite(v) and v == int(v) and abs(v) >= 1:
            return f"{int(v):,}"
        return f"{v:,.2f}" if abs(v) >= 1000 else f"{v:.4g}"
    text = str(value)
    if _ISO.match(text):  # timestamps that went through JSON: read like the others
        return fmt_value(pd.Timestamp(text))
    return text


def formatter(column: str, lang: str = "en", currency: str = "CNY") -> Callable[[Any], str]:
    """How a value of ``column`` is written (by the column's name; :func:`fmt_value` otherwise).

    >>> formatter("conversion")(0.919094), formatter("clv", currency="CNY")(321.5)
    ('91.9%', '¥321.50')
    """
    if column in _MONEY or column.startswith(("spend_", "amount_")):
        return lambda v: fmt_money(v, currency)
    if column in _SHARE or column.startswith("share_") or column.endswith(("_share", "_rate")):
        return fmt_share
    if column in _SECONDS:
        return lambda v: fmt_duration(v, lang)
    if column in _DAYS:
        return lambda v: fmt_days(v, lang)
    return fmt_value


def currency_of(ws: Workspace | None) -> str:
    """The workspace's currency (ISO code; ``CNY`` unless ``huaxiang.yaml`` sets ``currency:``)."""
    # ``currency`` is a WorkspaceConfig field once the config engineer adds it; until then CNY.
    return str(getattr(ws.config, "currency", None) or "CNY") if ws is not None else "CNY"


def print_frame(frame: pd.DataFrame, *, title: str, lang: str = "en", currency: str = "CNY",
                formats: dict[str, Callable[[Any], str]] | None = None, drop_empty: bool = True,
                headers: bool = True, raw_headers: bool = False) -> None:
    """Print ``frame`` as a titled table, each column formatted by :func:`formatter` (or ``formats``).

    Columns empty in every shown row are dropped (they say nothing) unless ``drop_empty=False``;
    headers come from the label catalogue unless ``raw_headers`` (a stored table's own column names).
    """
    if drop_empty and len(frame):
        frame = frame.dropna(axis=1, how="all")
    out = Table(title=title, title_justify="left", show_header=headers)
    fmts = []
    for col in frame.columns:
        fmt = (formats or {}).get(str(col)) or formatter(str(col), lang, currency)
        fmts.append(fmt)
        numeric = pd.api.types.is_numeric_dtype(frame[col]) and not pd.api.types.is_bool_dtype(frame[col])
        out.add_column(str(col) if raw_headers else label(str(col), lang), overflow="fold", justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        out.add_row(*[fmt(v) for fmt, v in zip(fmts, row, strict=True)])
    console().print(out)


def print_pairs(pairs: list[tuple[str, str]], *, title: str) -> None:
    """Print ``(label, value)`` rows as a titled two-column table without headers."""
    out = Table(title=title, title_justify="left", show_header=False)
    out.add_column("key", style="bold")
    out.add_column("value", overflow="fold")
    for key, value in pairs:
        out.add_row(key, value)
    console().print(out)


def progress_printer(enabled: bool, lang: str = "en") -> tuple[Callable[[str, str], None] | None, Callable[[], None]]:
    """A line per finished stage (and a spinner for the running one) while ``build`` runs on a terminal.

    Returns ``(update, stop)``; ``update`` is None when disabled (``--json`` or piped output).
    """
    if not enabled:
        return None, lambda: None
    import time

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    out = console()
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=out,
                        transient=True)
    progress.start()
    task = progress.add_task("…", total=None)
    current: dict[str, Any] = {"stage": None, "t0": 0.0}

    def finish() -> None:
        if current["stage"] is not None:
            secs = time.perf_counter() - current["t0"]
            out.print(f"[green]✓[/] {current['stage']:<10} {secs:6.1f} {label('unit.seconds', lang)}",
                      highlight=False)

    def update(stage: str, item: str) -> None:
        if stage != current["stage"]:
            finish()
            current.update(stage=stage, t0=time.perf_counter())
        progress.update(task, description=f"[bold]{stage}[/] {item}")

    def stop() -> None:
        progress.stop()
        finish()

    return update, stop
