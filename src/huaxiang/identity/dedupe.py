"""``huaxiang dedupe``: the everyday job "dedupe this file" (or link two files), without a workspace.

The file is read as text columns, whatever their names (Chinese included). Each compared field is
profiled from its values, its name only breaking ties (:func:`guess_kind`): phone-like, e-mail-like,
date-like, name-like, codes and numbers, categories, free text. Each kind is normalised the way
people mistype it (:func:`normalise_values`: phone formats and full-width digits, e-mail case,
date separators, traditional characters and homophones of Chinese names) and compared with the
levels of its kind; blocking rules are chosen from the data; a Splink model is trained on the file
itself and the records are clustered. The result is ``record_id, cluster_id`` (plus ``dataset``
when linking two files).

What a user gets with few fields: one strong field (a phone, an e-mail, an ID) links records that
agree on it; one weak field (a name, a city) links nothing, since sharing a name says little when
others share it too — the model's prior is estimated from selective rules only
(see :mod:`huaxiang.identity.probabilistic`), so a file without duplicates keeps one cluster per row.

Examples
--------
>>> guess_kind("given_name", ["anna", "bob"])
'name'
>>> guess_kind("postcode", [str(2000 + i) for i in range(100)])
'code'
>>> guess_kind("state", ["nsw", "vic"] * 50)
'exact'
>>> guess_kind("手机号", ["138 0013 8000", "+86 139-1234-5678"])
'phone'
>>> guess_kind("联系方式", [f"1391234{i:04d}" for i in range(50)])
'phone'
>>> guess_kind("邮箱", ["Anna@QQ.com", "bob@163.com"])
'email'
>>> guess_kind("出生日期", ["1990/1/2", "1985-12-30"])
'date'
>>> guess_kind("客户", [s + g for s in "王陈李欧阳" for g in ("伟", "小芳", "娜娜", "军", "静")])
'name'
>>> guess_kind("门店", ["北京", "上海", "广州"] * 10)  # few distinct values: a category
'exact'
>>> normalise_values("phone", ["+86 138-0013-8000", "１３８００１３８０００", "(+86)13800138000"])
['13800138000', '13800138000', '13800138000']
>>> normalise_values("date", ["1990/1/2", "1990-01-02", "19900102"])
['19900102', '19900102', '19900102']
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa

from huaxiang.errors import ConfigError, SourceNotFoundError
from huaxiang.identity.probabilistic import UID, FieldSpec, MatchSpec, dedupe_table

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_CHARS = re.compile(r"^[+()\d\s\-.]+$")
_CN_MOBILE = re.compile(r"^(?:0{0,2}86)?1[3-9]\d{9}$")
_DATE = re.compile(r"^(\d{4})\D?(\d{1,2})\D?(\d{1,2})(?:[ T].*)?$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$", re.IGNORECASE)
_CJK_NAME = re.compile(r"^[\u3400-\u9fff·]{2,5}$")
_NAME_HINT = ("name", "姓名", "名字", "姓", "名", "联系人", "客户名")
_DATE_HINT = ("date", "dob", "birth", "生日", "日期", "出生")
_PHONE_HINT = ("phone", "mobile", "tel", "手机", "电话", "联系方式")
_EMAIL_HINT = ("email", "e-mail", "mail", "邮箱", "邮件")


def _share(values: Sequence[str], test: re.Pattern[str]) -> float:
    return sum(1 for v in values if test.match(v)) / max(len(values), 1)


def _digits(value: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", value) if ch.isdigit())


def guess_kind(column: str, values: Sequence[object]) -> str:
    """How to compare a column, from its values first and its name to break ties.

    Returns one of ``phone``, ``email``, ``date``, ``name``, ``code`` (identifiers, postcodes),
    ``number``, ``exact`` (few distinct values: a category) or ``text``.
    """
    low = column.lower()
    vals = [unicodedata.normalize("NFKC", str(v)).strip() for v in values
            if v is not None and str(v).strip() not in ("", "nan", "None")]
    if not vals:
        return "exact"
    hint = any(k in low for k in _NAME_HINT)
    if _share(vals, _EMAIL) >= 0.8:
        return "email"
    phone_like = _share(vals, _PHONE_CHARS) >= 0.9
    mobiles = sum(1 for v in vals if _CN_MOBILE.match(_digits(v))) / len(vals)
    if phone_like and (mobiles >= 0.8 or (any(k in low for k in _PHONE_HINT)
                                          and all(6 <= len(_digits(v)) <= 15 for v in vals[:1000]))):
        return "phone"
    dates = sum(1 for v in vals if (m := _DATE.match(v)) and 1 <= int(m[2]) <= 12 and 1 <= int(m[3]) <= 31)
    if dates / len(vals) >= 0.8 and (any(k in low for k in _DATE_HINT) or _share(vals, re.compile(r"^\d+$")) < 0.5):
        return "date"
    if hint and not _share(vals, _NUMBER) >= 0.5:
        return "name"
    if len(set(vals)) <= max(20, len(vals) // 100):  # a category (city, gender, level)
        return "exact"
    if _share(vals, _CJK_NAME) >= 0.8:
        return "name"
    if all(v.replace("-", "").replace(" ", "").isdigit() for v in vals[:1000]):
        return "code"
    if _share(vals, _NUMBER) >= 0.95:
        return "number"
    return "text"


def normalise_values(kind: str, values: Sequence[str | None]) -> list[str | None]:
    """Values as compared: full-width folded (NFKC), case and spacing evened out, per kind.

    ``phone``: the national number's digits (``+86``/``86`` dropped); ``email``: lower case;
    ``date``: ``YYYYMMDD`` from any separator (an impossible date keeps its digits, so a typo still
    costs one edit); ``name``: toneless pinyin for Chinese names (traditional folded to simplified,
    homophones agree), lower case and single spaces otherwise; other kinds: lower case, single spaces.
    """
    from huaxiang.identity.matching import name_keys

    out: list[str | None] = []
    for value in values:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            out.append(None)
            continue
        text = " ".join(unicodedata.normalize("NFKC", str(value)).split()).lower()
        if kind == "phone":
            digits = _digits(text)
            text = digits[2:] if _CN_MOBILE.match(digits) and len(digits) == 13 else digits
            text = digits[4:] if len(digits) == 15 and digits.startswith("0086") else text
        elif kind == "date" and (m := _DATE.match(text)):
            text = f"{m[1]}{int(m[2]):02d}{int(m[3]):02d}"
        out.append(text or None)
    if kind == "name":
        cjk = [v if v is not None and re.search(r"[\u3400-\u9fff]", v) else None for v in out]
        keys = name_keys(cjk)
        out = [k if k is not None else v for k, v in zip(keys, out, strict=True)]
    return out


def read_records(path: Path, id_col: str) -> pd.DataFrame:
    """A CSV or Parquet file as text columns (surrounding spaces trimmed, blanks as NULL)."""
    if not path.exists():
        raise SourceNotFoundError(f"{path}: no such file")
    if path.suffix.lower() in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False, encoding="utf-8-sig")
    frame.columns = [str(c).strip() for c in frame.columns]
    if id_col not in frame.columns:
        raise ConfigError(f"--id-col {id_col!r} is not a column of {path}; columns: {', '.join(frame.columns)}")
    frame = frame.astype("string").apply(lambda s: s.str.strip()).replace({"": None})
    if frame[id_col].isna().any() or frame[id_col].duplicated().any():
        raise ConfigError(f"--id-col {id_col!r} of {path} must be unique and never empty "
                          f"({int(frame[id_col].duplicated().sum())} repeated, {int(frame[id_col].isna().sum())} empty)")
    return frame


def dedupe_files(input_path: str | Path, *, id_col: str, fields: Sequence[str] | None = None,
                 link_with: str | Path | None = None, threshold: float = 0.95,
                 blocking: Sequence[Sequence[str]] | None = None) -> pd.DataFrame:
    """Cluster the records of a file (or link two files): ``record_id, cluster_id[, dataset]``.

    Every compared field gets a kind (:func:`guess_kind`) and is normalised for it
    (:func:`normalise_values`); runs on an in-memory DuckDB engine. Column names are used only as
    the user wrote them (never as SQL): the engine sees positional names ``f0, f1, ...``.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> rows = ["编号,姓名,手机号,生日"] + [f"{i},{'张王李'[i % 3]}{'伟芳娜军'[i % 4]},1391234{i:04d},"
    ...                                 f"19{50 + i % 40}-0{1 + i % 9}-1{i % 10}" for i in range(200)]
    >>> rows.append("200,張偉,+86 139-1234-0000,1950/1/10")  # record 0 again: 张伟 13912340000 1950-01-10
    >>> _ = (folder / "m.csv").write_text("\\n".join(rows), encoding="utf-8")
    >>> out = dedupe_files(folder / "m.csv", id_col="编号")
    >>> out.cluster_id.nunique(), out.set_index("record_id").cluster_id["200"]
    (200, '0')
    """
    from huaxiang.engine import create_engine

    paths = [Path(input_path)] + ([Path(link_with)] if link_with is not None else [])
    frames = [read_records(p, id_col) for p in paths]
    chosen = list(fields) if fields else [c for c in frames[0].columns if c != id_col]
    if not chosen:
        raise ConfigError(f"{paths[0]} has no column to compare besides --id-col {id_col!r}; add columns or --fields")
    for p, f in zip(paths, frames, strict=True):
        missing = [c for c in chosen if c not in f.columns]
        if missing:
            raise ConfigError(f"--fields {missing} not in {p}; columns: {', '.join(f.columns)}")
    if id_col in chosen:
        raise ConfigError(f"--fields names the id column {id_col!r}; compare other columns")
    safe = {c: f"f{i}" for i, c in enumerate(chosen)}
    unknown = [c for r in blocking or [] for c in r if c not in safe]
    if unknown:
        raise ConfigError(f"--blocking {unknown} are not compared fields; compared: {', '.join(chosen)}")
    both = pd.concat([f[chosen] for f in frames])
    kinds = {c: guess_kind(c, both[c].dropna().head(5000).tolist()) for c in chosen}
    spec = MatchSpec(fields=[FieldSpec(safe[c], kinds[c]) for c in chosen],  # type: ignore[arg-type]
                     blocking=[[safe[c] for c in b] for b in blocking or []], threshold=threshold)
    engine = create_engine("duckdb")
    try:
        names = []
        for i, f in enumerate(frames):
            data = pd.DataFrame({UID: f[id_col].astype(object)})
            for c in chosen:
                data[safe[c]] = normalise_values(kinds[c], f[c].astype(object).where(f[c].notna(), None).tolist())
            arrow = pa.Table.from_pandas(data.astype(object).where(data.notna(), None), preserve_index=False)
            engine.register_arrow(f"_hx_dd_in{i}", arrow)
            names.append(f"dd_{i}")
            engine.materialize(names[-1], engine.table(f"_hx_dd_in{i}"), temp=True)
        out = engine.execute(dedupe_table(engine, names, spec, link_only=len(names) > 1))
    finally:
        engine.close()
    if len(names) > 1:
        out["dataset"] = out.pop("dataset").map({i: p.name for i, p in enumerate(paths)})
    out.attrs["kinds"] = kinds
    return out.sort_values(["cluster_id", "record_id"]).reset_index(drop=True)


def write_clusters(frame: pd.DataFrame, out: str | Path) -> Path:
    """Write clusters as CSV, or Parquet when ``out`` ends in .parquet."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path
