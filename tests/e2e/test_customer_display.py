"""The customer display (issue #21) in real Chromium: two browser contexts, the
cashier's tablet and a phone paired to counter C1 as its customer display.

A manager pairs the screen (one-time link) -> the display shows the store's name and
idles -> each scan shows on the display, pushed by the server, and the total follows
(the delay from the till's cart changing to the display changing is measured) -> Pay
and "Show QR on customer screen" put the UPI QR for exactly the amount due there ->
the sale's thank-you screen with the e-receipt QR -> the server restarts and the
display reconnects by itself and shows the next bill -> the manager unpairs it.
"""

from __future__ import annotations

import re
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib

import pytest
from playwright.async_api import Page, expect

from app.core.money import format_amount, parse_amount
from tests.e2e.conftest import (
    DEVICES,
    KIRANA,
    SHOTS,
    Server,
    _die_with_parent,
    _env,
    demo_products,
    login,
    scan,
)

# The display's screen, timestamped each time it changes (run before the page's own
# scripts): the test reads when a change arrived without polling for it.
STAMP_CHANGES = """
    window.__changes = [];
    document.addEventListener("DOMContentLoaded", function () {
        const screen = document.getElementById("screen");
        if (!screen) return;
        new MutationObserver(function () {
            window.__changes.push({at: Date.now(), text: screen.textContent});
        }).observe(screen, {childList: true, subtree: true, characterData: true});
    });
"""
STAMP_CART = """
    window.__cart = [];
    document.addEventListener("DOMContentLoaded", function () {
        new MutationObserver(function () {
            const cart = document.getElementById("cart");
            window.__cart.push({at: Date.now(), text: cart ? cart.textContent : ""});
        }).observe(document.body, {childList: true, subtree: true});
    });
"""


@pytest.fixture
def device_options() -> dict:
    return dict(DEVICES["tablet"])


async def first_change_with(page: Page, text: str) -> int:
    """When (ms since the epoch) the page's watched element first showed `text`."""
    handle = await page.wait_for_function(
        "(t) => (window.__changes || window.__cart).find(c => c.text.includes(t))", arg=text,
        polling="raf", timeout=10_000)
    return int(await handle.evaluate("c => c.at"))


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG of one colour (the display's slideshow shows it)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                                0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def restart(server: Server) -> None:
    """Stop the store server and start it again on the same port and files."""
    server.stop()
    port = server.url.rsplit(":", 1)[1]
    log = server.log_path.open("ab")
    server.proc = subprocess.Popen(
        [str(KIRANA), "serve", "--config", str(server.directory / "store.toml"),
         "--host", "127.0.0.1", "--port", port],
        cwd=server.directory, env=_env(), stdout=log, stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    log.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2) as res:
                if res.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"the server did not come back:\n{server.log()}")


async def test_customer_display_follows_the_till(own_server, new_page, guard) -> None:
    # own_server first: it stops after the pages are closed.
    guard.allow(r"/display/events")  # the stream cut while the server restarts
    guard.allow(r"ERR_CONNECTION_REFUSED|Failed to load resource")
    till = await new_page(own_server.url)
    shown = await new_page(own_server.url)
    await shown.context.add_init_script(STAMP_CHANGES)
    await till.context.add_init_script(STAMP_CART)
    await shown.set_viewport_size({"width": 800, "height": 1280})  # a tablet standing up
    soap, biscuits = demo_products()[40], demo_products()[80]

    # A manager pairs a screen to counter C1 from Pair a device.
    await login(till, "Meena")
    await expect(till.get_by_role("heading", name="Hello, Meena")).to_be_visible()
    await till.goto("/pair")
    await till.get_by_test_id("customer-displays").tap()
    await till.get_by_test_id("pair-counter").select_option("C1")
    await till.get_by_test_id("pair-name").fill("Counter 1 screen")
    await till.get_by_test_id("pair-start").tap()
    await expect(till.get_by_test_id("pairing-qr")).to_be_visible()
    link = await till.get_by_test_id("pairing-link").get_attribute("href")
    code = re.search(r"code=([A-Za-z0-9_-]+)", link or "").group(1)

    await shown.goto(f"/display/join?code={code}")
    await shown.get_by_test_id("join").tap()
    await expect(shown.get_by_test_id("display-idle")).to_be_visible()
    await expect(shown.get_by_test_id("display-store")).not_to_be_empty()
    # The display's cookie is HttpOnly: the page's scripts cannot read it.
    assert "kirana_display" not in await shown.evaluate("document.cookie")
    # ...and it opens no staff page.
    response = await shown.goto("/pos")
    assert response is not None and "/login" in shown.url
    await shown.goto("/display")
    await expect(shown.get_by_test_id("display-idle")).to_be_visible()

    # The manager's slideshow images reach the idle screen at once; a file that is not
    # an image is refused and stored nowhere.
    for colour in ((11, 110, 79), (230, 126, 34)):
        await till.get_by_test_id("slide-file").set_input_files(
            files=[{"name": "offer.png", "mimeType": "image/png", "buffer": png(64, 48, colour)}])
        await till.get_by_test_id("slide-upload").tap()
        await expect(till.get_by_test_id("display-message")).to_contain_text("Image added")
    await till.get_by_test_id("slide-file").set_input_files(
        files=[{"name": "offer.png", "mimeType": "image/png", "buffer": b"<html>no</html>"}])
    await till.get_by_test_id("slide-upload").tap()
    await expect(till.get_by_test_id("display-message")).to_contain_text("not a PNG, JPEG or WebP")
    await expect(till.get_by_test_id("slide-row")).to_have_count(2)
    await expect(shown.get_by_test_id("display-slide")).to_have_count(2)
    await expect(shown.locator(".slide.shown")).to_have_count(1)
    assert await shown.locator(".slide.shown").evaluate("img => img.naturalWidth") == 64

    # The cashier's shift on C1.
    await till.locator("form.who-wide").get_by_role("button", name="Sign out").tap()
    await till.wait_for_url(re.compile(r"/login"))
    await login(till, "Asha")
    await expect(till.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    await till.goto("/pos")
    await till.locator("input[name=float]").fill("500")
    await till.get_by_role("button", name="Open shift").tap()
    await expect(till.locator("#scan-code")).to_be_focused()

    # Each scan shows on the display as it happens; the total follows.
    delays = []
    await scan(till, soap.barcode)
    at_till = await first_change_with(till, soap.name)
    at_display = await first_change_with(shown, soap.name)
    delays.append(at_display - at_till)
    lines = shown.get_by_test_id("display-line")
    await expect(lines).to_have_count(1)
    total_one = await till.get_by_test_id("cart-total").text_content()
    await expect(shown.get_by_test_id("display-total")).to_have_text(total_one or "")

    await scan(till, biscuits.barcode)
    at_till = await first_change_with(till, biscuits.name)
    at_display = await first_change_with(shown, biscuits.name)
    delays.append(at_display - at_till)
    await expect(lines).to_have_count(2)
    await expect(lines.nth(1)).to_contain_text(biscuits.name)
    await expect(till.get_by_test_id("cart-line")).to_have_count(2)
    total = (await till.get_by_test_id("cart-total").text_content() or "").strip()
    assert total != total_one
    await expect(shown.get_by_test_id("display-total")).to_have_text(total)
    await expect(shown.get_by_test_id("display-items")).to_have_text("2 items")
    print(f"till -> display delays: {delays} ms")
    assert max(delays) < 300, f"the display followed the till after {delays} ms"

    # Pay: the display shows what is due; the UPI QR only once the cashier chooses UPI.
    await till.get_by_test_id("pay").tap()
    await expect(shown.get_by_test_id("display-due")).to_have_text(total)
    await expect(shown.get_by_test_id("display-upi")).to_have_count(0)
    await till.get_by_test_id("upi-show").tap()
    await expect(shown.get_by_test_id("display-upi-qr")).to_be_visible()
    await expect(shown.get_by_test_id("display-upi-amount")).to_have_text(total)
    # The same UPI link the till's own QR is drawn for (decoded: the amount due exactly).
    till_link = await till.get_by_test_id("upi-qr").get_attribute("data-upi") or ""
    due = parse_amount(total.lstrip("₹").replace(",", ""))
    assert f"am={format_amount(due, symbol=False).replace(',', '')}" in till_link
    await shown.screenshot(path=str(SHOTS / "customer-display-upi.png"))

    await till.get_by_role("button", name="UPI received").tap()
    await till.get_by_test_id("complete").tap()
    await expect(shown.get_by_test_id("display-thanks")).to_be_visible()
    await expect(shown.get_by_test_id("display-receipt-qr")).to_be_visible()
    await shown.screenshot(path=str(SHOTS / "customer-display-thanks.png"))

    # The server restarts: the display reconnects by itself and shows the next bill.
    restart(own_server)
    await expect(shown.get_by_test_id("display-link")).to_be_visible()
    await till.goto("/pos")
    await scan(till, soap.barcode)
    await expect(till.get_by_test_id("cart-line")).to_have_count(1)
    await expect(shown.get_by_test_id("display-line")).to_have_count(1, timeout=15_000)
    await expect(shown.get_by_test_id("display-line")).to_contain_text(soap.name)
    await expect(shown.get_by_test_id("display-link")).to_be_hidden()

    # The manager unpairs the screen: its open stream ends and it shows nothing more.
    await till.goto("/pos")
    await till.locator("form.who-wide").get_by_role("button", name="Sign out").tap()
    await till.wait_for_url(re.compile(r"/login"))
    await login(till, "Meena")
    await expect(till.get_by_role("heading", name="Hello, Meena")).to_be_visible()
    await till.goto("/display/screens")
    await till.get_by_test_id("revoke").tap()
    await expect(till.get_by_test_id("display-message")).to_contain_text("is unpaired")
    await expect(shown.get_by_test_id("display-screen")).to_contain_text("not paired")
    await expect(shown.get_by_test_id("display-line")).to_have_count(0)
