"""The till when the store server cannot be reached (issue #16 till 2), in real Chromium
on a 10" tablet held both ways, with the real server stopped mid-sale and started again:

* a scan shows a red "Not sent: store server unreachable", keeps its code in the field,
  buzzes, says so in the header (not "Hub: online"), and goes in by itself, once, when
  the server is back;
* "Cash, exact" tapped (twice) while it is down completes the sale exactly once after
  it returns;
* a scan whose answer was lost (the server added it) is sent again and not added twice.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import KIRANA, SHOTS, Server, _die_with_parent, _env, demo_products
from tests.e2e.test_till_rush import SIZES, open_till, sales, scan

BUZZ_COUNTER = """
    window.__buzzes = 0;
    Object.defineProperty(navigator, "vibrate", {
        value: function () { window.__buzzes += 1; return true; }, configurable: true });
"""


@pytest.fixture(params=list(SIZES))
def device(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def device_options(device: str) -> dict:
    return dict(SIZES[device])


def start_again(server: Server, timeout: float = 30.0) -> None:
    """`kirana serve` once more on the stopped server's port, data and config."""
    assert server.proc.poll() is not None, "stop it first"
    port = server.url.rsplit(":", 1)[1]
    with server.log_path.open("ab") as log:
        server.proc = subprocess.Popen(
            [str(KIRANA), "serve", "--config", str(server.directory / "store.toml"),
             "--host", "127.0.0.1", "--port", port],
            cwd=server.directory, env=_env(), stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2) as res:
                if res.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise AssertionError(f"the server did not come back:\n{server.log()}")


async def buzzes(page: Page) -> int:
    return await page.evaluate("window.__buzzes")


async def buzzed(page: Page, at_least: int) -> None:
    for _ in range(100):
        if await buzzes(page) >= at_least:
            return
        await page.wait_for_timeout(50)
    raise AssertionError(f"{await buzzes(page)} buzzes, expected {at_least}")


def allow_the_outage(guard) -> None:
    """What Chromium and htmx log while the server is away (not page errors)."""
    guard.allow(r"ERR_CONNECTION_REFUSED|htmx:sendError|htmx:afterRequest")


async def test_server_stopped_mid_sale(own_server, new_page, guard, device):
    allow_the_outage(guard)
    page = await new_page(own_server.url)
    await page.context.add_init_script(BUZZ_COUNTER)
    await open_till(page)
    a, b, c = demo_products()[40:43]
    await scan(page, a.barcode)
    await scan(page, b.barcode)
    lines = page.get_by_test_id("cart-line")
    await expect(lines).to_have_count(2)
    not_sent = page.get_by_test_id("not-sent")
    field = page.locator("#scan-code")

    own_server.stop()
    before = await buzzes(page)
    await scan(page, c.barcode)
    await expect(not_sent).to_be_visible()
    await expect(not_sent).to_contain_text("Not sent: store server unreachable")
    await expect(not_sent).to_contain_text(c.barcode)
    await expect(field).to_have_value(c.barcode)  # kept, not lost
    await expect(page.get_by_test_id("pos-message")).to_have_count(0)  # no stale "Added …"
    await buzzed(page, before + 1)
    await expect(page.get_by_test_id("server-link")).to_have_text("Store server unreachable")
    await expect(page.locator("#hub-link")).to_be_hidden()
    await expect(lines).to_have_count(2)
    await page.screenshot(path=str(SHOTS / f"till-not-sent-{device}.png"), caret="initial")

    # Enter on the kept code tries again (it is not a second scan of the item).
    await field.focus()
    await page.keyboard.press("Enter")
    start_again(own_server)
    await expect(lines).to_have_count(3, timeout=15_000)  # it went in by itself
    await expect(not_sent).to_be_hidden()
    await expect(field).to_have_value("")
    await expect(page.get_by_test_id("server-link")).to_be_hidden()
    assert [q for q in await page.get_by_test_id("line-qty").all_text_contents()] == ["1"] * 3

    # "Cash, exact" while the server is away: not sent, twice; once back, one sale.
    own_server.stop()
    before = await buzzes(page)
    cash = page.get_by_test_id("cash-exact")
    await cash.tap()
    await expect(not_sent).to_be_visible()
    await expect(cash).to_be_enabled()
    await cash.tap()
    await buzzed(page, before + 2)
    start_again(own_server)
    await expect(page.get_by_test_id("receipt-number")).to_have_text("S1-000001",
                                                                       timeout=15_000)
    assert [(n, lines_) for n, lines_, _ in sales(own_server.directory)] == [("S1-000001", 3)]
    await page.wait_for_timeout(1500)  # a second completion would have arrived by now
    assert len(sales(own_server.directory)) == 1


@pytest.mark.parametrize("device", ["landscape"], indirect=True)
async def test_a_scan_whose_answer_was_lost_counts_once(own_server, new_page, guard, device):
    guard.allow(r"htmx:sendError|htmx:afterRequest|ERR_CONNECTION_RESET")
    page = await new_page(own_server.url)
    await open_till(page)
    product = demo_products()[44]
    lost: list[str] = []

    async def reaches_the_server_but_the_answer_is_lost(route) -> None:
        if not lost:
            response = await route.fetch()  # the server adds the line...
            lost.append(await response.text())
            await route.abort("connectionreset")  # ...and the tablet never hears
        else:
            await route.fallback()

    await page.route("**/pos/scan", reaches_the_server_but_the_answer_is_lost)
    await scan(page, product.barcode)
    await expect(page.get_by_test_id("pos-message")).to_contain_text(
        f"Already on the bill: {product.barcode}", timeout=15_000)
    assert "Added" in lost[0]
    await expect(page.get_by_test_id("line-qty")).to_have_text(["1"])
    await expect(page.get_by_test_id("not-sent")).to_be_hidden()
