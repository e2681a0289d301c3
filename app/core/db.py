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
  coroutines never wait on SQLite's writer lock inside the loop; the BEGIN itself
  runs in a worker thread, so a writer in *another* process (the CLI importing a
  catalogue) makes this one wait without freezing the server.
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
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, TypeVarTuple, cast, overload

from sqlalchemy import Engine, MetaData, String, TypeDecorator, create_engine, event, orm, text
from sqlalchemy.orm import DeclarativeBase

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


def rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """Rows an INSERT, UPDATE or DELETE touched: its result is a CursorResult at run time,
    though ``execute`` is typed to give any statement's ``Result``."""
    return cast("CursorResult[*tuple[Any, ...]]", result).rowcount or 0


def dialect_name(s: Session) -> str:
    """"sqlite" or "postgresql": the few statements that differ (upserts, row locks)."""
    return s.sync_session.get_bind().dialect.name


class Tx:
    """One transaction on the store's SQLite file; a ``Session``. Awaitable methods
    mirror SQLAlchemy's AsyncSession and run inline (see the module's docstring)."""

    def __init__(self, session: orm.Session) -> None:
        self.sync_session = session

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
        self.sync_session.flush()

    async def refresh(self, instance: object, attribute_names: Iterable[str] | None = None
                      ) -> None:
        self.sync_session.refresh(instance, attribute_names)

    async def delete(self, instance: object) -> None:
        self.sync_session.delete(instance)

    async def rollback(self) -> None:
        self.sync_session.rollback()

    async def connection(self) -> Tx:
        return self  # statements run on the session's own connection

    def add(self, instance: object) -> None:
        self.sync_session.add(instance)

    def add_all(self, instances: Iterable[object]) -> None:
        self.sync_session.add_all(instances)

    def in_transaction(self) -> bool:
        return self.sync_session.in_transaction()

    @property
    def info(self) -> dict[Any, Any]:
        return self.sync_session.info


class Database:
    """The store's database: a write engine and a read engine on one SQLite file."""

    dialect = "sqlite"
    # Keys PIN hashes; set from the install's secret file (core/secret_file.attach_pepper).
    pepper: bytes | None = None

    def __init__(self, path: Path) -> None:
        self.path = private_sqlite(Path(path))
        self.write_engine = _engine(self.path, "BEGIN IMMEDIATE", pool_size=2)
        self.read_engine = _engine(self.path, "BEGIN", pool_size=4)
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
            with orm.Session(self.write_engine, expire_on_commit=False) as session:
                # BEGIN IMMEDIATE may wait for another process's writer, so it runs in a
                # thread. If this task is cancelled meanwhile, the thread still gets the
                # lock later: wait for it and roll back, or the lock would leak for good.
                begin = asyncio.ensure_future(asyncio.to_thread(session.connection))
                try:
                    await asyncio.shield(begin)
                except asyncio.CancelledError:
                    with contextlib.suppress(BaseException):
                        await begin
                    session.rollback()
                    raise
                try:
                    yield Tx(session)
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Session]:
        # Closing the session returns the connection, whose reset rolls the read
        # transaction back; unlike rollback(), close() leaves loaded objects usable.
        with orm.Session(self.read_engine, expire_on_commit=False) as session:
            yield Tx(session)

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
        self.write_engine.dispose()
        self.read_engine.dispose()
        with self._watch_lock:
            if self._watch is not None:
                self._watch.close()
                self._watch = None


# The gapless counter's one statement (the hub's intake runs the same text by itself).
NEXT_NUMBER_SQL = (
    "INSERT INTO number_sequences (name, last) VALUES (:n, 1) "
    "ON CONFLICT(name) DO UPDATE SET last = number_sequences.last + 1 RETURNING last"
)
_NEXT_NUMBER = text(NEXT_NUMBER_SQL)


async def next_number(session: Session, name: str) -> int:
    """Next value of a gapless sequence; call inside a write transaction. One statement
    (an upsert that returns the value; SQLite 3.35+ and PostgreSQL)."""
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
