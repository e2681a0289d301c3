"""Refunds and exchanges: chosen lines of a sale back, by cash, card, UPI or
exchange credit (a credit note spent on a new sale). One transaction each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from app.catalog.models import Product
from app.catalog.units import format_measure
from app.config import StoreConfig
from app.core import audit
from app.core import promotion_uplift as uplift
from app.core.auth import StaffUser
from app.core.clock import utcnow
from app.core.db import Database, Session, get_existing, next_number
from app.core.gst import half_of
from app.core.gst_invoice import (
    DocumentNumberError,
    document_number,
    financial_year_at,
    sequence_name,
)
from app.core.i18n import _
from app.core.ids import uuid7
from app.loyalty import service as loyalty
from app.pos import receipts
from app.pos.common import is_manager, refuse_card_number, require_shift
from app.pos.credit_notes import credit_code_hash, new_credit_code
from app.pos.models import Refund, RefundLine, Sale, SaleLine
from app.pos.till_rules import (
    REFUND_KINDS,
    NeedsApproval,
    PosError,
    SoldLine,
    refund_share,
    refund_total,
)
from app.promotions import coupons
from app.stock.service import bin_for_sale, record_move, refund_batches
from app.sync.outbox import emit


@dataclass(frozen=True)
class RefundableLine:
    line: SaleLine
    refunded_quantity: int
    refunded_amount: int
    refunded_tax: int = 0

    @property
    def refundable_quantity(self) -> int:
        return self.line.quantity - self.refunded_quantity

    @property
    def sold(self) -> SoldLine:
        """The line as the proration rule (till_rules.refund_share) sees it."""
        # an inter-state line's GST is all IGST; its share is taken in halves all the same
        half = self.line.cgst_minor or half_of(self.line.igst_minor)
        return SoldLine(quantity=self.line.quantity, net=self.line.net_minor,
                        tax=self.line.tax_minor, cgst=half,
                        refunded_quantity=self.refunded_quantity,
                        refunded_amount=self.refunded_amount, refunded_tax=self.refunded_tax)


async def refundable_lines(db: Database, sale_id: str) -> list[RefundableLine]:
    async with db.read() as s:
        return await _refundable(s, sale_id)


async def _refundable(s: Session, sale_id: str) -> list[RefundableLine]:
    lines = list(
        await s.scalars(
            select(SaleLine).where(SaleLine.sale_id == sale_id).order_by(SaleLine.position)
        )
    )
    done = {
        lid: (int(q), int(a), int(t))
        for lid, q, a, t in (
            await s.execute(
                select(
                    RefundLine.sale_line_id,
                    func.sum(RefundLine.quantity),
                    func.sum(RefundLine.amount_minor),
                    func.sum(RefundLine.tax_minor),
                )
                .where(RefundLine.sale_line_id.in_([line.id for line in lines]))
                .group_by(RefundLine.sale_line_id)
            )
        ).all()
    }
    return [RefundableLine(line, *done.get(line.id, (0, 0, 0))) for line in lines]


@dataclass(frozen=True)
class RefundRequest:
    sale_line_id: str
    quantity: int
    restock: str  # resaleable | damaged


async def refund(
    db: Database,
    cfg: StoreConfig,
    counter: str,
    sale_id: str,
    requests: Sequence[RefundRequest],
    tender_kind: str,
    idempotency_key: str,
    user: StaffUser,
    approver: StaffUser | None = None,
    reason: str = "",
) -> Refund:
    """Refund chosen lines of a sale. Never more than sold minus already refunded;
    the last units of a line refund exactly what is left of its net amount."""
    key = idempotency_key.strip()
    if not (8 <= len(key) <= 64):
        raise PosError(_("missing refund key; reload the refund screen"))
    refuse_card_number(reason)
    if tender_kind not in REFUND_KINDS:
        raise PosError(_("refund by one of %(kinds)s") % {"kinds": ", ".join(REFUND_KINDS)})
    if cfg.pos.refund_needs_manager and not is_manager(user) and approver is None:
        raise NeedsApproval(_("a refund needs a manager's PIN"))
    wanted = [r for r in requests if r.quantity != 0]
    if not wanted:
        raise PosError(_("choose at least one item and quantity to refund"))
    async with db.write() as s:
        existing = await s.scalar(select(Refund).where(Refund.idempotency_key == key))
        if existing is not None:
            if existing.sale_id != sale_id:
                raise PosError(_("that refund key belongs to another bill; reload the screen"))
            return existing
        if len({r.sale_line_id for r in wanted}) != len(wanted):
            raise PosError(_("each item may appear once in a refund"))
        sale = await s.get(Sale, sale_id)
        if sale is None:
            raise PosError(_("no such sale"))
        paid_by = {t.kind for t in sale.tenders}
        if tender_kind in ("card", "upi") and tender_kind not in paid_by:
            raise PosError(_("this bill was not paid by %(kind)s; refund by %(kinds)s") % {
                "kind": tender_kind, "kinds": _(" or ").join(sorted(paid_by | {"exchange"}))})
        if tender_kind == "cash" and "cash" not in paid_by and not is_manager(user) and (
                approver is None):
            raise NeedsApproval(_("cash back for a card or UPI bill needs a manager's PIN"))
        shift = await require_shift(s, counter)
        lines = {r.line.id: r for r in await _refundable(s, sale_id)}
        n = await next_number(s, "refund")
        refund_row = Refund(
            id=uuid7(),
            number=f"{cfg.store.id}-R{n:05d}",
            idempotency_key=key,
            sale_id=sale.id,
            shift_id=shift.id,
            user_id=user.id,
            approver_id=approver.id if approver else None,
            at=utcnow(),
            tender_kind=tender_kind,
            total_minor=0,
            tax_minor=0,
            reason=reason.strip()[:80],
        )
        if sale.doc_kind == "b2b":  # a tax invoice is corrected by a GST credit note
            refund_row.credit_note_number = await _credit_note_number(s, cfg, refund_row)
        inter_state = receipts.inter_state_sale(cfg, sale)
        credit_code = new_credit_code() if tender_kind == "exchange" else ""
        if credit_code:
            refund_row.credit_code_hash = credit_code_hash(credit_code)
        s.add(refund_row)
        total = tax = 0
        event_lines = []
        for req in wanted:
            entry = lines.get(req.sale_line_id)
            if entry is None:
                raise PosError(_("that item is not on this receipt"))
            line = entry.line
            if req.quantity < 0:
                raise PosError(_("refund quantities cannot be negative"))
            if req.quantity > entry.refundable_quantity:
                raise PosError(
                    _("%(name)s: at most %(left)s can be refunded (%(sold)s sold, "
                      "%(refunded)s refunded)") % {
                        "name": line.name,
                        "left": format_measure(entry.refundable_quantity, line.unit),
                        "sold": format_measure(line.quantity, line.unit),
                        "refunded": format_measure(entry.refunded_quantity, line.unit)}
                )
            if req.restock not in ("resaleable", "damaged"):
                raise PosError(_("restock must be resaleable or damaged"))
            amount, line_tax = refund_share(entry.sold, req.quantity)
            total += amount
            tax += line_tax
            s.add(
                RefundLine(
                    id=uuid7(),
                    refund_id=refund_row.id,
                    sale_line_id=line.id,
                    quantity=req.quantity,
                    amount_minor=amount,
                    tax_minor=line_tax,
                    restock=req.restock,
                )
            )
            if req.restock == "resaleable":
                product = await get_existing(s, Product, line.product_id)
                from app.stock.models import Bin

                bin_ = (
                    await get_existing(s, Bin, line.bin_id) if line.bin_id
                    else await bin_for_sale(s, product)
                )
                # Back into the batches it was sold from (each at most what it gave,
                # the freshest first), so the expiry page still sees it (issue #17).
                refund_numbers = list(await s.scalars(
                    select(Refund.number).where(Refund.sale_id == sale.id)))
                for batch, expiry, quantity in await refund_batches(
                        s, sold=str(sale.number), refunds=refund_numbers,
                        product_id=product.id, bin_id=bin_.id, quantity=req.quantity):
                    await record_move(
                        s,
                        product=product,
                        bin=bin_,
                        delta=quantity,
                        reason="refund",
                        reference=refund_row.number,
                        user_id=user.id,
                        batch=batch,
                        expiry=expiry,
                    )
            half = 0 if inter_state else half_of(line_tax)
            event_lines.append(
                {
                    "sku": line.sku,
                    "quantity": req.quantity,
                    "amount": amount,
                    "restock": req.restock,
                    "hsn": line.hsn,
                    "gst_rate_bp": line.gst_rate_bp,
                    "tax": line_tax,
                    "cgst": half,
                    "sgst": half,
                    "igst": line_tax if inter_state else 0,
                    **_refunded_offers(line, entry.refunded_quantity, req.quantity),
                }
            )
        # Never give back more than was paid: the bill's rounding (up to 49 paise) stays
        # with the last refund, so all refunds of a bill add up to exactly its total.
        refunded_before = int(await s.scalar(
            select(func.coalesce(func.sum(Refund.total_minor), 0)).where(
                Refund.sale_id == sale.id, Refund.id != refund_row.id)) or 0)
        everything_back = all(
            entry.refundable_quantity == next((r.quantity for r in wanted
                                               if r.sale_line_id == line_id), 0)
            for line_id, entry in lines.items())
        total = refund_total(total, sale.total_minor, refunded_before, everything_back)
        refund_row.total_minor = total
        refund_row.tax_minor = tax
        # Loyalty (issue #21): earned points taken back, redeemed points returned as
        # points; the tender pays the rest (docs/loyalty.md "Refunds").
        back = await loyalty.on_refund(
            s, cfg, sale_id=sale.id, refund_id=refund_row.id, number=refund_row.number,
            bill_total_minor=sale.total_minor, refunded_before_minor=refunded_before,
            points_paid_minor=sum(t.amount_minor for t in sale.tenders if t.kind == "points"),
            refund_minor=total, everything_back=everything_back, at=refund_row.at)
        refund_row.points_minor = total - back.money_minor if back is not None else 0
        audit.record(
            s,
            "refund",
            f"{refund_row.number} of {sale.number} {total} by {tender_kind}",
            user=user, approver=approver,
        )
        emit(
            s,
            "sale.refunded",
            {
                "refund_id": refund_row.id,
                "number": refund_row.number,
                "sale": sale.number,
                "at": refund_row.at.isoformat(),
                "total": total,
                "tax": tax,
                "tender": tender_kind,
                "lines": event_lines,
                "credit_note_number": refund_row.credit_note_number,
                "doc": sale.doc_kind,
                "place_of_supply": sale.place_of_supply,
                "buyer_gstin": sale.buyer_gstin,
                "buyer_name": sale.buyer_name,
            },
        )
        if everything_back:  # the whole bill back: its coupon uses are given back (#21)
            await coupons.release_for_sale(s, sale.id, refund_row.at)
        await s.flush()
        await s.refresh(refund_row, ["lines"])
        receipts.ask_for_refund_slip(s, cfg, refund_row, sale,
                                     {k: v.line for k, v in lines.items()}, counter,
                                     credit_code=credit_code, points=back)
        # Shown and printed once: only its hash is kept (a repeat of the request has none).
        refund_row.credit_code = credit_code  # type: ignore[attr-defined]  # shown once, not a column
        return refund_row


def _refunded_offers(line: SaleLine, refunded_before: int, quantity: int) -> dict:
    """The refund line's share of what each offer took off the sale line (issue #21,
    the hub's chain promotions report; optional: nothing when no offer applied)."""
    back = uplift.refunded_offers(uplift.stored_offers(line.promotions or ""), line.quantity,
                                  refunded_before, quantity)
    return {"offers": [k.sent() for k in back]} if back else {}


async def _credit_note_number(s: Session, cfg: StoreConfig, refund_row: Refund) -> str:
    """The next GST credit note serial of the store's series in the refund's financial
    year (its own gapless sequence, apart from the invoices')."""
    fy = financial_year_at(refund_row.at, cfg.tz)
    n = await next_number(s, sequence_name("credit", cfg.store.series, fy))
    try:
        return document_number("credit", cfg.store.series, fy, n)
    except DocumentNumberError as exc:
        raise PosError(_("%(error)s. Ask the manager") % {"error": exc}) from None


async def refunds_of_sale(db: Database, sale_id: str) -> list[Refund]:
    """Every refund of a bill, oldest first, with its lines (for the e-receipt)."""
    async with db.read() as s:
        return list(await s.scalars(
            select(Refund).where(Refund.sale_id == sale_id).order_by(Refund.at, Refund.number)))


async def get_refund(db: Database, refund_id: str) -> tuple[Refund, Sale] | None:
    async with db.read() as s:
        row = await s.get(Refund, refund_id)
        if row is None:
            return None
        return row, await get_existing(s, Sale, row.sale_id)
