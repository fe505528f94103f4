"""The tag census: every example workspace built to its tags, persons per tag printed, and each tag's
underlying features checked against an independent pandas reading of that data set's raw files.

What is checked, per data set (``shared/data/README.md`` describes the files):

- every workspace: no person carries a tag whose rule reads a feature the data cannot support
  (``feature_catalog.supported`` false: NULL for everyone);
- demo: every input is there; the night share of each person equals the raw orders' (app + POS);
- CDNOW (US, dates only): no hour feature or tag; the festival share is that of US public holidays;
  purchases and spend per customer equal the raw file's;
- Online Retail I/II (GB, times): night and festival (UK bank holiday) shares equal the raw
  invoices'; no category preference (the data has none);
- Groceries (no prices, dates only, no calendar): no hour, price, spend, festival or payday
  feature or tag; baskets and items per member equal the raw file's;
- Taobao (CN, events): the 558 buyers are buyers with as many purchases as ``buy`` events, none is
  ``browser_not_buyer``, and that tag is exactly the non-buyers with 10+ views.

Each example is built once per session (:func:`example_builds`, shared with ``test_examples.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import holidays
import numpy as np
import pandas as pd
import pytest

import huaxiang

pytestmark = pytest.mark.slow

EXAMPLES = ("demo", "cdnow", "online_retail", "online_retail_ii", "groceries", "taobao")
STAGES = ["ingest", "clean", "identity", "features", "tags"]
#: The demo shop of the census (and of test_examples.py).
DEMO_OPTIONS = {"customers": 1000, "seed": 3}
HOUR_TAGS = {"night_owl"}
PRICE_TAGS = {"price_sensitive", "high_price_preference"}


@pytest.fixture(scope="session")
def example_builds(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Callable[[str], Any]]:
    """``build(example) -> (workspace, report)``: the example on DuckDB through the tags stage, built
    once per session."""
    built: dict[str, Any] = {}

    def build(example: str) -> Any:
        if example not in built:
            folder = tmp_path_factory.mktemp("census") / example
            options = DEMO_OPTIONS if example == "demo" else {}
            huaxiang.Workspace.init(folder, example=example, data=shared_data, **options)
            ws = huaxiang.Workspace.open(folder)
            built[example] = (ws, ws.build(stages=STAGES))
        return built[example]

    yield build
    for ws, _ in built.values():
        ws.close()


def _frames(ws: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    f = ws.engine.execute(ws.table("features")).set_index("person_id")
    tags = ws.engine.execute(ws.table("person_tags"))
    keys = ws.engine.execute(ws.table("record_persons").select("source", "source_customer_id", "person_id"))
    return f, tags, keys


def _tagged(tags: pd.DataFrame, tag: str) -> set[str]:
    return set(tags.loc[tags["tag_id"] == tag, "person_id"])


def _by_person(keys: pd.DataFrame, source: str, per_customer: pd.Series) -> pd.Series:
    """A per-customer series of ``source`` re-keyed by person (every example has one customer per person)."""
    k = keys[keys["source"] == source].set_index("source_customer_id")["person_id"]
    out = per_customer.copy()
    out.index = k.reindex(per_customer.index.astype(str)).to_numpy()
    assert out.index.notna().all()
    return out


def _close(got: pd.Series, want: pd.Series) -> None:
    got = got.reindex(want.index).astype(float)
    bad = ~np.isclose(got.to_numpy(), want.to_numpy(dtype=float), equal_nan=True)
    assert not bad.any(), pd.DataFrame({"got": got[bad], "want": want[bad]}).head()


def _night(hours: pd.Series) -> pd.Series:
    return hours.isin([22, 23, 0, 1])


@pytest.fixture(scope="session")
def census(example_builds: Callable[[str], Any]) -> pd.DataFrame:
    """Persons per tag per workspace (printed)."""
    counts = {}
    for example in EXAMPLES:
        ws, _ = example_builds(example)
        tags = ws.engine.execute(ws.table("person_tags"))
        counts[example] = tags.groupby("tag_id").size()
    table = pd.DataFrame(counts).fillna(0).astype(int)
    print("\npersons per tag\n" + table.to_string())
    return table


@pytest.mark.parametrize("example", EXAMPLES)
def test_no_tag_reads_a_feature_the_data_lacks(example: str, census: pd.DataFrame,
                                              example_builds: Callable[[str], Any]) -> None:
    ws, report = example_builds(example)
    catalog = ws.engine.execute(ws.table("feature_catalog")).set_index("name")
    lacking = set(catalog.index[~catalog["supported"].astype(bool)])
    assert set(report.details["features"]["unsupported_features"]) == lacking
    f, tags, _ = _frames(ws)
    assert f[sorted(lacking & set(f.columns))].isna().all().all()
    rules = ws.engine.execute(ws.table("tag_catalog")).set_index("tag_id")["rule"]
    fired = set(tags["tag_id"])
    for tag in fired:
        reads = {w for w in rules[tag].replace("(", " ").replace(")", " ").split() if w in catalog.index}
        assert not (reads & lacking), f"{example}: {tag} fired though it reads {sorted(reads & lacking)}"


def test_demo(example_builds: Callable[[str], Any]) -> None:
    ws, report = example_builds("demo")
    missing = set(report.details["features"]["unsupported_features"])
    # The synthetic shop has every input except categories on its events.
    assert missing <= {"top_browsed_category"}, missing
    f, _, keys = _frames(ws)
    data = ws.path / "data"
    online = pd.read_parquet(data / "online_orders.parquet")
    online = online[online["status"] == "已支付"]
    pos = pd.read_csv(data / "pos_orders.csv", dtype={"member_card": str})
    pos = pos[pos["status"].isin(["paid", "pending"]) & pos["member_card"].notna()]
    hours = pd.concat([
        pd.DataFrame({"source": "app", "customer": online["user_id"].astype(str),
                      "ts": pd.to_datetime(online["order_time"], errors="coerce")}),
        pd.DataFrame({"source": "pos", "customer": pos["member_card"],
                      "ts": pd.to_datetime(pos["ts"], format="%Y-%m-%d %H:%M:%S", errors="coerce")}),
    ]).dropna(subset=["ts"])  # dirty rows on purpose ("#VALUE!"): ingest quarantines them
    hours["hour"] = hours["ts"].dt.hour
    hours = hours.merge(keys, left_on=["source", "customer"], right_on=["source", "source_customer_id"])
    want = _night(hours["hour"]).groupby(hours["person_id"]).mean()
    got = f["share_night_orders"].reindex(want.index)
    # A few raw rows are dirty on purpose (quarantined by ingest): judge the persons as a whole.
    agree = np.isclose(got.to_numpy(dtype=float), want.to_numpy(dtype=float))
    assert agree.mean() >= 0.97, agree.mean()


def test_cdnow(example_builds: Callable[[str], Any], shared_data: Path) -> None:
    ws, report = example_builds("cdnow")
    missing = report.details["features"]["unsupported_features"]
    assert {"peak_hour", "share_night_orders", "share_payday_orders"} <= set(missing)
    f, tags, keys = _frames(ws)
    assert not HOUR_TAGS & set(tags["tag_id"]) and f["peak_hour"].isna().all()
    raw = pd.read_csv(shared_data / "cdnow" / "CDNOW_master.txt", sep=r"\s+", dtype={"customer_id": str})
    raw["day"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    per = raw.groupby("customer_id")
    _close(f["orders_total"], _by_person(keys, "cdnow", per.size()))
    _close(f["spend_total"], _by_person(keys, "cdnow", per["dollar_value"].sum()))
    us = holidays.country_holidays("US", years=[1997, 1998])
    on_holiday = raw["day"].dt.date.isin(set(us))
    _close(f["share_festival_orders"], _by_person(keys, "cdnow", on_holiday.groupby(raw["customer_id"]).mean()))
    assert report.details["features"]["festivals"][0] == "New Year's Day"
    assert not {"618", "double_11", "spring_festival"} & set(report.details["features"]["festivals"])


@pytest.mark.parametrize(("example", "file", "inv", "cust"), [
    ("online_retail", "online_retail/online_retail.parquet", "InvoiceNo", "CustomerID"),
    ("online_retail_ii", "online_retail_ii/online_retail_ii_2009_2010.parquet", "Invoice", "Customer ID"),
])
def test_online_retail(example: str, file: str, inv: str, cust: str, example_builds: Callable[[str], Any],
                       shared_data: Path) -> None:
    ws, report = example_builds(example)
    assert {"top_category", "category_breadth"} <= set(report.details["features"]["unsupported_features"])
    f, _, keys = _frames(ws)
    raw = pd.read_parquet(shared_data / file)
    sales = raw[raw[cust].notna() & ~raw[inv].str.startswith(("C", "A"))]
    invoices = sales.groupby(inv).agg(customer=(cust, "first"), ts=("InvoiceDate", "min"))
    invoices["customer"] = invoices["customer"].astype("int64").astype(str)
    per = invoices.groupby("customer")
    _close(f["orders_total"], _by_person(keys, example, per.size()))
    _close(f["share_night_orders"], _by_person(keys, example, _night(invoices["ts"].dt.hour).groupby(
        invoices["customer"]).mean()))
    gb = holidays.country_holidays("GB", years=range(2009, 2012))
    festive = invoices["ts"].dt.date.isin(set(gb))
    _close(f["share_festival_orders"], _by_person(keys, example, festive.groupby(invoices["customer"]).mean()))
    assert f["top_category"].isna().all()
    assert not {"618", "double_11", "spring_festival"} & set(report.details["features"]["festivals"])


def test_groceries(example_builds: Callable[[str], Any], shared_data: Path) -> None:
    ws, report = example_builds("groceries")
    missing = set(report.details["features"]["unsupported_features"])
    no_data = {"peak_hour", "share_night_orders", "price_tier_index", "share_high_price_items", "spend_total",
               "monetary_value", "top_category", "share_festival_orders", "share_payday_orders"}
    assert no_data <= missing, no_data - missing
    f, tags, keys = _frames(ws)
    assert f[sorted(no_data)].isna().all().all()
    assert not (HOUR_TAGS | PRICE_TAGS | {"festival_shopper", "payday_shopper"}) & set(tags["tag_id"])
    raw = pd.read_csv(shared_data / "groceries" / "Groceries_dataset.csv", dtype={"Member_number": str})
    per = raw.groupby("Member_number")
    _close(f["orders_total"], _by_person(keys, "groceries", per["Date"].nunique()))
    items = raw["itemDescription"].str.strip().str.lower()
    _close(f["category_breadth"], _by_person(keys, "groceries", items.groupby(raw["Member_number"]).nunique()))


def test_taobao(example_builds: Callable[[str], Any], shared_data: Path) -> None:
    ws, report = example_builds("taobao")
    f, tags, keys = _frames(ws)
    raw = pd.read_csv(shared_data / "taobao" / "UserBehavior_sample.csv", header=None,
                      names=["user", "item", "cat", "type", "ts"], dtype={"user": str})
    beijing = pd.to_datetime(raw["ts"], unit="s") + pd.Timedelta(hours=8)
    raw = raw[(beijing >= "2017-11-25") & (beijing < "2017-12-04")]
    buys = raw[raw["type"] == "buy"].groupby("user").size()
    assert len(buys) == 558 and report.sources[0]["purchases_from_events"] == buys.sum() == 1_749  # published
    bought = _by_person(keys, "taobao", buys)
    _close(f["orders_total"], bought)
    assert set(f.index[f["orders_total"] > 0]) == set(bought.index)
    assert (f.loc[bought.index, "lifecycle_stage"] != "prospect").all()
    browsers = _tagged(tags, "browser_not_buyer")
    assert not browsers & set(bought.index)
    views = raw[raw["type"] == "pv"].groupby("user").size()
    never = views[~views.index.isin(buys.index) & (views >= 10)]
    assert browsers == set(_by_person(keys, "taobao", never).index)
    assert f["spend_total"].isna().all() and f["price_tier_index"].isna().all()
