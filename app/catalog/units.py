"""Quantities: staff type kilograms and litres, the database keeps grams and millilitres."""

from __future__ import annotations

import re
from decimal import Decimal

from app.core.i18n import _

_QTY_RE = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,3})?$")
MAX_BASE_QTY = 10_000_000  # 10 t or 10,000 kL or ten million pieces: beyond is a typo


class QuantityError(ValueError):
    pass


def _shown(text: str) -> str:
    """The typed text as an error message quotes it: at most 20 characters."""
    return repr(text if len(text) <= 20 else text[:20] + "…")


def parse_quantity(text: str, unit: str) -> int:
    """'2' pieces -> 2; '1.25' kg -> 1250 g. Zero, negatives and fractions of a piece are refused."""
    cleaned = str(text).strip()
    if not _QTY_RE.match(cleaned):
        raise QuantityError(
            (_("%(text)s is not a quantity") if unit == "piece" else
             _("%(text)s is not a quantity in %(unit)s like 1.250"))
            % {"text": _shown(str(text)), "unit": unit}
        )
    value = Decimal(cleaned)
    if unit == "piece":
        if value != value.to_integral_value():
            raise QuantityError(_("pieces must be a whole number"))
        base = int(value)
    else:
        base = int(value * 1000)
    if base <= 0:
        raise QuantityError(_("quantity must be more than zero"))
    if base > MAX_BASE_QTY:
        raise QuantityError(_("%(text)s %(unit)s is too large; check the quantity")
                            % {"text": _shown(cleaned), "unit": unit})
    return base


def format_quantity(base: int, unit: str) -> str:
    """2 -> '2'; 1250 g -> '1.25 kg'; -500 ml -> '-0.5 L'."""
    if unit == "piece":
        return str(base)
    text = f"{Decimal(base) / 1000:f}".rstrip("0").rstrip(".") if base % 1000 else str(base // 1000)
    return f"{text} {'kg' if unit == 'kg' else 'L'}"


def format_measure(base: int, unit: str) -> str:
    """Counter documents show a scale's three decimals: 1250 g -> '1.250 kg'; 2 -> '2'."""
    if unit == "piece":
        return str(base)
    whole, part = divmod(abs(base), 1000)
    return f"{'-' if base < 0 else ''}{whole}.{part:03d} {'kg' if unit == 'kg' else 'L'}"
