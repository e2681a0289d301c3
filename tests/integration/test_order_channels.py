"""A store API key is bound to one channel (issue #13 item 1, ASVS 4.0.3 V4.1.2/V4.2.1).

Hostile stand-ins: a key for channel A posting, reading and cancelling as channel B; a key
posting under the hub's channel; a key that posts an external id before the hub's real
assignment of it arrives."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.core.auth import create_api_key
from app.orders.models import Order
from app.sync.models import OutboxEvent
from app.sync.protocol import Event
from app.sync.store_apply import apply_hub_event
from tests.integration.test_orders import body, stocked  # noqa: F401 (fixture)


async def bearer(db, name: str, scope: str, channel: str) -> dict[str, str]:
    _key, full = await create_api_key(db, name, scope, channel=channel)
    return {"Authorization": f"Bearer {full}"}


def as_channel(payload: dict, channel: str) -> dict:
    return {**payload, "channel": channel}


async def hub_assigns(db, cfg, skus, channel: str, external_id: str, seq: int = 1) -> None:
    data = {"hub_order_id": f"hub-{external_id}", "channel": channel,
            "external_id": external_id, "customer_name": "Real Customer",
            "customer_phone": "9000000001", "address": "Real address", "pincode": "560102",
            "promised_by": (datetime.now(UTC) + timedelta(minutes=30)).isoformat(),
            "lines": [{"sku": sku, "quantity": 1, "price_minor": 100} for sku in skus]}
    async with db.write() as s:
        await apply_hub_event(s, cfg, Event(seq=seq, id=f"ev-{external_id}",
                                            kind="order.assigned", at="", data=data))


async def test_a_key_may_post_only_as_its_own_channel(client, db, stocked):  # noqa: F811
    shop = await bearer(db, "shop", "orders:write", "shop")
    r = await client.post("/api/v1/orders", json=as_channel(body(stocked), "webshop"),
                          headers=shop)
    assert r.status_code == 403, r.text
    assert "'shop'" in r.text and "'webshop'" in r.text
    ok = await client.post("/api/v1/orders", json=as_channel(body(stocked), "shop"),
                           headers=shop)
    assert ok.status_code == 201, ok.text
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Order)) == 1


async def test_a_key_reads_and_cancels_only_its_own_channels_orders(client, db, stocked):  # noqa: F811
    webshop = await bearer(db, "webshop", "orders:write", "webshop")
    order = (await client.post("/api/v1/orders", json=body(stocked), headers=webshop)).json()
    for name, scope in (("snoop-read", "orders:read"), ("snoop-all", "all")):
        other = await bearer(db, name, scope, "other")
        r = await client.get(f"/api/v1/orders/{order['id']}", headers=other)
        assert r.status_code == 404 and "'other'" in r.text, r.text
        assert "Priya" not in r.text
    other = await bearer(db, "other-writer", "orders:write", "other")
    r = await client.post(f"/api/v1/orders/{order['id']}/cancel", json={}, headers=other)
    assert r.status_code == 404, r.text
    async with db.read() as s:
        assert (await s.get(Order, order["id"])).state == "accepted"
    mine = await client.get(f"/api/v1/orders/{order['id']}",
                            headers=await bearer(db, "webshop-reader", "orders:read", "webshop"))
    assert mine.status_code == 200 and mine.json()["id"] == order["id"]


async def test_no_key_may_post_as_the_hubs_channel_or_touch_the_hubs_orders(
        client, db, cfg, stocked):  # noqa: F811
    await hub_assigns(db, cfg, stocked[:1], "web", "W-1")
    async with db.read() as s:
        hub_order = await s.scalar(select(Order).where(Order.external_id == "W-1"))
    assert hub_order.source == "hub" and hub_order.state == "accepted"
    # Even a key bound to the hub's channel name cannot post, read or cancel there.
    web = await bearer(db, "web", "all", "web")
    r = await client.post("/api/v1/orders", json=as_channel(body(stocked, "W-2"), "web"),
                          headers=web)
    assert r.status_code == 403 and "hub" in r.text, r.text
    assert (await client.get(f"/api/v1/orders/{hub_order.id}", headers=web)).status_code == 404
    r = await client.post(f"/api/v1/orders/{hub_order.id}/cancel", json={}, headers=web)
    assert r.status_code == 404
    async with db.read() as s:
        assert (await s.get(Order, hub_order.id)).state == "accepted"
        assert await s.scalar(select(func.count()).select_from(Order)) == 1


async def test_an_order_posted_first_never_swallows_the_hubs_assignment(
        client, db, cfg, stocked):  # noqa: F811
    """The old attack: post channel/external id ahead of the hub; the hub's assignment was
    then 'a repeat' and the picker picked the attacker's order. Now the hub hears at once
    that the store cannot take it (so it places it elsewhere) and nothing is merged."""
    web = await bearer(db, "web", "all", "web")
    forged = body(stocked, "W-9")
    forged["customer"]["address"] = "Attacker's address"
    r = await client.post("/api/v1/orders", json=as_channel(forged, "web"), headers=web)
    assert r.status_code == 201
    await hub_assigns(db, cfg, stocked[:1], "web", "W-9")
    async with db.read() as s:
        statuses = [json.loads(e.data) for e in await s.scalars(select(OutboxEvent).where(
            OutboxEvent.kind == "order.status"))]
    answer = [e for e in statuses if e["order_id"] == "hub-W-9"]
    assert answer and answer[-1]["status"] == "rejected", statuses
    assert "not from the hub" in answer[-1]["reason"]


async def test_keys_made_before_channels_are_bound_to_local(client, db, stocked):  # noqa: F811
    _key, full = await create_api_key(db, "old-script", "all")
    headers = {"Authorization": f"Bearer {full}"}
    r = await client.post("/api/v1/orders", json=body(stocked), headers=headers)
    assert r.status_code == 403 and "'local'" in r.text
    r = await client.post("/api/v1/orders", json=as_channel(body(stocked), "local"),
                          headers=headers)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("channel", ["", "a b", "x" * 41, "web/1"])
async def test_a_channel_name_is_checked(db, channel):
    with pytest.raises(ValueError, match="channel"):
        await create_api_key(db, "k", "all", channel=channel)


async def test_the_stores_own_demo_feed_is_not_refused_by_the_hubs_demo_channel(
        db, cfg, stocked):  # noqa: F811
    import random

    from app.orders.demo_feed import post_one

    await hub_assigns(db, cfg, stocked[:1], "demo", "WEB-1")
    await post_one(db, cfg, random.Random(1), 1)
    async with db.read() as s:
        sources = sorted(o.source for o in await s.scalars(select(Order)))
    assert sources == ["demo", "hub"]


async def hub_names_its_channels(db, cfg, names: list[str], seq: int = 50) -> None:
    async with db.write() as s:
        await apply_hub_event(s, cfg, Event(seq=seq, id=f"ch-{seq}", kind="hub.channels", at="",
                                            data={"channels": names}))


async def test_the_hubs_channels_are_refused_before_its_first_order_arrives(
        client, db, cfg, stocked):  # noqa: F811
    """The race: a key bound to the hub's channel name posts before the hub has sent any
    order on it. The hub names its channels over the sync link, so the store knows."""
    await hub_names_its_channels(db, cfg, ["web", "marketplace"])
    web = await bearer(db, "web", "all", "web")
    r = await client.post("/api/v1/orders", json=as_channel(body(stocked, "W-1"), "web"),
                          headers=web)
    assert r.status_code == 403 and "hub" in r.text, r.text
    # The hub drops a channel: the name is free again.
    await hub_names_its_channels(db, cfg, ["marketplace"], seq=51)
    r = await client.post("/api/v1/orders", json=as_channel(body(stocked, "W-1"), "web"),
                          headers=web)
    assert r.status_code == 201, r.text


async def test_a_key_cannot_be_made_for_a_hub_channel(db, cfg):
    from app.orders.service import check_key_channel

    await hub_names_its_channels(db, cfg, ["web"])
    with pytest.raises(ValueError, match="hub"):
        await check_key_channel(db, "web")
    await check_key_channel(db, "shop")


@pytest.mark.parametrize("data", [{}, {"channels": "web"}, {"channels": [1]},
                                  {"channels": ["x" * 41]}])
async def test_a_bad_channel_list_from_the_hub_is_refused(db, cfg, data):
    from app.sync.store_apply import BadHubEvent

    with pytest.raises(BadHubEvent):
        async with db.write() as s:
            await apply_hub_event(s, cfg, Event(seq=1, id="bad", kind="hub.channels", at="",
                                                data=data))
