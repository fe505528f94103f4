"""The identity stage (deterministic part): one ``person_id`` per real customer.

Writes ``record_persons`` (every customer key → person), ``identities`` (identifier → person),
``persons`` (golden record), ``identity_links`` (which identifier joined each record) and
``identity_hubs`` (identifier values refused for linking, with the reason).

Settings (``identity:`` in huaxiang.yaml)::

    identity:
      strong_identifiers: [phone, email, member_card, wechat_unionid, wechat_openid, user_id]
      attach_only: [device_id, anonymous_id]   # map to a person only when unambiguous; never merge
      source_keys: {pos: member_card}          # the pos system's customer id IS a member card number
      max_records_per_value: 8                 # more records on one value = a hub, refused
      blocklist: ["+8613800000000"]            # placeholder values that never link

Survivorship of the golden record: each attribute comes from the most recently registered record
that has a value for it. Probabilistic matching (Splink), operator corrections and id stability
across rebuilds are not built yet (issue #3).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from huaxiang.engine.base import Engine
from huaxiang.errors import ConfigError
from huaxiang.identity.graph import RECORD, connected_components, find_hubs, record_key
from huaxiang.pipeline import StageContext, StageResult

IDENTIFIER_COLUMNS = ("phone", "email", "member_card", "wechat_unionid", "wechat_openid", "user_id", "device_id")
GOLDEN_ATTRIBUTES = ("name", "gender", "birth_date", "phone", "email", "country", "region", "city", "address",
                     "occupation", "member_level", "consent_marketing")


class IdentitySettings(BaseModel):
    """The ``identity:`` section of huaxiang.yaml."""

    model_config = ConfigDict(extra="forbid")

    strong_identifiers: list[str] = Field(
        default_factory=lambda: ["phone", "email", "member_card", "wechat_unionid", "wechat_openid", "user_id"]
    )
    attach_only: list[str] = Field(default_factory=lambda: ["device_id", "anonymous_id"])
    source_keys: dict[str, str] = Field(default_factory=dict)
    max_records_per_value: int = Field(default=8, ge=2)
    blocklist: list[str] = Field(
        default_factory=lambda: ["+8613800000000", "+8600000000000", "+8611111111111", "+8613888888888"]
    )


def parse_settings(raw: dict[str, object]) -> IdentitySettings:
    """Validate the ``identity:`` section; errors name the key and the fix."""
    try:
        settings = IdentitySettings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"identity.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"huaxiang.yaml: {problems}") from None
    known = set(IDENTIFIER_COLUMNS) | {"anonymous_id"}
    for key in ("strong_identifiers", "attach_only"):
        bad = sorted(set(getattr(settings, key)) - known)
        if bad:
            raise ConfigError(f"huaxiang.yaml: identity.{key}: unknown identifier types {bad}; valid: {sorted(known)}")
    return settings


def _records(engine: Engine) -> ir.Table:
    parts = [engine.table(n).select("source", "source_customer_id") for n in ("customers_raw", "orders", "interactions")]
    ev = engine.table("events")
    parts.append(ev.select("source", source_customer_id=ev.user_id))
    keys = ibis.union(*parts, distinct=True)
    keys = keys.filter(keys.source_customer_id.notnull())
    return keys.mutate(**{RECORD: record_key(keys.source, keys.source_customer_id)})


def _edges(engine: Engine, records: ir.Table, settings: IdentitySettings) -> ir.Table:
    """``record_key, identifier_type, identifier_value`` for every identifier a record carries."""
    c = engine.table("customers_raw")
    key = record_key(c.source, c.source_customer_id)
    parts = [
        c.filter(c[col].notnull()).select(**{RECORD: key}, identifier_type=ibis.literal(col),
                                          identifier_value=c[col].cast("string"))
        for col in IDENTIFIER_COLUMNS
    ]
    for system, id_type in settings.source_keys.items():
        r = records.filter(records.source == system)
        parts.append(r.select(RECORD, identifier_type=ibis.literal(id_type), identifier_value=r.source_customer_id))
    ev = engine.table("events")
    ev = ev.filter(ev.user_id.notnull() & ev.anonymous_id.notnull())
    parts.append(
        ev.select(**{RECORD: record_key(ev.source, ev.user_id)}, identifier_type=ibis.literal("anonymous_id"),
                  identifier_value=ev.anonymous_id).distinct()
    )
    return ibis.union(*parts, distinct=True)


def _golden(engine: Engine, record_persons: ir.Table) -> ir.Table:
    c = engine.table("customers_raw").inner_join(record_persons, ["source", "source_customer_id"])
    order = c.registered_at.fill_null(ibis.timestamp("1900-01-01"))
    latest = {
        a: ibis.coalesce(c[a].argmax(ibis.ifelse(c[a].notnull(), order, ibis.null("timestamp"))), c[a].max())
        for a in GOLDEN_ATTRIBUTES
    }
    per = c.group_by("person_id").aggregate(registered_at=c.registered_at.min(), **latest)
    counts = record_persons.group_by("person_id").aggregate(
        n_records=record_persons.count(),
        sources=record_persons.source.collect().unique().sort().join(","),
    )
    return counts.left_join(per, "person_id").drop("person_id_right")


def run_identity(ctx: StageContext) -> StageResult:
    """Resolve identities deterministically and write the identity tables."""
    engine = ctx.engine
    settings = parse_settings(ctx.config.identity)
    records = engine.materialize("_hx_id_records", _records(engine), temp=True)
    edges = engine.materialize("_hx_id_all_edges", _edges(engine, records, settings), temp=True)
    strong = edges.filter(edges.identifier_type.isin(settings.strong_identifiers))
    hubs = engine.materialize(
        "identity_hubs",
        find_hubs(strong, max_records_per_value=settings.max_records_per_value, blocklist=settings.blocklist),
    )
    usable = strong.anti_join(hubs, ["identifier_type", "identifier_value"])
    labels = connected_components(engine, usable, records)
    with_person = records.inner_join(labels, RECORD)
    record_persons = engine.materialize(
        "record_persons",
        with_person.select("source", "source_customer_id",
                           person_id="P" + with_person.label.hexdigest("md5").substr(0, 16)),
    )
    linked = edges.inner_join(
        record_persons.mutate(**{RECORD: record_key(record_persons.source, record_persons.source_customer_id)}),
        RECORD,
    )
    links = linked.mutate(
        used=linked.identifier_type.isin(settings.strong_identifiers)
    ).select(RECORD, "person_id", "identifier_type", "identifier_value", "used")
    links = engine.materialize("identity_links", links.anti_join(hubs, ["identifier_type", "identifier_value"]))
    per_value = links.group_by(["identifier_type", "identifier_value"]).aggregate(persons=links.person_id.nunique())
    unambiguous = per_value.filter(per_value.persons == 1)
    identities = links.semi_join(unambiguous, ["identifier_type", "identifier_value"]).select(
        "identifier_type", "identifier_value", "person_id"
    ).distinct()
    identities = engine.materialize("identities", identities)
    persons = engine.materialize("persons", _golden(engine, record_persons))
    for name in ("_hx_id_records", "_hx_id_all_edges", "_hx_id_edges"):
        engine.drop(name)
    for name in engine.list_tables():
        if name.startswith("_hx_id_labels_"):
            engine.drop(name)
    tables = {n: int(engine.execute(t.count())) for n, t in (
        ("record_persons", record_persons), ("identities", identities), ("persons", persons),
        ("identity_links", links), ("identity_hubs", hubs),
    )}
    return StageResult(tables=tables, details={"hubs": tables["identity_hubs"]})
