"""A manager in real Chromium (tablet): adds a supplier and a product, turns "What to
order" into a draft, sends it and opens the print page; every page runs under the CSP
with nothing from the internet (the Guard fails the test on a violation or a console
error)."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import demo_products, login


@pytest.fixture
def device() -> str:
    return "tablet"


async def test_manager_orders_from_a_supplier(own_server, new_page) -> None:
    page = await new_page(own_server.url)
    await login(page, "Meena")
    await expect(page.get_by_role("heading", name="Hello, Meena")).to_be_visible()
    await page.goto("/purchasing")
    await page.get_by_role("link", name="Add a supplier").click()
    await page.get_by_label("Name").fill("Gupta Wholesale")
    await page.get_by_label("GSTIN").fill("27AAPFU0939F1ZV")
    await page.get_by_label("Days from order to delivery").fill("2")
    await page.get_by_role("button", name="Save supplier").click()
    await expect(page.get_by_role("heading", name="Gupta Wholesale", exact=True)).to_be_visible()
    product = demo_products()[0]
    await page.get_by_label("SKU").fill(product.sku)
    await page.get_by_label("Pieces in a case").fill("12")
    await page.get_by_label("Cost of a case").fill("1,200")
    await page.get_by_role("button", name="Save product").click()
    await expect(page.get_by_role("status").filter(has_text="Product saved.")).to_be_visible()
    await page.get_by_role("link", name="What to order now").click()
    await page.get_by_test_id(f"qty-{product.sku}").fill("2")
    await page.get_by_role("button", name="Make a draft order").click()
    await expect(page.get_by_test_id("po-status")).to_have_text("Draft")
    await expect(page.get_by_test_id("po-total")).to_have_text("₹2,400.00")
    await page.get_by_role("button", name="Mark as sent to the supplier").click()
    await expect(page.get_by_test_id("po-status")).to_have_text("Sent")
    # The demo's own order to Sharma Traders is PO-000001.
    await page.get_by_role("link", name="Print (A4, browser)").click()
    await expect(page.get_by_role("heading", name="Purchase order PO-000002")).to_be_visible()
    await expect(page.get_by_test_id("print-lines").locator("tbody tr")).to_have_count(1)
    await expect(page.get_by_role("button", name="Print", exact=True)).to_be_visible()
