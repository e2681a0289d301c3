"""A write cancelled while it waits for SQLite's writer lock must not leak the lock."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

from sqlalchemy import text

from app.core.db import Database


async def test_cancelled_write_waiting_for_the_lock_lets_it_go(tmp_path):
    path = tmp_path / "t.db"
    db = Database(path)
    async with db.write() as s:
        await s.execute(text("CREATE TABLE t (v INTEGER)"))
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process is writing (a CLI import, say)

    async def write(v: int) -> None:
        async with db.write() as s:
            await s.execute(text("INSERT INTO t VALUES (:v)"), {"v": v})

    waiting = asyncio.create_task(write(1))
    await asyncio.sleep(0.2)
    waiting.cancel()
    other.execute("COMMIT")  # the other writer finishes; the cancelled BEGIN gets the lock
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    await asyncio.wait_for(write(2), timeout=5)  # would fail "database is locked" before
    other.execute("BEGIN IMMEDIATE")  # and other processes can write again too
    other.execute("INSERT INTO t VALUES (3)")
    other.execute("COMMIT")
    assert [v for (v,) in other.execute("SELECT v FROM t ORDER BY v")] == [2, 3]
    other.close()
    await db.dispose()
