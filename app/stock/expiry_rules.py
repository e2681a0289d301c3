"""The expiry page's rules (issue #17): how many days ahead it looks, and the mark-down
label -- a lower price in a barcode the till's price-embedded scale rule reads.

No I/O and no clock (``today`` is a parameter); the service (expiry.py) loads the
batches and records the moves.

Decisions worth knowing:

* The page looks ``stock.expiry_days_ahead`` days ahead (``DEFAULT_DAYS``, 7, unless
  the store's settings say otherwise; config.py holds the same 0 to ``MAX_DAYS`` bound)
  or what the manager types, 0 to ``MAX_DAYS`` (0: what expires today or has expired).
* A mark-down label is an EAN-13 of the store's price rule (``kind = "price"``; the one
  with prefix 22 when there are several): the product's in-store code for that rule
  (its item code, value digits 0, as the catalogue lists it) with the new price in the
  value digits. The till's ``parse_scan`` reads it back to the same product at that
  price. A product without such a code cannot be marked down: a code the store made up
  would not be in the hub's catalogue, and the hub's next update removes store-made codes.
* The new price must be above zero and below the current one; a label says what one
  piece costs, so products sold by weight or volume are marked down at the scale.
"""

import datetime
import re
from collections.abc import Iterable, Sequence

from app.catalog.barcodes import BarcodeError, MeasureRule, make_variable_barcode, parse_scan
from app.core.i18n import _
from app.core.money import format_amount

__all__ = [
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "MAX_LABELS",
    "ExpiryError",
    "days_left",
    "label_item_code",
    "markdown_barcode",
    "parse_days",
    "parse_labels",
    "price_rule",
]

DEFAULT_DAYS = 7
MAX_DAYS = 90
MAX_LABELS = 100  # labels printed by one tap
PRICE_PREFIX = "22"

_WHOLE = re.compile(r"[0-9]{1,6}")


class ExpiryError(ValueError):
    """A request the expiry page refuses; ``str(e)`` is shown to staff as is."""


def parse_days(text: str | None, default: int = DEFAULT_DAYS) -> int:
    """Days ahead the page looks, as typed (empty: ``default``, the store's setting)."""
    cleaned = (text or "").strip()
    if not cleaned:
        return default
    if _WHOLE.fullmatch(cleaned) is None or int(cleaned) > MAX_DAYS:
        raise ExpiryError(_("days ahead must be a whole number from 0 to %(most)s")
                          % {"most": MAX_DAYS})
    return int(cleaned)


def parse_labels(text: str | None, on_hand: int) -> int:
    """How many mark-down labels to print: 1 up to what is on the shelf (at most 100)."""
    cleaned = (text or "").strip()
    most = max(1, min(on_hand, MAX_LABELS))
    if _WHOLE.fullmatch(cleaned) is None or not 1 <= int(cleaned) <= most:
        raise ExpiryError(_("labels must be a whole number from 1 to %(most)s") % {"most": most})
    return int(cleaned)


def days_left(expiry: datetime.date, today: datetime.date) -> int:
    """Days until the expiry date: 0 on the day itself (still sellable), -1 the day after."""
    return (expiry - today).days


def price_rule(rules: Sequence[MeasureRule]) -> MeasureRule | None:
    """The store's price-embedded rule: prefix 22 if there is one, else the first."""
    priced = [r for r in rules if r.kind == "price"]
    return next((r for r in priced if r.prefix == PRICE_PREFIX), priced[0] if priced else None)


def _item_positions(rule: MeasureRule) -> list[int]:
    symbols = rule.pattern.replace("{", "").replace("}", "")
    return [i for i, char in enumerate(symbols) if char == "."]


def label_item_code(rule: MeasureRule, codes: Iterable[str]) -> str | None:
    """The item code of the product's in-store code for ``rule`` (value digits 0), if it
    has one among ``codes`` (its barcodes as the catalogue stores them)."""
    for code in sorted(codes):
        if len(code) != 13 or not code.startswith(rule.prefix):
            continue
        try:
            scan = parse_scan(code, (rule,))
        except BarcodeError:
            continue
        if scan.rule_name == rule.name and scan.lookup_code == code and not scan.price_minor:
            return "".join(code[i] for i in _item_positions(rule))
    return None


def markdown_barcode(rule: MeasureRule, item_code: str, current_minor: int,
                     new_minor: int) -> str:
    """The label's EAN-13 for one piece at ``new_minor`` paise, refused unless lower
    than the current price (and above zero)."""
    if isinstance(new_minor, bool) or not isinstance(new_minor, int) or new_minor <= 0:
        raise ExpiryError(_("the new price must be more than zero"))
    if new_minor >= current_minor:
        raise ExpiryError(_("the new price %(new)s is not lower than today's %(now)s; a "
                            "mark-down must be lower")
                          % {"new": format_amount(new_minor), "now": format_amount(current_minor)})
    try:
        return make_variable_barcode(rule, item_code, new_minor)
    except BarcodeError as exc:
        raise ExpiryError(_("this label cannot carry %(price)s: %(reason)s")
                          % {"price": format_amount(new_minor), "reason": exc}) from None
