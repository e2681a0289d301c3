"""Database access for the store's SQLite file.

SQLite is a library, not a server: a statement on a local file takes microseconds.
Going through an async driver (aiosqlite) costs a thread hand-off for every cursor
call, which measured 4x slower than the work itself on the till's scan path
(11 ms vs 2.8 ms per scan). So statements run inline on the event loop through a
plain ``sqlite3`` connection, wrapped in ``Tx``, an object with the AsyncSession
methods the services use (``await s.execute(...)``), so services read as async
code and could move to an async driver (PostgreSQL for the hub) unchanged.
Services type their session as ``Session``, the protocol both ``Tx`` and SQLAlchemy's
``AsyncSession`` (the hub on PostgreSQL) satisfy.

What keeps that safe:

* ``write()`` takes a per-process asyncio lock before ``BEGIN IMMEDIATE``, so two
  coroutines never wait on SQLite's writer lock inside the loop. The BEGIN is tried
  on the loop without waiting (busy timeout 0); only if a writer in *another*
  process (the CLI importing a catalogue) holds the lock is it run again in a worker
  thread with the full busy timeout, so this one waits without freezing the server.
* A transaction is the pooled sqlite3 connection and nothing more until a service
  uses the ORM (``Tx``): the till's prepared statements never pay for a Session.
* ``read()`` opens a deferred transaction; with WAL a reader never waits for the
  writer.
* Every connection gets WAL, ``synchronous=FULL`` (a committed sale survives a
  power cut), foreign keys and a busy timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import weakref
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, TypeVarTuple, cast, overload

from sqlalchemy import Engine, MetaData, String, TypeDecorator, create_engine, event, orm, text
from sqlalchemy.engine import Connection as SAConnection
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import PoolProxiedConnection

if TYPE_CHECKING:
    from sqlalchemy import CursorResult, Executable, Result, Row, ScalarResult
    from sqlalchemy.sql.selectable import TypedReturnsRows

from app.core.private_files import private_sqlite

BUSY_TIMEOUT_MS = 10_000


class Base(DeclarativeBase):
    # Named constraints let Alembic's SQLite batch mode alter tables later.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes stored as ISO-8601 text (sorts correctly, readable in sqlite3)."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def process_result_value(self, value: str | None, dialect: object) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


def sqlite_url(path: Path, driver: str = "pysqlite") -> str:
    return f"sqlite+{driver}:///{path}"


def _engine(path: Path, begin: str, pool_size: int) -> Engine:
    engine = create_engine(
        sqlite_url(path), pool_size=pool_size, max_overflow=pool_size,
        # BEGIN runs in a worker thread, the rest on the loop; never two at once.
        connect_args={"check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Hand transaction control to us (pysqlite's implicit BEGIN is deferred and late).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A Tx from Database.write()/read() began it on the sqlite3 connection already.
        if not conn.connection.driver_connection.in_transaction:
            conn.exec_driver_sql(begin)

    return engine


_T = TypeVar("_T")
_O = TypeVar("_O")
_Ts = TypeVarTuple("_Ts")


class Connection(Protocol):
    """What ``Session.connection()`` gives: statements (executemany) outside the ORM."""

    async def execute(self, statement: Executable, parameters: Any = None, /
                      ) -> Result[*tuple[Any, ...]]: ...


class Session(Protocol):
    """The database session every service takes as ``s``: one transaction, awaitable
    methods. ``Tx`` (the store, and the hub on SQLite) and SQLAlchemy's ``AsyncSession``
    (the hub on PostgreSQL) both fit it, so a service runs unchanged on either. Only the
    methods the services use are here; add one when a service needs it."""

    @property
    def sync_session(self) -> orm.Session: ...

    @property
    def info(self) -> dict[Any, Any]: ...

    @overload
    async def execute(self, statement: TypedReturnsRows[*_Ts], params: Any = None
                      ) -> Result[*_Ts]: ...
    @overload
    async def execute(self, statement: Executable, params: Any = None
                      ) -> Result[*tuple[Any, ...]]: ...

    @overload
    async def scalar(self, statement: TypedReturnsRows[_T], params: Any = None) -> _T | None: ...
    @overload
    async def scalar(self, statement: Executable, params: Any = None) -> Any: ...

    @overload
    async def scalars(self, statement: TypedReturnsRows[_T], params: Any = None
                      ) -> ScalarResult[_T]: ...
    @overload
    async def scalars(self, statement: Executable, params: Any = None) -> ScalarResult[Any]: ...

    async def get(self, entity: type[_O], ident: Any, *, options: Sequence[Any] | None = None,
                  populate_existing: bool | None = None, with_for_update: bool | None = None,
                  ) -> _O | None: ...

    async def flush(self) -> None: ...

    async def refresh(self, instance: object, attribute_names: Iterable[str] | None = None
                      ) -> None: ...

    async def delete(self, instance: object) -> None: ...

    async def rollback(self) -> None: ...

    async def connection(self) -> Connection: ...

    def add(self, instance: object) -> None: ...

    def add_all(self, instances: Iterable[object]) -> None: ...

    def in_transaction(self) -> bool: ...


class AnyDatabase(Protocol):
    """What shared services (sign-in, the catalogue import) need of a database: the
    store's ``Database`` and the hub's ``PgDatabase`` both fit it."""

    dialect: str
    pepper: bytes | None

    def write(self) -> AbstractAsyncContextManager[Session]: ...

    def read(self) -> AbstractAsyncContextManager[Session]: ...


class MissingRow(RuntimeError):
    """A row the code knows exists is not there: a bug or a broken database."""


async def get_existing(s: Session, entity: type[_O], ident: Any, *,
                       with_for_update: bool | None = None) -> _O:
    """``s.get`` for a row that must exist (a foreign key points at it, or this
    transaction just read it): a missing one is a bug, said as such, not an
    AttributeError on None further on."""
    row = await s.get(entity, ident, with_for_update=with_for_update)
    if row is None:
        raise MissingRow(f"{entity.__name__} {ident!r} is missing")
    return row


def written(entity: type[_O], values: dict[str, Any]) -> _O:
    """An ORM object of `entity` holding `values`, for a row a prepared statement has just
    written (issue #15): what a service returns and a template reads, made without the
    ORM's constructor, whose per-attribute set events cost ~3 us a column (a 10-line sale
    and its lines ~0.35 ms). It is in no session; relationships given in `values` (a
    sale's lines) are read as given."""
    made: _O = orm.class_mapper(entity).class_manager.new_instance()
    made.__dict__.update(values)
    return made


def rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """Rows an INSERT, UPDATE or DELETE touched: its result is a CursorResult at run time,
    though ``execute`` is typed to give any statement's ``Result``."""
    return cast("CursorResult[*tuple[Any, ...]]", result).rowcount or 0


def dialect_name(s: Session) -> str:
    """"sqlite" or "postgresql": the few statements that differ (upserts, row locks)."""
    if isinstance(s, Tx):
        return "sqlite"  # (without making its ORM session)
    return s.sync_session.get_bind().dialect.name


class Tx:
    """One transaction on the store's SQLite file; a ``Session``. Awaitable methods
    mirror SQLAlchemy's AsyncSession and run inline (see the module's docstring).

    ``Database.write()`` and ``read()`` give a Tx that holds only the pooled sqlite3
    connection, its transaction already begun (``raw``): prepared statements
    (``core/prepared.py``) run on it directly. The ORM ``Session`` is made the first time
    something needs it (``execute``, ``get``, ``add``, ``sync_session`` ...), bound to
    that same connection inside that same transaction; a till request never needs it,
    and making it, with SQLAlchemy's connection and transaction objects, cost more
    CPU than a scan's statements (issue #15). ``Tx(session)`` wraps a Session that
    already exists (the hub's grouped writes)."""

    def __init__(self, session: orm.Session | None = None, *,
                 engine: Engine | None = None, pooled: PoolProxiedConnection | None = None,
                 begin: str = "BEGIN") -> None:
        self._session = session
        self._begin = begin
        self._engine = engine
        self._pooled = pooled
        self._connection: SAConnection | None = None
        self._raw: sqlite3.Connection | None = (
            cast("sqlite3.Connection", pooled.driver_connection) if pooled is not None else None)
        self._info: dict[Any, Any] = session.info if session is not None else {}

    @property
    def sync_session(self) -> orm.Session:
        session = self._session
        if session is None:
            assert self._engine is not None and self._pooled is not None
            # The engine's "begin" hook sees the sqlite3 transaction is open and adds none.
            self._connection = SAConnection(self._engine, connection=self._pooled)
            session = self._session = orm.Session(bind=self._connection,
                                                  expire_on_commit=False)
        return session

    def driver(self) -> sqlite3.Connection:
        """The transaction's sqlite3 connection, for a statement past SQLAlchemy; what an
        ORM session holds pending is flushed first (as autoflush would before a query).
        After a rollback, the next statement begins a new transaction, as the ORM does."""
        session = self._session
        if session is not None and (session.new or session.deleted or session.dirty):
            session.flush()
        raw = self._raw
        if raw is None:  # Tx(session): the Session's own connection (BEGIN runs there)
            assert session is not None
            raw = self._raw = cast("sqlite3.Connection",
                                   session.connection().connection.driver_connection)
        elif not raw.in_transaction:
            if session is not None:
                session.connection()  # SQLAlchemy begins it (the engine's "begin" hook)
            else:
                raw.execute(self._begin)
        return raw

    async def execute(self, statement: Executable, params: Any = None, **kw: Any
                      ) -> Result[*tuple[Any, ...]]:
        return self.sync_session.execute(statement, params, **kw)

    async def scalar(self, statement: Executable, params: Any = None, **kw: Any) -> Any:
        return self.sync_session.scalar(statement, params, **kw)

    async def scalars(self, statement: Executable, params: Any = None, **kw: Any
                      ) -> ScalarResult[Any]:
        return self.sync_session.scalars(statement, params, **kw)

    async def get(self, entity: type[_O], ident: Any, **kw: Any) -> _O | None:
        return self.sync_session.get(entity, ident, **kw)

    async def flush(self) -> None:
        if self._session is not None:
            self._session.flush()

    async def refresh(self, instance: object, attribute_names: Iterable[str] | None = None
                      ) -> None:
        self.sync_session.refresh(instance, attribute_names)

    async def delete(self, instance: object) -> None:
        self.sync_session.delete(instance)

    async def rollback(self) -> None:
        if self._session is not None:
            self._session.rollback()
        elif self._raw is not None:
            self._raw.rollback()

    async def connection(self) -> Tx:
        return self  # statements run on the session's own connection

    def add(self, instance: object) -> None:
        self.sync_session.add(instance)

    def add_all(self, instances: Iterable[object]) -> None:
        self.sync_session.add_all(instances)

    def in_transaction(self) -> bool:
        if self._pooled is not None and self._raw is not None:  # sqlite3 says
            return self._raw.in_transaction
        return self._session is not None and self._session.in_transaction()

    @property
    def info(self) -> dict[Any, Any]:
        return self._info

    def _finish(self, commit: bool) -> None:
        """End the transaction (commit, or roll back) and give the connection back. With
        an ORM session, SQLAlchemy commits it (flushing first)."""
        session, raw = self._session, self._raw
        ended = False
        try:
            if session is not None:
                if commit:
                    session.commit()
                else:
                    session.rollback()
            elif raw is not None:
                if commit:
                    raw.commit()
                else:
                    raw.rollback()
            ended = True
        finally:
            self._close(reuse=ended)

    def _close(self, reuse: bool = True) -> None:
        """Give the connection back: to the database's idle list when only sqlite3 used it
        and whatever transaction was left open (a read's) rolls back cleanly, else to
        SQLAlchemy's pool, whose reset rolls back what is left open."""
        session, connection, pooled = self._session, self._connection, self._pooled
        self._session = self._connection = self._pooled = self._raw = None
        try:
            if session is not None:
                session.close()
        finally:
            if connection is not None:
                connection.close()  # (closes the pooled connection too: back to the pool)
            elif pooled is not None and self._engine is not None:
                give_back(self._engine, pooled, reuse)


# Connections a transaction gave back clean, kept checked out of SQLAlchemy's pool for
# the next one, per engine of a Database: a pool checkout and checkin (with its reset)
# cost more CPU than a scan's statements. list.pop/append are atomic, so several event
# loops (tests) never get the same one.
_IDLE: weakref.WeakKeyDictionary[Engine, list[PoolProxiedConnection]] = (
    weakref.WeakKeyDictionary())
# Connections kept per engine: fewer than its pool holds (write 2 + 2 overflow), so a
# Session made straight on the engine (the hub's grouped writes) always gets one.
IDLE_MAX = 2


def take(engine: Engine) -> PoolProxiedConnection:
    """A pooled connection of `engine`: one kept from an earlier use, else the pool's."""
    idle = _IDLE.get(engine)
    if idle:
        with contextlib.suppress(IndexError):
            return idle.pop()
    return engine.raw_connection()


def give_back(engine: Engine, pooled: PoolProxiedConnection, clean: bool = True) -> None:
    """Keep `pooled` for the next `take` when its use ended `clean` and what is still open
    on it (a read's transaction) rolls back; otherwise back to SQLAlchemy's pool."""
    idle = _IDLE.get(engine)
    raw = cast("sqlite3.Connection | None", pooled.driver_connection)
    if clean and idle is not None and raw is not None and len(idle) < IDLE_MAX \
            and _ended(raw):
        idle.append(pooled)
    else:
        pooled.close()


def _ended(raw: sqlite3.Connection) -> bool:
    """Roll back what is open on `raw` (a read's deferred transaction); False if that
    failed, so the connection goes back to the pool rather than to the next user."""
    if raw.in_transaction:
        try:
            raw.rollback()
        except sqlite3.Error:
            return False
    return not raw.in_transaction


class Database:
    """The store's database: a write engine and a read engine on one SQLite file."""

    dialect = "sqlite"
    # Keys PIN hashes; set from the install's secret file (core/secret_file.attach_pepper).
    pepper: bytes | None = None

    def __init__(self, path: Path) -> None:
        self.path = private_sqlite(Path(path))
        self.write_engine = _engine(self.path, "BEGIN IMMEDIATE", pool_size=2)
        self.read_engine = _engine(self.path, "BEGIN", pool_size=4)
        _IDLE[self.write_engine] = []  # (see take)
        _IDLE[self.read_engine] = []
        self._write_locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self._watch: sqlite3.Connection | None = None
        self._watch_lock = threading.Lock()
        self._watches = 0

    def _lock(self) -> asyncio.Lock:
        """One asyncio lock per event loop: an asyncio.Lock must never be shared between
        loops (tests run several apps' loops in threads). Across loops and processes,
        SQLite's own writer lock (BEGIN IMMEDIATE, in a thread) does the serialising."""
        loop = asyncio.get_running_loop()
        lock = self._write_locks.get(loop)
        if lock is None:
            for old in [k for k in self._write_locks if k.is_closed()]:
                del self._write_locks[old]
            lock = self._write_locks[loop] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Session]:
        """One use case = one transaction: commit on success, roll back on any error."""
        async with self._lock():
            pooled = take(self.write_engine)
            tx = Tx(engine=self.write_engine, pooled=pooled, begin="BEGIN IMMEDIATE")
            try:
                await _begin_immediate(cast("sqlite3.Connection", pooled.driver_connection))
            except BaseException:
                tx._close(reuse=False)  # (back to the pool, which rolls back)
                raise
            try:
                yield tx
            except BaseException:
                tx._finish(commit=False)
                raise
            tx._finish(commit=True)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Session]:
        # A deferred BEGIN never waits. Ending it gives the connection back to the pool,
        # whose reset rolls the read transaction back; an ORM session is closed, not
        # rolled back: close() leaves the objects it loaded usable.
        pooled = take(self.read_engine)
        tx = Tx(engine=self.read_engine, pooled=pooled)
        try:
            cast("sqlite3.Connection", pooled.driver_connection).execute("BEGIN")
            yield tx
        finally:
            tx._close()

    def data_version(self) -> tuple[int, int]:
        """SQLite's ``PRAGMA data_version`` on a connection of its own that never writes:
        it changes whenever any other connection commits (this process's engines, the CLI,
        another process). A cache checks it (a few microseconds) to know nothing changed.
        The value only compares within one connection, so it comes with that connection's
        number (``dispose`` closes it; the next call opens another)."""
        with self._watch_lock:
            if self._watch is None:
                self._watch = sqlite3.connect(self.path, isolation_level=None,
                                              check_same_thread=False)
                self._watches += 1
            return self._watches, int(self._watch.execute("PRAGMA data_version").fetchall()[0][0])

    def read_row(self, statement: Executable, params: Any = None
                 ) -> Row[*tuple[Any, ...]] | None:
        """One row from a Core select on a pooled read connection, without an ORM
        Session (whose set-up costs more than the read): the guards' per-request check."""
        with self.read_engine.connect() as conn:
            return conn.execute(statement, params).first()

    async def dispose(self) -> None:
        for engine in (self.write_engine, self.read_engine):
            idle = _IDLE.get(engine, [])
            while idle:
                idle.pop().close()
        self.write_engine.dispose()
        self.read_engine.dispose()
        with self._watch_lock:
            if self._watch is not None:
                self._watch.close()
                self._watch = None


_NO_WAIT = "PRAGMA busy_timeout=0"
_WAIT = f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}"


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY


async def _begin_immediate(raw: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE: take SQLite's writer lock for this transaction.

    Tried first on the loop without waiting (busy timeout 0): our own writers queue on
    the asyncio lock, so the writer lock is free unless another process (the CLI, a
    second server on the file) holds it, and a hand-off to a worker thread would cost
    more CPU than the BEGIN. Only when SQLite says busy is it taken again in a worker
    thread with the usual busy timeout, so that wait never freezes the event loop. If
    this task is cancelled meanwhile, the thread still gets the lock later: wait for it
    and roll back, or the lock would leak for good."""
    raw.execute(_NO_WAIT)
    try:
        raw.execute("BEGIN IMMEDIATE")
        return
    except sqlite3.OperationalError as exc:
        if not _is_busy(exc):
            raise
    finally:
        raw.execute(_WAIT)
    begin = asyncio.ensure_future(asyncio.to_thread(raw.execute, "BEGIN IMMEDIATE"))
    try:
        await asyncio.shield(begin)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await begin
        if raw.in_transaction:
            raw.rollback()
        raise


# The gapless counter's one statement (the hub's intake runs the same text by itself).
NEXT_NUMBER_SQL = (
    "INSERT INTO number_sequences (name, last) VALUES (:n, 1) "
    "ON CONFLICT(name) DO UPDATE SET last = number_sequences.last + 1 RETURNING last"
)
_NEXT_NUMBER = text(NEXT_NUMBER_SQL)


async def next_number(session: Session, name: str) -> int:
    """Next value of a gapless sequence; call inside a write transaction. One statement
    (an upsert that returns the value; SQLite 3.35+ and PostgreSQL)."""
    if isinstance(session, Tx):  # straight on sqlite3: a sale takes one (issue #15)
        return int(session.driver().execute(NEXT_NUMBER_SQL, {"n": name}).fetchone()[0])
    return (await session.execute(_NEXT_NUMBER, {"n": name})).scalar_one()


async def skip_numbers_past(session: Session, name: str, last: int) -> None:
    """Make the next number of a sequence at least `last + 1` (never lower it): a
    restored database must not hand out a number another node already has."""
    await session.execute(
        text(
            "INSERT INTO number_sequences (name, last) VALUES (:n, :v) "
            "ON CONFLICT(name) DO UPDATE SET last = CASE WHEN excluded.last > "
            "number_sequences.last THEN excluded.last ELSE number_sequences.last END"
        ),
        {"n": name, "v": last},
    )
