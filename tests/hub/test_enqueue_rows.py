"""hub.service.enqueue writes with Core statements (issue #15): what the ORM session
holds must still be right around it, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select, text

from app.core.clock import utcnow
from app.hub import service as hub
from app.hub.models import HubOutbox, HubStore

EVENT = ("order.cancelled", {"channel": "web", "external_id": "W-1"})


async def test_a_loaded_store_row_learns_its_new_seq(hub_db):
    await hub.add_store(hub_db, "S1", name="Store S1", kind="darkstore", lat=12.97, lon=77.64)
    async with hub_db.write() as s:
        row = await s.get(HubStore, "S1")
        before = row.down_seq
        await hub.enqueue(s, ["S1"], [EVENT, EVENT])
        assert row.down_seq == before + 2
        row.alert = "checked"  # a later change of the same row keeps the seq
    async with hub_db.read() as s:
        assert (await s.scalar(select(HubStore.down_seq).where(HubStore.id == "S1"))
                == before + 2)
        assert (await s.scalar(select(HubStore.alert).where(HubStore.id == "S1"))
                == "checked")
        seqs = list(await s.scalars(select(HubOutbox.seq).where(HubOutbox.store_id == "S1")
                                    .order_by(HubOutbox.seq)))
    assert seqs == list(range(1, before + 3))


async def test_a_store_the_session_has_not_written_yet_gets_its_events(hub_db):
    async with hub_db.write() as s:
        s.add(HubStore(id="N1", name="New", kind="counter", lat=12.9, lon=77.6, pincodes="",
                       priority=0, pickers=2, active=True, token_hash="x" * 64,
                       created_at=utcnow(), acked_up=0, down_seq=0, down_acked=0, version="",
                       alert="", rejected_link=""))
        await hub.enqueue(s, ["N1"], [EVENT])  # (the store row is flushed first)
    async with hub_db.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubOutbox)
                              .where(HubOutbox.store_id == "N1")) == 1
        assert await s.scalar(text("SELECT down_seq FROM hub_stores WHERE id = 'N1'")) == 1
