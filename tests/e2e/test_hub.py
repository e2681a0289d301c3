"""The hub's pages in real Chromium, on a phone and on a tablet: sign in, store health,
an order no store could take, its reasons in plain words, sending it by hand, and a
price change saved on the catalogue page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

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
    await expect(page.get_by_role("status")).to_contain_text("Saved")
    await expect(price).to_have_value("64.50" if device == "phone" else "65.00")
    await no_sideways_scroll(page)
