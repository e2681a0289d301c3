"""Events raised in a hub write transaction are published once, after its commit, and
never for a transaction that rolled back (app/hub/events.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from app.hub import order_reads, placement
from app.hub import service as hub
from app.hub.db import write_retrying
from app.hub.events import StoresHaveNews, raise_event
from app.hub.models import HubOutbox, HubWebhook
from app.hub.order_states import IllegalMove
from app.hub.webhooks import add_channel
from tests.hub.test_routing import incoming, sent_to, setup_stores


class Recorder:
    """A Waker that writes down what it was asked to wake."""

    def __init__(self) -> None:
        self.woken: list[list[str]] = []

    async def wake_stores(self, store_ids) -> None:
        self.woken.append(list(store_ids))

    async def wake_all_stores(self) -> None:
        self.woken.append(["*"])


class Boom(Exception):
    pass


class Deadlock(Exception):
    sqlstate = "40P01"


@pytest.fixture
async def waker(hub_db):
    hub_db.waker = Recorder()
    yield hub_db.waker
    hub_db.waker = None


async def _outbox_rows(hub_db) -> int:
    async with hub_db.read() as s:
        return await s.scalar(select(func.count()).select_from(HubOutbox))


async def test_an_event_of_a_transaction_that_rolls_back_is_never_published(hub_db, waker):
    await hub.add_store(hub_db, "S1", name="Store S1", kind="darkstore", lat=12.97,
                        lon=77.64)
    waker.woken.clear()
    before = await _outbox_rows(hub_db)
    with pytest.raises(Boom):
        async with hub_db.write() as s:
            await hub.enqueue(s, ["S1"], [("order.cancelled", {"channel": "web",
                                                               "external_id": "W-1"})])
            raise Boom
    assert waker.woken == []
    assert await _outbox_rows(hub_db) == before


async def test_an_event_of_a_committed_transaction_is_published_once_after_the_commit(
        hub_db, waker):
    for sid in ("S1", "D2"):
        await hub.add_store(hub_db, sid, name=f"Store {sid}", kind="darkstore", lat=12.97,
                            lon=77.64)
    waker.woken.clear()
    async with hub_db.write() as s:
        await hub.enqueue(s, ["D2", "S1"], [("order.cancelled", {"channel": "web",
                                                                  "external_id": "W-1"})])
        raise_event(s, StoresHaveNews(("S1",)))
        assert waker.woken == []  # not before the commit
    assert waker.woken == [["D2", "S1"]]


async def test_a_retried_attempt_publishes_only_the_attempt_that_committed(hub_db, waker):
    """The first attempt queues for S1 and dies of a deadlock (40P01); the second queues
    for D2 and commits: D2 is woken once, S1 never, and S1 got no event."""
    for sid in ("S1", "D2"):
        await hub.add_store(hub_db, sid, name=f"Store {sid}", kind="darkstore", lat=12.97,
                            lon=77.64)
    waker.woken.clear()
    attempts: list[int] = []

    async def body(s) -> None:
        attempts.append(1)
        first = len(attempts) == 1
        await hub.enqueue(s, ["S1" if first else "D2"], [("order.cancelled", {
            "channel": "web", "external_id": "W-1"})])
        if first:
            raise DBAPIError("UPDATE hub_orders ...", {}, Deadlock("deadlock detected"))

    await write_retrying(hub_db, body)
    assert len(attempts) == 2
    assert waker.woken == [["D2"]]
    assert await sent_to(hub_db, "S1", "order.cancelled") == []
    assert len(await sent_to(hub_db, "D2", "order.cancelled")) == 1


async def test_placing_an_order_wakes_its_store_once_and_queues_its_webhook(hub_db, hub_cfg,
                                                                           waker):
    """Through the real code: no caller flushes anything; the unit of work writes the
    store's order.assigned and the channel's webhook call, and wakes the store."""
    await setup_stores(hub_db, {"S1": 10})
    await add_channel(hub_db, "webshop", "https://shop.example/hook")
    waker.woken.clear()
    placed = await placement.take_order(hub_db, hub_cfg, incoming("W-1"))
    assert placed.order.store_id == "S1"
    assert waker.woken == [["S1"]]
    assert len(await sent_to(hub_db, "S1", "order.assigned")) == 1
    async with hub_db.read() as s:
        hooks = list(await s.scalars(select(HubWebhook)))
    assert [h.order_id for h in hooks] == [placed.order.id]


async def test_news_for_many_stores_is_one_wake_up_for_all(hub_db, waker):
    from app.hub.events import WAKE_ALL_ABOVE

    stores = [f"S{i:02d}" for i in range(WAKE_ALL_ABOVE + 1)]
    for sid in stores:
        await hub.add_store(hub_db, sid, name=sid, kind="counter", lat=12.97, lon=77.64)
    waker.woken.clear()
    async with hub_db.write() as s:
        await hub.enqueue(s, stores, [("order.cancelled", {"channel": "web",
                                                          "external_id": "W-1"})])
    assert waker.woken == [["*"]]
    async with hub_db.write() as s:
        await hub.enqueue(s, stores[:2], [("order.cancelled", {"channel": "web",
                                                              "external_id": "W-2"})])
    assert waker.woken == [["*"], stores[:2]]


async def test_an_event_outside_a_hub_write_is_an_error(hub_db):
    async with hub_db.read() as s:
        with pytest.raises(RuntimeError, match="outside a hub write transaction"):
            raise_event(s, StoresHaveNews(("S1",)))


async def test_an_illegal_move_raises_and_takes_its_events_with_it(hub_db, hub_cfg, waker):
    await setup_stores(hub_db, {"S1": 10})
    order = (await placement.take_order(hub_db, hub_cfg, incoming("W-1"))).order
    waker.woken.clear()
    with pytest.raises(IllegalMove, match="cancelled; nothing more can happen to it"):
        async with hub_db.write() as s:
            row = await s.get(placement.HubOrder, order.id)
            placement._set_status(s, row, "cancelled", "Priya")  # allowed ...
            placement._set_status(s, row, "split", "Priya")  # ... but not from cancelled
    assert waker.woken == []
    assert (await order_reads.get_order(hub_db, order.id)).order.status == "assigned"
