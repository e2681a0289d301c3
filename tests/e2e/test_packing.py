"""Picking and packing three orders in real Chromium, on a phone (360x740) and a tablet
(issue #16 items 7-9): the picker sees the waiting orders at once, a wrong scan leaves
the scan field where it was, the batch leads to packing; the packer scans the items of
three orders in any order into one field that never loses focus or leaves the screen,
and sees each order's bag letter as the picker saw it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.async_api import Locator, Page, expect

from tests.e2e.conftest import DEVICES, SHOTS, demo_products, login
from tests.e2e.test_fulfilment import api, api_key

__all__ = ["api_key"]  # the fixture, imported for pytest


async def in_viewport(page: Page, target: Locator) -> bool:
    """Wholly on screen as the page is scrolled now (no scrolling to it)."""
    box = await target.bounding_box()
    view = page.viewport_size
    assert box is not None and view is not None
    return (box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= view["width"]
            and box["y"] + box["height"] <= view["height"])


async def focused_id(page: Page) -> str:
    return await page.evaluate("document.activeElement && document.activeElement.id")


async def scan(page: Page, code: str) -> None:
    """A keyboard-wedge scanner: the code and Enter, typed into whatever has focus."""
    await page.keyboard.type(code, delay=5)
    await page.keyboard.press("Enter")


def orders_for(url: str, key: str) -> tuple[dict, dict, list]:
    products = [p for p in demo_products()[:40]
                if api(url, key, f"/api/v1/stock/{p.sku}")["on_hand"] >= 3][:4]
    p1, p2, p3, p4 = products
    customer = {"name": "Priya Sharma", "phone": "9876543210", "address": "HSR Layout",
                "pincode": "560102"}
    lines = {"O-1": [(p1, 1), (p2, 1)], "O-2": [(p3, 2)], "O-3": [(p4, 1), (p1, 1)]}
    made = {}
    for minutes, (ext, order_lines) in enumerate(lines.items(), start=10):
        made[ext] = api(url, key, "/api/v1/orders", {
            "channel": "app", "external_id": ext, "customer": customer,
            "promised_by": (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat(),
            "payment": "prepaid", "cod_amount_minor": 0,
            "lines": [{"sku": p.sku, "quantity": q} for p, q in order_lines]})
        assert made[ext]["status"] == "accepted", made[ext]
    return made, lines, products


async def test_pick_then_pack_three_orders_without_retapping(browser, own_server, guard,
                                                             api_key, device) -> None:
    made, lines, products = orders_for(own_server.url, api_key)
    by_name = {p.name: p for p in products}
    by_quantity = {(made[ext]["number"], p.name): q for ext, order_lines in lines.items()
                   for p, q in order_lines}
    context = await browser.new_context(base_url=own_server.url, **DEVICES[device])
    await guard.attach(context)
    page = await context.new_page()
    await login(page, "Ravi")
    await expect(page.get_by_role("heading", name="Hello, Ravi")).to_be_visible()

    # Item 9: the count of waiting orders is there on arrival, not after an order event.
    await page.goto("/pick")
    await expect(page.get_by_test_id("waiting")).to_have_text("3 orders waiting to be picked.")
    await page.get_by_test_id("claim").tap()
    await expect(page.get_by_test_id("task")).to_be_visible()

    # Pick the batch; the bag letter of each order as the picker is told.
    field = page.locator("#pick-code")
    bag_of: dict[str, str] = {}
    wrong_done = False
    while await page.get_by_test_id("task").count():
        name = (await page.get_by_test_id("task-name").inner_text()).strip()
        number = (await page.get_by_test_id("task-order").inner_text()).replace("for", "").strip()
        bag_of[number] = (await page.get_by_test_id("task-bag").inner_text()).strip()
        await expect(field).to_be_focused()
        if not wrong_done:
            # Item 7: after a wrong scan the red alert must not push the field or the
            # camera button off the screen (or move them at all).
            camera = page.locator("#pick-code + [data-camera-button]")
            before = await field.bounding_box()
            other = next(p for p in products if p.name != name)
            await scan(page, other.barcode)
            await expect(page.get_by_test_id("pick-message")).to_contain_text(
                f"Wrong item ({other.name})")
            await page.screenshot(path=str(SHOTS / f"pick-wrong-scan-{device}.png"))
            assert await in_viewport(page, field) and await in_viewport(page, camera)
            assert await in_viewport(page, page.get_by_test_id("pick-message"))
            assert await field.bounding_box() == before
            await expect(field).to_be_focused()
            wrong_done = True
        task_bin = await page.get_by_test_id("task-bin").inner_text()
        left = int(await page.get_by_test_id("task-qty").inner_text())
        await scan(page, by_name[name].barcode)
        # The next task, or the same one with one fewer to take, or the end of the batch.
        await expect(page.get_by_test_id("pick-message")).to_contain_text(
            f"Done: {name} into bag {bag_of[number]}" if left == 1
            else f"{name}: {by_quantity[number, name] - left + 1} of")
        if await page.get_by_test_id("task").count():
            assert await in_viewport(page, field), f"after {task_bin}"
    await expect(page.get_by_test_id("pick-message")).to_contain_text("Batch picked")
    assert sorted(bag_of) == sorted(o["number"] for o in made.values())
    assert sorted(bag_of.values()) == ["A", "B", "C"]

    # Item 9: the way to packing is offered.
    await page.get_by_test_id("to-packing").tap()
    await expect(page).to_have_url(re.compile(r"/pack$"))

    # Item 8: every order's card shows its bag letter as the picker saw it.
    pack_field = page.locator("#pack-code")
    await expect(pack_field).to_be_focused()  # no tap needed to start
    assert await page.locator("input[data-scan-field]").count() == 1
    for order in made.values():
        card = page.get_by_test_id(f"pack-{order['number']}")
        await expect(card.get_by_test_id("pack-bag")).to_have_text(bag_of[order["number"]])
    await page.screenshot(path=str(SHOTS / f"pack-start-{device}.png"), full_page=True)

    # The packer looks at the last order's card (scrolled down on a phone) and scans
    # items of all three orders in an order of their own; no tap between scans.
    last = page.get_by_test_id(f"pack-{made['O-3']['number']}")
    await last.scroll_into_view_if_needed()
    p1, p2, p3, p4 = products
    message = page.get_by_test_id("pack-scan-message")
    for product, ext in ((p4, "O-3"), (p3, "O-2"), (p2, "O-1"), (p3, "O-2")):
        number = made[ext]["number"]
        where = (await last.bounding_box())["y"]
        await scan(page, product.barcode)
        await expect(message).to_contain_text(f"→ bag {bag_of[number]} ({number})")
        await expect(message).to_contain_text(product.name)
        assert await focused_id(page) == "pack-code"
        assert await in_viewport(page, pack_field) and await in_viewport(page, message)
        # What the packer was looking at stays where it was (no jump to the top; a card
        # above it may grow by a line as its items turn bold).
        now = (await last.bounding_box())["y"]
        assert abs(now - where) < 60 and 0 <= now < page.viewport_size["height"] - 60, \
            f"the page jumped: the card was at {where}, now at {now}"
    await expect(page.get_by_test_id(f"pack-{made['O-2']['number']}")).to_contain_text(
        f"2/2 × {p3.name}")

    # p1 is still wanted by two orders: the packer is asked, taps the bag, and the
    # next scan needs no tap (the field has the focus again). A bag count already typed
    # on that order's card survives the card's update.
    one = made["O-1"]["number"]
    bags = page.get_by_test_id(f"pack-{one}").locator("input[name=bags]")
    await bags.fill("2")
    await pack_field.focus()
    await scan(page, p1.barcode)
    ask = page.get_by_test_id("pack-ask")
    await expect(ask).to_contain_text(f"{p1.name} is in 2 orders")
    assert await in_viewport(page, ask)
    await ask.get_by_test_id(f"pack-into-{one}").tap()
    await expect(message).to_contain_text(f"{p1.name}: 1 of 1 → bag {bag_of[one]} ({one})")
    await expect(page.get_by_test_id(f"pack-{one}")).to_contain_text(f"1/1 × {p1.name}")
    await expect(bags).to_have_value("2")
    await expect(pack_field).to_be_focused()
    await scan(page, p1.barcode)  # now only O-3 wants it: no question
    three = made["O-3"]["number"]
    await expect(message).to_contain_text(f"→ bag {bag_of[three]} ({three}). All packed")
    await page.screenshot(path=str(SHOTS / f"pack-done-{device}.png"), full_page=True)

    # A wrong scan at the bench: red, and the field is still in view and focused.
    await scan(page, p2.barcode)
    await expect(message).to_contain_text("already packed")
    assert await in_viewport(page, pack_field) and await focused_id(page) == "pack-code"
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # Labels for the first order, with the two bags typed before.
    await page.get_by_test_id(f"pack-{one}").get_by_role(
        "button", name="Packed: print labels").tap()
    await expect(page.get_by_test_id("pack-message")).to_contain_text(
        f"Order {one} packed: 2 labels")
    await context.close()
