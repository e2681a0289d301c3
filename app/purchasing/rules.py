"""Supplier fields and purchase-order quantities: the rules every way in uses (the
supplier form, the supplier CSV, the suggested order). Pure: no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from stdnum.in_ import gstin as _gstin

from app.core.i18n import N_, _, number
from app.core.money import MAX_QUANTITY, MoneyError, parse_amount

NAME_MAX = 80
PHONE_RE = re.compile(r"\+?[0-9][0-9 -]{5,18}[0-9]")
MAX_LEAD_DAYS = 90  # a supplier who needs more than a quarter is a typo or not a supplier
MAX_PACK = 10_000  # pieces (or grams/ml) in one case
MAX_CASE_COST_MINOR = 10_000_000  # ₹1 lakh for one case
UNITS = ("case", "piece")  # how a purchase-order line is counted


class SupplierError(ValueError):
    """A supplier field that breaks a rule; the message names the field for staff."""


@dataclass(frozen=True)
class SupplierFields:
    name: str
    gstin: str = ""
    phone: str = ""
    lead_time_days: int = 1


def _shown(text: str) -> str:
    return repr(text if len(text) <= 20 else text[:20] + "…")


def check_name(text: str) -> str:
    name = " ".join((text or "").split())
    if not name:
        raise SupplierError(_("supplier name is empty"))
    if len(name) > NAME_MAX:
        raise SupplierError(_("supplier name is longer than %(max)s characters")
                            % {"max": NAME_MAX})
    return name


def check_gstin(text: str) -> str:
    """'' (not registered) or a GSTIN whose check character is right, in capitals."""
    cleaned = (text or "").strip().upper().replace(" ", "")
    if not cleaned:
        return ""
    if not _gstin.is_valid(cleaned):
        raise SupplierError(_("GSTIN %(gstin)s is not valid (15 characters; check the last "
                              "one against the supplier's bill)") % {"gstin": _shown(text.strip())})
    return cleaned


def check_phone(text: str) -> str:
    phone = " ".join((text or "").split())
    if phone and not PHONE_RE.fullmatch(phone):
        raise SupplierError(_("phone %(phone)s should be digits, like +91 98450 12345")
                            % {"phone": _shown(phone)})
    return phone


def _whole(text: str, what: str, low: int, high: int) -> int:
    cleaned = (text or "").strip()
    if not re.fullmatch(r"[0-9]{1,7}", cleaned) or not low <= int(cleaned) <= high:
        raise SupplierError(_("%(what)s %(value)s must be a whole number from %(low)s to "
                              "%(high)s") % {"what": _(what), "value": _shown(cleaned),
                                             "low": low, "high": number(high)})
    return int(cleaned)


def parse_lead_time(text: str) -> int:
    """Days from sending an order to the goods on the shelf: 0 (same day) to 90."""
    return _whole(text, N_("lead time"), 0, MAX_LEAD_DAYS)


def parse_pack_size(text: str) -> int:
    """Pieces (or grams/ml for loose goods) in one case: 1 to 10,000; empty = 1."""
    return 1 if not (text or "").strip() else _whole(text, N_("pack size"), 1, MAX_PACK)


def parse_case_cost(text: str) -> int:
    """The supplier's price for one case, in rupees -> paise (money.parse_amount)."""
    if not (text or "").strip():
        raise SupplierError(_("cost is empty"))
    try:
        minor = parse_amount(text)
    except MoneyError as exc:
        raise SupplierError(_("cost: %(problem)s") % {"problem": exc}) from None
    if not 0 < minor <= MAX_CASE_COST_MINOR:
        raise SupplierError(_("cost of a case must be more than zero and at most ₹1,00,000"))
    return minor


def parse_supplier(*, name: str, gstin: str = "", phone: str = "",
                   lead_time_days: str = "1") -> SupplierFields:
    return SupplierFields(name=check_name(name), gstin=check_gstin(gstin),
                          phone=check_phone(phone),
                          lead_time_days=parse_lead_time(lead_time_days or "1"))


def parse_line_quantity(text: str) -> int:
    """A purchase-order line's quantity: 0 (leave it out) to MAX_QUANTITY."""
    return _whole(text or "0", N_("quantity"), 0, MAX_QUANTITY)


def check_unit(text: str) -> str:
    unit = (text or "").strip().lower()
    if unit not in UNITS:
        raise SupplierError(_("unit %(unit)s must be case or piece") % {"unit": _shown(unit)})
    return unit


def base_quantity(quantity: int, unit: str, pack_size: int) -> int:
    """A line's quantity in pieces (or grams/ml): a case counts as its pack size."""
    return quantity * pack_size if unit == "case" else quantity


def line_cost(quantity: int, unit: str, pack_size: int, case_cost_minor: int) -> int:
    """What a line costs in paise; pieces are priced pro rata of the case, half up."""
    if unit == "case":
        return quantity * case_cost_minor
    return (2 * quantity * case_cost_minor + pack_size) // (2 * pack_size)


@dataclass(frozen=True)
class WantedLine:
    """A purchase-order line as the manager typed it: product, quantity (0 = leave it
    out) and unit (case or piece)."""

    product_id: str
    quantity: int
    unit: str = "case"


def parse_order_form(form: dict[str, str]) -> list[WantedLine]:
    """The lines of an order form: fields ``qty_<product id>`` and ``unit_<product id>``."""
    lines = []
    for key, value in form.items():
        if key.startswith("qty_"):
            pid = key[4:]
            lines.append(WantedLine(pid, parse_line_quantity(value),
                                    check_unit(form.get(f"unit_{pid}", "case"))))
    return lines


def parse_expected_date(text: str, today: date) -> date | None:
    """'' (not known yet) or a date like 2026-12-31, not before today."""
    cleaned = (text or "").strip()
    if not cleaned:
        return None
    try:
        day = date.fromisoformat(cleaned)
    except ValueError:
        raise SupplierError(_("expected date %(value)s is not a date like 2026-12-31")
                            % {"value": _shown(cleaned)}) from None
    if day < today:
        raise SupplierError(_("the expected date is in the past"))
    return day
