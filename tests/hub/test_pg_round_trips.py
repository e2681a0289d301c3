"""The hub's PostgreSQL pool spends no round trips it does not need (issue #15): no ping
before each checkout, no BEGIN/ROLLBACK around reads. What the ping was for, a
connection PostgreSQL dropped, must still cost no order."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import func, select

from app.hub import placement
from app.hub.models import HubOrder
from tests import pg
from tests.hub.test_routing import incoming, setup_stores


@pytest.fixture
def pg_hub(hub_db):
    if hub_db.dialect != "postgresql":
        pytest.skip("PostgreSQL's pool")
    return hub_db


async def drop_every_connection(hub_db) -> int:
    """What a PostgreSQL restart does to a hub's pooled connections."""
    admin = await asyncpg.connect(pg.ADMIN_DSN)
    try:
        return len(await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 "
            "AND pid <> pg_backend_pid()", hub_db.url.rsplit("/", 1)[1]))
    finally:
        await admin.close()


async def test_an_order_after_postgresql_dropped_the_connections_is_placed_once(pg_hub,
                                                                                  hub_cfg):
    await setup_stores(pg_hub, {"S1": 10})
    await placement.take_order(pg_hub, hub_cfg, incoming("W-1"))  # the pool holds some
    assert await drop_every_connection(pg_hub) >= 1
    placed = await placement.take_order(pg_hub, hub_cfg, incoming("W-2"))
    assert placed.created and placed.order.status == "assigned"
    async with pg_hub.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubOrder)) == 2


async def test_a_connection_caught_between_the_drop_and_its_close_costs_no_order(
        pg_hub, hub_cfg, monkeypatch):
    """The race CI met: asyncpg had read PostgreSQL's FATAL message but not yet the
    socket's end, so BEGIN fails with InternalClientError ("another operation is in
    progress"). That connection is lost, not the order: the pool is thrown away and the
    order placed once on a new connection."""
    from asyncpg.exceptions._base import InternalClientError

    from app.hub import db as hub_db_module

    await setup_stores(pg_hub, {"S1": 10})
    real_begin, calls = hub_db_module._begin, []

    async def begin_once_caught(driver):
        calls.append(driver)
        if len(calls) == 1:
            raise InternalClientError(
                "cannot switch to state 15; another operation (2) is in progress")
        return await real_begin(driver)

    monkeypatch.setattr(hub_db_module, "_begin", begin_once_caught)
    placed = await placement.take_order(pg_hub, hub_cfg, incoming("W-3"))
    assert placed.created and placed.order.status == "assigned"
    assert len(calls) == 2 and calls[0] is not calls[1]  # a new connection the second time
    async with pg_hub.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubOrder)) == 1


async def test_reads_take_no_transaction_and_writes_do(pg_hub):
    async with pg_hub.read() as s:
        await s.execute(select(1))
        assert (await (await s.connection()).get_raw_connection()).dbapi_connection.autocommit
    async with pg_hub.write() as s:
        await s.execute(select(1))
        assert not (await (await s.connection()).get_raw_connection()).dbapi_connection.autocommit
    assert pg_hub.engine.pool._pre_ping is False


async def test_order_numbers_keep_six_digits_and_grow_past_them(hub_db, hub_cfg):
    """The number is made by SQL on PostgreSQL and by Python on SQLite: the same text."""
    from sqlalchemy import text

    await setup_stores(hub_db, {"S1": 10})
    first = (await placement.take_order(hub_db, hub_cfg, incoming("W-1", qty=1))).order
    async with hub_db.write() as s:
        await s.execute(text("UPDATE number_sequences SET last = 999999 "
                             "WHERE name = 'hub_order'"))
    big = (await placement.take_order(hub_db, hub_cfg, incoming("W-2", qty=1))).order
    assert (first.number, big.number) == ("HQ-000001", "HQ-1000000")
    async with hub_db.read() as s:
        assert set(await s.scalars(select(HubOrder.number))) == {"HQ-000001", "HQ-1000000"}


async def test_the_accept_timer_locks_no_store_when_nothing_is_due(pg_hub, hub_cfg):
    """Every hub process runs it every second: with nothing due it must not queue
    behind (or hold up) a placement that holds a store's row."""
    import asyncio

    from app.hub.models import HubStore

    await setup_stores(pg_hub, {"S1": 10})
    await placement.take_order(pg_hub, hub_cfg, incoming("W-1"))  # assigned, not yet due
    held, release = asyncio.Event(), asyncio.Event()

    async def hold_s1() -> None:
        async with pg_hub.write() as s:
            await s.execute(select(HubStore.id).where(HubStore.id == "S1").with_for_update())
            held.set()
            await release.wait()

    holder = asyncio.create_task(hold_s1())
    await held.wait()
    try:
        assert await asyncio.wait_for(placement.expire_assignments(pg_hub, hub_cfg), 5) == ()
    finally:
        release.set()
        await holder


def test_a_driver_error_is_raised_as_sqlalchemy_would_raise_it():
    """Intake's hot statements go through the driver (db.Raw); what callers catch must not
    change: a duplicate is an IntegrityError, a deadlock keeps its sqlstate for
    write_retrying, a dropped connection says so."""
    import sqlite3

    from sqlalchemy.exc import DBAPIError, IntegrityError

    from app.hub.db import _as_sqlalchemy, is_retryable

    dup = _as_sqlalchemy(asyncpg.exceptions.UniqueViolationError("duplicate key"), "INSERT", {})
    assert isinstance(dup, IntegrityError)
    assert isinstance(_as_sqlalchemy(sqlite3.IntegrityError("UNIQUE"), "INSERT", {}),
                      IntegrityError)
    deadlock = _as_sqlalchemy(asyncpg.exceptions.DeadlockDetectedError("deadlock"), "SELECT", {})
    assert isinstance(deadlock, DBAPIError) and is_retryable(deadlock)
    lost = _as_sqlalchemy(asyncpg.exceptions.ConnectionDoesNotExistError("gone"), "SELECT", {})
    assert isinstance(lost, DBAPIError) and lost.connection_invalidated
    caught = _as_sqlalchemy(asyncpg.exceptions._base.InternalClientError(
        "cannot switch to state 15; another operation (2) is in progress"), "BEGIN", None)
    assert isinstance(caught, DBAPIError) and caught.connection_invalidated
    assert not _as_sqlalchemy(asyncpg.exceptions.UndefinedColumnError("x"), "SELECT", {}
                              ).connection_invalidated


async def test_an_intake_that_fails_leaves_no_row_and_no_open_transaction(pg_hub, hub_cfg):
    """Intake's transaction is asyncpg's own (db.driver_write): a refused order rolls it
    back, and the connection goes back to the pool ready for the next order."""
    import dataclasses

    from app.orders.service import LineIn, OrderError

    await setup_stores(pg_hub, {"S1": 10})
    bad = dataclasses.replace(incoming("BAD-1"), lines=(LineIn("NO-SUCH", 1),))
    for _ in range(3):
        with pytest.raises(OrderError, match="NO-SUCH"):
            await placement.take_order(pg_hub, hub_cfg, bad)
    admin = await asyncpg.connect(pg.ADMIN_DSN)
    try:
        stuck = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 "
            "AND state LIKE 'idle in transaction%'", pg_hub.url.rsplit("/", 1)[1])
    finally:
        await admin.close()
    assert stuck == 0
    placed = await placement.take_order(pg_hub, hub_cfg, incoming("W-1"))
    assert placed.created and placed.order.number == "HQ-000001"
    async with pg_hub.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubOrder)) == 1
