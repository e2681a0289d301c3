"""The guards keep the signed-in user and API key rows between requests (issue #15), yet a
deactivation, a role change or a revoked or rotated key bites at the very next request:
made in this process through the services, or by another connection or process (the
`kirana` CLI, the hub), mimicked here by a plain sqlite3 connection to the same file.
Each test first makes the guard see the row twice, so a kept row is what it would use."""

from __future__ import annotations

import contextlib
import sqlite3

from litestar.testing import AsyncTestClient

from app.core import credentials
from app.core.auth import create_api_key, fresh_user
from tests.conftest import STAFF, login


@contextlib.asynccontextmanager
async def signed_in(app, staff, role: str):
    async with AsyncTestClient(app=app) as client:
        response = await login(client, staff[role], STAFF[role][1])
        assert response.status_code in (200, 303), response.text
        for _ in range(2):
            assert (await client.get("/", follow_redirects=False)).status_code == 200
        yield client


def other_connection(cfg, sql: str, *params) -> None:
    """A write by another connection, as the CLI in another process makes it."""
    with contextlib.closing(sqlite3.connect(cfg.database_path)) as con:
        con.execute(sql, params)
        con.commit()


async def signed_out(client) -> bool:
    return (await client.get("/", follow_redirects=False)).status_code in (302, 303)


async def test_a_deactivation_through_the_service_bites_at_the_next_request(app, staff):
    async with signed_in(app, staff, "cashier") as cashier:
        await credentials.set_active(app.state.db, False, user_id=staff["cashier"])
        assert await signed_out(cashier)


async def test_a_deactivation_by_another_connection_bites_at_the_next_request(app, cfg, staff):
    async with signed_in(app, staff, "cashier") as cashier:
        other_connection(cfg, "UPDATE users SET active = 0 WHERE id = ?", staff["cashier"])
        assert await signed_out(cashier)


async def test_a_role_change_by_another_connection_bites_at_the_next_request(app, cfg, staff):
    async with signed_in(app, staff, "manager") as manager:
        assert (await manager.get("/staff")).status_code == 200
        other_connection(cfg, "UPDATE users SET role = 'cashier' WHERE id = ?",
                         staff["manager"])
        assert (await manager.get("/staff")).status_code == 403


async def test_a_pin_reset_by_another_connection_ends_the_session(app, cfg, staff):
    async with signed_in(app, staff, "cashier") as cashier:
        other_connection(cfg, "UPDATE users SET pin_hash = 'scrypt$reset' WHERE id = ?",
                         staff["cashier"])
        assert await signed_out(cashier)


async def api_key(app, client) -> dict[str, str]:
    _key, full = await create_api_key(app.state.db, "webshop", "stock:read")
    bearer = {"Authorization": f"Bearer {full}"}
    for _ in range(2):
        assert (await client.get("/api/v1/stock/NOPE", headers=bearer)).status_code == 404
    return bearer


async def test_a_key_revoked_through_the_service_stops_at_the_next_request(app, client):
    bearer = await api_key(app, client)
    await credentials.revoke_api_key(app.state.db, "webshop")
    assert (await client.get("/api/v1/stock/NOPE", headers=bearer)).status_code == 401


async def test_a_key_revoked_by_another_connection_stops_at_the_next_request(app, cfg, client):
    bearer = await api_key(app, client)
    other_connection(cfg, "UPDATE api_keys SET revoked_at = ? WHERE name = 'webshop'",
                     "2026-01-01T00:00:00.000000+00:00")
    assert (await client.get("/api/v1/stock/NOPE", headers=bearer)).status_code == 401


async def test_a_key_rotated_by_another_connection_stops_at_the_next_request(app, cfg, client):
    bearer = await api_key(app, client)
    other_connection(cfg, "UPDATE api_keys SET key_hash = ? WHERE name = 'webshop'", "0" * 64)
    assert (await client.get("/api/v1/stock/NOPE", headers=bearer)).status_code == 401


async def test_a_scope_narrowed_by_another_connection_bites_at_the_next_request(
        app, cfg, client):
    bearer = await api_key(app, client)
    other_connection(cfg, "UPDATE api_keys SET scope = 'orders:read' WHERE name = 'webshop'")
    assert (await client.get("/api/v1/stock/NOPE", headers=bearer)).status_code == 403


async def test_sessions_of_different_users_never_share_an_identity(app, staff):
    async with signed_in(app, staff, "cashier") as cashier, \
            signed_in(app, staff, "manager") as manager:
        for _ in range(3):
            assert "Hello, Meena" in (await manager.get("/")).text
            assert "Hello, Asha" in (await cashier.get("/")).text
            assert (await cashier.get("/staff")).status_code == 403
            assert (await manager.get("/staff")).status_code == 200


async def test_the_kept_row_is_that_users_own(app, staff):
    db = app.state.db
    for _ in range(2):
        rows = {role: await fresh_user(db, staff[role]) for role in STAFF}
        assert {role: (r.name, r.role) for role, r in rows.items() if r} == {
            role: (name, role) for role, (name, _pin) in STAFF.items()}
    assert await fresh_user(db, "no-such-user") is None


async def test_a_change_after_the_database_was_reopened_still_bites(app, staff):
    """Another client's shutdown disposes the app's database (its data_version connection
    too): a version from a new connection must not match one kept from the old."""
    async with signed_in(app, staff, "cashier") as cashier:
        async with AsyncTestClient(app=app):
            pass
        await credentials.set_active(app.state.db, False, user_id=staff["cashier"])
        assert await signed_out(cashier)
