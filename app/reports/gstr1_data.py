"""The store's GSTR-1 for a month, read from its sales and refunds, and the check that it
agrees with the month's Z reports (issue #18; docs/gstr1.md).

The return itself is built by the pure app/core/gstr1.py from plain documents; this
module only reads rows and turns them into those documents. Which month a document
belongs to is its own local date (``cfg.tz``), so a shift open across midnight at the end
of a month puts its bills before midnight in that month and the rest in the next.

The reconciliation compares every document dated in the month (bills of supply too)
with the Z reports of the shifts closed in the month, each as app/pos/shifts.py prints
it, adjusted at the month's edges: less what those Z reports hold that is dated before
the month (a shift that began last month), plus what is dated in the month but sits in
a shift closed after it or still open. The difference must be zero, per figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, select

from app.config import StoreConfig
from app.core.db import Database, Session
from app.core.gst import half_of, tax_rows
from app.core.gst_invoice import store_state
from app.core.gstr1 import DocKind, Document, Figures, Gstr1, Line, build, is_inter_state
from app.pos.models import Refund, RefundLine, Sale, SaleLine, Shift
from app.pos.shifts import shift_report

__all__ = ["Reconciliation", "month_bounds", "load_month", "month_report", "reconcile",
           "document_figures"]


def month_bounds(year: int, month: int, tz: tzinfo) -> tuple[datetime, datetime]:
    """The local month [first midnight, next month's first midnight) as UTC instants."""
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def _state(cfg: StoreConfig) -> str:
    return store_state(cfg.store.gstin, getattr(cfg.store, "state_code", ""))


def _local(at: datetime, tz: tzinfo) -> date:
    return at.astimezone(tz).date()


def _line(hsn: str, unit: str, quantity: int, rate_bp: int, amount: int, tax: int,
          inter: bool) -> Line:
    """A stored line (amount incl. GST, GST) split by tax_rows' rule: IGST = the GST, or
    two equal halves with an odd paisa of older data left in the taxable value."""
    if inter:
        return Line(hsn, unit, quantity, rate_bp, amount - tax, 0, 0, tax)
    half = half_of(tax)
    return Line(hsn, unit, quantity, rate_bp, amount - 2 * half, half, half)


_SALE_COLUMNS = (Sale.id, Sale.number, Sale.invoice_number, Sale.at, Sale.doc_kind,
                 Sale.buyer_gstin, Sale.buyer_name, Sale.place_of_supply, Sale.total_minor,
                 Sale.shift_id)


async def _documents(s: Session, cfg: StoreConfig, sale_where: ColumnElement[bool],
                     refund_where: ColumnElement[bool]
                     ) -> list[tuple[Document, str]]:
    """(document, shift id) for the sales and refunds the conditions select: two queries,
    plain columns (a month of a busy shop is some 10,000 bills and 40,000 lines)."""
    tz, home = cfg.tz, _state(cfg)
    out: list[tuple[Document, str]] = []
    sale_rows = (await s.execute(
        select(*_SALE_COLUMNS, SaleLine.hsn, SaleLine.unit, SaleLine.quantity,
               SaleLine.gst_rate_bp, SaleLine.net_minor, SaleLine.tax_minor,
               SaleLine.igst_minor)
        .join(SaleLine, SaleLine.sale_id == Sale.id)
        .where(sale_where).order_by(Sale.at, Sale.id, SaleLine.position))).all()
    sales: dict[str, tuple[Any, list[Line]]] = {}
    for r in sale_rows:
        entry = sales.get(r[0])
        if entry is None:
            entry = sales[r[0]] = (r, [])
        entry[1].append(_line(r.hsn, r.unit, r.quantity, r.gst_rate_bp, r.net_minor,
                              r.tax_minor, bool(r.igst_minor)))
    for r, lines in sales.values():
        out.append((Document(
            "invoice", r.invoice_number or r.number, _local(r.at, tz),
            cast(DocKind, r.doc_kind), home, tuple(lines), buyer_gstin=r.buyer_gstin,
            buyer_name=r.buyer_name, place_of_supply=r.place_of_supply, value=r.total_minor),
            r.shift_id))
    refund_rows = (await s.execute(
        select(Refund.id, Refund.number, Refund.credit_note_number, Refund.at,
               Refund.total_minor, Refund.shift_id, RefundLine.quantity,
               RefundLine.amount_minor, RefundLine.tax_minor, SaleLine.hsn, SaleLine.unit,
               SaleLine.gst_rate_bp, SaleLine.igst_minor, Sale.number.label("sale_number"),
               Sale.invoice_number, Sale.at.label("sale_at"), Sale.doc_kind, Sale.buyer_gstin,
               Sale.buyer_name, Sale.place_of_supply, Sale.total_minor.label("sale_total"))
        .join(RefundLine, RefundLine.refund_id == Refund.id)
        .join(SaleLine, SaleLine.id == RefundLine.sale_line_id)
        .join(Sale, Sale.id == Refund.sale_id)
        .where(refund_where).order_by(Refund.at, Refund.id, SaleLine.position))).all()
    refunds: dict[str, tuple[Any, list[Line]]] = {}
    for rr in refund_rows:
        entry = refunds.get(rr[0])
        if entry is None:
            entry = refunds[rr[0]] = (rr, [])
        inter = bool(rr.igst_minor) or is_inter_state(rr.place_of_supply, home)
        entry[1].append(_line(rr.hsn, rr.unit, rr.quantity, rr.gst_rate_bp, rr.amount_minor,
                              rr.tax_minor, inter))
    for rr, lines in refunds.values():
        out.append((Document(
            "credit_note", rr.credit_note_number or rr.number, _local(rr.at, tz),
            cast(DocKind, rr.doc_kind), home, tuple(lines), buyer_gstin=rr.buyer_gstin,
            buyer_name=rr.buyer_name, place_of_supply=rr.place_of_supply, value=rr.total_minor,
            original_number=rr.invoice_number or rr.sale_number,
            original_date=_local(rr.sale_at, tz), original_value=rr.sale_total), rr.shift_id))
    return out


async def _month_documents(s: Session, cfg: StoreConfig, year: int, month: int
                           ) -> list[tuple[Document, str]]:
    start, end = month_bounds(year, month, cfg.tz)
    return await _documents(s, cfg, and_(Sale.at >= start, Sale.at < end),
                            and_(Refund.at >= start, Refund.at < end))


async def load_month(db: Database, cfg: StoreConfig, year: int, month: int) -> Gstr1:
    """The month's GSTR-1 from the store's database."""
    async with db.read() as s:
        docs = await _month_documents(s, cfg, year, month)
    return build(year, month, cfg.store.gstin, (d for d, _shift in docs))


def document_figures(docs: Iterable[Document]) -> Figures:
    """Taxable value and GST of documents by the one tax-rows rule, credit notes less."""
    total = Figures()
    for d in docs:
        rows = tax_rows(((x.rate_bp, x.amount, x.tax) for x in d.lines),
                        inter_state=d.inter_state)
        f = Figures(sum(r.taxable for r in rows), sum(r.tax for r in rows))
        total = total - f if d.kind == "credit_note" else total + f
    return total


@dataclass(frozen=True)
class Reconciliation:
    """The month's documents against the month's Z reports (paise)."""

    gstr1: Figures  # every document dated in the month, bills of supply included
    z_reports: Figures  # the Z reports of the shifts closed in the month, added up
    z_count: int
    carried_in: Figures  # in those Z reports but dated before the month
    carried_out: Figures  # dated in the month, in a shift closed after it or still open
    later_shifts: tuple[str, ...]  # those shifts' numbers

    @property
    def expected(self) -> Figures:
        return self.z_reports - self.carried_in + self.carried_out

    @property
    def difference(self) -> dict[str, int]:
        d = self.gstr1 - self.expected
        return {"taxable": d.taxable, "tax": d.tax, "total": d.total}

    @property
    def ok(self) -> bool:
        return not any(self.difference.values())


async def month_report(db: Database, cfg: StoreConfig, year: int, month: int
                       ) -> tuple[Gstr1, Reconciliation]:
    """The month's GSTR-1 and its check against the Z reports, from one read of the
    month's documents."""
    start, end = month_bounds(year, month, cfg.tz)
    async with db.read() as s:
        month_docs = await _month_documents(s, cfg, year, month)
        closed_ids = list(await s.scalars(select(Shift.id).where(
            Shift.closed_at >= start, Shift.closed_at < end).order_by(Shift.closed_at)))
        earlier = await _documents(s, cfg, and_(Sale.shift_id.in_(closed_ids), Sale.at < start),
                                   and_(Refund.shift_id.in_(closed_ids), Refund.at < start))
        closed = set(closed_ids)
        later = [(d, sh) for d, sh in month_docs if sh not in closed]
        named = (await s.execute(select(Shift.id, Shift.number).where(
            Shift.id.in_({sh for _d, sh in later})))).all()
        numbers = {sid: number for sid, number in named}
    z = Figures()
    for sid in closed_ids:
        report = await shift_report(db, sid, cfg)
        z = z + Figures(sum(r.taxable for r in report.tax_rows),
                        sum(r.tax for r in report.tax_rows))
    ret = build(year, month, cfg.store.gstin, (d for d, _sh in month_docs))
    return ret, Reconciliation(
        gstr1=ret.documents, z_reports=z, z_count=len(closed_ids),
        carried_in=document_figures(d for d, _sh in earlier),
        carried_out=document_figures(d for d, _sh in later),
        later_shifts=tuple(sorted({numbers.get(sh, sh) for _d, sh in later})))


async def reconcile(db: Database, cfg: StoreConfig, year: int, month: int) -> Reconciliation:
    """The month's check against the Z reports (see :func:`month_report`)."""
    return (await month_report(db, cfg, year, month))[1]
