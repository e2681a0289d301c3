"""Returns of online orders with real processes (issue #19; hub on SQLite and on
PostgreSQL, one dark store): a channel's order is picked, packed, handed over and
delivered; the channel asks for a return over the hub's API; the store that packed it
hears `return.requested`, its desk grades one unit resellable and one damaged and
finishes; the hub completes the return, the channel's webhook hears the refund per line
once (signed), and the hub's central stock has the resellable unit back. Then an order
the rider brings back (RTO) reaches the same store as a return of kind rto."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re

import httpx
import pytest

from app.config import load_config
from app.core.auth import StaffUser, create_user
from app.returns import service as desk
from app.stock import service as stock
from tests.sync.harness import Hub, kirana, make_store, wait_for
from tests.sync.test_end_to_end import close_all, ean13, save_product
from tests.sync.test_routing_end_to_end import (
    KORAMANGALA,
    Hook,
    order_body,
    pick_pack_handover,
    post,
)

pytestmark = pytest.mark.timeout(300)
RAVI = StaffUser(id="", name="Ravi", role="picker")


async def test_a_return_from_the_channel_to_the_desk_and_back(hub: Hub, tmp_path,
                                                              migrated_template):
    hook = Hook()
    made = kirana("hub", "add-channel", "--config", str(hub.config), "webshop", "--webhook",
                  hook.url, "--return-window-days", "3")
    key = re.search(r"API key.*: (\S+)", made.stdout).group(1)
    secret = re.search(r"Webhook secret.*: (\S+)", made.stdout).group(1)
    client = hub.client()
    code = ean13("890100000123")
    save_product(hub, client, "ATTA-1KG", "62.00", code)
    token = hub.add_store("D2", kind="darkstore", lat=KORAMANGALA[0], lon=KORAMANGALA[1],
                          pincodes="560034")
    d2 = make_store(tmp_path / "D2", "D2", hub.ws_url, token, migrated_template, "darkstore")
    channel = httpx.Client(base_url=hub.proc.url, headers={"Authorization": f"Bearer {key}"},
                           timeout=10)
    try:
        d2.proc.start()
        wait_for(lambda: d2.sql("SELECT count(*) FROM products") == [(1,)],
                 what="D2 to have the catalogue")
        db = d2.database()
        await create_user(db, "Ravi", "picker", "5209")
        await stock.load_bins_csv(db, "code,zone,aisle,shelf,pick_seq\nA-01,A,1,1,1\n")
        pid = d2.sql("SELECT id FROM products")[0][0]
        await stock.receive(db, product_id=pid, bin_code="A-01", quantity=10, user_id=None)
        wait_for(lambda: client.get("/api/v1/inventory/ATTA-1KG").json()["total"]["on_hand"]
                 == 10, what="the hub to know D2's stock")

        order = post(channel, "/api/v1/orders", json=order_body("W-100", "ATTA-1KG"))
        wait_for(lambda: channel.get(f"/api/v1/orders/{order['id']}").json()["status"]
                 == "accepted", what="D2 to accept")
        pick_pack_handover(d2, code)
        wait_for(lambda: channel.get(f"/api/v1/orders/{order['id']}").json()["status"]
                 == "handed_over", what="the hub to hear of the handover")
        post(channel, f"/api/v1/orders/{order['id']}/delivered")
        wait_for(lambda: client.get("/api/v1/inventory/ATTA-1KG").json()["total"]["on_hand"]
                 == 8, what="the handover to leave D2's stock at the hub")

        # The channel asks; a retry of the same request is the same return.
        ask = {"return_id": "WS-RET-1", "reason": "one packet torn", "mode": "pickup",
               "lines": [{"sku": "ATTA-1KG", "quantity": 2}]}
        url = f"/api/v1/orders/{order['id']}/returns"
        ret = await asyncio.to_thread(channel.post, url, json=ask)
        assert ret.status_code == 201, ret.text
        ret = ret.json()
        again = await asyncio.to_thread(channel.post, url, json=ask)
        assert again.status_code == 200 and again.json()["id"] == ret["id"]
        wait_for(lambda: d2.sql("SELECT number, state FROM online_returns")
                 == [(ret["number"], "expected")], what="D2 to expect the return")

        # The desk grades one unit resellable, one damaged, and finishes (automatic).
        cfg = load_config(d2.config)
        await desk.grade(db, ret["id"], "ATTA-1KG", "resellable", RAVI)
        await desk.grade(db, ret["id"], "ATTA-1KG", "damaged", RAVI)
        done = await desk.finish(db, cfg, ret["id"], RAVI)
        assert done.state == "completed" and done.refund_total_minor == 2 * 6200
        await db.dispose()

        final = wait_for(lambda: (lambda r: r if r["state"] == "completed" else None)(
            channel.get(f"/api/v1/orders/{order['id']}/returns").json()[0]),
            what="the hub to complete the return")
        assert final["refund_total_minor"] == 12400
        line = final["lines"][0]
        assert (line["received"], line["resellable"], line["damaged"]) == (2, 1, 1)
        [(raw, headers)] = wait_for(hook.returns, timeout=20,
                                    what="the channel's return.completed webhook")
        expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        assert headers["X-Kirana-Signature"] == expected
        call = json.loads(raw)
        assert (call["order_id"], call["return"]["return_id"]) == (order["id"], "WS-RET-1")
        assert call["return"]["lines"][0]["refund_minor"] == 12400
        # The resellable unit is back in the hub's central stock; the damaged one is not.
        wait_for(lambda: client.get("/api/v1/inventory/ATTA-1KG").json()["total"]["on_hand"]
                 == 9, what="the resellable unit back in the hub's stock")
        await asyncio.sleep(1)
        assert len(hook.returns()) == 1  # once

        # A failed delivery: the next order comes back to D2 as an rto return.
        second = post(channel, "/api/v1/orders", json=order_body("W-101", "ATTA-1KG"))
        wait_for(lambda: channel.get(f"/api/v1/orders/{second['id']}").json()["status"]
                 == "accepted", what="D2 to accept the second order")
        pick_pack_handover(d2, code)
        wait_for(lambda: channel.get(f"/api/v1/orders/{second['id']}").json()["status"]
                 == "handed_over", what="the hub to hear of the second handover")
        back = post(channel, f"/api/v1/orders/{second['id']}/undelivered",
                    json={"reason": "customer not at home"})
        assert back["status"] == "undelivered" and back["return"]["kind"] == "rto"
        wait_for(lambda: d2.sql("SELECT kind, state FROM online_returns WHERE number = ?",
                                (back["return"]["number"],)) == [("rto", "expected")],
                 what="D2 to expect the rto return")
    finally:
        close_all(client, channel)
        hook.server.shutdown()
        d2.proc.stop()
