"""GSTR-1 from a month's documents: the sections an accountant files. Pure, no I/O.

Input is plain data (:class:`Document`, :class:`Line`), so the store (app/reports/
gstr1_data.py) and the hub build the same return from their own tables. Amounts are
integer paise, signed as the document carries them (a credit note's lines are positive;
the builder subtracts them where the return nets them). Every per-rate row goes through
:func:`app.core.gst.tax_rows` (one rounding rule: CGST = SGST = half of the row's GST;
inter-state: IGST = the row's GST).

Sections (docs/gstr1.md says why each goes where):

- B2B (table 4A): invoices to a registered buyer (``doc_kind == 'b2b'``), per invoice
  per rate.
- B2CL (table 5): inter-state invoices to an unregistered buyer whose value is above
  :data:`B2CL_THRESHOLD_MINOR`.
- B2CS (table 7): every other B2C supply, per place of supply and rate, type OE, net of
  the refunds (credit notes) of those supplies in the month.
- CDNR (table 9B): credit notes to registered buyers. CDNUR (9B): credit notes to
  unregistered buyers on a B2CL invoice (the only unregistered notes the return lists;
  the others net into B2CS).
- Nil (table 8): lines rated 0 % (nil-rated goods), by INTRA/INTER and B2B/B2C, net of
  credit notes. They are not repeated in B2B/B2CL/B2CS/CDNR/CDNUR rows.
- HSN (table 12): per HSN, UQC and rate, split into the B2B and B2C tables the portal
  asks for since 2025 (phase III), net of credit notes, nil-rated lines included.
- Documents (table 13): per number series, first and last number, count, cancelled.

Bills of supply (``doc_kind == 'bos'``, composition scheme): a composition dealer
files CMP-08 and GSTR-4, not GSTR-1, so they are left out of every section and counted
in :attr:`Gstr1.excluded` with a note.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from app.core.gst import tax_rows
from app.core.i18n import _, ngettext

__all__ = [
    "B2CL_THRESHOLD_MINOR", "Line", "Document", "RateRow", "Invoice", "Note", "B2csRow",
    "NilRow", "HsnRow", "DocSeries", "Figures", "Excluded", "Gstr1", "build", "uqc_of",
    "is_inter_state", "parse_month", "DocKind",
]

# B2C Large: an inter-state invoice to an unregistered person whose value is MORE than
# this. Rs 2,50,000 until July 2024; Rs 1,00,000 for invoices from 1 August 2024
# (Notification 12/2024-Central Tax of 10 July 2024, rule 59(4)(b)/section 37 read with
# CBIC's change to table 5). Compared with the invoice value (tax and rounding included).
B2CL_THRESHOLD_MINOR = 1_00_000 * 100
MAX_AMOUNT = 2**53  # paise (about Rs 90 lakh crore): what a JSON number holds exactly

DocKind = Literal["b2c", "b2b", "bos"]
Kind = Literal["invoice", "credit_note"]
_STATE = re.compile(r"[0-9]{2}")
UQC = {"piece": "NOS", "kg": "KGS", "litre": "LTR"}  # catalogue unit -> GST unit quantity code


def uqc_of(unit: str) -> str:
    """The catalogue's unit as a UQC; an unknown unit is OTH (others)."""
    return UQC.get(unit, "OTH")


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a document. ``quantity`` is in the unit's base (pieces, grams, ml)."""

    hsn: str
    unit: str  # piece | kg | litre ('' in the hub's event lines: its catalogue says)
    quantity: int
    rate_bp: int
    taxable: int
    cgst: int
    sgst: int
    igst: int = 0

    @property
    def tax(self) -> int:
        return self.cgst + self.sgst + self.igst

    @property
    def amount(self) -> int:
        return self.taxable + self.tax


@dataclass(frozen=True, slots=True)
class Document:
    """A sale (invoice) or a refund (credit note) as the return sees it.

    ``place_of_supply`` is the 2-digit state code, '' for the store's own state.
    A credit note carries the doc_kind, buyer and place of supply of the invoice it
    refunds, and that invoice's number, date and value (``original_*``).
    ``value`` is the document's total as printed (rounding included); None: its lines.
    """

    kind: Kind
    number: str
    date: dt.date
    doc_kind: DocKind
    store_state: str
    lines: tuple[Line, ...]
    buyer_gstin: str = ""
    buyer_name: str = ""
    place_of_supply: str = ""
    value: int | None = None
    original_number: str = ""
    original_date: dt.date | None = None
    original_value: int = 0

    @property
    def pos(self) -> str:
        return self.place_of_supply or self.store_state

    @property
    def inter_state(self) -> bool:
        """As the document was taxed: IGST on a line says inter-state, CGST/SGST says
        within; only a document with no tax at all is judged by its place of supply
        (a hub that does not know the store's state must not turn IGST into halves)."""
        if any(x.igst for x in self.lines):
            return True
        if any(x.cgst or x.sgst for x in self.lines):
            return False
        return is_inter_state(self.place_of_supply, self.store_state)

    @property
    def total(self) -> int:
        return self.value if self.value is not None else sum(x.amount for x in self.lines)


_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


def parse_month(text: str, today: dt.date) -> tuple[int, int]:
    """'2026-11' -> (2026, 11). A return is for a month that has begun: a month not
    written YYYY-MM, month 00 or 13, or a month after `today`'s is refused (ValueError,
    one line for the shop's manager)."""
    shown = repr(text[:20] + ("..." if len(text) > 20 else ""))
    m = _MONTH.fullmatch(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ValueError(_("%(month)s is not a month: write it as YYYY-MM, like 2026-11")
                         % {"month": shown})
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12 or year < 2017:
        raise ValueError(_("%(month)s is not a month of GST (months 01 to 12, from 2017)")
                         % {"month": shown})
    if (year, month) > (today.year, today.month):
        raise ValueError(_("%(month)s has not begun yet: choose %(now)s or an earlier month")
                         % {"month": text.strip(), "now": f"{today.year:04d}-{today.month:02d}"})
    return year, month


def is_inter_state(place_of_supply: str, store_state: str) -> bool:
    """As the till decides (app.core.gst_invoice.is_inter_state): a place of supply other
    than the store's own state; an unknown own state counts as within the state."""
    return bool(store_state and place_of_supply and place_of_supply != store_state)


@dataclass(frozen=True, slots=True)
class Figures:
    """Taxable value, GST and the two together, in paise."""

    taxable: int = 0
    tax: int = 0

    @property
    def total(self) -> int:
        return self.taxable + self.tax

    def __add__(self, other: Figures) -> Figures:
        return Figures(self.taxable + other.taxable, self.tax + other.tax)

    def __sub__(self, other: Figures) -> Figures:
        return Figures(self.taxable - other.taxable, self.tax - other.tax)


@dataclass(frozen=True, slots=True)
class RateRow:
    rate_bp: int
    taxable: int
    igst: int
    cgst: int
    sgst: int

    @property
    def tax(self) -> int:
        return self.igst + self.cgst + self.sgst

    @property
    def figures(self) -> Figures:
        return Figures(self.taxable, self.tax)


@dataclass(frozen=True, slots=True)
class Invoice:
    """A B2B or B2CL invoice: rated rows only (nil-rated lines are in table 8)."""

    number: str
    date: dt.date
    value: int
    pos: str
    rows: tuple[RateRow, ...]
    ctin: str = ""  # B2B: the buyer's GSTIN
    buyer_name: str = ""
    inter_state: bool = False  # the rows carry IGST


@dataclass(frozen=True, slots=True)
class Note:
    """A credit note in CDNR (ctin set) or CDNUR (ur_type 'B2CL'); amounts positive."""

    number: str
    date: dt.date
    value: int
    pos: str
    rows: tuple[RateRow, ...]
    original_number: str
    original_date: dt.date | None
    ctin: str = ""
    buyer_name: str = ""
    ur_type: str = ""
    note_type: str = "C"
    inter_state: bool = False


@dataclass(frozen=True, slots=True)
class B2csRow:
    pos: str
    rate_bp: int
    inter_state: bool
    taxable: int
    igst: int
    cgst: int
    sgst: int

    @property
    def supply_type(self) -> str:
        return "INTER" if self.inter_state else "INTRA"

    @property
    def tax(self) -> int:
        return self.igst + self.cgst + self.sgst


@dataclass(frozen=True, slots=True)
class NilRow:
    """Table 8: nil-rated supplies of one type (INTRAB2B, INTRAB2C, INTRB2B, INTRB2C)."""

    supply_type: str
    nil: int
    exempt: int = 0
    non_gst: int = 0


@dataclass(frozen=True, slots=True)
class HsnRow:
    """Table 12, one HSN/UQC/rate; ``quantity`` in the unit's base (pieces, g, ml)."""

    table: Literal["b2b", "b2c"]
    hsn: str
    uqc: str
    rate_bp: int
    quantity: int
    taxable: int
    igst: int
    cgst: int
    sgst: int

    @property
    def tax(self) -> int:
        return self.igst + self.cgst + self.sgst

    @property
    def value(self) -> int:
        return self.taxable + self.tax


@dataclass(frozen=True, slots=True)
class DocSeries:
    """Table 13: one series of one nature of document."""

    nature: str  # "Invoices for outward supply" | "Credit Note"
    first: str
    last: str
    total: int
    cancelled: int = 0

    @property
    def net_issued(self) -> int:
        return self.total - self.cancelled

    @property
    def doc_num(self) -> int:
        return 1 if self.nature == INVOICES else 5


INVOICES = "Invoices for outward supply"
CREDIT_NOTES = "Credit Note"


@dataclass(frozen=True, slots=True)
class Excluded:
    """Documents left out of the return (bills of supply): how many and their value."""

    invoices: int = 0
    credit_notes: int = 0
    figures: Figures = Figures()


@dataclass(frozen=True)
class Gstr1:
    year: int
    month: int
    gstin: str
    b2b: tuple[Invoice, ...] = ()
    b2cl: tuple[Invoice, ...] = ()
    b2cs: tuple[B2csRow, ...] = ()
    cdnr: tuple[Note, ...] = ()
    cdnur: tuple[Note, ...] = ()
    nil: tuple[NilRow, ...] = ()
    hsn: tuple[HsnRow, ...] = ()
    docs: tuple[DocSeries, ...] = ()
    excluded: Excluded = Excluded()
    notes: tuple[str, ...] = field(default=())

    @property
    def fp(self) -> str:
        """The return period as the portal writes it: MMYYYY."""
        return f"{self.month:02d}{self.year:04d}"

    def section_figures(self) -> dict[str, Figures]:
        """Each section's taxable value and GST (credit notes positive, as filed)."""

        def rows(invs: Iterable[Invoice | Note]) -> Figures:
            return _sum(r.figures for i in invs for r in i.rows)

        return {
            "b2b": rows(self.b2b),
            "b2cl": rows(self.b2cl),
            "b2cs": _sum(Figures(r.taxable, r.tax) for r in self.b2cs),
            "cdnr": rows(self.cdnr),
            "cdnur": rows(self.cdnur),
            "nil": _sum(Figures(r.nil + r.exempt + r.non_gst, 0) for r in self.nil),
        }

    @property
    def supplies(self) -> Figures:
        """The month's outward supplies net of credit notes: what the return adds up to."""
        f = self.section_figures()
        return f["b2b"] + f["b2cl"] + f["b2cs"] + f["nil"] - f["cdnr"] - f["cdnur"]

    @property
    def hsn_figures(self) -> Figures:
        return _sum(Figures(r.taxable, r.tax) for r in self.hsn)

    @property
    def documents(self) -> Figures:
        """Every document of the month, the excluded bills of supply too (for the Z)."""
        return self.supplies + self.excluded.figures

    @property
    def empty(self) -> bool:
        return not (self.b2b or self.b2cl or self.b2cs or self.cdnr or self.cdnur or self.nil
                    or self.hsn or self.docs or self.excluded.invoices
                    or self.excluded.credit_notes)


def _sum(items: Iterable[Figures]) -> Figures:
    total = Figures()
    for f in items:
        total = total + f
    return total


def _rows(lines: Iterable[Line], inter_state: bool) -> tuple[RateRow, ...]:
    return tuple(RateRow(r.rate_bp, r.taxable, r.igst, r.cgst, r.sgst)
                 for r in tax_rows(((x.rate_bp, x.amount, x.tax) for x in lines),
                                   inter_state=inter_state))


def _check(doc: Document, year: int, month: int) -> None:
    n = doc.number
    if not isinstance(n, str) or not 1 <= len(n) <= 40 or not n.isprintable():
        raise ValueError(f"document number {str(n)[:20]!r} is not a bill or note number")
    if (doc.date.year, doc.date.month) != (year, month):
        raise ValueError(f"{doc.number}: dated {doc.date.isoformat()}, not in "
                         f"{year:04d}-{month:02d}")
    if doc.kind not in ("invoice", "credit_note"):
        raise ValueError(f"{doc.number}: kind {doc.kind!r} is neither invoice nor credit_note")
    if doc.doc_kind not in ("b2c", "b2b", "bos"):
        raise ValueError(f"{doc.number}: doc_kind {doc.doc_kind!r} is not b2c, b2b or bos")
    if doc.place_of_supply and not _STATE.fullmatch(doc.place_of_supply):
        raise ValueError(f"{doc.number}: place of supply {doc.place_of_supply[:20]!r} is "
                         "not a 2-digit state code")
    amounts = [doc.value, doc.original_value] if doc.value is not None else [doc.original_value]
    for x in doc.lines:
        amounts += [x.quantity, x.taxable, x.cgst, x.sgst, x.igst, x.rate_bp]
    for v in amounts:  # from another store's event (the hub): never a float, NaN or text
        if type(v) is not int or not -MAX_AMOUNT <= v <= MAX_AMOUNT:
            raise ValueError(f"{doc.number}: {str(v)[:20]!r} is not a whole number of paise "
                             "(or units) this return can hold")
    for x in doc.lines:
        if x.rate_bp < 0 or x.rate_bp > 10_000:
            raise ValueError(f"{doc.number}: GST rate {x.rate_bp} bp is out of range")
        if not isinstance(x.hsn, str) or len(x.hsn) > 8 or "\x00" in x.hsn:
            raise ValueError(f"{doc.number}: HSN {str(x.hsn)[:20]!r} is not an HSN code")


_SERIES = re.compile(r"^(.*?)([0-9]+)$")


def _series(nature: str, numbers: Sequence[str]) -> list[DocSeries]:
    """Numbers grouped by prefix (all but the trailing digits), ordered by their digits,
    one row per unbroken run, so every row's range holds exactly its total. Kirana never
    cancels an issued number (a voided cart gets none; a sale is undone by a refund), so
    ``cancelled`` is 0. A run breaks where a bill number went to a document listed
    elsewhere: a tax invoice (listed by its invoice number) or a bill of supply (left
    out of GSTR-1) takes the till's next bill number too."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for n in numbers:
        m = _SERIES.match(n)
        prefix, digits = (m.group(1), int(m.group(2))) if m else (n, 0)
        groups.setdefault(prefix, []).append((digits, n))
    out = []
    for _prefix, items in sorted(groups.items()):
        items.sort()
        start = 0
        for i in range(1, len(items) + 1):
            if i == len(items) or items[i][0] != items[i - 1][0] + 1:
                out.append(DocSeries(nature, items[start][1], items[i - 1][1], i - start))
                start = i
    return out


def build(year: int, month: int, gstin: str, documents: Iterable[Document]) -> Gstr1:
    """The month's GSTR-1 from its documents (all dated in the month, else ValueError)."""
    if not (1 <= month <= 12 and 1 <= year <= 9999):
        raise ValueError(f"{year}-{month}: not a month")
    b2b: list[Invoice] = []
    b2cl: list[Invoice] = []
    cdnr: list[Note] = []
    cdnur: list[Note] = []
    b2cs: dict[tuple[str, int, bool], list[int]] = {}
    nil: dict[str, int] = {}
    hsn_parts: dict[tuple[str, str, str, int, bool], list[tuple[int, int, int]]] = {}
    hsn_qty: dict[tuple[Literal["b2b", "b2c"], str, str, int], int] = {}
    invoice_numbers: list[str] = []
    note_numbers: list[str] = []
    ex_invoices = ex_notes = 0
    ex_figures = Figures()
    notes: list[str] = []
    bad_gstin: list[str] = []
    no_hsn = 0
    for doc in documents:
        _check(doc, year, month)
        credit = doc.kind == "credit_note"
        sign = -1 if credit else 1
        if doc.doc_kind == "bos":
            figs = _sum(Figures(x.taxable, x.tax) for x in doc.lines)
            if credit:
                ex_notes += 1
                ex_figures = ex_figures - figs
            else:
                ex_invoices += 1
                ex_figures = ex_figures + figs
            continue
        (note_numbers if credit else invoice_numbers).append(doc.number)
        inter = doc.inter_state
        registered = doc.doc_kind == "b2b"
        if registered and len(doc.buyer_gstin) != 15:
            bad_gstin.append(doc.number)
        rated = [x for x in doc.lines if x.rate_bp]
        nil_lines = [x for x in doc.lines if not x.rate_bp]
        if nil_lines:
            key = ("INTRB2" if inter else "INTRAB2") + ("B" if registered else "C")
            nil[key] = nil.get(key, 0) + sign * sum(x.amount for x in nil_lines)
        table: Literal["b2b", "b2c"] = "b2b" if registered else "b2c"
        for x in doc.lines:
            if not x.hsn:
                no_hsn += 1
            k = (table, x.hsn, uqc_of(x.unit), x.rate_bp)
            hsn_parts.setdefault((*k, inter), []).append((x.rate_bp, sign * x.amount,
                                                          sign * x.tax))
            hsn_qty[k] = hsn_qty.get(k, 0) + sign * x.quantity
        rows = _rows(rated, inter)
        if registered:
            if credit and rows:  # (a note of nil-rated goods only nets in the nil table)
                cdnr.append(Note(doc.number, doc.date, doc.total, doc.pos, rows,
                                 doc.original_number, doc.original_date, ctin=doc.buyer_gstin,
                                 buyer_name=doc.buyer_name, inter_state=inter))
            elif rows:
                b2b.append(Invoice(doc.number, doc.date, doc.total, doc.pos, rows,
                                   ctin=doc.buyer_gstin, buyer_name=doc.buyer_name,
                                   inter_state=inter))
            continue
        large = inter and (doc.original_value if credit else doc.total) > B2CL_THRESHOLD_MINOR
        if large:
            if credit and rows:
                cdnur.append(Note(doc.number, doc.date, doc.total, doc.pos, rows,
                                  doc.original_number, doc.original_date, ur_type="B2CL",
                                  inter_state=inter))
            elif rows:
                b2cl.append(Invoice(doc.number, doc.date, doc.total, doc.pos, rows,
                                    inter_state=inter))
            continue
        for r in rows:
            acc = b2cs.setdefault((doc.pos, r.rate_bp, inter), [0, 0, 0, 0])
            for i, v in enumerate((r.taxable, r.igst, r.cgst, r.sgst)):
                acc[i] += sign * v
    hsn: list[HsnRow] = []
    for (tbl, code, uqc, rate), qty in sorted(hsn_qty.items()):
        rows_ = (*tax_rows(hsn_parts.get((tbl, code, uqc, rate, False), ())),
                 *tax_rows(hsn_parts.get((tbl, code, uqc, rate, True), ()), inter_state=True))
        row = HsnRow(tbl, code, uqc, rate, qty, sum(r.taxable for r in rows_),
                     sum(r.igst for r in rows_), sum(r.cgst for r in rows_),
                     sum(r.sgst for r in rows_))
        if qty or row.taxable or row.tax:  # a line sold and refunded in the month nets out
            hsn.append(row)
    if ex_invoices or ex_notes:
        notes.append(_("%(bills)s and %(refunds)s of them are left out: a composition "
                       "dealer files CMP-08 and GSTR-4, not GSTR-1.") % {
            "bills": ngettext("%(num)s bill of supply", "%(num)s bills of supply",
                              ex_invoices) % {"num": ex_invoices},
            "refunds": ngettext("%(num)s refund", "%(num)s refunds", ex_notes)
            % {"num": ex_notes}})
    if bad_gstin:
        notes.append(_("B2B documents without a 15-character buyer GSTIN: %(numbers)s")
                     % {"numbers": ", ".join(bad_gstin[:10])
                        + (" ..." if len(bad_gstin) > 10 else "")})
    if no_hsn:
        notes.append(ngettext(
            "%(num)s line without an HSN code: the HSN table lists it with an empty code; "
            "add the HSN in the catalogue before filing.",
            "%(num)s lines without an HSN code: the HSN table lists them with an empty code; "
            "add the HSN in the catalogue before filing.", no_hsn) % {"num": no_hsn})
    if not gstin:
        notes.append(_("The store has no GSTIN in its config: the portal will not take the "
                       "JSON until store.gstin is set."))
    return Gstr1(
        year, month, gstin,
        b2b=tuple(sorted(b2b, key=lambda i: (i.ctin, i.date, i.number))),
        b2cl=tuple(sorted(b2cl, key=lambda i: (i.pos, i.date, i.number))),
        b2cs=tuple(B2csRow(pos, rate, inter, *acc)
                   for (pos, rate, inter), acc in sorted(b2cs.items())
                   if any(acc)),
        cdnr=tuple(sorted(cdnr, key=lambda n: (n.ctin, n.date, n.number))),
        cdnur=tuple(sorted(cdnur, key=lambda n: (n.date, n.number))),
        nil=tuple(NilRow(k, v) for k, v in sorted(nil.items()) if v),
        hsn=tuple(hsn),
        docs=tuple(_series(INVOICES, invoice_numbers) + _series(CREDIT_NOTES, note_numbers)),
        excluded=Excluded(ex_invoices, ex_notes, ex_figures),
        notes=tuple(notes),
    )
