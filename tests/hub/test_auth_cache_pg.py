"""A PostgreSQL hub keeps API key and user rows between requests (issue #15), and still
stops a revoked key (migration h019's NOTIFY, PgDatabase.data_version).

Every channel order used to read its key's row first: a round trip on every order. Now
a hub process keeps the row until users or api_keys change anywhere. These tests pin
what must never go wrong with that: a change made by another connection (plain SQL,
another process) bites as soon as PostgreSQL's notification arrives; one made through
this process bites at the very next request; while the LISTEN link is down nothing is
kept; and a row is never kept longer than AUTH_KEEP_SECONDS whatever was heard."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from app.core import auth, credentials
from app.hub import db as hub_db_module
from app.hub import webhooks


@pytest.fixture
def pg_only(hub_cfg):
    if not hub_cfg.database_url.startswith("postgresql"):
        pytest.skip("the PostgreSQL hub's key cache (SQLite has PRAGMA data_version)")
    return hub_cfg.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


class KeyReads:
    """Counts reads of an API key's row (the guard's KEY_ROW)."""

    def __init__(self, monkeypatch) -> None:
        self.n = 0
        original = auth.KEY_ROW.first

        async def counted(*args, **kwargs):
            self.n += 1
            return await original(*args, **kwargs)

        monkeypatch.setattr(auth.KEY_ROW, "first", counted)


async def _listening(app, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while app.state.db.data_version() is None:
        assert time.monotonic() < deadline, "the hub's LISTEN link never came up"
        await asyncio.sleep(0.02)


async def _until(check, within: float = 3.0):
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.01)


async def test_a_key_is_read_once_then_kept(pg_only, hub_app, hub_client, hub_db, monkeypatch):
    key, _secret = await webhooks.add_channel(hub_db, "webshop")
    headers = {"Authorization": f"Bearer {key}"}
    await _listening(hub_app)
    assert (await hub_client.get("/api/v1/orders/nope", headers=headers)).status_code == 404
    reads = KeyReads(monkeypatch)
    for _ in range(5):
        assert (await hub_client.get("/api/v1/orders/nope", headers=headers)).status_code == 404
    # one read after the first request's last-use write; one more only if the
    # 5-second window turned meanwhile (5 without the cache)
    assert reads.n <= 2


async def test_a_key_revoked_by_plain_sql_elsewhere_stops_when_the_notice_arrives(
        pg_only, hub_app, hub_client, hub_db):
    key, _secret = await webhooks.add_channel(hub_db, "webshop")
    headers = {"Authorization": f"Bearer {key}"}
    await _listening(hub_app)
    assert (await hub_client.get("/api/v1/orders/nope", headers=headers)).status_code == 404
    other = await asyncpg.connect(pg_only)  # not this process's writes: only the NOTIFY tells
    try:
        await other.execute("UPDATE api_keys SET revoked_at = '2026-12-01T00:00:00+00:00' "
                            "WHERE name = 'webshop'")
    finally:
        await other.close()
    started = time.monotonic()

    async def refused():
        return (await hub_client.get("/api/v1/orders/nope", headers=headers)).status_code == 401

    assert await _until(refused)
    assert time.monotonic() - started < 1.0  # the notice, not the 5-second bound


async def test_a_revoke_through_this_process_bites_at_the_very_next_request(
        pg_only, hub_app, hub_client, hub_db):
    key, _secret = await webhooks.add_channel(hub_db, "webshop")
    headers = {"Authorization": f"Bearer {key}"}
    await _listening(hub_app)
    for _ in range(3):
        assert (await hub_client.get("/api/v1/orders/nope", headers=headers)).status_code == 404
    await credentials.revoke_api_key(hub_db, "webshop")
    assert (await hub_client.get("/api/v1/orders/nope", headers=headers)).status_code == 401


async def test_nothing_is_kept_while_the_listen_link_is_down(pg_only, hub_app, hub_client,
                                                            hub_db, monkeypatch):
    key, _secret = await webhooks.add_channel(hub_db, "webshop")
    headers = {"Authorization": f"Bearer {key}"}
    await _listening(hub_app)
    waker = hub_app.state.waker
    monkeypatch.setattr(waker, "_hearing_auth", False)  # as between a drop and reconnecting
    assert hub_app.state.db.data_version() is None
    reads = KeyReads(monkeypatch)
    for _ in range(3):
        assert (await hub_client.get("/api/v1/orders/nope", headers=headers)).status_code == 404
    assert reads.n == 3


async def test_the_listen_link_dropped_by_the_server_comes_back_and_forgets_kept_rows(
        pg_only, hub_app, hub_client, hub_db):
    await webhooks.add_channel(hub_db, "webshop")
    await _listening(hub_app)
    before = hub_app.state.db.data_version()
    other = await asyncpg.connect(pg_only)
    try:
        await other.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                            "datname = current_database() AND query LIKE 'LISTEN%'")
    finally:
        await other.close()

    async def back():
        now = hub_app.state.db.data_version()
        return now is not None and now[0] != before[0]

    assert await _until(back, within=5.0)  # reconnected (1 s pause), version moved on


def test_no_row_is_kept_past_the_bound(monkeypatch):
    class Heard:
        def auth_version(self):
            return 7

    db = hub_db_module.PgDatabase.__new__(hub_db_module.PgDatabase)
    db.waker = Heard()  # type: ignore[assignment]
    clock = [1000.0]
    monkeypatch.setattr(hub_db_module.time, "monotonic", lambda: clock[0])
    first = db.data_version()
    clock[0] += hub_db_module.AUTH_KEEP_SECONDS
    assert db.data_version() != first
