"""A return of an online order end to end in real Chromium (issue #19), with a real hub
and a real dark store process: the channel's order is picked, packed, handed over and
delivered; the channel asks for a return over the hub's API with its key; the return
reaches the store by sync; on a 360 px phone the store's returns desk scans the items,
grades one unit Good and one Damaged (arrived so) and finishes; the channel's webhook
hears one signed `return.completed` with the refund per line, and the store's stock page
(and the hub's inventory API) shows the resellable unit back."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect

from app.core.auth import create_user
from app.stock import service as stock
from tests.e2e.conftest import SHOTS, login
from tests.e2e.test_hub import no_sideways_scroll
from tests.e2e.test_returns_desk import on_hand
from tests.e2e.test_transfers import _until_text
from tests.sync.harness import Hub, Store, kirana, make_hub, make_store, wait_for
from tests.sync.test_end_to_end import close_all, ean13, save_product
from tests.sync.test_routing_end_to_end import (
    KORAMANGALA,
    Hook,
    order_body,
    pick_pack_handover,
    post,
)

SKU = "ATTA-1KG"
CODE = ean13("890100000123")


@pytest.fixture
def device() -> str:
    return "phone"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    made = make_hub(tmp_path / "hub")
    made.proc.start()
    yield made
    made.proc.stop()


async def until(predicate, what: str):
    """`wait_for` (30 s) off the event loop, so Chromium's pages keep running meanwhile."""
    return await asyncio.to_thread(wait_for, predicate, 30.0, 0.1, what)


async def test_a_channel_return_graded_at_the_desk_refunds_and_restocks(
        hub: Hub, tmp_path: Path, migrated_template: Path, new_page) -> None:
    hook = Hook()
    made = kirana("hub", "add-channel", "--config", str(hub.config), "webshop", "--webhook",
                  hook.url)
    key = re.search(r"API key.*: (\S+)", made.stdout).group(1)
    secret = re.search(r"Webhook secret.*: (\S+)", made.stdout).group(1)
    client = hub.client()
    channel = httpx.Client(base_url=hub.proc.url, headers={"Authorization": f"Bearer {key}"},
                           timeout=10)
    d2: Store | None = None

    def hub_on_hand() -> int:
        return client.get(f"/api/v1/inventory/{SKU}").json()["total"]["on_hand"]

    def status(order_id: str) -> str:
        return channel.get(f"/api/v1/orders/{order_id}").json()["status"]

    try:
        save_product(hub, client, SKU, "62.00", CODE)
        token = hub.add_store("D2", kind="darkstore", lat=KORAMANGALA[0], lon=KORAMANGALA[1],
                              pincodes="560034")
        d2 = make_store(tmp_path / "D2", "D2", hub.ws_url, token, migrated_template,
                        "darkstore")
        d2.proc.start()
        await until(lambda: d2.sql("SELECT count(*) FROM products") == [(1,)],
                    "D2 to have the catalogue")
        db = d2.database()
        try:
            await create_user(db, "Ravi", "picker", "5209")
            await stock.load_bins_csv(db, "code,zone,aisle,shelf,pick_seq\nA-01,A,1,1,1\n")
            pid = d2.sql("SELECT id FROM products")[0][0]
            await stock.receive(db, product_id=pid, bin_code="A-01", quantity=10,
                                user_id=None)
        finally:
            await db.dispose()
        await until(lambda: hub_on_hand() == 10, "the hub to know D2's stock")

        # A delivered order of 2 units.
        order = post(channel, "/api/v1/orders", json=order_body("W-100", SKU))
        await until(lambda: status(order["id"]) == "accepted", "D2 to accept the order")
        await asyncio.to_thread(pick_pack_handover, d2, CODE)
        await until(lambda: status(order["id"]) == "handed_over",
                    "the hub to hear of the handover")
        post(channel, f"/api/v1/orders/{order['id']}/delivered")
        await until(lambda: hub_on_hand() == 8, "the handover to leave D2's stock at the hub")
        [(store_order,)] = d2.sql("SELECT number FROM orders")

        # The channel asks for both units back.
        ret = post(channel, f"/api/v1/orders/{order['id']}/returns", json={
            "return_id": "WS-RET-1", "reason": "one packet torn", "mode": "pickup",
            "lines": [{"sku": SKU, "quantity": 2}]})
        assert ret["state"] == "requested" and ret["lines"][0]["refundable_minor"] == 12400

        # The returns desk on a phone: the return arrives by sync.
        page = await new_page(d2.proc.url)
        await login(page, "Ravi")
        await expect(page.get_by_role("heading", name="Hello, Ravi")).to_be_visible()
        before = await on_hand(page, SKU)
        assert before == 8
        await _until_text(page, "/returns", ret["number"])
        await expect(page.get_by_test_id("returns-expected")).to_contain_text("one packet torn")
        await page.get_by_test_id("return-open-code").fill(store_order)
        await page.get_by_test_id("return-open-code").press("Enter")
        await expect(page.get_by_test_id("return-number")).to_have_text(ret["number"])

        graded = page.get_by_test_id(f"graded-{SKU}")
        await expect(graded).to_have_text("0")
        for grade, count in (("resellable", "1"), ("damaged", "2")):
            await page.get_by_test_id("return-scan").fill(CODE)
            await page.get_by_test_id("return-scan").press("Enter")
            await page.get_by_test_id(f"grade-{grade}").tap()
            await expect(graded).to_have_text(count)
        await expect(page.get_by_test_id("refund-preview")).to_contain_text("124.00")
        await expect(page.get_by_test_id("approval")).to_have_count(0)  # under the limit
        await page.get_by_test_id("finish").tap()
        done = page.get_by_test_id("return-done")
        await expect(done).to_contain_text("Finished")
        await expect(done).to_contain_text("124.00")
        await no_sideways_scroll(page)
        await page.screenshot(path=str(SHOTS / "returns-flow-finished-phone.png"),
                              full_page=True)

        # The hub completes the return and the channel hears the refund per line, signed.
        [(raw, headers)] = await until(hook.returns, "the channel's return.completed webhook")
        expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        assert headers["X-Kirana-Signature"] == expected
        call = json.loads(raw)
        assert (call["event"], call["order_id"], call["external_id"]) == (
            "return.completed", order["id"], "W-100")
        body = call["return"]
        assert (body["return_id"], body["number"], body["refund_total_minor"]) == (
            "WS-RET-1", ret["number"], 12400)
        [line] = body["lines"]
        assert {k: line[k] for k in ("sku", "quantity", "received", "resellable", "damaged",
                                     "expired", "wrong_item", "refund_minor")} == {
            "sku": SKU, "quantity": 2, "received": 2, "resellable": 1, "damaged": 1,
            "expired": 0, "wrong_item": 0, "refund_minor": 12400}
        final = (await asyncio.to_thread(
            channel.get, f"/api/v1/orders/{order['id']}/returns")).json()
        assert [(r["state"], r["refund_total_minor"]) for r in final] == [("completed", 12400)]

        # The resellable unit is back on the store's stock page and at the hub; the
        # damaged one is written off.
        assert await on_hand(page, SKU) == before + 1
        await until(lambda: hub_on_hand() == 9, "the resellable unit back in the hub's stock")
        assert len(hook.returns()) == 1  # once
    finally:
        close_all(client, channel)
        hook.server.shutdown()
        if d2 is not None:
            d2.proc.stop()
