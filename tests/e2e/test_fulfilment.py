"""Online orders through the store in real Chromium, with two devices at once:
the manager's board (tablet) and the picker's phone."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import DEVICES, KIRANA, _env, demo_products, login


def api(url: str, key: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        url + path, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def api_key(own_server) -> str:
    return subprocess.run(
        [str(KIRANA), "apikey", "create", "--config", str(own_server.directory / "store.toml"),
         "--name", "app", "--scope", "all", "--channel", "app"], capture_output=True, text=True, env=_env(),
        check=True).stdout.strip().splitlines()[-1]


async def test_orders_flow_from_api_to_rider(browser, own_server, guard, api_key) -> None:
    key = api_key
    in_stock = [p for p in demo_products()[:40]
                if api(own_server.url, key, f"/api/v1/stock/{p.sku}")["on_hand"] >= 2]
    a, b, c = in_stock[:3]

    board_ctx = await browser.new_context(base_url=own_server.url, **DEVICES["tablet"])
    picker_ctx = await browser.new_context(base_url=own_server.url, **DEVICES["phone"])
    for ctx in (board_ctx, picker_ctx):
        await guard.attach(ctx)
    board = await board_ctx.new_page()
    await login(board, "Meena")
    await expect(board.get_by_role("heading", name="Hello, Meena")).to_be_visible()
    await board.goto("/orders")
    await expect(board.get_by_test_id("live-state")).to_have_text("live")

    promised = (datetime.now(UTC) + timedelta(minutes=12)).isoformat()
    customer = {"name": "Priya Sharma", "phone": "9876543210", "address": "HSR Layout",
                "pincode": "560102"}
    order = api(own_server.url, key, "/api/v1/orders", {
        "channel": "app", "external_id": "E2E-1", "customer": customer,
        "promised_by": promised, "payment": "cod", "cod_amount_minor": 30000,
        "lines": [{"sku": a.sku, "quantity": 1}, {"sku": b.sku, "quantity": 1},
                  {"sku": c.sku, "quantity": 1}]})
    assert order["status"] == "accepted"
    card = board.get_by_test_id(f"order-{order['number']}")
    await expect(card).to_be_visible(timeout=3000)  # no reload: pushed by the server
    await expect(board.locator('[data-state="accepted"]')).to_contain_text(order["number"])

    picker = await picker_ctx.new_page()
    await login(picker, "Ravi")
    await expect(picker.get_by_role("heading", name="Hello, Ravi")).to_be_visible()
    await picker.goto("/pick")
    await picker.get_by_test_id("claim").tap()
    await expect(board.locator('[data-state="picking"]')).to_contain_text(order["number"])

    wrong_done = short_done = False
    names = {p.name: p for p in (a, b, c)}
    for _ in range(3):
        task_name = (await picker.get_by_test_id("task-name").inner_text()).strip()
        product = names[task_name]
        field = picker.locator("#pick-code")
        if not wrong_done:
            other = next(p for p in (a, b, c) if p is not product)
            await field.focus()
            await picker.keyboard.type(other.barcode)
            await picker.keyboard.press("Enter")
            await expect(picker.get_by_test_id("pick-message")).to_contain_text(
                f"Wrong item ({other.name})")
            wrong_done = True
        if product is c and not short_done:
            await picker.locator("summary", has_text="Can't find it").tap()
            await picker.locator("input[name=substitute]").fill(demo_products()[45].barcode)
            await picker.get_by_test_id("short").tap()
            await expect(picker.get_by_test_id("pick-message")).to_contain_text(
                f"Short: {product.name}")
            short_done = True
            continue
        await field.focus()
        await picker.keyboard.type(product.barcode)
        await picker.keyboard.press("Enter")
        await expect(picker.get_by_test_id("pick-message")).to_contain_text(
            f"Done: {product.name}")
    await expect(picker.get_by_test_id("pick-message")).to_contain_text("Batch picked")
    await expect(board.locator('[data-state="picked"]')).to_contain_text(order["number"])

    await picker.goto("/pack")
    pack = picker.get_by_test_id(f"pack-{order['number']}")
    await expect(pack).to_contain_text("short")
    for product in (a, b):  # scan what was picked (c was short): it finds its order
        await expect(picker.locator("#pack-code")).to_be_focused()
        await picker.keyboard.type(product.barcode)
        await picker.keyboard.press("Enter")
        await expect(picker.get_by_test_id("pack-scan-message")).to_contain_text(
            f"{product.name}: 1 of 1 → bag A ({order['number']})")
    await pack.locator("input[name=bags]").fill("2")
    await pack.get_by_role("button", name="Packed: print labels").tap()
    await expect(picker.get_by_test_id("pack-message")).to_contain_text("2 labels printed")
    await expect(board.locator('[data-state="ready"]')).to_contain_text(order["number"])

    handover_code = api(own_server.url, key, f"/api/v1/orders/{order['id']}")
    await picker.goto("/handover")
    await expect(picker.get_by_test_id(f"ready-{order['number']}")).to_contain_text("₹300.00")
    # The rider desk finds the order by the customer's phone and reads its code there (the
    # labels carry only their own bag's code); typing the code asks before handing over.
    await picker.get_by_test_id("find-order").fill("3210")
    await picker.get_by_test_id("find-order").press("Enter")
    found = picker.get_by_test_id(f"found-{order['number']}")
    await expect(found.get_by_test_id("found-bags")).to_contain_text("Bag 2 of 2")
    code = await _handover_code(own_server, order["id"])
    await expect(found.get_by_test_id("handover-code")).to_have_text(code)
    assert await picker.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways
    for target in (picker.get_by_test_id("find-order"), found.get_by_test_id("hand-over-rest"),
                   picker.get_by_role("button", name="Find")):
        assert (await target.bounding_box())["height"] >= 44
    await picker.locator("#handover-code").fill(code)
    await picker.locator("#handover-code").press("Enter")
    await expect(picker.get_by_test_id("handover-confirm")).to_contain_text("0 of 2 bags scanned")
    await picker.get_by_test_id("confirm-handover").tap()
    await expect(picker.get_by_test_id("handover-message")).to_contain_text("handed over")
    await expect(picker.get_by_test_id("handover-message")).to_contain_text("Collect ₹300.00")
    await expect(board.locator('[data-state="handed_over"]')).to_contain_text(order["number"])
    assert handover_code["status"] == "ready"

    # The labels went to the packing bench's preview printer and printed.
    await board.goto("/printers")
    labels = board.get_by_test_id("job-row").filter(has_text=f"{order['number']}")
    await expect(labels.filter(has_text="Bag 1/2")).to_contain_text("done")
    await expect(labels.filter(has_text="Packing slip")).to_contain_text("done")
    for ctx in (board_ctx, picker_ctx):
        await ctx.close()


async def _handover_code(server, order_id: str) -> str:
    import sqlite3

    with sqlite3.connect(server.directory / "store.db") as conn:
        return conn.execute("SELECT handover_code FROM orders WHERE id = ?",
                            (order_id,)).fetchone()[0]
