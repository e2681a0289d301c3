"""The one place a completed sale (or refund, or closed shift) asks for paper.

Called inside the use case's own transaction: the print job commits with the
sale, so a receipt is never lost, and the printer's worker sends it in order.
The same data feeds the on-screen receipt and the public e-receipt page.
"""

from __future__ import annotations

from app.config import StoreConfig, per_config
from app.core.db import Tx
from app.pos.models import Refund, Sale, SaleLine
from app.pos.pricing import TaxRow
from app.printing import service as printing
from app.printing.documents import PrintTemplates

_TEMPLATES: dict = {}


def templates_for(cfg: StoreConfig) -> PrintTemplates:
    return per_config(_TEMPLATES, cfg, PrintTemplates)


def tax_rows(lines: list[SaleLine]) -> list[TaxRow]:
    rows: dict[int, list[int]] = {}
    for line in lines:
        row = rows.setdefault(line.gst_rate_bp, [0, 0, 0])
        row[0] += line.net_minor - line.tax_minor
        row[1] += line.cgst_minor
        row[2] += line.sgst_minor
    return [TaxRow(rate, *values) for rate, values in sorted(rows.items())]


def receipt_url(cfg: StoreConfig, sale: Sale) -> str:
    return f"{cfg.public_url}/r/{sale.receipt_token}"


def receipt_layout(cfg: StoreConfig, sale: Sale, cashier: str, duplicate: bool = False) -> str:
    return templates_for(cfg).render(
        "receipt", sale=sale, cashier=cashier, receipt_url=receipt_url(cfg, sale),
        tax_rows=tax_rows(sale.lines), duplicate=duplicate)


def ask_for_receipt(s: Tx, cfg: StoreConfig, sale: Sale, cashier: str) -> list[str]:
    """Queue the receipt on every printer that prints receipts for this counter."""
    targets = printing.printers_for(cfg, "receipt", sale.counter)
    if not targets:
        return []
    layout = receipt_layout(cfg, sale, cashier)
    return [printing.enqueue(s, p.name, "receipt", layout, ref=sale.id,
                             title=f"Receipt {sale.number}").printer for p in targets]


def ask_for_report(s: Tx, cfg: StoreConfig, report, closed: bool) -> None:  # noqa: ANN001
    """X/Z report on the counter's report printer."""
    counter = report.shift.counter
    targets = printing.printers_for(cfg, "report", counter)
    if not targets:
        return
    layout = templates_for(cfg).render("report", report=report, closed=closed)
    label = "Z report" if closed else "X report"
    for p in targets:
        printing.enqueue(s, p.name, "report", layout, ref=report.shift.id,
                         title=f"{label} {report.shift.number}")


def ask_for_refund_slip(s: Tx, cfg: StoreConfig, refund: Refund, sale: Sale,
                        sale_lines: dict[str, SaleLine], counter: str) -> None:
    targets = printing.printers_for(cfg, "refund", counter)
    if not targets:
        return
    layout = templates_for(cfg).render("refund", refund=refund, sale=sale,
                                       sale_lines=sale_lines, duplicate=False)
    for p in targets:
        printing.enqueue(s, p.name, "refund", layout, ref=refund.id,
                         title=f"Refund {refund.number}")
