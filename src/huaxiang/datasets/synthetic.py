"""Synthetic shop: a seeded, vectorised Chinese retail business with planted ground truth.

:func:`generate_shop` writes the scattered exports a real shop has — a CRM
member list, app accounts, a product catalogue, online and in-store orders
with their lines, web/app/mini-program behaviour events, service tickets,
reviews and campaign touches — plus ``ground_truth/`` telling which records
belong to which real person and which habits were planted on whom.

Everything is drawn with numpy from one seed (no per-customer Python loop), so
the same seed writes byte-identical files and a million customers are quick
to write (bench/README.md). The noise is the kind identity resolution and cleaning must survive:
phone numbers in six formats (sometimes full-width, sometimes the staff's
placeholder ``13800000000``), name typos (homophones, traditional characters,
full-width spaces), re-registered members with two CRM records, families
sharing one device, guests paying without a member card. A few rows are broken
on purpose (about 0.2 %, listed in ``ground_truth/dirty_rows.csv``): in
``pos_orders.csv`` unreadable timestamps, ``N/A`` totals, an unknown payment
label, negative totals on paid receipts, re-sent and re-rung receipts; in
``crm_members.csv`` exact duplicate rows. An ingest should quarantine exactly
those.

Planted habits (flags in ``ground_truth/persons.csv``) are only given to
persons with enough attributable orders (at least about 7 expected) to show
a habit at all: ``payday_shopper`` (orders on days 10–14 of the month),
``promotion_sensitive`` (discounted orders, deeper discounts, campaign
conversions), ``night_owl`` (orders and events between 22:00 and 02:00),
``high_price`` (items from the top price quartile of their category) and
``loyal_repurchaser`` (≥ 12 orders at a regular interval). ``churned_at``
marks active buyers who stop: nothing of theirs happens on or after it.

:func:`generate_shop` draws the world (:mod:`~huaxiang.datasets._population`: calendar,
catalogue, persons; :mod:`~huaxiang.datasets._orders`; :mod:`~huaxiang.datasets._events`) and
hands it to one writer module per source family: :mod:`~huaxiang.datasets._crm` (members,
tickets, campaign touches), :mod:`~huaxiang.datasets._app` (accounts, reviews),
:mod:`~huaxiang.datasets._sales` (online orders, store receipts), then
:mod:`~huaxiang.datasets._dirty` breaks rows on purpose and :mod:`~huaxiang.datasets._truth`
writes the ground truth.

Examples
--------
>>> import tempfile
>>> from huaxiang.datasets.synthetic import generate_shop
>>> with tempfile.TemporaryDirectory() as tmp:
...     summary = generate_shop(tmp, n_customers=1_000, seed=7)
>>> summary.rows["ground_truth/persons.csv"]
1000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from huaxiang.datasets import _arrays as ar
from huaxiang.datasets._app import app_users_table, register_app_users, reviews_table
from huaxiang.datasets._crm import (
    campaign_touches_table,
    crm_members_table,
    register_crm_members,
    service_tickets_frame,
)
from huaxiang.datasets._dirty import DEFECTS, plant_crm_duplicates, plant_pos_defects
from huaxiang.datasets._events import events_table, make_events
from huaxiang.datasets._files import write_csv, write_jsonl, write_parquet, write_xlsx
from huaxiang.datasets._orders import make_orders
from huaxiang.datasets._population import (
    PLACEHOLDER_PHONE,
    make_calendar,
    make_catalog,
    make_persons,
    person_names,
)
from huaxiang.datasets._sales import (
    OrderNumbers,
    online_items_table,
    online_orders_table,
    pos_items_table,
    pos_orders_table,
)
from huaxiang.datasets._truth import dirty_rows_table, persons_table, records_table

__all__ = ["DEFECTS", "FILES", "PLACEHOLDER_PHONE", "ShopSummary", "generate_shop", "main"]

FILES: tuple[str, ...] = (
    "crm_members.csv",
    "app_users.jsonl",
    "products.csv",
    "online_orders.parquet",
    "online_order_items.parquet",
    "pos_orders.csv",
    "pos_order_items.csv",
    "events.parquet",
    "service_tickets.xlsx",
    "reviews.jsonl",
    "campaign_touches.csv",
    "ground_truth/records.csv",
    "ground_truth/persons.csv",
    "ground_truth/dirty_rows.csv",
)
"""Every file :func:`generate_shop` writes, relative to ``out_dir``."""


@dataclass(frozen=True)
class ShopSummary:
    """What :func:`generate_shop` wrote.

    Attributes
    ----------
    out_dir : Path
        The folder the files are in.
    rows : Mapping[str, int]
        Data rows per file (header excluded), keyed by the path relative to ``out_dir``.
    seconds : float
        Wall-clock time of the generation.

    Examples
    --------
    >>> s = ShopSummary(Path("shop"), {"products.csv": 3}, 0.5)
    >>> s.rows["products.csv"]
    3
    """

    out_dir: Path
    rows: Mapping[str, int]
    seconds: float

    def __str__(self) -> str:
        lines = [f"synthetic shop in {self.out_dir} ({self.seconds:.1f} s)"]
        lines += [f"  {name:<32}{count:>12,}" for name, count in self.rows.items()]
        return "\n".join(lines)


def generate_shop(
    out_dir: str | Path,
    *,
    n_customers: int = 20_000,
    seed: int = 42,
    start: date = date(2024, 1, 1),
    end: date = date(2025, 12, 31),
) -> ShopSummary:
    """Write a synthetic Chinese retail shop with planted ground truth into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write into (created if missing; existing files are overwritten).
    n_customers : int, default 20_000
        Number of real persons. About 85 % have a CRM record, 60 % an app account;
        orders average about ten per person.
    seed : int, default 42
        The same seed writes byte-identical files.
    start, end : date
        First and last day of the order history (inclusive).

    Returns
    -------
    ShopSummary
        Rows written per file, the folder and the seconds taken.

    Raises
    ------
    ValueError
        If ``n_customers < 100`` or the window is shorter than 120 days.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     s = generate_shop(tmp, n_customers=500, seed=1)
    ...     sorted(s.rows) == sorted(FILES)
    True
    """
    t0 = time.perf_counter()
    if n_customers < 100:
        raise ValueError(f"n_customers={n_customers}: a synthetic shop needs at least 100 customers")
    if (end - start).days + 1 < 120:
        raise ValueError(f"start={start}, end={end}: the window must cover at least 120 days")
    out = Path(out_dir)
    (out / "ground_truth").mkdir(parents=True, exist_ok=True)
    # one generator per part, so a part draws the same numbers whatever the others draw
    (
        rng_catalog,
        rng_persons,
        rng_crm,
        rng_orders,
        rng_app,
        rng_events,
        rng_crm_rows,
        rng_unionid,
        rng_app_rows,
        rng_service,
        rng_touches,
        rng_dirty,
    ) = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(12))
    rows: dict[str, int] = {}

    # the world: calendar, catalogue, people, their accounts, orders and behaviour
    cal = make_calendar(start, end)
    n = n_customers
    n_stores = int(np.clip(n // 400, 12, 600))
    cat = make_catalog(rng_catalog, n)
    p = make_persons(rng_persons, n, cal, n_stores)
    names = person_names(p)
    person_id = ar.ids("P", np.arange(1, n + 1), 7)
    crm = register_crm_members(rng_crm, p, cal)
    orders = make_orders(
        rng_orders, p, cal, cat, crm.primary_row, crm.second_row, crm.second_registered, n_stores
    )
    app = register_app_users(rng_app, p, cal)
    ev = make_events(rng_events, p, cal, cat, orders, app.row_of_person, app.device_of_account)
    # a person's WeChat unionid, the same in the CRM and the app
    unionid = ar.join(
        "o",
        ar.random_tokens(
            rng_unionid, n, 27, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        ),
    )

    # the catalogue and the CRM family
    rows["products.csv"] = write_csv(cat.table, out / "products.csv")
    crm_rows = crm_members_table(rng_crm_rows, p, names, crm, unionid)
    crm_rows, crm_dirty = plant_crm_duplicates(rng_dirty, crm_rows)
    rows["crm_members.csv"] = write_csv(crm_rows, out / "crm_members.csv")

    # the app, then the sales online and in the stores (one generator, in this order)
    rows["app_users.jsonl"] = write_jsonl(
        app_users_table(rng_app_rows, p, app, unionid), out / "app_users.jsonl"
    )
    numbers = OrderNumbers.of(orders)
    rows["online_orders.parquet"] = write_parquet(
        online_orders_table(rng_app_rows, orders, numbers, app),
        out / "online_orders.parquet",
        ("platform", "pay_type", "status"),
    )
    rows["online_order_items.parquet"] = write_parquet(
        online_items_table(orders, numbers, cat), out / "online_order_items.parquet", ("sku",)
    )
    st_idx = numbers.store
    pos_tbl, pos_intact, pos_dirty, pos_defect = plant_pos_defects(
        rng_dirty,
        pos_orders_table(rng_app_rows, cal, orders, numbers, crm.card),
        orders.ts[st_idx],
        orders.amount[st_idx],
        orders.status[st_idx] == 0,
    )
    rows["pos_orders.csv"] = write_csv(pos_tbl, out / "pos_orders.csv")
    rows["pos_order_items.csv"] = write_csv(
        pos_items_table(orders, numbers, cat), out / "pos_order_items.csv"
    )

    # behaviour events
    rows["events.parquet"] = write_parquet(
        events_table(ev, cat, app, numbers),
        out / "events.parquet",
        ("anonymous_id", "user_id", "event", "channel", "sku"),
    )
    del ev  # the largest arrays of the run: free them before the rest

    # service tickets and reviews (one generator, in this order), campaign touches
    tickets = service_tickets_frame(rng_service, p, cal, crm)
    rows["service_tickets.xlsx"] = write_xlsx(tickets, out / "service_tickets.xlsx", "tickets")
    reviews = reviews_table(rng_service, p, cal, orders, app, numbers.online)
    rows["reviews.jsonl"] = write_jsonl(reviews, out / "reviews.jsonl")
    touches = campaign_touches_table(rng_touches, p, cal, crm)
    rows["campaign_touches.csv"] = write_csv(touches, out / "campaign_touches.csv")

    # ground truth; a card seen only on damaged receipts never loads: it is no record of the truth
    shown = orders.card_row[st_idx][pos_intact]
    pos_cards = np.unique(shown[shown >= 0])
    truth = out / "ground_truth"
    rows["ground_truth/records.csv"] = write_csv(
        records_table(crm, app, pos_cards, person_id), truth / "records.csv"
    )
    rows["ground_truth/persons.csv"] = write_csv(
        persons_table(p, cal, names, person_id), truth / "persons.csv"
    )
    rows["ground_truth/dirty_rows.csv"] = write_csv(
        dirty_rows_table(crm_dirty, pos_dirty, pos_defect), truth / "dirty_rows.csv"
    )
    return ShopSummary(out, {f: rows[f] for f in FILES}, time.perf_counter() - t0)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m huaxiang.datasets.synthetic OUT --customers N --seed S``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     main([tmp, "--customers", "300"])
    0
    """
    parser = argparse.ArgumentParser(description="Write a synthetic Chinese retail shop with ground truth.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2025, 12, 31))
    args = parser.parse_args(argv)
    summary = generate_shop(
        args.out, n_customers=args.customers, seed=args.seed, start=args.start, end=args.end
    )
    if argv is None:
        print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
