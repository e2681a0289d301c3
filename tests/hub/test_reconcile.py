"""Accepting a restored store's database makes the hub equal to the store again: the
hub queues `store.resync`, the store moves its numbers past the hub's and answers with
`stock.snapshot`, and the hub replaces the store's levels with it. Service level on
both databases (hub on SQLite and PostgreSQL); tests/sync/test_restore.py does the same
with real processes."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import msgspec
import pytest
from sqlalchemy import select

from app.core.db import next_number, skip_numbers_past
from app.hub import reconcile, views
from app.hub import service as hub
from app.hub.models import HubOutbox, HubReservation, HubStore
from app.sync import protocol as p
from app.sync.models import OutboxEvent
from app.sync.protocol import Event
from app.sync.store_apply import SNAPSHOT_PART, apply_hub_event, write_snapshot

IST = ZoneInfo("Asia/Kolkata")
AT = "2026-11-27T06:00:00+00:00"


def ev(seq: int, kind: str, data: dict, id_: str | None = None) -> Event:
    return Event(seq=seq, id=id_ or f"S1-e{seq}", kind=kind, at=AT, data=data)


def moved(seq: int, sku: str, delta: int) -> Event:
    return ev(seq, "stock.moved", {"sku": sku, "delta": delta})


def sale(seq: int, number: str) -> Event:
    return ev(seq, "sale.completed", {"sale_id": f"sale-{number}", "number": number, "at": AT,
                                      "total": 100})


async def apply(hub_db, events: list[Event]) -> None:
    async with hub_db.write() as s:
        store = await s.get(HubStore, "S1")
        await hub.apply_store_events(s, store, tuple(events), IST)


async def hub_levels(hub_db) -> dict[str, int]:
    rows = {}
    for sku in ("RICE", "DAL", "OIL"):
        _p, stock = await views.inventory_for(hub_db, sku)
        rows[sku] = next(r.on_hand for r in stock if r.store_id == "S1")
    return rows


async def store_outbox(db, after: int = 0) -> list[Event]:
    async with db.read() as s:
        rows = list(await s.scalars(select(OutboxEvent).where(OutboxEvent.seq > after)
                                    .order_by(OutboxEvent.seq)))
    return [Event(seq=r.seq, id=r.id, kind=r.kind, at=r.at.isoformat(),
                  data=msgspec.json.decode(r.data)) for r in rows]


async def stock_store(db, levels: dict[str, int]) -> None:
    """A store database holding `levels` (written straight, as a backup would hold them)."""
    from app.catalog.models import Product
    from app.core.clock import utcnow
    from app.core.ids import uuid7
    from app.stock.models import Bin, StockLevel

    async with db.write() as s:
        bin_ = Bin(id=uuid7(), code="A-01", zone="A", aisle="1", shelf="1", pick_seq=1)
        s.add(bin_)
        for sku, on_hand in levels.items():
            product = Product(id=uuid7(), sku=sku, name=sku, price_minor=100, gst_rate_bp=500,
                              unit="piece", active=True, updated_at=utcnow())
            s.add(product)
            await s.flush()
            s.add(StockLevel(product_id=product.id, bin_id=bin_.id, on_hand=on_hand))


async def test_accept_makes_the_hub_equal_to_the_restored_store(hub_db, db, cfg):
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.9, lon=77.6)
    # What the hub heard from the store before its disk died: 17 RICE, 5 OIL, 12 sales.
    await apply(hub_db, [moved(1, "RICE", 20), moved(2, "RICE", -3), moved(3, "OIL", 5),
                         *[sale(3 + n, f"S1-{n:06d}") for n in range(1, 13)],
                         ev(16, "sale.refunded", {"refund_id": "r1", "number": "S1-R00002",
                                                  "at": AT, "total": 50}),
                         ev(17, "shift.closed", {"number": "S1-SH0004"}),
                         ev(18, "order.status", {"order_id": "o-lost", "number": "S1-000007",
                                                 "status": "accepted",
                                                 "lines": [{"sku": "RICE", "quantity": 2}]})])
    # The store comes back on a backup: RICE 10, DAL 3, no OIL; receipts up to S1-000010.
    await stock_store(db, {"RICE": 10, "DAL": 3})
    async with db.write() as s:
        await skip_numbers_past(s, "sale", 10)

    await hub.accept_store_database(hub_db, "S1")
    async with hub_db.read() as s:
        [resync] = list(await s.scalars(select(HubOutbox).where(
            HubOutbox.store_id == "S1", HubOutbox.kind == "store.resync")))
    data = msgspec.json.decode(resync.data)
    assert data == {"numbers": {"sale": 12, "refund": 2, "order": 7, "shift": 4,
                                "transfer": 0}}

    before = len(await store_outbox(db))
    async with db.write() as s:  # the store applies it with its cursor, like the client
        await apply_hub_event(s, cfg, Event(seq=resync.seq, id=resync.id, kind=resync.kind,
                                            at=AT, data=data))
    snapshot = (await store_outbox(db))[before:]
    assert [e.kind for e in snapshot] == ["stock.snapshot"]
    assert snapshot[0].data["levels"] == [{"sku": "DAL", "on_hand": 3},
                                          {"sku": "RICE", "on_hand": 10}]
    async with db.write() as s:
        assert await next_number(s, "sale") == 13  # never S1-000011 or 12 again
        assert await next_number(s, "refund") == 3
        assert await next_number(s, "order") == 8
        await skip_numbers_past(s, "sale", 5)  # never lowered
        assert await next_number(s, "sale") == 14

    # The hub applies what the store resends: its fresh events, then the snapshot.
    await apply(hub_db, [Event(seq=100 + i, id=e.id, kind=e.kind, at=e.at, data=e.data)
                         for i, e in enumerate(snapshot)])
    assert await hub_levels(hub_db) == {"RICE": 10, "DAL": 3, "OIL": 0}
    async with hub_db.read() as s:
        assert list(await s.scalars(select(HubReservation.order_id))) == []  # o-lost gone


async def test_moves_around_a_snapshot_in_one_frame_apply_in_order(hub_db):
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.9, lon=77.6)
    await apply(hub_db, [moved(1, "RICE", 17)])
    snap = {"snapshot_id": "x", "part": 1, "parts": 1, "at": AT,
            "levels": [{"sku": "RICE", "on_hand": 10}],
            "reservations": [{"order_id": "o1", "sku": "RICE", "quantity": 2}]}
    # +2 was made before the snapshot (it is in the 10), -1 after it.
    await apply(hub_db, [moved(2, "RICE", 2), ev(3, "stock.snapshot", snap),
                         moved(4, "RICE", -1)])
    levels = await hub_levels(hub_db)
    assert levels["RICE"] == 9
    _p, rows = await views.inventory_for(hub_db, "RICE")
    assert [(r.on_hand, r.reserved) for r in rows] == [(9, 2)]


async def test_a_big_snapshot_comes_in_parts_that_replace_everything(hub_db, db, cfg):
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.9, lon=77.6)
    await apply(hub_db, [moved(1, "OIL", 7)])
    await stock_store(db, {f"SKU-{i:05d}": i % 7 for i in range(SNAPSHOT_PART * 2 + 5)})
    async with db.write() as s:
        assert await write_snapshot(s) == 3
    parts = await store_outbox(db)
    assert [e.data["part"] for e in parts] == [1, 2, 3]
    assert all(len(p.encode(p.Events(events=[e]))) < p.MAX_FRAME_BYTES // 4 for e in parts)
    await apply(hub_db, [Event(seq=10 + i, id=e.id, kind=e.kind, at=e.at, data=e.data)
                         for i, e in enumerate(parts)])
    rows = await views.inventory_rows(hub_db)
    got = {r["sku"]: r["on_hand"] for r in rows}
    assert got.pop("OIL") == 0
    assert got == {f"SKU-{i:05d}": i % 7 for i in range(SNAPSHOT_PART * 2 + 5)}


@pytest.mark.parametrize("bad", [
    {"part": 1, "parts": 1, "levels": [{"sku": "A", "on_hand": "9"}]},
    {"part": 2, "parts": 1, "levels": []},
    {"part": 1, "parts": 1, "levels": "all of it"},
    {"part": 1, "parts": 1, "levels": [{"sku": "A", "on_hand": 10**20}]},
    {"part": 1, "parts": 1, "levels": [{"sku": "A", "on_hand": -2**40}]},
    {"part": 1, "parts": 1, "levels": [],
     "reservations": [{"order_id": "o1", "sku": "A", "quantity": 2**40}]},
])
async def test_a_malformed_snapshot_changes_nothing(hub_db, bad):
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.9, lon=77.6)
    await apply(hub_db, [moved(1, "RICE", 17)])
    with pytest.raises(ValueError, match="stock.snapshot"):
        await apply(hub_db, [ev(2, "stock.snapshot", bad)])
    assert (await hub_levels(hub_db))["RICE"] == 17


def test_number_part():
    assert reconcile.number_part("S1-000123") == 123
    assert reconcile.number_part("S1-R00012") == 12
    assert reconcile.number_part("D2-SH0004") == 4
    assert reconcile.number_part("") == 0
