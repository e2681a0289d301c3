"""The shared catalogue log over real links (sync protocol 3, issue #24), a live hub on
SQLite and PostgreSQL: a store joining late gets the whole catalogue from the log; a
reconnect resumes from its cursor; an order never overtakes the product it names; the
log does not grow with the stores; a store past the hub's log starts again; older
stores get the log in their own stream; forged catalogue replies close the link."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from websockets.exceptions import ConnectionClosed

from app.core.clock import utcnow
from app.hub import catalog_log, placement
from app.hub import service as hub
from app.hub.models import HubCatalogEntry, HubOutbox, HubStore
from app.orders.service import LineIn, OrderIn
from app.sync import hub_link
from tests.hub import test_hub_links
from tests.hub.test_hub_links import LiveHub
from tests.hub.test_hub_service import edit

pytestmark = pytest.mark.timeout(120)
live_hub = test_hub_links.live_hub  # the fixture: a hub served in this process
EPOCH = "c" * 16


def hello(store_id: str, *, proto_max: int = 3, applied_down: int = 0,
          applied_catalog: int | None = 0) -> str:
    body = {"type": "hello", "proto": 1, "proto_max": proto_max, "store_id": store_id,
            "epoch": EPOCH, "applied_down": applied_down}
    if applied_catalog is not None:
        body["applied_catalog"] = applied_catalog
    return json.dumps(body)


async def recv(ws) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), 10))


async def read_catalogue(ws, cursor: int, head: int, *, ack: bool = True) -> tuple[list, int]:
    """Read `catalog` frames (acking each) until the cursor reaches `head`; other
    messages are returned in order too, as (kind, message)."""
    seen = []
    while cursor < head:
        message = await recv(ws)
        seen.append((message["type"], message))
        if message["type"] == "catalog":
            assert message["after"] <= cursor
            cursor = max(cursor, message["events"][-1]["seq"])
            if ack:
                await ws.send(json.dumps({"type": "catalog_ack", "upto": cursor}))
    return seen, cursor


async def new_store(hub_db, store_id: str) -> str:
    made = await hub.add_store(hub_db, store_id, name=store_id, kind="darkstore", lat=12.97,
                               lon=77.64, pincodes="560038")
    async with hub_db.write() as s:
        await s.execute(update(HubStore).where(HubStore.id == store_id)
                        .values(pickers=50))
    return made.token


async def saved_catalogue_ack(hub_db, store_id: str, upto: int) -> None:
    for _ in range(200):
        async with hub_db.read() as s:
            if await s.scalar(select(HubStore.catalog_acked)
                              .where(HubStore.id == store_id)) == upto:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the hub never saved {store_id}'s catalogue ack {upto}")


async def log_head(hub_db) -> int:
    async with hub_db.read() as s:
        return await catalog_log.head(s)


async def test_a_late_store_gets_the_whole_catalogue_and_resumes_from_its_cursor(
        live_hub: LiveHub, hub_db):
    for i in range(30):
        await hub.save_product(hub_db, edit(f"P-{i:02d}", 1000 + i))
    await hub.set_price(hub_db, "P-05", 1999)  # compacted: P-05 once, with its new price
    head = await log_head(hub_db)
    assert head == 31
    token = await new_store(hub_db, "S1")  # registered after the products
    async with live_hub.link(token, "kirana-store/test") as ws:
        await ws.send(hello("S1"))
        welcome = await recv(ws)
        assert welcome["proto"] == 3 and welcome["catalog_after"] == 0
        seen, cursor = await read_catalogue(ws, 0, head)
    entries = [e for kind, m in seen if kind == "catalog" for e in m["events"]]
    assert sorted(e["data"]["sku"] for e in entries) == [f"P-{i:02d}" for i in range(30)]
    assert next(e for e in entries if e["data"]["sku"] == "P-05")["data"]["price_minor"] == 1999
    assert cursor == head
    async with hub_db.read() as s:  # the store got the catalogue; its own stream is empty
        assert await s.scalar(select(func.count()).select_from(HubOutbox)) == 0
        assert await s.scalar(select(func.count()).select_from(HubCatalogEntry)) == 30

    # The acks are saved (one write a second for all links).
    await saved_catalogue_ack(hub_db, "S1", head)

    # A change while it is away; it comes back with its cursor and gets only that.
    await hub.set_price(hub_db, "P-07", 2222)
    async with live_hub.link(token, "kirana-store/test") as ws:
        await ws.send(hello("S1", applied_catalog=cursor))
        assert (await recv(ws))["catalog_after"] == cursor
        frame = await recv(ws)
        assert frame["type"] == "catalog" and frame["after"] == cursor
        assert [(e["data"]["sku"], e["data"]["price_minor"]) for e in frame["events"]] == [
            ("P-07", 2222)]


async def test_an_order_never_reaches_a_store_before_its_product(live_hub: LiveHub, hub_db,
                                                                 hub_cfg, hub_app,
                                                                 monkeypatch):
    """The store's catalogue window is full (one frame, not acked): a new product cannot
    go yet, and neither may the order for it that the hub places meanwhile."""
    monkeypatch.setattr(hub_link, "CATALOG_WINDOW_FRAMES", 1)
    token = await new_store(hub_db, "S1")
    async with live_hub.link(token, "kirana-store/test") as ws:
        await ws.send(hello("S1"))
        await recv(ws)  # welcome
        await ws.send(json.dumps({"type": "events", "events": [{
            "seq": 1, "id": "S1-stock-1", "kind": "stock.moved", "at": utcnow().isoformat(),
            "data": {"sku": "NEW-1", "delta": 5, "bin": "A-1", "reason": "receive"}}]}))
        assert (await recv(ws)) == {"type": "ack", "upto": 1}
        # (written through the test's own database handle: the served hub's links are
        # woken by hand, as its waker would after its own writes)
        await hub.save_product(hub_db, edit("OLD-1"))
        await hub_app.state.waker.wake_all_stores()
        first = await recv(ws)
        assert first["type"] == "catalog"  # in flight, not acked: the window is full
        await hub.save_product(hub_db, edit("NEW-1"))
        placed = await placement.take_order(hub_db, hub_cfg, OrderIn(
            channel="webshop", external_id="W-1", customer_name="Kavya R",
            customer_phone="9800000000", address="4th Cross", pincode="560038",
            promised_by=utcnow() + timedelta(minutes=30), lines=(LineIn("NEW-1", 1),),
            lat=12.97, lon=77.64))
        assert placed.order.store_id == "S1"
        await hub_app.state.waker.wake_all_stores()
        with pytest.raises(TimeoutError):  # neither the product nor the order
            await asyncio.wait_for(ws.recv(), 1.5)
        await ws.send(json.dumps({"type": "catalog_ack", "upto": first["events"][-1]["seq"]}))
        kinds = []
        while "order.assigned" not in kinds:
            message = await recv(ws)
            kinds += [e["kind"] for e in message["events"]]
            if message["type"] == "catalog":
                await ws.send(json.dumps({"type": "catalog_ack",
                                          "upto": message["events"][-1]["seq"]}))
        assert kinds == ["product.upserted", "order.assigned"]


async def test_a_store_past_the_hubs_log_takes_it_again_from_0(live_hub: LiveHub, hub_db):
    """The hub was restored from a backup older than the store's cursor."""
    await hub.save_product(hub_db, edit("A-1"))
    token = await new_store(hub_db, "S1")
    async with live_hub.link(token, "kirana-store/test") as ws:
        await ws.send(hello("S1", applied_catalog=500))
        welcome = await recv(ws)
        assert welcome["catalog_after"] == 0
        seen, _ = await read_catalogue(ws, 0, await log_head(hub_db))
        assert [e["data"]["sku"] for kind, m in seen if kind == "catalog"
                for e in m["events"]] == ["A-1"]


async def test_an_older_store_gets_the_log_in_its_own_stream(live_hub: LiveHub, hub_db,
                                                              hub_app):
    await hub.save_product(hub_db, edit("A-1"))
    await hub.save_product(hub_db, edit("B-1"))
    token = await new_store(hub_db, "S1")
    async with live_hub.link(token, "kirana-store/old") as ws:
        await ws.send(hello("S1", proto_max=2, applied_catalog=None))
        welcome = await recv(ws)
        assert welcome["proto"] == 2 and "catalog_after" not in welcome
        frame = await recv(ws)
        assert frame["type"] == "events"
        assert [(e["seq"], e["data"]["sku"]) for e in frame["events"]] == [(1, "A-1"),
                                                                          (2, "B-1")]
        await ws.send(json.dumps({"type": "ack", "upto": 2}))
        await hub.set_price(hub_db, "A-1", 7700)
        await hub_app.state.waker.wake_all_stores()
        frame = await recv(ws)
        assert [(e["seq"], e["data"]["price_minor"]) for e in frame["events"]] == [(3, 7700)]
    async with hub_db.read() as s:
        assert await s.scalar(select(HubStore.catalog_copied).where(
            HubStore.id == "S1")) == await catalog_log.head(s)
        assert await s.scalar(select(HubStore.sync_proto).where(HubStore.id == "S1")) == 2


@pytest.mark.parametrize(("proto_max", "reply", "code"), [
    (3, {"type": "catalog_ack", "upto": 99}, 4409),  # past what was sent
    (3, {"type": "catalog_resend", "after": 99}, 4409),
    (2, {"type": "catalog_ack", "upto": 0}, 4400),  # not on a v2 link
    (3, {"type": "catalog_ack", "upto": 2**63}, 4400),  # out of range
])
async def test_forged_catalogue_replies_close_the_link(live_hub: LiveHub, hub_db, proto_max,
                                                       reply, code):
    await hub.save_product(hub_db, edit("A-1"))
    token = await new_store(hub_db, "S1")
    async with live_hub.link(token, "kirana-store/test") as ws:
        await ws.send(hello("S1", proto_max=proto_max,
                            applied_catalog=0 if proto_max >= 3 else None))
        await recv(ws)  # welcome
        await recv(ws)  # the catalogue (v3) or the copy in its stream (v2)
        await ws.send(json.dumps(reply))
        with pytest.raises(ConnectionClosed):
            while True:
                await recv(ws)
        assert ws.close_code == code


async def test_a_store_whose_catalogue_went_back_is_refused_until_accepted(
        live_hub: LiveHub, hub_db):
    """Its database was put back from a copy (same epoch): only the catalogue moved since,
    so the catalogue cursor is what tells (the store acks only what it committed)."""
    for sku in ("A-1", "B-1", "C-1"):
        await hub.save_product(hub_db, edit(sku))
    token = await new_store(hub_db, "S1")
    async with live_hub.link(token, "kirana-store/test") as ws:
        await ws.send(hello("S1"))
        await recv(ws)
        _seen, cursor = await read_catalogue(ws, 0, 3)
    assert cursor == 3
    # The hub keeps a link's acks when it ends (and once a second): a store back sooner
    # than that is let in on what the hub knew, so wait until it knows the 3.
    await saved_catalogue_ack(hub_db, "S1", 3)
    async with live_hub.link(token, "kirana-store/test") as ws:
        await ws.send(hello("S1", applied_catalog=1))
        refused = await recv(ws)
        assert refused["type"] == "error" and refused["code"] == 4409
        assert "went back in time: it applied the catalogue up to 3" in refused["message"]
    async with hub_db.read() as s:
        refused_epoch = await s.scalar(select(HubStore.rejected_epoch)
                                       .where(HubStore.id == "S1"))
    await hub.accept_store_database(hub_db, "S1", epoch=refused_epoch)
    async with live_hub.link(token, "kirana-store/test") as ws:
        await ws.send(hello("S1", applied_catalog=1))
        assert (await recv(ws))["catalog_after"] == 1
        frame = await recv(ws)
        assert [e["data"]["sku"] for e in frame["events"]] == ["B-1", "C-1"]
