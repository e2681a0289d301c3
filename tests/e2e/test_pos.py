"""A cashier's whole shift on a 10" tablet in real Chromium, against a real server.

PIN login -> open shift -> scan three products through the scan field (one a
scale label) -> a line discount that needs the manager's PIN -> split cash + UPI
-> receipt -> refund one line -> close the shift: the Z report matches the sale.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from app.catalog.barcodes import MeasureRule, make_variable_barcode
from app.core.money import format_amount, parse_amount
from tests.e2e.conftest import DEVICES, SHOTS, demo_products, login, scan

WEIGHT_RULE = MeasureRule.compile("Weighed item (kg)", "21.....{NNDDD}", "weight")
ONION_PLU = "00101"  # Onion, ₹40.00 per kg in the demo catalogue


@pytest.fixture
def device_options() -> dict:
    return dict(DEVICES["tablet"])


async def test_cashier_shift_from_login_to_z_report(new_page, own_server) -> None:
    page = await new_page(own_server.url)
    products = demo_products()
    soap, biscuits = products[40], products[80]

    await login(page, "Asha")
    await expect(page.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    await page.get_by_role("link", name="Till").first.tap()

    # Open the shift on counter C1 with a ₹500 float.
    await expect(page.get_by_role("heading", name="Start selling")).to_be_visible()
    await page.locator("input[name=float]").fill("500")
    await page.get_by_role("button", name="Open shift").tap()
    await expect(page.locator("#scan-code")).to_be_focused()

    # Three products through the scan field: two packs (one twice) and 1.250 kg of onion.
    await scan(page, soap.barcode)
    await expect(page.get_by_test_id("pos-message")).to_contain_text(f"Added {soap.name}")
    await scan(page, soap.barcode)
    await scan(page, biscuits.barcode)
    await expect(page.get_by_test_id("pos-message")).to_contain_text(biscuits.name)
    await scan(page, make_variable_barcode(WEIGHT_RULE, ONION_PLU, 1250))
    await expect(page.get_by_test_id("pos-message")).to_contain_text("Onion")
    lines = page.get_by_test_id("cart-line")
    await expect(lines).to_have_count(3)
    await expect(lines.nth(0).get_by_test_id("line-qty")).to_have_text("2")
    await expect(lines.nth(2)).to_contain_text("1.250 kg x ₹")
    await expect(lines.nth(2).get_by_test_id("line-amount")).to_have_text("₹50.00")

    # 20 % off the biscuits is over the 10 % limit: the manager approves on this screen.
    biscuit_line = lines.nth(1)
    await biscuit_line.locator("summary").tap()
    await biscuit_line.locator("input[name=value]").fill("20")
    await biscuit_line.get_by_role("button", name="Apply").tap()
    approval = page.get_by_test_id("approval")
    await expect(approval).to_contain_text("needs a manager's PIN")
    # The box stands over the cart (still there behind it), names the line and the amount,
    # and has no manager chosen for the cashier.
    biscuit_price = parse_amount(biscuits.price)
    await expect(page.get_by_test_id("approval-what")).to_have_text(
        f"{biscuits.name}: 20% off, {format_amount(round(biscuit_price * 20 / 100))} off "
        f"{format_amount(biscuit_price)}")
    await expect(page.get_by_test_id("cart-line")).to_have_count(3)
    manager = approval.locator("select[name=approver_id]")
    await expect(manager).to_have_value("")
    await expect(manager).to_be_focused()
    await page.screenshot(path=str(SHOTS / "till-approval-tablet.png"), caret="initial")
    await approval.locator("select[name=approver_id]").select_option(label="Meena")
    await approval.locator("input[name=approver_pin]").fill("4726")
    await approval.get_by_role("button", name="Approve").tap()
    await expect(page.get_by_test_id("cart-line").nth(1)).to_contain_text("discount −")

    soap_price, biscuit_price = parse_amount(soap.price), parse_amount(biscuits.price)
    discount = round(biscuit_price * 20 / 100)
    net = 2 * soap_price + biscuit_price - discount + 5000
    total = (net + 50) // 100 * 100  # bills round to the rupee
    await expect(page.get_by_test_id("cart-total")).to_have_text(format_amount(total))

    # Split: ₹100 by UPI (QR shown with the amount), the rest in cash with change.
    await page.get_by_test_id("pay").tap()
    await expect(page.get_by_test_id("upi-qr")).to_be_visible()
    upi_uri = await page.get_by_test_id("upi-qr").get_attribute("data-upi")
    assert f"am={total / 100:.2f}" in upi_uri
    upi_form = page.locator("section.upi form")
    await upi_form.locator("input[name=amount]").fill("100")
    # The QR asks for the ₹100 typed for the split, not all that is due.
    await expect(page.get_by_test_id("upi-qr")).to_have_attribute("data-upi", re.compile("am=100.00"))
    await expect(page.get_by_test_id("upi-amount")).to_have_text("₹100.00")
    await upi_form.get_by_role("button", name="UPI received").tap()
    await expect(page.get_by_test_id("still-due")).to_have_text(format_amount(total - 10000))
    cash_given = (total - 10000) // 10000 * 10000 + 10000  # next ₹100 note above
    await page.get_by_label("Cash received").fill(f"{cash_given / 100:.2f}")
    await page.get_by_role("button", name="Take cash").tap()
    change = cash_given - (total - 10000)
    await expect(page.get_by_test_id("change-due")).to_have_text(format_amount(change))
    complete = page.get_by_test_id("complete")
    await complete.dblclick()  # a double tap must still make one sale

    await expect(page.get_by_test_id("receipt-number")).to_have_text("S1-000001")
    await expect(page.get_by_test_id("receipt-total")).to_have_text(format_amount(total))
    await expect(page.get_by_test_id("tax-breakdown")).to_contain_text("GST")
    receipt_url = page.url

    # Refund one soap (back on the shelf), approved by the manager.
    await page.get_by_role("link", name="Refund from this bill").tap()
    soap_row = page.locator("tr", has_text=soap.name)
    await soap_row.locator("input[name^=qty-]").fill("1")
    await page.locator("select[name=approver_id]").select_option(label="Meena")
    await page.locator("input[name=approver_pin]").fill("4726")
    await page.locator("select[name=tender]").select_option("cash")
    await page.get_by_test_id("refund-submit").tap()
    await expect(page.get_by_test_id("refund-total")).to_have_text(format_amount(soap_price))

    # Close the shift, counting exactly what should be in the drawer.
    await page.goto("/pos/shift")
    expected_cash = 50000 + (total - 10000) - soap_price
    await expect(page.get_by_test_id("expected-cash")).to_have_text(format_amount(expected_cash))
    rupees_left = expected_cash // 100
    for denomination in (2000, 500, 200, 100, 50, 20, 10, 5, 2, 1):
        count, rupees_left = divmod(rupees_left, denomination)
        if count:
            await page.locator(f"input[name=d{denomination}]").fill(str(count))
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_test_id("close-shift").tap()

    await expect(page.get_by_role("heading", name=re.compile("Z report"))).to_be_visible()
    await expect(page.get_by_test_id("report-sales-count")).to_have_text("1")
    await expect(page.get_by_test_id("report-sales-total")).to_have_text(format_amount(total))
    await expect(page.get_by_test_id("report-refunds")).to_have_text(format_amount(soap_price))
    await expect(page.get_by_test_id("tender-upi")).to_have_text(format_amount(10000))
    await expect(page.get_by_test_id("tender-cash")).to_have_text(format_amount(total - 10000))
    counted = expected_cash // 100 * 100  # notes and coins only: paise can't be counted
    await expect(page.get_by_test_id("counted-cash")).to_have_text(format_amount(counted))
    await expect(page.get_by_test_id("variance")).to_have_text(
        format_amount(counted - expected_cash))

    # The double tap made exactly one sale: the receipt is still S1-000001 and no S1-000002.
    await page.goto(receipt_url)
    await expect(page.get_by_test_id("receipt-number")).to_have_text("S1-000001")


async def test_receipt_preview_and_printers_page(new_page, own_server) -> None:
    page = await new_page(own_server.url)
    product = demo_products()[5]
    await login(page, "Asha")
    await expect(page.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    await page.goto("/pos")
    await page.locator("input[name=float]").fill("0")
    await page.get_by_role("button", name="Open shift").tap()
    await scan(page, product.barcode)
    await expect(page.get_by_test_id("cart-line")).to_have_count(1)
    await page.get_by_test_id("pay").tap()
    await page.get_by_role("button", name=re.compile("^Exact")).tap()
    await page.get_by_test_id("complete").tap()
    number = page.get_by_test_id("receipt-number")
    await expect(number).to_have_text("S1-000001")
    # The store prints to a preview printer: the paper shows on screen once it is done.
    await expect(page.get_by_test_id("receipt-print-counter-1")).to_have_text("Printed")
    await page.locator("details.paper-wrap > summary").tap()
    preview = page.get_by_test_id("receipt-preview")
    await expect(preview).to_contain_text("TAX INVOICE")
    await expect(preview).to_contain_text("S1-000001")
    await expect(preview.locator("svg")).to_have_count(2)  # the barcode and the QR code

    # The manager sees the job done on the printers page, and can reprint it.
    await page.goto("/login")
    await login(page, "Meena")
    await expect(page.get_by_role("heading", name="Hello, Meena")).to_be_visible()
    await page.goto("/printers")
    row = page.get_by_test_id("job-row").filter(has_text="Receipt S1-000001")
    await expect(row.get_by_test_id("job-status")).to_have_text("done")
    await row.get_by_role("button", name="Reprint").tap()
    copy = page.get_by_test_id("job-row").filter(has_text="duplicate").first
    await expect(copy.get_by_test_id("job-status")).to_have_text("done", timeout=10_000)
