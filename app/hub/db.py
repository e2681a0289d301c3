"""The hub's database: the store's SQLite ``Database`` by default, PostgreSQL (asyncpg)
at scale. Both hand out transactions with the same awaitable API (SQLAlchemy's
AsyncSession, or ``Tx`` which mirrors it: both are ``app.core.db.Session``), so hub
services and the shared login and catalogue code run unchanged on either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import insert, orm, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, create_async_engine

from app.config import HubSection
from app.core.db import Database, Session, Tx, UTCDateTime, dialect_name
from app.hub.events import UOW_KEY, HubUnitOfWork, Waker
from app.hub.wake import QUIET_SECONDS, quiet_commits

# At most this long a hub process keeps a user's or API key's row without reading it again
# (core.auth), whatever it heard: the bound if its LISTEN connection silently stops hearing.
AUTH_KEEP_SECONDS = 5
# `write()`s committed by this process, through any PgDatabase (the CLI's, a test's)
_WRITES = [0]
# A write's session carries the install's pepper (core/secret_file.py) under this key:
# what applies store events in it keys hashes that must not be in the database
# (hub/loyalty.py's tombstones), and is handed only the session.
PEPPER_KEY = "kirana_pepper"


class PgDatabase:
    """PostgreSQL through asyncpg. Writers are not serialised in-process: row locks
    (SELECT ... FOR UPDATE, UPDATE ... RETURNING) keep concurrent hub processes apart."""

    dialect = "postgresql"
    pepper: bytes | None = None  # as Database.pepper
    waker: Waker | None = None  # set by create_hub_app: wakes store links after commits

    def __init__(self, url: str, pool: HubSection | None = None) -> None:
        # Hundreds of store links share the pool; each holds a connection only while it
        # applies or reads a frame. The pool is sized by the config (hub.db_pool_size,
        # hub.db_max_overflow) so every hub process together fits max_connections; when
        # all are in use a caller waits (hub.db_pool_timeout_seconds) rather than fails.
        #
        # Round trips are most of a hub's cost on PostgreSQL (issue #15), so: no ping
        # before each checkout (a connection PostgreSQL dropped fails its first statement
        # instead, and `write_retrying` runs that transaction again: it never started),
        # and reads run without BEGIN/ROLLBACK (autocommit; under READ COMMITTED every
        # statement sees its own snapshot either way).
        pool = pool or HubSection()
        self.url = url
        self.engine = create_async_engine(
            url, pool_size=pool.db_pool_size, max_overflow=pool.db_max_overflow,
            pool_timeout=pool.db_pool_timeout_seconds, pool_pre_ping=False)
        self.read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    def data_version(self) -> tuple[int, int, int] | None:
        """What core.auth keeps a user's or API key's row under (issue #15: on SQLite,
        PRAGMA data_version; here every request read its row, a round trip on every
        order). It changes when users or api_keys change anywhere (the NOTIFY of
        migration h019, heard by this process's LISTEN connection, milliseconds after
        the COMMIT), after every `write()` this process commits through any PgDatabase
        (a revoke made here bites at the very next request, before its NOTIFY is heard),
        and every AUTH_KEEP_SECONDS (a LISTEN connection that hangs without closing cannot
        keep a row for long). None, so nothing is kept, while the LISTEN link is down."""
        heard = getattr(self.waker, "auth_version", None)
        version = heard() if heard is not None else None
        if version is None:
            return None
        return version, _WRITES[0], int(time.monotonic() // AUTH_KEEP_SECONDS)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Session]:
        """One transaction with its unit of work (app/hub/events.py): the events raised
        in it are handled before COMMIT and published after; dropped on a rollback."""
        uow = HubUnitOfWork()
        try:
            async with AsyncSession(self.engine, expire_on_commit=False) as session, \
                    session.begin():
                session.info[UOW_KEY] = uow
                session.info[PEPPER_KEY] = self.pepper
                yield session
                await uow.commit(session)
        except DBAPIError as exc:
            if notify_queue_full(exc):  # (the next writes go without in-transaction NOTIFY)
                _notify_queue_was_full()
            raise
        finally:
            _WRITES[0] += 1  # (also when the COMMIT's fate is unknown)
        await uow.publish(self.waker)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Session]:
        async with AsyncSession(self.read_engine, expire_on_commit=False) as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def driver_write(self) -> AsyncIterator[Session]:
        """As `write`, but the transaction is asyncpg's own (BEGIN now, COMMIT at the
        end), under a session in autocommit: every statement, SQLAlchemy's or `Raw`'s,
        runs inside it, and the first one need not go through SQLAlchemy to begin it.
        For intake, whose statements are nearly all `Raw` (issue #15)."""
        uow = HubUnitOfWork()
        async with AsyncSession(self.read_engine, expire_on_commit=False) as session:
            conn = await session.connection()
            driver = (await conn.get_raw_connection()).driver_connection
            if driver is None:
                raise RuntimeError("the pool gave a connection without its driver")
            transaction = None
            try:
                transaction = await _driver_step(_begin(driver), "BEGIN")
                session.info[UOW_KEY] = uow
                session.info[PEPPER_KEY] = self.pepper
                yield session
                await uow.commit(session)
                await session.flush()  # what the ORM holds (a split's parts) goes in first
                await _driver_step(transaction.commit(), "COMMIT")
            except BaseException as exc:
                if notify_queue_full(exc):
                    _notify_queue_was_full()
                if getattr(exc, "connection_invalidated", False):
                    # PostgreSQL restarted (or dropped us): as SQLAlchemy does, throw this
                    # connection away and every other one the pool holds.
                    await conn.invalidate()
                    await self.engine.dispose(close=False)
                elif transaction is not None and driver.is_in_transaction():
                    with contextlib.suppress(Exception):
                        await transaction.rollback()
                raise
        await uow.publish(self.waker)

    async def write_grouped(self, body: Callable[[Session], Awaitable[T]]) -> T:
        """`body` in a transaction of its own, retried on a deadlock (PostgreSQL commits
        many transactions at once by itself; SQLite needs `SqliteHubDatabase`'s help)."""
        return await write_retrying(self, body, opener=self.driver_write)


async def _begin(driver: Any) -> Any:
    transaction = driver.transaction()  # (raises at once on a closed connection)
    await transaction.start()
    return transaction


async def _driver_step(step: Awaitable[T], sql: str) -> T:
    try:
        return await step
    except Exception as exc:
        raise _as_sqlalchemy(exc, sql, None) from exc


log = logging.getLogger("kirana.hub.db")
T = TypeVar("T")


class SqliteHubDatabase(Database):
    """The store's SQLite Database, whose writes carry the hub's unit of work.

    Group commit (`write_grouped`, used by order intake): SQLite has one writer, and
    each COMMIT waits for the disk (synchronous=FULL: an fsync, several milliseconds).
    One order per COMMIT caps a hub at 1 / (its work + an fsync) orders a second however
    many channels post at once. So the bodies waiting at one moment share one
    transaction: each runs in its own SAVEPOINT with its own unit of work (a body that
    fails is rolled back alone and its caller gets its error at once); then one COMMIT,
    in a worker thread so the event loop takes the next requests meanwhile; only after
    it does each caller get its answer and are its stores woken. If the COMMIT fails,
    every body of the group gets that error: nothing is answered that is not on disk."""

    waker: Waker | None = None
    GROUP_MAX = 32  # bodies per transaction: bounds how long other writers wait

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Session]:
        uow = HubUnitOfWork()
        async with super().write() as s:
            s.info[UOW_KEY] = uow
            s.info[PEPPER_KEY] = self.pepper
            yield s
            await uow.commit(s)
        await uow.publish(self.waker)

    def _queue(self) -> _Queue:
        loop = asyncio.get_running_loop()
        queues: dict[asyncio.AbstractEventLoop, _Queue] = self.__dict__.setdefault(
            "_queues", {})
        queue = queues.get(loop)
        if queue is None:
            for old in [k for k in queues if k.is_closed()]:
                del queues[old]
            queue = queues[loop] = _Queue()
        return queue

    async def write_grouped(self, body: Callable[[Session], Awaitable[T]]) -> T:
        """Run `body` in a transaction shared with the bodies waiting now (see the class);
        returns its result once that transaction is committed."""
        queue = self._queue()
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        queue.items.append((body, done))
        if queue.leader is None or queue.leader.done():
            queue.leader = asyncio.ensure_future(self._lead(queue))
        return await done  # (a caller that gives up only drops its own answer)

    async def _lead(self, queue: _Queue) -> None:
        while queue.items:
            try:
                await self._one_group(queue)
            except Exception:  # its bodies have their error; the next group goes on
                log.exception("a group of hub writes failed")

    async def _one_group(self, queue: _Queue) -> None:
        async with self._lock():
            with orm.Session(self.write_engine, expire_on_commit=False) as session:
                await _in_thread(session.connection)  # BEGIN IMMEDIATE (may wait)
                ran: list[tuple[asyncio.Future[Any], Any, HubUnitOfWork]] = []
                try:
                    while queue.items and len(ran) < self.GROUP_MAX:
                        body, done = queue.items.popleft()
                        if done.done():  # its caller gave up before it started
                            continue
                        uow = HubUnitOfWork()
                        session.info.clear()
                        session.info[UOW_KEY] = uow
                        session.info[PEPPER_KEY] = self.pepper
                        s = Tx(session)
                        try:
                            with session.begin_nested():  # SAVEPOINT: fails alone
                                result = await body(s)
                                await uow.commit(s)
                        except Exception as exc:
                            if not done.done():
                                done.set_exception(exc)
                            continue
                        ran.append((done, result, uow))
                    await _in_thread(session.commit)
                except BaseException as exc:
                    session.rollback()
                    for done, _result, _uow in ran:
                        if not done.done():
                            if isinstance(exc, Exception):
                                done.set_exception(exc)
                            else:
                                done.cancel()
                    raise
        for done, result, uow in ran:
            await uow.publish(self.waker)
            if not done.done():
                done.set_result(result)


@dataclass
class _Queue:
    """One event loop's bodies waiting for a group (an asyncio future belongs to a loop)."""

    items: deque[tuple[Callable[[Session], Awaitable[Any]], asyncio.Future[Any]]] = field(
        default_factory=deque)
    leader: asyncio.Future[None] | None = None


async def _in_thread(step: Callable[[], Any]) -> None:
    """A step that waits for the disk or another process's writer, in a worker thread.
    If this task is cancelled meanwhile, the step still finishes (the session is in use
    until it does); then the cancellation goes on."""
    work = asyncio.ensure_future(asyncio.to_thread(step))
    try:
        await asyncio.shield(work)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await work
        raise


HubDatabase = SqliteHubDatabase | PgDatabase
# deadlock_detected, serialization_failure: PostgreSQL rolled the transaction back and
# running it again is the documented remedy.
RETRY_SQLSTATES = frozenset({"40P01", "40001"})
WRITE_ATTEMPTS = 5


def _notify_queue_was_full() -> None:
    log.error("PostgreSQL's notification queue is full (a LISTENing session stopped "
              "reading?): writing without in-transaction wake-ups for %.0f s", QUIET_SECONDS)
    quiet_commits()


def notify_queue_full(exc: BaseException) -> bool:
    """PostgreSQL refused a COMMIT because its NOTIFY queue is full (54000)."""
    orig = getattr(exc, "orig", None)
    return (getattr(orig, "sqlstate", None) == "54000"
            and "notification" in str(orig).lower())


def is_retryable(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None)
    return isinstance(exc, DBAPIError) and getattr(orig, "sqlstate", None) in RETRY_SQLSTATES


async def write_retrying(db: HubDatabase, body: Callable[[Session], Awaitable[T]], *,
                         attempts: int = WRITE_ATTEMPTS,
                         opener: Callable[[], Any] | None = None) -> T:
    """Run `body(s)` in one write transaction; if PostgreSQL aborts it with a deadlock or
    a serialization failure, run it again (up to `attempts` times, with a short jittered
    pause). So too when the connection turns out dead (PostgreSQL restarted; the pool
    does not ping before each use) while `body` runs: nothing of it was committed. A
    connection lost at COMMIT is not retried: that transaction may have committed.
    `body` must be re-runnable: it reads what it needs inside the transaction and keeps
    no state from a failed attempt. Other errors are raised at once."""
    for attempt in range(1, attempts + 1):
        in_body = True
        try:
            async with (opener or db.write)() as s:
                result = await body(s)
                in_body = False
            return result
        except DBAPIError as exc:
            again = is_retryable(exc) or (in_body and exc.connection_invalidated)
            if notify_queue_full(exc):  # failed at COMMIT, so not committed: run it again
                again = True  # (the write that saw it turned in-transaction NOTIFY off)
            if attempt >= attempts or not again:
                raise
            log.warning("hub write %s aborted (%s), attempt %d of %d; retrying",
                        getattr(body, "__qualname__", "?"),
                        getattr(exc.orig, "sqlstate", None) or "connection lost", attempt,
                        attempts)
            await asyncio.sleep(random.uniform(0.005, 0.05) * attempt)
    raise AssertionError("unreachable")


def sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def open_hub_database(url: str, pool: HubSection | None = None) -> HubDatabase:
    """`pool`: the config's [hub] section, whose db_* keys size a PostgreSQL pool."""
    path = sqlite_path(url)
    return SqliteHubDatabase(path) if path is not None else PgDatabase(url, pool)


def dialect_of(s: Session) -> str:
    return dialect_name(s)


async def core_execute(s: Session, statement: Any, params: Any = None) -> Any:
    """A Core statement on the transaction's connection, past the ORM session (whose
    per-statement work costs more than a small read or an executemany here)."""
    if isinstance(s, Tx):
        return s.sync_session.connection().execute(statement, params)
    return await (await s.connection()).execute(statement, params)


# --- the driver itself, for intake's few hot statements ---------------------------------

RAW_KEY = "kirana_hub_raw"
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_UTC = UTCDateTime()


class Raw:
    """The driver connection under a hub transaction (sqlite3, or asyncpg), for the
    handful of statements every order runs (issue #15): SQLAlchemy's own work was about
    50 us a statement on SQLite and 150 us on PostgreSQL, more than most of these
    statements cost. SQL is written with :name parameters (turned into $1.. once for
    asyncpg); a datetime is written as UTCDateTime writes it, so the rows are the same
    as the ORM's. Statements run inside the transaction SQLAlchemy began (`of` gives
    None before it has: the caller then uses `core_execute`, which begins it)."""

    def __init__(self, dialect: str, conn: Any) -> None:
        self.dialect, self.conn = dialect, conn

    @classmethod
    async def of(cls, s: Session) -> Raw | None:
        raw = s.info.get(RAW_KEY)
        if raw is not None:
            return raw
        if isinstance(s, Tx):  # (BEGIN IMMEDIATE ran when the session took the connection)
            raw = cls("sqlite", s.sync_session.connection().connection.dbapi_connection)
        else:
            conn = cast(AsyncConnection, await s.connection())
            driver = (await conn.get_raw_connection()).driver_connection
            if driver is None or not driver.is_in_transaction():
                return None  # (SQLAlchemy begins the transaction at its first statement)
            raw = cls("postgresql", driver)
        s.info[RAW_KEY] = raw
        return raw

    def _sql(self, sql: str) -> tuple[str, tuple[str, ...]]:
        """For asyncpg: the SQL with $n, and the parameter names in order (kept)."""
        kept = _PG_SQL.get(sql)
        if kept is None:
            names: list[str] = []

            def number(match: re.Match[str]) -> str:
                if match.group(1) not in names:
                    names.append(match.group(1))
                return f"${names.index(match.group(1)) + 1}"

            kept = _PG_SQL[sql] = (_PARAM.sub(number, sql), tuple(names))
        return kept

    async def rows(self, sql: str, params: dict[str, Any]) -> list[Any]:
        try:
            if self.dialect == "sqlite":
                return self.conn.execute(sql, _values(params)).fetchall()
            text_, names = self._sql(sql)
            return await self.conn.fetch(text_, *(bind_value(params[n]) for n in names))
        except Exception as exc:
            raise _as_sqlalchemy(exc, sql, params) from exc

    async def many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        try:
            if self.dialect == "sqlite":
                self.conn.executemany(sql, [_values(row) for row in rows])
                return
            text_, names = self._sql(sql)
            await self.conn.executemany(text_, [tuple(bind_value(row[n]) for n in names)
                                                for row in rows])
        except Exception as exc:
            raise _as_sqlalchemy(exc, sql, rows) from exc


def _as_sqlalchemy(exc: Exception, sql: str, params: Any) -> Exception:
    """A driver's error as SQLAlchemy would have raised it, so callers catch the same
    classes either way (IntegrityError for a duplicate order, the sqlstate on `orig`
    for write_retrying's deadlock retry, `connection_invalidated` for a dropped link)."""
    import sqlite3

    import asyncpg

    state = str(getattr(exc, "sqlstate", "") or "")
    if isinstance(exc, sqlite3.IntegrityError) or state.startswith("23"):
        return IntegrityError(sql, params, exc)
    # InternalClientError: "cannot switch to state 15; another operation (2) is in
    # progress". PostgreSQL dropped a pooled connection and asyncpg has read its FATAL
    # message (state 2: consuming an error) but not yet the socket's end; the statement
    # was never sent. A connection in that state is as good as closed (CI saw it once
    # in 2,000 runs of the drop test, at BEGIN).
    lost = isinstance(exc, (asyncpg.exceptions.ConnectionDoesNotExistError,
                            asyncpg.exceptions.InterfaceError,
                            asyncpg.exceptions._base.InternalClientError,
                            ConnectionError, OSError)
                      ) or state.startswith(("08", "57P"))
    if lost or isinstance(exc, (sqlite3.OperationalError, asyncpg.PostgresError)):
        return OperationalError(sql, params, exc, connection_invalidated=lost)
    if isinstance(exc, sqlite3.Error):
        return DBAPIError(sql, params, exc)
    return exc


_PG_SQL: dict[str, tuple[str, tuple[str, ...]]] = {}


def bind_value(value: Any) -> Any:
    """A value as the driver is given it: a datetime as UTCDateTime writes it."""
    return _UTC.process_bind_param(value, None) if isinstance(value, datetime) else value


def _values(params: dict[str, Any]) -> dict[str, Any]:
    return {k: bind_value(v) for k, v in params.items()}


def insert_sql(table: Any) -> str:
    """INSERT INTO table (every column) VALUES (:column, ...), for `Raw.many`."""
    names = [c.name for c in table.columns]
    return (f"INSERT INTO {table.name} ({', '.join(names)}) "
            f"VALUES ({', '.join(':' + n for n in names)})")


async def rows_of(s: Session, sql: str, params: dict[str, Any]) -> list[Any]:
    """Rows of `sql` through the driver, or through SQLAlchemy when the transaction has
    not begun yet (PostgreSQL: this statement begins it)."""
    raw = await Raw.of(s)
    if raw is not None:
        return await raw.rows(sql, params)
    return list((await core_execute(s, text(sql), _values(params))).all())


async def insert_rows(s: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Write `rows` (every column) into `table`: one executemany through the driver."""
    raw = await Raw.of(s)
    if raw is not None:
        await raw.many(insert_sql(table), rows)
    elif rows:
        await core_execute(s, insert(table), rows)


def upsert(s: Session, table: Any) -> Any:
    """INSERT ... ON CONFLICT for the session's dialect (same API on both)."""
    return (postgresql.insert if dialect_of(s) == "postgresql" else sqlite.insert)(table)
