"""Profile documents: the customer 360 of many persons at once, one query per table.

:func:`gather_documents` reads each table the profile shows once for a set of persons and splits
the rows by person, so the cost of a batch is a dozen queries whatever its size (the real-time
updater publishes the persons a micro-batch touched; the service publishes everyone after a
build). A document is language-neutral: tag names in both languages, feature values without
their definitions (the reader adds those in the language asked for, from the catalogue).

Examples
--------
>>> import tempfile, huaxiang
>>> ws = huaxiang.Workspace.init(tempfile.mkdtemp())
>>> _ = ws.build(stages=["ingest", "clean"])
>>> gather_documents(ws.engine, ["nobody"])
{}
>>> ws.close()
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import orjson
import pandas as pd

from huaxiang.features.persons import person_table

if TYPE_CHECKING:
    from huaxiang.engine.base import Engine

__all__ = ["DOCUMENT_KEYS", "gather_documents", "jsonable", "lookup_keys", "record_keys"]

#: Tables shown only when a later stage wrote them, one list of rows each.
OPTIONAL_TABLES = ("scores", "segments", "recommendations")

#: The parts of a document, in the order a profile shows them.
DOCUMENT_KEYS = ("person_id", "records", "attributes", "features", "tags", "tag_history", "orders", "events",
                 *OPTIONAL_TABLES, "refreshed_at", "as_of")

_ORDER_COLUMNS = ("order_ts", "source", "order_id", "amount", "discount_amount", "channel", "payment_method",
                  "status", "promo_id", "store_id")
_EVENT_COLUMNS = ("event_ts", "event_type", "channel", "session_id", "properties")


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: timestamps as ISO text, NaN/NaT as None, numpy scalars unwrapped.

    >>> jsonable(pd.Timestamp("2026-12-07 10:00")), jsonable(float("nan")), jsonable([1, None])
    ('2026-12-07T10:00:00', None, [1, None])
    """
    if value is None:
        return None
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, pd.Timestamp | datetime | date):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return jsonable(value.item())
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _rows(engine: Engine, expr: ir.Table, drop: Sequence[str] = ()) -> dict[str, list[dict[str, Any]]]:
    """``person_id -> rows`` of ``expr`` (without the ``drop`` columns), in its order.

    Read through Arrow, not pandas: an integer column with a NULL stays integer (pandas makes it float).
    Values are Python's (datetime, float NaN …); :func:`_plain` makes the documents JSON data at the end.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for row in engine.to_pyarrow(expr).to_pylist():
        pid = str(row["person_id"])
        for column in drop:
            del row[column]
        out.setdefault(pid, []).append(row)
    return out


def json_default(value: Any) -> Any:
    """What orjson cannot encode by itself, as JSON data (Decimal as float, timedelta as seconds)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    return str(value)


def _plain(docs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``docs`` as JSON data (timestamps as ISO 8601 text, NaN as None), in one pass of orjson.

    >>> _plain({"P1": {"at": datetime(2026, 12, 7, 10), "x": float("nan")}})
    {'P1': {'at': '2026-12-07T10:00:00', 'x': None}}
    """
    data: dict[str, dict[str, Any]] = orjson.loads(orjson.dumps(docs, default=json_default))
    return data


def _latest(t: ir.Table, ts: str, recent: int) -> ir.Table:
    """The ``recent`` newest rows of each person (by ``ts``, newest first)."""
    rank = ibis.row_number().over(group_by="person_id", order_by=[ibis.desc(ts)])
    return t.mutate(_hx_rank=rank).filter(ibis._["_hx_rank"] < recent).drop("_hx_rank")


def record_keys(engine: Engine) -> ir.Table:
    """``source, source_customer_id, person_id`` of every record: ``record_persons``, or before the
    identity stage each customer key as its own person."""
    if engine.has_table("record_persons"):
        return engine.table("record_persons").select("source", "source_customer_id", "person_id")
    from huaxiang.features.persons import person_keys

    return person_keys(engine)


def _keys(engine: Engine, ids: ir.Table) -> ir.Table:
    return record_keys(engine).semi_join(ids, "person_id")


def _attributes(engine: Engine, ids: ir.Table, keys: ir.Table) -> dict[str, dict[str, Any]]:
    """The golden record (``persons``), else the newest non-empty value of each column of the records."""
    if engine.has_table("persons"):
        p = engine.table("persons")
        return {pid: rows[0] for pid, rows in _rows(engine, p.semi_join(ids, "person_id")).items()}
    raw = engine.table("customers_raw")
    records = raw.inner_join(keys, ["source", "source_customer_id"])
    records = records.drop(*[c for c in records.columns if c.endswith("_right") or c.startswith("_hx")])
    frame = engine.execute(records)
    if "registered_at" in frame.columns:
        frame = frame.sort_values("registered_at", ascending=False, na_position="last")
    out: dict[str, dict[str, Any]] = {}
    for pid, part in frame.groupby("person_id", sort=False):
        attrs: dict[str, Any] = {"person_id": str(pid)}
        for column in part.columns:
            if column == "person_id":
                continue
            known = part[column].dropna()
            attrs[column] = jsonable(known.iloc[0]) if len(known) else None
        attrs["n_records"] = len(part)
        out[str(pid)] = attrs
    return out


def _orders(engine: Engine, keys: ir.Table, recent: int) -> dict[str, list[dict[str, Any]]]:
    o = engine.table("orders")
    cols = [c for c in _ORDER_COLUMNS if c in o.columns]
    mine = o.inner_join(keys, ["source", "source_customer_id"]).select("person_id", *cols)
    latest = _latest(mine, "order_ts", recent).order_by(["person_id", ibis.desc("order_ts")])
    return _rows(engine, latest, drop=["person_id"])


def _events(engine: Engine, ids: ir.Table, keys: ir.Table, recent: int) -> dict[str, list[dict[str, Any]]]:
    e = engine.table("events")
    cols = [c for c in _EVENT_COLUMNS if c in e.columns]
    users = keys.rename(user_id="source_customer_id")
    found = e.inner_join(users, ["source", "user_id"]).select("person_id", "event_id", "source", *cols)
    if engine.has_table("identities"):
        ids_t = engine.table("identities")
        anon = ids_t.filter(ids_t.identifier_type == "anonymous_id").semi_join(ids, "person_id")
        by_device = e.inner_join(anon, e.anonymous_id == anon.identifier_value).select(
            "person_id", "event_id", "source", *cols)
        found = ibis.union(found, by_device, distinct=True)
    latest = _latest(found, "event_ts", recent).order_by(["person_id", ibis.desc("event_ts")])
    return _rows(engine, latest, drop=["person_id", "event_id", "source"])


def _tags(engine: Engine, ids: ir.Table) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    current: dict[str, list[dict[str, Any]]] = {}
    if engine.has_table("person_tags"):
        t = engine.table("person_tags")
        cols = [c for c in ("person_id", "tag_id", "name_zh", "name_en", "reason", "since") if c in t.columns]
        current = _rows(engine, t.semi_join(ids, "person_id").select(*cols).order_by(["person_id", "tag_id"]),
                        drop=["person_id"])
    history: dict[str, list[dict[str, Any]]] = {}
    if engine.has_table("tags"):
        h = engine.table("tags")
        history = _rows(engine, h.semi_join(ids, "person_id").order_by(["person_id", "valid_from", "tag_id"]),
                        drop=["person_id"])
    return current, history


def _recommendations(engine: Engine, recs: ir.Table) -> ir.Table:
    """Recommendations with ``product_name`` (and category) beside the product code, best first."""
    if "product_id" not in recs.columns or not engine.has_table("products"):
        return recs
    p = engine.table("products")
    names = p.group_by("product_id").aggregate(product_name=p["name"].max(), category=p.category.max())
    joined = recs.left_join(names, "product_id")
    joined = joined.select(*recs.columns, "product_name", *(["category"] if "category" not in recs.columns else []))
    return joined.order_by(["person_id", "rank"]) if "rank" in recs.columns else joined


def gather_documents(engine: Engine, person_ids: Sequence[str], *, recent: int = 10,
                     plain: bool = True) -> dict[str, dict[str, Any]]:
    """``person_id -> document`` for the known persons among ``person_ids`` (see the module docstring).

    A document holds :data:`DOCUMENT_KEYS`: the person's source ``records``, ``attributes``,
    ``features`` (name → value), ``tags`` (``tag_id``, both names, ``reason``, ``since``),
    ``tag_history``, the ``recent`` newest ``orders`` and ``events``, their rows of ``scores``,
    ``segments`` and ``recommendations``, and ``refreshed_at`` / ``as_of`` from ``person_refresh``.
    A person is known when a record or a ``features`` row names them. ``plain=False`` leaves Python
    values (datetime …) for a writer that encodes them itself (:class:`~huaxiang.profiles.store.ProfileStore`).
    """
    if not person_ids:
        return {}
    ids = person_table(person_ids)
    keys = _keys(engine, ids)
    records = _rows(engine, keys.order_by(["person_id", "source", "source_customer_id"]), drop=["person_id"])
    features: dict[str, dict[str, Any]] = {}
    if engine.has_table("features"):
        f = engine.table("features")
        features = {pid: rows[0] for pid, rows in _rows(engine, f.semi_join(ids, "person_id"),
                                                        drop=["person_id"]).items()}
    known = sorted(set(records) | set(features))
    if not known:
        return {}
    attributes = _attributes(engine, ids, keys)
    tags, history = _tags(engine, ids)
    orders = _orders(engine, keys, recent)
    events = _events(engine, ids, keys, recent) if engine.has_table("events") else {}
    optional: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for name in OPTIONAL_TABLES:
        if engine.has_table(name):
            t = engine.table(name)
            if "person_id" in t.columns:
                mine = t.semi_join(ids, "person_id")
                if name == "recommendations":
                    mine = _recommendations(engine, mine)
                optional[name] = _rows(engine, mine)
    stamps: dict[str, dict[str, Any]] = {}
    if engine.has_table("person_refresh"):
        pr = engine.table("person_refresh")
        stamps = {pid: rows[0] for pid, rows in _rows(engine, pr.semi_join(ids, "person_id"),
                                                      drop=["person_id"]).items()}
    docs: dict[str, dict[str, Any]] = {}
    for pid in known:
        doc: dict[str, Any] = {
            "person_id": pid, "records": records.get(pid, []),
            "attributes": attributes.get(pid) or {"person_id": pid, "n_records": 0},
            "features": features.get(pid, {}), "tags": tags.get(pid, []), "tag_history": history.get(pid, []),
            "orders": orders.get(pid, []), "events": events.get(pid, []),
        }
        for name, rows in optional.items():
            doc[name] = rows.get(pid, [])
        stamp = stamps.get(pid, {})
        doc["refreshed_at"] = stamp.get("refreshed_at")
        doc["as_of"] = stamp.get("as_of") or doc["features"].get("as_of")
        docs[pid] = doc
    return _plain(docs) if plain else docs


def lookup_keys(engine: Engine, docs: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    """``(kind, value, person_id)`` every lookup of the persons of ``docs`` (from :func:`gather_documents`)
    goes by: their records as ``source_id`` (``SOURCE:CUSTOMER_ID``, from the documents), their
    ``identities`` (phone, email, user_id, anonymous_id, device_id, …), and ``person_id`` for a retired
    id merged into one of them.
    """
    if not docs:
        return []
    ids = person_table(list(docs))
    out = [("source_id", f"{r['source']}:{r['source_customer_id']}", pid)
           for pid, doc in docs.items() for r in doc["records"]]
    if engine.has_table("identities"):
        it = engine.table("identities")
        frame = engine.execute(it.semi_join(ids, "person_id").select("identifier_type", "identifier_value",
                                                                       "person_id"))
        out += [(str(k), str(v), str(p)) for k, v, p in zip(frame["identifier_type"], frame["identifier_value"],
                                                             frame["person_id"], strict=True)]
    if engine.has_table("person_aliases"):
        al = engine.table("person_aliases")
        frame = engine.execute(al.semi_join(ids, "person_id").select("alias_id", "person_id"))
        out += [("person_id", str(a), str(p)) for a, p in zip(frame["alias_id"], frame["person_id"], strict=True)]
    return out
