"""The hub's PostgreSQL pool spends no round trips it does not need (issue #15): no ping
before each checkout, no BEGIN/ROLLBACK around reads. What the ping was for, a
connection PostgreSQL dropped, must still cost no order."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy import text as text_

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


# --- lock, then read: one round trip (routing_inputs, migration h023) -------------------


def _statements(monkeypatch) -> list[str]:
    """Every statement asyncpg is asked to run from now on, in order."""
    from asyncpg import connection

    sent: list[str] = []
    for name in ("_execute", "execute", "_executemany"):
        real = getattr(connection.Connection, name)

        def spy(self, query, *args, _real=real, **kwargs):
            sent.append(" ".join(str(query).split())[:120])
            return _real(self, query, *args, **kwargs)

        monkeypatch.setattr(connection.Connection, name, spy)
    return sent


async def test_the_migrated_database_has_the_function_the_code_calls(pg_hub):
    """Its name is a hash of the code's text: a change to the read needs a migration
    that creates the new one (h023 made the first)."""
    from app.hub import routing_inputs

    body = routing_inputs.CREATE_LOCKED_READ.split("$kirana$")[1]
    async with pg_hub.read() as s:
        found = (await s.execute(text_("SELECT prosrc FROM pg_proc WHERE proname = :n"),
                                 {"n": routing_inputs.LOCKED_READ})).scalars().all()
    assert found == [body], (f"no {routing_inputs.LOCKED_READ} in a migrated database: "
                             "write a hub migration that creates it (see h023)")


async def test_an_assigned_order_costs_six_statements(pg_hub, hub_cfg, monkeypatch):
    """BEGIN, the unlocked read, lock-and-read the chosen store, the order with its
    lines, log and number, the store's event (which also wakes its link), COMMIT."""
    await setup_stores(pg_hub, {"S1": 10})
    await placement.take_order(pg_hub, hub_cfg, incoming("W-1"))  # (function looked up)
    sent = _statements(monkeypatch)
    placed = await placement.take_order(pg_hub, hub_cfg, incoming("W-2"))
    assert (placed.order.status, placed.order.store_id) == ("assigned", "S1")
    assert len(sent) == 6, sent
    assert not any(s.startswith("SELECT id FROM hub_stores") for s in sent), sent
    assert sum("pg_notify" in s for s in sent) == 1, sent  # in the event's statement


async def test_the_locked_read_sees_a_promise_committed_while_it_waited(pg_hub, hub_cfg,
                                                                        monkeypatch):
    """The read inside the function runs after the lock with a snapshot of its own: an
    order that held the store's last units while this one waited is seen, so the units
    are not promised twice (a single statement, lock and read together, would miss it)."""
    await setup_stores(pg_hub, {"S1": 2})
    real, holding, release = placement._written_at_once, asyncio.Event(), asyncio.Event()

    async def write_then_wait(s, raw, order, lines):
        number = await real(s, raw, order, lines)
        if order.external_id == "FIRST":  # S1's row is locked by this transaction now
            holding.set()
            await release.wait()
        return number

    monkeypatch.setattr(placement, "_written_at_once", write_then_wait)
    first = asyncio.create_task(placement.take_order(pg_hub, hub_cfg, incoming("FIRST")))
    await asyncio.wait_for(holding.wait(), 10)
    second = asyncio.create_task(placement.take_order(pg_hub, hub_cfg, incoming("SECOND")))
    await asyncio.sleep(0.5)  # it read S1 as free (FIRST is not committed) and waits
    assert not second.done()
    release.set()
    one, two = await asyncio.wait_for(asyncio.gather(first, second), 20)
    assert (one.order.status, one.order.store_id) == ("assigned", "S1")
    assert two.order.store_id != "S1", "S1's 2 units were promised twice"


async def test_a_database_without_the_function_still_places_orders(pg_hub, hub_cfg):
    """A hub on a database restored from before h023 (this process had seen the
    function): the try that finds it missing runs again in two statements, once."""
    from app.hub import routing_inputs

    await setup_stores(pg_hub, {"S1": 10})
    await placement.take_order(pg_hub, hub_cfg, incoming("W-1"))
    key = routing_inputs._database_key(pg_hub.engine.url)
    assert routing_inputs._HAS_FUNCTION[key][0] is True
    async with pg_hub.write() as s:
        await s.execute(text_(f"DROP FUNCTION {routing_inputs.LOCKED_READ}"))
    placed = await placement.take_order(pg_hub, hub_cfg, incoming("W-2"))
    assert (placed.order.status, placed.order.store_id) == ("assigned", "S1")
    assert routing_inputs._HAS_FUNCTION[key][0] is False
    again = await placement.take_order(pg_hub, hub_cfg, incoming("W-3"))
    assert again.order.store_id == "S1"
    async with pg_hub.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubOrder)) == 3


async def test_a_placed_order_wakes_its_store_link_through_the_commit(pg_hub, hub_cfg):
    """The store's event statement NOTIFYs its link's topic: every hub process's LISTEN
    hears it at COMMIT, and the process that placed it sends no NOTIFY of its own."""
    from app.hub.wake import PgWaker, down_topic

    await setup_stores(pg_hub, {"S1": 10})
    waker = PgWaker(pg_hub.url)
    await waker.start()
    sent_after: list[tuple] = []
    try:
        for _ in range(100):
            if waker.hears_commits():
                break
            await asyncio.sleep(0.05)
        assert waker.hears_commits()
        woken = waker.subscribe(down_topic("S1"))
        real_wake = waker.wake

        async def counted(*topics):
            sent_after.append(topics)
            await real_wake(*topics)

        waker.wake = counted  # type: ignore[method-assign]
        pg_hub.waker = waker
        placed = await placement.take_order(pg_hub, hub_cfg, incoming("W-1"))
        assert placed.order.store_id == "S1"
        await asyncio.wait_for(woken.wait(), 5)
        assert sent_after == []
    finally:
        pg_hub.waker = None
        await waker.stop()


def test_the_migration_creates_exactly_the_function_the_code_calls():
    """Without PostgreSQL too: h023's text is the code's (a change to the read, or to the
    order states it names, needs a new migration; the hub would otherwise take the two
    statement path, with a warning, for ever)."""
    import importlib.util

    from app.core import migrate
    from app.hub import routing_inputs

    newest = None
    for path in sorted(migrate.HUB_MIGRATIONS_DIR.glob("versions/h*.py")):
        if routing_inputs.LOCKED_READ in path.read_text(encoding="utf-8"):
            newest = path
    assert newest is not None, f"no hub migration creates {routing_inputs.LOCKED_READ}"
    spec = importlib.util.spec_from_file_location("locked_read_migration", newest)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.CREATE.strip() == routing_inputs.CREATE_LOCKED_READ


async def test_a_role_that_may_not_execute_the_function_still_places_orders(pg_hub, hub_cfg):
    """A hub role without EXECUTE on it (default privileges revoked from PUBLIC): the
    look-up says no and placements lock and read in two statements; a privilege revoked
    after the look-up costs one try of one order, not every order."""
    import secrets
    import time

    from app.hub import routing_inputs
    from app.hub.db import open_hub_database

    await setup_stores(pg_hub, {"S1": 10})
    role = f"kirana_noexec_{secrets.token_hex(4)}"
    dbname = pg_hub.url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(pg.server_dsn(dbname))
    try:
        await admin.execute(f'CREATE ROLE "{role}" LOGIN')
        await admin.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"')
        await admin.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
        await admin.execute(f"REVOKE EXECUTE ON FUNCTION {routing_inputs.LOCKED_READ} "
                            "FROM PUBLIC")
        url = f"postgresql+asyncpg://{role}@{pg_hub.url.split('@', 1)[1]}"
        limited = open_hub_database(url)
        key = routing_inputs._database_key(limited.engine.url)
        try:
            routing_inputs._HAS_FUNCTION.pop(key, None)
            first = await placement.take_order(limited, hub_cfg, incoming("W-1"))
            assert first.order.store_id == "S1"
            assert routing_inputs._HAS_FUNCTION[key][0] is False
            # Looked up as callable, then revoked: that order's try falls back, once.
            routing_inputs._HAS_FUNCTION[key] = (True, time.monotonic())
            second = await placement.take_order(limited, hub_cfg, incoming("W-2"))
            assert second.order.store_id == "S1"
            assert routing_inputs._HAS_FUNCTION[key][0] is False
        finally:
            routing_inputs._HAS_FUNCTION.pop(key, None)
            await limited.dispose()
    finally:
        await admin.execute(f'DROP OWNED BY "{role}"')
        await admin.close()
        admin2 = await asyncpg.connect(pg.ADMIN_DSN)
        try:
            await admin2.execute(f'DROP ROLE IF EXISTS "{role}"')
        finally:
            await admin2.close()


async def test_a_full_notification_queue_does_not_stop_intake(pg_hub, hub_cfg, monkeypatch):
    """PostgreSQL fails the COMMIT of a transaction that NOTIFYs when its queue is full
    (a LISTENing session stopped reading): the order's transaction runs again without
    the in-transaction NOTIFY (for a while), and is placed once."""
    from app.hub import db as hub_db_module
    from app.hub import wake

    await setup_stores(pg_hub, {"S1": 10})
    real_step, failed = hub_db_module._driver_step, []

    async def full_queue_once(step, sql):
        if sql == "COMMIT" and not failed:
            failed.append(sql)
            step.close()  # (never sent)
            raise hub_db_module._as_sqlalchemy(
                asyncpg.exceptions.ProgramLimitExceededError(
                    "too many notifications in the NOTIFY queue"), sql, None)
        return await real_step(step, sql)

    monkeypatch.setattr(hub_db_module, "_driver_step", full_queue_once)
    monkeypatch.setattr(wake, "_QUIET_UNTIL", [0.0])
    sent = _statements(monkeypatch)
    placed = await placement.take_order(pg_hub, hub_cfg, incoming("W-1"))
    assert failed and (placed.order.status, placed.order.store_id) == ("assigned", "S1")
    assert not wake.notify_in_commits()
    retried = sent[len(sent) - 1 - sent[::-1].index("BEGIN;"):]  # the last try
    assert any("hub_outbox" in statement for statement in retried), retried
    assert not any("pg_notify" in statement for statement in retried), retried
    async with pg_hub.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubOrder)) == 1
    wake._QUIET_UNTIL[0] = 0.0
    assert wake.notify_in_commits()


async def test_any_hub_write_that_meets_a_full_queue_turns_the_notify_off(pg_hub,
                                                                         monkeypatch):
    """Not only intake: a store's frame or a catalogue edit whose COMMIT is refused for a
    full queue fails (its sender sends it again), and the writes after it go without
    the in-transaction NOTIFY."""
    from app.hub import db as hub_db_module
    from app.hub import service as hub
    from app.hub import wake
    from app.hub.events import HubUnitOfWork

    await setup_stores(pg_hub, {"S1": 10})
    monkeypatch.setattr(wake, "_QUIET_UNTIL", [0.0])
    real_commit = HubUnitOfWork.commit

    async def refused(self, s):
        await real_commit(self, s)
        raise hub_db_module._as_sqlalchemy(asyncpg.exceptions.ProgramLimitExceededError(
            "too many notifications in the NOTIFY queue"), "COMMIT", None)

    monkeypatch.setattr(HubUnitOfWork, "commit", refused)
    with pytest.raises(Exception, match="notifications"):
        async with pg_hub.write() as s:
            await hub.enqueue(s, ["S1"], [("order.cancelled", {"channel": "web",
                                                              "external_id": "W-1"})])
    assert not wake.notify_in_commits()
    monkeypatch.setattr(HubUnitOfWork, "commit", real_commit)
    sent = _statements(monkeypatch)
    async with pg_hub.write() as s:
        await hub.enqueue(s, ["S1"], [("order.cancelled", {"channel": "web",
                                                          "external_id": "W-2"})])
    assert any("hub_outbox" in q for q in sent) and not any("pg_notify" in q for q in sent)
    wake._QUIET_UNTIL[0] = 0.0
