"""Every document renders from its default template to ESC/POS bytes with its text,
codes and cut; a broken store override is reported with its line, and the default used."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from app.catalog.units import format_measure
from app.config import parse_config
from app.pos.receipts import sale_line_text
from app.printing.documents import DOCUMENTS, PrintTemplates
from app.printing.escpos_render import to_escpos
from app.printing.layout import parse_layout, plain_text

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
CUT, BARCODE, RASTER = b"\x1dV", b"\x1dk", b"\x1dv0"


def config(tmp_path: Path):
    text = (ROOT / "store_config" / "store.toml").read_text()
    return parse_config(text, source=str(tmp_path / "store.toml"), base_dir=str(tmp_path))


def sale_line(name: str, qty: int, price: int, rate: int) -> NS:
    return NS(name=name, quantity=qty, unit="piece", unit_price_minor=price,
              net_minor=qty * price, discount_minor=0, gst_rate_bp=rate,
              tax_minor=qty * price * rate // (10000 + rate), cgst_minor=1, sgst_minor=1,
              gross_minor=qty * price, mrp_minor=None)


ONION = NS(name="Onion", quantity=1250, unit="kg", unit_price_minor=4000, gross_minor=5000,
           net_minor=5000, discount_minor=0, gst_rate_bp=0, tax_minor=0, cgst_minor=0,
           sgst_minor=0, mrp_minor=None)
SALE = NS(number="S1-000042", at=NOW, counter="C1", total_minor=36800, discount_minor=0,
          rounding_minor=0, change_minor=200, receipt_token="tok",
          lines=[sale_line("Tata Salt 1 kg", 2, 2800, 500),
                 sale_line("[Promo] Surf Excel Easy Wash 1 kg", 1, 26200, 1800), ONION],
          tenders=[NS(kind="cash", reference="", given_minor=32000, amount_minor=31800)])
ORDER = NS(number="D2-4711", customer_name="Priya Sharma", customer_first_name="Priya",
           address="Flat 12, 3rd Cross, HSR Layout", pincode="560102", payment="cod",
           cod_amount_minor=45600, notes="Ring the bell", bag_count=2, courier="Rider pool",
           promised_by=NOW, handover_code="HX7Q2",
           lines=[NS(name="Amul Taaza 500 ml", quantity=2, unit="piece", substitute_for=None),
                  NS(name="Onion", quantity=1250, unit="kg", substitute_for="Onion (Nashik)")])
BATCH = NS(number="B-0007", picker="Ravi", created_at=NOW,
           orders=[NS(number="D2-4711", bag="A", promised_by=NOW)],
           tasks=[NS(bin="A-01-2", sku="MLK-AMUL", name="Amul Taaza 500 ml", quantity=2,
                     unit="piece", bag="A")])
REPORT = NS(shift=NS(number="S1-SH0003", counter="C1", opened_at=NOW, closed_at=NOW,
                     counted_cash_minor=150000, expected_cash_minor=150500, float_minor=50000),
            sales_count=12, sales_total=120000, refunds_total=2000, net_sales=118000,
            refunds_count=1, tenders=["cash", "card", "upi"], refunds_by_tender={"cash": 2000},
            by_tender={"cash": 100000, "upi": 20000},
            tax_rows=[NS(rate_bp=500, taxable=9000, cgst=225, sgst=225, igst=0)], net_rounding=108550,
            discounts=1500, voids_count=1, voids_total=2800, cash_in=0, cash_out=0,
            expected_cash=150500, change_given=0,
            cash_out_warning="Cash out ₹3,000.00 (2 entries, ₹0.00 approved by a manager) "
                             "is above the usual ₹2,000.00 for a shift")
REFUND = NS(number="S1-R00001", at=NOW, total_minor=2800, tax_minor=133, tender_kind="cash",
            lines=[NS(sale_line_id="l1", quantity=1, amount_minor=2800, restock="resaleable")])

CONTEXTS = {
    "receipt": ({"sale": SALE, "cashier": "Asha", "receipt_url": "https://k.local/r/tok",
                 "tax_rows": [NS(rate_bp=500, taxable=5333, cgst=134, sgst=133)],
                 "line_text": sale_line_text, "duplicate": False},
                ["TAX INVOICE", "S1-000042", "Tata Salt", "Rs.368.00",
                 "1.250 kg x Rs.40.00/kg", "2 x Rs.28.00"],
                [BARCODE, RASTER]),
    "refund": ({"refund": REFUND, "sale": SALE, "duplicate": False, "measure": format_measure,
                "sale_lines": {"l1": SALE.lines[0]}}, ["REFUND", "S1-R00001", "back on shelf"],
               []),
    "report": ({"report": REPORT, "closed": True},
               ["Z REPORT", "S1-SH0003", "Difference", "Opening float", "Rs.500.00",
                "Cash refunds", "CGST 2.5%", "Card sales", "above the usual Rs.2,000.00"], []),
    "test": ({"printer": NS(name="counter-1", kind="network", columns=48), "at": NOW},
             ["Test page", "counter-1", "Rs. 1,234.50"], [BARCODE, RASTER]),
    "pick_list": ({"batch": BATCH}, ["PICK LIST", "A-01-2", "Amul Taaza", "bag A"], [BARCODE]),
    "packing_slip": ({"order": ORDER}, ["ORDER D2-4711", "COLLECT CASH", "instead of Onion"],
                     []),
    "bag_label": ({"order": ORDER, "bag_no": 1, "bag_count": 2,
                   "bag_code": "D2-4711/1/K7Q2XMPA"},
                  ["D2-4711", "Priya", "Bag 1 of 2", "D2-4711/1/K7Q2XMPA"], [RASTER]),
    "price_label": ({"label": NS(name="Amul Taaza 500 ml", sku="MLK-AMUL", batch="L24",
                                 expiry=NOW.date(), was_minor=3000, now_minor=1500,
                                 barcode="2212345015000", copies=2)},
                    ["Amul Taaza", "Use by 27 Nov 2026", "Batch L24", "Rs.30.00", "Rs.15.00",
                     "2212345015000"], [BARCODE]),
    "purchase_order": ({"order": NS(
        label="PO-000007", po=NS(created_at=NOW, expected_on=NOW.date()),
        supplier=NS(name="Sharma Traders", phone="+91 98450 12345", gstin="27AAPFU0939F1ZV"),
        lines=[NS(sku="ATTA5", name="Aashirvaad Atta 5 kg", quantity=3, unit="case",
                  pack_size=6, pieces=18, case_cost_minor=138000, line_cost_minor=414000),
               NS(sku="DAL1", name="[Promo] Toor Dal 1 kg", quantity=4, unit="piece",
                  pack_size=12, pieces=4, case_cost_minor=192000, line_cost_minor=64000)],
        total_minor=478000)},
        ["PURCHASE ORDER", "PO-000007", "Sharma Traders", "27AAPFU0939F1ZV",
         "3 cases x 6 = 18 pc", "Rs.4,140.00", "[Promo] Toor Dal 1 kg", "4 pc = 4 pc",
         "2 lines", "Rs.4,780.00"], [BARCODE]),
}


def test_every_document_is_covered():
    assert set(CONTEXTS) == set(DOCUMENTS)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_document_renders_to_escpos(document, tmp_path):
    context, texts, codes = CONTEXTS[document]
    layout = PrintTemplates(config(tmp_path)).render(document, **context)
    blocks = parse_layout(layout)
    text = plain_text(blocks, 48).replace("₹", "Rs.")
    for expected in texts:
        assert expected in text, (document, expected)
    data = to_escpos(blocks, columns=48, profile="TM-T20II")
    assert data.startswith(b"\x1b@") and CUT in data
    for code in codes:
        assert code in data, (document, code)


def test_data_cannot_inject_layout_directives(tmp_path):
    layout = PrintTemplates(config(tmp_path)).render("receipt", **CONTEXTS["receipt"][0])
    # "[Promo] Surf…" is a product name, not a directive: it prints as written.
    assert "[Promo] Surf Excel" in plain_text(parse_layout(layout), 48)


def test_broken_override_is_reported_and_default_used(tmp_path):
    overrides = tmp_path / "print_templates"
    overrides.mkdir()
    (overrides / "receipt.txt.j2").write_text("[c]Hello\n{{ sale.number }\n")
    templates = PrintTemplates(config(tmp_path))
    layout = templates.render("receipt", **CONTEXTS["receipt"][0])
    assert "TAX INVOICE" in layout  # the built-in layout printed
    problem = templates.problems["receipt.txt.j2"]
    assert problem.startswith("receipt.txt.j2 line 2:") and "built-in layout" in problem
    (overrides / "receipt.txt.j2").write_text("[c]Hello {{ sale.number }}\n[oops]x\n[cut]\n")
    templates.render("receipt", **CONTEXTS["receipt"][0])
    assert "unknown directive" in templates.problems["receipt.txt.j2"]
    (overrides / "receipt.txt.j2").write_text("[c][b]{{ store.name }}\n[c]{{ sale.number }}\n[cut]\n")
    layout = templates.render("receipt", **CONTEXTS["receipt"][0])
    assert layout.startswith("[c][b]Kirana Fresh") and "receipt.txt.j2" not in templates.problems
