"""Shifts: open with a float, cash in and out, no-sale, the X/Z report, close with
the drawer counted. Each public function is one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, func, select

from app.catalog import service as catalog
from app.catalog.models import Product
from app.config import PosSection, StoreConfig
from app.core import audit
from app.core.auth import StaffUser
from app.core.clock import utcnow
from app.core.db import Database, Session, next_number
from app.core.gst import TaxRow, mixed_tax_rows
from app.core.i18n import _, ngettext
from app.core.ids import uuid7
from app.core.money import format_amount
from app.core.prepared import Prepared
from app.loyalty.models import RefundPart
from app.pos import receipts
from app.pos.common import is_manager, refuse_card_number, require_shift, shift_on
from app.pos.models import (
    Cart,
    CashMovement,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    SaleTender,
    Shift,
    Void,
)
from app.pos.till_rules import CASH_CAP_MINOR, CASH_CAP_SHOWN, TENDER_KINDS, NeedsApproval, PosError
from app.sync.outbox import emit


async def open_shift(
    db: Database, cfg: StoreConfig, counter: str, user: StaffUser, float_minor: int
) -> Shift:
    if counter not in cfg.pos.counters:
        raise PosError(_("there is no counter %(counter)s") % {"counter": repr(counter)})
    if float_minor < 0 or float_minor > CASH_CAP_MINOR:
        raise PosError(_("the opening float must be between ₹0 and %(most)s")
                       % {"most": CASH_CAP_SHOWN})
    async with db.write() as s:
        if await shift_on(s, counter):
            raise PosError(_("counter %(counter)s already has an open shift") % {"counter": counter})
        n = await next_number(s, "shift")
        shift = Shift(
            id=uuid7(),
            number=f"{cfg.store.id}-SH{n:04d}",
            counter=counter,
            opened_by=user.id,
            opened_at=utcnow(),
            float_minor=float_minor,
        )
        s.add(shift)
        audit.record(s, "shift_open", f"{shift.number} counter {counter} float {float_minor}",
                     user=user)
    return shift


async def current_shift(db: Database, counter: str) -> Shift | None:
    async with db.read() as s:
        return await shift_on(s, counter)


_OPEN_SHIFT = Prepared(select(Shift.__table__.c.id, Shift.__table__.c.number).where(
    Shift.__table__.c.counter == bindparam("counter"), Shift.__table__.c.closed_at.is_(None)))
_QUICK_KEY = Prepared(select(*catalog.PRODUCT_INFO_COLUMNS).where(
    Product.__table__.c.sku == bindparam("sku")))


async def shift_and_quick_keys(db: Database, cfg: StoreConfig, counter: str
                              ) -> tuple[Any | None, list[catalog.ProductInfo]]:
    """The open shift (a row: id, number) and the quick keys' products in one read, as
    plain rows with prepared statements: the till page is shown after every sale ("New
    sale"), so it takes no session per key and loads no ORM object."""
    async with db.read() as s:
        shift = await _OPEN_SHIFT.first(s, {"counter": counter})
        if shift is None:
            return None, []
        found = [await _QUICK_KEY.first(s, {"sku": sku.upper()}) for sku in cfg.pos.quick_keys]
    return shift, [catalog.ProductInfo(*p) for p in found if p]


def cash_out_refusal(pos_cfg: PosSection, amount_out: int, unapproved_before: int) -> str:
    """Why a cash out needs a manager's PIN ("" if it does not): one entry above the
    per-entry limit, or the shift's cash out without a manager passing the shift limit
    (so many small entries cannot empty the drawer either)."""
    entry = pos_cfg.cash_out_approval_above_rupees * 100
    shift = pos_cfg.cash_out_shift_limit_rupees * 100
    if amount_out > entry:
        return _("cash out above %(amount)s needs a manager's PIN") % {"amount": format_amount(entry)}
    if unapproved_before + amount_out > shift:
        return _("cash out without a manager may add up to %(limit)s in this shift or 24 hours "
                 "(%(so_far)s so far); this needs a manager's PIN") % {
            "limit": format_amount(shift), "so_far": format_amount(unapproved_before)}
    return ""


async def cash_movement(
    db: Database, counter: str, user: StaffUser, amount_minor: int, reason: str,
    approver: StaffUser | None = None, *, cfg: StoreConfig | None = None,
) -> CashMovement:
    """Cash put into or taken out of the drawer. Taking out over the limits needs a
    manager (the user, or `approver` whose PIN was typed); the manager is recorded."""
    reason = reason.strip()
    if not reason:
        raise PosError(_("say why cash goes in or out"))
    refuse_card_number(reason)
    if amount_minor == 0 or abs(amount_minor) > CASH_CAP_MINOR:
        raise PosError(_("enter an amount between ₹0.01 and %(most)s") % {"most": CASH_CAP_SHOWN})
    pos_cfg = cfg.pos if cfg is not None else PosSection()
    manager = approver if approver is not None else (user if is_manager(user) else None)
    async with db.write() as s:
        shift = await require_shift(s, counter)
        if amount_minor < 0 and manager is None:
            unapproved = int(await s.scalar(
                select(func.coalesce(func.sum(-CashMovement.amount_minor), 0)).where(
                    CashMovement.shift_id == shift.id, CashMovement.amount_minor < 0,
                    CashMovement.approver_id.is_(None))) or 0)
            # And this person's over the last 24 hours: closing the shift and opening a
            # new one must not renew the allowance.
            unapproved = max(unapproved, int(await s.scalar(
                select(func.coalesce(func.sum(-CashMovement.amount_minor), 0)).where(
                    CashMovement.user_id == user.id, CashMovement.amount_minor < 0,
                    CashMovement.approver_id.is_(None),
                    CashMovement.at >= utcnow() - timedelta(hours=24))) or 0))
            refusal = cash_out_refusal(pos_cfg, -amount_minor, unapproved)
            if refusal:
                raise NeedsApproval(refusal)
        move = CashMovement(
            id=uuid7(),
            shift_id=shift.id,
            amount_minor=amount_minor,
            reason=reason[:80],
            user_id=user.id,
            approver_id=manager.id if manager is not None and amount_minor < 0 else None,
            at=utcnow(),
        )
        s.add(move)
        audit.record(
            s,
            "cash_in" if amount_minor > 0 else "cash_out",
            f"{shift.number} {amount_minor} {reason[:60]}",
            user=user, approver=approver,
        )
    return move


async def no_sale(db: Database, counter: str, user: StaffUser, reason: str) -> None:
    """Opening the drawer without a sale is allowed but always logged."""
    refuse_card_number(reason)
    async with db.write() as s:
        shift = await require_shift(s, counter)
        audit.record(s, "no_sale", f"{shift.number} {reason.strip()[:80] or 'no reason given'}",
                     user=user)


# An inter-state line (a tax invoice to a buyer in another state) carries its GST as
# IGST: the X/Z report's GST table shows it so, not as CGST + SGST halves (issue #18).
_INTER_STATE = (SaleLine.igst_minor != 0).label("inter_state")


@dataclass(frozen=True)
class ShiftReport:
    shift: Shift
    sales_count: int
    gross: int
    discounts: int
    rounding: int
    sales_total: int
    by_tender: dict[str, int]
    change_given: int
    refunds_count: int
    refunds_total: int
    refunds_by_tender: dict[str, int]
    tax_rows: tuple[TaxRow, ...]  # GST of the sales minus GST of the refunds, per rate
    voids_count: int
    voids_total: int
    cash_in: int
    cash_out: int
    cash_out_count: int = 0
    cash_out_approved: int = 0  # of cash_out, what a manager took or approved
    cash_out_usual: int = 0  # the shift limit (config) above which the Z flags cash out
    # Of refunds_by_tender["points"] (not paid in money, issue #21): an erased customer's
    # points share, forfeited, and the value kept back for earned points already spent.
    points_forfeited: int = 0
    points_kept: int = 0

    @property
    def cash_out_warning(self) -> str:
        """A plain line for the X/Z report when cash out was more than usual."""
        if not self.cash_out or self.cash_out <= self.cash_out_usual:
            return ""
        return ngettext(
            "Cash out %(amount)s (%(num)s entry, %(approved)s approved by a manager) is above "
            "the usual %(usual)s for a shift",
            "Cash out %(amount)s (%(num)s entries, %(approved)s approved by a manager) is above "
            "the usual %(usual)s for a shift", self.cash_out_count) % {
            "amount": format_amount(self.cash_out), "num": self.cash_out_count,
            "approved": format_amount(self.cash_out_approved),
            "usual": format_amount(self.cash_out_usual)}

    @property
    def has_igst(self) -> bool:
        return any(r.igst for r in self.tax_rows)

    @property
    def expected_cash(self) -> int:
        return (
            self.shift.float_minor
            + self.by_tender.get("cash", 0)
            - self.refunds_by_tender.get("cash", 0)
            + self.cash_in
            - self.cash_out
        )

    @property
    def net_sales(self) -> int:
        return self.sales_total - self.refunds_total

    @property
    def tenders(self) -> list[str]:
        """Cash, card and UPI always; exchange credit when it was used."""
        return [k for k in TENDER_KINDS if k in ("cash", "card", "upi")
                or self.by_tender.get(k) or self.refunds_by_tender.get(k)]

    @property
    def net_rounding(self) -> int:
        """Bills' rounding less the rounding given back by refunds: what the GST table
        (taxable + CGST + SGST of every rate) lacks to reach the net takings."""
        return self.net_sales - sum(r.taxable + r.tax for r in self.tax_rows)


async def _report(s: Session, shift: Shift, cfg: StoreConfig | None = None
                  ) -> ShiftReport:
    sales = (
        await s.execute(
            select(
                func.count(Sale.id),
                func.coalesce(func.sum(Sale.gross_minor), 0),
                func.coalesce(func.sum(Sale.discount_minor), 0),
                func.coalesce(func.sum(Sale.rounding_minor), 0),
                func.coalesce(func.sum(Sale.total_minor), 0),
                func.coalesce(func.sum(Sale.change_minor), 0),
            ).where(Sale.shift_id == shift.id)
        )
    ).one()
    by_tender = dict(
        (
            await s.execute(
                select(SaleTender.kind, func.sum(SaleTender.amount_minor))
                .join(Sale, Sale.id == SaleTender.sale_id)
                .where(Sale.shift_id == shift.id)
                .group_by(SaleTender.kind)
            )
        ).all()
    )
    sold_tax = (
        await s.execute(
            select(
                SaleLine.gst_rate_bp,
                func.sum(SaleLine.net_minor),
                func.sum(SaleLine.tax_minor),
                _INTER_STATE,
            )
            .join(Sale, Sale.id == SaleLine.sale_id)
            .where(Sale.shift_id == shift.id)
            .group_by(SaleLine.gst_rate_bp, _INTER_STATE)
        )
    ).all()
    refunded_tax = (
        await s.execute(
            select(
                SaleLine.gst_rate_bp,
                func.sum(RefundLine.amount_minor),
                func.sum(RefundLine.tax_minor),
                _INTER_STATE,
            )
            .join(SaleLine, SaleLine.id == RefundLine.sale_line_id)
            .join(Refund, Refund.id == RefundLine.refund_id)
            .where(Refund.shift_id == shift.id)
            .group_by(SaleLine.gst_rate_bp, _INTER_STATE)
        )
    ).all()
    refunds = (
        await s.execute(
            select(func.count(Refund.id), func.coalesce(func.sum(Refund.total_minor), 0)).where(
                Refund.shift_id == shift.id
            )
        )
    ).one()
    refunds_by_tender = dict(
        (
            await s.execute(
                select(Refund.tender_kind, func.sum(Refund.total_minor - Refund.points_minor))
                .where(Refund.shift_id == shift.id)
                .group_by(Refund.tender_kind)
            )
        ).all()
    )
    points_back = int(await s.scalar(select(func.coalesce(func.sum(Refund.points_minor), 0))
                                     .where(Refund.shift_id == shift.id)) or 0)
    if points_back:  # given back as loyalty points, not by the refund's tender (issue #21)
        refunds_by_tender["points"] = points_back
    forfeited, kept = (await s.execute(
        select(func.coalesce(func.sum(RefundPart.forfeited_minor), 0),
               func.coalesce(func.sum(RefundPart.kept_minor), 0))
        .join(Refund, Refund.id == RefundPart.refund_id)
        .where(Refund.shift_id == shift.id))).one() if points_back else (0, 0)
    voids = (
        await s.execute(
            select(func.count(Void.id), func.coalesce(func.sum(Void.amount_minor), 0)).where(
                Void.shift_id == shift.id
            )
        )
    ).one()
    cash_in = await s.scalar(
        select(func.coalesce(func.sum(CashMovement.amount_minor), 0)).where(
            CashMovement.shift_id == shift.id, CashMovement.amount_minor > 0
        )
    )
    cash_out = await s.scalar(
        select(func.coalesce(func.sum(-CashMovement.amount_minor), 0)).where(
            CashMovement.shift_id == shift.id, CashMovement.amount_minor < 0
        )
    )
    outs = (await s.execute(
        select(func.count(CashMovement.id),
               func.coalesce(func.sum(-CashMovement.amount_minor), 0))
        .where(CashMovement.shift_id == shift.id, CashMovement.amount_minor < 0,
               CashMovement.approver_id.is_not(None)))).one()
    out_count = await s.scalar(select(func.count(CashMovement.id)).where(
        CashMovement.shift_id == shift.id, CashMovement.amount_minor < 0))
    return ShiftReport(
        shift=shift,
        sales_count=sales[0],
        gross=sales[1],
        discounts=sales[2],
        rounding=sales[3],
        sales_total=sales[4],
        change_given=sales[5],
        by_tender={k: int(v) for k, v in by_tender.items()},
        refunds_count=refunds[0],
        refunds_total=refunds[1],
        refunds_by_tender={k: int(v) for k, v in refunds_by_tender.items()},
        tax_rows=mixed_tax_rows(
            [(int(r), int(a), int(t), bool(i)) for r, a, t, i in sold_tax]
            + [(int(r), -int(a), -int(t), bool(i)) for r, a, t, i in refunded_tax]),
        voids_count=voids[0],
        voids_total=voids[1],
        cash_in=int(cash_in or 0),
        cash_out=int(cash_out or 0),
        cash_out_count=int(out_count or 0),
        cash_out_approved=int(outs[1] or 0),
        cash_out_usual=(cfg.pos if cfg is not None else PosSection()
                        ).cash_out_shift_limit_rupees * 100,
        points_forfeited=int(forfeited or 0),
        points_kept=int(kept or 0),
    )


async def shift_report(db: Database, shift_id: str, cfg: StoreConfig | None = None
                       ) -> ShiftReport:
    async with db.read() as s:
        shift = await s.get(Shift, shift_id)
        if shift is None:
            raise PosError(_("no such shift"))
        return await _report(s, shift, cfg)


async def close_shift(
    db: Database, cfg: StoreConfig, shift_id: str, user: StaffUser, counts: dict[int, int]
) -> ShiftReport:
    """Close with the drawer counted by denomination (rupees -> number of notes/coins)."""
    for denom, n in counts.items():
        if denom not in cfg.pos.denominations:
            raise PosError(_("₹%(denomination)s is not a denomination this store counts")
                           % {"denomination": denom})
        if n < 0 or n > 100_000:
            raise PosError(_("count of ₹%(denomination)s must be between 0 and 1,00,000")
                           % {"denomination": denom})
    counted = sum(denom * 100 * n for denom, n in counts.items())
    async with db.write() as s:
        shift = await s.get(Shift, shift_id)
        if shift is None:
            raise PosError(_("no such shift"))
        if shift.closed_at is not None:
            raise PosError(_("shift %(number)s is already closed") % {"number": shift.number})
        open_carts = await s.scalar(
            select(func.count(Cart.id)).where(
                Cart.counter == shift.counter,
                Cart.status.in_(("active", "parked")),
                Cart.lines.any(),
            )
        )
        if open_carts:
            raise PosError(_("finish or void the open and parked carts before closing"))
        report = await _report(s, shift, cfg)
        shift.closed_at = utcnow()
        shift.closed_by = user.id
        shift.expected_cash_minor = report.expected_cash
        shift.counted_cash_minor = counted
        shift.count_detail = json.dumps({str(k): v for k, v in sorted(counts.items())})
        audit.record(
            s,
            "shift_close",
            f"{shift.number} expected {report.expected_cash} counted {counted}",
            user=user,
        )
        emit(
            s,
            "shift.closed",
            {
                "shift_id": shift.id,
                "number": shift.number,
                "counter": shift.counter,
                "opened_at": shift.opened_at.isoformat(),
                "closed_at": shift.closed_at.isoformat(),
                "sales_count": report.sales_count,
                "sales_total": report.sales_total,
                "refunds_total": report.refunds_total,
                "by_tender": report.by_tender,
                "expected_cash": report.expected_cash,
                "counted_cash": counted,
                "variance": counted - report.expected_cash,
            },
        )
        receipts.ask_for_report(s, cfg, report, closed=True)
        return report


async def print_shift_report(
    db: Database, cfg: StoreConfig, shift_id: str, user: StaffUser
) -> tuple[ShiftReport, list[str]]:
    """Print the X report of an open shift (or a copy of a closed shift's Z) on the
    counter's report printers. Refused, with nothing queued, when none prints reports."""
    async with db.write() as s:
        shift = await s.get(Shift, shift_id)
        if shift is None:
            raise PosError(_("no such shift"))
        closed = shift.closed_at is not None
        report = await _report(s, shift, cfg)
        printers = receipts.ask_for_report(s, cfg, report, closed=closed, duplicate=closed)
        if not printers:
            raise PosError(_("no printer prints reports for counter %(counter)s; "
                             "a manager can add one on the Printers page")
                           % {"counter": shift.counter})
        audit.record(s, "report_print", f"{'Z' if closed else 'X'} {shift.number}", user=user)
        return report, printers


async def recent_shifts(db: Database, limit: int = 20) -> list[Shift]:
    async with db.read() as s:
        return list(await s.scalars(select(Shift).order_by(Shift.opened_at.desc()).limit(limit)))
