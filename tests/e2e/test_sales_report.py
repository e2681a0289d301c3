"""The manager opens the sales report and downloads its CSV, in real Chromium (issue #18).

A cashier sells two bills at the till; the manager opens Reports from the menu, then
Sales: today's net sales and bills are the two bills', the charts are drawn (inline
SVG, saying their figures), the quick choice "Last 7 days" works, a range the wrong way
round gets a plain message; the CSV downloaded from the page carries the same net
sales. A cashier is refused the page.
"""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from app.core.money import format_amount, parse_amount
from tests.e2e.conftest import DEVICES, SHOTS, demo_products, login, scan


@pytest.fixture
def device_options() -> dict:
    return dict(DEVICES["tablet"])


async def sell(page: Page, products) -> int:
    """One bill of whole-rupee `products` (no rounding), paid in exact cash; its total."""
    for p in products:
        await scan(page, p.barcode)
        await expect(page.get_by_test_id("pos-message")).to_contain_text(p.name)
    total = sum(parse_amount(p.price) for p in products)
    await expect(page.get_by_test_id("cart-total")).to_have_text(format_amount(total))
    await page.get_by_test_id("pay").tap()
    await page.get_by_label("Cash received").fill(f"{total / 100:.2f}")
    await page.get_by_role("button", name="Take cash").tap()
    await page.get_by_test_id("complete").tap()
    await expect(page.get_by_test_id("receipt-total")).to_have_text(format_amount(total))
    return total


async def test_the_manager_opens_the_sales_report_and_downloads_its_csv(new_page,
                                                                        own_server) -> None:
    whole = [p for p in demo_products() if p.price.endswith(".00")]
    till = await new_page(own_server.url)
    await login(till, "Asha")
    await expect(till.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    await till.get_by_role("link", name="Till").first.tap()
    await till.locator("input[name=float]").fill("500")
    await till.get_by_role("button", name="Open shift").tap()
    bills = [await sell(till, [whole[4], whole[12]]), await sell(till, [whole[30]])]
    refused = await till.request.get("/reports/sales")
    assert refused.status == 403
    await till.close()

    office = await new_page(own_server.url)
    await login(office, "Meena")
    await expect(office.get_by_role("heading", name="Hello, Meena")).to_be_visible()
    await office.get_by_role("link", name="Reports").first.click()
    await expect(office.get_by_role("heading", name="Reports")).to_be_visible()
    await office.get_by_test_id("reports").get_by_role("link", name="Sales").click()
    await expect(office.get_by_role("heading", name="Sales", exact=True)).to_be_visible()
    # The demo may have sold before today's two bills: read the page's own figures and
    # check today's two bills are in them.
    bills_shown = int(await office.get_by_test_id("bills").inner_text())
    assert bills_shown >= 2
    net_text = await office.get_by_test_id("net").inner_text()
    net = parse_amount(net_text.replace("₹", "").replace(",", ""))
    assert net >= sum(bills)
    chart = office.locator('svg[data-chart="bars"]').first
    await expect(chart).to_be_visible()
    assert "Net sales by day" in (await chart.get_attribute("aria-label") or "")
    await office.screenshot(path=str(SHOTS / "sales-report-tablet.png"), full_page=True)

    async with office.expect_download() as info:
        await office.get_by_test_id("sales-csv").click()
    download = await info.value
    text = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    figures = {r[0]: r[1] for r in rows if len(r) == 2}
    assert parse_amount(figures["Net sales"]) == net
    assert int(figures["Bills"]) == bills_shown

    await office.get_by_role("link", name="Last 7 days").click()
    await expect(office.get_by_test_id("range-shown")).to_contain_text("7 days")
    await expect(office.get_by_test_id("net")).to_be_visible()

    wrong = await office.request.get("/reports/sales?from=2026-11-30&to=2026-11-01")
    assert wrong.status == 400 and "wrong way round" in await wrong.text()
