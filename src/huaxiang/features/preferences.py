"""What the person buys: category and brand preference, breadth, affinity and price tier.

Over purchased order lines (lines of purchases, see :func:`huaxiang.features.persons.person_orders`)
before ``as_of``; a line's spend is quantity × unit price; a category is the first level of the
product's category path (``unknown`` when the product has none).

- ``top_category`` by spend (ties: the smaller name), ``top_category_share`` its share of the
  person's line spend, ``category_breadth`` distinct categories bought;
- ``top_category_by_count``: the category of most lines;
- ``top_category_affinity``: top_category_share over the population's share of spend in that
  category (1 = like everyone, 3 = three times the population's appetite);
- ``top_brand``/``top_brand_share`` likewise by spend, over branded lines;
- ``price_tier_index``: mean percentile (0–1, ``percent_rank`` over all purchased lines) of the unit
  prices the person paid within their product's full category path (a bottle of wine is compared
  with wines, not with water); ``share_high_price_items``: share of lines at or above
  ``high_price_percentile``.

Population figures (category shares, price percentiles) use every purchased line before ``as_of``,
guest orders included, so a person's values do not depend on which other persons are computed.
:func:`category_preferences` keeps one row per person and category (table ``person_category_pref``).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def price_lines(lines: ir.Table) -> ir.Table:
    """Add ``category`` (first level), ``spend`` and ``price_pct`` (unit-price percentile within the
    full category path, over all given lines) to order lines with ``person_id`` (NULL for guests)."""
    top_level = lines.category.split("/")[0]
    ln = lines.mutate(category=ibis.coalesce(top_level, ibis.literal("unknown")),
                      _path=ibis.coalesce(lines.category, ibis.literal("unknown")),
                      spend=(lines.quantity * lines.unit_price).cast("float64"))
    pct = ibis.percent_rank().over(group_by=ln._path, order_by=ln.unit_price)
    return ln.mutate(price_pct=pct.cast("float64")).drop("_path")


def category_preferences(priced: ir.Table) -> ir.Table:
    """One row per person and category: spend, lines, share of the person's spend, rank (1 = top
    by spend) and affinity (share over the population's share), from :func:`price_lines` rows."""
    population = priced.group_by("category").aggregate(pop_spend=priced.spend.sum())
    population = population.mutate(pop_share=population.pop_spend / population.pop_spend.sum().over())
    mine = priced.filter(priced.person_id.notnull())
    by_cat = mine.group_by(["person_id", "category"]).aggregate(spend=mine.spend.sum(), lines=mine.count())
    w = ibis.window(group_by=by_cat.person_id, order_by=[ibis.desc(by_cat.spend), by_cat.category])
    by_cat = by_cat.mutate(rank=ibis.row_number().over(w) + 1,
                           total=by_cat.spend.sum().over(group_by=by_cat.person_id))
    by_cat = by_cat.left_join(population, "category").drop("category_right")
    share = ibis.ifelse(by_cat.total > 0, by_cat.spend / by_cat.total, ibis.null("float64"))
    return by_cat.select(
        "person_id", "category", "spend", "lines", "rank", share=share,
        affinity=ibis.ifelse(by_cat.pop_share > 0, share / by_cat.pop_share, ibis.null("float64")),
    )


def compute_preferences(priced: ir.Table, prefs: ir.Table, *, high_price_percentile: float = 0.75) -> ir.Table:
    """One row per buying person with the preference columns.

    ``priced`` from :func:`price_lines`, ``prefs`` from :func:`category_preferences`.

    >>> import ibis, pandas as pd
    >>> lines = ibis.memtable(pd.DataFrame({"person_id": ["a", "a", "b", None],
    ...     "category": ["food", "toys/lego", "food", "food"], "brand": ["x", "y", "x", None],
    ...     "quantity": [1, 2, 1, 1], "unit_price": [30.0, 10.0, 10.0, 20.0]}))
    >>> priced = price_lines(lines)
    >>> r = compute_preferences(priced, category_preferences(priced)).order_by("person_id").execute()
    >>> cols = ["person_id", "top_category", "top_category_share", "top_category_affinity", "price_tier_index"]
    >>> r[cols].round(4).values.tolist()
    [['a', 'food', 0.6, 0.8, 0.5], ['b', 'food', 1.0, 1.3333, 0.0]]
    """
    mine = priced.filter(priced.person_id.notnull())
    top = prefs.filter(prefs["rank"] == 1).select(
        "person_id", top_category=prefs.category, top_category_share=prefs.share,
        top_category_affinity=prefs.affinity,
    )
    # Breadth and the category of most lines from the person's category rows: a group-by and a
    # join on person instead of a count distinct over the lines and a window.
    most = prefs.group_by("person_id").aggregate(category_breadth=prefs.count(), _max=prefs.lines.max())
    jc = prefs.inner_join(most, "person_id")
    jc = jc.filter(jc.lines == jc._max)
    by_count = jc.group_by("person_id").aggregate(
        category_breadth=jc.category_breadth.max(), top_category_by_count=jc.category.min()
    )
    branded = mine.filter(mine.brand.notnull())
    by_brand = branded.group_by(["person_id", "brand"]).aggregate(spend=branded.spend.sum())
    best = by_brand.group_by("person_id").aggregate(_max=by_brand.spend.max(), _total=by_brand.spend.sum())
    jb = by_brand.inner_join(best, "person_id")
    # The brand of most spend, the smallest name on ties (all spends unknown: the smallest name).
    jb = jb.filter((jb.spend == jb._max) | jb._max.isnull())
    top_brand = jb.group_by("person_id").aggregate(top_brand=jb.brand.min(), _max=jb._max.max(),
                                                   _total=jb._total.max())
    top_brand = top_brand.select(
        "person_id", "top_brand",
        top_brand_share=ibis.ifelse(top_brand._total > 0, top_brand._max / top_brand._total, ibis.null("float64")),
    )
    general = mine.group_by("person_id").aggregate(
        price_tier_index=mine.price_pct.mean(),
        share_high_price_items=(mine.price_pct >= high_price_percentile).mean(),
    )
    out = general.left_join(by_count, "person_id").drop("person_id_right")
    for part in (top, top_brand):
        out = out.left_join(part, "person_id").drop("person_id_right")
    return out.select("person_id", "category_breadth", "price_tier_index", "share_high_price_items",
                      "top_category", "top_category_share", "top_category_affinity", "top_category_by_count",
                      "top_brand", "top_brand_share")
