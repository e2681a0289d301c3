"""A business bill at the till in real Chromium against a real server (issue #18): the
cashier adds a buyer from Maharashtra (the demo store is in Karnataka), a wrong GSTIN is
refused with what is wrong, the sale prints a TAX INVOICE with IGST, and a refund of it
prints a CREDIT NOTE against the invoice. The printed jobs are read from the store's
database and decoded from the ESC/POS bytes the printer gets."""

from __future__ import annotations

import re
import sqlite3

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import DEVICES, demo_products, login, scan
from tests.integration.test_gst_documents import paper_text

BUYER_GSTIN = "27AAPFU0939F1ZV"


@pytest.fixture
def device_options() -> dict:
    return dict(DEVICES["tablet"])


def printed(directory, document: str) -> list[str]:
    """The store's print jobs of one document, oldest first, as printed text."""
    with sqlite3.connect(directory / "store.db") as conn:
        layouts = [r[0] for r in conn.execute(
            "SELECT layout FROM print_jobs WHERE document = ? ORDER BY seq", (document,))]
    return [" ".join(paper_text(layout).split()) for layout in layouts]


async def test_an_inter_state_business_bill_prints_igst_and_its_refund_a_credit_note(
        new_page, own_server) -> None:
    by_sku = {p.sku: p for p in demo_products()}
    dal, lotion = by_sku["DAL-24RJ-500G"], by_sku["BLT-HMBL-200ML"]  # GST 5 % and 18 %
    page = await new_page(own_server.url)
    await login(page, "Asha")
    await expect(page.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    await page.goto("/pos")
    await page.locator("input[name=float]").fill("0")
    await page.get_by_role("button", name="Open shift").tap()
    await scan(page, dal.barcode)
    await scan(page, lotion.barcode)
    await expect(page.get_by_test_id("cart-line")).to_have_count(2)

    # The buyer: a mistyped GSTIN is refused with what is wrong; nothing is kept.
    await page.get_by_test_id("business-bill").tap()
    form = page.get_by_test_id("buyer-form")
    await form.get_by_label("Buyer's GSTIN").fill("27AAPFU0939F1ZO")
    await form.get_by_label("Buyer's name").fill("Sharma Traders")
    await form.get_by_label("Buyer's address").fill("14 MG Road, Pune 411001")
    await form.get_by_role("button", name="Save buyer").tap()
    await expect(page.get_by_test_id("pos-message")).to_contain_text("check character")
    await expect(page.get_by_test_id("buyer")).to_have_count(0)
    # The form stays open with what was typed: only the GSTIN needs correcting.
    form = page.get_by_test_id("buyer-form")
    await expect(form.get_by_label("Buyer's name")).to_have_value("Sharma Traders")
    await form.get_by_label("Buyer's GSTIN").fill(BUYER_GSTIN.lower())
    await form.get_by_role("button", name="Save buyer").tap()
    await expect(page.get_by_test_id("buyer")).to_contain_text(f"GSTIN {BUYER_GSTIN}")

    await page.get_by_test_id("pay").tap()
    await page.get_by_role("button", name=re.compile("^Exact")).tap()
    await page.get_by_test_id("complete").tap()
    await expect(page.get_by_test_id("invoice-number")).to_contain_text("Invoice No. S1/I")
    await expect(page.get_by_test_id("place-of-supply")).to_have_text("27-Maharashtra")
    await expect(page.get_by_test_id("tax-breakdown")).to_contain_text("IGST")
    await expect(page.get_by_test_id("receipt-print-counter-1")).to_have_text("Printed")
    invoice_number = re.search(r"S1/I\d{4}/\d{5}",
                               await page.get_by_test_id("invoice-number").inner_text())[0]

    [invoice] = printed(own_server.directory, "receipt")
    for expected in ("TAX INVOICE", f"Invoice No. {invoice_number}", "Sharma Traders",
                     f"GSTIN {BUYER_GSTIN}", "Place of supply 27-Maharashtra", "IGST 5%",
                     "IGST 18%", "Tax payable on reverse charge No", "Authorised signatory"):
        assert expected in invoice, expected
    assert "CGST" not in invoice

    # A refund of one dal: the slip is a credit note against the invoice, with IGST.
    await page.get_by_role("link", name="Refund from this bill").tap()
    await page.locator("tr", has_text=dal.name).locator("input[name^=qty-]").fill("1")
    await page.locator("select[name=approver_id]").select_option(label="Meena")
    await page.locator("input[name=approver_pin]").fill("4726")
    await page.locator("select[name=tender]").select_option("cash")
    await page.get_by_test_id("refund-submit").tap()
    await expect(page.get_by_test_id("refund-total")).to_be_visible()
    await expect(page.get_by_test_id("receipt")).to_contain_text("CREDIT NOTE")
    await expect(page.get_by_test_id("receipt")).to_contain_text(
        f"Against invoice {invoice_number}")

    [note] = printed(own_server.directory, "refund")
    for expected in ("CREDIT NOTE", "Credit note No. S1/C", f"Against invoice {invoice_number}",
                     f"GSTIN {BUYER_GSTIN}", "Place of supply 27-Maharashtra", "IGST 5%",
                     "Tax payable on reverse charge No", "Authorised signatory"):
        assert expected in note, expected
    assert "CGST" not in note
