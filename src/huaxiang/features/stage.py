"""The features stage: one row per person, point in time (``as_of``).

Writes ``features`` (one row per person_id, the contract columns of docs/CONTRACTS.md and a few
more), ``feature_catalog`` (what every column means, zh/en), ``person_category_pref`` (one row per
person and category) and ``funnel`` (the population consumption path). Dimensions: attributes and
lifecycle (:mod:`~huaxiang.features.attributes`), RFM, frequency and the CLV inputs
(:mod:`~huaxiang.features.rfm`), habits (:mod:`~huaxiang.features.habits`), preferences and price
tier (:mod:`~huaxiang.features.preferences`), consumption path and service
(:mod:`~huaxiang.features.behaviour`). Settings: :mod:`~huaxiang.features.settings`.

Only data with timestamps before ``as_of`` is used, so a past ``as_of`` gives a leakage-free
training set; ``person_ids`` recomputes only those persons (population figures — category shares,
price percentiles — still come from everyone, so the rows equal a full recompute).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from huaxiang.engine.base import Engine
from huaxiang.features.attributes import compute_attributes, lifecycle_stage
from huaxiang.features.behaviour import compute_path, compute_service, events_with_persons, population_funnel
from huaxiang.features.calendar import default_paydays, festival_calendar, festival_names
from huaxiang.features.capabilities import available, capability_table, detect_capabilities, unsupported
from huaxiang.features.catalog import FEATURE_NEEDS, feature_catalog
from huaxiang.features.habits import coded_enums, compute_habits
from huaxiang.features.persons import person_keys, person_orders
from huaxiang.features.preferences import (
    ProductCodes,
    category_preferences,
    coded_lines,
    compute_preferences,
    named_categories,
    price_lines,
    product_codes,
)
from huaxiang.features.rfm import compute_rfm
from huaxiang.features.settings import FeatureSettings, parse_settings
from huaxiang.pipeline import StageContext, StageResult

__all__ = ["FeatureSettings", "compute_features", "default_as_of", "feature_tables", "parse_settings",
           "run_features", "scratch_feature_tables"]


def default_as_of(engine: Engine) -> datetime:
    """The day after the latest order or event: today's profile of the data at hand."""
    latest = []
    for table, column in (("orders", "order_ts"), ("events", "event_ts")):
        if engine.has_table(table):
            latest.append(engine.execute(engine.table(table)[column].max()))
    known = [pd.Timestamp(v) for v in latest if v is not None and not pd.isna(v)]
    if not known:
        return datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return (max(known).normalize() + timedelta(days=1)).to_pydatetime()


def _purchased_lines(engine: Engine, orders: ir.Table, codes: ProductCodes) -> ir.Table:
    """Lines of purchases (guest orders included) with ``person_id`` and the product's codes."""
    items = engine.table("order_items")
    sales = orders.filter(orders.is_purchase).select("source", "order_id", "person_id")
    lines = items.inner_join(sales, ["source", "order_id"])
    return coded_lines(lines.select("person_id", "product_id", "quantity", "unit_price"), codes)


def _materialized_codes(engine: Engine, codes: ProductCodes) -> ProductCodes:
    """``codes`` as scratch tables and literal unknown codes (computed once, read many times)."""
    return ProductCodes(
        products=engine.materialize("_hx_feature_products", codes.products, temp=True),
        categories=engine.materialize("_hx_feature_categories", codes.categories, temp=True),
        brands=engine.materialize("_hx_feature_brands", codes.brands, temp=True),
        unknown_cat=ibis.literal(int(engine.execute(codes.unknown_cat)), "int32"),
        unknown_path=ibis.literal(int(engine.execute(codes.unknown_path)), "int32"),
    )


#: The workspace country when none is given (``country:`` in huaxiang.yaml; its default).
DEFAULT_COUNTRY = "CN"


def _data_years(engine: Engine, as_of: datetime) -> range:
    """The calendar years the orders and events before ``as_of`` span."""
    first, last = [], []
    for table, column in (("orders", "order_ts"), ("events", "event_ts")):
        if engine.has_table(table):
            t = engine.table(table)
            t = t.filter(t[column] < ibis.timestamp(as_of))
            row = engine.execute(t.aggregate(lo=t[column].min(), hi=t[column].max()))
            if not pd.isna(row["lo"][0]):
                first.append(pd.Timestamp(row["lo"][0]).year)
                last.append(pd.Timestamp(row["hi"][0]).year)
    return range(min(first), max(last) + 1) if first else range(as_of.year, as_of.year + 1)


def resolve_calendar(engine: Engine, settings: FeatureSettings, *, country: str | None,
                     as_of: datetime) -> tuple[FeatureSettings, bool]:
    """``settings`` with the festivals of ``country`` (unless ``festivals`` was set) over the years of
    the data, and whether a payday calendar applies (``paydays`` set, or the country's convention)."""
    update: dict[str, Any] = {}
    if "festivals" not in settings.model_fields_set:
        update["festivals"] = festival_calendar(country, _data_years(engine, as_of))
    has_paydays = "paydays" in settings.model_fields_set
    if not has_paydays and default_paydays(country):
        update["paydays"] = default_paydays(country)
        has_paydays = True
    return (settings.model_copy(update=update) if update else settings), has_paydays


#: Days of history before ``as_of`` that the 90-day trend compares (the last 90 and the 90 before).
TREND_DAYS = 180


def data_capabilities(engine: Engine, settings: FeatureSettings, *, has_paydays: bool,
                      country: str | None, as_of: datetime) -> pd.DataFrame:
    """:func:`~huaxiang.features.capabilities.detect_capabilities` plus the calendars in force and
    ``history_180d``: the orders start at least :data:`TREND_DAYS` before ``as_of`` (otherwise "the
    90 days before the last 90" lie before the data and count 0 purchases that were never seen)."""
    frame = detect_capabilities(engine, country=country)
    frame.loc[frame["capability"] == "festival_calendar", "available"] = bool(settings.festivals)
    first = engine.execute(engine.table("orders").order_ts.min()) if engine.has_table("orders") else None
    long_enough = first is not None and not pd.isna(first) and (
        pd.Timestamp(first) <= pd.Timestamp(as_of) - pd.Timedelta(days=TREND_DAYS))
    workspace = {"source": "(workspace)", "rows": 0, "rows_with": 0, "distinct_values": None}
    rows = [*frame.to_dict("records"),
            {**workspace, "capability": "payday_calendar", "table_name": "(config)", "column_name": "features.paydays",
             "available": has_paydays},
            {**workspace, "capability": "history_180d", "table_name": "orders", "column_name": "order_ts",
             "available": long_enough}]
    out = pd.DataFrame(rows, columns=frame.columns)
    out["distinct_values"] = out["distinct_values"].astype("Int64")
    return out


def _sources_with(capabilities: pd.DataFrame, capability: str) -> list[str]:
    rows = capabilities[(capabilities["capability"] == capability) & capabilities["available"].astype(bool)]
    return sorted(rows["source"].astype(str))


def mask_unsupported(features: ir.Table, have: set[str]) -> ir.Table:
    """``features`` with every column whose inputs the data lacks (:data:`FEATURE_NEEDS`) set to NULL."""
    missing = unsupported({c: n for c, n in FEATURE_NEEDS.items() if c in features.columns}, have)
    if not missing:
        return features
    return features.mutate(**{c: ibis.null(features[c].type()) for c in missing})


#: The groups of feature columns, each computed by one module (see the module docstring).
DIMENSIONS = ("attributes", "rfm", "habits", "preferences", "path", "service")

#: Columns of the scratch orders and priced lines (what the feature modules read).
_ORDER_COLUMNS = ("source", "order_id", "person_id", "order_ts", "amount", "discount_amount", "promo_id", "channel",
                  "payment_method", "status", "net_amount", "is_purchase")
_LINE_COLUMNS = ("person_id", "_cat", "_brand", "spend", "price_pct")


def feature_tables(
    engine: Engine, *, as_of: datetime | None = None, config: FeatureSettings | dict[str, Any] | None = None,
    person_ids: Sequence[str] | None = None, scratch: bool = False, dimensions: Collection[str] = DIMENSIONS,
    country: str | None = DEFAULT_COUNTRY, capabilities: pd.DataFrame | None = None,
) -> dict[str, ir.Table]:
    """``features`` and ``person_category_pref`` as expressions (see :func:`compute_features`),
    and ``data_capabilities`` (what the data holds, :mod:`~huaxiang.features.capabilities`).

    ``scratch=True`` materialises the shared inputs (orders with persons, priced lines, events)
    as temporary tables first, so each is computed once. ``dimensions``: a subset of
    :data:`DIMENSIONS` computes only those columns (``lifecycle_stage`` comes with ``rfm``).
    ``country``: the workspace's (festival and payday calendars, :mod:`~huaxiang.features.calendar`).
    A feature whose inputs the data lacks is NULL for everyone. ``capabilities``: what the whole
    data holds, when ``engine`` sees only part of it (the refresh of a few persons passes the last
    build's ``data_capabilities`` and a settings object with its calendar resolved).
    """
    unknown = set(dimensions) - set(DIMENSIONS)
    if unknown:
        raise ValueError(f"unknown feature dimensions {sorted(unknown)}; valid: {', '.join(DIMENSIONS)}")
    s = parse_settings(config)
    as_of = as_of or s.as_of or default_as_of(engine)
    s, has_paydays = resolve_calendar(engine, s, country=country, as_of=as_of)
    if capabilities is None:
        capabilities = data_capabilities(engine, s, has_paydays=has_paydays, country=country, as_of=as_of)
    keys = person_keys(engine)
    # With scratch tables the orders, lines and category rows carry an integer person key: the
    # group-bys and windows over millions of them hash and sort integers instead of strings
    # (bench/README.md). ``persons`` maps it back.
    # The keys are numbered in one pass (the union of every table's customer keys is computed once).
    if scratch:
        keys = keys.mutate(_pk=ibis.dense_rank().over(order_by=keys.person_id).cast("int32"))
        keys = engine.materialize("_hx_feature_keys", keys, temp=True)
        persons = engine.materialize("_hx_feature_persons", keys.select("person_id", "_pk").distinct(), temp=True)
    else:
        persons = keys.select("person_id").distinct()
    identities = engine.table("identities") if engine.has_table("identities") else None
    events = events_with_persons(engine.table("events"), keys.drop("_pk") if scratch else keys, identities,
                                 as_of=as_of)
    if scratch:
        # All events with their persons, once: the features read the persons' ones, the funnel all.
        events = engine.materialize("_hx_feature_events", events, temp=True)
    events = events.filter(events.person_id.notnull())
    order_keys = keys.select("source", "source_customer_id", person_id=keys._pk) if scratch else keys
    all_orders = person_orders(engine, as_of=ibis.timestamp(as_of), guests=True, keys=order_keys)
    if scratch:
        # Only the columns the features read, canonical values as codes: less to write, keep in
        # memory and scan.
        all_orders = engine.materialize("_hx_feature_orders", coded_enums(all_orders.select(*_ORDER_COLUMNS)),
                                        temp=True)
    codes = product_codes(engine.table("products"))
    if scratch:
        codes = _materialized_codes(engine, codes)
    priced = price_lines(_purchased_lines(engine, all_orders, codes))
    if scratch:
        priced = engine.materialize("_hx_feature_lines", priced.select(*_LINE_COLUMNS), temp=True)
    prefs = category_preferences(priced)
    orders = all_orders.filter(all_orders.person_id.notnull())
    string_keys = keys.drop("_pk") if scratch else keys
    if person_ids is not None:
        wanted = list(person_ids)
        persons = persons.filter(persons.person_id.isin(wanted))
        string_keys = string_keys.filter(string_keys.person_id.isin(wanted))
        events = events.filter(events.person_id.isin(wanted))
        keyed = persons._pk if scratch else persons.person_id
        orders = orders.filter(orders.person_id.isin(keyed))
        priced = priced.filter(priced.person_id.isin(keyed))
        prefs = prefs.filter(prefs.person_id.isin(keyed))
    if scratch:
        prefs = engine.materialize("_hx_feature_prefs", prefs, temp=True)
    # Parts keyed like the orders (the integer key with scratch tables) ...
    keyed_parts = {
        "rfm": lambda: compute_rfm(orders, as_of=as_of),
        "habits": lambda: compute_habits(orders, s, timed_sources=_sources_with(capabilities, "time_of_day")),
        "preferences": lambda: compute_preferences(priced, prefs, codes, high_price_percentile=s.high_price_percentile),
    }
    columns: dict[str, list[str]] = {}  # per dimension, to order the columns like DIMENSIONS

    def join_parts(out: ir.Table, parts: dict[str, Callable[[], ir.Table]]) -> ir.Table:
        for name, make in parts.items():
            if name in dimensions:
                part = make()
                columns[name] = [c for c in part.columns if c != "person_id"]
                out = out.left_join(part, "person_id").drop("person_id_right")
        return out

    out = join_parts(persons.select(person_id=persons._pk) if scratch else persons.select("person_id"), keyed_parts)
    if scratch:
        out = out.rename(_pk="person_id").inner_join(persons, "_pk").drop("_pk")
        prefs = prefs.rename(_pk="person_id").inner_join(persons, "_pk").drop("_pk")
    prefs = named_categories(prefs, codes)
    # ... and the string-keyed ones.
    string_parts = {
        "attributes": lambda: compute_attributes(engine.table("customers_raw"), string_keys, as_of=as_of),
        "path": lambda: compute_path(events, timed_sources=_sources_with(capabilities, "event_time_of_day")),
        "service": lambda: compute_service(engine.table("interactions"), string_keys, as_of=as_of),
    }
    out = join_parts(out, string_parts)
    if "rfm" in dimensions:
        out = out.mutate(lifecycle_stage=lifecycle_stage(out, s.lifecycle))
        columns["rfm"].append("lifecycle_stage")
    out = out.mutate(as_of=ibis.timestamp(as_of))
    out = out.select("person_id", "as_of", *[c for d in DIMENSIONS for c in columns.get(d, [])])
    out = mask_unsupported(out, available(capabilities))
    return {"features": out, "person_category_pref": prefs, "data_capabilities": capability_table(capabilities)}


def compute_features(
    engine: Engine, *, as_of: datetime | None = None, config: FeatureSettings | dict[str, Any] | None = None,
    person_ids: Sequence[str] | None = None, country: str | None = DEFAULT_COUNTRY,
) -> ir.Table:
    """The features of every person (or only ``person_ids``) from data before ``as_of``.

    Parameters
    ----------
    engine
        The workspace engine (canonical tables ingested and cleaned).
    as_of
        Exclusive cut-off; default ``config.as_of`` or :func:`default_as_of`.
    config
        The ``features:`` settings (dict or :class:`FeatureSettings`).
    person_ids
        Recompute only these persons; their rows equal those of a full computation.
    country
        The workspace's country (ISO 3166-1 alpha-2; None: no festival calendar).

    Returns
    -------
    ibis.Table
        One row per person_id.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> from datetime import datetime
    >>> from huaxiang.engine import create_engine
    >>> from huaxiang.schema import empty_table
    >>> eng = create_engine("duckdb")
    >>> for name in ("customers_raw", "products", "order_items", "events", "interactions", "orders"):
    ...     _ = eng.materialize(name, empty_table(name))
    >>> orders = empty_table("orders").execute()
    >>> orders = pd.concat([orders, pd.DataFrame({"source": ["shop"] * 2, "order_id": ["1", "2"],
    ...     "source_customer_id": ["c1", "c1"], "order_ts": pd.to_datetime(["2024-01-01", "2024-01-11"]),
    ...     "amount": [10.0, 30.0], "status": ["paid", "paid"]})])
    >>> _ = eng.materialize("orders", ibis.memtable(orders, schema=empty_table("orders").schema()))
    >>> f = eng.execute(compute_features(eng, as_of=datetime(2024, 2, 1)))
    >>> f[["person_id", "orders_total", "frequency", "recency", "T", "monetary_value"]].values.tolist()
    [['shop:c1', 2, 1, 10.0, 30.0, 30.0]]
    """
    return feature_tables(engine, as_of=as_of, config=config, person_ids=person_ids, country=country)["features"]


def population_events(engine: Engine, *, as_of: datetime, keys: ir.Table | None = None) -> ir.Table:
    """Events before ``as_of`` with ``person_id`` and ``visitor_id`` (for funnels); ``keys``:
    :func:`~huaxiang.features.persons.person_keys` when already computed."""
    identities = engine.table("identities") if engine.has_table("identities") else None
    keys = person_keys(engine) if keys is None else keys
    return events_with_persons(engine.table("events"), keys, identities, as_of=as_of)


_SCRATCH = ("_hx_feature_persons", "_hx_feature_keys", "_hx_feature_orders", "_hx_feature_lines",
            "_hx_feature_events", "_hx_feature_prefs", "_hx_feature_products", "_hx_feature_categories",
            "_hx_feature_brands")


@contextmanager
def scratch_feature_tables(
    engine: Engine, *, as_of: datetime | None = None, config: FeatureSettings | dict[str, Any] | None = None,
    country: str | None = DEFAULT_COUNTRY,
) -> Iterator[dict[str, ir.Table]]:
    """:func:`feature_tables` over scratch tables (each shared input computed once), dropped on exit.

    The fast way to compute every person's features (a whole build, a past ``as_of`` for a
    training set); for a few persons use :func:`compute_features` with ``person_ids``.

    >>> # with scratch_feature_tables(ws.engine, as_of=datetime(2025, 1, 1)) as t:
    >>> #     frame = ws.engine.execute(t["features"])
    """
    try:
        yield feature_tables(engine, as_of=as_of, config=config, scratch=True, country=country)
    finally:
        for name in _SCRATCH:
            engine.drop(name)


def run_features(ctx: StageContext) -> StageResult:
    """Compute ``features``, ``person_category_pref``, ``funnel``, ``data_capabilities`` and the
    ``feature_catalog``.

    The details say which features this data cannot support (``unsupported_features``: feature ->
    the missing inputs; they are NULL for everyone) and the calendar in force (``country``,
    ``festivals``).
    """
    settings = parse_settings(ctx.config.features)
    country = getattr(ctx.config, "country", DEFAULT_COUNTRY)
    engine = ctx.engine
    as_of = settings.as_of or default_as_of(engine)
    counts: dict[str, int] = {}
    with scratch_feature_tables(engine, as_of=as_of, config=settings, country=country) as tables:
        for name in ("data_capabilities", "person_category_pref", "features"):
            stored = engine.materialize(name, tables[name])
            counts[name] = int(engine.execute(stored.count()))
        caps = engine.execute(engine.table("data_capabilities"))
        have = available(caps)
        resolved, _ = resolve_calendar(engine, settings, country=country, as_of=as_of)
        catalog = feature_catalog(resolved, have=have, festival_names=festival_names(resolved.festivals))
        engine.materialize("feature_catalog", ibis.memtable(catalog))
        counts["feature_catalog"] = len(catalog)
        # The events with their persons are already computed (population_events, as a scratch table).
        funnel = engine.materialize("funnel", population_funnel(engine.table("_hx_feature_events"),
                                                                settings.funnel_steps))
        counts["funnel"] = int(engine.execute(funnel.count()))
    missing = unsupported({n: FEATURE_NEEDS.get(n, ()) for n in catalog["name"]}, have)
    details: dict[str, Any] = {
        "as_of": str(as_of), "country": country, "festivals": festival_names(resolved.festivals),
        "unsupported_features": {f: "no " + ", ".join(m) for f, m in missing.items()},
    }
    return StageResult(tables=counts, details=details)
