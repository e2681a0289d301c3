"""Alembic environment for the hub: SQLite (sync) or PostgreSQL (asyncpg).

The hub's metadata is the subset of tables the hub uses (HUB_TABLES): the shared
login, catalogue and numbering tables plus the hub's own."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.ext.asyncio import create_async_engine

import app.catalog.models
import app.core.models
import app.hub.models  # noqa: F401
from app.core.db import Base
from app.hub.schema import HUB_TABLES

config = context.config
target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is None or table.name in HUB_TABLES


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      include_object=include_object, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic: set sqlalchemy.url or pass a connection")
    if url.startswith("postgresql+asyncpg"):
        asyncio.run(_run_async(url))
        return
    engine = create_engine(url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


run_migrations_online()
