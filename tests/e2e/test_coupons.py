"""A coupon in real Chromium against a real server (issue #21): the manager makes a
single-use "₹50 off on ₹500" coupon offer on /promotions; the cashier scans a ₹545 atta,
scans the coupon's code (no product has it: the till applies the coupon), sees the
offer and the new total, completes the sale; the receipt shows the offer; the same
coupon on the next bill is refused as already used."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import DEVICES, login, scan

ATTA_10KG = "8907064947864"  # ATA-AASH-10KG, ₹545.00


@pytest.fixture
def device_options() -> dict:
    return dict(DEVICES["tablet"])


async def test_a_scanned_single_use_coupon(new_page, own_server) -> None:
    office = await new_page(own_server.url)
    await login(office, "Meena")
    await expect(office.get_by_role("heading", name="Hello, Meena")).to_be_visible()
    await office.goto("/promotions")
    offer = office.get_by_test_id("new-bill_amount_off")
    await offer.locator("summary").first.tap()
    await offer.get_by_label("Name on the bill").fill("Diwali ₹50 off")
    await offer.get_by_label("₹ off the bill").fill("50")
    await offer.get_by_label("On bills of ₹ or more").fill("500")
    await offer.get_by_text("More", exact=True).tap()
    await offer.get_by_label(re.compile("^Coupon code")).fill("diwali50")
    await offer.get_by_label(re.compile("^Coupon uses in total")).fill("1")
    await offer.get_by_role("button", name="Save the offer").tap()
    await expect(office.get_by_test_id("promotion-saved")).to_contain_text("Diwali")
    await expect(office.get_by_test_id("coupon-of-offer")).to_contain_text("coupon DIWALI50")

    till = await new_page(own_server.url)
    await login(till, "Asha")
    await expect(till.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    await till.goto("/pos")
    await till.locator("input[name=float]").fill("0")
    await till.get_by_role("button", name="Open shift").tap()
    await scan(till, ATTA_10KG)
    await expect(till.get_by_test_id("cart-total")).to_have_text("₹545.00")
    await scan(till, "DIWALI50")
    await expect(till.get_by_test_id("pos-message")).to_have_text(
        "Coupon DIWALI50 applied: ₹50.00 off")
    await expect(till.get_by_test_id("cart-total")).to_have_text("₹495.00")
    await expect(till.get_by_test_id("cart-offers")).to_contain_text("₹50.00")

    await till.get_by_test_id("pay").tap()
    await till.get_by_role("button", name=re.compile("^Exact")).tap()
    await till.get_by_test_id("complete").tap()
    await expect(till.get_by_test_id("receipt-print-counter-1")).to_have_text("Printed")
    await expect(till.locator("body")).to_contain_text("Offer: Diwali ₹50 off")

    await till.goto("/pos")
    await scan(till, ATTA_10KG)
    await expect(till.get_by_test_id("cart-total")).to_have_text("₹545.00")
    await scan(till, "DIWALI50")
    await expect(till.get_by_test_id("pos-message")).to_have_text("Coupon DIWALI50 already used")
    await expect(till.get_by_test_id("cart-total")).to_have_text("₹545.00")
