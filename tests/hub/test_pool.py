"""The hub's PostgreSQL connection pool: sized from the config, small enough by default
for several hub processes under PostgreSQL's max_connections = 100, and a burst bigger
than the pool waits for a connection instead of failing."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import asyncpg
import pytest

from app.config import ConfigError, HubSection, parse_hub_config
from app.hub import placement
from app.hub.db import open_hub_database
from tests import pg
from tests.hub.test_routing import KORAMANGALA, incoming, setup_stores

ROOT = Path(__file__).resolve().parents[2]
# The example config without its db_* lines (each test sets its own).
HUB_TOML = "\n".join(line for line in (ROOT / "store_config" / "hub.toml").read_text()
                     .splitlines() if not line.startswith("db_"))


def hub_config(extra: str, url: str = ""):
    text = HUB_TOML.replace('database_url = ""', f'database_url = "{url}"\n{extra}')
    return parse_hub_config(text, source="hub.toml")


def test_the_pool_keys_are_read_and_bad_values_refused_plainly():
    cfg = hub_config("db_pool_size = 3\ndb_max_overflow = 0\ndb_pool_timeout_seconds = 5")
    example = parse_hub_config((ROOT / "store_config" / "hub.toml").read_text()).hub
    d = HubSection()  # the example config says what the defaults are
    assert (example.db_pool_size, example.db_max_overflow, example.db_pool_timeout_seconds) \
        == (d.db_pool_size, d.db_max_overflow, d.db_pool_timeout_seconds)
    assert (cfg.hub.db_pool_size, cfg.hub.db_max_overflow, cfg.hub.db_pool_timeout_seconds) \
        == (3, 0, 5)
    for bad, key in (("db_pool_size = 0", "hub.db_pool_size"),
                     ("db_pool_size = -2", "hub.db_pool_size"),
                     ("db_max_overflow = -1", "hub.db_max_overflow"),
                     ("db_pool_timeout_seconds = 0", "hub.db_pool_timeout_seconds"),
                     ('db_pool_size = "5"', "hub.db_pool_size")):
        with pytest.raises(ConfigError) as err:
            hub_config(bad)
        assert f"hub.toml: {key}: expected int" in str(err.value), str(err.value)


def test_the_default_pool_lets_four_hub_processes_fit_under_100_connections():
    """The documented rule: processes x (pool + overflow + 1 LISTEN) + 10 for people
    and tools stays below max_connections."""
    d = HubSection()
    assert 4 * (d.db_pool_size + d.db_max_overflow + 1) + 10 < 100


@pytest.fixture
def limited_role():
    """A fresh hub database and a login role allowed 5 connections: PostgreSQL refuses
    the 6th with "too many connections", as it does past max_connections."""
    if not pg.reachable():
        pytest.skip(pg.NOT_REACHABLE)
    url = pg.create_database()
    role = f"kirana_pool_{secrets.token_hex(4)}"
    dbname = url.rsplit("/", 1)[1]

    async def admin(*sql: str, db: str = "postgres") -> None:
        conn = await asyncpg.connect(pg.server_dsn(db))
        try:
            for statement in sql:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 5'))
    asyncio.run(admin(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"',
                      f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"', db=dbname))
    host = url.split("@", 1)[1]
    yield f"postgresql+asyncpg://{role}@{host}"
    pg.drop_database(url)
    asyncio.run(admin(f'DROP ROLE IF EXISTS "{role}"'))


async def test_a_burst_bigger_than_the_pool_waits_instead_of_failing(limited_role):
    """Two hub processes, each with a pool of 2 and no overflow, take 40 orders at once:
    every one is placed; none sees "too many connections"."""
    cfg = hub_config("db_pool_size = 2\ndb_max_overflow = 0\ndb_pool_timeout_seconds = 60",
                     limited_role)
    one, two = (open_hub_database(cfg.database_url, cfg.hub) for _ in range(2))
    try:
        await setup_stores(one, {"D2": 1000})
        orders = [incoming(f"B-{i}", at=KORAMANGALA, pincode="560034") for i in range(40)]
        placed = await asyncio.gather(*(placement.take_order(one if i % 2 else two, cfg, o)
                                        for i, o in enumerate(orders)))
        assert [p.order.status for p in placed] == ["assigned"] * 40
    finally:
        await one.dispose()
        await two.dispose()
