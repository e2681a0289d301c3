"""The hub's reports (issue #18), the pure part: what a store's sale or refund event says
about its GST document, the chain overview's figures, its sorting and CSV rows, and the
store map's shapes. No I/O: app/hub/reports.py reads and writes, the pages show.

Events come from stores, so every field is checked here: a wrong type, a huge number or
a text with control characters becomes "not sent" (b2c, no HSN, the tax split by the one
rule in app/core/gst.py), never an exception that would stop the store's link.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from app.core.date_ranges import RangeError as RangeError  # (the pages catch it here)
from app.core.date_ranges import parse_date_range
from app.core.gst import half_of
from app.core.gstr1 import Line
from app.core.i18n import N_, _, ngettext

# --- a sale or refund event's GST document ------------------------------------------

DOC_KINDS = ("b2c", "b2b", "bos")
MONEY_LIMIT = 10**13  # paise (10^11 rupees): beyond it a figure is not a shop's
QUANTITY_LIMIT = 10**12
_HSN = re.compile(r"[0-9]{4,8}")
_GSTIN = re.compile(r"[0-9]{2}[0-9A-Z]{13}")
_STATE = re.compile(r"[0-9]{2}")
_DOC_NUMBER = re.compile(r"(?=.*[0-9])[0-9A-Za-z/\-]{1,16}")  # a serial has a digit
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
# GST rates in basis points a store may send; a rate outside 0..100 % is not a rate.
RATE_LIMIT = 10_000
# Refunds from a store older than issue #18 carry no rate per line: their tax is put at
# the standard rate nearest to tax / taxable (the totals stay exact either way).
STANDARD_RATES_BP = (0, 10, 25, 100, 150, 300, 500, 600, 1200, 1800, 2800, 4000)


@dataclass(frozen=True)
class Document:
    doc_kind: str  # b2c | b2b | bos
    doc_number: str | None  # tax invoice or credit note number
    buyer_gstin: str
    buyer_name: str
    place_of_supply: str  # 2-digit state code; '' = the store's own state
    sale_number: str  # a refund: the bill it refunds

    def columns(self) -> dict[str, object]:
        """The hub_sales columns this document fills."""
        return {"doc_kind": self.doc_kind, "doc_number": self.doc_number,
                "buyer_gstin": self.buyer_gstin, "buyer_name": self.buyer_name,
                "place_of_supply": self.place_of_supply, "sale_number": self.sale_number}


def whole(value: object, limit: int = MONEY_LIMIT) -> int | None:
    """A whole number within +-limit, or None (bools, floats, text, 2**63 are not)."""
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > limit:
        return None
    return value


def _text(value: object, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or len(value) > 40:
        return ""
    value = value.strip().upper() if pattern is _GSTIN else value.strip()
    return value if pattern.fullmatch(value) else ""


def plain_text(value: object, limit: int) -> str:
    """Printable text cut to `limit` characters ('' for anything not text)."""
    if not isinstance(value, str):
        return ""
    return " ".join(_CONTROL.sub("", value[: limit * 4]).split())[:limit]


def document(data: dict, refund: bool) -> Document:
    """The GST document facts of a `sale.completed` / `sale.refunded` event. An older
    store sends none of them: a B2C bill. A B2B document without a valid buyer GSTIN is
    not a B2B document the hub can report: it is kept as B2C."""
    kind = data.get("doc")
    doc_kind = kind if isinstance(kind, str) and kind in DOC_KINDS else "b2c"
    gstin = _text(data.get("buyer_gstin"), _GSTIN)
    if doc_kind == "b2b" and not gstin:
        doc_kind = "b2c"
    number = _text(data.get("credit_note_number" if refund else "invoice_number"),
                   _DOC_NUMBER) or None
    sale = plain_text(data.get("sale"), 24) if refund else ""
    return Document(doc_kind=doc_kind, doc_number=number, buyer_gstin=gstin,
                    buyer_name=plain_text(data.get("buyer_name"), 80),
                    place_of_supply=_text(data.get("place_of_supply"), _STATE),
                    sale_number=sale)


def _nearest_rate(taxable: int, tax: int) -> int:
    if taxable <= 0 or tax <= 0:
        return 0
    return min(STANDARD_RATES_BP, key=lambda r: abs(r * taxable - tax * 10_000))


def _split(tax: int, inter_state: bool) -> tuple[int, int, int]:
    """The one rule (app/core/gst.py): equal CGST/SGST halves, or all IGST."""
    if inter_state:
        return 0, 0, tax
    half = half_of(tax)
    return half, half, 0


def tax_lines(data: dict, refund: bool, doc: Document) -> tuple[Line, ...]:
    """The event's lines added up per HSN and rate (refunds negative), as the return's
    own lines (app/core/gstr1.Line; the unit is left '': the hub files it from its
    catalogue). A line's CGST, SGST and IGST are taken as sent when all three are whole
    numbers adding up to the line's GST; otherwise the group's GST is split by the one
    rule (inter-state when a place of supply is named). Lines that are not readable are
    left out."""
    lines = data.get("lines")
    if not isinstance(lines, list):
        return ()
    sign = -1 if refund else 1
    inter_state = bool(doc.place_of_supply)
    groups: dict[tuple[str, int], list[int]] = {}  # qty, amount, tax, cgst, sgst, igst, ok
    unrated: list[tuple[int, int, int, str]] = []  # an older store's refund lines
    for line in lines[:10_000]:
        if not isinstance(line, dict):
            continue
        quantity = whole(line.get("quantity"), QUANTITY_LIMIT)
        amount = whole(line.get("amount" if refund else "net"))
        if quantity is None or amount is None:
            continue
        parts = [whole(line.get(k)) for k in ("cgst", "sgst", "igst")]
        split_sent = all(p is not None for p in parts)
        tax = whole(line.get("tax"))
        if tax is None and split_sent:
            tax = sum(p for p in parts if p is not None)
        if tax is None:
            tax = 0
        hsn = _text(line.get("hsn"), _HSN)
        rate = whole(line.get("gst_rate_bp"), RATE_LIMIT)
        if rate is None or rate < 0:
            if refund:
                unrated.append((quantity, amount, tax, hsn))
                continue
            rate = 0
        ok = split_sent and sum(p or 0 for p in parts) == tax
        g = groups.setdefault((hsn, rate), [0, 0, 0, 0, 0, 0, 1])
        g[0] += quantity
        g[1] += amount
        g[2] += tax
        if ok:
            g[3] += parts[0] or 0
            g[4] += parts[1] or 0
            g[5] += parts[2] or 0
        else:
            g[6] = 0
    if unrated:
        _add_unrated(groups, unrated, data)
    out = []
    for (hsn, rate), (qty, amount, tax, cgst, sgst, igst, as_sent) in sorted(groups.items()):
        if not as_sent:
            cgst, sgst, igst = _split(tax, inter_state)
        out.append(Line(hsn=hsn, unit="", rate_bp=rate, quantity=sign * qty,
                        taxable=sign * (amount - cgst - sgst - igst), cgst=sign * cgst,
                        sgst=sign * sgst, igst=sign * igst))
    return tuple(out)


def _add_unrated(groups: dict[tuple[str, int], list[int]],
                 unrated: list[tuple[int, int, int, str]], data: dict) -> None:
    """An older store's refund: its lines carry the amount only and the event the GST
    in all of them; that GST goes to the lines in proportion to their amounts, at the
    standard rate nearest to the refund's own (tax / taxable)."""
    doc_tax = whole(data.get("tax"))
    total_amount = sum(a for _q, a, _t, _h in unrated)
    if doc_tax is None or total_amount <= 0 or not 0 <= doc_tax <= total_amount:
        doc_tax = sum(t for _q, _a, t, _h in unrated)
    rate = _nearest_rate(total_amount - doc_tax, doc_tax)
    left = doc_tax
    for i, (quantity, amount, _tax, hsn) in enumerate(unrated):
        share = left if i == len(unrated) - 1 else (
            doc_tax * amount // total_amount if total_amount > 0 else 0)
        left -= share
        g = groups.setdefault((hsn, rate), [0, 0, 0, 0, 0, 0, 1])
        g[0] += quantity
        g[1] += amount
        g[2] += share
        g[6] = 0


# --- date ranges --------------------------------------------------------------------

def date_range(start: str, end: str, today: date, default_days: int = 30
               ) -> tuple[date, date]:
    """The period a report covers, both days included (app/core/date_ranges.py, the one
    rule). Empty: the last `default_days` up to today. The wrong way round, unreadable,
    longer than a year, after today or before 2000: RangeError."""
    return parse_date_range(start, end, today, default_days=default_days, what="sale")


def days_of(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# --- the chain overview --------------------------------------------------------------


@dataclass(frozen=True)
class StoreFigures:
    """One store over the period. SLA: of the orders that were due (promised time
    passed, or handed over) and not cancelled, those handed over by the promised time."""

    store_id: str
    name: str
    kind: str
    lat: float
    lon: float
    sales: int = 0  # paise, sales less refunds
    bills: int = 0
    refunds: int = 0  # paise, positive
    orders: int = 0
    due: int = 0
    met: int = 0
    stock_outs: int = 0
    today_orders: int = 0
    today_due: int = 0
    today_met: int = 0

    @property
    def sla(self) -> float | None:
        return sla_percent(self.met, self.due)

    @property
    def today_sla(self) -> float | None:
        return sla_percent(self.today_met, self.today_due)

    @property
    def average_bill(self) -> int:
        return (self.sales + self.refunds) // self.bills if self.bills else 0


def sla_percent(met: int, due: int) -> float | None:
    """Met as a percentage of due (one decimal), None when nothing was due."""
    if due <= 0:
        return None
    return round(100 * min(met, due) / due, 1)


@dataclass(frozen=True)
class DayFigures:
    day: date
    sales: int = 0
    bills: int = 0
    orders: int = 0
    due: int = 0
    met: int = 0


SORTS = {  # column name -> (label, key); None sorts last either way
    "store": (N_("Store"), lambda f: f.store_id),
    "sales": (N_("Sales"), lambda f: f.sales),
    "bills": (N_("Bills"), lambda f: f.bills),
    "orders": (N_("Online orders"), lambda f: f.orders),
    "sla": (N_("SLA met"), lambda f: f.sla),
    "stockouts": (N_("Stock-outs"), lambda f: f.stock_outs),
}


def sort_stores(rows: Iterable[StoreFigures], column: str, descending: bool
                ) -> list[StoreFigures]:
    """Rows sorted by a column of the table (an unknown column sorts by store); stores
    with no figure (no SLA: nothing was due) go last whichever way."""
    key = SORTS.get(column, SORTS["store"])[1]
    rows = sorted(rows, key=lambda f: f.store_id)
    have = [f for f in rows if key(f) is not None]
    none = [f for f in rows if key(f) is None]
    return sorted(have, key=key, reverse=descending) + none


def chain_total(rows: Sequence[StoreFigures]) -> StoreFigures:
    total = StoreFigures(store_id="", name="All stores", kind="", lat=0.0, lon=0.0)
    for f in rows:
        total = replace(total, sales=total.sales + f.sales, bills=total.bills + f.bills,
                        refunds=total.refunds + f.refunds, orders=total.orders + f.orders,
                        due=total.due + f.due, met=total.met + f.met,
                        stock_outs=total.stock_outs + f.stock_outs,
                        today_orders=total.today_orders + f.today_orders,
                        today_due=total.today_due + f.today_due,
                        today_met=total.today_met + f.today_met)
    return total


CSV_COLUMNS = ("store", "name", "kind", "sales_rupees", "bills", "refunds_rupees",
               "average_bill_rupees", "online_orders", "orders_due", "orders_on_time",
               "sla_met_percent", "stock_outs_now")


def rupees(paise: int) -> str:
    sign = "-" if paise < 0 else ""
    return f"{sign}{abs(paise) // 100}.{abs(paise) % 100:02d}"


def csv_rows(rows: Sequence[StoreFigures]) -> list[list[object]]:
    """The overview as CSV rows (header first). Cells go through app/core/csv_safe."""
    out: list[list[object]] = [list(CSV_COLUMNS)]
    for f in rows:
        out.append([f.store_id, f.name, f.kind, rupees(f.sales), f.bills, rupees(f.refunds),
                    rupees(f.average_bill), f.orders, f.due, f.met,
                    "" if f.sla is None else f"{f.sla:.1f}", f.stock_outs])
    return out


# --- the store map -------------------------------------------------------------------


@dataclass(frozen=True)
class MapDot:
    store_id: str
    name: str
    x: float
    y: float
    r: float
    colour: str
    band: str  # words for the colour
    label: str


SLA_BANDS = (  # (at least %, colour, words)
    (95.0, "#0b6e4f", "SLA met 95% or more"),
    (80.0, "#b26a00", "SLA met 80% to 95%"),
    (0.0, "#b3261e", "SLA met under 80%"),
)
NO_SLA = ("#8a949b", "no orders due yet")


def sla_band(sla: float | None) -> tuple[str, str]:
    if sla is None or not math.isfinite(sla):
        return NO_SLA
    for floor, colour, words in SLA_BANDS:
        if sla >= floor:
            return colour, words
    return SLA_BANDS[-1][1], SLA_BANDS[-1][2]


def store_map(rows: Sequence[StoreFigures], width: float = 640, height: float = 400,
              margin: float = 36, r_min: float = 6, r_max: float = 26) -> tuple[MapDot, ...]:
    """Stores placed by latitude and longitude: an equirectangular projection (longitude
    scaled by the cosine of the middle latitude) fitted to the stores' bounding box, no
    map tiles. Dot area grows with today's orders; colour is today's SLA. One store, or
    stores at one point, sit in the middle; stores at the same point overlap (their
    labels still say each one's figures)."""
    placed = [f for f in rows if math.isfinite(f.lat) and math.isfinite(f.lon)
              and -90 <= f.lat <= 90 and -180 <= f.lon <= 180]
    if not placed or width <= 2 * margin or height <= 2 * margin:
        return ()
    lats = [f.lat for f in placed]
    lons = [f.lon for f in placed]
    mid = math.radians((min(lats) + max(lats)) / 2)
    xs = [lon * math.cos(mid) for lon in lons]
    span_x, span_y = max(xs) - min(xs), max(lats) - min(lats)
    inner_w, inner_h = width - 2 * margin, height - 2 * margin
    scale = min(inner_w / span_x if span_x > 0 else math.inf,
                inner_h / span_y if span_y > 0 else math.inf)
    if not math.isfinite(scale):
        scale = 0.0
    # centre the fitted box
    off_x = margin + (inner_w - span_x * scale) / 2
    off_y = margin + (inner_h - span_y * scale) / 2
    top = max((f.today_orders for f in placed), default=0)
    dots = []
    for f, x in zip(placed, xs, strict=True):
        share = math.sqrt(f.today_orders / top) if top > 0 and f.today_orders > 0 else 0.0
        colour, band = sla_band(f.today_sla)
        sla = (_("no orders due yet") if f.today_sla is None
               else _("SLA met %(percent)s%%") % {"percent": f"{f.today_sla:.1f}"})
        label = ngettext("%(store)s: %(num)d online order today, %(sla)s",
                         "%(store)s: %(num)d online orders today, %(sla)s", f.today_orders) % {
            "store": f"{f.store_id} {f.name}", "num": f.today_orders, "sla": sla}
        dots.append(MapDot(store_id=f.store_id, name=f.name,
                           x=round(off_x + (x - min(xs)) * scale, 1),
                           y=round(off_y + (max(lats) - f.lat) * scale, 1),
                           r=round(r_min + (r_max - r_min) * share, 1),
                           colour=colour, band=band, label=label))
    return tuple(dots)
