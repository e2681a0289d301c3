"""What a hub link reads while it sends (issue #24): in a catalogue fan-out each link
read its own stream and the log's head for every batch of catalogue frames, so 1,000
links emptied the database pool (the 100,000-product bench: 27,693 pool timeouts,
27,687 links dropped, 37 minutes). A link now reads its own stream only when there may
be something in it (its topic woke, an ack made room, a resend, a full read) or every
POLL_SECONDS, and a catalogue wake alone costs one head read shared by the links; a
pool timeout makes a link wait and go on instead of dropping it."""

from __future__ import annotations

import asyncio
import json

import sqlalchemy.exc
from sqlalchemy import update

from app.catalog.csv_io import parse_catalog
from app.catalog.service import import_catalog
from app.hub import service as hub
from app.hub.models import HubStore
from tests.hub import test_hub_links
from tests.hub.test_catalog_log_links import hello, new_store, read_catalogue, recv
from tests.hub.test_hub_links import LiveHub
from tests.hub.test_hub_service import edit

live_hub = test_hub_links.live_hub  # the fixture: a hub served in this process
LINKS = 6
PRODUCTS = 2600  # 6 frames of 500 (a window is 4): each link waits for acks once or more


async def test_a_fan_out_reads_each_stream_a_few_times_not_per_frame(
        live_hub: LiveHub, hub_db, hub_app, monkeypatch):
    tokens = {f"S{i}": await new_store(hub_db, f"S{i}") for i in range(LINKS)}
    own_reads: dict[str, int] = {}
    real = hub.pending_down_and_head

    async def counted(db, store_id, after, limit):
        own_reads[store_id] = own_reads.get(store_id, 0) + 1
        return await real(db, store_id, after, limit)

    monkeypatch.setattr(hub, "pending_down_and_head", counted)
    csv = "sku,name,price,gst_rate\n" + "".join(
        f"P-{n:05d},Product {n},45.00,5\n" for n in range(PRODUCTS))
    await import_catalog(hub_db, parse_catalog(csv), after_write=hub.announce_products)
    catalog = hub_app.state.links.catalog
    reads_before, heads_before = catalog.reads, catalog.head_reads

    async def one_store(store_id: str) -> int:
        async with live_hub.link(tokens[store_id], "kirana-store/test") as ws:
            await ws.send(hello(store_id))
            await recv(ws)
            _seen, cursor = await read_catalogue(ws, 0, PRODUCTS)
            # Its own stream still arrives at once after the catalogue.
            async with hub_db.write() as s:
                await hub.enqueue(s, [store_id], [("store.resync", {"why": "test"})])
            await hub_app.state.waker.wake_stores([store_id])
            message = await recv(ws)
            assert message["type"] == "events"
            assert [e["kind"] for e in message["events"]] == ["store.resync"]
            return cursor

    cursors = await asyncio.wait_for(asyncio.gather(*(one_store(s) for s in tokens)), 60)
    assert cursors == [PRODUCTS] * LINKS
    # Each link: its first read and the one its own event woke, not one per catalogue
    # round (6 frames, a window of 4).
    # (10 each before, at this size; at 200 frames it was about 50 each.)
    assert all(n <= 3 for n in own_reads.values()), own_reads
    # Catalogue frames read once per process for all links, not per link.
    assert catalog.reads - reads_before <= 4 * 2, catalog.reads - reads_before
    # The head: read again only on catalogue news, once the link has sent up to the
    # head it knows (the import's news came before the links: none needed here).
    assert catalog.head_reads - heads_before <= LINKS * 2


async def test_a_busy_pool_makes_the_link_wait_not_drop(live_hub: LiveHub, hub_db, hub_app,
                                                        monkeypatch):
    token = await new_store(hub_db, "S1")
    async with hub_db.write() as s:
        await s.execute(update(HubStore).where(HubStore.id == "S1").values(pickers=5))
    real = hub.pending_down_and_head
    failures = {"left": 2}

    async def busy_then_fine(db, store_id, after, limit):
        if failures["left"]:
            failures["left"] -= 1
            raise sqlalchemy.exc.TimeoutError("QueuePool limit of size 10 overflow 10 "
                                              "reached, connection timed out")
        return await real(db, store_id, after, limit)

    monkeypatch.setattr(hub, "pending_down_and_head", busy_then_fine)
    async with live_hub.link(token, "kirana-store/test") as ws:
        await ws.send(hello("S1"))
        assert (await recv(ws))["type"] == "welcome"
        await hub.save_product(hub_db, edit("A-1"))
        await hub_app.state.waker.wake_all_stores()
        frame = await recv(ws)  # after the two timeouts, on the same link
        assert frame["type"] == "catalog" and frame["events"][0]["data"]["sku"] == "A-1"
        await ws.send(json.dumps({"type": "catalog_ack", "upto": frame["events"][-1]["seq"]}))
    assert failures["left"] == 0
