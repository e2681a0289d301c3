"""core/db.Database's transactions on sqlite3 directly (issue #15): write() takes
SQLite's writer lock with BEGIN IMMEDIATE on the loop when it is free and in a worker
thread when another process holds it, makes an ORM Session only when a service uses
the ORM, and keeps connections that ended clean for the next transaction. Each test
here fails when one of those shortcuts loses a guarantee: no SQLITE_BUSY for a writer
that only has to wait, a frozen loop, FULL sync, a rolled-back body, a stale read."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, select, text

from app.core.db import BUSY_TIMEOUT_MS, Database, Tx
from app.core.prepared import Prepared

_T = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("v", Integer))
INSERT = Prepared(_T.insert().values(id=bindparam("id"), v=bindparam("v")))
VALUE = Prepared(select(_T.c.v).where(_T.c.id == bindparam("id")))


@pytest.fixture
async def tdb(tmp_path):
    db = Database(tmp_path / "t.db")
    async with db.write() as s:
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)"))
    yield db
    await db.dispose()


def _other(db: Database) -> sqlite3.Connection:
    """Another process's connection to the same file."""
    return sqlite3.connect(db.path, isolation_level=None, check_same_thread=False)


def _values(db: Database) -> list[int]:
    other = _other(db)
    try:
        return [v for (v,) in other.execute("SELECT v FROM t ORDER BY id")]
    finally:
        other.close()


async def test_a_writer_waits_for_another_process_without_busy_or_a_frozen_loop(tdb):
    """The first BEGIN IMMEDIATE does not wait (busy timeout 0, on the loop); when
    another process holds the lock it is tried again in a worker thread with the full
    busy timeout: the write neither fails with 'database is locked' nor stops the loop."""
    other = _other(tdb)
    other.execute("BEGIN IMMEDIATE")  # a CLI import, say, is writing
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    async def write() -> None:
        async with tdb.write() as s:
            await INSERT.run(s, {"id": 1, "v": 10})

    ticking = asyncio.create_task(ticker())
    waiting = asyncio.create_task(write())
    await asyncio.sleep(0.4)
    assert not waiting.done()  # it waits for the lock, it does not fail
    before = ticks
    await asyncio.sleep(0.2)
    assert ticks > before + 5  # and the loop goes on meanwhile
    other.execute("COMMIT")
    await asyncio.wait_for(waiting, timeout=5)
    ticking.cancel()
    other.close()
    assert _values(tdb) == [10]


async def test_inside_a_write_the_busy_timeout_and_full_sync_hold(tdb):
    """The no-wait BEGIN sets the busy timeout back before the body runs: a statement in
    the transaction still waits as long as it ever did. Commits are synchronous=FULL."""
    for _ in range(2):  # a new connection, then the one kept from the first write
        async with tdb.write() as s:
            assert isinstance(s, Tx)
            raw = s.driver()
            assert raw.in_transaction
            assert raw.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
            assert raw.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_a_failing_body_leaves_nothing_and_the_next_write_starts_clean(tdb):
    with pytest.raises(RuntimeError):
        async with tdb.write() as s:
            await INSERT.run(s, {"id": 1, "v": 1})
            raise RuntimeError("refused")
    async with tdb.write() as s:
        assert await VALUE.first(s, {"id": 1}) is None
        await INSERT.run(s, {"id": 2, "v": 2})
    assert _values(tdb) == [2]
    # The ORM side too: a Session made in the transaction rolls back what sqlite3 did.
    with pytest.raises(RuntimeError):
        async with tdb.write() as s:
            await INSERT.run(s, {"id": 3, "v": 3})
            await s.execute(text("INSERT INTO t VALUES (4, 4)"))
            raise RuntimeError("refused")
    assert _values(tdb) == [2]


async def test_orm_and_prepared_statements_share_one_transaction(tdb):
    async with tdb.write() as s:
        await INSERT.run(s, {"id": 1, "v": 1})
        # the Session, made now, is on the same connection inside the same transaction
        assert (await s.execute(text("SELECT v FROM t WHERE id = 1"))).scalar_one() == 1
        await s.execute(text("INSERT INTO t VALUES (2, 2)"))
        assert (await VALUE.first(s, {"id": 2})).v == 2
        await INSERT.run(s, {"id": 3, "v": 3})
    assert _values(tdb) == [1, 2, 3]


async def test_a_rollback_inside_a_write_then_more_statements(tdb):
    """catalog.service's dry run rolls back inside write(); what runs after that is a
    transaction of its own, committed at the end, as with the ORM session before."""
    async with tdb.write() as s:
        await INSERT.run(s, {"id": 1, "v": 1})
        await s.rollback()
        await INSERT.run(s, {"id": 2, "v": 2})
    assert _values(tdb) == [2]
    async with tdb.write() as s:
        await INSERT.run(s, {"id": 3, "v": 3})
        await s.rollback()
    assert _values(tdb) == [2]


async def test_a_kept_read_connection_holds_no_snapshot(tdb):
    """Read connections are kept for the next read: each read's transaction must end,
    or the next one would see old data and the WAL could never be checkpointed."""
    async with tdb.write() as s:
        await INSERT.run(s, {"id": 1, "v": 1})
    async with tdb.read() as s:
        assert (await VALUE.first(s, {"id": 1})).v == 1
    other = _other(tdb)
    other.execute("UPDATE t SET v = 5 WHERE id = 1")
    busy, _log, _done = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0
    other.close()
    async with tdb.read() as s:
        assert (await VALUE.first(s, {"id": 1})).v == 5
        assert (await s.execute(text("SELECT v FROM t WHERE id = 1"))).scalar_one() == 5


async def test_a_read_outside_a_transaction_sees_the_latest_commit(tdb):
    """The guards' identity read (Prepared.first_outside) keeps its connection for the
    next request too: it must not keep a snapshot with it."""
    async with tdb.write() as s:
        await INSERT.run(s, {"id": 1, "v": 1})
    other = _other(tdb)
    for v in (2, 3):
        assert VALUE.first_outside(tdb.read_engine, {"id": 1}).v == v - 1
        other.execute("UPDATE t SET v = ? WHERE id = 1", (v,))
        assert other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    assert VALUE.first_outside(tdb.read_engine, {"id": 1}).v == 3
    other.close()


async def test_two_writers_at_once_are_serialised(tdb):
    """Writers on the loop queue on its lock; each BEGIN IMMEDIATE finds the lock free
    (no thread), and no update is lost."""
    async with tdb.write() as s:
        await INSERT.run(s, {"id": 1, "v": 0})
    bump = Prepared(_T.update().values(v=_T.c.v + 1).where(_T.c.id == bindparam("id")))

    async def add_one() -> None:
        async with tdb.write() as s:
            v = (await VALUE.first(s, {"id": 1})).v
            await asyncio.sleep(0)  # another writer would interleave here without the lock
            await bump.run(s, {"id": 1})
            assert (await VALUE.first(s, {"id": 1})).v == v + 1

    await asyncio.gather(*(add_one() for _ in range(20)))
    assert _values(tdb) == [20]
