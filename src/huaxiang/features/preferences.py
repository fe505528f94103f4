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

Categories, category paths and brands travel through the millions of lines as integer codes
(:func:`product_codes`), numbered in the order of their names so that "the smaller name on ties"
is "the smaller code"; names come back on the per-person rows. Integers hash and sort faster than
strings in the percentile window and the person × category group-by (bench/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

#: The category of a product without one (and of a line whose product is not in ``products``).
UNKNOWN = "unknown"


@dataclass(frozen=True)
class ProductCodes:
    """Integer codes of the product dimension, numbered in name order (0 = the smallest name).

    ``products``: ``product_id, _cat, _path, _brand`` (first-level category, full category path,
    brand; ``_brand`` NULL without a brand); ``categories``: ``_cat, category``; ``brands``:
    ``_brand, brand``; ``unknown_cat``/``unknown_path``: the codes of :data:`UNKNOWN` (scalars).
    """

    products: ir.Table
    categories: ir.Table
    brands: ir.Table
    unknown_cat: ir.IntegerValue
    unknown_path: ir.IntegerValue


def _coded(names: ir.Table, column: str, code: str) -> ir.Table:
    distinct = names.select(column).distinct()
    return distinct.mutate(**{code: ibis.dense_rank().over(order_by=distinct[column]).cast("int32")})


def product_codes(products: ir.Table) -> ProductCodes:
    """:class:`ProductCodes` of a ``products`` table (one product's rows across sources merged)."""
    catalog = products.group_by("product_id").aggregate(_raw=products.category.max(), brand=products.brand.max())
    catalog = catalog.mutate(
        category=ibis.coalesce(catalog._raw.split("/")[0], ibis.literal(UNKNOWN)),
        path=ibis.coalesce(catalog._raw, ibis.literal(UNKNOWN)),
    )
    unknown = ibis.memtable({"category": [UNKNOWN]})
    categories = _coded(ibis.union(catalog.select("category"), unknown, distinct=False), "category", "_cat")
    paths = _coded(ibis.union(catalog.select("path"), unknown.rename(path="category"), distinct=False), "path",
                   "_path")
    brands = _coded(catalog.filter(catalog.brand.notnull()).select("brand"), "brand", "_brand")
    coded = (
        catalog.left_join(categories, "category").drop("category_right")
        .left_join(paths, "path").drop("path_right")
        .left_join(brands, "brand").drop("brand_right")
        .select("product_id", "_cat", "_path", "_brand")
    )
    return ProductCodes(
        products=coded, categories=categories.select("_cat", "category"), brands=brands.select("_brand", "brand"),
        unknown_cat=categories.filter(categories.category == UNKNOWN)._cat.max().as_scalar(),
        unknown_path=paths.filter(paths.path == UNKNOWN)._path.max().as_scalar(),
    )


def coded_lines(lines: ir.Table, codes: ProductCodes) -> ir.Table:
    """Order lines (``person_id, product_id, quantity, unit_price``) with their product's codes;
    a product missing from the catalogue counts as :data:`UNKNOWN`."""
    joined = lines.left_join(codes.products, "product_id")
    return joined.select(
        "person_id", "quantity", "unit_price",
        _cat=ibis.coalesce(joined._cat, codes.unknown_cat), _path=ibis.coalesce(joined._path, codes.unknown_path),
        _brand=joined._brand,
    )


def price_lines(lines: ir.Table) -> ir.Table:
    """Add ``spend`` and ``price_pct`` (unit-price percentile within the full category path, over
    all given lines) to :func:`coded_lines` rows (``person_id`` NULL for guests)."""
    ln = lines.mutate(spend=(lines.quantity * lines.unit_price).cast("float64"))
    pct = ibis.percent_rank().over(group_by=ln._path, order_by=ln.unit_price)
    return ln.mutate(price_pct=pct.cast("float64")).drop("_path")


def category_preferences(priced: ir.Table) -> ir.Table:
    """One row per person and category code ``_cat``: spend, lines, share of the person's spend,
    rank (1 = top by spend; ties: the smaller name) and affinity (share over the population's
    share), from :func:`price_lines` rows. :func:`named_categories` adds the names."""
    population = priced.group_by("_cat").aggregate(pop_spend=priced.spend.sum())
    population = population.mutate(pop_share=population.pop_spend / population.pop_spend.sum().over())
    mine = priced.filter(priced.person_id.notnull())
    by_cat = mine.group_by(["person_id", "_cat"]).aggregate(spend=mine.spend.sum(), lines=mine.count())
    w = ibis.window(group_by=by_cat.person_id, order_by=[ibis.desc(by_cat.spend), by_cat._cat])
    by_cat = by_cat.mutate(rank=ibis.row_number().over(w) + 1,
                           total=by_cat.spend.sum().over(group_by=by_cat.person_id))
    by_cat = by_cat.left_join(population, "_cat").drop("_cat_right")
    share = ibis.ifelse(by_cat.total > 0, by_cat.spend / by_cat.total, ibis.null("float64"))
    return by_cat.select(
        "person_id", "_cat", "spend", "lines", "rank", share=share,
        affinity=ibis.ifelse(by_cat.pop_share > 0, share / by_cat.pop_share, ibis.null("float64")),
    )


def named_categories(prefs: ir.Table, codes: ProductCodes) -> ir.Table:
    """:func:`category_preferences` rows with the category's name in place of its code."""
    named = prefs.inner_join(codes.categories, "_cat")
    return named.select("person_id", "category", "spend", "lines", "rank", "share", "affinity")


def compute_preferences(priced: ir.Table, prefs: ir.Table, codes: ProductCodes, *,
                        high_price_percentile: float = 0.75) -> ir.Table:
    """One row per buying person with the preference columns.

    ``priced`` from :func:`price_lines`, ``prefs`` from :func:`category_preferences`.

    >>> import ibis, pandas as pd
    >>> products = ibis.memtable(pd.DataFrame({"product_id": ["p1", "p2"], "category": ["food", "toys/lego"],
    ...                                        "brand": ["x", "y"]}))
    >>> lines = ibis.memtable(pd.DataFrame({"person_id": ["a", "a", "b", None],
    ...     "product_id": ["p1", "p2", "p1", "p1"], "quantity": [1, 2, 1, 1], "unit_price": [30.0, 10.0, 10.0, 20.0]}))
    >>> codes = product_codes(products)
    >>> priced = price_lines(coded_lines(lines, codes))
    >>> r = compute_preferences(priced, category_preferences(priced), codes).order_by("person_id").execute()
    >>> cols = ["person_id", "top_category", "top_category_share", "top_category_affinity", "price_tier_index"]
    >>> r[cols].round(4).values.tolist()
    [['a', 'food', 0.6, 0.8, 0.5], ['b', 'food', 1.0, 1.3333, 0.0]]
    """
    mine = priced.filter(priced.person_id.notnull())
    top = prefs.filter(prefs["rank"] == 1).select(
        "person_id", _top=prefs._cat, top_category_share=prefs.share, top_category_affinity=prefs.affinity,
    )
    # Breadth and the category of most lines from the person's category rows: a group-by and a
    # join on person instead of a count distinct over the lines and a window.
    most = prefs.group_by("person_id").aggregate(category_breadth=prefs.count(), _max=prefs.lines.max())
    jc = prefs.inner_join(most, "person_id")
    jc = jc.filter(jc.lines == jc._max)
    by_count = jc.group_by("person_id").aggregate(
        category_breadth=jc.category_breadth.max(), _by_count=jc._cat.min()
    )
    branded = mine.filter(mine._brand.notnull())
    by_brand = branded.group_by(["person_id", "_brand"]).aggregate(spend=branded.spend.sum())
    best = by_brand.group_by("person_id").aggregate(_max=by_brand.spend.max(), _total=by_brand.spend.sum())
    jb = by_brand.inner_join(best, "person_id")
    # The brand of most spend, the smallest name on ties (all spends unknown: the smallest name).
    jb = jb.filter((jb.spend == jb._max) | jb._max.isnull())
    top_brand = jb.group_by("person_id").aggregate(_top_brand=jb._brand.min(), _max=jb._max.max(),
                                                   _total=jb._total.max())
    top_brand = top_brand.select(
        "person_id", "_top_brand",
        top_brand_share=ibis.ifelse(top_brand._total > 0, top_brand._max / top_brand._total, ibis.null("float64")),
    )
    general = mine.group_by("person_id").aggregate(
        price_tier_index=mine.price_pct.mean(),
        share_high_price_items=(mine.price_pct >= high_price_percentile).mean(),
    )
    out = general.left_join(by_count, "person_id").drop("person_id_right")
    for part in (top, top_brand):
        out = out.left_join(part, "person_id").drop("person_id_right")
    # Names for the codes: joins of the per-person rows with the small dictionaries.
    names = codes.categories
    out = out.left_join(names.select(_top="_cat", top_category="category"), "_top").drop("_top_right")
    out = out.left_join(names.select(_by_count="_cat", top_category_by_count="category"), "_by_count")
    out = out.drop("_by_count_right")
    out = out.left_join(codes.brands.select(_top_brand="_brand", top_brand="brand"), "_top_brand")
    out = out.drop("_top_brand_right")
    return out.select("person_id", "category_breadth", "price_tier_index", "share_high_price_items",
                      "top_category", "top_category_share", "top_category_affinity", "top_category_by_count",
                      "top_brand", "top_brand_share")
