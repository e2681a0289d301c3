"""The one place a completed sale (or refund, or closed shift) asks for paper.

Called inside the use case's own transaction: the print job commits with the
sale, so a receipt is never lost, and the printer's worker sends it in order.
The same data feeds the on-screen receipt and the public e-receipt page.
"""

from __future__ import annotations

from app.catalog.units import format_measure
from app.config import StoreConfig, per_config
from app.core.db import Tx
from app.core.money import format_amount, price_for_measure
from app.pos.models import Refund, Sale, SaleLine
from app.pos.pricing import TaxRow, tax_table
from app.printing import service as printing
from app.printing.documents import PrintTemplates

_TEMPLATES: dict = {}


def templates_for(cfg: StoreConfig) -> PrintTemplates:
    return per_config(_TEMPLATES, cfg, PrintTemplates)


def tax_rows(lines: list[SaleLine]) -> tuple[TaxRow, ...]:
    return tax_table((line.gst_rate_bp, line.net_minor, line.tax_minor) for line in lines)


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
    return quantity_and_rate(line.quantity, line.unit, line.unit_price_minor, line.gross_minor)


def receipt_url(cfg: StoreConfig, sale: Sale) -> str:
    return f"{cfg.public_url}/r/{sale.receipt_token}"


def receipt_layout(cfg: StoreConfig, sale: Sale, cashier: str, duplicate: bool = False) -> str:
    return templates_for(cfg).render(
        "receipt", sale=sale, cashier=cashier, receipt_url=receipt_url(cfg, sale),
        tax_rows=tax_rows(sale.lines), line_text=sale_line_text, duplicate=duplicate)


def ask_for_receipt(s: Tx, cfg: StoreConfig, sale: Sale, cashier: str) -> list[str]:
    """Queue the receipt on every printer that prints receipts for this counter."""
    targets = printing.printers_for(cfg, "receipt", sale.counter)
    if not targets:
        return []
    layout = receipt_layout(cfg, sale, cashier)
    return [printing.enqueue(s, p.name, "receipt", layout, ref=sale.id,
                             title=f"Receipt {sale.number}").printer for p in targets]


def report_layout(cfg: StoreConfig, report, closed: bool,  # noqa: ANN001
                  duplicate: bool = False) -> str:
    return templates_for(cfg).render("report", report=report, closed=closed,
                                     duplicate=duplicate)


def ask_for_report(s: Tx, cfg: StoreConfig, report, closed: bool,  # noqa: ANN001
                   duplicate: bool = False) -> list[str]:
    """X/Z report on the counter's report printers; returns their names."""
    counter = report.shift.counter
    targets = printing.printers_for(cfg, "report", counter)
    if not targets:
        return []
    layout = report_layout(cfg, report, closed, duplicate)
    label = "Z report" if closed else "X report"
    copy = " (copy)" if duplicate else ""
    return [printing.enqueue(s, p.name, "report", layout, ref=report.shift.id,
                             title=f"{label} {report.shift.number}{copy}",
                             duplicate=duplicate).printer for p in targets]


def refund_layout(cfg: StoreConfig, refund: Refund, sale: Sale,
                  sale_lines: dict[str, SaleLine], *, credit_code: str = "",
                  duplicate: bool = False):  # noqa: ANN201
    """The refund slip; an exchange's first slip carries its credit note code (text and
    QR), which is never stored, so a copy says the code is on the original only."""
    return templates_for(cfg).render("refund", refund=refund, sale=sale,
                                     sale_lines=sale_lines, duplicate=duplicate,
                                     measure=format_measure, credit_code=credit_code)


def ask_for_refund_slip(s: Tx, cfg: StoreConfig, refund: Refund, sale: Sale,
                        sale_lines: dict[str, SaleLine], counter: str,
                        credit_code: str = "") -> None:
    targets = printing.printers_for(cfg, "refund", counter)
    if not targets:
        return
    layout = refund_layout(cfg, refund, sale, sale_lines, credit_code=credit_code)
    for p in targets:
        printing.enqueue(s, p.name, "refund", layout, ref=refund.id,
                         title=f"Refund {refund.number}")
