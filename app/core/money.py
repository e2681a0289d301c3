"""Money as integer minor units (paise). Never floats.

Parsing accepts what staff type ("45", "45.5", "₹1,234.50"); formatting uses
Indian digit grouping (₹1,23,456.00) because that is what shelf labels show.
All rounding goes through ``round_half_up`` so every screen and receipt agrees.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

CURRENCY_SYMBOL = {"INR": "₹"}
_AMOUNT_RE = re.compile(r"^-?[0-9]+(\.[0-9]{1,2})?$")


class MoneyError(ValueError):
    pass


def parse_amount(text: str) -> int:
    """'1,234.50' -> 123450 paise. More than two decimals is an error, not a rounding."""
    cleaned = str(text).strip().replace(",", "").replace("₹", "").replace("Rs.", "").strip()
    if not _AMOUNT_RE.match(cleaned):
        raise MoneyError(f"{text!r} is not an amount like 45 or 45.50")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise MoneyError(f"{text!r} is not an amount") from None
    return int(value * 100)


def _group_indian(rupees: int) -> str:
    s = str(rupees)
    if len(s) <= 3:
        return s
    head, tail = s[:-3], s[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return ",".join(groups) + "," + tail


def format_amount(minor: int, currency: str = "INR", symbol: bool = True) -> str:
    """123456 -> '₹1,234.56'; -5000 -> '-₹50.00'."""
    sign = "-" if minor < 0 else ""
    rupees, paise = divmod(abs(minor), 100)
    sym = CURRENCY_SYMBOL.get(currency, currency + " ") if symbol else ""
    return f"{sign}{sym}{_group_indian(rupees)}.{paise:02d}"


def to_decimal_string(minor: int) -> str:
    """123450 -> '1234.50' (CSV and API: exact, no grouping, no symbol)."""
    sign = "-" if minor < 0 else ""
    rupees, paise = divmod(abs(minor), 100)
    return f"{sign}{rupees}.{paise:02d}"


def round_half_up(numerator: int, denominator: int) -> int:
    """Integer division rounding halves away from zero (the GST and retail convention)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return q if numerator >= 0 else -q


def price_for_measure(price_per_unit_minor: int, base_qty: int) -> int:
    """Price of `base_qty` grams/ml at a per-kg/per-litre price, to the nearest paisa."""
    return round_half_up(price_per_unit_minor * base_qty, 1000)


def tax_in_inclusive(gross_minor: int, rate_bp: int) -> int:
    """GST contained in a tax-inclusive amount: gross * r / (1 + r)."""
    return round_half_up(gross_minor * rate_bp, 10_000 + rate_bp)


def parse_gst_rate(text: str) -> int:
    """'5' / '5%' / '12.5' -> basis points. Only Indian GST slabs are accepted."""
    cleaned = str(text).strip().rstrip("%").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise MoneyError(f"GST rate {text!r} is not a number") from None
    bp = value * 100
    if bp != bp.to_integral_value() or int(bp) not in GST_SLABS_BP:
        slabs = ", ".join(f"{s / 100:g}" for s in sorted(GST_SLABS_BP))
        raise MoneyError(f"GST rate {text!r} is not a GST slab ({slabs})")
    return int(bp)


GST_SLABS_BP = frozenset({0, 25, 300, 500, 1200, 1800, 2800, 4000})


def format_rate(bp: int) -> str:
    return f"{bp / 100:g}%"
