"""A product's event carries its whole state (retired is a field): whatever the hub
changes, a store's copy equals the hub's after applying the latest event. Hub on SQLite
and PostgreSQL, store on its own SQLite file."""

from __future__ import annotations

import msgspec
from sqlalchemy import select

from app.catalog.models import Barcode, Product
from app.hub import catalog_log
from app.hub import service as hub
from app.hub.models import HubOutbox
from app.sync.models import SyncState
from app.sync.protocol import Event
from app.sync.store_apply import apply_hub_event


def edit(sku: str, price: int = 4500, **kw) -> hub.ProductEdit:
    return hub.ProductEdit(sku=sku, name=f"Product {sku}", price_minor=price, gst_rate_bp=500,
                           **kw)


async def deliver(hub_db, db, cfg, store_id: str = "S1") -> list[str]:
    """Apply what the store has not applied yet, like the client on protocol 3: the
    shared catalogue log past its catalogue cursor first (the hub's link sends it before
    the store's own events), then its own hub -> store events."""
    async with db.write() as s:
        state = await s.get(SyncState, 1)
        entries = await catalog_log.read(hub_db, after=state.applied_catalog)
        for entry in entries:
            await apply_hub_event(s, cfg, entry)
            state.applied_catalog = entry.seq
        async with hub_db.read() as h:
            rows = list(await h.scalars(select(HubOutbox).where(
                HubOutbox.store_id == store_id, HubOutbox.seq > state.applied_down)
                .order_by(HubOutbox.seq)))
        for row in rows:
            await apply_hub_event(s, cfg, Event(seq=row.seq, id=row.id, kind=row.kind,
                                                at=row.at.isoformat(),
                                                data=msgspec.json.decode(row.data)))
            state.applied_down = row.seq
    return [e.kind for e in entries] + [row.kind for row in rows]


async def store_copy(db, sku: str) -> tuple:
    async with db.read() as s:
        p = await s.scalar(select(Product).where(Product.sku == sku))
        codes = sorted(await s.scalars(select(Barcode.code).where(Barcode.product_id == p.id)))
    return p.name, p.price_minor, p.active, codes


async def hub_copy(hub_db, sku: str) -> tuple:
    async with hub_db.read() as s:
        p = await s.scalar(select(Product).where(Product.sku == sku))
        codes = sorted(await s.scalars(select(Barcode.code).where(Barcode.product_id == p.id)))
    return p.name, p.price_minor, p.active, codes


async def test_edits_to_a_retired_product_reach_the_store(hub_db, db, cfg):
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.9, lon=77.6)
    await hub.save_product(hub_db, edit("DAL-1KG", barcodes=("8901234567890",)))
    await deliver(hub_db, db, cfg)
    await hub.set_active(hub_db, "DAL-1KG", False)
    await deliver(hub_db, db, cfg)
    assert (await store_copy(db, "DAL-1KG"))[2] is False

    # Changed while retired: price, then name and barcodes.
    await hub.set_price(hub_db, "DAL-1KG", 15000)
    await hub.save_product(hub_db, edit("DAL-1KG", price=15500, barcodes=("8901234567807",),
                                        active=False))
    await deliver(hub_db, db, cfg)
    assert await store_copy(db, "DAL-1KG") == await hub_copy(hub_db, "DAL-1KG") == (
        "Product DAL-1KG", 15500, False, ["8901234567807"])

    # Brought back: the store has the edits and sells it again.
    await hub.set_active(hub_db, "DAL-1KG", True)
    await deliver(hub_db, db, cfg)
    assert await store_copy(db, "DAL-1KG") == ("Product DAL-1KG", 15500, True,
                                               ["8901234567807"])


async def test_the_old_retired_kind_from_an_older_hub_still_retires(hub_db, db, cfg):
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.9, lon=77.6)
    await hub.save_product(hub_db, edit("OIL-1L"))
    await deliver(hub_db, db, cfg)
    async with db.write() as s:
        await apply_hub_event(s, cfg, Event(seq=99, id="old-hub-1", kind="product.retired",
                                            at="2026-11-27T06:00:00+00:00",
                                            data={"sku": "OIL-1L"}))
    assert (await store_copy(db, "OIL-1L"))[1:3] == (4500, False)
