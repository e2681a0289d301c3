"""Money as integer minor units (paise). Never floats.

Parsing accepts what staff type ("45", "45.5", "₹1,234.50", "1,00,000") and
refuses commas anywhere else ("50,00"); formatting uses
Indian digit grouping (₹1,23,456.00) because that is what shelf labels show.
All rounding goes through ``round_half_up`` so every screen and receipt agrees.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

CURRENCY_SYMBOL = {"INR": "₹"}
# Digits, optionally grouped by commas the Indian way (1,00,000) or the international way
# (100,000), then at most two decimals. ASCII digits only: "१२" or "１２" are refused.
_DIGITS = r"(?:[0-9]+|[0-9]{1,2}(?:,[0-9]{2})*,[0-9]{3}|[0-9]{1,3}(?:,[0-9]{3})+)"
_AMOUNT_RE = re.compile(rf"{_DIGITS}(?:\.[0-9]{{1,2}})?", re.ASCII)
_COUNT_RE = re.compile(_DIGITS, re.ASCII)
_DECIMAL_COMMA_RE = re.compile(r"[0-9][0-9.]*,[0-9]{1,2}", re.ASCII)  # "50,00", "1.000,50"
_PREFIXES = ("₹", "Rs.", "Rs", "INR")
MAX_TEXT = 32  # longest amount text worth reading ("₹ 12,34,56,789.00" is 17)
MAX_AMOUNT_MINOR = 10_000_000_000  # ₹10 crore: anything above is a typo at a counter
# The most of one line's quantity (pieces, or grams/ml of a loose item: a tonne). With at
# most MAX_LINES lines, no total (MAX_AMOUNT_MINOR x MAX_QUANTITY x MAX_LINES = 2e18) can
# pass a signed 64-bit integer (SQLite INTEGER, PostgreSQL BIGINT: 9.2e18).
MAX_QUANTITY = 1_000_000
MAX_LINES = 200
assert MAX_AMOUNT_MINOR * MAX_QUANTITY * MAX_LINES < 2**63
COMMA_RULE = "commas only between thousands, like 1,00,000 or 100,000"


class MoneyError(ValueError):
    pass


def _shown(text: str) -> str:
    return repr(text if len(text) <= 20 else text[:20] + "…")


def _digits_of(text: str, what: str) -> str:
    """The number part of `text`, or a MoneyError saying what is wrong with it."""
    raw = str(text)
    if len(raw) > MAX_TEXT:
        raise MoneyError(f"{_shown(raw)} is too long to be {what}")
    cleaned = raw.strip()
    for prefix in _PREFIXES:
        if cleaned.startswith(prefix):
            cleaned = cleaned[len(prefix):].strip()
            break
    if cleaned.startswith("-"):
        raise MoneyError(f"{_shown(raw)}: {what} cannot be negative")
    return cleaned


def parse_amount(text: str) -> int:
    """'1,234.50' -> 123450 paise; the one parser of every amount typed in a form.

    Commas are accepted only where they group thousands (1,00,000 or 100,000):
    '50,00' is refused rather than read as 5000, because a cashier who typed it
    meant 50.00. More than two decimals, signs, exponents, NaN and amounts over
    ₹10 crore are refused with a message, never rounded or guessed."""
    cleaned = _digits_of(text, "an amount")
    if not _AMOUNT_RE.fullmatch(cleaned):
        if "," in cleaned:
            hint = (
                f"use {cleaned.replace('.', '').replace(',', '.')} ({COMMA_RULE})"
                if _DECIMAL_COMMA_RE.fullmatch(cleaned)
                else COMMA_RULE
            )
            raise MoneyError(f"{_shown(str(text))} is not an amount: {hint}")
        raise MoneyError(f"{_shown(str(text))} is not an amount like 45 or 45.50")
    value = int(Decimal(cleaned.replace(",", "")) * 100)
    if value > MAX_AMOUNT_MINOR:
        raise MoneyError(f"{_shown(str(text))} is more than ₹10,00,00,000; check the amount")
    return value


def parse_count(text: str, what: str = "a count") -> int:
    """A whole number typed by staff (notes in the drawer): '1,000' or '1000', same comma rule."""
    cleaned = _digits_of(text, what)
    if not _COUNT_RE.fullmatch(cleaned):
        raise MoneyError(f"{_shown(str(text))} is not a whole number ({COMMA_RULE})")
    value = int(cleaned.replace(",", ""))
    if value > MAX_AMOUNT_MINOR:
        raise MoneyError(f"{_shown(str(text))} is too large; check it")
    return value


def _group_indian(rupees: int) -> str:
    s = str(rupees)
    if len(s) <= 3:
        return s
    head, tail = s[:-3], s[-3:]
    groups: list[str] = []
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


@dataclass(frozen=True, slots=True)
class GstSplit:
    """GST contained in a tax-inclusive amount, split for an intra-state sale."""

    taxable: int
    half: int  # CGST and SGST are each exactly this

    @property
    def tax(self) -> int:
        return 2 * self.half


def gst_in_inclusive(gross_minor: int, rate_bp: int) -> GstSplit:
    """The one GST rule: taxable value first, then each half at half the rate on it.

    taxable ≈ gross / (1 + r) rounded half-up; CGST = SGST = taxable × r/2 rounded
    half-up, computed once; the taxable value is then gross − CGST − SGST, so the
    three always add up to the gross exactly and any paisa of rounding stays in the
    taxable value, never between the two halves."""
    approx_taxable = round_half_up(gross_minor * 10_000, 10_000 + rate_bp)
    half = round_half_up(approx_taxable * rate_bp, 20_000)
    return GstSplit(taxable=gross_minor - 2 * half, half=half)


def parse_gst_rate(text: str) -> int:
    """'5' / '5%' / '12.5' -> basis points. Only Indian GST slabs are accepted."""
    cleaned = str(text).strip().rstrip("%").strip()
    try:
        if len(cleaned) > MAX_TEXT:
            raise InvalidOperation
        value = Decimal(cleaned)
    except InvalidOperation:
        raise MoneyError(f"GST rate {_shown(str(text))} is not a number") from None
    if not value.is_finite():  # inf, nan: int() of them would raise, not refuse
        raise MoneyError(f"GST rate {_shown(str(text))} is not a number")
    bp = value * 100
    if bp != bp.to_integral_value() or int(bp) not in GST_SLABS_BP:
        slabs = ", ".join(f"{s / 100:g}" for s in sorted(GST_SLABS_BP))
        raise MoneyError(f"GST rate {text!r} is not a GST slab ({slabs})")
    return int(bp)


GST_SLABS_BP = frozenset({0, 25, 300, 500, 1200, 1800, 2800, 4000})


def format_rate(bp: int) -> str:
    return f"{bp / 100:g}%"


def spread(amount: int, weights: Sequence[int]) -> list[int]:
    """Split `amount` over `weights` proportionally (largest remainder), each share <= its
    weight: a bill discount over lines, an offer's discount over the pieces that made it."""
    total = sum(weights)
    if amount <= 0 or total <= 0:
        return [0] * len(weights)
    amount = min(amount, total)
    shares = [amount * w // total for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    left = amount - sum(shares)
    for i in remainders:
        if left == 0:
            break
        if shares[i] < weights[i]:
            shares[i] += 1
            left -= 1
    return shares
