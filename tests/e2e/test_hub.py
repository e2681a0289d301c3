"""The hub's pages in real Chromium, on a phone and on a tablet: sign in, store health,
an order no store could take, its reasons in plain words, sending it by hand, a
price change saved on the catalogue page and the stores confirming it live."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect
from websockets.asyncio.client import connect

from tests.e2e.conftest import SHOTS
from tests.sync.harness import Hub, kirana, make_hub


@pytest.fixture(scope="module")
def hub_server(tmp_path_factory) -> Iterator[Hub]:
    made = make_hub(Path(tmp_path_factory.mktemp("hub")))
    made.add_user("Meena", "manager", "monsoon mango pickle")
    made.proc.start()
    made.add_store("S1", kind="counter", lat=12.9719, lon=77.6412, pincodes="560038")
    made.add_store("D2", kind="darkstore", lat=12.9352, lon=77.6245, pincodes="560034")
    key = re.search(r"API key.*: (\S+)", kirana("hub", "add-channel", "--config",
                                               str(made.config), "webshop").stdout).group(1)
    client = made.client()
    made.post(client, "/hub/catalog/save", {
        "sku": "ATTA-1KG", "name": "Chakki Atta 1 kg", "price": "62.00", "gst": "5",
        "unit": "piece", "barcodes": "", "active": "on", "reorder_level": "5"})
    client.close()
    made.tokens["channel"] = key
    yield made
    made.proc.stop()


def post_order(hub: Hub, external_id: str) -> str:
    """A channel's order no store can take (no store is online): returns its number."""
    with httpx.Client(base_url=hub.proc.url,
                      headers={"Authorization": f"Bearer {hub.tokens['channel']}"}) as c:
        response = c.post("/api/v1/orders", json={
            "channel": "webshop", "external_id": external_id,
            "customer": {"name": "Kavya R", "phone": "9800000000", "address": "5th Block",
                         "pincode": "560034", "lat": 12.9352, "lon": 77.6245},
            "promised_by": (datetime.now(UTC) + timedelta(minutes=30)).isoformat(),
            "lines": [{"sku": "ATTA-1KG", "quantity": 2}]})
        assert response.status_code == 201, response.text
        return response.json()["number"]


async def hub_login(page: Page, hub: Hub, name: str) -> None:
    """Sign in as HQ staff do: name and password, then the authenticator's code (the
    first time, under the QR code to enrol)."""
    user = hub.users[name]
    if "/login" not in page.url:
        await page.goto("/login")
    assert await page.locator(".tile-name").count() == 0  # no list of users
    await page.get_by_label("Your name").fill(name)
    await page.get_by_label("Password").fill(user.password)
    await page.get_by_role("button", name="Next").tap()
    await page.get_by_label("6-digit code").fill(user.code())
    await page.get_by_role("button", name="Sign in").tap()


async def no_sideways_scroll(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1, f"page is {width}px wide"


async def test_hub_operator_flow(new_page, hub_server: Hub, device: str) -> None:
    number = post_order(hub_server, f"W-{device}")
    page = await new_page(hub_server.proc.url)
    await hub_login(page, hub_server, "Meena")
    stores = page.locator("#store-table")
    await expect(stores).to_contain_text("S1")
    await expect(page.locator('tr[data-store="D2"]')).to_contain_text("Offline")
    await expect(page.locator('tr[data-store="D2"]')).to_contain_text("never connected")
    await no_sideways_scroll(page)
    await page.screenshot(path=SHOTS / f"hub-stores-{device}.png", full_page=True)

    if device == "phone":  # the links are in the Menu on a phone
        await page.get_by_test_id("menu-button").tap()
    await page.get_by_role("link", name="Orders", exact=True).first.tap()
    await expect(page.get_by_role("alert")).to_contain_text("need")
    await page.locator(f'tr[data-order="{number}"] a').tap()
    log = page.locator("#decision-log")
    await expect(log).to_contain_text("No store can take it")
    await expect(log).to_contain_text("D2 is offline")
    await no_sideways_scroll(page)
    await page.screenshot(path=SHOTS / f"hub-order-{device}.png", full_page=True)
    await page.locator("select[name=store]").select_option("D2")
    await page.get_by_role("button", name="Send").tap()
    await expect(log).to_contain_text("Meena sent it to D2")
    await expect(page.locator("#order-facts")).to_contain_text("Sent to store")

    await page.goto("/hub/catalog/item/ATTA-1KG")
    price = page.locator("input[name=price]")
    await price.fill("64.50" if device == "phone" else "65.00")
    await page.screenshot(path=SHOTS / f"hub-product-{device}.png", full_page=True)
    await page.get_by_role("button", name="Save and send to stores").tap()
    await expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    await expect(price).to_have_value("64.50" if device == "phone" else "65.00")
    await no_sideways_scroll(page)


async def ack_as_store(hub: Hub, store_id: str, sales: tuple[int, ...] = ()) -> None:
    """Be the store for a moment, as its sync client is (protocol 3): hello, send a
    sale.completed for each amount in `sales` (paise, now), take every event the hub has
    queued for it and the shared catalogue log up to its head, acknowledge both, close.
    (The epoch is this test's own.)"""
    with sqlite3.connect(hub.sqlite_path) as db:
        acked, made, cat_acked = db.execute(
            "SELECT down_acked, down_seq, catalog_acked FROM hub_stores WHERE id = ?",
            (store_id,)).fetchone()
        head = db.execute("SELECT seq FROM hub_catalog_head").fetchone()[0]
    async with connect(hub.ws_url, additional_headers={
            "Authorization": f"Bearer {hub.tokens[store_id]}"},
            user_agent_header="kirana-store/e2e", open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "hello", "proto": 1, "proto_max": 3,
                                  "store_id": store_id, "epoch": f"e2e-{store_id}-epoch",
                                  "applied_down": acked, "applied_catalog": cat_acked}))
        last, sent, applied, cursor = acked, 0, 0, cat_acked
        while last < made or applied < sent or not sent and sales or cursor < head:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert message["type"] in ("welcome", "events", "ack", "catalog"), message
            if message["type"] == "welcome" and sales:
                now = datetime.now(UTC).isoformat()
                first = message["acked_up"] + 1
                events = [{"seq": first + i, "id": f"e2e-{store_id}-{first + i}-{now}",
                           "kind": "sale.completed", "at": now,
                           "data": {"sale_id": f"e2e-{store_id}-{first + i}-{now}",
                                    "number": f"{store_id}-E{first + i:05d}", "at": now,
                                    "total": total}} for i, total in enumerate(sales)]
                await ws.send(json.dumps({"type": "events", "events": events}))
                sent = events[-1]["seq"]
            elif message["type"] == "ack":
                applied = message["upto"]
            elif message["type"] == "events":
                last = message["events"][-1]["seq"]
            elif message["type"] == "catalog":
                cursor = message["events"][-1]["seq"]
                await ws.send(json.dumps({"type": "catalog_ack", "upto": cursor}))
        await ws.send(json.dumps({"type": "ack", "upto": last}))
        await asyncio.sleep(0.3)  # the hub commits the ack before the link closes


async def test_a_price_change_shows_which_stores_have_it(new_page, hub_server: Hub,
                                                         device: str) -> None:
    """Issue #16 item 18: after Save the page says how many stores have applied the
    change and which have not, and follows them without a reload until all have."""
    page = await new_page(hub_server.proc.url)
    await hub_login(page, hub_server, "Meena")
    await expect(page.locator("#store-table")).to_be_visible()
    await page.goto("/hub/catalog/item/ATTA-1KG")
    await page.locator("input[name=price]").fill("66.00" if device == "phone" else "66.50")
    await page.get_by_role("button", name="Save and send to stores").tap()
    delivery = page.locator("#delivery")
    await expect(delivery).to_contain_text("0 of 2 stores have this change.")
    await expect(delivery.locator('[data-store="D2"]')).to_be_visible()
    await expect(delivery.locator("progress")).to_have_attribute("value", "0")
    await no_sideways_scroll(page)
    await page.screenshot(path=SHOTS / f"hub-delivery-{device}.png", full_page=True)

    await ack_as_store(hub_server, "S1")
    await expect(delivery).to_contain_text("1 of 2 stores have this change.", timeout=8000)
    await expect(delivery.locator('[data-store="S1"]')).to_have_count(0)
    await expect(delivery.locator('[data-store="D2"]')).to_be_visible()

    await ack_as_store(hub_server, "D2")
    await expect(delivery).to_contain_text("All 2 stores have this change.", timeout=8000)
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/hub/catalog/delivery" in r.url
            else None)
    await page.wait_for_timeout(4500)
    assert polls == [], "the page kept asking after every store had the change"



async def test_the_stores_page_draws_each_store_and_opens_its_page(new_page, guard,
                                                                  hub_server: Hub,
                                                                  device: str) -> None:
    """Issue #16 item 21: a chart of today's sales by hour and a bar of open orders per
    store (inline SVG that says its figures), and a store's own page one tap away."""
    await ack_as_store(hub_server, "S1", sales=(12000, 4550))
    page = await new_page(hub_server.proc.url)
    await hub_login(page, hub_server, "Meena")
    s1 = page.locator('tr[data-store="S1"]')
    sales = s1.locator('svg[data-chart="sales"]')
    await expect(sales).to_be_visible()
    label = await sales.get_attribute("aria-label")
    assert re.search(r"S1 sales today by hour: ₹[\d,]+\.\d\d net from \d+ bills?; busiest hour"
                     r" \d\d:00 to \d\d:00", label), label
    assert await sales.locator("rect[data-hour]").count() >= 1  # today's sales show
    assert await sales.evaluate("e => e.getBoundingClientRect().width") > 40
    await expect(page.locator('svg[data-chart="sales"]')).to_have_count(2)
    await expect(page.locator('svg[data-chart="orders"]')).to_have_count(2)
    await expect(page.locator('tr[data-store="D2"] svg[data-chart="orders"]')).to_have_attribute(
        "aria-label", re.compile(r"D2: \d+ open online orders?"))
    await no_sideways_scroll(page)
    await page.screenshot(path=SHOTS / f"hub-stores-charts-{device}.png", full_page=True)

    await s1.get_by_role("link", name=re.compile("S1")).tap()
    await expect(page.get_by_role("heading", level=1)).to_have_text("S1 · Store S1")
    await expect(page.locator("#store-link")).to_contain_text("kirana-store/e2e")
    await expect(page.locator('#link-history li[data-link="up"]').first).to_contain_text(
        "Connected from 127.0.0.1")
    await expect(page.locator("#store-events")).to_contain_text("events received from the store")
    await expect(page.locator('#store-today svg[data-chart="sales"]')).to_be_visible()
    await expect(page.locator("#store-printers")).to_contain_text("printers")
    await no_sideways_scroll(page)
    await page.screenshot(path=SHOTS / f"hub-store-{device}.png", full_page=True)

    guard.allow(r"status of 404 .*/hub/stores/NOPE1")  # the browser notes the 404 we ask for
    missing = await page.goto("/hub/stores/NOPE1")
    assert missing is not None and missing.status == 404
    await expect(page.locator("main")).to_contain_text("No store NOPE1 at this hub")
