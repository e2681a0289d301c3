"""Database engines and transactions for the store's SQLite file.

Two engines on the same file:

* ``write()`` opens ``BEGIN IMMEDIATE``: the writer lock is taken up front, so two
  concurrent use cases queue on SQLite's busy timeout instead of failing with
  "database is locked" when a deferred read transaction tries to upgrade.
* ``read()`` opens a plain deferred transaction; with WAL, readers never wait for
  the writer, so a scan lookup stays fast while a sale commits.

Every connection gets WAL, ``synchronous=FULL`` (a committed sale survives a power
cut), foreign keys and a busy timeout.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import MetaData, String, TypeDecorator, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

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


def sqlite_url(path: Path, driver: str = "aiosqlite") -> str:
    return f"sqlite+{driver}:///{path}"


def _install_pragmas(engine: AsyncEngine, begin: str) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        # Hand transaction control to us (pysqlite's implicit BEGIN is deferred and late).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        conn.exec_driver_sql(begin)


class Database:
    """The store's database: a write engine and a read engine on one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        url = sqlite_url(self.path)
        self.write_engine = create_async_engine(url, pool_size=4, max_overflow=4)
        self.read_engine = create_async_engine(url, pool_size=8, max_overflow=8)
        _install_pragmas(self.write_engine, "BEGIN IMMEDIATE")
        _install_pragmas(self.read_engine, "BEGIN")
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One use case = one transaction: commit on success, roll back on any error."""
        async with self._write_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._read_sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        await self.read_engine.dispose()


async def next_number(session, name: str) -> int:  # noqa: ANN001
    """Next value of a gapless sequence; call inside a write transaction."""
    from sqlalchemy import text

    await session.execute(
        text(
            "INSERT INTO number_sequences (name, last) VALUES (:n, 1) "
            "ON CONFLICT(name) DO UPDATE SET last = last + 1"
        ),
        {"n": name},
    )
    return (
        await session.execute(
            text("SELECT last FROM number_sequences WHERE name = :n"), {"n": name}
        )
    ).scalar_one()
