"""The hub's order API for channels and the operators' order pages (in-process)."""

from __future__ import annotations

from datetime import timedelta

from app.core.clock import utcnow
from app.hub import order_reads, placement, webhooks
from tests.conftest import csrf_of
from tests.hub.conftest import sign_in
from tests.hub.test_routing import setup_stores


def body(ext: str, qty: int = 1, channel: str = "webshop", **over) -> dict:
    data = {"channel": channel, "external_id": ext,
            "customer": {"name": "Kavya", "phone": "9800000000", "address": "4th Cross",
                         "pincode": "560038", "lat": 12.9719, "lon": 77.6412},
            "promised_by": (utcnow() + timedelta(minutes=30)).isoformat(),
            "lines": [{"sku": "RICE", "quantity": qty}]}
    data.update(over)
    return data


async def test_channel_api_places_reads_and_cancels(hub_client, hub_db, hub_cfg):
    await setup_stores(hub_db, {"S1": 5})
    key, _secret = await webhooks.add_channel(hub_db, "webshop")
    other, _ = await webhooks.add_channel(hub_db, "marketplace")
    auth = {"Authorization": f"Bearer {key}"}
    made = await hub_client.post("/api/v1/orders", json=body("W-1"), headers=auth)
    assert made.status_code == 201, made.text
    order = made.json()
    assert (order["status"], order["store"], order["courier"]) == ("assigned", "S1", "Porter")
    assert [h["status"] for h in order["history"]] == ["received", "assigned"]
    assert "log" not in order and "Sent to S1" not in made.text  # the log is for hub staff
    again = await hub_client.post("/api/v1/orders", json=body("W-1"), headers=auth)
    assert again.status_code == 200 and again.json()["id"] == order["id"]
    # Clear, specific errors; nothing made.
    bad = await hub_client.post("/api/v1/orders", json=body("W-2", lines=[]), headers=auth)
    assert bad.status_code == 400 and "lines" in bad.text
    unknown = await hub_client.post("/api/v1/orders", json=body(
        "W-3", lines=[{"sku": "NOPE", "quantity": 1}]), headers=auth)
    assert unknown.status_code == 422 and "unknown or retired sku: NOPE" in unknown.text
    wrong = await hub_client.post("/api/v1/orders", json=body("W-4", channel="marketplace"),
                                  headers=auth)
    assert wrong.status_code == 403 and "belongs to channel 'webshop'" in wrong.text
    # A channel sees its own orders only.
    mine = await hub_client.get(f"/api/v1/orders/{order['id']}", headers=auth)
    assert mine.status_code == 200 and mine.json()["number"] == order["number"]
    theirs = await hub_client.get(f"/api/v1/orders/{order['id']}",
                                  headers={"Authorization": f"Bearer {other}"})
    assert theirs.status_code == 404
    cancelled = await hub_client.post(f"/api/v1/orders/{order['id']}/cancel",
                                      json={"reason": "customer changed mind"}, headers=auth)
    assert cancelled.json()["status"] == "cancelled"
    twice = await hub_client.post(f"/api/v1/orders/{order['id']}/cancel", json={},
                                  headers=auth)
    assert twice.status_code == 409


async def test_order_pages_upload_and_rules(hub_client, hub_db, hub_cfg):
    await setup_stores(hub_db, {"S1": 3})
    placed = await placement.take_order(hub_db, hub_cfg, __import__(
        "tests.hub.test_routing", fromlist=["incoming"]).incoming("W-9", qty=9))
    await sign_in(hub_client)
    listing = await hub_client.get("/hub/orders")
    assert "1</strong> order needs a person" in listing.text and placed.order.number in listing.text
    detail = await hub_client.get(f"/hub/orders/{placed.order.id}")
    assert "Needs a person" in detail.text and "S1 is short of RICE (needs 9, can promise 3)" \
        in detail.text
    moved = await hub_client.post(f"/hub/orders/{placed.order.id}/assign",
                                  data={"store": "D2", "_csrf_token": csrf_of(hub_client)})
    assert moved.status_code == 200 and "Priya sent it to D2" in moved.text

    csv_text = ("external_id,customer_name,phone,address,pincode,lat,lon,promised_by,sku,"
                "quantity\n"
                f"B-1,Hotel Udupi,9800000001,MG Road,560038,12.9719,77.6412,"
                f"{(utcnow() + timedelta(hours=3)).isoformat()},RICE,2\n"
                f"B-2,Cafe,9800000002,MG Road,560038,,,{utcnow().isoformat()},RICE,lots\n")
    uploaded = await hub_client.post(
        "/hub/orders-upload", data={"channel": "b2b", "_csrf_token": csrf_of(hub_client)},
        files={"file": ("orders.csv", csv_text.encode(), "text/csv")})
    assert uploaded.status_code == 200
    assert "B-1" in uploaded.text and "Sent to store</td>" not in uploaded.text
    assert "at S1" in uploaded.text
    assert "order B-2: quantity &#39;lots&#39; must be a whole number" in uploaded.text

    rules = await hub_client.post("/hub/rules", data={
        "criterion1": "priority", "criterion2": "distance", "radius_km": "5",
        "safety_stock": "1", "orders_per_picker": "3", "split_above_rupees": "0",
        "_csrf_token": csrf_of(hub_client)})
    assert rules.status_code == 200 and "Saved" in rules.text
    async with hub_db.read() as s:
        current = await order_reads.current_rules(s, hub_cfg)
    assert current.criteria == ("priority", "distance") and current.safety_stock == 1
    refused = await hub_client.post("/hub/rules", data={
        "criterion1": "distance", "criterion2": "distance", "radius_km": "5",
        "safety_stock": "0", "orders_per_picker": "3", "_csrf_token": csrf_of(hub_client)})
    assert refused.status_code == 400 and "Not saved" in refused.text
    toggled = await hub_client.post("/hub/couriers/Porter", data={
        "available": "no", "_csrf_token": csrf_of(hub_client)})
    assert toggled.status_code == 200 and "Mark available" in toggled.text
