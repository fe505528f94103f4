"""The ground truth written beside the shop (``ground_truth/``): which record is whose, the
persons with their planted habits, and the rows broken on purpose."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from huaxiang.datasets import _arrays as ar
from huaxiang.datasets._app import AppUsers
from huaxiang.datasets._crm import CrmMembers
from huaxiang.datasets._dirty import DEFECTS
from huaxiang.datasets._population import Calendar, Persons
from huaxiang.datasets._vocab import CITIES, TOPS

Arr = npt.NDArray[Any]


def records_table(crm: CrmMembers, app: AppUsers, pos_cards: Arr, person_id: pa.Array) -> pa.Table:
    """``records.csv``: the person behind every CRM record, app account and member card a receipt shows."""
    return pa.table(
        {
            "source": pa.concat_arrays(
                [
                    ar.strings(["crm"] * crm.n),
                    ar.strings(["app"] * app.n),
                    ar.strings(["pos"] * len(pos_cards)),
                ]
            ),
            "source_customer_id": pa.concat_arrays(
                [crm.member_id, app.user_id, crm.card.take(pa.array(pos_cards))]
            ),
            "person_id": pa.concat_arrays(
                [
                    person_id.take(pa.array(crm.person)),
                    person_id.take(pa.array(app.person)),
                    person_id.take(pa.array(crm.person[pos_cards])),
                ]
            ),
        }
    )


def persons_table(p: Persons, cal: Calendar, names: dict[str, pa.Array], person_id: pa.Array) -> pa.Table:
    """``persons.csv``: each real person's name, contacts and planted habits."""
    phones_e164 = ar.fixed_width(p.n, [b"+86", (p.phone, 11)])
    churn_date = ar.masked(ar.format_date(cal.day0 + p.end_day, b"-"), ~p.churned)
    return pa.table(
        {
            "person_id": person_id,
            "name": names["name"],
            "phone": phones_e164,
            "email": p.email,
            "city": ar.strings([c[1] for c in CITIES]).take(pa.array(p.city)),
            "birth_date": ar.format_date(p.birth, b"-"),
            "payday_shopper": pa.array(p.payday),
            "promotion_sensitive": pa.array(p.promo),
            "night_owl": pa.array(p.night),
            "high_price": pa.array(p.high),
            "loyal_repurchaser": pa.array(p.loyal),
            "churned_at": churn_date,
            "preferred_category": ar.strings([t[0] for t in TOPS]).take(pa.array(p.top_pref)),
        }
    )


def dirty_rows_table(crm_rows: Arr, pos_rows: Arr, pos_defects: Arr) -> pa.Table:
    """``dirty_rows.csv``: file, 1-based row number and defect of every row broken on purpose."""
    return pa.table(
        {
            "file": ar.strings(["crm_members.csv"] * len(crm_rows) + ["pos_orders.csv"] * len(pos_rows)),
            "row_number": pa.array(np.concatenate([crm_rows, pos_rows])),
            "defect": ar.strings(DEFECTS).take(
                pa.array(
                    np.concatenate([np.full(len(crm_rows), DEFECTS.index("exact_duplicate")), pos_defects])
                )
            ),
        }
    ).sort_by([("file", "ascending"), ("row_number", "ascending")])
