"""Wake-ups between hub processes: "store S1 has new events to send".

A wake-up only saves time; the senders also poll (cursors make a lost one harmless).
On PostgreSQL every hub process LISTENs on one channel and a NOTIFY reaches all of
them, whichever process wrote the change. On SQLite (one hub process) the wake-up
stays in the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("kirana.hub")
CHANNEL = "kirana_hub"
# users or api_keys changed (a trigger, migration h019): rows kept by core.auth are stale
AUTH_CHANNEL = "kirana_auth"


# PostgreSQL fails a transaction that NOTIFYs at its COMMIT when the notification queue is
# full (a LISTENing session stopped reading for very long). The store-event statement
# NOTIFYs inside the transaction (service._BUMP_AND_WRITE_PG), so a full queue would stop
# intake: db.write_retrying then runs the transaction again without it for a while (its
# wake-ups are sent after the COMMIT as before, and may fail harmlessly: links also poll).
_QUIET_UNTIL = [0.0]
QUIET_SECONDS = 60.0


def notify_in_commits() -> bool:
    """Whether statements may NOTIFY inside their transaction now."""
    import time

    return time.monotonic() >= _QUIET_UNTIL[0]


def quiet_commits(seconds: float = QUIET_SECONDS) -> None:
    import time

    _QUIET_UNTIL[0] = time.monotonic() + seconds


# Every link listens on this too: the shared catalogue log grew (catalog_log.py).
CATALOG_TOPIC = "catalog"


def down_topic(store_id: str) -> str:
    """The topic a store's link listens on for new hub -> store events."""
    return f"down:{store_id}"


class Waker:
    def __init__(self) -> None:
        self._events: dict[str, set[asyncio.Event]] = defaultdict(set)

    def subscribe(self, topic: str, event: asyncio.Event | None = None) -> asyncio.Event:
        """The event set when `topic` (or "*") is woken; pass one to share it between
        topics."""
        event = event if event is not None else asyncio.Event()
        self._events[topic].add(event)
        return event

    def unsubscribe(self, topic: str, event: asyncio.Event) -> None:
        self._events[topic].discard(event)
        if not self._events[topic]:
            del self._events[topic]

    def _deliver(self, topic: str) -> None:
        """Wake the subscribers of `topic` and of "*"; topic "*" wakes everyone."""
        if topic == "*":
            for events in self._events.values():
                for event in events:
                    event.set()
            return
        for event in self._events.get(topic, ()):
            event.set()
        for event in self._events.get("*", ()):
            event.set()

    async def wake(self, *topics: str) -> None:
        for topic in topics:
            self._deliver(topic)

    async def wake_stores(self, store_ids: Iterable[str]) -> None:
        """The links of these stores have new hub -> store events to send."""
        topics = sorted({down_topic(s) for s in store_ids})
        if topics:
            await self.wake(*topics)

    async def wake_all_stores(self) -> None:
        await self.wake("*")

    async def wake_catalog(self) -> None:
        """Every link of every hub process: the catalogue log has new entries."""
        await self.wake(CATALOG_TOPIC)

    def hears_commits(self) -> bool:
        """Whether a NOTIFY on CHANNEL in a committed transaction reaches this waker's
        subscribers (PostgreSQL, while LISTENing): then nothing need be sent after it."""
        return False

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


class PgWaker(Waker):
    """LISTEN/NOTIFY on a dedicated asyncpg connection, reconnecting if it drops."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._conn: Any = None  # an asyncpg.Connection (asyncpg ships no types)
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()  # one query at a time on the shared connection
        # Changes to users/api_keys heard so far, and whether this process is LISTENing
        # now (if not, auth_version is None and nothing may be kept: a change could go
        # unheard).
        self._auth_changes = 0
        self._hearing_auth = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="hub-listen")

    async def _listen(self) -> None:
        import asyncpg

        while True:
            try:
                self._conn = await asyncpg.connect(self.dsn)
                await self._conn.add_listener(
                    CHANNEL, lambda _c, _pid, _ch, payload: self._deliver(payload))
                await self._conn.add_listener(AUTH_CHANNEL, self._auth_changed)
                # Anything missed while (re)connecting: wake every sender once, and forget
                # every kept user and key row.
                self._deliver("*")
                self._auth_changes += 1
                self._hearing_auth = True
                lost = asyncio.Event()
                self._conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("hub LISTEN connection lost: %s; retrying", exc)
            finally:
                self._hearing_auth = False
            await asyncio.sleep(1)

    def _auth_changed(self, *_args: object) -> None:
        self._auth_changes += 1

    def auth_version(self) -> int | None:
        """A number that changes whenever users or api_keys change in the database, by
        any writer; None while this process is not LISTENing (nothing may be kept)."""
        conn = self._conn
        if not self._hearing_auth or conn is None or conn.is_closed():
            return None
        return self._auth_changes

    def hears_commits(self) -> bool:
        conn = self._conn
        return self._hearing_auth and conn is not None and not conn.is_closed()

    async def wake(self, *topics: str) -> None:
        conn = self._conn
        if conn is None or conn.is_closed():
            for topic in topics:
                self._deliver(topic)
            return
        for topic in topics:
            try:
                async with self._lock:
                    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, topic)
            except Exception:
                self._deliver(topic)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()


async def notify_hub_processes(url: str, topic: str = "*") -> None:
    """From outside a hub process (the CLI): wake every hub process on this PostgreSQL
    database. SQLite hubs find the change at their next poll."""
    if not url.startswith("postgresql"):
        return
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, topic)
    finally:
        await conn.close()
