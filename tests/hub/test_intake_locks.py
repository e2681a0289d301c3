"""Order intake on PostgreSQL: a placement locks only the stores in its customer's area
(issue 15), so placements in different areas run side by side; the same order posted
twice at once is still one order."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from app.hub import placement
from app.hub.models import HubOrder, HubStore
from tests.hub.test_routing import WHITEFIELD, incoming, setup_stores


def _postgresql_only(hub_db) -> None:
    if hub_db.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time: there are no row locks to look at")


async def test_a_placement_waits_only_for_the_stores_in_its_area(hub_db, hub_cfg):
    _postgresql_only(hub_db)
    await setup_stores(hub_db, {"S1": 10, "D2": 10, "W3": 10})
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold_indiranagar_stores() -> None:
        async with hub_db.write() as s:  # as a placement in Indiranagar would
            await s.execute(select(HubStore.id).where(HubStore.id.in_(["D2", "S1"]))
                            .order_by(HubStore.id).with_for_update())
            held.set()
            await release.wait()

    holder = asyncio.create_task(hold_indiranagar_stores())
    await held.wait()
    try:
        # Whitefield's only store is W3: its order does not wait (it waited for every
        # store row before).
        far = await asyncio.wait_for(placement.take_order(
            hub_db, hub_cfg, incoming("F-1", at=WHITEFIELD, pincode="560066")), 10)
        assert (far.order.status, far.order.store_id) == ("assigned", "W3")
        near = asyncio.create_task(placement.take_order(hub_db, hub_cfg, incoming("N-1")))
        await asyncio.sleep(0.5)
        assert not near.done()  # S1's row is locked: no unit is promised twice
    finally:
        release.set()
        await holder
    placed = await asyncio.wait_for(near, 10)
    assert placed.order.status == "assigned" and placed.order.store_id == "S1"


async def test_the_same_order_posted_twice_at_once_is_one_order(hub_db, hub_cfg):
    # No store serves PIN 560099 far from every store: no row lock queues the two, the
    # second finds the first by its channel + external id.
    await setup_stores(hub_db, {"S1": 10})
    lonely = incoming("DUP-1", at=(13.3, 77.2), pincode="560099")
    first, second = await asyncio.gather(placement.take_order(hub_db, hub_cfg, lonely),
                                         placement.take_order(hub_db, hub_cfg, lonely))
    assert first.order.id == second.order.id
    assert sorted([first.created, second.created]) == [False, True]
    async with hub_db.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubOrder)) == 1
