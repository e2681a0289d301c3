"""The till in a Saturday rush (issue #16), in real Chromium on a 10" tablet held both
ways (1280x800 landscape, 800x1280 portrait):

* a plain 5-item cash sale is 5 scans and one tap ("Cash, exact"); Total, Pay and
  "Cash, exact" are in the viewport without scrolling, even with 12 lines (the line
  list scrolls, not the page);
* the receipt screen starts the next sale on the next scan (the scan is not lost) or on
  a tap of New sale.
"""

from __future__ import annotations

import sqlite3

import pytest
from playwright.async_api import Locator, Page, expect

from app.core.money import format_amount, parse_amount
from tests.e2e.conftest import SHOTS, demo_products, login

SIZES = {
    "landscape": {"viewport": {"width": 1280, "height": 800}, "has_touch": True},
    "portrait": {"viewport": {"width": 800, "height": 1280}, "has_touch": True},
}


@pytest.fixture(params=list(SIZES))
def device(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def device_options(device: str) -> dict:
    return dict(SIZES[device])


class Taps:
    """Every tap the cashier makes goes through here, so the test can count them."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(self, target: Locator) -> None:
        self.count += 1
        await target.tap()


async def scan(page: Page, code: str) -> None:
    """A keyboard-wedge scanner: fast keys into whatever has focus, then Enter."""
    await page.keyboard.type(code, delay=5)
    await page.keyboard.press("Enter")


async def open_till(page: Page, taps: Taps | None = None) -> None:
    await login(page, "Asha")
    await expect(page.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    await page.goto("/pos")
    await page.locator("input[name=float]").fill("0")
    await page.get_by_role("button", name="Open shift").tap()
    await expect(page.locator("#scan-code")).to_be_focused()


async def in_view_without_scrolling(page: Page, *locators: Locator) -> None:
    """Each element is wholly inside the viewport and the page itself cannot scroll."""
    for locator in locators:
        await expect(locator).to_be_visible()
        box = await locator.evaluate("""el => { const r = el.getBoundingClientRect();
            return [r.top, r.left, r.bottom, r.right, innerHeight, innerWidth]; }""")
        top, left, bottom, right, height, width = box
        assert top >= 0 and left >= 0 and bottom <= height and right <= width, (locator, box)
    scroll = await page.evaluate("""() => [scrollY, document.documentElement.scrollHeight,
                                            innerHeight]""")
    assert scroll[0] == 0 and scroll[1] <= scroll[2], f"the page scrolls: {scroll}"


def sales(server_dir) -> list[tuple[str, int, int]]:
    """(number, lines, total) of every sale in the server's database."""
    with sqlite3.connect(server_dir / "store.db") as db:
        return db.execute("""SELECT number, (SELECT count(*) FROM sale_lines l
                             WHERE l.sale_id = s.id), total_minor FROM sales s
                             ORDER BY number""").fetchall()


async def test_five_item_cash_sale_is_five_scans_and_one_tap(own_server, new_page, device):
    page = await new_page(own_server.url)
    await open_till(page)
    products = demo_products()[10:15]
    taps = Taps()
    summary = [page.get_by_test_id("cart-total"), page.get_by_test_id("pay"),
               page.get_by_test_id("cash-exact")]
    await in_view_without_scrolling(page, *summary)  # on the empty bill too
    for i, product in enumerate(products, 1):
        await scan(page, product.barcode)
        await expect(page.get_by_test_id("cart-line")).to_have_count(i)
    total = sum(parse_amount(p.price) for p in products)
    total = (total + 50) // 100 * 100  # bills round to the rupee
    await expect(page.get_by_test_id("cart-total")).to_have_text(format_amount(total))
    await in_view_without_scrolling(page, *summary)
    await page.screenshot(path=str(SHOTS / f"till-5-lines-{device}.png"), caret="initial")

    await taps(page.get_by_test_id("cash-exact"))
    done = page.get_by_test_id("sale-done")
    await expect(done).to_contain_text("Sale complete")
    await expect(page.get_by_test_id("receipt-number")).to_have_text("S1-000001")
    await expect(page.get_by_test_id("receipt-total")).to_have_text(format_amount(total))
    await in_view_without_scrolling(page, page.get_by_test_id("new-sale"))
    await page.screenshot(path=str(SHOTS / f"till-receipt-{device}.png"), caret="initial")
    assert taps.count == 1
    assert sales(own_server.directory) == [("S1-000001", 5, total)]

    # The next customer's first scan, on the receipt screen, starts the next bill.
    await scan(page, products[0].barcode)
    await expect(page.get_by_test_id("cart-line")).to_have_count(1)
    await expect(page.get_by_test_id("pos-message")).to_contain_text(f"Added {products[0].name}")
    await expect(done).to_have_count(0)
    await taps(page.get_by_test_id("cash-exact"))
    await expect(page.get_by_test_id("receipt-number")).to_have_text("S1-000002")
    # ... or a tap of New sale does, with nothing scanned.
    await taps(page.get_by_test_id("new-sale"))
    await expect(page.get_by_text("Scan a product to start a bill.")).to_be_visible()
    await expect(page.locator("#scan-code")).to_be_focused()
    assert taps.count == 3  # one per sale, and the New sale tap
    assert [n for n, _, _ in sales(own_server.directory)] == ["S1-000001", "S1-000002"]


async def test_twelve_lines_scroll_inside_the_list(own_server, new_page, device):
    page = await new_page(own_server.url)
    await open_till(page)
    for i, product in enumerate(demo_products()[20:32], 1):
        await scan(page, product.barcode)
        await expect(page.get_by_test_id("cart-line")).to_have_count(i)
    await in_view_without_scrolling(page, page.get_by_test_id("cart-total"),
                                    page.get_by_test_id("pay"), page.get_by_test_id("cash-exact"),
                                    page.locator("#scan-code"))
    # The newest line is in view: the list follows the scans.
    await in_view_without_scrolling(page, page.get_by_test_id("cart-line").last)
    await page.screenshot(path=str(SHOTS / f"till-12-lines-{device}.png"), caret="initial")


@pytest.mark.parametrize("device", ["landscape"], indirect=True)
async def test_a_quick_key_adds_once_then_closes(own_server, new_page, device):
    page = await new_page(own_server.url)
    await open_till(page)
    onion = page.locator("details.quick-key", has_text="Onion")
    weight = onion.locator("input[name=quantity]")
    # A weight the till refuses leaves the panel open, with the weight, to be corrected.
    await onion.locator("summary").tap()
    await weight.fill("0")
    await onion.get_by_role("button", name="Add").tap()
    await expect(page.get_by_test_id("pos-message")).to_contain_text("more than zero")
    await expect(onion).to_have_attribute("open", "")
    await expect(weight).to_have_value("0")
    # A good weight adds one line, and the panel closes empty: no second Add by mistake.
    await weight.fill("0.750")
    await onion.get_by_role("button", name="Add").tap()
    await expect(page.get_by_test_id("cart-line")).to_have_count(1)
    await expect(page.get_by_test_id("cart-line")).to_contain_text("0.750 kg")
    await expect(onion).not_to_have_attribute("open", "")
    await expect(onion.get_by_role("button", name="Add")).to_be_hidden()
    await expect(page.locator("#scan-code")).to_be_focused()
    await onion.locator("summary").tap()
    await expect(weight).to_have_value("")
