"""The hub's database: the store's SQLite ``Database`` by default, PostgreSQL (asyncpg)
at scale. Both hand out transactions with the same awaitable API (SQLAlchemy's
AsyncSession, or ``Tx`` which mirrors it), so hub services and the shared login and
catalogue code run unchanged on either.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.core.db import Database


class PgDatabase:
    """PostgreSQL through asyncpg. Writers are not serialised in-process: row locks
    (SELECT ... FOR UPDATE, UPDATE ... RETURNING) keep concurrent hub processes apart."""

    dialect = "postgresql"

    def __init__(self, url: str, pool_size: int = 20, max_overflow: int = 40) -> None:
        # Hundreds of store links share the pool; each holds a connection only while it
        # applies or reads a frame. pool_timeout errors are logged by the link.
        self.url = url
        self.engine = create_async_engine(url, pool_size=pool_size, max_overflow=max_overflow,
                                          pool_pre_ping=True, pool_timeout=60)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        async with AsyncSession(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


HubDatabase = Database | PgDatabase


def sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def open_hub_database(url: str) -> HubDatabase:
    path = sqlite_path(url)
    return Database(path) if path is not None else PgDatabase(url)


def dialect_of(s: Any) -> str:
    bind = s.bind if hasattr(s, "bind") else s.sync_session.get_bind()
    return bind.dialect.name


def upsert(s: Any, table: Any) -> Any:
    """INSERT ... ON CONFLICT for the session's dialect (same API on both)."""
    return (postgresql.insert if dialect_of(s) == "postgresql" else sqlite.insert)(table)
