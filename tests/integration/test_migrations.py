from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import MetaData, create_engine, inspect

from app.core import migrate
from app.core.db import Base, sqlite_url
from app.hub.schema import HUB_ONLY_TABLES, HUB_TABLES


def only(tables: set[str] | frozenset[str]) -> MetaData:
    """The slice of the shared metadata one database holds."""
    meta = MetaData(naming_convention=Base.metadata.naming_convention)
    for name in sorted(tables):
        Base.metadata.tables[name].to_metadata(meta)
    return meta


def test_migrations_from_empty_match_the_models(tmp_path):
    import app.catalog.models
    import app.core.models
    import app.purchasing.models
    import app.reports.models
    import app.stock.models
    import app.sync.models

    path = tmp_path / "store.db"
    assert "run `kirana db upgrade" in migrate.pending_message(path)
    migrate.upgrade(path)
    assert migrate.pending_message(path) is None
    import app.hub.models  # noqa: F401

    store = only(set(Base.metadata.tables) - HUB_ONLY_TABLES)
    engine = create_engine(sqlite_url(path, "pysqlite"))
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set(store.tables)
    for name, table in store.tables.items():
        columns = {c["name"] for c in inspect(engine).get_columns(name)}
        assert columns == {c.name for c in table.columns}, name
    engine.dispose()
    # No drift: autogenerate against the migrated database finds nothing to do.
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(sqlite_url(path, "pysqlite"))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), store)
    engine.dispose()
    assert diff == []
    # Upgrading again is harmless.
    migrate.upgrade(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_server_refuses_to_start_on_an_old_database(tmp_path):
    import pytest

    from app.server import StartupError, create_store_app
    from tests.conftest import make_config

    cfg = make_config(tmp_path)
    with pytest.raises(StartupError, match="database is empty"):
        create_store_app(cfg)


async def test_connection_pragmas(db):
    from sqlalchemy import text

    async with db.read() as s:
        assert (await s.execute(text("PRAGMA synchronous"))).scalar() == 2  # FULL
        assert (await s.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await s.execute(text("PRAGMA busy_timeout"))).scalar() >= 5000
        assert (await s.execute(text("PRAGMA journal_mode"))).scalar() == "wal"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_hub_migrations_from_empty_match_the_models(tmp_path, backend):
    import asyncio

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy.ext.asyncio import create_async_engine

    import app.catalog.models
    import app.core.models
    import app.hub.models  # noqa: F401
    from tests import pg

    hub = only(HUB_TABLES)
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
        assert "kirana hub db-upgrade" in migrate.hub_pending_message(url)
        migrate.hub_upgrade(url)
        engine = create_engine(url)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), hub)
            tables = set(inspect(conn).get_table_names()) - {"alembic_version"}
        engine.dispose()
    else:
        if not pg.reachable():
            pytest.skip(pg.NOT_REACHABLE)
        url = pg.create_database()

        def compare(c):
            # hub_store_events is partitioned by month on PostgreSQL (h027): its
            # partitions are tables to the inspector, not the models' business.
            parts = {name for (name,) in c.exec_driver_sql(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid")}
            assert "hub_store_events_default" in parts
            skip = {"include_name": lambda name, type_, _parent: not (
                type_ == "table" and name in parts)}
            return (compare_metadata(MigrationContext.configure(c, opts=skip), hub),
                    set(inspect(c).get_table_names()) - {"alembic_version"} - parts)

        async def check():
            engine = create_async_engine(url)
            async with engine.connect() as conn:
                found = await conn.run_sync(compare)
            await engine.dispose()
            return found

        try:
            diff, tables = asyncio.run(check())
        finally:
            pg.drop_database(url)
    assert tables == HUB_TABLES
    assert diff == []
    if backend == "sqlite":
        assert migrate.hub_pending_message(url) is None
