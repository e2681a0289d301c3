"""The month's GSTR-1 equals the sum of the day's bills, in real Chromium (issue #18).

A cashier sells two bills at the till (whole-rupee packs, so no bill is rounded); the
manager opens Reports > GSTR-1 for this month: the check against the Z reports is green,
the net outward supplies are the two bills' totals, and the JSON for the GST offline
tool, downloaded from the page, adds up to the same paise; a cashier is refused the page.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, expect

from app.core.money import format_amount, parse_amount
from tests.e2e.conftest import DEVICES, SHOTS, demo_products, login, scan


@pytest.fixture
def device_options() -> dict:
    return dict(DEVICES["tablet"])


async def sell(page: Page, products) -> int:
    """One bill of `products`, paid in exact cash; its total in paise."""
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


async def read(path) -> str:
    return await asyncio.to_thread(Path(path).read_text, encoding="utf-8")


def paise(value: float | int) -> int:
    return int(Decimal(str(value)) * 100)


async def test_the_months_gstr1_equals_the_days_bills(new_page, own_server) -> None:
    whole = [p for p in demo_products() if p.price.endswith(".00")]
    month = datetime.now(ZoneInfo("Asia/Kolkata")).strftime("%Y-%m")  # the demo store's zone
    till = await new_page(own_server.url)
    await login(till, "Asha")
    await expect(till.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    await till.get_by_role("link", name="Till").first.tap()
    await till.locator("input[name=float]").fill("500")
    await till.get_by_role("button", name="Open shift").tap()
    bills = [await sell(till, [whole[3], whole[10], whole[10]]),
             await sell(till, [whole[25], whole[60]])]
    day_total = sum(bills)

    # A cashier may not open the return.
    refused = await till.request.get(f"/reports/gstr1?month={month}")
    assert refused.status == 403

    await till.close()  # the till polls the server, which stops before the browser does

    office = await new_page(own_server.url)
    await login(office, "Meena")
    await expect(office.get_by_role("heading", name="Hello, Meena")).to_be_visible()
    await office.goto(f"/reports/gstr1?month={month}")
    await expect(office.get_by_test_id("gstr1-reconciled")).to_contain_text(
        "Agrees with the Z reports")
    await expect(office.get_by_test_id("gstr1-total")).to_have_text(format_amount(day_total))
    await office.screenshot(path=str(SHOTS / "gstr1-tablet.png"), full_page=True)

    async with office.expect_download() as info:
        await office.get_by_test_id("gstr1-json").click()
    download = await info.value
    data = json.loads(await read(await download.path()))
    assert data["fp"] == month[5:] + month[:4]
    supplies = sum(paise(r["txval"]) + paise(r.get("camt", 0)) + paise(r.get("samt", 0))
                   + paise(r.get("iamt", 0)) for r in data.get("b2cs", []))
    supplies += sum(paise(r["nil_amt"]) for r in data.get("nil", {}).get("inv", []))
    assert supplies == day_total
    docs = data["doc_issue"]["doc_det"][0]["docs"]
    assert [(d["from"], d["to"], d["totnum"]) for d in docs] == [("S1-000001", "S1-000002", 2)]

    csv_link = office.locator('[data-testid="gstr1-csv-links"] a', has_text="b2cs.csv")
    async with office.expect_download() as info:
        await csv_link.click()
    text = await read(await (await info.value).path())
    assert text.startswith("Type,Place Of Supply,Applicable % of Tax Rate,Rate,Taxable Value")
