"""Expiry in real Chromium (issue #17), on a demo store whose first products are given
batches (one past its date) through the stock service, as receiving would:

* a manager opens Expiry, sees the expired batch on top and writes it off with one
  tap (the list then no longer has it), then marks the fresh batch down: a price that
  is not lower is refused, half price prints two labels (a job on the printers page);
* a cashier scans a GS1 code whose expiry has passed: the till refuses it and asks for
  a manager's PIN, and adds it once the manager approves.

Every page runs under the CSP with nothing from the internet (the Guard)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect
from sqlalchemy import select, update

from app.catalog.barcodes import gtin_check_digit
from app.catalog.models import Barcode, Product
from app.core.db import Database
from app.core.money import format_amount, parse_amount
from app.stock import service
from app.stock.models import Bin
from tests.e2e.conftest import demo_products, login, scan

LABEL_CODE = "229876500000" + gtin_check_digit("229876500000")  # prefix 22, item 98765
TODAY = datetime.now(UTC).astimezone(ZoneInfo("Asia/Kolkata")).date()


@pytest.fixture
def device() -> str:
    return "tablet"


async def give_batches(directory, sku: str) -> str:
    """One expired batch and one fresh batch of `sku` in the store's first bin (its code)."""
    db = Database(directory / "store.db")
    try:
        async with db.write() as s:
            await s.execute(update(Product).where(Product.sku == sku).values(tracks_expiry=True))
            product = await s.scalar(select(Product).where(Product.sku == sku))
            s.add(Barcode(code=LABEL_CODE, product_id=product.id))  # its price-label code
            bin_code = await s.scalar(select(Bin.code).order_by(Bin.pick_seq).limit(1))
        for batch, expiry, quantity in (("E2E-OLD", TODAY - timedelta(days=2), 3),
                                        ("E2E-NEW", TODAY + timedelta(days=3), 5)):
            await service.receive(db, product_id=product.id, bin_code=bin_code,
                                  quantity=quantity, user_id=None, batch=batch, expiry=expiry)
    finally:
        await db.dispose()
    return str(bin_code)


async def test_manager_writes_off_an_expired_batch_and_marks_down_a_fresh_one(
        own_server, new_page, guard) -> None:
    guard.allow(r"status of 400 .*/stock/expiry/mark-down")  # the refused price, below
    product = demo_products()[3]
    bin_code = await give_batches(own_server.directory, product.sku)
    page = await new_page(own_server.url)
    await login(page, "Meena")
    await expect(page.get_by_role("heading", name="Hello, Meena")).to_be_visible()
    await page.goto("/stock/expiry")
    await expect(page.get_by_role("heading", name="Expiry", exact=True)).to_be_visible()
    expired = page.get_by_test_id("expired")
    await expect(expired).to_contain_text(product.name)
    await expect(expired).to_contain_text("Batch E2E-OLD")
    item = expired.locator(f'[data-batch="E2E-OLD"][data-sku="{product.sku}"]')
    await item.get_by_test_id("write-off").click()
    await expect(page.get_by_test_id("expiry-message")).to_have_text(
        f"Written off as expired: 3 × {product.name}, batch E2E-OLD, bin {bin_code}.")
    await expect(page.locator('[data-batch="E2E-OLD"]')).to_have_count(0)
    # The fresh batch is still listed: marked down at half price, two labels printed.
    fresh = page.locator('[data-batch="E2E-NEW"]')
    await expect(fresh).to_contain_text("in 3 days")
    half = parse_amount(product.price) // 2
    await fresh.get_by_label("New price").fill(product.price)
    await fresh.get_by_label("Labels").fill("2")
    await fresh.get_by_test_id("mark-down").click()
    await expect(page.get_by_test_id("expiry-message")).to_contain_text("is not lower than")
    fresh = page.locator('[data-batch="E2E-NEW"]')
    await fresh.get_by_label("New price").fill(f"{half / 100:.2f}")
    await fresh.get_by_label("Labels").fill("2")
    await fresh.get_by_test_id("mark-down").click()
    await expect(page.get_by_test_id("expiry-message")).to_have_text(
        f"2 labels for {product.name} at {format_amount(half)} sent to the printer. "
        "Stick them over the old price.")
    await page.goto("/printers")
    await expect(page.get_by_text(f"Mark-down {product.name}").first).to_be_visible()


async def test_the_till_refuses_an_expired_gs1_code_until_a_manager_approves(
        own_server, new_page) -> None:
    product = demo_products()[5]
    page = await new_page(own_server.url)
    await login(page, "Asha")
    await expect(page.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    await page.get_by_role("link", name="Till").first.tap()
    await expect(page.get_by_role("heading", name="Start selling")).to_be_visible()
    await page.locator("input[name=float]").fill("500")
    await page.get_by_role("button", name="Open shift").tap()
    await expect(page.locator("#scan-code")).to_be_focused()

    yesterday = TODAY - timedelta(days=1)
    await scan(page, f"(01)0{product.barcode}(17){yesterday:%y%m%d}(10)L7")
    approval = page.get_by_test_id("approval")
    await expect(approval).to_contain_text(f"{product.name} expired on")
    await expect(page.get_by_test_id("approval-what")).to_have_text(
        f"Sell {product.name}, expired on {yesterday:%d %b %Y}")
    await expect(page.get_by_test_id("cart-line")).to_have_count(0)
    await approval.locator("select[name=approver_id]").select_option(label="Meena")
    await approval.locator("input[name=approver_pin]").fill("4726")
    await approval.get_by_role("button", name="Approve").tap()
    await expect(page.get_by_test_id("pos-message")).to_contain_text(f"Added {product.name}")
    await expect(page.get_by_test_id("cart-line")).to_have_count(1)
    # The same product by its plain barcode: no question asked. It has a line of its own:
    # the expired one leaves the books from batch L7, this one first-expired-first-out.
    await scan(page, product.barcode)
    await expect(page.get_by_test_id("cart-line")).to_have_count(2)
    await expect(page.get_by_test_id("approval")).to_be_hidden()
