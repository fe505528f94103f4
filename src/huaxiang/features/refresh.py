"""Recompute the features of a few persons fast (the real-time path and identity corrections).

:func:`~huaxiang.features.stage.compute_features` with ``person_ids`` still computes the population
scratch tables (every order line's price percentile, every category's share of spend) and compiles
the whole expression, seconds even for a handful of persons (bench/README.md). :class:`FeatureRefresher`
instead

1. copies only the touched persons' rows (their records, orders, lines, events, identities,
   customer records and interactions, the products they bought) into small scratch tables with
   fixed names, so the feature expression — the same :func:`~huaxiang.features.stage.feature_tables`
   a build runs — reads a few hundred rows;
2. compiles that expression once per ``as_of`` and runs the cached SQL on every refresh;
3. takes the population figures once, from the data at hand when the refresher starts (after the
   last build): each category's share of the spend of every purchased line and the unit prices of
   those lines per category path (kept sorted in memory), and recomputes ``top_category_affinity``,
   ``price_tier_index`` and ``share_high_price_items`` of the touched persons against them. A
   person's line that was in the last build gets exactly the percentile the build gave it; a line
   bought since is ranked among the last build's lines. :meth:`FeatureRefresher.reset` re-reads the
   population (the scheduled refresh does).

The refreshed rows replace the persons' rows in ``features`` and ``person_category_pref``.

Examples
--------
>>> # refresher = FeatureRefresher(ws.engine, ws.config.features)
>>> # refresher.refresh(["P0123456789abcdef"], as_of=datetime(2026, 12, 8))
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from huaxiang.engine.base import Engine
from huaxiang.features.preferences import UNKNOWN
from huaxiang.features.settings import FeatureSettings, parse_settings

__all__ = ["FeatureRefresher", "time_dependent_features"]

#: Tables the feature expression reads, each restricted to the touched persons.
_SUBSET = ("record_persons", "identities", "customers_raw", "orders", "order_items", "events", "interactions",
           "products")
_PREFIX = "_hx_rt_"


#: Features whose value changes with ``as_of`` alone (besides those with a bounded window).
_AGEING = frozenset({"recency_days", "T", "lifecycle_stage", "days_since_last_complaint", "age", "age_band",
                     "tenure_days"})


def time_dependent_features(config: FeatureSettings | dict[str, Any] | None = None) -> set[str]:
    """Feature columns that change with the passing of time alone (no new event needed).

    Those with a window ending at ``as_of`` (``365 days``, ``since first purchase``, ``at as_of``)
    in the feature catalogue, and the ages measured to ``as_of`` (recency, ``T``, lifecycle).

    >>> sorted(time_dependent_features())[:4]
    ['T', 'age', 'age_band', 'days_since_last_complaint']
    """
    from huaxiang.features.catalog import feature_catalog

    catalog = feature_catalog(parse_settings(config))
    windowed = catalog[~catalog["window"].isin(["", "all time"]) & (catalog["dimension"] != "key")]
    return set(windowed["name"]) | set(_AGEING)


def register_inputs(engine: Engine, expr: ir.Expr) -> None:
    """Register the in-memory tables and UDFs ``expr`` uses on the connection, so its compiled SQL can
    run again and again (a UDF another compiled query registered already is kept)."""
    con = engine.con
    try:
        con._register_udfs(expr)
    except Exception as exc:
        if "already exists" not in str(exc):
            raise
    con._register_in_memory_tables(expr)


class _SubsetEngine:
    """The engine as the feature expression sees it: the subset tables under the canonical names."""

    def __init__(self, engine: Engine, present: set[str]) -> None:
        self._engine = engine
        self._present = present
        self.name = engine.name

    def has_table(self, name: str) -> bool:
        return name in self._present

    def table(self, name: str) -> ir.Table:
        return self._engine.table(_PREFIX + name if name in _SUBSET else name)

    def __getattr__(self, item: str) -> Any:
        return getattr(self._engine, item)


#: Years of festival calendar before ``as_of`` the refresh compiles in (past any customer's history).
CALENDAR_YEARS = 30

#: Seconds between checks that the data can still say no more than a compiled query assumed (0.2 s each on
#: the 2,000-customer demo).
CAPABILITY_RECHECK_SECONDS = 30.0


class FeatureRefresher:
    """Recompute ``features`` and ``person_category_pref`` rows of a few persons (see the module).

    Parameters
    ----------
    engine
        The workspace's DuckDB engine (built through the features stage).
    config
        The ``features:`` settings.
    country
        The workspace's ``country`` (its festival and payday calendars).
    """

    def __init__(self, engine: Engine, config: FeatureSettings | dict[str, Any] | None = None, *,
                 country: str | None = "CN") -> None:
        self.engine = engine
        self.settings = parse_settings(config)
        self.country = country
        self._compiled: dict[tuple[datetime, bool], tuple[str, str, list[ir.Table]]] = {}
        #: per compiled query: the capabilities it was compiled with, and when they were last checked
        self._have: dict[tuple[datetime, bool], set[str]] = {}
        self._checked: dict[tuple[datetime, bool], float] = {}
        self._pop_share: dict[str, float] | None = None
        self._pop_prices: dict[str, np.ndarray] | None = None
        self.timings: dict[str, float] = {}

    def reset(self) -> None:
        """Forget the compiled SQL and the population figures (after a build or a scheduled refresh)."""
        self._compiled.clear()
        self._pop_share = None
        self._pop_prices = None

    # ------------------------------------------------------------------ subset
    def _fill_subset(self, person_ids: Sequence[str]) -> set[str]:
        raw: Any = self.engine.raw  # type: ignore[attr-defined]
        have = set(self.engine.list_tables())
        raw.register("_hx_rt_pids", pa.table({"person_id": pa.array([str(p) for p in person_ids], pa.string())}))
        q = {
            "record_persons": "SELECT source, source_customer_id, person_id FROM record_persons "
                              "WHERE person_id IN (SELECT person_id FROM _hx_rt_pids)",
            "identities": "SELECT * FROM identities WHERE person_id IN (SELECT person_id FROM _hx_rt_pids)",
            "customers_raw": "SELECT c.* FROM customers_raw c SEMI JOIN _hx_rt_record_persons k "
                             "USING (source, source_customer_id)",
            "orders": "SELECT o.* FROM orders o SEMI JOIN _hx_rt_record_persons k USING (source, source_customer_id)",
            "order_items": "SELECT i.* FROM order_items i SEMI JOIN _hx_rt_orders o USING (source, order_id)",
            # an event with a user id belongs to that user's person; one without, to the holder of its
            # anonymous id (as events_with_persons decides)
            "events": "SELECT e.* FROM events e WHERE (e.source, e.user_id) IN "
                      "(SELECT (source, source_customer_id) FROM _hx_rt_record_persons) "
                      "OR (e.user_id IS NULL AND e.anonymous_id IN (SELECT identifier_value FROM _hx_rt_identities "
                      "WHERE identifier_type IN ('anonymous_id', 'device_id')))",
            "interactions": "SELECT i.* FROM interactions i SEMI JOIN _hx_rt_record_persons k "
                            "USING (source, source_customer_id)",
            "products": "SELECT p.* FROM products p WHERE p.product_id IN (SELECT product_id FROM _hx_rt_order_items)",
        }
        present = set()
        try:
            for name in _SUBSET:
                if name not in have:
                    continue
                present.add(name)
                raw.execute(f'CREATE OR REPLACE TEMP TABLE "{_PREFIX}{name}" AS {q[name]}')
        finally:
            raw.unregister("_hx_rt_pids")
        return present

    def _capabilities(self, as_of: datetime) -> tuple[FeatureSettings, pd.DataFrame]:
        """The settings with their calendars, and what the whole warehouse's data can say now."""
        from huaxiang.features.stage import data_capabilities, resolve_calendar

        # The calendar and what the data holds are the population's (the whole warehouse, as the
        # build saw it), not the few persons': a person with no festival order has share 0, not
        # "no data".
        settings = self.settings
        if "festivals" not in settings.model_fields_set:
            # compiled once, while the warehouse may still be filling up (a live start): the
            # calendar covers every year up to as_of, not only the years loaded so far
            from huaxiang.features.calendar import festival_calendar

            years = range(as_of.year - CALENDAR_YEARS, as_of.year + 1)
            settings = settings.model_copy(update={"festivals": festival_calendar(self.country, years)})
        settings, has_paydays = resolve_calendar(self.engine, settings, country=self.country, as_of=as_of)
        capabilities = data_capabilities(self.engine, settings, has_paydays=has_paydays, country=self.country,
                                         as_of=as_of)
        return settings, capabilities

    def _compile(self, present: set[str], as_of: datetime, attributes: bool) -> tuple[str, str]:
        from huaxiang.features.capabilities import available

        key = (as_of, attributes)
        now = time.monotonic()
        looked: tuple[FeatureSettings, pd.DataFrame] | None = None
        if key in self._compiled and now - self._checked.get(key, now) >= CAPABILITY_RECHECK_SECONDS:
            # the query keeps what the data could say when it was compiled; live data only adds to that
            # (a workspace that started empty gets its first orders): look again now and then
            self._checked[key] = now
            looked = self._capabilities(as_of)
            if available(looked[1]) != self._have.get(key):
                del self._compiled[key]
        if key not in self._compiled:
            from huaxiang.features.stage import DIMENSIONS, feature_tables

            settings, capabilities = looked or self._capabilities(as_of)
            self._have[key] = available(capabilities)
            self._checked[key] = now
            sub: Any = _SubsetEngine(self.engine, present)
            dims = [d for d in DIMENSIONS if attributes or d != "attributes"]
            tables = feature_tables(sub, as_of=as_of, config=settings, dimensions=dims, country=self.country,
                                    capabilities=capabilities)
            exprs = [tables["features"], tables["person_category_pref"]]
            for e in exprs:  # memtables and UDFs in the expression are registered once
                register_inputs(self.engine, e)
            self._compiled[key] = (self.engine.sql_of(exprs[0]), self.engine.sql_of(exprs[1]), exprs)
        sql_f, sql_p, _ = self._compiled[key]
        return sql_f, sql_p

    # -------------------------------------------------------------- population
    def _population(self) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        if self._pop_share is None or self._pop_prices is None:
            raw: Any = self.engine.raw  # type: ignore[attr-defined]
            prices = raw.execute(self._lines_sql("orders", "order_items", "products", "") +
                                 " ORDER BY path, unit_price").df()
            # each first-level category's share of the spend of every purchased line (guests' too)
            spend = (prices["quantity"] * prices["unit_price"]).groupby(prices["path"].str.split("/").str[0]).sum()
            total = float(spend.sum())
            share = {str(c): float(v) / total for c, v in spend.items()} if total else {}
            self._pop_share = share
            self._pop_prices = {str(p): g["unit_price"].to_numpy(dtype="float64")
                                for p, g in prices.groupby("path", sort=False)}
        return self._pop_share, self._pop_prices

    @staticmethod
    def _lines_sql(orders: str, items: str, products: str, person: str) -> str:
        """Purchased lines (a sale's lines, as the features stage defines purchases) with the category path."""
        return (
            f"SELECT {person} i.unit_price, i.quantity, "
            f"coalesce(p.cat, '{UNKNOWN}') AS path FROM {items} i "
            f"JOIN {orders} o USING (source, order_id) "
            f"LEFT JOIN (SELECT product_id, max(category) AS cat FROM {products} GROUP BY product_id) p "
            "USING (product_id) WHERE o.status IN ('paid', 'pending') AND o.order_ts < $as_of"
            if person else
            f"SELECT i.unit_price, i.quantity, coalesce(p.cat, '{UNKNOWN}') AS path FROM {items} i "
            f"JOIN {orders} o USING (source, order_id) "
            f"LEFT JOIN (SELECT product_id, max(category) AS cat FROM {products} GROUP BY product_id) p "
            "USING (product_id) WHERE o.status IN ('paid', 'pending')"
        )

    def _patch_population(self, features: pd.DataFrame, prefs: pd.DataFrame, as_of: datetime) -> None:
        """Population-relative columns against the last build's population (in place)."""
        share, prices = self._population()
        if "category" in prefs.columns and len(prefs):
            pop = prefs["category"].map(share)
            prefs["affinity"] = np.where(pop > 0, prefs["share"] / pop, np.nan)
        if "top_category_affinity" in features.columns and "top_category" in features.columns:
            pop = features["top_category"].map(share)
            features["top_category_affinity"] = np.where(pop > 0, features["top_category_share"] / pop, np.nan)
        if "price_tier_index" not in features.columns:
            return
        raw: Any = self.engine.raw  # type: ignore[attr-defined]
        lines = raw.execute(
            self._lines_sql(f"(SELECT o.*, k.person_id FROM {_PREFIX}orders o JOIN {_PREFIX}record_persons k "
                            "USING (source, source_customer_id))", f"{_PREFIX}order_items", f"{_PREFIX}products",
                            "o.person_id,"),
            {"as_of": as_of}).df()
        if not len(lines):
            return
        pct = np.zeros(len(lines))
        for path, idx in lines.groupby("path").indices.items():
            ref = prices.get(str(path))
            if ref is None or len(ref) < 2:
                continue
            less = np.searchsorted(ref, lines["unit_price"].to_numpy()[idx], side="left")
            pct[idx] = np.minimum(less / (len(ref) - 1), 1.0)
        lines["pct"] = pct
        lines["high"] = pct >= self.settings.high_price_percentile
        per = lines.groupby("person_id").agg(price_tier_index=("pct", "mean"), share_high_price_items=("high", "mean"))
        mask = features["person_id"].isin(per.index)
        for col in ("price_tier_index", "share_high_price_items"):
            if col in features.columns:
                features.loc[mask, col] = features.loc[mask, "person_id"].map(per[col]).astype("float64")

    # ----------------------------------------------------------------- refresh
    def _stored_attributes(self, person_ids: Sequence[str], as_of: datetime) -> pd.DataFrame | None:
        """The attribute columns stored for ``person_ids`` at this ``as_of``; None unless all have them."""
        from huaxiang.features.catalog import feature_catalog

        if not self.engine.has_table("features"):
            return None
        catalog = feature_catalog(self.settings)
        stored = self.engine.table("features")
        cols = [c for c in catalog.loc[catalog["dimension"] == "attributes", "name"] if c in stored.columns]
        from huaxiang.features.persons import person_table

        rows = self.engine.execute(stored.semi_join(person_table(person_ids), "person_id")
                                   .select("person_id", "as_of", *cols))
        if len(rows) != len(set(person_ids)) or (pd.to_datetime(rows["as_of"]) != pd.Timestamp(as_of)).any():
            return None
        return rows.drop(columns=["as_of"])

    def compute(self, person_ids: Sequence[str], *, as_of: datetime,
                attributes_changed: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The new ``features`` and ``person_category_pref`` rows of ``person_ids`` (not stored).

        ``attributes_changed=False`` (no customer record of these persons changed): the attribute
        columns are taken from the stored rows when all were computed at this ``as_of`` (they
        depend only on the customer records and ``as_of``) — their query is the costly one.
        """
        t0 = time.perf_counter()
        present = self._fill_subset(person_ids)
        kept = None if attributes_changed else self._stored_attributes(person_ids, as_of)
        t1 = time.perf_counter()
        sql_f, sql_p = self._compile(present, as_of, kept is None)
        t2 = time.perf_counter()
        raw: Any = self.engine.raw  # type: ignore[attr-defined]
        features = raw.execute(sql_f).df()
        prefs = raw.execute(sql_p).df()
        if kept is not None:
            features = kept.merge(features, on="person_id", how="right")
        t3 = time.perf_counter()
        self._patch_population(features, prefs, as_of)
        self.timings = {"subset": t1 - t0, "compile": t2 - t1, "run": t3 - t2,
                        "population": time.perf_counter() - t3}
        return features, prefs

    def refresh(self, person_ids: Sequence[str], *, as_of: datetime, attributes_changed: bool = True) -> pd.DataFrame:
        """Recompute and store the rows of ``person_ids``; returns their new ``features`` rows.

        A person with no records any more (merged away) loses their rows.
        """
        ids = sorted({str(p) for p in person_ids})
        if not ids:
            return pd.DataFrame()
        features, prefs = self.compute(ids, as_of=as_of, attributes_changed=attributes_changed)
        for name, rows in (("features", features), ("person_category_pref", prefs)):
            stored = self.engine.table(name).schema() if self.engine.has_table(name) else None
            self.engine.replace_rows(name, rows if stored is None else _typed(rows, stored), ids)
        return features


def _typed(frame: pd.DataFrame, schema: ibis.Schema) -> pa.Table:
    """``frame`` with the stored table's Arrow types (an all-NULL column would otherwise be ``null``)."""
    arrow = schema.to_pyarrow()
    cols = [c for c in frame.columns if c in schema.names]
    table = pa.Table.from_pandas(frame[cols], preserve_index=False)
    return table.cast(pa.schema([arrow.field(c) for c in cols]), safe=False)
