"""The till's documents: what a sale, a refund or a shift shows on screen, on paper and
on the customer's e-receipt, and the one place they ask printing for paper.

Paper is asked for inside the use case's own transaction: the print job commits with
the sale, so a receipt is never lost, and the printer's worker sends it in order.
The same data (GST rows from ``app.core.gst.tax_rows`` included) feeds the on-screen
receipt, the paper and the e-receipt, so they cannot disagree. Printing is reached
only through its service API; it imports nothing of the till.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from app.catalog.models import Product
from app.catalog.units import format_measure
from app.config import StoreConfig
from app.core import audit
from app.core.auth import StaffUser
from app.core.clock import utcnow
from app.core.db import Database, Session
from app.core.gst import TaxRow
from app.core.gst import tax_rows as gst_rows
from app.core.gst_invoice import STATE_NAMES, is_inter_state, state_label
from app.core.money import format_amount, price_for_measure
from app.loyalty import service as loyalty
from app.pos.models import Refund, Sale, SaleLine
from app.pos.pricing import SavingLine, you_saved
from app.printing import service as printing

MIN_TOKEN_LENGTH = 20  # shorter e-receipt tokens are refused without a database look-up


def lines_inter_state(lines: Iterable[SaleLine]) -> bool:
    """Whether a sale's lines were written as inter-state (IGST)."""
    return any(line.igst_minor for line in lines)


def inter_state_sale(cfg: StoreConfig, sale: Sale) -> bool:
    """A tax invoice to a buyer in another state: its GST is IGST. Read from its lines
    (as written when sold); lines with no GST at all fall back on the place of supply."""
    if sale.doc_kind != "b2b":
        return False
    if lines_inter_state(sale.lines):
        return True
    if any(line.cgst_minor for line in sale.lines):
        return False
    return is_inter_state(cfg.store.state, sale.place_of_supply)


def tax_rows(lines: Iterable[SaleLine]) -> tuple[TaxRow, ...]:
    """The GST table of a sale (screen, paper, e-receipt); IGST rows when its lines are
    inter-state."""
    lines = list(lines)
    return gst_rows(((line.gst_rate_bp, line.net_minor, line.tax_minor) for line in lines),
                    inter_state=lines_inter_state(lines))


def refund_tax_rows(refund: Refund, sale_lines: Mapping[str, SaleLine]) -> tuple[TaxRow, ...]:
    """The GST table of a refund / credit note: its lines at their sale line's rate
    (the bill's rounding, shown apart, is not in it), split like the invoice."""
    return gst_rows(((sale_lines[rl.sale_line_id].gst_rate_bp, rl.amount_minor, rl.tax_minor)
                     for rl in refund.lines),
                    inter_state=lines_inter_state(sale_lines.values()))


def gst_context(sale: Sale) -> dict:
    """What a GST document prints beyond a retail bill (docs/gst.md): its kind and the
    place of supply as the portal writes it ("27-Maharashtra")."""
    place = sale.place_of_supply
    return {"doc": sale.doc_kind or "b2c",
            "place_label": state_label(place) if place in STATE_NAMES else place,
            "inter_state": lines_inter_state(sale.lines)}


def quantity_and_rate(quantity: int, unit: str, unit_price: int, gross: int | None = None) -> str:
    """How a line's quantity reads on the cart, the paper, the screen and the e-receipt:
    '3 x ₹20.00', '1.250 kg x ₹40.00/kg', or '1.250 kg (price label)' when the amount
    came from a scale's price label rather than from the rate (gross given and different)."""
    shown = format_measure(quantity, unit)
    if unit == "piece":
        computed = unit_price * quantity
        per = ""
    else:
        computed = price_for_measure(unit_price, quantity)
        per = "/kg" if unit == "kg" else "/L"
    if gross is not None and gross != computed:
        return f"{shown} (price label)"
    return f"{shown} x {format_amount(unit_price)}{per}"


def sale_line_text(line: SaleLine) -> str:
    """A sold line's quantity and rate, and its MRP when sold where that differs from the
    price paid ('2 x ₹60.00  MRP ₹65.00', '1.250 kg x ₹40.00/kg  MRP ₹45.00/kg')."""
    text = quantity_and_rate(line.quantity, line.unit, line.unit_price_minor, line.gross_minor)
    mrp = line.mrp_minor
    if mrp is not None and mrp != line.unit_price_minor:
        per = "" if line.unit == "piece" else "/kg" if line.unit == "kg" else "/L"
        text += f"  MRP {format_amount(mrp)}{per}"
    return text


def _label_charge(line: SaleLine) -> int | None:
    """What a price-embedded label charged for the line, or None: a line whose gross is
    not its rate times its quantity was priced by its label."""
    rate, quantity = line.unit_price_minor, line.quantity
    computed = price_for_measure(rate, quantity) if line.unit != "piece" else rate * quantity
    return line.gross_minor if line.gross_minor != computed else None


def saving_lines(lines: Iterable[SaleLine]) -> list[SavingLine]:
    """A sale's lines as the pure savings take them (price and MRP as sold)."""
    return [SavingLine(unit_price=line.unit_price_minor, quantity=line.quantity,
                       mrp=line.mrp_minor, measured=line.unit != "piece",
                       label_price=_label_charge(line)) for line in lines]


def sale_saved(sale: Sale) -> int:
    """The "You saved" of a bill (pricing.you_saved): against the MRPs, plus its
    discounts; the paper, the screen and the e-receipt all show this one number."""
    return you_saved(saving_lines(sale.lines), sale.discount_minor)


def receipt_url(cfg: StoreConfig, sale: Sale) -> str:
    return f"{cfg.public_url}/r/{sale.receipt_token}"


def _receipt_context(cfg: StoreConfig, sale: Sale, cashier: str,
                     points: dict | None = None,
                     names_local: Mapping[str, str] | None = None) -> dict:
    return {"sale": sale, "cashier": cashier, "receipt_url": receipt_url(cfg, sale),
            "points": points,  # loyalty (issue #21): earned, redeemed, balance, masked phone
            # product id -> its local-language name, printed beside the line's (issue #22)
            "names_local": names_local or {},
            "tax_rows": tax_rows(sale.lines), "line_text": sale_line_text,
            "saved": sale_saved(sale),
            **gst_context(sale)}


def receipt_layout(cfg: StoreConfig, sale: Sale, cashier: str, duplicate: bool = False) -> str:
    return printing.render(cfg, "receipt", duplicate=duplicate,
                           **_receipt_context(cfg, sale, cashier))


def ask_for_receipt(s: Session, cfg: StoreConfig, sale: Sale, cashier: str,
                    points: dict | None = None) -> list[str]:
    """Queue the receipt on every printer that prints receipts for this counter (its
    lines carry the products' local names as sold)."""
    jobs = printing.print_document(s, cfg, "receipt", counter=sale.counter, ref=sale.id,
                                   title=f"Receipt {sale.number}",
                                   **_receipt_context(cfg, sale, cashier, points))
    return [job.printer for job in jobs]


async def reprint_receipt(db: Database, cfg: StoreConfig, sale_id: str,
                          user: StaffUser) -> list[str] | None:
    """A copy for the customer, marked DUPLICATE, on the counter's receipt printers, and
    logged (reprints can hide fraud). Returns the printers' names; None: no such sale."""
    async with db.write() as s:
        sale = await s.get(Sale, sale_id)
        if sale is None:
            return None
        # A sale from before its lines kept the local name (migration 0034): the
        # catalogue's name now, as reprints did then.
        names_local: dict[str, str] = {
            pid: name for pid, name in (await s.execute(
                select(Product.id, Product.name_local).where(
                    Product.id.in_({line.product_id for line in sale.lines}),
                    Product.name_local != ""))).all()}
        jobs = printing.print_document(s, cfg, "receipt", counter=sale.counter, ref=sale.id,
                                       title=f"Receipt {sale.number} (copy)", duplicate=True,
                                       **_receipt_context(cfg, sale, user.name,
                                                          await loyalty.sale_points(s, sale.id),
                                                          names_local))
        if jobs:
            audit.record(s, "reprint", f"receipt {sale.number}", user=user)
        return [job.printer for job in jobs]


def report_layout(cfg: StoreConfig, report, closed: bool,
                  duplicate: bool = False) -> str:
    return printing.render(cfg, "report", report=report, closed=closed, duplicate=duplicate)


def ask_for_report(s: Session, cfg: StoreConfig, report, closed: bool,
                   duplicate: bool = False) -> list[str]:
    """X/Z report on the counter's report printers; returns their names."""
    label = "Z report" if closed else "X report"
    copy = " (copy)" if duplicate else ""
    jobs = printing.print_document(
        s, cfg, "report", counter=report.shift.counter, ref=report.shift.id,
        title=f"{label} {report.shift.number}{copy}", duplicate=duplicate,
        report=report, closed=closed)
    return [job.printer for job in jobs]


def _refund_context(refund: Refund, sale: Sale, sale_lines: Mapping[str, SaleLine],
                    credit_code: str) -> dict:
    return {"refund": refund, "sale": sale, "sale_lines": sale_lines,
            "tax_rows": refund_tax_rows(refund, sale_lines), "measure": format_measure,
            "credit_code": credit_code, **gst_context(sale)}


def refund_layout(cfg: StoreConfig, refund: Refund, sale: Sale,
                  sale_lines: Mapping[str, SaleLine], *, credit_code: str = "",
                  duplicate: bool = False) -> str:
    """The refund slip; an exchange's first slip carries its credit note code (text and
    QR), which is never stored, so a copy says the code is on the original only."""
    return printing.render(cfg, "refund", duplicate=duplicate,
                           **_refund_context(refund, sale, sale_lines, credit_code))


def ask_for_refund_slip(s: Session, cfg: StoreConfig, refund: Refund, sale: Sale,
                        sale_lines: Mapping[str, SaleLine], counter: str,
                        credit_code: str = "", points: object = None) -> None:
    """`points`: the refund's loyalty parts (core.loyalty.RefundPoints), for the slip."""
    printing.print_document(s, cfg, "refund", counter=counter, ref=refund.id,
                            title=f"Refund {refund.number}", points=points,
                            **_refund_context(refund, sale, sale_lines, credit_code))


# ---- the customer's e-receipt ---------------------------------------------------------


@dataclass(frozen=True)
class EReceipt:
    """What the public e-receipt page shows: the bill, its refunds, their GST rows."""

    sale: Sale
    refunds: list[Refund]
    expired: bool
    tax_rows: tuple[TaxRow, ...] = ()
    refund_tax_rows: dict[str, tuple[TaxRow, ...]] = field(default_factory=dict)


async def e_receipt(db: Database, cfg: StoreConfig, token: str) -> EReceipt | None:
    """The bill behind an e-receipt token (None: no such bill); `expired` after
    [receipts] e_receipt_days, when the page shows nothing of it."""
    if len(token) < MIN_TOKEN_LENGTH:
        return None
    async with db.read() as s:
        sale = await s.scalar(select(Sale).where(Sale.receipt_token == token))
        if sale is None:
            return None
        if utcnow() - sale.at > timedelta(days=cfg.receipts.e_receipt_days):
            return EReceipt(sale=sale, refunds=[], expired=True)
        refunds = list(await s.scalars(select(Refund).where(Refund.sale_id == sale.id)
                                       .order_by(Refund.at, Refund.number)))
        by_id = {line.id: line for line in sale.lines}
        _ = sale.tenders, [rf.lines for rf in refunds]  # loaded before the transaction ends
    return EReceipt(sale=sale, refunds=refunds, expired=False, tax_rows=tax_rows(sale.lines),
                    refund_tax_rows={rf.id: refund_tax_rows(rf, by_id) for rf in refunds})
