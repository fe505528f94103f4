"""What the data can say: capabilities per source, NULL features, tags that do not fire on them,
purchases that arrive as events, and calendars that follow the workspace's country."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from huaxiang.config import parse_config
from huaxiang.errors import ConfigError
from huaxiang.features.calendar import festival_calendar, spring_festival_days
from huaxiang.features.settings import SPRING_FESTIVAL_DAYS

# Person a: 5 store orders at 23:00 (a night owl); b: 5 orders of a date-only legacy export
# (00:00, which is not night); c: 3 store orders and 3 legacy ones.
POS = "receipt,member,ts,total\n" + "\n".join(
    [f"a{i},a,2024-03-0{i + 1} 23:00:00,10" for i in range(5)]
    + [f"c{i},c,2024-03-0{i + 1} 12:00:00,10" for i in range(3)])
LEGACY = "id,member,day,total\n" + "\n".join(
    [f"b{i},b,2024030{i + 1},10" for i in range(5)] + [f"c{i},c,2024030{i + 4},10" for i in range(3)])
EVENTS = "user,item,kind,ts\n" + "\n".join(
    [f"u1,i{i},pv,{1709280000 + i * 60}" for i in range(12)] + ["u1,i1,buy,1709290000", "u1,i2,buy,1709390000"]
    + [f"u2,i{i},pv,{1709280000 + i * 60}" for i in range(12)])


def _config(country: Any = "CN") -> dict[str, Any]:
    return {
        "name": "mixed", "country": country,
        "sources": [
            {"name": "pos", "table": "orders", "format": "csv", "path": "pos.csv",
             "columns": {"order_id": "receipt", "source_customer_id": "member",
                         "order_ts": {"column": "ts", "format": "%Y-%m-%d %H:%M:%S"}, "amount": "total",
                         "status": {"value": "paid"}}},
            {"name": "legacy", "table": "orders", "format": "csv", "path": "legacy.csv",
             "columns": {"order_id": "id", "source_customer_id": "member",
                         "order_ts": {"column": "day", "format": "%Y%m%d"}, "amount": "total",
                         "status": {"value": "paid"}}},
            {"name": "tb", "table": "events", "format": "csv", "path": "events.csv", "purchase_events": ["order"],
             "columns": {"event_id": {"expr": "user || '-' || CAST(_hx_row AS VARCHAR)"}, "user_id": "user",
                         "product_id": "item", "event_ts": {"column": "ts", "unit": "s"},
                         "event_type": {"column": "kind", "map": {"pv": "product_view", "buy": "order"}}}},
        ],
    }


@pytest.mark.slow
def test_capabilities_null_features_and_silent_tags(make_workspace: Any) -> None:
    ws = make_workspace(_config(), files={"pos.csv": POS, "legacy.csv": LEGACY, "events.csv": EVENTS})
    report = ws.build(stages=["ingest", "clean", "features", "tags"])
    assert [s["purchases_from_events"] for s in report.sources] == [0, 0, 2]
    caps = ws.engine.execute(ws.table("data_capabilities"))
    timed = caps[caps["capability"] == "time_of_day"].set_index("source")["available"].to_dict()
    assert timed == {"pos": True, "legacy": False, "tb": True}
    prices = caps[caps["capability"] == "prices"]
    assert not prices["available"].any()
    f = ws.engine.execute(ws.table("features")).set_index("person_id")
    # Hours only from the orders that have them.
    assert f.loc["pos:a", "share_night_orders"] == 1.0 and f.loc["pos:a", "peak_hour"] == 23
    assert f.loc[["legacy:b", "legacy:c"], ["share_night_orders", "peak_hour"]].isna().all().all()
    assert f.loc["pos:c", "share_night_orders"] == 0.0 and f.loc["pos:c", "peak_hour"] == 12
    # No prices and no discounts anywhere: those features are NULL, never 0.
    assert f[["price_tier_index", "share_discounted_orders", "share_refunded_orders"]].isna().all().all()
    # The buys became purchases: u1 is a buyer, u2 only browsed.
    assert f.loc["tb:u1", "orders_total"] == 2 and f.loc["tb:u1", "lifecycle_stage"] != "prospect"
    assert f.loc["tb:u1", "spend_total"] != f.loc["tb:u1", "spend_total"]  # NaN: a buy's amount is unknown
    tags = ws.engine.execute(ws.table("person_tags"))
    by_tag = tags.groupby("tag_id")["person_id"].apply(set).to_dict()
    assert by_tag.get("night_owl") == {"pos:a"}  # b's five 00:00 dates are not night
    assert by_tag.get("browser_not_buyer") == {"tb:u2"}
    unsupported = report.details["features"]["unsupported_features"]
    assert unsupported["price_tier_index"] == "no prices" and "peak_hour" not in unsupported
    catalog = ws.engine.execute(ws.table("feature_catalog")).set_index("name")
    assert not catalog.loc["price_tier_index", "supported"] and catalog.loc["peak_hour", "needs"] == "time_of_day"


@pytest.mark.slow
def test_no_country_no_festivals_nor_paydays(make_workspace: Any) -> None:
    ws = make_workspace(_config(country=None), files={"pos.csv": POS, "legacy.csv": LEGACY, "events.csv": EVENTS})
    report = ws.build(stages=["ingest", "clean", "features"])
    details = report.details["features"]
    assert details["festivals"] == [] and details["country"] is None
    assert {"share_festival_orders", "share_payday_orders", "payday_lift"} <= set(details["unsupported_features"])
    f = ws.engine.execute(ws.table("features"))
    assert f["share_festival_orders"].isna().all() and f["share_payday_orders"].isna().all()


def test_purchase_events_only_on_events_sources() -> None:
    raw = _config()
    raw["sources"][0]["purchase_events"] = ["order"]
    raw["sources"][2]["purchase_events"] = ["buy"]
    with pytest.raises(ConfigError, match=r"(?s)purchase_events is for events sources.*'buy'.*not event types"):
        parse_config(raw)


def test_calendars_follow_the_country() -> None:
    # The holidays package and our own table of Lunar New Year's Days agree.
    assert spring_festival_days(range(2017, 2028)) == list(SPRING_FESTIVAL_DAYS)
    cn = {f.name: (f.start, f.end) for f in festival_calendar("CN", [1998, 2024])}
    assert cn["618"] == ("06-01", "06-18") and cn["spring_festival_1998"] == ("1998-01-14", "1998-02-03")
    us = {f.name: f.start for f in festival_calendar("US", [1997])}
    assert us["Independence Day"] == "1997-07-04" and "618" not in us and "double_11" not in us
    assert date(2011, 4, 29).isoformat() in {f.start for f in festival_calendar("GB", [2011])}  # a royal wedding
    assert festival_calendar(None, [2024]) == []
    with pytest.raises(ConfigError, match="country: 'XX' is not an ISO 3166-1 alpha-2 code"):
        festival_calendar("XX", [2024])
