"""Small expression helpers that behave the same on every engine.

Use these instead of Ibis methods whose SQL differs by backend.

>>> import ibis
>>> strip_text(ibis.literal("  pv \\t")).execute()
'pv'
"""

from __future__ import annotations

import ibis.expr.types as ir

_EDGE_WHITESPACE = r"^\s+|\s+$"


def strip_text(value: ir.StringValue) -> ir.StringValue:
    """Remove leading and trailing whitespace.

    Ibis' ``strip()`` compiles to ``TRIM(' \\t\\n\\r\\v\\f' FROM x)``; Spark SQL does not read
    ``\\v``/``\\f`` as escapes there and strips the letters ``v`` and ``f`` too
    (``'pv'`` became ``'p'`` on Spark). A regex means the same on DuckDB and Spark.
    """
    return value.re_replace(_EDGE_WHITESPACE, "")
