"""The manager opens the stock report in real Chromium (issue #18): Reports > Stock on the
demo store shows the value, the category and ageing charts (inline SVG under the pages'
CSP, no console error), the valuation CSV downloads with the same total at selling
price, and a stock-out range the wrong way round is refused with a plain message. A
cashier is refused the page."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest
from playwright.async_api import expect

from app.core.money import format_amount
from tests.e2e.conftest import DEVICES, SHOTS, login


@pytest.fixture
def device_options() -> dict:
    return dict(DEVICES["tablet"])


async def test_the_manager_reads_the_stock_report_and_downloads_a_csv(new_page,
                                                                      server) -> None:
    office = await new_page(server)
    await login(office, "Meena")
    await expect(office.get_by_role("heading", name="Hello, Meena")).to_be_visible()
    await office.get_by_role("link", name="Reports").first.click()
    await office.get_by_test_id("reports").get_by_role("link", name="Stock").click()
    await expect(office.get_by_role("heading", name="Stock value")).to_be_visible()
    selling = (await office.get_by_test_id("value-selling").inner_text()).strip()
    assert selling.startswith("₹") and selling != "₹0.00"  # the demo store has stock
    for chart in ('[data-testid="ageing-chart"] svg', '[data-testid="category-chart"] svg'):
        await expect(office.locator(chart)).to_be_visible()
    label = await office.locator('[data-testid="ageing-chart"] svg').get_attribute("aria-label")
    assert "days since their last sale" in (label or "")
    await office.screenshot(path=str(SHOTS / "stock-report-tablet.png"), full_page=True)

    async with office.expect_download() as info:
        await office.locator('a[href^="/reports/stock.csv?section=valuation"]').click()
    download = await info.value
    text = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")
    total = list(csv.reader(io.StringIO(text)))[-1]
    assert total[1] == "Total"
    assert format_amount(round(float(total[6]) * 100)) == selling

    # The pickers refuse a day after today; a range the wrong way round is answered
    # with the page and a plain message (status 400: nothing is computed for it).
    assert await office.locator('#stockouts input[name="to"]').get_attribute("max")
    wrong = await office.request.get("/reports/stock?from=2026-11-30&to=2026-11-01")
    assert wrong.status == 400 and "wrong way round" in await wrong.text()

    till = await new_page(server)
    await login(till, "Asha")
    await expect(till.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    assert (await till.request.get("/reports/stock")).status == 403
