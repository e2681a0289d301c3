from __future__ import annotations

import sqlite3

from sqlalchemy import create_engine, inspect

from app.core import migrate
from app.core.db import Base, sqlite_url


def test_migrations_from_empty_match_the_models(tmp_path):
    import app.catalog.models  # noqa: F401
    import app.core.models  # noqa: F401
    import app.stock.models  # noqa: F401
    import app.sync.models  # noqa: F401

    path = tmp_path / "store.db"
    assert "run `kirana db upgrade" in migrate.pending_message(path)
    migrate.upgrade(path)
    assert migrate.pending_message(path) is None
    engine = create_engine(sqlite_url(path, "pysqlite"))
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set(Base.metadata.tables)
    for name, table in Base.metadata.tables.items():
        columns = {c["name"] for c in inspect(engine).get_columns(name)}
        assert columns == {c.name for c in table.columns}, name
    engine.dispose()
    # No drift: autogenerate against the migrated database finds nothing to do.
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(sqlite_url(path, "pysqlite"))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
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
