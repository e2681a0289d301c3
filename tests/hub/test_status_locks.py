"""What a store's `order.status` frame locks at the hub (issue #24): a step forward
(accepted ... delivered, most of an order's frames) locks its own store's row and the
order's, so placements and other stores' frames elsewhere never wait for it; a reject
or cancel re-routes the order and still takes every store row in id order first.
Before, every `order.status` frame locked all the chain's store rows."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update

from app.core.clock import utcnow
from app.hub import placement
from app.hub.models import HubOrder, HubStore
from app.sync import hub_link
from app.sync import protocol as p
from tests.hub.test_routing import WHITEFIELD, incoming, setup_stores

EPOCH = "e" * 16


def status_event(seq: int, store_id: str, external_id: str, status: object) -> p.Event:
    return p.Event(seq=seq, id=f"{store_id}-{seq}-{external_id}", kind="order.status",
                   at=utcnow().isoformat(), data={
                       "order_id": f"o-{external_id}", "channel": "webshop",
                       "external_id": external_id, "status": status, "reason": "busy"})


@pytest.mark.parametrize(("status", "every"), [
    ("accepted", False), ("picking", False), ("packed", False), ("delivered", False),
    ("rejected", True), ("cancelled", True),
    # hostile: never placed on, so nothing to lock for (and no crash on a list)
    (["rejected"], False), ({"a": 1}, False), (None, False), ("REJECTED", False),
    ("x" * 10_000, False)])
def test_only_a_reroute_or_a_write_to_other_stores_locks_them_all(status, every):
    assert hub_link.locks_every_store((status_event(1, "S1", "W-1", status),)) is every


def test_other_stores_events_lock_them_all_as_before():
    def event(kind: str) -> p.Event:
        return p.Event(seq=1, id="x", kind=kind, at=utcnow().isoformat(), data={})

    for kind in ("transfer.requested", "transfer.dispatched", "transfer.withdrawn",
                 "loyalty.erased", "coupon.used", "coupon.released"):
        assert hub_link.locks_every_store((event(kind),)), kind
    for kind in ("stock.moved", "sale.completed", "shift.closed"):
        assert not hub_link.locks_every_store((event(kind),)), kind
    # One rerouting event in a frame of steps forward: the frame takes them all.
    assert hub_link.locks_every_store((status_event(1, "S1", "A", "accepted"),
                                       status_event(2, "S1", "B", "rejected")))


async def next_seqs(hub_db) -> dict[str, int]:
    """Each store's next event seq (setup_stores applied its stock as seq 1)."""
    async with hub_db.read() as s:
        return {sid: acked + 1 for sid, acked in await s.execute(
            select(HubStore.id, HubStore.acked_up))}


async def test_a_step_forward_does_not_wait_for_other_stores_a_reject_does(hub_db, hub_cfg):
    if hub_db.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time: there are no row locks to look at")
    await setup_stores(hub_db, {"S1": 10, "D2": 10, "W3": 10})
    async with hub_db.write() as s:
        await s.execute(update(HubStore).values(epoch=EPOCH))
    near = await placement.take_order(hub_db, hub_cfg, incoming("N-1", qty=1))
    other = await placement.take_order(hub_db, hub_cfg, incoming("N-2", qty=1))
    store = near.order.store_id
    assert store in ("S1", "D2") and other.order.store_id is not None
    held, release = asyncio.Event(), asyncio.Event()

    async def a_placement_in_whitefield() -> None:
        async with hub_db.write() as s:  # holds W3's row, as a placement there would
            await s.execute(select(HubStore.id).where(HubStore.id == "W3").with_for_update())
            held.set()
            await release.wait()

    seqs = await next_seqs(hub_db)
    holder = asyncio.create_task(a_placement_in_whitefield())
    await held.wait()
    try:
        seq = seqs[store]
        reply, _wake = await asyncio.wait_for(hub_link.apply_frame(
            hub_db, hub_cfg, store, EPOCH,
            p.Events(events=(status_event(seq, store, "N-1", "accepted"),))), 10)
        assert reply == p.Ack(upto=seq)  # applied while W3's row was held
        seqs[store] += 1
        sid = other.order.store_id
        rejecting = asyncio.create_task(hub_link.apply_frame(
            hub_db, hub_cfg, sid, EPOCH,
            p.Events(events=(status_event(seqs[sid], sid, "N-2", "rejected"),))))
        await asyncio.sleep(0.5)
        assert not rejecting.done()  # a re-route takes every store row: W3's is held
    finally:
        release.set()
        await holder
    reply, _wake = await asyncio.wait_for(rejecting, 10)
    assert reply == p.Ack(upto=seqs[sid])
    async with hub_db.read() as s:
        accepted = await s.get(HubOrder, near.order.id)
        moved = await s.get(HubOrder, other.order.id)
    assert accepted.status == "accepted"
    assert other.order.store_id in moved.tried.split(",") and moved.hops >= 1


async def test_far_apart_steps_and_placements_at_once_do_not_deadlock(hub_db, hub_cfg):
    """Steps forward lock a store row then an order row; placements lock store rows
    then write orders; a reject locks every store row: all at once, nothing fails."""
    await setup_stores(hub_db, {"S1": 60, "D2": 60, "W3": 60})
    async with hub_db.write() as s:
        await s.execute(update(HubStore).values(epoch=EPOCH))
    placed = [await placement.take_order(hub_db, hub_cfg, incoming(
        f"P-{i}", qty=1, at=WHITEFIELD if i % 2 else (12.9719, 77.6412),
        pincode="560066" if i % 2 else "560038")) for i in range(12)]
    placed = [x for x in placed if x.order.store_id]
    seqs = await next_seqs(hub_db)
    locks: dict[str, asyncio.Lock] = {}

    async def says(order, status: str) -> None:
        sid = order.store_id
        async with locks.setdefault(sid, asyncio.Lock()):  # a link applies frames in order
            seq = seqs[sid]
            seqs[sid] += 1
            reply, _wake = await hub_link.apply_frame(hub_db, hub_cfg, sid, EPOCH, p.Events(
                events=(status_event(seq, sid, order.external_id, status),)))
            assert reply == p.Ack(upto=seq)

    jobs = [says(x.order, "rejected" if i % 4 == 0 else "accepted")
            for i, x in enumerate(placed)]
    jobs += [placement.take_order(hub_db, hub_cfg, incoming(
        f"Q-{i}", qty=1, at=WHITEFIELD if i % 2 else (12.9719, 77.6412),
        pincode="560066" if i % 2 else "560038")) for i in range(8)]
    results = await asyncio.gather(*jobs, return_exceptions=True)
    assert [r for r in results if isinstance(r, Exception)] == []
    async with hub_db.read() as s:
        statuses = [o.status for o in await s.scalars(
            select(HubOrder).where(HubOrder.external_id.like("P-%")))]
    assert statuses.count("accepted") == len([i for i in range(len(placed)) if i % 4])
