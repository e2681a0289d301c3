"""Credential life cycle at a store (issue #13 item 9): deactivate, reset and change
PINs, revoke and rotate API keys, and each credential's last use on the Staff page."""

from __future__ import annotations

import contextlib
import re

from click.testing import CliRunner
from litestar.testing import AsyncTestClient

from app.core.auth import create_api_key
from tests.conftest import STAFF, csrf_of, login


@contextlib.asynccontextmanager
async def as_user(app, staff, role: str):
    """Another device, signed in as `role`."""
    async with AsyncTestClient(app=app) as client:
        response = await login(client, staff[role], STAFF[role][1])
        assert response.status_code in (200, 303), response.text
        yield client


async def post(client, path: str, **data):
    return await client.post(path, data={**data, "_csrf_token": csrf_of(client)})


async def test_deactivating_a_cashier_signs_them_out_everywhere(app, client, staff):
    async with as_user(app, staff, "cashier") as cashier, \
            as_user(app, staff, "manager") as manager:
        page = (await manager.get("/staff")).text
        assert re.search(r'data-user="Asha".*?\d{2} \w{3} \d{4}', page, re.S)  # last sign-in
        done = await post(manager, f"/staff/{staff['cashier']}/deactivate")
        assert done.status_code == 200 and "Deactivated" in done.text
        assert (await cashier.get("/", follow_redirects=False)).status_code in (302, 303)
        again = await login(client, staff["cashier"], STAFF["cashier"][1])
        assert again.status_code == 401
        await post(manager, f"/staff/{staff['cashier']}/activate")
        back = await login(client, staff["cashier"], STAFF["cashier"][1])
        assert back.status_code in (200, 303) and "Hello, Asha" in back.text


async def test_a_manager_resets_a_cashier_pin_but_not_an_admins(app, client, staff):
    async with as_user(app, staff, "manager") as manager:
        weak = await post(manager, f"/staff/{staff['cashier']}/reset-pin", pin="2580")
        assert weak.status_code == 400 and "easy to guess" in weak.text
        done = await post(manager, f"/staff/{staff['cashier']}/reset-pin", pin="6047")
        assert done.status_code == 200 and "New PIN set" in done.text
        assert (await login(client, staff["cashier"], STAFF["cashier"][1])).status_code == 401
        ok = await login(client, staff["cashier"], "6047")
        assert ok.status_code in (200, 303) and "Hello, Asha" in ok.text
        refused = await post(manager, f"/staff/{staff['admin']}/reset-pin", pin="6047")
        assert refused.status_code == 400 and "ask an admin" in refused.text
        assert (await client.get("/staff")).status_code == 403  # cashiers manage no one


async def test_anyone_changes_their_own_pin_with_the_old_one(client, login_as, staff):
    await login_as("picker")
    wrong = await post(client, "/account/pin", old_pin="9999", new_pin="6047")
    assert wrong.status_code == 400 and "current PIN is wrong" in wrong.text
    done = await post(client, "/account/pin", old_pin=STAFF["picker"][1], new_pin="6047")
    assert "Your PIN is changed" in done.text
    await client.post("/logout", data={"_csrf_token": csrf_of(client)})
    assert (await login(client, staff["picker"], "6047")).status_code in (200, 303)


async def test_api_keys_show_last_use_and_can_be_revoked_and_rotated(app, client, db, staff):
    _key, full = await create_api_key(db, "webshop", "stock:read")
    bearer = {"Authorization": f"Bearer {full}"}
    assert (await client.get("/api/v1/stock/NOPE", headers=bearer)).status_code == 404
    async with as_user(app, staff, "admin") as admin:
        page = (await admin.get("/staff")).text
        row = re.search(r'<tr data-key="webshop">.*?</tr>', page, re.S).group(0)
        assert "never" not in row  # last used just now
        rotated = await post(admin, "/staff/keys/webshop/rotate")
        new = re.search(r"<code>(kir_[^<]+)</code>", rotated.text).group(1)
        assert rotated.headers["cache-control"] == "no-store"
        assert (await client.get("/api/v1/stock/NOPE", headers=bearer)).status_code == 401
        fresh = {"Authorization": f"Bearer {new}"}
        assert (await client.get("/api/v1/stock/NOPE", headers=fresh)).status_code == 404
        await post(admin, "/staff/keys/webshop/revoke")
        assert (await client.get("/api/v1/stock/NOPE", headers=fresh)).status_code == 401
    async with as_user(app, staff, "manager") as manager:
        assert 'id="api-keys"' not in (await manager.get("/staff")).text  # admins only
        assert (await post(manager, "/staff/keys/webshop/rotate")).status_code == 403


async def test_the_last_admin_cannot_be_deactivated(app, staff, db):
    import pytest

    from app.core import credentials

    with pytest.raises(credentials.CredentialError, match="last active admin"):
        await credentials.set_active(db, False, user_id=staff["admin"])


def test_command_line_life_cycle(cfg, staff):
    from app.cli import main

    runner = CliRunner()
    config = cfg.source
    out = runner.invoke(main, ["user", "list", "--config", config])
    assert out.exit_code == 0 and "Asha" in out.output and "never" in out.output
    out = runner.invoke(main, ["user", "deactivate", "--config", config, "Asha"])
    assert out.exit_code == 0, out.output
    assert "(deactivated)" in runner.invoke(main, ["user", "list", "--config", config]).output
    out = runner.invoke(main, ["user", "reset-pin", "--config", config, "Ravi", "--pin", "1234"])
    assert out.exit_code != 0 and "easy to guess" in out.output
    out = runner.invoke(main, ["user", "reset-pin", "--config", config, "Ravi", "--pin", "6047"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(main, ["apikey", "create", "--config", config, "--name", "script",
                               "--scope", "stock:read"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(main, ["apikey", "rotate", "--config", config, "script"])
    assert out.exit_code == 0 and "kir_" in out.output
    out = runner.invoke(main, ["apikey", "revoke", "--config", config, "script"])
    assert out.exit_code == 0
    out = runner.invoke(main, ["apikey", "list", "--config", config])
    assert "script" in out.output and "revoked" in out.output


async def test_a_pin_reset_ends_the_sessions_signed_in_with_the_old_pin(app, client, staff,
                                                                       login_as):
    """A PIN seen over a shoulder: the manager resets it, but the session opened with it
    on another device went on working (ASVS 3.3.3). One's own change keeps one's own."""
    async with as_user(app, staff, "cashier") as intruder:
        async with as_user(app, staff, "manager") as manager:
            await post(manager, f"/staff/{staff['cashier']}/reset-pin", pin="6047")
        assert (await intruder.get("/", follow_redirects=False)).status_code in (302, 303)
    await login_as("picker")
    await post(client, "/account/pin", old_pin=STAFF["picker"][1], new_pin="6047")
    assert (await client.get("/orders", follow_redirects=False)).status_code == 200
