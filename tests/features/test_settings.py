"""Feature settings: validation messages, and paydays, festivals, night hours and lifecycle by hand."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import ibis
import pandas as pd
import pytest

from huaxiang.errors import ConfigError
from huaxiang.features.attributes import lifecycle_stage
from huaxiang.features.habits import compute_habits, payday_expected_share
from huaxiang.features.settings import DEFAULT_FESTIVALS, SPRING_FESTIVAL_DAYS, parse_settings


def test_errors_name_key_and_fix() -> None:
    with pytest.raises(ConfigError, match=r"features\.paydays\[1\]: .*less than or equal to 28 \(fix: use a day"):
        parse_settings({"paydays": [10, 31]})
    with pytest.raises(ConfigError, match=r"features\.funnel_steps: unknown event types \['buy'\]"):
        parse_settings({"funnel_steps": ["product_view", "buy"]})
    with pytest.raises(ConfigError, match=r"features\.festivals\[0\] \(双11\): 双11: start and end must both be MM-DD"):
        parse_settings({"festivals": [{"name": "双11", "start": "11-01", "end": "2024-11-11"}]})
    with pytest.raises(ConfigError, match=r"features\.lifecycle: sleeping_days \(400\) must be below lost_days"):
        parse_settings({"lifecycle": {"sleeping_days": 400}})
    # all problems at once
    with pytest.raises(ConfigError, match=r"has 3 problems:\n  - features\.payday_window.*\n  - features\.night_hours.*\n"
                                          r"  - features\.colour: unknown key.*valid keys: as_of, paydays"):
        parse_settings({"night_hours": [25, 2], "payday_window": 0, "colour": "red"})


def test_default_calendar() -> None:
    s = parse_settings({})
    assert s.paydays == [10] and s.payday_window == 5 and s.night_hours == (22, 2)
    assert s.high_price_percentile == 0.75 and list(s.funnel_steps) == ["view", "cart", "order", "pay", "after_sale"]
    names = {f.name: (f.start, f.end) for f in DEFAULT_FESTIVALS}
    assert names["618"] == ("06-01", "06-18") and names["double_11"] == ("11-01", "11-11")
    assert names["double_12"] == ("12-12", "12-12")
    assert [d.year for d in SPRING_FESTIVAL_DAYS] == list(range(2017, 2028))
    # 2024: Lunar New Year's Day is Feb 10 -> shopping from Jan 27 to Feb 16.
    assert names["spring_festival_2024"] == ("2024-01-27", "2024-02-16")
    assert SPRING_FESTIVAL_DAYS[SPRING_FESTIVAL_DAYS.index(date(2025, 1, 29))] == date(2025, 1, 29)
    assert parse_settings({"paydays": 15}).paydays == [15]


def _orders(times: list[str]) -> Any:
    n = len(times)
    return ibis.memtable(pd.DataFrame({
        "person_id": ["a"] * n, "order_ts": pd.to_datetime(times), "amount": [10.0] * n,
        "discount_amount": [0.0] * n, "promo_id": [None] * n, "channel": ["app"] * n,
        "payment_method": ["alipay"] * n, "status": ["paid"] * n, "is_purchase": [True] * n,
    }))


def test_paydays_festivals_and_night_by_hand(ibis_con: Any) -> None:
    times = ["2024-02-05 23:30", "2024-03-01 00:30", "2024-03-02 21:59", "2024-06-18 22:00", "2024-11-12 12:00",
             "2024-12-12 03:00", "2024-12-25 23:00", "2024-12-27 10:00"]
    o = _orders(times)
    h = ibis_con.execute(compute_habits(o)).iloc[0]
    # festivals: Feb 5 (Spring Festival 2024), Jun 18 (618), Dec 12 (Double 12); Nov 12 is after Double 11.
    assert h.share_festival_orders == pytest.approx(3 / 8)
    # night 22:00-01:59: Feb 5 23:30, Mar 1 00:30, Jun 18 22:00, Dec 25 23:00.
    assert h.share_night_orders == pytest.approx(4 / 8)
    # payday 10, days 10-14: Nov 12 and Dec 12.
    assert h.share_payday_orders == pytest.approx(2 / 8)
    # Paydays on the 25th and 28th, 5-day windows: Dec 25, Dec 27, Mar 1 (Feb 28 + 2 in 2024, a leap
    # year: Feb 29 is +1) and Mar 2 (+3); Feb 5 and Jun 18 are outside.
    custom = parse_settings({"paydays": [25, 28], "night_hours": [21, 23],
                             "festivals": [{"name": "年货节", "start": "2024-02-01", "end": "2024-02-05"}]})
    h2 = ibis_con.execute(compute_habits(o, custom)).iloc[0]
    assert h2.share_payday_orders == pytest.approx(4 / 8)
    assert h2.payday_lift == pytest.approx((4 / 8) / (8 / 30.44))  # windows cover days 25..29, 28..2 -> 8 days
    assert h2.share_festival_orders == pytest.approx(1 / 8)
    # night 21:00-22:59: Mar 2 21:59 and Jun 18 22:00.
    assert h2.share_night_orders == pytest.approx(2 / 8)
    assert h2.peak_month == 12 and h2.peak_hour == 23


def test_payday_expected_share() -> None:
    assert payday_expected_share([10], 5) == pytest.approx(5 / 30.44)
    assert payday_expected_share([10, 12], 5) == pytest.approx(7 / 30.44)  # 10..16


def test_lifecycle_thresholds(ibis_con: Any) -> None:
    f = ibis.memtable(pd.DataFrame({
        "orders_total": [0, 3, 3, 1, 4, 4, 4],
        "recency_days": [None, 400.0, 200.0, 10.0, 20.0, 20.0, 20.0],
        "T": [None, 500.0, 300.0, 10.0, 300.0, 300.0, 300.0],
        "orders_90d": [0, 0, 0, 1, 3, 1, 2],
        "orders_prev_90d": [0, 0, 0, 0, 1, 3, 2],
    }))
    got = ibis_con.execute(f.select(stage=lifecycle_stage(f)))["stage"].tolist()
    assert got == ["prospect", "lost", "sleeping", "new", "growing", "declining", "active"]
    strict = parse_settings({"lifecycle": {"sleeping_days": 100, "lost_days": 150, "new_days": 5}}).lifecycle
    got = ibis_con.execute(f.select(stage=lifecycle_stage(f, strict)))["stage"].tolist()
    assert got[1:4] == ["lost", "lost", "growing"]


def test_point_in_time_ignores_later_orders(ibis_con: Any) -> None:
    from huaxiang.features.rfm import compute_rfm

    o = _orders(["2024-01-01 10:00", "2024-01-05 10:00"]).mutate(net_amount=ibis.literal(10.0))
    early = o.filter(o.order_ts < datetime(2024, 1, 3))
    r = ibis_con.execute(compute_rfm(early, as_of=datetime(2024, 1, 3))).iloc[0]
    assert (r.orders_total, r.frequency, r["T"], r.recency_days) == (1, 0, 1.0, pytest.approx(2 - 10 / 24))
