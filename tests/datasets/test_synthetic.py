"""Tests of the synthetic shop generator against its own planted ground truth."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from huaxiang.datasets.synthetic import FILES, PLACEHOLDER_PHONE, ShopSummary, generate_shop, main

N = 2_000
SEED = 11

COLUMNS = {
    "crm_members.csv": [
        "会员编号",
        "姓名",
        "性别",
        "出生日期",
        "手机号",
        "邮箱",
        "省份",
        "城市",
        "职业",
        "会员等级",
        "注册时间",
        "会员卡号",
        "unionid",
        "营销同意",
    ],
    "app_users.jsonl": [
        "user_id",
        "phone",
        "email",
        "wechat_openid",
        "wechat_unionid",
        "device_id",
        "nickname",
        "registered_at",
        "signup_channel",
    ],
    "products.csv": ["sku", "name", "category", "brand", "list_price"],
    "online_orders.parquet": [
        "order_id",
        "user_id",
        "order_time",
        "pay_amount",
        "discount",
        "coupon_id",
        "platform",
        "pay_type",
        "status",
    ],
    "online_order_items.parquet": ["order_id", "line_no", "sku", "qty", "price"],
    "pos_orders.csv": [
        "receipt_no",
        "store_id",
        "member_card",
        "ts",
        "total",
        "discount",
        "promo_code",
        "payment",
        "status",
    ],
    "pos_order_items.csv": ["receipt_no", "line_no", "sku", "qty", "price"],
    "events.parquet": [
        "event_id",
        "anonymous_id",
        "user_id",
        "ts",
        "event",
        "channel",
        "session_id",
        "sku",
        "order_id",
    ],
    "service_tickets.xlsx": ["工单号", "会员编号", "创建时间", "类型", "满意度", "内容"],
    "reviews.jsonl": ["review_id", "user_id", "ts", "rating", "text"],
    "campaign_touches.csv": ["touch_id", "member_id", "campaign_id", "ts", "action"],
    "ground_truth/records.csv": ["source", "source_customer_id", "person_id"],
    "ground_truth/persons.csv": [
        "person_id",
        "name",
        "phone",
        "email",
        "city",
        "birth_date",
        "payday_shopper",
        "promotion_sensitive",
        "night_owl",
        "high_price",
        "loyal_repurchaser",
        "churned_at",
        "preferred_category",
    ],
    "ground_truth/dirty_rows.csv": ["file", "row_number", "defect"],
}
DIRTY_FILES = ("pos_orders.csv", "crm_members.csv")


def read(root: Path, name: str) -> pd.DataFrame:
    path = root / name
    if name.endswith(".csv"):
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    if name.endswith(".parquet"):
        return pd.read_parquet(path)
    if name.endswith(".jsonl"):
        return pd.read_json(path, lines=True, dtype=False, convert_dates=False)
    return pd.read_excel(path, sheet_name="tickets", dtype={"工单号": str, "会员编号": str})


class Shop:
    """The generated files, loaded once, plus the orders attributed to persons via the ground truth.

    ``t`` holds the files without their planted dirty rows (``ground_truth/dirty_rows.csv``), so
    habits and truth are checked on what a careful ingest loads; ``raw`` holds them as written.
    """

    def __init__(self, root: Path, summary: ShopSummary) -> None:
        self.root = root
        self.summary = summary
        self.raw = {name: read(root, name) for name in FILES}
        self.dirty = self.raw["ground_truth/dirty_rows.csv"].astype({"row_number": int})
        self.t = dict(self.raw)
        for name in DIRTY_FILES:
            bad = self.dirty.row_number[self.dirty.file == name] - 1
            self.t[name] = self.raw[name].drop(index=bad).reset_index(drop=True)
        rec = self.t["ground_truth/records.csv"]
        self.persons = self.t["ground_truth/persons.csv"].set_index("person_id")
        for col in ("payday_shopper", "promotion_sensitive", "night_owl", "high_price", "loyal_repurchaser"):
            self.persons[col] = self.persons[col] == "true"
        app_map = rec[rec.source == "app"].set_index("source_customer_id").person_id
        card_map = rec[rec.source == "pos"].set_index("source_customer_id").person_id
        on = self.t["online_orders.parquet"]
        pos = self.t["pos_orders.csv"]
        online = pd.DataFrame(
            {
                "order_id": on.order_id,
                "person_id": on.user_id.map(app_map),
                "ts": pd.to_datetime(on.order_time),
                "discount": on.discount.astype(float),
            }
        )
        store = pd.DataFrame(
            {
                "order_id": pos.receipt_no,
                "person_id": pos.member_card.map(card_map),
                "ts": pd.to_datetime(pos.ts),
                "discount": pos.discount.astype(float),
            }
        )
        self.orders = pd.concat([online, store[pos.member_card.notna()]], ignore_index=True)
        items_on = self.t["online_order_items.parquet"][["order_id", "sku"]]
        items_st = self.t["pos_order_items.csv"].rename(columns={"receipt_no": "order_id"})[
            ["order_id", "sku"]
        ]
        self.items = pd.concat([items_on, items_st], ignore_index=True).merge(
            self.orders[["order_id", "person_id"]], on="order_id"
        )
        self.n_orders = self.orders.groupby("person_id").size().reindex(self.persons.index, fill_value=0)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    root = tmp_path_factory.mktemp("shop")
    summary = generate_shop(root, n_customers=N, seed=SEED)
    return Shop(root, summary)


def checksums(root: Path) -> dict[str, str]:
    return {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in FILES}


def precision_recall(predicted: pd.Series, truth: pd.Series) -> tuple[float, float]:
    tp = int((predicted & truth).sum())
    return tp / max(int(predicted.sum()), 1), tp / max(int(truth.sum()), 1)


# ---------------------------------------------------------------- files and columns


def test_every_file_has_the_documented_columns(shop: Shop) -> None:
    assert set(COLUMNS) == set(FILES)
    for name, columns in COLUMNS.items():
        assert list(shop.t[name].columns) == columns, name


def test_dirty_rows_are_a_small_share_of_every_kind(shop: Shop) -> None:
    dirty = shop.dirty
    assert set(dirty.file) == set(DIRTY_FILES)
    for name in DIRTY_FILES:
        rows = dirty.row_number[dirty.file == name]
        assert rows.is_unique and rows.between(1, len(shop.raw[name])).all()
        assert len(rows) <= max(0.004 * len(shop.raw[name]), 40)
    kinds = dirty[dirty.file == "pos_orders.csv"].defect.value_counts()
    assert kinds.min() >= 5 and len(kinds) == 6
    pos = shop.raw["pos_orders.csv"].assign(row_number=lambda d: d.index + 1).merge(dirty, on="row_number")
    pos = pos[pos.file == "pos_orders.csv"].set_index("defect")
    assert (
        pd.to_datetime(pos.ts["unreadable_timestamp"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
        .isna()
        .all()
    )
    assert (pos.total["text_in_total"] == "N/A").all()
    assert (pos.payment["unknown_payment"] == "数字人民币").all()
    assert (pos.total["negative_total"].astype(float) < 0).all() and (
        pos.status["negative_total"] == "paid"
    ).all()
    clean = shop.t["pos_orders.csv"]
    assert set(pos.receipt_no["duplicate_key"]) <= set(clean.receipt_no)
    raw = shop.raw["pos_orders.csv"]
    assert raw.duplicated().sum() == kinds["exact_duplicate"]
    assert shop.raw["crm_members.csv"].duplicated().sum() == (dirty.file == "crm_members.csv").sum()


def test_summary_counts_rows_written(shop: Shop) -> None:
    assert set(shop.summary.rows) == set(FILES)
    for name in FILES:
        assert shop.summary.rows[name] == len(shop.raw[name]), name
    assert shop.summary.rows["ground_truth/persons.csv"] == N
    assert shop.summary.seconds > 0
    assert shop.summary.out_dir == shop.root


def test_same_seed_writes_identical_files(shop: Shop, tmp_path: Path) -> None:
    generate_shop(tmp_path, n_customers=N, seed=SEED)
    assert checksums(tmp_path) == checksums(shop.root)


def test_different_seed_writes_different_files(shop: Shop, tmp_path: Path) -> None:
    generate_shop(tmp_path, n_customers=N, seed=SEED + 1)
    ours, theirs = checksums(shop.root), checksums(tmp_path)
    assert all(ours[name] != theirs[name] for name in FILES if True)


def test_rejects_tiny_shops(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 100 customers"):
        generate_shop(tmp_path, n_customers=10)
    with pytest.raises(ValueError, match="at least 120 days"):
        generate_shop(tmp_path, n_customers=500, start=date(2024, 1, 1), end=date(2024, 2, 1))


def test_command_line_writes_a_shop(tmp_path: Path) -> None:
    assert main([str(tmp_path / "cli"), "--customers", "300", "--seed", "3"]) == 0
    persons = pd.read_csv(tmp_path / "cli" / "ground_truth" / "persons.csv")
    assert len(persons) == 300


# ---------------------------------------------------------------- referential integrity


def test_referential_integrity(shop: Shop) -> None:
    t = shop.t
    crm, app, on, pos = (
        t["crm_members.csv"],
        t["app_users.jsonl"],
        t["online_orders.parquet"],
        t["pos_orders.csv"],
    )
    skus = set(t["products.csv"].sku)
    assert t["products.csv"].sku.is_unique and crm["会员编号"].is_unique and crm["会员卡号"].is_unique
    assert app.user_id.is_unique and on.order_id.is_unique and pos.receipt_no.is_unique
    assert set(t["online_order_items.parquet"].order_id) == set(on.order_id)
    # the lines of a damaged receipt stay (the receipt itself is quarantined at ingest)
    assert set(t["pos_order_items.csv"].receipt_no) == set(shop.raw["pos_orders.csv"].receipt_no)
    assert set(t["online_order_items.parquet"].sku) <= skus
    assert set(t["pos_order_items.csv"].sku) <= skus
    assert set(on.user_id) <= set(app.user_id)
    assert set(pos.member_card.dropna()) <= set(crm["会员卡号"])
    ev = t["events.parquet"]
    assert set(ev.order_id.dropna()) <= set(on.order_id)
    assert set(ev.user_id.dropna()) <= set(app.user_id)
    assert set(ev.anonymous_id) <= set(app.device_id)
    assert set(ev.sku.dropna()) <= skus
    assert ev.event_id.is_unique
    assert set(t["campaign_touches.csv"].member_id) <= set(crm["会员编号"])
    assert set(t["service_tickets.xlsx"]["会员编号"]) <= set(crm["会员编号"])
    assert set(t["reviews.jsonl"].user_id) <= set(app.user_id)
    for lines in (t["online_order_items.parquet"], t["pos_order_items.csv"]):
        key = lines.columns[0]
        line_no = lines.line_no.astype(int)
        assert (line_no.groupby(lines[key]).max() == lines.groupby(key).size()).all()


def test_order_amounts_are_lines_minus_discount(shop: Shop) -> None:
    for orders, items, key, amount in (
        ("online_orders.parquet", "online_order_items.parquet", "order_id", "pay_amount"),
        ("pos_orders.csv", "pos_order_items.csv", "receipt_no", "total"),
    ):
        o = shop.t[orders].set_index(key)
        it = shop.t[items]
        gross = (it.qty.astype(float) * it.price.astype(float)).groupby(it[key]).sum()
        diff = gross.reindex(o.index) - o.discount.astype(float) - o[amount].astype(float)
        assert diff.abs().max() < 0.011, orders
        assert (o.discount.astype(float) >= 0).all()


def test_every_online_order_has_its_events(shop: Shop) -> None:
    on = shop.t["online_orders.parquet"].set_index("order_id")
    ev = shop.t["events.parquet"]
    for event, expected in (
        ("Order Completed", on.index),
        ("Payment Completed", on.index[on.status.isin(["已支付", "已退款"])]),
        ("Return Requested", on.index[on.status == "已退款"]),
    ):
        got = ev.order_id[ev.event == event]
        assert got.is_unique and set(got) == set(expected), event
    oc = ev[ev.event == "Order Completed"].set_index("order_id").ts
    assert (oc.reindex(on.index) == on.order_time).all()
    assert set(ev.event) == {
        "Page Viewed",
        "Products Searched",
        "Product Viewed",
        "Product Added",
        "Product Added to Wishlist",
        "Checkout Started",
        "Order Completed",
        "Payment Completed",
        "Return Requested",
    }
    assert 5 <= len(ev) / len(on) <= 10


def test_sessions_funnel_down_and_dwell(shop: Shop) -> None:
    ev = shop.t["events.parquet"].sort_values(["session_id", "ts"])
    kinds = ev.groupby("session_id").event.agg(set)
    view_only = kinds.map(lambda s: s <= {"Page Viewed", "Products Searched", "Product Viewed"})
    assert view_only.mean() > 0.5
    checkout = kinds.map(lambda s: "Checkout Started" in s).sum()
    ordered = kinds.map(lambda s: "Order Completed" in s).sum()
    added = kinds.map(lambda s: "Product Added" in s).sum()
    assert added > checkout > ordered > 0
    span = ev.groupby("session_id").ts.agg(lambda s: (s.max() - s.min()).total_seconds())
    assert span.median() < 15 * 60


def test_anonymous_events_precede_login_in_a_session(shop: Shop) -> None:
    ev = shop.t["events.parquet"].sort_values(["session_id", "ts", "event_id"])
    ev = ev[ev.session_id.isin(ev.session_id[ev.event == "Order Completed"])]
    logged = ev.user_id.notna().astype(int)
    # once a session has a user_id it keeps it
    assert (logged.groupby(ev.session_id).diff().fillna(0) >= 0).all()
    assert ev.user_id.isna().any()
    assert ev.user_id[ev.event == "Checkout Started"].notna().all()


# ---------------------------------------------------------------- ground truth and noise


def test_ground_truth_covers_every_record(shop: Shop) -> None:
    rec = shop.t["ground_truth/records.csv"]
    assert not rec.duplicated(["source", "source_customer_id"]).any()
    assert set(rec.source_customer_id[rec.source == "crm"]) == set(shop.t["crm_members.csv"]["会员编号"])
    assert set(rec.source_customer_id[rec.source == "app"]) == set(shop.t["app_users.jsonl"].user_id)
    assert set(rec.source_customer_id[rec.source == "pos"]) == set(
        shop.t["pos_orders.csv"].member_card.dropna()
    )
    assert set(rec.person_id) <= set(shop.persons.index)
    assert shop.persons.index.is_unique and len(shop.persons) == N
    guests = shop.t["pos_orders.csv"].member_card.isna().mean()
    assert 0.08 <= guests <= 0.22
    # a card belongs to the same person as the CRM record that carries it
    crm = shop.t["crm_members.csv"].set_index("会员卡号")["会员编号"]
    by_id = rec[rec.source == "crm"].set_index("source_customer_id").person_id
    pos_rec = rec[rec.source == "pos"].set_index("source_customer_id").person_id
    assert (pos_rec == crm.reindex(pos_rec.index).map(by_id)).all()


def digits(phone: pd.Series) -> pd.Series:
    wide = str.maketrans("０１２３４５６７８９", "0123456789")
    d = phone.fillna("").map(lambda s: "".join(ch for ch in s.translate(wide) if ch.isdigit()))
    return d.str[-11:]


def test_crm_noise_is_planted_at_the_stated_rates(shop: Shop) -> None:
    crm = shop.t["crm_members.csv"]
    rec = shop.t["ground_truth/records.csv"]
    person = crm["会员编号"].map(rec[rec.source == "crm"].set_index("source_customer_id").person_id)
    truth = shop.persons.reindex(person)
    per_person = person.value_counts()
    assert 0.80 <= len(per_person) / N <= 0.90  # ~85 % have a CRM record
    assert 0.01 <= (per_person == 2).sum() / N <= 0.03  # ~2 % registered twice
    typo = crm["姓名"].to_numpy() != truth.name.to_numpy()
    assert 0.02 <= typo.mean() <= 0.07
    assert crm["姓名"].str.contains("\u3000").any()
    phone = crm["手机号"]
    assert 0.003 <= (phone == PLACEHOLDER_PHONE).mean() <= 0.012
    assert 0.03 <= phone.isna().mean() <= 0.08
    real = phone.notna() & (phone != PLACEHOLDER_PHONE)
    assert (digits(phone[real]).to_numpy() == truth.phone[real.to_numpy()].str[-11:].to_numpy()).all()
    assert phone[real].str.fullmatch(r"\d{11}").mean() < 0.7  # many formats
    assert phone.str.contains("[０-９]", na=False).any()
    assert 0.3 <= crm["邮箱"].isna().mean() <= 0.5
    email = crm["邮箱"].dropna()
    assert (email != email.str.strip().str.lower()).mean() > 0.05
    assert 0.07 <= crm["出生日期"].isna().mean() <= 0.13
    assert crm["出生日期"].dropna().str.fullmatch(r"\d{4}/\d{2}/\d{2}").all()
    assert 0.4 <= crm["unionid"].isna().mean() <= 0.6
    assert set(crm["性别"].dropna()) == {"男", "女", "M", "F"}


def test_app_accounts_share_unionids_and_family_devices(shop: Shop) -> None:
    app = shop.t["app_users.jsonl"]
    crm = shop.t["crm_members.csv"]
    rec = shop.t["ground_truth/records.csv"]
    assert 0.55 <= len(app) / N <= 0.65
    pid = rec.set_index(["source", "source_customer_id"]).person_id
    app_person = app.user_id.map(pid.loc["app"])
    crm_person = crm["会员编号"].map(pid.loc["crm"])
    union_app = pd.Series(app_person.to_numpy(), index=app.wechat_unionid).dropna()
    union_crm = pd.Series(crm_person.to_numpy(), index=crm["unionid"]).dropna()
    shared = union_app.index.intersection(union_crm.index)
    assert len(shared) > 0.1 * len(app)
    assert (union_app[shared].groupby(level=0).first() == union_crm[shared].groupby(level=0).first()).all()
    users_per_device = app.groupby("device_id").user_id.nunique()
    assert 0.015 <= (users_per_device >= 2).mean() <= 0.05
    assert users_per_device.max() <= 3
    family = app.device_id.map(users_per_device) >= 2
    assert app_person[family].groupby(app.device_id[family]).nunique().min() >= 2
    assert app.registered_at.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00").all()


# ---------------------------------------------------------------- planted habits


def eligible(shop: Shop) -> pd.Index:
    return shop.n_orders.index[shop.n_orders >= 6]


def test_payday_shoppers_buy_on_days_10_to_14(shop: Shop) -> None:
    o = shop.orders
    share = o.ts.dt.day.between(10, 14).groupby(o.person_id).mean()
    idx = eligible(shop)
    truth = shop.persons.payday_shopper.reindex(idx)
    assert truth.sum() >= 30
    assert share[idx][truth].mean() >= 0.65
    assert 0.12 <= share[idx][~truth].mean() <= 0.22
    precision, recall = precision_recall(share[idx] >= 0.5, truth)
    assert precision >= 0.9 and recall >= 0.9


def test_promotion_sensitive_persons_use_discounts(shop: Shop) -> None:
    o = shop.orders
    share = (o.discount > 0).groupby(o.person_id).mean()
    idx = eligible(shop)
    truth = shop.persons.promotion_sensitive.reindex(idx)
    assert share[idx][truth].mean() >= 0.7
    assert share[idx][~truth].mean() <= 0.2
    precision, recall = precision_recall(share[idx] >= 0.5, truth)
    assert precision >= 0.9 and recall >= 0.9
    # and they convert on campaigns much more
    touches = shop.t["campaign_touches.csv"]
    rec = shop.t["ground_truth/records.csv"]
    person = touches.member_id.map(rec[rec.source == "crm"].set_index("source_customer_id").person_id)
    promo = person.map(shop.persons.promotion_sensitive)
    sent = touches.action == "sent"
    conv = touches.action == "converted"
    rate_promo = conv[promo].sum() / sent[promo].sum()
    rate_other = conv[~promo].sum() / sent[~promo].sum()
    assert rate_promo > 4 * rate_other


def test_campaign_funnel_is_nested(shop: Shop) -> None:
    touches = shop.t["campaign_touches.csv"]
    steps = ["sent", "opened", "clicked", "converted"]
    keys = {
        a: set(zip(*(touches[touches.action == a][c] for c in ("member_id", "campaign_id")), strict=True))
        for a in steps
    }
    for wider, narrower in itertools.pairwise(steps):
        assert keys[narrower] <= keys[wider] and len(keys[narrower]) < len(keys[wider])


def test_night_owls_order_and_browse_late(shop: Shop) -> None:
    o = shop.orders
    late = (o.ts.dt.hour >= 22) | (o.ts.dt.hour < 2)
    share = late.groupby(o.person_id).mean()
    idx = eligible(shop)
    truth = shop.persons.night_owl.reindex(idx)
    assert share[idx][truth].mean() >= 0.6
    precision, recall = precision_recall(share[idx] >= 0.5, truth)
    assert precision >= 0.9 and recall >= 0.9
    ev = shop.t["events.parquet"]
    rec = shop.t["ground_truth/records.csv"]
    person = ev.user_id.map(rec[rec.source == "app"].set_index("source_customer_id").person_id)
    ev_late = ((ev.ts.dt.hour >= 22) | (ev.ts.dt.hour < 2)).groupby(person).mean()
    owls = shop.persons.index[shop.persons.night_owl].intersection(ev_late.index)
    assert ev_late[owls].mean() >= 0.6
    assert ev_late.drop(owls).mean() <= 0.2


def test_high_price_persons_buy_the_top_quartile(shop: Shop) -> None:
    products = shop.t["products.csv"]
    price = products.list_price.astype(float)
    leaf = products.category
    top_q = price >= price.groupby(leaf).transform(lambda s: s.quantile(0.75))
    it = shop.items.assign(top=shop.items.sku.map(pd.Series(top_q.to_numpy(), index=products.sku)))
    share = it.top.groupby(it.person_id).mean()
    idx = eligible(shop)
    truth = shop.persons.high_price.reindex(idx)
    assert share[idx][truth].mean() >= 0.7
    assert share[idx][~truth].mean() <= 0.2
    precision, recall = precision_recall(share[idx] >= 0.45, truth)
    assert precision >= 0.9 and recall >= 0.9


def test_loyal_repurchasers_buy_regularly(shop: Shop) -> None:
    o = shop.orders.sort_values("ts")
    gaps = o.groupby("person_id").ts.diff().dt.total_seconds() / 86400
    cv = gaps.groupby(o.person_id).std() / gaps.groupby(o.person_id).mean()
    n = shop.n_orders
    truth = shop.persons.loyal_repurchaser
    assert truth.mean() >= 0.06
    assert (n[truth] >= 12).all()
    predicted = (n >= 12) & (cv.reindex(n.index) < 0.5)
    precision, recall = precision_recall(predicted, truth)
    assert precision >= 0.9 and recall >= 0.9


def test_churned_persons_stop_and_the_others_keep_buying(shop: Shop) -> None:
    churned_at = pd.to_datetime(shop.persons.churned_at)
    assert 0.10 <= churned_at.notna().mean() <= 0.20
    assert churned_at.min() >= pd.Timestamp("2025-12-31") - pd.Timedelta(days=275)
    o = shop.orders.assign(churned_at=shop.orders.person_id.map(churned_at))
    assert not (o.ts >= o.churned_at).any()
    before = o[o.churned_at.notna()].groupby("person_id").size()
    attributable = churned_at.dropna().index.intersection(before.index)
    assert (before[attributable] >= 3).mean() > 0.95
    ev = shop.t["events.parquet"]
    rec = shop.t["ground_truth/records.csv"]
    ev_person = ev.user_id.map(rec[rec.source == "app"].set_index("source_customer_id").person_id)
    assert not (ev.ts >= ev_person.map(churned_at)).any()
    last = o.groupby("person_id").ts.max()
    heavy = shop.n_orders.index[(shop.n_orders >= 20) & churned_at.isna()]
    assert (last[heavy] >= pd.Timestamp("2025-12-31") - pd.Timedelta(days=120)).mean() >= 0.9


def test_preferred_category_dominates_items(shop: Shop) -> None:
    products = shop.t["products.csv"].set_index("sku")
    top = shop.items.sku.map(products.category.str.split("/").str[0])
    pref = shop.items.person_id.map(shop.persons.preferred_category)
    share = (top == pref).groupby(shop.items.person_id).mean()
    idx = eligible(shop)
    assert share[idx].mean() >= 0.6
    assert (share[idx] >= 0.4).mean() >= 0.9
    assert shop.t["products.csv"].category.str.split("/").str[0].nunique() == 8
    assert 35 <= shop.t["products.csv"].category.nunique() <= 45


def test_calendar_has_festival_spikes_and_daily_peaks(shop: Shop) -> None:
    ts = pd.concat([shop.t["online_orders.parquet"].order_time, pd.to_datetime(shop.t["pos_orders.csv"].ts)])
    per_day = ts.dt.normalize().value_counts()
    median = per_day.median()
    assert per_day[pd.Timestamp("2024-11-11")] > 3 * median
    assert per_day[pd.Timestamp("2025-06-18")] > 2 * median
    hours = ts.dt.hour.value_counts()
    assert hours[12] > hours[15] and hours[20] > hours[16] and hours[4] < hours[12] / 10


def test_jsonl_is_one_object_per_line(shop: Shop) -> None:
    for name in ("app_users.jsonl", "reviews.jsonl"):
        lines = (shop.root / name).read_text(encoding="utf-8").splitlines()
        assert len(lines) == shop.summary.rows[name]
        assert all(isinstance(json.loads(line), dict) for line in lines[:200])
    reviews = shop.t["reviews.jsonl"]
    assert reviews.rating.between(1, 5).all()


def test_tickets_are_small_and_well_formed(shop: Shop) -> None:
    tickets = shop.t["service_tickets.xlsx"]
    assert 0 < len(tickets) <= 20_000
    assert set(tickets["类型"]) <= {"投诉", "咨询", "退换货"}
    sat = tickets["满意度"].dropna()
    assert sat.between(1, 5).all() and tickets["满意度"].isna().any()
    assert np.issubdtype(tickets["创建时间"].dtype, np.datetime64)


@pytest.mark.slow
def test_generates_100k_customers_quickly(tmp_path: Path) -> None:
    summary = generate_shop(tmp_path, n_customers=100_000, seed=1)
    assert summary.rows["ground_truth/persons.csv"] == 100_000
    assert summary.seconds < 120  # ~10 s on an idle 2-core machine


def test_named_codes_follow_the_vocabulary() -> None:
    """The names that replaced the generator's bare codes point at the labels they stand for."""
    from huaxiang.datasets._crm import GENDER_LABELS, LEVEL_ORDERS
    from huaxiang.datasets._events import Event
    from huaxiang.datasets._vocab import EVENTS, LEVELS

    labels = {Event.PAGE_VIEWED: "Page Viewed", Event.PRODUCTS_SEARCHED: "Products Searched",
              Event.PRODUCT_VIEWED: "Product Viewed", Event.PRODUCT_ADDED: "Product Added",
              Event.ADDED_TO_WISHLIST: "Product Added to Wishlist", Event.CHECKOUT_STARTED: "Checkout Started",
              Event.ORDER_COMPLETED: "Order Completed", Event.PAYMENT_COMPLETED: "Payment Completed",
              Event.RETURN_REQUESTED: "Return Requested"}
    assert {e: EVENTS[e] for e in Event} == labels and len(Event) == len(EVENTS)
    assert GENDER_LABELS[:2] == ("男", "女") and len(LEVEL_ORDERS) == len(LEVELS) - 1
