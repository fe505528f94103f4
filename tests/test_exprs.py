"""Expression helpers mean the same on every engine."""

from __future__ import annotations

from typing import Any

import ibis

from huaxiang.exprs import strip_text


def test_strip_text_keeps_letters_v_and_f(ibis_con: Any) -> None:
    # Regression: Ibis' strip() on Spark also removed the letters v and f ('pv' -> 'p').
    values = [" pv ", "fav\t", "\n view  ", "off", "v", "", "  ", "\u00a0x"]
    t = ibis.memtable({"s": values})
    got = ibis_con.execute(t.select(s=strip_text(t.s)))["s"].tolist()
    assert got == [v.strip(" \t\n\r\f") for v in values[:-1]] + ["\u00a0x"]
