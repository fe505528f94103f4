"""Phone numbers and e-mail addresses, to one canonical form each (NULL when not one)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from huaxiang.errors import ConfigError
from huaxiang.normalize.text import _clean_text

__all__ = ["normalize_email", "normalize_phone"]


# --------------------------------------------------------------------------- phone

#: Mainland number: optional ``+86``/``86`` and trunk ``0``, then the national significant number
#: (mobile, 2-digit area + 8 digits, 3-digit area + 7-8 digits). Group 1 is the NSN.
_CN_NUMBER = r"^(?:\+860?|860?|0)?(1[3-9][0-9]{9}|(?:10|2[0-9])[0-9]{8}|[3-9][0-9]{9,10})$"
_PHONE_LABEL = r"^(?:tel|phone|mobile|cell|电话|手机号?|联系电话|联系方式)[ :]*"
_PHONE_EXTENSION = r" *(?:ext|extension|x|转|分机|#|,|;|、).*$"
#: One digit repeated (``0000000``, ``11111111111``): a placeholder, not a number.
_ONE_DIGIT = r"^\+?(?:" + "|".join(f"{d}+" for d in range(10)) + ")$"


def normalize_phone(value: ir.StringValue, default_country_code: str = "86") -> ir.StringValue:
    """Normalise a phone number to E.164 (``+8613800138000``), or NULL.

    Cleaning: full-width digits and ``＋（）`` are made half-width, zero-width
    characters, spaces, dashes, dots, slashes and parentheses are removed, a
    ``(0)`` trunk marker and a leading label (``Tel:``, ``手机:``) are dropped,
    and an extension (``ext. 12``, ``x12``, ``转123``, ``分机 8``, ``#8``) or a
    second number after ``,``/``;``/``、`` is cut off. Anything else left
    (letters, ``n/a``, ``无``) makes the value NULL.

    With the default country ``86`` (mainland China) the national significant
    number must be a mobile ``1[3-9]`` + 9 digits, a landline with a 2-digit
    (``10``, ``2x``) area code and 8 digits, or a 3-digit area code (``3xx``-``9xx``,
    which includes the ``400`` service numbers) and 7-8 digits. The trunk
    ``0`` is dropped (``010-12345678`` → ``+861012345678``) and ``86`` (or ``860``)
    in front of such a number is taken as the country code (``8613800138000``).
    One digit repeated (``0000000``) is a placeholder, not a number. A number written with
    ``+CC`` or ``00CC`` for another country is kept as ``+`` and its digits when
    it has 8-15 digits; no per-country numbering plan is checked there.

    For another ``default_country_code`` the national number loses one leading
    trunk ``0`` and is kept when the result has 8-15 digits.

    Parameters
    ----------
    value
        A string expression with phone numbers as people type them.
    default_country_code
        Calling code (digits, no ``+``) of numbers written without one.

    Returns
    -------
    StringValue
        E.164 text, or NULL when the value cannot be a phone number.

    Raises
    ------
    ConfigError
        If ``default_country_code`` is not 1-3 digits.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"p": ["0086 138-0013-8000", "(0755) 8888 8888 转 12", "n/a"]})
    >>> normalize_phone(t.p).execute().tolist()
    ['+8613800138000', '+8675588888888', None]
    """
    cc = default_country_code.lstrip("+")
    if not (cc.isascii() and cc.isdigit() and 1 <= len(cc) <= 3 and cc[0] != "0"):
        raise ConfigError(
            f"normalize_phone: default_country_code={default_country_code!r} is not a calling code; "
            "pass 1-3 digits such as '86' or '44'"
        )
    # One linear chain of replacements, then two anchored extractions: every intermediate
    # expression is referenced once, so the compiled SQL stays small on both engines.
    s = _clean_text(value).lower()
    s = s.re_replace(_PHONE_LABEL, "").re_replace(_PHONE_EXTENSION, "").re_replace(r"\(0\)", "")
    s = s.re_replace(r"[ ./()\-]", "").re_replace(_ONE_DIGIT, "").re_replace("^00", "+")
    if cc == "86":
        national = s.re_extract(_CN_NUMBER, 1)
        foreign = s.re_extract(r"^\+([1-79][0-9]{7,14}|8[0-57-9][0-9]{6,13})$", 1)
    else:
        low, high = 7 - len(cc), 14 - len(cc)
        national = s.re_extract(f"^0?([1-9][0-9]{{{low},{high}}})$", 1)
        foreign = s.re_extract(r"^\+([1-9][0-9]{7,14})$", 1)
    # exactly one of the two is non-empty; an empty one must not leave its bare prefix behind
    own = (f"+{cc}" + national).re_replace(f"^\\+{cc}$", "")
    other = ("+" + foreign).re_replace(r"^\+$", "")
    return (own + other).nullif("")


# --------------------------------------------------------------------------- email

_EMAIL_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL_RE = (
    rf"^{_EMAIL_ATOM}(?:\.{_EMAIL_ATOM})*@"
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$"
)


def normalize_email(value: ir.StringValue) -> ir.StringValue:
    """Normalise an e-mail address, or NULL when it is not a sane ``local@domain.tld``.

    Full-width characters (``＠``, ``．``) and the ideographic full stop ``。``
    become ASCII, zero-width characters go, whitespace (also U+3000 and NBSP)
    is stripped and removed around ``@`` and ``.``, a ``mailto:`` prefix and
    enclosing ``<>`` are removed, and everything is lower-cased. The result
    must match a dot-atom local part (at most 64 characters) ``@`` a domain of
    letter/digit/hyphen labels and an alphabetic or ``xn--`` top-level domain,
    254 characters in all.

    Dots in Gmail local parts are *not* removed (``a.b@gmail.com`` and
    ``ab@gmail.com`` reach the same mailbox); identity matching may want to
    fold them.

    Parameters
    ----------
    value
        A string expression.

    Returns
    -------
    StringValue
        The lower-case address, or NULL.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"e": ["  Zhang.San＠QQ．com ", "mailto:Bob@Example.org", "无"]})
    >>> normalize_email(t.e).execute().tolist()
    ['zhang.san@qq.com', 'bob@example.org', None]
    """
    s = _clean_text(value.translate("。｡", "..")).lower()
    s = s.re_replace("^mailto:", "").re_replace("^<|>$", "")
    s = s.re_replace(" *@ *", "@").re_replace(r" *\. *", ".")
    local_ok = s.re_search(r"^[^@]{1,64}@")
    ok = s.re_search(_EMAIL_RE) & local_ok & (s.length() <= 254)
    return ibis.cases((ok, s), else_=ibis.null("string"))
