"""TOTP keys and channels' webhook secrets are sealed at rest (AES-GCM, key from the
secret file; app/core/sealing.py, app/hub/sealing.py), on SQLite and PostgreSQL: the
raw row holds no secret, secrets written before are sealed at start (by two processes
at once too), a changed value or another secret file is refused, never passed."""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import threading

import pyotp
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text, update

from app.core.models import AuditLog, User
from app.core.sealing import PREFIX, Unsealable, seal, sealing_key, unseal
from app.core.secret_file import SECRET_NAME, attach_pepper
from app.hub import accounts, sealing, webhooks
from app.hub.db import open_hub_database
from app.hub.models import HubChannel, HubSetting, HubWebhook
from tests.hub.conftest import ENROLLED, add_hub_user, sign_in
from tests.hub.test_hub_sign_in import code_step, password_step, signed_in
from tests.hub.test_routing import KORAMANGALA, incoming, setup_stores


async def raw(db, sql: str, **params):
    """A value as the database holds it (no model, no sealing code in between)."""
    async with db.read() as s:
        return (await s.execute(text(sql), params)).scalar()


async def raw_totp(db, name: str) -> str:
    return await raw(db, "SELECT totp_secret FROM users WHERE name = :n", n=name)


async def raw_webhook_secret(db, channel: str) -> str:
    return await raw(db, "SELECT webhook_secret FROM hub_channels WHERE name = :n", n=channel)


def tampered(value: str) -> str:
    box = bytearray(base64.b64decode(value[len(PREFIX):]))
    box[20] ^= 0x01  # one bit of the ciphertext
    return PREFIX + base64.b64encode(bytes(box)).decode()


async def set_raw(db, table: str, column: str, key: str, ident: str, value: str) -> None:
    async with db.write() as s:
        await s.execute(text(f"UPDATE {table} SET {column} = :v WHERE {key} = :k"),
                        {"v": value, "k": ident})


def test_a_sealed_value_opens_only_with_its_key_and_place():
    key, other = sealing_key(b"a" * 32), sealing_key(b"b" * 32)
    box = seal(key, "JBSWY3DPEHPK3PXP", "users.totp_secret:u1")
    assert box.startswith("s1:") and "JBSWY3DPEHPK3PXP" not in box
    assert box != seal(key, "JBSWY3DPEHPK3PXP", "users.totp_secret:u1")  # fresh nonce
    assert unseal(key, box, "users.totp_secret:u1") == "JBSWY3DPEHPK3PXP"
    assert unseal(key, "JBSWY3DPEHPK3PXP", "users.totp_secret:u1") == "JBSWY3DPEHPK3PXP"
    for bad_key, place, value in ((other, "users.totp_secret:u1", box),
                                  (key, "users.totp_secret:u2", box),
                                  (key, "users.totp_secret:u1", tampered(box)),
                                  (key, "users.totp_secret:u1", box[:-8]),
                                  (key, "users.totp_secret:u1", "s1:not base64!"),
                                  (key, "users.totp_secret:u1", "s1:" + "A" * 20)):
        with pytest.raises(Unsealable):
            unseal(bad_key, value, place)


async def test_a_totp_key_is_sealed_at_rest_and_sign_in_still_works(hub_client, hub_db):
    stored = await raw_totp(hub_db, "Priya")
    secret = ENROLLED["Priya"].secret
    assert stored.startswith("s1:") and secret not in stored and len(stored) == 83
    # The QR page shows the key itself, and its code signs in.
    first = await password_step(hub_client)
    shown = first.text.split('data-testid="totp-secret">')[1].split("<")[0].replace(" ", "")
    assert shown == secret
    assert (await code_step(hub_client, ENROLLED["Priya"].code())).status_code in (200, 303)
    assert await signed_in(hub_client)
    # A new key (a lost phone) is sealed too.
    _user, new = await accounts.reset_totp(hub_db, "Omar")
    assert (await raw_totp(hub_db, "Omar")).startswith("s1:")
    assert new not in await raw_totp(hub_db, "Omar")


async def test_a_webhook_secret_is_sealed_at_rest_and_calls_are_still_signed(hub_db, hub_cfg):
    await setup_stores(hub_db, {"D2": 10})
    _key, secret = await webhooks.add_channel(hub_db, "webshop", "http://127.0.0.1:9/hook")
    stored = await raw_webhook_secret(hub_db, "webshop")
    assert stored.startswith("s1:") and secret not in stored and len(stored) == 107
    from app.hub import placement

    await placement.take_order(hub_db, hub_cfg, incoming("W-1", at=KORAMANGALA,
                                                         pincode="560034"))
    calls = []

    async def post(url, body, headers):
        calls.append((body, headers))
        return 200

    assert await webhooks.deliver_webhooks(hub_db, post) == 1
    [(body, headers)] = calls
    assert headers["X-Kirana-Signature"] == webhooks.signature(secret, body)


async def test_secrets_written_before_sealing_work_and_are_sealed_at_start(
        hub_app, hub_db, hub_cfg):
    """A hub upgraded to h011: its keys and secrets are still in clear until it starts."""
    await setup_stores(hub_db, {"D2": 10})
    await add_hub_user(hub_db, "Priya", "admin")
    await add_hub_user(hub_db, "Omar", "manager")
    _key, channel_secret = await webhooks.add_channel(hub_db, "webshop", "http://x.example/")
    priya = ENROLLED["Priya"].secret
    async with hub_db.read() as s:
        priya_id = await s.scalar(select(User.id).where(User.name == "Priya"))
    await set_raw(hub_db, "users", "totp_secret", "id", priya_id, priya)
    await set_raw(hub_db, "hub_channels", "webhook_secret", "name", "webshop", channel_secret)
    # Read in clear by a process that has not sealed yet (hub_db: no start ran on it).
    user = await accounts.check_code(hub_db, hub_cfg, priya_id, ENROLLED["Priya"].code(),
                                     "device-1", "203.0.113.9")
    assert user.name == "Priya"
    async with hub_db.read() as s:
        channel = await s.get(HubChannel, "webshop")
    assert webhooks._signing_key(hub_db, channel) == channel_secret

    assert await sealing.seal_at_start(hub_db) == 2
    assert (await raw_totp(hub_db, "Priya")).startswith("s1:")
    assert priya not in await raw_totp(hub_db, "Priya")
    sealed_channel = await raw_webhook_secret(hub_db, "webshop")
    assert sealed_channel.startswith("s1:") and channel_secret not in sealed_channel
    assert await sealing.seal_at_start(hub_db) == 0  # again: nothing left, nothing changed
    assert await raw_webhook_secret(hub_db, "webshop") == sealed_channel
    async with hub_db.read() as s:
        audit = list(await s.scalars(select(AuditLog.detail)
                                     .where(AuditLog.action == "secrets_sealed")))
        channel = await s.get(HubChannel, "webshop")
    assert audit == ["2 TOTP keys and webhook secrets sealed with the secret file"]
    assert webhooks._signing_key(hub_db, channel) == channel_secret
    # The hub starts (nothing left to seal) and the same key signs in, sealed.
    async with AsyncTestClient(app=hub_app) as client:
        await sign_in(client, "Priya")
        assert await signed_in(client)


async def test_a_key_put_in_clear_after_the_hub_sealed_is_refused(hub_client, hub_db, caplog):
    """The hub sealed everything at its start: a key in clear now was written to the
    database directly (a key someone knows, put into an admin's row). It is refused by
    the running hub, and a later start neither seals nor accepts it."""
    async with hub_db.read() as s:
        priya_id = await s.scalar(select(User.id).where(User.name == "Priya"))
    known = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    await set_raw(hub_db, "users", "totp_secret", "id", priya_id, known)
    first = await password_step(hub_client)
    assert known not in first.text.replace(" ", "")  # not offered for enrolment either
    with caplog.at_level(logging.ERROR, logger="kirana.hub"):
        response = await code_step(hub_client, pyotp.TOTP(known).now())
    assert response.status_code == 401 and "cannot read your authenticator key" in response.text
    assert not await signed_in(hub_client)
    assert "stored in clear, after this hub sealed its secrets at start" in caplog.text
    # Another hub process starting now: not sealed (that would make it good), refused.
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="kirana.hub"):
        assert await sealing.seal_at_start(hub_db) == 0
    assert "authenticator key of Priya is stored in clear, but this hub sealed" in caplog.text
    assert await raw_totp(hub_db, "Priya") == known
    with pytest.raises(Unsealable, match="stored in clear"):
        sealing.open_totp(hub_db, priya_id, known)


async def test_a_changed_or_moved_key_is_refused_with_the_way_out(hub_client, hub_db, caplog):
    omar_sealed = await raw_totp(hub_db, "Omar")
    async with hub_db.read() as s:
        ids = dict((await s.execute(select(User.name, User.id))).all())
    # Omar's sealed key copied into Priya's row does not open there.
    await set_raw(hub_db, "users", "totp_secret", "id", ids["Priya"], omar_sealed)
    await password_step(hub_client)
    with caplog.at_level(logging.ERROR, logger="kirana.hub"):
        response = await code_step(hub_client, ENROLLED["Omar"].code())
    assert response.status_code == 401
    assert "cannot read your authenticator key" in response.text
    assert "kirana hub reset-totp" in response.text and not await signed_in(hub_client)
    assert "hub user Priya" in caplog.text
    # One bit changed: refused too.
    await set_raw(hub_db, "users", "totp_secret", "id", ids["Omar"], tampered(omar_sealed))
    hub_client.cookies.clear()
    await password_step(hub_client, "Omar")
    response = await code_step(hub_client, ENROLLED["Omar"].code())
    assert response.status_code == 401 and "cannot read your authenticator key" in response.text
    # At start both are named in the log; the hub still starts (other secrets open).
    await webhooks.add_channel(hub_db, "webshop")
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="kirana.hub"):
        assert await sealing.seal_at_start(hub_db) == 0
    assert "authenticator key of Priya does not open" in caplog.text
    assert "authenticator key of Omar does not open" in caplog.text
    # A new key is the way out.
    _user, ENROLLED["Omar"].secret = await accounts.reset_totp(hub_db, "Omar")
    hub_client.cookies.clear()
    await sign_in(hub_client, "Omar")
    assert await signed_in(hub_client)


async def test_a_changed_webhook_secret_fails_the_call_and_says_why(hub_db, hub_cfg):
    await setup_stores(hub_db, {"D2": 10})
    await webhooks.add_channel(hub_db, "webshop", "http://127.0.0.1:9/hook")
    stored = await raw_webhook_secret(hub_db, "webshop")
    await set_raw(hub_db, "hub_channels", "webhook_secret", "name", "webshop", tampered(stored))
    from app.hub import placement

    await placement.take_order(hub_db, hub_cfg, incoming("W-1", at=KORAMANGALA,
                                                         pincode="560034"))
    calls = []

    async def post(url, body, headers):
        calls.append(headers)
        return 200

    assert await webhooks.deliver_webhooks(hub_db, post) == 0 and calls == []
    async with hub_db.read() as s:
        [hook] = list(await s.scalars(select(HubWebhook)))
    assert hook.delivered_at is None
    assert "webhook secret cannot be opened" in hook.last_error
    assert "rotate-webhook-secret" in hook.last_error


async def test_another_secret_file_stops_the_hub_at_start(hub_cfg, hub_db):
    from app.server import StartupError, create_hub_app

    await add_hub_user(hub_db, "Priya", "admin")
    await webhooks.add_channel(hub_db, "webshop")
    other = attach_pepper(open_hub_database(hub_cfg.database_url), hub_cfg.data_dir / "other")
    try:
        with pytest.raises(sealing.SealingError, match="none of the 2 sealed secrets"):
            await sealing.seal_at_start(other)
    finally:
        await other.dispose()
    (hub_cfg.data_dir / SECRET_NAME).write_text(secrets.token_hex(32))  # a wrong restore
    app = create_hub_app(hub_cfg, check_migrations=False)  # (its check needs no loop running)
    with pytest.raises(BaseException) as failed:  # raised in the lifespan's task group
        async with AsyncTestClient(app=app):
            pass
    assert failed.group_contains(StartupError, match="Restore the hub's secret.key from its "
                                                     "backup")


@pytest.mark.timeout(120)
async def test_two_hub_processes_seal_at_once(hub_db, hub_cfg):
    """Two hub processes starting together on a database upgraded with secrets in clear:
    each row is sealed once (by one or the other), neither fails, all still open."""
    clear = {}
    for i in range(12):
        user, secret = await accounts.create_hub_user(hub_db, f"Staff {i}", "manager",
                                                      "brass lantern monsoon")
        clear[("users", user.id)] = secret
    for i in range(6):
        _key, secret = await webhooks.add_channel(hub_db, f"shop{i}")
        clear[("hub_channels", f"shop{i}")] = secret
    for (table, ident), secret in clear.items():
        if table == "users":
            await set_raw(hub_db, "users", "totp_secret", "id", ident, secret)
        else:
            await set_raw(hub_db, "hub_channels", "webhook_secret", "name", ident, secret)

    barrier = threading.Barrier(2)
    results: list = []

    def process() -> None:
        async def run() -> int:
            db = attach_pepper(open_hub_database(hub_cfg.database_url), hub_cfg.data_dir)
            try:
                barrier.wait(30)
                return await sealing.seal_at_start(db)
            finally:
                await db.dispose()

        try:
            results.append(asyncio.run(run()))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=process) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        await asyncio.to_thread(t.join)
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == len(clear)  # each row sealed exactly once
    async with hub_db.read() as s:
        users = dict((await s.execute(select(User.id, User.totp_secret))).all())
        channels = dict((await s.execute(select(HubChannel.name, HubChannel.webhook_secret)))
                        .all())
        audits = list(await s.scalars(select(AuditLog.detail)
                                      .where(AuditLog.action == "secrets_sealed")))
    for (table, ident), secret in clear.items():
        stored = users[ident] if table == "users" else channels[ident]
        assert stored.startswith("s1:"), (table, ident)
        opened = (sealing.open_totp(hub_db, ident, stored) if table == "users"
                  else sealing.open_webhook_secret(hub_db, ident, stored))
        assert opened == secret
    assert 1 <= len(audits) <= 2
    async with hub_db.read() as s:
        marks = list(await s.scalars(select(HubSetting.key)
                                     .where(HubSetting.key == sealing.SEALED_MARK)))
    assert marks == ["secrets_sealed"]


async def test_sealed_values_fit_their_columns(hub_db):
    """PostgreSQL enforces VARCHAR lengths: the sealed texts (83, 107 characters) fit the
    columns h011 widened."""
    await add_hub_user(hub_db, "Priya", "admin")
    await webhooks.add_channel(hub_db, "webshop")
    async with hub_db.write() as s:
        await s.execute(update(HubChannel).values(
            webhook_secret=sealing.seal_webhook_secret(hub_db, "webshop", "x" * 64)))
    assert len(await raw_webhook_secret(hub_db, "webshop")) == 127
