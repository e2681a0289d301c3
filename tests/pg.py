"""PostgreSQL for the hub tests: one fresh database per test, copied from a migrated
template (made once, under an advisory lock so parallel workers don't race).

KIRANA_TEST_PG (default postgresql://postgres@127.0.0.1:5432/postgres) says where;
where no server answers, the PostgreSQL variants are skipped with a loud message."""

from __future__ import annotations

import asyncio
import os
import secrets

import asyncpg

from app.core import migrate

ADMIN_DSN = os.environ.get("KIRANA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
_LOCK = 4711_0001
_reachable: list[bool] = []


def server_dsn(dbname: str) -> str:
    base = ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{dbname}"


def reachable() -> bool:
    if not _reachable:
        async def probe() -> bool:
            try:
                conn = await asyncpg.connect(ADMIN_DSN, timeout=3)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                return False
            await conn.close()
            return True

        _reachable.append(asyncio.run(probe()))
    return _reachable[0]


NOT_REACHABLE = (
    "\n" + "!" * 78 + "\n!! PostgreSQL is NOT reachable at " + ADMIN_DSN.split("@")[-1]
    + ": the hub's PostgreSQL tests are SKIPPED.\n!! Start PostgreSQL (or set KIRANA_TEST_PG) "
    "to run them.\n" + "!" * 78)


def _template_name() -> str:
    """Named after the migrations' contents: an edited migration gets a fresh template."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(migrate.HUB_MIGRATIONS_DIR.glob("versions/*.py")):
        digest.update(path.read_bytes())
    return f"kirana_hub_tpl_{migrate.hub_head()}_{digest.hexdigest()[:10]}"


async def _create(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK)
        try:
            template = _template_name()
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", template)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{template}"')
                url = "postgresql+asyncpg://" + server_dsn(template).split("://", 1)[1]
                await asyncio.to_thread(migrate.hub_upgrade, url)
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK)
    finally:
        await conn.close()


def create_database() -> str:
    """A fresh, migrated hub database; returns its SQLAlchemy URL."""
    name = f"kirana_t_{secrets.token_hex(6)}"
    asyncio.run(_create(name))
    return "postgresql+asyncpg://" + server_dsn(name).split("://", 1)[1]


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]

    async def drop() -> None:
        conn = await asyncpg.connect(ADMIN_DSN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())
