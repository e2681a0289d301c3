"""A keyboard-wedge scanner that starts the next code before the picker's screen has
answered the last one (a slow store server, a quick picker).

The task card, scan field included, is redrawn by every answer. Before app.js carried a
half-typed code across that redraw, the characters typed before it were thrown away
with the old field and the rest was sent on its own: "Wrong item" for a right scan."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from playwright.async_api import Route, expect

from tests.e2e.conftest import DEVICES, demo_products, login
from tests.e2e.test_fulfilment import api, api_key

__all__ = ["api_key"]  # the fixture, imported for pytest


async def test_a_code_typed_while_the_task_redraws_is_not_cut(browser, own_server, guard,
                                                              api_key) -> None:
    product = next(p for p in demo_products()[:40]
                   if api(own_server.url, api_key, f"/api/v1/stock/{p.sku}")["on_hand"] >= 3)
    order = api(own_server.url, api_key, "/api/v1/orders", {
        "channel": "app", "external_id": "SWAP-1",
        "customer": {"name": "Asha", "phone": "9876543210", "address": "HSR Layout",
                     "pincode": "560102"},
        "promised_by": (datetime.now(UTC) + timedelta(minutes=15)).isoformat(),
        "payment": "prepaid", "cod_amount_minor": 0,
        "lines": [{"sku": product.sku, "quantity": 2}]})
    assert order["status"] == "accepted", order

    context = await browser.new_context(base_url=own_server.url, **DEVICES["phone"])
    await guard.attach(context)
    page = await context.new_page()
    await login(page, "Ravi")
    await expect(page.get_by_role("heading", name="Hello, Ravi")).to_be_visible()
    await page.goto("/pick")
    await page.get_by_test_id("claim").tap()
    await expect(page.get_by_test_id("task-name")).to_have_text(product.name)
    field = page.locator("#pick-code")
    await expect(field).to_be_focused()

    # The store server takes 0.8 s to answer a scan.
    answered = asyncio.Event()

    async def slow(route: Route) -> None:
        await asyncio.sleep(0.8)
        await route.continue_()
        answered.set()

    await page.route("**/pick/tasks/*/scan", slow)
    code = product.barcode
    await page.keyboard.type(code, delay=5)
    await page.keyboard.press("Enter")
    await expect(field).to_have_value("")  # the queue took the first code
    await page.keyboard.type(code[:7], delay=5)  # the next packet, before the answer
    await asyncio.wait_for(answered.wait(), 10)
    await expect(page.get_by_test_id("pick-message")).to_contain_text(f"{product.name}: 1 of 2")
    await expect(field).to_have_value(code[:7])  # carried into the redrawn field
    await page.keyboard.type(code[7:], delay=5)
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("pick-message")).to_contain_text(f"Done: {product.name}")
    await expect(page.get_by_test_id("pick-message")).not_to_contain_text("Wrong")
    await context.close()


async def test_enter_on_a_form_htmx_has_not_taken_yet_is_sent_by_htmx(own_server,
                                                                      new_page) -> None:
    """A scanner's Enter on a form swapped in a moment before htmx took it over (the
    count's bin field after a bin was sent, CI saw it) was a native submit: a GET of the
    page with the code in its URL, the scan lost. app.js hands such a submit to htmx."""
    page = await new_page(own_server.url)
    await login(page, "Meena")
    await expect(page.get_by_role("heading", name="Hello, Meena")).to_be_visible()
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    before = page.url
    # A form as a swap leaves it, before htmx has processed it.
    await page.evaluate("""() => {
        const box = document.createElement("div");
        box.id = "late-box";
        box.innerHTML = '<form class="scan-form" hx-post="/stock/count/none/bin" ' +
            'hx-target="#late-box"><input id="late-code" name="code"></form>';
        document.querySelector("main").prepend(box);
    }""")
    await page.locator("#late-code").fill("FZ-03-3")
    await page.locator("#late-code").press("Enter")
    for _ in range(50):
        if any(u.endswith("/stock/count/none/bin") for u in posted):
            break
        await asyncio.sleep(0.1)
    assert any(u.endswith("/stock/count/none/bin") for u in posted), (posted, page.url, before)
    assert page.url == before and "code=" not in page.url
