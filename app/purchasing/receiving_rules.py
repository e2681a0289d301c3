"""Receiving goods (GRN, issue #17): the rules, without I/O and without a clock.

* :func:`read_scan`: what one scan at the receiving bay means: the codes to look the
  product up by, whether it is a case (a GTIN-14 with a packaging indicator 1-8, which
  counts as its pack size) and the batch, expiry and count a GS1 element string carries
  (AI 10, 17 by GS1's century rule, 30/37).
* :func:`scan_quantity`: cases or pieces -> base units; a case with no known pack size
  is refused.
* :func:`check_line`: the over-receipt policy and the other warnings a line needs a
  confirm for (more than ordered + one case, an item not on the order, an expiry that
  has passed), and the refusals (a batch on a product that keeps none, no batch or
  expiry where one is kept).
* :func:`differences`: the summary the manager signs: short, excess, damaged, wrong item.
* :func:`moving_average`: the product's average cost after a receipt.
* Parsers for the typed fields (count, batch, expiry, reason): every hostile text
  (NaN, inf, 2**63, 100 KB, NUL bytes) is a :class:`ReceivingError` with words for staff.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from app.catalog.barcodes import MAX_SCAN_LENGTH, BarcodeError, MeasureRule, parse_scan
from app.catalog.gs1 import PACKAGING_LEVELS, GS1Error, parse_element_string, piece_gtin
from app.core.i18n import N_, _, ngettext, number

MAX_COUNT = 9_999  # cases or pieces in one scan line
MAX_LINE_UNITS = 1_000_000  # base units in one line (pieces, or grams/ml: a tonne)
MAX_BATCH = 20  # stock_levels.batch
MAX_REASON = 120
MAX_REF = 40
MAX_EXPIRY_YEARS = 30  # an expiry further out than this is a typo
MAX_COST_MINOR = 10_000_000  # ₹1 lakh for one case (rules.MAX_CASE_COST_MINOR)
# GS1 AI encodable character set 82: what a batch on a label may hold.
_BATCH_RE = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}")
_COUNT_RE = re.compile(r"[0-9]{1,4}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_GTIN14 = re.compile(r"[0-9]{14}")

KINDS = ("short", "excess", "damaged", "wrong_item")
KIND_LABELS = {"short": N_("Short"), "excess": N_("Excess"), "damaged": N_("Damaged"),
               "wrong_item": N_("Not on the order")}  # English; translated where shown
WARNINGS = ("over", "not_ordered", "expired")


class ReceivingError(ValueError):
    """A refused receiving step; ``str(e)`` is shown to staff as it is."""


class UnknownPackSize(ReceivingError):
    pass


def _shown(text: str) -> str:
    text = _CONTROL.sub("?", text)
    return repr(text if len(text) <= 20 else text[:20] + "…")


# --- one scan ------------------------------------------------------------------------


@dataclass(frozen=True)
class ScannedCode:
    """What a scan means for receiving. ``codes``: barcode-table codes to try, in order
    (for a case: the piece's GTIN first, then the case code itself); ``sku``: a typed
    text tried as a SKU; ``case``: the code is a case GTIN-14."""

    raw: str
    codes: tuple[str, ...]
    sku: str = ""
    case: bool = False
    count: int | None = None
    batch: str | None = None
    expiry: date | None = None
    weight_g: int | None = None


def read_scan(raw: str, today: date, rules: Sequence[MeasureRule] = ()) -> ScannedCode:
    """Parse one scan; raises ReceivingError with the scanner's problem in plain words."""
    if not isinstance(raw, str):
        raise ReceivingError(_("not a barcode"))
    if len(raw) > 4 * MAX_SCAN_LENGTH:  # before any regex walks a hostile string
        raise ReceivingError(
            ngettext("not a barcode: too long (at most %(num)d character)",
                     "not a barcode: too long (at most %(num)d characters)", MAX_SCAN_LENGTH)
            % {"num": MAX_SCAN_LENGTH})
    try:
        scan = parse_scan(raw, rules)
    except BarcodeError as exc:
        raise ReceivingError(str(exc)) from None
    batch, expiry, count = scan.batch, scan.expiry, scan.quantity
    gtin: str | None = None
    if scan.symbology == "gs1":
        try:
            data = parse_element_string(raw, today)  # GS1's century rule for the expiry
        except GS1Error as exc:
            raise ReceivingError(str(exc)) from None
        gtin, batch, expiry, count = data.gtin, data.batch, data.expiry, data.count
        if gtin is None:
            raise ReceivingError(_("this code carries no product number (GS1 AI 01 or 02)"))
    elif scan.symbology == "gtin14" and _GTIN14.fullmatch(scan.lookup_code):
        gtin = scan.lookup_code  # indicator 1-9 (0 became the piece's GTIN-13)
    if gtin is not None and len(gtin) == 14 and gtin[0] in PACKAGING_LEVELS:
        piece = piece_gtin(gtin)
        assert piece is not None
        return ScannedCode(raw=scan.raw, codes=(piece, gtin), case=True, count=count,
                           batch=batch, expiry=expiry, weight_g=scan.weight_g)
    sku = scan.lookup_code.upper() if scan.symbology == "text" else ""
    return ScannedCode(raw=scan.raw, codes=(scan.lookup_code,), sku=sku, count=count,
                       batch=batch, expiry=expiry, weight_g=scan.weight_g)


def scan_quantity(unit: str, count: int, pack_size: int | None) -> int:
    """Base units (pieces, grams, ml) of ``count`` cases or pieces."""
    if unit not in ("case", "piece"):
        raise ReceivingError(_("unit %(unit)s must be case or piece") % {"unit": _shown(str(unit))})
    if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= MAX_COUNT:
        raise ReceivingError(_("how many must be a whole number from 1 to %(max)s")
                             % {"max": number(MAX_COUNT)})
    if unit == "piece":
        return count
    if pack_size is None or pack_size <= 0:
        raise UnknownPackSize(_(
            "this is a case code, but what a case holds is not known: the product is not "
            "on the order and the supplier does not list it. Scan a piece instead, or add "
            "the product to the supplier with its pack size"))
    units = count * pack_size
    if units > MAX_LINE_UNITS:
        raise ReceivingError(_("%(count)s cases of %(size)s is too many for one line")
                             % {"count": number(count), "size": number(pack_size)})
    return units


# --- typed fields --------------------------------------------------------------------


def _too_long(what: str, limit: int) -> ReceivingError:
    return ReceivingError(ngettext("%(what)s is too long (at most %(num)d character)",
                                   "%(what)s is too long (at most %(num)d characters)", limit)
                          % {"what": what, "num": limit})


def _clean(text: object, what: str, limit: int) -> str:
    """`what` names the field in the message (English, or already in the reader's
    language: a name it has no translation for is shown as it is)."""
    what = _(what)
    if not isinstance(text, str):
        raise ReceivingError(_("%(what)s is not text") % {"what": what})
    if len(text) > limit * 4:
        raise _too_long(what, limit)
    cleaned = text.strip()
    bad = _CONTROL.search(cleaned)
    if bad is not None:
        raise ReceivingError(_("%(what)s has a control character at position %(position)s")
                             % {"what": what, "position": bad.start() + 1})
    if len(cleaned) > limit:
        raise _too_long(what, limit)
    return cleaned


def parse_count(text: object) -> int:
    """How many cases or pieces were scanned: 1 to 9,999 (digits only: no NaN, inf, 1e3)."""
    cleaned = _clean(text, N_("how many"), 24)
    if not _COUNT_RE.fullmatch(cleaned) or not 0 < int(cleaned) <= MAX_COUNT:
        raise ReceivingError(_("how many %(value)s must be a whole number from 1 to %(max)s")
                             % {"value": _shown(cleaned), "max": number(MAX_COUNT)})
    return int(cleaned)


def parse_batch(text: object) -> str:
    """'' or a batch as printed on the label (GS1 characters, at most 20)."""
    cleaned = _clean(text, N_("batch"), MAX_BATCH)
    if cleaned and not _BATCH_RE.fullmatch(cleaned):
        raise ReceivingError(_("batch %(value)s may hold letters, digits and - / . only")
                             % {"value": _shown(cleaned)})
    return cleaned


def parse_expiry(text: object, today: date) -> date | None:
    """None (empty) or a date like 2026-12-31, not more than 30 years away."""
    cleaned = _clean(text, N_("expiry"), 10)
    if not cleaned:
        return None
    not_a_date = _("expiry %(value)s is not a date like 2026-12-31") % {"value": _shown(cleaned)}
    try:
        day = date.fromisoformat(cleaned)
    except ValueError:
        raise ReceivingError(not_a_date) from None
    if len(cleaned) != 10:
        raise ReceivingError(not_a_date)
    if day > today + timedelta(days=365 * MAX_EXPIRY_YEARS):
        raise ReceivingError(ngettext("expiry %(date)s is more than %(num)d year away; check "
                                      "the date", "expiry %(date)s is more than %(num)d years "
                                      "away; check the date", MAX_EXPIRY_YEARS)
                             % {"date": day.isoformat(), "num": MAX_EXPIRY_YEARS})
    return day


def parse_text(text: object, what: str, limit: int) -> str:
    """A free text (a reason, the supplier's bill number): no control characters."""
    return " ".join(_clean(text, what, limit).split())


# --- one line: what needs a confirm, what is refused ---------------------------------


@dataclass(frozen=True)
class LineCheck:
    """One line about to be added. ``ordered``: the order line in base units (None: the
    product is not on the order; with ``has_order`` False there is no order at all);
    ``before``: what this order already had of it (earlier receipts and this one's
    lines)."""

    quantity: int
    pack_size: int
    tracks_expiry: bool
    batch: str
    expiry: date | None
    has_order: bool
    ordered: int | None
    before: int


def over_limit(ordered: int, pack_size: int) -> int:
    """The most of an order line received without a confirm: what was ordered and one
    case more (a supplier rounding up to a full case is normal; more is a mistake)."""
    return ordered + max(pack_size, 1)


def check_line(line: LineCheck, today: date) -> list[str]:
    """Refuse (ReceivingError) what can never be right; return the warnings
    (``WARNINGS``) a person must confirm before the line is added."""
    if line.quantity <= 0 or line.quantity > MAX_LINE_UNITS:
        raise ReceivingError(_("the quantity must be more than zero and at most a tonne "
                               "(%(max)s pieces)") % {"max": number(MAX_LINE_UNITS)})
    if not line.tracks_expiry:
        if line.batch or line.expiry:
            raise ReceivingError(_(
                "this product does not track expiry, so it keeps no batch or expiry: leave "
                "them empty (or have the catalogue mark it as tracking expiry)"))
    elif not line.batch or line.expiry is None:
        raise ReceivingError(_("this product tracks expiry: enter the batch and the expiry "
                               "date printed on the pack"))
    warnings: list[str] = []
    if line.has_order:
        if line.ordered is None:
            warnings.append("not_ordered")
        elif line.before + line.quantity > over_limit(line.ordered, line.pack_size):
            warnings.append("over")
    if line.expiry is not None and line.expiry < today:
        warnings.append("expired")
    return warnings


def warning_text(kind: str, *, name: str, ordered: int | None = None, total: int = 0,
                 expiry: date | None = None, po: str = "") -> str:
    if kind == "over":
        return _("%(name)s: %(total)s would be received against %(ordered)s ordered on "
                 "%(order)s. Count again; if the supplier really sent that many, confirm.") % {
                     "name": name, "total": number(total), "ordered": number(ordered or 0),
                     "order": po}
    if kind == "not_ordered":
        return _("%(name)s is not on %(order)s. Receive it anyway only if you keep it.") % {
            "name": name, "order": po}
    if kind == "expired":
        return _("%(name)s: the expiry %(date)s has already passed. Receive it only if you "
                 "mean to.") % {"name": name, "date": expiry.isoformat() if expiry else ""}
    return kind


# --- the summary the manager signs ---------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One product of a receipt: what the order expected of it now (None: not on the
    order, or no order), and what came in good and damaged (base units)."""

    product_id: str
    expected: int | None
    good: int
    damaged: int


@dataclass(frozen=True)
class Difference:
    product_id: str
    expected: int | None
    good: int
    damaged: int
    kinds: tuple[str, ...] = field(default_factory=tuple)

    @property
    def delivered(self) -> int:
        return self.good + self.damaged

    @property
    def short(self) -> int:
        return max(0, (self.expected or 0) - self.delivered) if self.expected is not None else 0

    @property
    def excess(self) -> int:
        return max(0, self.delivered - self.expected) if self.expected is not None else 0


def differences(lines: Iterable[Received], *, has_order: bool) -> list[Difference]:
    """Each product's difference kinds: short or excess against the order, damaged,
    or wrong item (received against an order that does not have it)."""
    out = []
    for ln in lines:
        kinds: list[str] = []
        delivered = ln.good + ln.damaged
        if has_order and ln.expected is None and delivered:
            kinds.append("wrong_item")
        if ln.expected is not None:
            if delivered < ln.expected:
                kinds.append("short")
            elif delivered > ln.expected:
                kinds.append("excess")
        if ln.damaged:
            kinds.append("damaged")
        out.append(Difference(ln.product_id, ln.expected, ln.good, ln.damaged, tuple(kinds)))
    return out


def missing_reasons(diffs: Iterable[Difference], reasons: dict[str, str]) -> list[str]:
    """Product ids with a difference and no reason."""
    return [d.product_id for d in diffs if d.kinds and not reasons.get(d.product_id, "").strip()]


# --- cost ---------------------------------------------------------------------------


def value_of(quantity: int, case_cost_minor: int, pack_size: int) -> int:
    """What ``quantity`` base units cost at ``case_cost_minor`` a case, half up."""
    if pack_size <= 0:
        raise ReceivingError(_("pack size must be more than zero"))
    return (2 * quantity * case_cost_minor + pack_size) // (2 * pack_size)


@dataclass(frozen=True)
class AverageCost:
    """The cost of ``quantity`` base units is ``value_minor`` paise (kept exact: a gram of
    a loose good costs a fraction of a paisa); ``per_unit_minor`` is rounded half up."""

    quantity: int
    value_minor: int

    @property
    def per_unit_minor(self) -> int:
        if self.quantity <= 0:
            return 0
        return (2 * self.value_minor + self.quantity) // (2 * self.quantity)


def moving_average(old: AverageCost | None, on_hand: int, received: int,
                   received_value: int) -> AverageCost:
    """The moving-average cost after a receipt. The stock already there (``on_hand``,
    before the receipt) is valued at the old average; stock at or below zero, or no
    average yet, means the receipt's own cost is the new average."""
    if received <= 0:
        raise ReceivingError(_("a receipt adds more than zero"))
    if received_value < 0:
        raise ReceivingError(_("a cost cannot be negative"))
    if old is None or old.quantity <= 0 or on_hand <= 0:
        return AverageCost(received, received_value)
    kept = (2 * on_hand * old.value_minor + old.quantity) // (2 * old.quantity)
    return AverageCost(on_hand + received, kept + received_value)


def grn_label(number: int) -> str:
    return f"GRN-{number:06d}"
