"""The probabilistic tier of the identity stage: Splink over customer records, Chinese-name aware.

Compared fields are derived from the cleaned ``customers_raw`` on the engine:

- ``name_pinyin``: the name in toneless pinyin without spaces, after traditional → simplified, so
  homophone typos (王晓芳 / 王小芳), traditional spellings (陳 / 陈) and stray spaces agree exactly;
  computed once per *distinct* name in Python (pypinyin, OpenCC) and joined back;
- ``birth_date``, ``city``, ``gender``, ``address`` as cleaned;
- ``phone_digits``: the national number (a typo costs one edit, not the whole match);
- ``email``: the cleaned address; ``email_local``: the part before ``@`` (not compared by default: it is
  mostly the name's pinyin, so it repeats the name's evidence).

Hub and blocklisted phones/e-mails (placeholders) are blanked first: they say nothing about a person.

Examples
--------
>>> name_keys(["陳曉芳", "陈小芳", "王 芳", None])
['chenxiaofang', 'chenxiaofang', 'wangfang', None]
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from huaxiang.engine.base import Engine
from huaxiang.identity.graph import RECORD, record_key
from huaxiang.identity.probabilistic import UID, FieldSpec, MatchSpec, match_pairs
from huaxiang.identity.settings import IdentitySettings

FIELD_KINDS = {"name_pinyin": "name", "birth_date": "date", "city": "exact", "phone_digits": "phone",
               "email": "email", "email_local": "text", "gender": "exact", "address": "text"}


@lru_cache(maxsize=1)
def _converter() -> object:
    import opencc

    return opencc.OpenCC("t2s")


def name_keys(names: Sequence[str | None]) -> list[str | None]:
    """Toneless pinyin of each name (traditional folded to simplified; spaces dropped); latin names lower-cased.

    Each distinct character is converted once (names share few thousand characters), so a million
    names take a second, not minutes; a character reads as its most common pinyin.
    """
    from pypinyin import lazy_pinyin

    cc = _converter()
    texts = [None if not isinstance(n, str) else "".join(n.split()) for n in names]
    chars = sorted({ch for t in texts if t for ch in t})
    simple = cc.convert("".join(chars)) if chars else ""  # type: ignore[attr-defined]
    to_simple = dict(zip(chars, simple, strict=False)) if len(simple) == len(chars) else {
        ch: cc.convert(ch) for ch in chars}  # type: ignore[attr-defined]
    targets = sorted(set(to_simple.values()))
    readings = {ch: "".join(x for x in "".join(lazy_pinyin(ch)).lower() if x.isalnum()) for ch in targets}
    out: list[str | None] = []
    for t in texts:
        key = "".join(readings[to_simple[ch]] for ch in t) if t else ""
        out.append(key or None)
    return out


def match_input(engine: Engine, settings: IdentitySettings, hubs: ir.Table) -> ir.Table:
    """One row per customer record with ``unique_id`` (the record key) and the compared fields."""
    c = engine.table("customers_raw")
    blocked = hubs.select("identifier_type", "identifier_value")
    phone = c.phone.cast("string")
    email = c.email.cast("string")
    bad_phone = blocked.filter(blocked.identifier_type == "phone").identifier_value
    bad_email = blocked.filter(blocked.identifier_type == "email").identifier_value
    phone = ibis.ifelse(phone.isin(bad_phone), ibis.null("string"), phone)
    email = ibis.ifelse(email.isin(bad_email), ibis.null("string"), email)
    base = c.select(
        **{UID: record_key(c.source, c.source_customer_id)},
        name=c.name,
        birth_date=c.birth_date.cast("string"),
        city=c.city,
        gender=ibis.ifelse(c.gender == "unknown", ibis.null("string"), c.gender),
        address=c.address,
        phone_digits=phone.re_replace(r"^\+86", ""),
        email=email,
        email_local=email.split("@")[0],
    )
    names = engine.execute(base.select("name").filter(base.name.notnull()).distinct())["name"].tolist()
    keys = pd.DataFrame({"name": names, "name_pinyin": name_keys(names)}, dtype=object)
    if not len(keys):
        keys = pd.DataFrame({"name": ["~none~"], "name_pinyin": ["~none~"]})
    key_table = engine.register_arrow("_hx_sp_names", pa.Table.from_pandas(keys, preserve_index=False))
    out = base.left_join(key_table, "name").drop("name_right")
    wanted = settings.probabilistic.fields
    out = out.select(UID, *wanted)
    usable = [out[f].notnull().cast("int8") for f in wanted]
    # a record known only by a name and a city cannot be told from a namesake: three fields at least
    return out.filter(sum(usable[1:], usable[0]) >= min(3, len(usable)))


def splink_pairs(engine: Engine, settings: IdentitySettings, hubs: ir.Table) -> ir.Table | None:
    """Pairs of records Splink scores at or above the threshold: ``record_key_l, record_key_r,
    match_probability`` (None when there are too few records to train a model)."""
    prob = settings.probabilistic
    inp = engine.materialize("_hx_sp_input", match_input(engine, settings, hubs), temp=True)
    n = int(engine.execute(inp.count()))
    if n < prob.min_records:
        return None
    spec = MatchSpec(fields=[FieldSpec(f, FIELD_KINDS[f]) for f in prob.fields],  # type: ignore[arg-type]
                     blocking=prob.blocking, threshold=prob.threshold, u_max_pairs=prob.u_max_pairs)
    result = match_pairs(engine, ["_hx_sp_input"], spec)
    p = result.pairs
    pairs = p.select(record_key_l=p[f"{UID}_l"].cast("string"), record_key_r=p[f"{UID}_r"].cast("string"),
                     match_probability=p.match_probability.cast("float64"))
    return engine.materialize("_hx_id_splink_pairs", pairs, temp=True)


__all__ = ["RECORD", "match_input", "name_keys", "splink_pairs"]
