"""The shared catalogue log at the hub (issue #24): writes compact by product and follow
the head; the frames for one cursor are read and encoded once for every link of a hub
process, links that sent part of a read go on with its frames, a failed read is not
kept. Hub on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from sqlalchemy import func, select

from app.hub import catalog_log
from app.hub import service as hub
from app.hub.models import HubCatalogEntry
from app.sync import protocol as p
from tests.hub.test_hub_service import edit


async def head(hub_db) -> int:
    async with hub_db.read() as s:
        return await catalog_log.head(s)


async def test_writes_compact_by_product_and_move_the_head(hub_db):
    for i in range(5):
        await hub.save_product(hub_db, edit(f"P-{i}"))
    await hub.set_price(hub_db, "P-2", 9900)
    await hub.set_price(hub_db, "P-2", 9800)
    assert await head(hub_db) == 7
    entries = await catalog_log.read(hub_db)
    assert [e.seq for e in entries] == [1, 2, 4, 5, 7]  # P-2's older states are gone
    assert entries[-1].data["sku"] == "P-2" and entries[-1].data["price_minor"] == 9800
    assert [e.data["sku"] for e in await catalog_log.read(hub_db, after=4)] == ["P-4", "P-2"]
    async with hub_db.write() as s:  # a key given twice in one write keeps its last data
        last = await catalog_log.append(s, [
            ("product:X", "product.upserted", {"sku": "X", "n": 1}),
            ("product:Y", "product.upserted", {"sku": "Y"}),
            ("product:X", "product.upserted", {"sku": "X", "n": 2})])
    assert last == 9
    tail = await catalog_log.read(hub_db, after=7)
    assert [(e.seq, e.data) for e in tail] == [(8, {"sku": "Y"}), (9, {"sku": "X", "n": 2})]
    async with hub_db.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubCatalogEntry)) == 7
    with pytest.raises(ValueError, match="not a catalogue-log kind"):
        async with hub_db.write() as s:
            await catalog_log.append(s, [("order:1", "order.assigned", {})])


async def test_a_thousand_links_at_one_cursor_cost_one_read(hub_db):
    async with hub_db.write() as s:
        await catalog_log.append(s, [(f"product:P{i:04d}", "product.upserted",
                                      {"sku": f"P{i:04d}", "pad": "x" * 200})
                                     for i in range(1200)])
    frames = catalog_log.CatalogFrames(hub_db)
    got = await asyncio.gather(*(frames.frames(0, 1200) for _ in range(1000)))
    assert frames.reads == 1 and all(g is got[0] for g in got)
    texts = got[0]
    assert len(texts) == 3 and texts[-1][1] == 1200  # 500 + 500 + 200 entries
    decoded = [p.decode(text) for text, _last in texts]
    assert [f.after for f in decoded] == [0, 500, 1000]
    assert [e.seq for f in decoded for e in f.events] == list(range(1, 1201))
    # A link that could send only the first frame goes on with the same read.
    assert await frames.frames(500, 1200) == texts[1:]
    assert frames.reads == 1
    assert await frames.frames(1200, 1200) == ()  # caught up: nothing (read once more)
    assert frames.reads == 2


async def test_a_failed_read_is_not_kept(hub_db, monkeypatch):
    frames = catalog_log.CatalogFrames(hub_db)
    calls = []

    async def broken(after: int, upto: int):
        calls.append(after)
        raise OSError("database went away")

    monkeypatch.setattr(frames, "_read", broken)
    with pytest.raises(OSError):
        await frames.frames(0, 5)
    monkeypatch.undo()
    async with hub_db.write() as s:
        await catalog_log.append(s, [("product:A", "product.upserted", {"sku": "A"})])
    got = await frames.frames(0, 1)
    assert [msgspec.json.decode(text)["events"][0]["data"] for text, _ in got] == [{"sku": "A"}]
