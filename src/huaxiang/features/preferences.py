"""What the person buys: category and brand preference, breadth, affinity and price tier.

Over purchased order lines (paid or pending orders) before ``as_of``; spend is quantity × unit price.

- ``top_category`` (the first level of the category path) by spend, ``top_category_share`` its share
  of the person's spend, ``category_breadth`` distinct first-level categories bought;
- ``top_category_affinity``: top_category_share over the whole population's share of spend in that
  category (1 = like everyone, 3 = three times the population's appetite);
- ``top_brand``/``top_brand_share`` likewise by spend;
- ``price_tier_index``: mean percentile (0–1) of the unit prices the person paid within each
  product's category; ``share_high_price_items``: share of lines at or above ``high_price_percentile``.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def compute_preferences(lines: ir.Table, *, high_price_percentile: float = 0.75) -> ir.Table:
    """One row per person from order lines with ``person_id``, ``category``, ``brand``, ``quantity``,
    ``unit_price`` (one row per purchased line)."""
    top_level = lines.category.split("/")[0]
    ln = lines.mutate(_cat=ibis.coalesce(top_level, ibis.literal("unknown")), _spend=lines.quantity * lines.unit_price)
    pct = ibis.percent_rank().over(group_by=ln._cat, order_by=ln.unit_price)
    ln = ln.mutate(_pct=pct)
    by_cat = ln.group_by(["person_id", "_cat"]).aggregate(spend=ln._spend.sum())
    w = ibis.window(group_by=by_cat.person_id, order_by=[ibis.desc(by_cat.spend), by_cat._cat])
    by_cat = by_cat.mutate(rank=ibis.row_number().over(w), total=by_cat.spend.sum().over(group_by=by_cat.person_id))
    top = by_cat.filter(by_cat["rank"] == 0)
    population = ln.group_by("_cat").aggregate(pop_spend=ln._spend.sum())
    population = population.mutate(pop_share=population.pop_spend / population.pop_spend.sum().over())
    top = top.left_join(population, "_cat")
    top = top.select(
        "person_id", top_category=top._cat,
        top_category_share=ibis.ifelse(top.total > 0, top.spend / top.total, ibis.null("float64")),
        top_category_affinity=ibis.ifelse(
            (top.total > 0) & (top.pop_share > 0), (top.spend / top.total) / top.pop_share, ibis.null("float64")
        ),
    )
    branded = ln.filter(ln.brand.notnull())
    by_brand = branded.group_by(["person_id", "brand"]).aggregate(spend=branded._spend.sum())
    wb = ibis.window(group_by=by_brand.person_id, order_by=[ibis.desc(by_brand.spend), by_brand.brand])
    by_brand = by_brand.mutate(rank=ibis.row_number().over(wb),
                               total=by_brand.spend.sum().over(group_by=by_brand.person_id))
    top_brand = by_brand.filter(by_brand["rank"] == 0).select(
        "person_id", top_brand=by_brand.brand,
        top_brand_share=ibis.ifelse(by_brand.total > 0, by_brand.spend / by_brand.total, ibis.null("float64")),
    )
    general = ln.group_by("person_id").aggregate(
        category_breadth=ln._cat.nunique(),
        price_tier_index=ln._pct.mean(),
        share_high_price_items=(ln._pct >= high_price_percentile).mean(),
    )
    out = general.left_join(top, "person_id").drop("person_id_right")
    return out.left_join(top_brand, "person_id").drop("person_id_right")
