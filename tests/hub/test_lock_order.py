"""Item 5: the hub's writers that lock store rows, all at once, through their real code
paths (the link heartbeat, a store's ack, a store's frames with and without
order.status, catalogue fan-out, order placement). On PostgreSQL a writer that took
hub_stores rows in another order than id order (the old heartbeat's
`UPDATE hub_stores ... WHERE id IN (...)` went in physical order) deadlocks with the
fan-out; here none may fail and none may even need a retry."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.core.clock import utcnow
from app.core.ids import uuid7
from app.hub import catalog_log, order_reads, placement
from app.hub import service as hub
from app.hub.models import HubOutbox, HubStore, HubStoreLink
from app.orders.service import LineIn, OrderIn
from app.sync import hub_link
from app.sync import protocol as p
from tests.hub.test_hub_service import edit, go_online

EPOCH = "e" * 16
STORES = [f"S{i:02d}" for i in range(1, 25)]
AT = (12.9719, 77.6412)


class Held:
    """A link this process holds, as the heartbeat sees it."""

    def __init__(self, row: HubStoreLink) -> None:
        self.row = row


def frame(store_id: str, seq: int, kind: str = "stock.moved") -> p.Events:
    data = ({"sku": "RICE", "delta": 5, "bin": "A-1", "reason": "receive"}
            if kind == "stock.moved" else
            {"order_id": f"o-{store_id}-{seq}", "number": f"{store_id}-{seq}",
             "channel": "own", "external_id": f"{store_id}-{seq}", "status": "accepted",
             "lines": []})
    return p.Events(events=(p.Event(seq=seq, id=f"{store_id}-{seq}-{uuid7()}", kind=kind,
                                    at=utcnow().isoformat(), data=data),))


def order(ext: str) -> OrderIn:
    return OrderIn(channel="webshop", external_id=ext, customer_name="Kavya R",
                   customer_phone="9800000000", address="4th Cross", pincode="560038",
                   promised_by=utcnow() + timedelta(minutes=30), lines=(LineIn("RICE", 1),),
                   lat=AT[0], lon=AT[1])


async def test_heartbeat_acks_frames_fanout_and_placements_at_once_never_deadlock(
        hub_db, hub_cfg, caplog):
    caplog.set_level(logging.WARNING, logger="kirana")
    await hub.save_product(hub_db, edit("RICE"))
    await hub.save_product(hub_db, edit("DAL"))
    for sid in STORES:
        await hub.add_store(hub_db, sid, name=f"Store {sid}", kind="darkstore", lat=AT[0],
                            lon=AT[1], pincodes="560038")
    async with hub_db.write() as s:
        await s.execute(update(HubStore).values(epoch=EPOCH, pickers=50))
    await go_online(hub_db, STORES)
    async with hub_db.read() as s:
        rows = list(await s.scalars(select(HubStoreLink)))
    beats = hub_link.LinkRegistry(hub_db, hub_cfg)
    for row in rows:  # this process's links, as HubLink registers itself
        beats.add(Held(row))

    seq: dict[str, int] = defaultdict(int)
    # Rewrite the rows from the last id to the first, so PostgreSQL's physical order is
    # the reverse of id order (what an unordered multi-row UPDATE would lock by).
    for sid in reversed(STORES):
        seq[sid] += 1
        await hub_link.apply_frame(hub_db, hub_cfg, sid, EPOCH, frame(sid, seq[sid]))

    async def link(sid: str, kinds: list[str]) -> None:
        """One store's link: its frames in order, an ack after each (HubLink does the same
        through these functions)."""
        for kind in kinds:
            seq[sid] += 1
            reply, _wake = await hub_link.apply_frame(hub_db, hub_cfg, sid, EPOCH,
                                                      frame(sid, seq[sid], kind))
            assert reply == p.Ack(upto=seq[sid])
            async with hub_db.read() as s:
                made = await s.scalar(select(HubStore.down_seq).where(HubStore.id == sid))
            await hub_link.store_ack(hub_db, sid, made)

    async def heartbeat(times: int) -> None:
        for _ in range(times):
            await beats.beat()
            await asyncio.sleep(0)

    for round_ in range(3):
        jobs = [link(sid, ["stock.moved", "order.status", "stock.moved"] if i % 3 == 0
                     else ["stock.moved", "stock.moved"])
                for i, sid in enumerate(STORES)]
        jobs += [heartbeat(6), heartbeat(6)]
        jobs += [hub.set_price(hub_db, "DAL", 1000 + round_ * 10 + i) for i in range(4)]
        # The shared catalogue log (issue #24): v3 links' acks saved for all at once, and
        # older stores' links copying the log into their streams.
        jobs += [catalog_log.save_acks(hub_db, {sid: round_ + 1 for sid in STORES})]
        jobs += [catalog_log.copy_to_stream(hub_db, sid, 10**6) for sid in STORES[::5]]
        jobs += [placement.take_order(hub_db, hub_cfg, order(f"W-{round_}-{i}"))
                 for i in range(4)]
        results = await asyncio.gather(*jobs, return_exceptions=True)
        assert [r for r in results if isinstance(r, BaseException)] == []

    retried = [r.getMessage() for r in caplog.records if "aborted" in r.getMessage()]
    assert retried == []  # one lock order: not even a retried deadlock
    async with hub_db.read() as s:
        cursors = dict((await s.execute(select(HubStore.id, HubStore.acked_up))).all())
        made = dict((await s.execute(select(HubStore.id, HubStore.down_seq))).all())
        outbox = dict((await s.execute(select(HubOutbox.store_id, func.count())
                                       .group_by(HubOutbox.store_id))).all())
        seen = list(await s.scalars(select(HubStoreLink.last_seen_at)))
    assert cursors == dict(seq)
    # hub -> store seqs consecutive per store: 1..down_seq (none made: no rows)
    assert {sid: n for sid, n in made.items() if n} == outbox
    assert all(utcnow() - at < timedelta(seconds=30) for at in seen)


async def test_a_transaction_that_hits_a_deadlock_is_run_again(hub_db):
    """Two writers that lock two store rows in opposite orders (what the hub itself no
    longer does): PostgreSQL aborts one with 40P01 and `write_retrying` runs it again,
    so both commit. On SQLite's single writer the two simply run one after the other."""
    from app.hub.db import write_retrying

    for sid in ("A1", "B2"):
        await hub.add_store(hub_db, sid, name=sid, kind="counter", lat=AT[0], lon=AT[1])
    locked = {"A1": asyncio.Event(), "B2": asyncio.Event()}
    runs: dict[str, int] = defaultdict(int)

    def writer(first: str, second: str):
        async def body(s) -> None:
            runs[first] += 1
            await s.execute(update(HubStore).where(HubStore.id == first)
                            .values(priority=HubStore.priority + 1))
            locked[first].set()
            await asyncio.wait_for(locked[second].wait(), 10)
            await s.execute(update(HubStore).where(HubStore.id == second)
                            .values(priority=HubStore.priority + 1))
        return body

    if hub_db.dialect != "postgresql":
        locked["A1"].set(), locked["B2"].set()
    await asyncio.gather(write_retrying(hub_db, writer("A1", "B2")),
                         write_retrying(hub_db, writer("B2", "A1")))
    async with hub_db.read() as s:
        assert set(await s.scalars(select(HubStore.priority))) == {2}
    if hub_db.dialect == "postgresql":
        assert sorted(runs.values()) == [1, 2]  # the deadlock's victim ran twice


async def test_other_errors_and_a_lasting_deadlock_are_not_retried_forever(hub_db):
    from sqlalchemy.exc import DBAPIError

    from app.hub.db import WRITE_ATTEMPTS, write_retrying

    class Orig(Exception):
        def __init__(self, sqlstate: str) -> None:
            super().__init__(sqlstate)
            self.sqlstate = sqlstate

    calls: list[str] = []

    def failing(sqlstate: str):
        async def body(s) -> None:
            calls.append(sqlstate)
            raise DBAPIError("UPDATE hub_stores ...", {}, Orig(sqlstate))
        return body

    with pytest.raises(DBAPIError):
        await write_retrying(hub_db, failing("23505"))  # unique violation: a real error
    assert calls == ["23505"]
    calls.clear()
    with pytest.raises(DBAPIError):
        await write_retrying(hub_db, failing("40001"))
    assert calls == ["40001"] * WRITE_ATTEMPTS


async def test_timers_and_operators_writes_are_run_again_after_a_deadlock(hub_db, hub_cfg,
                                                                            monkeypatch):
    """The accept timeout, a manual assign, a cancel and a delivery each lock order (and
    store) rows; PostgreSQL may pick any of them as a deadlock's victim. Each is re-run
    whole: here every one is aborted once with 40P01 at its commit and must still do its
    work exactly once (one order.cancelled per move, one log line)."""
    from sqlalchemy.exc import DBAPIError

    from app.hub.events import HubUnitOfWork
    from tests.hub.test_routing import incoming, sent_to, setup_stores

    class Orig(Exception):
        sqlstate = "40P01"

    real_commit = HubUnitOfWork.commit
    aborted: list[str] = []

    async def commit_once_aborted(self, s) -> None:
        await real_commit(self, s)
        name = asyncio.current_task().get_name()
        if name in ("expire", "assign", "cancel", "deliver") and name not in aborted:
            aborted.append(name)
            raise DBAPIError("UPDATE hub_orders ...", {}, Orig("deadlock detected"))

    await setup_stores(hub_db, {"S1": 10, "D2": 10, "W3": 10})
    order = (await placement.take_order(hub_db, hub_cfg, incoming("W-9"))).order
    other = (await placement.take_order(hub_db, hub_cfg, incoming("W-10"))).order
    first = order.store_id
    monkeypatch.setattr(HubUnitOfWork, "commit", commit_once_aborted)

    async def run(name: str, coro) -> object:
        return await asyncio.create_task(coro, name=name)

    async with hub_db.write() as s:
        await s.execute(update(placement.HubOrder).where(placement.HubOrder.id == order.id)
                        .values(assigned_at=utcnow() - timedelta(hours=1)))
    await run("expire", placement.expire_assignments(hub_db, hub_cfg))
    second = (await order_reads.get_order(hub_db, order.id)).order.store_id
    assert second not in (first, None)
    assert len(await sent_to(hub_db, first, "order.cancelled")) == 1
    third = next(s for s in ("S1", "D2", "W3") if s not in (first, second))
    await run("assign", placement.assign_by_hand(hub_db, hub_cfg, order.id, third, "Priya"))
    assert len(await sent_to(hub_db, second, "order.cancelled")) == 1
    await run("cancel", placement.cancel(hub_db, order.id, "customer called", "Priya"))
    page = await order_reads.get_order(hub_db, order.id)
    assert page.order.status == "cancelled"
    assert len(await sent_to(hub_db, third, "order.cancelled")) == 1
    assert sum("Cancelled by Priya" in e.text for e in page.log) == 1

    async with hub_db.write() as s:
        await s.execute(update(placement.HubOrder).where(placement.HubOrder.id == other.id)
                        .values(status="handed_over"))
    await run("deliver", placement.mark_delivered(hub_db, other.id, "api:courier"))
    assert (await order_reads.get_order(hub_db, other.id)).order.status == "delivered"
    assert aborted == ["expire", "assign", "cancel", "deliver"]
