"""Hub use cases on a real database: SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.catalog.models import Product
from app.core.security import hash_token
from app.hub import catalog_log, views
from app.hub import service as hub
from app.hub.models import HubOutbox, HubStore
from app.sync.protocol import Event

IST = ZoneInfo("Asia/Kolkata")


def edit(sku: str, price: int = 4500, **kw) -> hub.ProductEdit:
    return hub.ProductEdit(sku=sku, name=f"Product {sku}", price_minor=price, gst_rate_bp=500,
                           **kw)


async def outbox(db, store_id: str) -> list[HubOutbox]:
    async with db.read() as s:
        return list(await s.scalars(select(HubOutbox).where(HubOutbox.store_id == store_id)
                                    .order_by(HubOutbox.seq)))


async def test_add_store_keeps_only_the_token_hash_and_gets_the_catalogue_log(hub_db):
    await hub.save_product(hub_db, edit("RICE-1KG", barcodes=("8901234567890",)))
    await hub.save_product(hub_db, edit("OLD-ITEM", active=False))
    made = await hub.add_store(hub_db, "s1", name="Indiranagar", kind="counter", lat=12.97,
                               lon=77.64, pincodes="560038, 560008")
    assert made.store.id == "S1" and made.token.startswith("kst_")
    async with hub_db.read() as s:
        row = await s.get(HubStore, "S1")
    assert row.token_hash == hash_token(made.token) and made.token not in row.token_hash
    assert row.pincodes == "560008,560038"
    assert (await hub.store_for_token(hub_db, made.token)).id == "S1"
    assert await hub.store_for_token(hub_db, "kst_guess") is None
    # Nothing is copied for it (issue #24): it reads the shared log from 0, which has the
    # whole catalogue, the retired product too (as `active` false).
    assert await outbox(hub_db, "S1") == []
    logged = await catalog_log.read(hub_db)
    assert [(e.data["sku"], e.data["active"]) for e in logged] == [("RICE-1KG", True),
                                                                   ("OLD-ITEM", False)]
    with pytest.raises(hub.HubError, match="already registered"):
        await hub.add_store(hub_db, "S1", name="x", kind="counter", lat=1, lon=1)
    with pytest.raises(hub.HubError, match="6-digit"):
        await hub.add_store(hub_db, "S2", name="x", kind="counter", lat=1, lon=1,
                            pincodes="56003")


async def test_a_product_change_goes_to_every_store_in_order(hub_db):
    """One log for every store; each change replaces the product's entry under the next
    seq, with the product's whole state."""
    for sid in ("S1", "D2"):
        await hub.add_store(hub_db, sid, name=sid, kind="counter", lat=12.9, lon=77.6)
    await hub.save_product(hub_db, edit("DAL-1KG", barcodes=("8901234567890",)))
    seen = [await catalog_log.read(hub_db)]
    await hub.set_price(hub_db, "DAL-1KG", 15000)
    seen.append(await catalog_log.read(hub_db))
    await hub.set_active(hub_db, "DAL-1KG", False)
    seen.append(await catalog_log.read(hub_db))
    assert [[e.seq for e in log] for log in seen] == [[1], [2], [3]]
    first, second, third = (log[0] for log in seen)
    assert third.kind == "product.upserted" and third.data["active"] is False
    assert third.data["price_minor"] == 15000 and second.data["price_minor"] == 15000
    assert first.data["barcodes"] == ["8901234567890"] == third.data["barcodes"]
    assert await outbox(hub_db, "S1") == [] and await outbox(hub_db, "D2") == []


async def test_bad_product_edits_change_nothing(hub_db):
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.9, lon=77.6)
    await hub.save_product(hub_db, edit("A-1", barcodes=("8901234567890",)))
    for bad, message in [
        (edit("B-1", barcodes=("8901234567890",)), "already belongs to A-1"),
        (edit("B-1", barcodes=("8901234567897",)), "barcode 8901234567897"),
        (edit("B-1", price=0), "more than zero"),
        (hub.ProductEdit(sku="B-1", name="x", price_minor=100, gst_rate_bp=700), "GST"),
        (edit("bad sku!"), "SKU"),
    ]:
        with pytest.raises(hub.HubError, match=message):
            await hub.save_product(hub_db, bad)
    async with hub_db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Product)) == 1
    assert len(await catalog_log.read(hub_db)) == 1
    async with hub_db.read() as s:
        assert await catalog_log.head(s) == 1


async def test_concurrent_changes_get_consecutive_seqs(hub_db):
    """Twenty price changes at once: the head hands out 21 seqs, one each, and the last
    one committed is the state the log keeps."""
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.9, lon=77.6)
    await hub.save_product(hub_db, edit("A-1"))
    await asyncio.gather(*(hub.set_price(hub_db, "A-1", 1000 + i) for i in range(20)))
    [entry] = await catalog_log.read(hub_db)
    async with hub_db.read() as s:
        assert await catalog_log.head(s) == 21 == entry.seq
        price = await s.scalar(select(Product.price_minor).where(Product.sku == "A-1"))
    assert entry.data["price_minor"] == price


def ev(seq: int, kind: str, data: dict, id_: str | None = None) -> Event:
    return Event(seq=seq, id=id_ or f"e{seq}", kind=kind, at="2026-11-27T06:00:00+00:00",
                 data=data)


async def go_online(hub_db, store_ids: list[str] | None = None, version: str = "") -> None:
    """Stores with a live link (a `hub_store_links` row seen now), as a connected
    store's link would leave them."""
    from app.core.clock import utcnow
    from app.core.ids import uuid7
    from app.hub.models import HubStoreLink

    async with hub_db.write() as s:
        ids = store_ids or list(await s.scalars(select(HubStore.id).order_by(HubStore.id)))
        now = utcnow()
        for sid in ids:
            s.add(HubStoreLink(id=uuid7(), store_id=sid, process="test", address="127.0.0.1:1",
                               version=version or f"kirana-store/test {sid}", epoch="e" * 16,
                               applied_down=0, connected_at=now, last_seen_at=now))


async def apply(hub_db, store_id: str, events: list[Event]):
    async with hub_db.write() as s:
        store = await s.get(HubStore, store_id)
        # Event ids are uuid7s made by each store: unique across stores.
        events = [Event(seq=e.seq, id=f"{store_id}-{e.id}", kind=e.kind, at=e.at, data=e.data)
                  for e in events]
        return await hub.apply_store_events(s, store, tuple(events), IST)


async def test_store_events_build_the_central_stock_and_sales(hub_db):
    await hub.save_product(hub_db, edit("RICE-1KG", reorder_level=5))
    for sid in ("S1", "D2"):
        await hub.add_store(hub_db, sid, name=f"Store {sid}", kind="counter", lat=12.9, lon=77.6)
    moved = lambda n, d, sku="RICE-1KG": ev(n, "stock.moved", {"sku": sku, "delta": d})  # noqa: E731
    await apply(hub_db, "S1", [moved(1, 20), moved(2, -3)])
    await apply(hub_db, "S1", [moved(2, -3)])  # the same event id again: skipped
    await apply(hub_db, "D2", [moved(1, 4, "RICE-1KG")])
    await apply(hub_db, "D2", [ev(2, "order.status", {
        "order_id": "o1", "number": "D2-000001", "channel": "web", "external_id": "W1",
        "status": "accepted", "lines": [{"sku": "RICE-1KG", "quantity": 3}]})])
    product, rows = await views.inventory_for(hub_db, "rice-1kg")
    assert product.name == "Product RICE-1KG"
    by = {r.store_id: (r.on_hand, r.reserved, r.available) for r in rows}
    assert by == {"S1": (17, 0, 17), "D2": (4, 3, 1)}
    low = await views.low_stock(hub_db)
    assert [(r.store_id, r.available) for r in low] == [("D2", 1)]
    await apply(hub_db, "D2", [ev(3, "order.status", {"order_id": "o1", "status": "handed_over"}),
                               moved(4, -3)])
    _, rows = await views.inventory_for(hub_db, "RICE-1KG")
    assert {r.store_id: (r.on_hand, r.reserved) for r in rows} == {"S1": (17, 0), "D2": (1, 0)}
    csv_rows = await views.inventory_rows(hub_db)
    assert {(r["store"], r["available"]) for r in csv_rows} == {("S1", 17), ("D2", 1)}

    at = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)  # 00:30 on the 28th in India
    await apply(hub_db, "S1", [
        ev(5, "sale.completed", {"sale_id": "s1", "number": "S1-000001",
                                 "at": at.isoformat(), "total": 31800}),
        ev(6, "sale.completed", {"sale_id": "s2", "number": "S1-000002",
                                 "at": (at - timedelta(hours=6)).isoformat(), "total": 1000}),
        ev(7, "sale.refunded", {"refund_id": "r1", "number": "S1-R00001", "sale": "S1-000001",
                                "at": at.isoformat(), "total": 800}),
    ])
    day = {d.store_id: d for d in await views.day_sales(hub_db, "2026-11-28")}
    assert (day["S1"].sales, day["S1"].sales_total, day["S1"].refunds_total,
            day["S1"].net) == (1, 31800, -800, 31000)
    assert day["D2"].net == 0
    assert {d.store_id: d.sales_total for d in await views.day_sales(hub_db, "2026-11-27")
            }["S1"] == 1000


async def test_a_malformed_store_event_is_refused(hub_db):
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.9, lon=77.6)
    with pytest.raises(ValueError, match="delta"):
        await apply(hub_db, "S1", [ev(1, "stock.moved", {"sku": "A", "delta": "many"})])
    _, rows = await views.inventory_for(hub_db, "A")
    assert rows[0].on_hand == 0


async def test_health_shows_waiting_events_and_offline_stores(hub_db):
    await hub.save_product(hub_db, edit("A-1"))
    await hub.add_store(hub_db, "S1", name="S1", kind="darkstore", lat=12.9, lon=77.6)
    async with hub_db.write() as s:  # one event of its own waiting
        await hub.enqueue(s, ["S1"], [("hub.channels", {"channels": ["shopx"]})])
    [health] = await views.store_health(hub_db, timedelta(seconds=60))
    assert health.state == "offline" and health.waiting_down == 1
    assert health.oldest_waiting_seconds is not None and health.oldest_waiting_seconds >= 0
    assert health.as_json()["events_waiting"] == 1
