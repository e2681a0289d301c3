"""A channel sees its order as its customer would (issue #13 item 5, ASVS 4.0.3 V8.1.1/
V4.2.1): status, a plain sentence and its own history; never the routing log, which names
other stores, their distances and their stock. Hub staff keep the whole log.

The hostile stand-in is a channel reading its order (and its webhook calls) after the
hub tried several stores for it."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.hub import placement, webhooks
from app.hub.models import HubWebhook
from tests.hub.conftest import sign_in
from tests.hub.test_order_pages import body
from tests.hub.test_routing import setup_stores

STAFF_ONLY = ("S1", "W3", " km", "short of", "can promise", "did not accept",
              "could not take", "Ranked", "tried")


def leaks(text: str) -> list[str]:
    return [word for word in STAFF_ONLY if word in text]


async def test_a_channel_reads_no_other_stores_name_distance_or_stock(
        hub_client, hub_db, hub_cfg):
    # S1 (nearest) is short; W3 is out of range; D2 takes it, then cannot: nobody can.
    await setup_stores(hub_db, {"S1": 1, "D2": 10, "W3": 10})
    key, _secret = await webhooks.add_channel(hub_db, "webshop", "http://127.0.0.1:9/hook")
    auth = {"Authorization": f"Bearer {key}"}
    made = await hub_client.post("/api/v1/orders", json=body("W-5", qty=2,
                                 customer={"name": "Kavya", "phone": "9800000000",
                                           "address": "4th Cross", "pincode": "560034",
                                           "lat": 12.9352, "lon": 77.6245}), headers=auth)
    assert made.status_code == 201, made.text
    order = made.json()
    async with hub_db.write() as s:
        await placement.on_store_status(s, hub_cfg, order["store"], {
            "channel": "webshop", "external_id": "W-5", "status": "rejected",
            "reason": "not enough stock: RICE (wanted 2, have 0)"})
    seen = await hub_client.get(f"/api/v1/orders/{order['id']}", headers=auth)
    assert seen.status_code == 200
    out = seen.json()
    assert out["status"] == "unfulfillable" and out["status_text"]
    assert [h["status"] for h in out["history"]][:2] == ["received", "assigned"]
    assert all(set(h) == {"at", "status", "text"} for h in out["history"])
    assert leaks(made.text) == [] and leaks(seen.text) == [], (made.text, seen.text)
    assert "D2" not in seen.text  # the store that had it and gave up: not the channel's business
    async with hub_db.read() as s:
        calls = [h.payload for h in await s.scalars(select(HubWebhook))]
    assert calls and leaks(json.dumps(calls)) == [], calls
    # Hub staff still see every decision and its reasons.
    await sign_in(hub_client)
    staff = await hub_client.get(f"/api/v1/orders/{order['id']}")
    assert "S1 is short of RICE" in staff.text and "log" in staff.json()
    page = await hub_client.get(f"/hub/orders/{order['id']}")
    assert "S1 is short of RICE" in page.text
