"""The store shell in real Chromium, on a phone and on a tablet: sign in, find a
product, receive stock with a wedge scanner, scan errors, service worker, install."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, expect

from tests.e2e.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DEVICES,
    SHOTS,
    Guard,
    all_demo_barcodes,
    demo_products,
    ean13,
    login,
    number,
)

PRODUCTS = demo_products()
MIDDLE = len(PRODUCTS) // 2
# Each test that reads or changes stock uses its own product, per device, so
# tests sharing a server never see each other's receipts.
SEARCH_PRODUCT = PRODUCTS[MIDDLE - 5]
RECEIVE_PRODUCT = {"phone": PRODUCTS[MIDDLE], "tablet": PRODUCTS[MIDDLE + 1]}


async def scan(page: Page, code: str) -> None:
    """Type a code into the focused scan field like a keyboard-wedge scanner."""
    field = page.locator("input[data-scan-field]")
    await expect(field).to_be_focused()
    await page.keyboard.type(code, delay=5)
    await page.keyboard.press("Enter")


async def stock_total(page: Page, sku: str) -> int:
    await page.goto(f"/products/{sku}")
    return number(await page.get_by_test_id("stock-total").inner_text())


# ---- the guard itself ----


async def test_guard_blocks_internet_requests(page: Page, guard: Guard) -> None:
    """The no-CDN check is not vacuous: a request off this machine is seen and stopped,
    by the page's Content-Security-Policy (connect-src 'self') before it leaves the page,
    and by the guard for what no CSP governs (a navigation)."""
    await page.goto("/login")
    failed = await page.evaluate(
        "fetch('https://cdn.example.com/x.js').then(() => false, () => true)")
    assert failed and guard.blocked == []  # refused in the page by the CSP
    assert any("connect-src 'self'" in e for e in guard.errors), guard.errors
    with contextlib.suppress(PlaywrightError):
        await page.goto("https://cdn.example.com/x.js")
    assert guard.blocked == ["https://cdn.example.com/x.js"]
    guard.blocked.clear()
    guard.allow(r"cdn\.example\.com|ERR_BLOCKED_BY_CLIENT|Content Security Policy|CSP violation")


# ---- sign in -------------------------------------------------------------------------


async def test_manager_signs_in_with_pin_pad(page: Page, device: str) -> None:
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    if device == "phone":
        await page.screenshot(path=str(SHOTS / "login-phone.png"), full_page=True)
    await page.locator("label.tile", has_text="Meena").tap()
    await expect(page.locator("label.tile", has_text="Meena").locator("input")).to_be_checked()
    for key in "4726":
        await page.locator(f'[data-pinpad] [data-key="{key}"]').tap()
    await expect(page.locator("#pin")).to_have_value("4726")
    await expect(page.locator("[data-pin-dots]")).to_have_text("●●●●○○")
    await page.get_by_role("button", name="Sign in").tap()

    await expect(page).to_have_url(re.compile(r"/$"))
    await expect(page.get_by_role("heading", name="Hello, Meena")).to_be_visible()
    if device == "phone":  # the links are in the Menu on a phone
        await page.get_by_test_id("menu-button").tap()
    nav = page.get_by_role("navigation", name="Main")
    for label in ("Products", "Receive", "Adjust", "Stock"):
        await expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()


async def test_cashier_sees_no_manager_pages(page: Page, device: str) -> None:
    await page.goto("/login")
    await login(page, "Asha")
    await expect(page.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    if device == "phone":
        await page.get_by_test_id("menu-button").tap()
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Products")).to_be_visible()
    await expect(nav.get_by_role("link", name="Receive")).to_have_count(0)
    await expect(nav.get_by_role("link", name="Stock")).to_have_count(0)


async def test_wrong_pin_is_refused(page: Page, guard: Guard) -> None:
    guard.allow(r"status of 401")  # the refused sign-in page comes back as 401
    await page.goto("/login")
    await login(page, "Ravi", "1111")
    await expect(page.get_by_role("alert")).to_contain_text("Wrong PIN")
    await expect(page).to_have_url(re.compile(r"/login$"))
    # The tile stays chosen and the PIN is empty, ready for another try.
    await expect(page.locator("label.tile", has_text="Ravi").locator("input")).to_be_checked()
    await expect(page.locator("#pin")).to_have_value("")


async def test_cashier_cannot_open_receive(page: Page, guard: Guard) -> None:
    guard.allow(r"status of 403")
    await page.goto("/login")
    await login(page, "Asha")
    await expect(page.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    await page.goto("/stock/receive")
    await expect(page.get_by_role("alert")).to_contain_text("Not allowed")
    await expect(page.locator("input[data-scan-field]")).to_have_count(0)


# ---- products --------------------------------------------------------------------------


async def test_search_and_open_product(page: Page) -> None:
    product = SEARCH_PRODUCT
    await page.goto("/login?next=/products")
    await login(page, "Asha")
    await expect(page).to_have_url(re.compile(r"/products$"))
    words = product.name.split()
    typed = " ".join(words[1:3]) if len(words) > 3 else words[0]
    search = page.locator("#q")
    await search.tap()
    await search.press_sequentially(typed, delay=20)
    link = page.locator("#results a.list-row", has_text=product.name)
    await expect(link).to_be_visible()
    await expect(page).to_have_url(re.compile(r"/products$"))  # htmx, no navigation
    await link.tap()

    await expect(page).to_have_url(re.compile(f"/products/{product.sku}$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(product.name)
    await expect(page.locator("p.price")).to_contain_text(f"₹{product.price}")
    await expect(page.get_by_test_id("stock-total")).to_have_text(re.compile(r"^\d+$"))
    table = page.locator("table.table")
    await expect(table.get_by_role("columnheader", name="Bin")).to_be_visible()
    await expect(table.locator("tbody tr").first).to_be_visible()


# ---- receiving -------------------------------------------------------------------------


async def test_receive_stock_with_wedge_scanner(page: Page, device: str) -> None:
    product = RECEIVE_PRODUCT[device]
    await page.goto("/login")
    await login(page, "Meena")
    await expect(page.get_by_role("heading", name="Hello, Meena")).to_be_visible()
    before = await stock_total(page, product.sku)

    await page.goto("/stock/receive")
    await expect(page.get_by_role("heading", name="Receive goods")).to_be_visible()
    await scan(page, product.barcode)
    form = page.locator("#step form.move-form")
    await expect(form.get_by_test_id("move-product")).to_have_text(product.name)
    await form.locator('input[name="quantity"]').fill("12")
    bins = form.locator('select[name="bin"]')
    values = await bins.locator("option").evaluate_all("els => els.map(e => e.value)")
    target_bin = values[-1]
    await bins.select_option(target_bin)
    await form.locator('input[name="reference"]').fill(f"E2E-{device}")
    if device == "phone":
        await page.screenshot(path=str(SHOTS / "receive-phone.png"), full_page=True)
    await form.get_by_role("button", name="Receive").tap()

    done = page.get_by_test_id("move-done")
    await expect(done).to_contain_text(f"Received 12 × {product.name} in {target_bin}")
    await expect(done.get_by_test_id("store-total")).to_have_text(
        re.compile(rf"^{before + 12}(\D|$)"))
    # Ready for the next scan.
    await expect(page.locator("input[data-scan-field]")).to_be_focused()
    await expect(page.locator("input[data-scan-field]")).to_have_value("")

    assert await stock_total(page, product.sku) == before + 12
    row = page.locator("table.table tbody tr", has=page.locator("td strong", has_text=target_bin))
    await expect(row).to_have_count(1)
    assert number(await row.locator("td.num").inner_text()) >= 12


async def test_unknown_and_bad_barcodes(page: Page) -> None:
    known = all_demo_barcodes()
    unknown = next(code for code in (ean13(f"8909999{n:05d}") for n in range(1000))
                   if code not in known)
    wrong_check = unknown[:-1] + str((int(unknown[-1]) + 1) % 10)
    await page.goto("/login?next=/stock/receive")
    await login(page, "Meena")
    await expect(page.get_by_role("heading", name="Receive goods")).to_be_visible()

    await scan(page, unknown)
    alert = page.locator("#step [data-announce]")  # said through #scan-live, no role
    await expect(alert).to_contain_text(f"No product has barcode {unknown}")
    await expect(page.locator("#step form.move-form")).to_have_count(0)

    field = page.locator("input[data-scan-field]")
    await field.fill("")
    await scan(page, wrong_check)
    await expect(alert).to_contain_text("check digit wrong")
    await expect(page.locator("#step form.move-form")).to_have_count(0)


# ---- offline shell and install -----------------------------------------------------


SW_READY = """async () => {
  const timeout = new Promise((_, no) => setTimeout(() => no(new Error("no SW in 10 s")), 10000));
  const reg = await Promise.race([navigator.serviceWorker.ready, timeout]);
  return {scope: reg.scope, state: reg.active && reg.active.state};
}"""

OFFLINE_CACHED = """async () => {
  for (const name of await caches.keys()) {
    const hit = await (await caches.open(name)).match("/offline");
    if (hit) return {cache: name, text: await hit.text()};
  }
  return null;
}"""


async def test_service_worker_caches_offline_page(page: Page, server: str) -> None:
    await page.goto("/login")
    ready = await page.evaluate(SW_READY)
    assert ready["scope"] == server + "/"
    assert ready["state"] in ("activating", "activated")  # ready resolves once active
    cached = await page.evaluate(OFFLINE_CACHED)
    assert cached is not None, "no cache holds /offline"
    assert cached["cache"].startswith("kirana-") and "__KIRANA_VERSION__" not in cached["cache"]
    assert "Can't reach the store server" in cached["text"]


async def test_offline_page_when_server_stops(new_page, own_server, guard: Guard) -> None:
    # With the server gone, Chromium logs the failed fetches as console errors.
    guard.allow(r"ERR_CONNECTION_REFUSED|Failed to fetch|net::ERR")
    page = await new_page(own_server.url)
    await page.goto("/login")
    await page.evaluate(SW_READY)
    await page.wait_for_function("navigator.serviceWorker.controller !== null")
    own_server.stop()
    await page.goto("/products")
    await expect(page.get_by_role("heading", name="Can't reach the store server")).to_be_visible()


async def test_manifest_is_installable(playwright, server: str, device: str,
                                       tmp_path: Path) -> None:
    # Installability is never checked in incognito-like contexts, so this test
    # needs a persistent profile of its own.
    guard = Guard()
    context = await playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
        args=CHROMIUM_ARGS, base_url=server, **DEVICES[device])
    try:
        await guard.attach(context)
        if context.pages:
            page = context.pages[0]
            guard.watch(page)
        else:
            page = await context.new_page()
        await page.goto("/login")
        await page.evaluate(SW_READY)
        cdp = await context.new_cdp_session(page)
        manifest = await cdp.send("Page.getAppManifest")
        assert not manifest.get("errors"), manifest.get("errors")
        result = await cdp.send("Page.getInstallabilityErrors")
        assert result["installabilityErrors"] == []
    finally:
        await context.close()
    assert not guard.problems(), guard.problems()
