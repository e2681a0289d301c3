"""Alembic, driven from code: `kirana db upgrade` and the start-up check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from app.core import resources
from app.core.db import Database, sqlite_url
from app.core.private_files import private_sqlite

MIGRATIONS_DIR = resources.MIGRATIONS


def alembic_config(db_path: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", sqlite_url(db_path, driver="pysqlite"))
    return cfg


class NewerDatabase(Exception):
    """The database was made by a newer Kirana: this code must not run on it, and an
    upgrade cannot take it back (Alembic would fail on a revision it does not know)."""


def _newer(where: str, current: str, head: str | None, command_hint: str) -> str:
    return (f"{where} was made by a newer Kirana (its schema is at migration {current}; "
            f"this version knows up to {head}). Install that version or a later one; "
            f"`{command_hint}` cannot take a database back to an older version.")


def upgrade(db_path: Path) -> None:
    current = current_revision(db_path)
    if current is not None and current not in known_revisions():
        raise NewerDatabase(_newer(str(db_path), current, cached_head(), "kirana db upgrade"))
    private_sqlite(db_path)
    engine = create_engine(sqlite_url(db_path, driver="pysqlite"))
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    engine.dispose()
    command.upgrade(alembic_config(db_path), "head")


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config(Path("unused.db"))).get_current_head()


def known_revisions() -> set[str]:
    """Every schema revision this code knows: a database at any other one was made by a
    newer Kirana (kirana restore refuses such a backup)."""
    script = ScriptDirectory.from_config(alembic_config(Path("unused.db")))
    return {rev.revision for rev in script.walk_revisions()}


def current_revision(db_path: Path) -> str | None:
    if not db_path.exists():
        return None
    engine = create_engine(sqlite_url(db_path, driver="pysqlite"))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


_HEAD: list[str | None] = []


def cached_head() -> str | None:
    """The code's head revision never changes while the process runs."""
    if not _HEAD:
        _HEAD.append(head_revision())
    return _HEAD[0]


async def readiness(db: Database) -> tuple[bool, dict[str, Any]]:
    """`/readyz`: the database answers and is at the code's migration (cheap enough to
    poll: no engine or Alembic set-up per call). Returns (ready, checks)."""
    checks: dict[str, Any] = {}
    current = None
    try:
        async with db.read() as s:
            current = await s.scalar(text("SELECT version_num FROM alembic_version"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    head = cached_head()
    if checks["database"] != "ok":
        checks["migrations"] = "unknown"
    elif current == head:
        checks["migrations"] = "current"
    else:
        checks["migrations"] = (f"database at {current}, code needs {head}: "
                                "run `kirana db upgrade --config FILE`")
    return checks["database"] == "ok" and current == head, checks


def pending_message(db_path: Path) -> str | None:
    """None when the database is at the code's head, else what to do about it."""
    current, head = current_revision(db_path), cached_head()
    if current == head:
        return None
    if current is None:
        return f"{db_path}: database is empty; run `kirana db upgrade --config FILE` first"
    if current not in known_revisions():
        return _newer(str(db_path), current, head, "kirana db upgrade")
    return (
        f"{db_path}: database is at migration {current}, the code needs {head}; "
        "run `kirana db upgrade --config FILE`"
    )


# --- the hub's schema (its own Alembic environment, SQLite or PostgreSQL) ------------

HUB_MIGRATIONS_DIR = resources.HUB_MIGRATIONS


def _hub_alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HUB_MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", _sync_sqlite(url))
    return cfg


def _sync_sqlite(url: str) -> str:
    return url.replace("sqlite:///", "sqlite+pysqlite:///", 1) if url.startswith(
        "sqlite:///") else url


def hub_known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(_hub_alembic_config("sqlite:///unused.db"))
    return {rev.revision for rev in script.walk_revisions()}


def hub_upgrade(url: str) -> None:
    current = hub_current_revision(url)
    if current is not None and current not in hub_known_revisions():
        raise NewerDatabase(_newer("the hub database " + url.split("@")[-1], current,
                                   hub_head(), "kirana hub db-upgrade"))
    if url.startswith("sqlite:///"):
        private_sqlite(Path(url.removeprefix("sqlite:///")))
        engine = create_engine(_sync_sqlite(url))
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        engine.dispose()
    command.upgrade(_hub_alembic_config(url), "head")


def hub_current_revision(url: str) -> str | None:
    if url.startswith("sqlite:///"):
        if not Path(url.removeprefix("sqlite:///")).exists():
            return None
        engine = create_engine(_sync_sqlite(url))
        try:
            with engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        finally:
            engine.dispose()
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine

    async def current() -> str | None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda c: MigrationContext.configure(c).get_current_revision())
        finally:
            await engine.dispose()

    return asyncio.run(current())


def hub_pending_message(url: str) -> str | None:
    head = ScriptDirectory.from_config(_hub_alembic_config(url)).get_current_head()
    current = hub_current_revision(url)
    if current == head:
        return None
    where = url.split("@")[-1]  # never print a password
    if current is None:
        return f"hub database {where} is empty; run `kirana hub db-upgrade --config FILE` first"
    if current not in hub_known_revisions():
        return _newer(f"hub database {where}", current, head, "kirana hub db-upgrade")
    return (f"hub database {where} is at migration {current}, the code needs {head}; "
            "run `kirana hub db-upgrade --config FILE`")


def hub_head() -> str | None:
    return ScriptDirectory.from_config(_hub_alembic_config("sqlite:///unused.db")).get_current_head()
