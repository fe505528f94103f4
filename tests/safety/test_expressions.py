"""Safe user expressions: the expressions of the examples give DuckDB's own results; anything else is refused."""

from __future__ import annotations

import duckdb
import ibis
import pandas as pd
import pytest

from huaxiang.errors import ConfigError, RuleError
from huaxiang.expressions import ExpressionError, check_expression, parse_expression, parse_filter

RAW = pd.DataFrame({
    "customer_id": ["c1", None, "c3"], "_hx_row": [1, 2, 3], "number_of_cds": ["2", "0", "4"],
    "dollar_value": ["10.5", "3", "4"], "registered_at": ["2024-01-02T03:04:05.123+08", "", None],
    "Member_number": ["1", "2", None], "Date": ["2024-01-01", "x", "y"], "itemDescription": [" Milk ", "bread", None],
    "InvoiceNo": ["C1", "A2", "5"], "StockCode": ["POST", "gift_0001x", "z"], "Quantity": ["-1", "3", "abc"],
    "Customer ID": ["1", None, "3"], "column5": ["1511539100", "1511600000", "zz"], "会员编号": ["TEST1", "x", None],
})

#: Every expr/when of examples/*.yaml and of the template (in the columns of RAW), plus common functions.
EXAMPLES = [
    "customer_id || '-' || CAST(_hx_row AS VARCHAR)",
    "CASE WHEN CAST(number_of_cds AS DOUBLE) > 0 THEN CAST(dollar_value AS DOUBLE) / CAST(number_of_cds AS DOUBLE) "
    "ELSE 0 END",
    "substr(registered_at, 1, 19)", "Member_number || '-' || Date", "lower(trim(itemDescription))",
    "trim(itemDescription)", "CASE WHEN InvoiceNo LIKE 'C%' THEN 'cancelled' ELSE 'paid' END",
    "CASE WHEN StockCode IN ('POST', 'DOT', 'M') OR StockCode LIKE 'gift_0001%' OR StockCode LIKE 'DCGS%' "
    "THEN 'non-product' ELSE NULL END",
    "InvoiceNo LIKE 'A%'", "TRY_CAST(Quantity AS BIGINT) < 0 AND InvoiceNo NOT LIKE 'C%'", '"Customer ID"',
    "TRY_CAST(column5 AS BIGINT) < 1511539200 OR TRY_CAST(column5 AS BIGINT) >= 1512316800",
    "会员编号 LIKE 'TEST%'", "concat(customer_id, '-', Date)", "coalesce(customer_id, 'none')", "nullif(Date, 'x')",
    "strpos(InvoiceNo, '1')", "regexp_matches(StockCode, '^g')", "left(StockCode, 2)", "upper(StockCode)",
    "length(StockCode)", "round(TRY_CAST(dollar_value AS DOUBLE), 1)", "abs(TRY_CAST(Quantity AS INT))",
    "customer_id IS NULL", "if(customer_id is null, 1, 2)", "_hx_row between 2 and 3", "_hx_row % 2 = 1",
    "replace(StockCode, 'O', '0')", "starts_with(StockCode, 'PO')", "StockCode ILIKE 'post'",
    "greatest(_hx_row, 2)",
]


def _norm(values: list[object]) -> list[object]:
    return [None if pd.isna(v) else float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
            for v in values]


@pytest.mark.parametrize("text", EXAMPLES)
def test_examples_give_duckdbs_own_results(text: str) -> None:
    con = ibis.duckdb.connect()
    t = con.create_table("raw", RAW)
    mine = con.execute(t.select(v=parse_expression(text, t)))["v"].tolist()
    reference = duckdb.connect()
    reference.register("raw", RAW)
    theirs = reference.execute(f"SELECT {text} AS v FROM raw").df()["v"].tolist()
    assert _norm(mine) == _norm(theirs)


#: (text, what the refusal must name)
REFUSED = [
    ("1=1; drop table orders", "statement separator ';' at character 4"),
    ("1=1; update persons set name='X'", "statement separator ';'"),
    ("1=1\uff1b drop table orders", "look-alike character '；' (U+FF1B, like ';') at character 4"),
    ("amount > 0\u037e drop table orders", "U+037E"),
    ("status = \uff07paid\uff07", "look-alike character '＇'"),
    ("amount > 0\u200b", "invisible character U+200B"),
    ("amount > 0 -- and the rest", "a comment"),
    ("amount > 0 /* hidden */ or 1=1", "a comment"),
    ("amount > 0 union select * from persons", "UNION"),
    ("amount in (select amount from persons)", "subquery"),
    ("exists (select 1 from persons)", "query (SELECT)"),
    ("(select count(*) from persons) > 0", "subquery"),
    ("read_csv('/etc/passwd') is not null", "read_csv"),
    ("read_text('/etc/passwd') is not null", "function read_text()"),
    ("read_parquet('x.parquet') is not null", "read_parquet"),
    ("glob('/etc/*') is not null", "function glob()"),
    ("length(getenv('HOME')) > 0", "function getenv()"),
    ("current_setting('threads') is not null", "function current_setting()"),
    ("query_table('persons') is not null", "function query_table()"),
    ("ATTACH 'x.db' AS x", "ATTACH"),
    ("COPY orders TO '/tmp/x.csv'", "COPY"),
    ("INSTALL httpfs", "INSTALL"),
    ("LOAD httpfs", "a command"),
    ("PRAGMA database_list", "PRAGMA"),
    ("SET enable_external_access = true", "SET"),
    ("CREATE TABLE x AS SELECT 1", "CREATE"),
    ("DELETE FROM orders", "DELETE"),
    ("persons.name = 'x'", "of another table"),
    ("amount > $1", "placeholder"),
    ("amount > 0) or (1=1", "cannot parse"),
    ("' or '1'='1", "cannot"),
    ("nosuch > 1", "unknown column 'nosuch'"),
    ("amount", "not true/false"),
    ("", "empty"),
]


@pytest.mark.parametrize(("text", "named"), REFUSED)
def test_refused_in_one_line_naming_the_part(text: str, named: str) -> None:
    t = ibis.table({"amount": "float64", "status": "string", "order_id": "string"}, name="orders")
    with pytest.raises(ExpressionError) as info:
        parse_filter(text, t, where="--where")
    message = str(info.value)
    assert named in message and message.startswith("--where: ") and "\n" not in message


def test_errors_are_rule_and_config_errors() -> None:
    with pytest.raises(RuleError, match="unknown column 'x'"):
        check_expression("x > 1", ["y"])
    with pytest.raises(ConfigError, match="function glob"):
        check_expression("glob('*') is null", ["y"])


def test_quoting_tricks_stay_text() -> None:
    """Quotes doubled inside a literal stay part of the text: the filter compares, it does not escape."""
    t = ibis.memtable({"status": ["paid", "x' or '1'='1"], "amount": [1.0, 2.0]})
    con = ibis.duckdb.connect()
    got = con.execute(t.filter(parse_filter("status = 'x'' or ''1''=''1'", t)))
    assert got["amount"].tolist() == [2.0]
    got = con.execute(t.filter(parse_filter('status = \'paid" or "1"="1\'', t)))
    assert got.empty


def test_types_follow_duckdb_casts() -> None:
    """Text compared with numbers and dates is read as them (NULL where it does not convert)."""
    t = ibis.memtable({"q": ["-1", "3", "abc"], "ts": pd.to_datetime(["2024-01-01", "2024-06-01", "2025-01-01"])})
    con = ibis.duckdb.connect()
    assert con.execute(t.filter(parse_filter("q < 0", t)))["q"].tolist() == ["-1"]
    assert len(con.execute(t.filter(parse_filter("ts >= '2024-05-01' and ts < '2024-12-31'", t)))) == 1
