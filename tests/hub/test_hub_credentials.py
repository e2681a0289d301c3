"""Credential life cycle at the hub (issue #13 item 9): a channel's key and webhook
secret are rotated or revoked, keys show their last use, and hub users are deactivated,
given a new password or a new authenticator key."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.core import credentials
from app.core.models import ApiKey
from app.hub import accounts, sealing, webhooks
from app.hub.models import HubChannel
from tests.hub.conftest import ENROLLED, ROOT, sign_in
from tests.hub.test_hub_sign_in import code_step, password_step, signed_in


async def test_a_channel_key_is_rotated_and_revoked_and_shows_its_last_use(hub_client, hub_db):
    key, _secret = await webhooks.add_channel(hub_db, "webshop")
    old = {"Authorization": f"Bearer {key}"}
    assert (await hub_client.get("/api/v1/orders/nope", headers=old)).status_code == 404
    async with hub_db.read() as s:
        assert (await s.scalar(select(ApiKey).where(ApiKey.name == "webshop"))).last_used_at
    _row, new_key = await credentials.rotate_api_key(hub_db, "webshop")
    assert (await hub_client.get("/api/v1/orders/nope", headers=old)).status_code == 401
    new = {"Authorization": f"Bearer {new_key}"}
    assert (await hub_client.get("/api/v1/orders/nope", headers=new)).status_code == 404
    await credentials.revoke_api_key(hub_db, "webshop")
    assert (await hub_client.get("/api/v1/orders/nope", headers=new)).status_code == 401


async def test_a_webhook_secret_is_rotated(hub_db):
    _key, first = await webhooks.add_channel(hub_db, "webshop", "https://shop.example/hook")
    second = await accounts.rotate_webhook_secret(hub_db, "webshop")
    async with hub_db.read() as s:
        stored = (await s.get(HubChannel, "webshop")).webhook_secret
    assert stored.startswith("s1:") and second not in stored  # sealed at rest
    assert sealing.open_webhook_secret(hub_db, "webshop", stored) == second != first
    body = b'{"status": "assigned"}'
    assert webhooks.signature(second, body) != webhooks.signature(first, body)


async def test_a_deactivated_hub_user_is_signed_out_at_once(hub_client, hub_db):
    await sign_in(hub_client, "Omar")
    assert await signed_in(hub_client)
    await credentials.set_active(hub_db, False, name="Omar")
    assert not await signed_in(hub_client)
    again = await password_step(hub_client, "Omar")
    assert again.status_code == 401


async def test_a_lost_phone_gets_a_new_key_and_the_old_codes_stop(hub_client, hub_db):
    await sign_in(hub_client, "Omar")
    old = ENROLLED["Omar"]
    await hub_client.post("/logout", data={"_csrf_token": hub_client.cookies.get("csrftoken")})
    _user, secret = await accounts.reset_totp(hub_db, "Omar")
    page = await password_step(hub_client, "Omar")
    assert 'data-testid="totp-qr"' in page.text  # enrol again
    refused = await code_step(hub_client, old.code())
    assert refused.status_code == 401 and not await signed_in(hub_client)
    import pyotp

    assert (await code_step(hub_client, pyotp.TOTP(secret).now())).status_code in (200, 303)
    assert await signed_in(hub_client)


async def test_a_new_password_replaces_the_old(hub_client, hub_db):
    with pytest.raises(ValueError):
        await accounts.reset_password(hub_db, "Omar", "omar omar omar")
    await accounts.reset_password(hub_db, "Omar", "tamarind kettle orbit")
    assert (await password_step(hub_client, "Omar")).status_code == 401
    fresh = await password_step(hub_client, "Omar", "tamarind kettle orbit")
    assert 'name="code"' in fresh.text


def test_hub_commands(tmp_path, hub_sqlite_template):
    from app.cli import main

    text = (ROOT / "store_config" / "hub.toml").read_text()
    text = text.replace('database_path = "../var/hub/hub.db"', 'database_path = "hub.db"')
    text = text.replace('data_dir = "../var/hub"', 'data_dir = "var"')
    (tmp_path / "hub.toml").write_text(text)
    shutil.copy(hub_sqlite_template, tmp_path / "hub.db")
    config = str(tmp_path / "hub.toml")
    run = CliRunner().invoke
    out = run(main, ["hub", "user", "--config", config, "Kiran", "manager", "--password-stdin"],
              input="password12345\n")
    assert out.exit_code != 0 and "common passwords" in out.output
    out = run(main, ["hub", "user", "--config", config, "Kiran", "manager", "--password-stdin"],
              input="brass lantern monsoon\n")
    assert out.exit_code == 0 and "TOTP secret:" in out.output and "otpauth://" in out.output
    out = run(main, ["hub", "add-channel", "--config", config, "webshop"])
    assert out.exit_code == 0, out.output
    for args in (["users"], ["user-deactivate", "Kiran"], ["user-activate", "Kiran"],
                 ["reset-totp", "Kiran"], ["channel-keys"], ["rotate-channel-key", "webshop"],
                 ["rotate-webhook-secret", "webshop"], ["revoke-channel-key", "webshop"]):
        out = run(main, ["hub", args[0], "--config", config, *args[1:]])
        assert out.exit_code == 0, (args, out.output)
    out = run(main, ["hub", "reset-password", "--config", config, "Kiran", "--password-stdin"],
              input="tamarind kettle orbit\n")
    assert out.exit_code == 0, out.output
    listed = run(main, ["hub", "channel-keys", "--config", config]).output
    assert "webshop" in listed and "revoked" in listed


async def test_the_people_page_shows_last_use_and_rotates_keys(hub_client, hub_db):
    from tests.conftest import csrf_of

    key, _secret = await webhooks.add_channel(hub_db, "webshop")
    await hub_client.get("/api/v1/orders/nope", headers={"Authorization": f"Bearer {key}"})
    await sign_in(hub_client, "Priya")
    page = (await hub_client.get("/hub/people")).text
    row = page.split('data-key="webshop"')[1].split("</tr>")[0]
    assert "never" not in row  # used just now
    assert "never" not in page.split('data-user="Priya"')[1].split("</tr>")[0]
    rotated = await hub_client.post("/hub/channels/webshop/rotate-key",
                                    data={"_csrf_token": csrf_of(hub_client)})
    assert rotated.headers["cache-control"] == "no-store"
    assert 'data-testid="shown-once"' in rotated.text and "kir_" in rotated.text
    old = await hub_client.get("/api/v1/orders/nope", headers={"Authorization": f"Bearer {key}"})
    assert old.status_code == 401
    omar = (await hub_client.get("/hub/people")).text
    assert 'data-user="Omar"' in omar


async def test_managers_may_not_open_the_people_page_but_change_their_password(hub_client):
    from tests.conftest import csrf_of

    await sign_in(hub_client, "Omar")
    assert (await hub_client.get("/hub/people")).status_code == 403
    wrong = await hub_client.post("/account/password", data={
        "old": "not my password", "new": "tamarind kettle orbit",
        "_csrf_token": csrf_of(hub_client)})
    assert wrong.status_code == 400 and "current password is wrong" in wrong.text
    done = await hub_client.post("/account/password", data={
        "old": "copper kettle evening", "new": "tamarind kettle orbit",
        "_csrf_token": csrf_of(hub_client)})
    assert "Your password is changed" in done.text


async def test_a_new_password_or_key_ends_the_sessions_signed_in_with_the_old(hub_client,
                                                                             hub_db):
    """An account taken over: the admin resets its password and authenticator key, but
    the intruder's session went on working until its idle or age limit (ASVS 3.3.3)."""
    await sign_in(hub_client, "Omar")
    await accounts.reset_password(hub_db, "Omar", "tamarind kettle orbit")
    assert not await signed_in(hub_client)
    ENROLLED["Omar"].password = "tamarind kettle orbit"
    await sign_in(hub_client, "Omar")
    await accounts.reset_totp(hub_db, "Omar")
    assert not await signed_in(hub_client)


async def test_changing_ones_own_password_keeps_this_session(hub_client):
    await sign_in(hub_client, "Omar")
    done = await hub_client.post("/account/password", data={
        "old": ENROLLED["Omar"].password, "new": "tamarind kettle orbit",
        "_csrf_token": hub_client.cookies.get("csrftoken")})
    assert "Your password is changed" in done.text
    assert await signed_in(hub_client)


async def test_a_session_opened_before_a_reset_and_unused_since_is_ended(hub_app, hub_db):
    """The intruder signs in, does not follow the redirect, and waits for the reset."""
    from litestar.testing import AsyncTestClient

    from tests.conftest import csrf_of
    from tests.hub.conftest import add_hub_user

    await add_hub_user(hub_db, "Omar", "manager")
    async with AsyncTestClient(app=hub_app) as client:
        await client.get("/login")
        await client.post("/login", data={"name": "Omar", "password": ENROLLED["Omar"].password,
                                          "next": "/", "_csrf_token": csrf_of(client)})
        done = await client.post("/login/code", data={"code": ENROLLED["Omar"].code(),
                                                      "_csrf_token": csrf_of(client)},
                                 follow_redirects=False)
        assert done.status_code == 303
        await accounts.reset_password(hub_db, "Omar", "tamarind kettle orbit")
        assert (await client.get("/", follow_redirects=False)).status_code != 200


def test_the_hub_can_be_told_its_reverse_proxy(tmp_path, hub_sqlite_template, monkeypatch):
    """docs/security.md says to run behind a proxy with --proxy-headers and
    --forwarded-allow-ips, but `kirana hub` ran uvicorn with proxy_headers=False and no way
    to change it: every request had the proxy's address, so the per-address throttle
    locked everybody together. Off unless asked; then only for the named proxy."""
    import uvicorn

    from app.cli import main

    text = (ROOT / "store_config" / "hub.toml").read_text()
    text = text.replace('database_path = "../var/hub/hub.db"', 'database_path = "hub.db"')
    text = text.replace('data_dir = "../var/hub"', 'data_dir = "var"')
    (tmp_path / "hub.toml").write_text(text)
    shutil.copy(hub_sqlite_template, tmp_path / "hub.db")
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    config = str(tmp_path / "hub.toml")
    out = CliRunner().invoke(main, ["hub", "--config", config])
    assert out.exit_code == 0, out.output
    assert calls[-1]["proxy_headers"] is False
    out = CliRunner().invoke(main, ["hub", "--config", config,
                                    "--forwarded-allow-ips", "10.0.0.2"])
    assert out.exit_code == 0, out.output
    assert calls[-1]["proxy_headers"] is True
    assert calls[-1]["forwarded_allow_ips"] == "10.0.0.2"
