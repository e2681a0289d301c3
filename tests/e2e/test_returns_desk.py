"""The returns desk in real Chromium on a phone (issue #19), on the demo store alone: a
`return.requested` is fed through the store's sync apply path (as the hub would send
it), the picker opens it by its order code, scans a wrong item (refused), grades one
unit resellable and one damaged, finishes; the stock page then shows the resellable
unit back (and only that one)."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from app.catalog.barcodes import make_variable_barcode
from app.config import load_config
from app.core.db import Database
from app.sync.protocol import Event
from app.sync.store_apply import apply_hub_event
from tests.e2e.conftest import SHOTS, demo_products, login, number


@pytest.fixture
def device() -> str:
    return "phone"


async def feed_return(directory, sku: str, refundable: int = 8000, number: str = "RET-000077",
                      quantity: int = 2) -> None:
    cfg = load_config(directory / "store.toml")
    db = Database(cfg.database_path)
    try:
        async with db.write() as s:
            await apply_hub_event(s, cfg, Event(
                seq=10_000, id="e2e-return", kind="return.requested",
                at="2026-12-01T10:00:00+00:00", data={
                    "return_id": "0190e2e0-0000-7000-8000-000000000001",
                    "number": number, "kind": "customer", "mode": "walk_in",
                    "hub_order_id": "0190e2e0-0000-7000-8000-00000000000a",
                    "order_number": "H-000077", "channel": "webshop",
                    "external_id": "WEB-77", "channel_return_id": "CR-77",
                    "reason": "one arrived broken", "exchange": False,
                    "at": "2026-12-01T10:00:00+00:00",
                    "lines": [{"sku": sku, "quantity": quantity,
                               "unit_price_minor": refundable // quantity,
                               "refundable_minor": refundable}]}))
    finally:
        await db.dispose()


async def on_hand(page: Page, sku: str) -> int:
    await page.goto(f"/stock?q={sku}")
    row = page.locator("tr", has=page.locator("small", has_text=sku)).first
    return number(await row.locator("td.num").first.inner_text())


async def test_grade_one_resellable_one_damaged_and_the_stock_shows_it(own_server, new_page) -> None:
    product, other = demo_products()[0], demo_products()[1]
    await feed_return(own_server.directory, product.sku)
    page = await new_page(own_server.url)
    await login(page, "Ravi")
    await expect(page.get_by_role("heading", name="Hello, Ravi")).to_be_visible()
    before = await on_hand(page, product.sku)

    await page.goto("/returns")
    await expect(page.get_by_test_id("returns-expected")).to_contain_text("RET-000077")
    await page.get_by_test_id("return-open-code").fill("WEB-77")
    await page.get_by_test_id("return-open-code").press("Enter")
    await expect(page.get_by_test_id("return-number")).to_have_text("RET-000077")

    scan = page.get_by_test_id("return-scan")
    await scan.fill(other.barcode)
    await scan.press("Enter")
    await expect(page.get_by_test_id("desk-message")).to_contain_text("is not in return")

    await page.get_by_test_id("return-scan").fill(product.barcode)
    await page.get_by_test_id("return-scan").press("Enter")
    await page.get_by_test_id("grade-resellable").tap()
    await expect(page.get_by_test_id(f"graded-{product.sku}")).to_have_text("1")
    await page.get_by_test_id("return-scan").fill(product.barcode)
    await page.get_by_test_id("return-scan").press("Enter")
    await page.get_by_test_id("grade-damaged").tap()
    await expect(page.get_by_test_id(f"graded-{product.sku}")).to_have_text("2")
    await expect(page.get_by_test_id("refund-preview")).to_contain_text("80")
    await page.get_by_test_id("finish").tap()
    await expect(page.get_by_test_id("return-done")).to_contain_text("Finished")
    await page.screenshot(path=str(SHOTS / "returns-desk-finished.png"), full_page=True)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the desk scrolls sideways on a 360 px phone ({width} px)"

    assert await on_hand(page, product.sku) == before + 1  # the damaged one is written off


async def test_a_big_refund_waits_for_the_managers_pin(own_server, new_page) -> None:
    product = demo_products()[2]
    await feed_return(own_server.directory, product.sku, refundable=90_000, number="RET-000078")
    page = await new_page(own_server.url)
    await login(page, "Ravi")
    await expect(page.get_by_role("heading", name="Hello, Ravi")).to_be_visible()
    await page.goto("/returns")
    await page.get_by_test_id("return-open-code").fill("RET-000078")
    await page.get_by_test_id("return-open-code").press("Enter")
    for _ in range(2):
        await page.get_by_test_id("return-scan").fill(product.barcode)
        await page.get_by_test_id("return-scan").press("Enter")
        await page.get_by_test_id("grade-resellable").tap()
    await expect(page.get_by_test_id(f"graded-{product.sku}")).to_have_text("2")
    await page.get_by_test_id("finish").tap()
    approval = page.get_by_test_id("approval")
    await expect(approval).to_contain_text("above the limit")
    await approval.locator("select[name=approver_id]").select_option(label="Meena")
    await page.get_by_test_id("approver-pin").fill("0000")
    await page.get_by_test_id("approve").tap()
    await expect(page.get_by_test_id("desk-message")).to_contain_text("Wrong")
    await page.locator("select[name=approver_id]").select_option(label="Meena")
    await page.get_by_test_id("approver-pin").fill("4726")
    await page.get_by_test_id("approve").tap()
    await expect(page.get_by_test_id("return-done")).to_contain_text("approved by Meena")
    await expect(page.get_by_test_id("return-done")).to_contain_text("900")


async def test_a_weighed_line_is_graded_by_label_typed_weight_and_whole_line(
        own_server, new_page) -> None:
    """Loose apples (FV-00127, Rs 180/kg) come back as 500 g: a scale label of 200 g, a
    typed 100 g, then Whole line for the rest; the refund is Rs 90, not paise."""
    await feed_return(own_server.directory, "FV-00127", refundable=9000, quantity=500,
                      number="RET-000079")
    cfg = load_config(own_server.directory / "store.toml")
    rule = next(r for r in cfg.measure_rules if r.kind == "weight")
    page = await new_page(own_server.url)
    await login(page, "Ravi")
    await expect(page.get_by_role("heading", name="Hello, Ravi")).to_be_visible()
    await page.goto("/returns")
    await page.get_by_test_id("return-open-code").fill("RET-000079")
    await page.get_by_test_id("return-open-code").press("Enter")
    graded = page.get_by_test_id("graded-FV-00127")
    await expect(graded).to_have_text("0 kg")

    await page.get_by_test_id("return-scan").fill(make_variable_barcode(rule, "00127", 200))
    await page.get_by_test_id("return-scan").press("Enter")
    await expect(page.get_by_test_id("grade-quantity")).to_have_value("0.200")
    await page.get_by_test_id("grade-resellable").tap()
    await expect(graded).to_have_text("0.2 kg")

    await page.get_by_test_id("return-scan").fill("2100127000001")
    await page.get_by_test_id("return-scan").press("Enter")
    await page.get_by_test_id("grade-quantity").fill("400 g")
    await page.get_by_test_id("grade-resellable").tap()
    await expect(page.get_by_test_id("desk-message")).to_contain_text("Only 0.3 kg")
    await page.get_by_test_id("grade-quantity").fill("100 g")
    await page.get_by_test_id("grade-resellable").tap()
    await expect(graded).to_have_text("0.3 kg")

    await page.get_by_test_id("return-scan").fill("2100127000001")
    await page.get_by_test_id("return-scan").press("Enter")
    await page.get_by_test_id("grade-whole").check()
    await page.get_by_test_id("grade-damaged").tap()
    await expect(graded).to_have_text("0.5 kg")
    await expect(page.get_by_test_id("refund-preview")).to_contain_text("90.00")
    await page.get_by_test_id("finish").tap()
    await expect(page.get_by_test_id("return-done")).to_contain_text("90.00")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the desk scrolls sideways on a 360 px phone ({width} px)"
