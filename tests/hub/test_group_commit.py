"""Group commit of order intake on a SQLite hub (issue #15, app/hub/db.py
`SqliteHubDatabase.write_grouped`): orders posted at once share one COMMIT (one fsync),
yet each caller hears back only once its order is on disk, a bad order fails alone,
and a COMMIT that fails answers no one."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from app.hub import placement
from app.orders.service import LineIn, OrderError
from tests.hub.test_routing import incoming, setup_stores


@pytest.fixture
def sqlite_hub(hub_db):
    if hub_db.dialect != "sqlite":
        pytest.skip("group commit is SQLite's (PostgreSQL commits transactions in parallel)")
    return hub_db


def on_disk(hub_db, sql: str, *args) -> list[tuple]:
    """What another connection (another process) sees: only committed rows."""
    with sqlite3.connect(hub_db.path) as conn:
        return conn.execute(sql, args).fetchall()


class Waker:
    """Checks, when asked to wake a store, that its order.assigned is committed."""

    def __init__(self, hub_db) -> None:
        self.hub_db = hub_db
        self.woken: list[str] = []
        self.committed_at_wake: list[int] = []

    async def wake_stores(self, store_ids) -> None:
        self.woken += list(store_ids)
        self.committed_at_wake.append(on_disk(
            self.hub_db, "SELECT count(*) FROM hub_outbox WHERE kind = 'order.assigned'")[0][0])

    async def wake_all_stores(self) -> None:
        self.woken.append("*")


def count_commits(hub_db) -> list[int]:
    commits: list[int] = []
    event.listen(hub_db.write_engine, "commit", lambda _conn: commits.append(1))
    return commits


async def test_orders_posted_at_once_share_a_commit_and_are_on_disk_when_answered(
        sqlite_hub, hub_cfg):
    await setup_stores(sqlite_hub, {"S1": 50})
    waker = sqlite_hub.waker = Waker(sqlite_hub)
    commits = count_commits(sqlite_hub)
    seen_when_answered: list[int] = []

    async def post(i: int) -> str:
        order = (await placement.take_order(sqlite_hub, hub_cfg, incoming(f"G-{i}", qty=1))
                 ).order
        seen_when_answered.append(len(on_disk(
            sqlite_hub, "SELECT 1 FROM hub_orders WHERE id = ? AND status = 'assigned'",
            order.id)))
        return order.number

    numbers = await asyncio.gather(*(post(i) for i in range(12)))
    assert seen_when_answered == [1] * 12  # every answer came after its COMMIT
    assert len(commits) <= 2  # one fsync for the lot (it was one each)
    assert sorted(numbers) == [f"HQ-{n:06d}" for n in range(1, 13)]  # gapless
    assert waker.woken == ["S1"] * 12 and min(waker.committed_at_wake) == 12
    assert on_disk(sqlite_hub, "SELECT count(*) FROM hub_order_log")[0][0] == 12 * 3


async def test_a_bad_order_in_a_group_fails_alone(sqlite_hub, hub_cfg):
    await setup_stores(sqlite_hub, {"S1": 50})
    bad = dataclasses.replace(incoming("BAD-1"), lines=(LineIn("NO-SUCH-SKU", 1),))
    results = await asyncio.gather(
        *(placement.take_order(sqlite_hub, hub_cfg, incoming(f"G-{i}", qty=1))
          for i in range(3)),
        placement.take_order(sqlite_hub, hub_cfg, bad),
        *(placement.take_order(sqlite_hub, hub_cfg, incoming(f"H-{i}", qty=1))
          for i in range(3)),
        return_exceptions=True)
    assert isinstance(results[3], OrderError) and "NO-SUCH-SKU" in str(results[3])
    good = [r for i, r in enumerate(results) if i != 3]
    assert all(r.order.status == "assigned" for r in good)
    assert on_disk(sqlite_hub, "SELECT count(*) FROM hub_orders")[0][0] == 6
    assert on_disk(sqlite_hub, "SELECT count(*) FROM hub_orders WHERE external_id = 'BAD-1'"
                   ) == [(0,)]


async def test_a_commit_that_fails_answers_no_one_and_the_next_group_goes_on(
        sqlite_hub, hub_cfg, monkeypatch):
    await setup_stores(sqlite_hub, {"S1": 50})
    waker = sqlite_hub.waker = Waker(sqlite_hub)
    from sqlalchemy import orm

    real_commit = orm.Session.commit
    failures = []

    def commit_fails_once(self) -> None:
        if not failures:
            failures.append(1)
            raise OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O error"))
        real_commit(self)

    monkeypatch.setattr(orm.Session, "commit", commit_fails_once)
    results = await asyncio.gather(*(placement.take_order(
        sqlite_hub, hub_cfg, incoming(f"G-{i}", qty=1)) for i in range(5)),
        return_exceptions=True)
    assert all(isinstance(r, OperationalError) for r in results)
    assert on_disk(sqlite_hub, "SELECT count(*) FROM hub_orders") == [(0,)]
    assert waker.woken == []
    again = await placement.take_order(sqlite_hub, hub_cfg, incoming("G-0", qty=1))
    assert again.created and again.order.number == "HQ-000001"  # the number was not used


async def test_the_same_order_twice_in_one_group_is_one_order(sqlite_hub, hub_cfg):
    await setup_stores(sqlite_hub, {"S1": 50})
    first, second = await asyncio.gather(
        placement.take_order(sqlite_hub, hub_cfg, incoming("DUP-1", qty=1)),
        placement.take_order(sqlite_hub, hub_cfg, incoming("DUP-1", qty=1)))
    assert first.order.id == second.order.id
    assert (first.created, second.created) == (True, False)
    assert on_disk(sqlite_hub, "SELECT count(*) FROM hub_orders") == [(1,)]


async def test_a_caller_that_gives_up_does_not_stop_the_others(sqlite_hub, hub_cfg):
    await setup_stores(sqlite_hub, {"S1": 50})
    tasks = [asyncio.create_task(placement.take_order(
        sqlite_hub, hub_cfg, incoming(f"G-{i}", qty=1))) for i in range(6)]
    await asyncio.sleep(0)  # every one has joined the queue
    tasks[2].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[2], asyncio.CancelledError)
    others = [r for i, r in enumerate(results) if i != 2]
    assert all(r.order.status == "assigned" for r in others)
    ids = {row[0] for row in on_disk(sqlite_hub, "SELECT external_id FROM hub_orders")}
    assert {f"G-{i}" for i in (0, 1, 3, 4, 5)} <= ids  # G-2 may or may not be there


async def test_other_writers_still_get_their_turn(sqlite_hub, hub_cfg):
    """A group holds the writer lock only while it runs: a plain write in between is
    not starved by a stream of orders."""
    from app.hub import service as hub

    await setup_stores(sqlite_hub, {"S1": 500})

    async def stream() -> None:
        for i in range(40):
            await placement.take_order(sqlite_hub, hub_cfg, incoming(f"S-{i}", qty=1))

    async def admin() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await hub.update_store(sqlite_hub, "S1", priority=3)
        return loop.time() - start

    *_, waited = await asyncio.gather(stream(), stream(), stream(), admin())
    assert waited < 5
