"""The hub's sign-in for a server on the internet (issue #13 item 6): a name and a
password (ASVS 2.1), then a TOTP code for managers and admins; no list of users on the
public page; a code is good once."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

import app.core.auth as auth_module
import app.hub.account_routes as account_routes
import app.hub.accounts as accounts_module
from app.core.clock import utcnow
from app.core.models import AuditLog, User
from app.core.passwords import PasswordPolicyError
from app.hub.accounts import create_hub_user
from tests.conftest import csrf_of
from tests.hub.conftest import ENROLLED, HUB_PASSWORDS, sign_in


async def password_step(client, name: str = "Priya", password: str | None = None):
    await client.get("/login")
    return await client.post("/login", data={
        "name": name, "password": password or HUB_PASSWORDS[name], "next": "/",
        "_csrf_token": csrf_of(client)})


async def code_step(client, code: str):
    return await client.post("/login/code", data={"code": code, "_csrf_token": csrf_of(client)})


async def signed_in(client) -> bool:
    return (await client.get("/", follow_redirects=False)).status_code == 200


async def test_the_public_page_lists_no_users_and_asks_for_a_password(hub_client):
    page = (await hub_client.get("/login")).text
    assert "Priya" not in page and "Omar" not in page
    assert "admin" not in page.lower().replace("kirana", "") or "tile-role" not in page
    assert 'name="user_id"' not in page and 'name="pin"' not in page
    assert 'type="password"' in page and 'autocomplete="username"' in page


async def test_a_pin_is_not_a_hub_password(hub_db):
    for weak in ("1470", "password1234", "Qwertyuiop12", "monsoon"):
        with pytest.raises(PasswordPolicyError):
            await create_hub_user(hub_db, "Kiran", "manager", weak)


async def test_the_password_alone_does_not_sign_in(hub_client):
    step1 = await password_step(hub_client)
    assert step1.status_code == 200 and 'name="code"' in step1.text
    assert not await signed_in(hub_client)
    wrong = await password_step(hub_client, password="brass lantern monsoons")
    assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
    unknown = await password_step(hub_client, name="Nobody", password="brass lantern monsoon")
    assert unknown.status_code == 401 and unknown.text.count("Wrong name or password") == 1


async def test_first_sign_in_shows_the_qr_to_enrol_and_then_never_again(hub_client, hub_db):
    first = await password_step(hub_client)
    assert 'data-testid="totp-qr"' in first.text
    secret = ENROLLED["Priya"].secret
    shown = first.text.split('data-testid="totp-secret">')[1].split("<")[0].replace(" ", "")
    assert shown == secret
    assert (await code_step(hub_client, ENROLLED["Priya"].code())).status_code in (200, 303)
    assert await signed_in(hub_client)
    async with hub_db.read() as s:
        user = await s.scalar(select(User).where(User.name == "Priya"))
    assert user.totp_confirmed_at is not None and user.last_login_at is not None
    hub_client.cookies.clear()
    again = await password_step(hub_client)
    assert 'name="code"' in again.text and "totp-qr" not in again.text and secret not in again.text


async def test_a_wrong_code_is_refused_and_counts_towards_the_lock(hub_client, hub_db):
    await password_step(hub_client)
    right = pyotp.TOTP(ENROLLED["Priya"].secret).now()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for attempt in range(4):
        response = await code_step(hub_client, wrong)
        assert response.status_code == 401 and "Wrong code" in response.text, attempt
        assert not await signed_in(hub_client)
    locked = await code_step(hub_client, wrong)
    assert locked.status_code == 429 and "Too many wrong tries" in locked.text
    # Locked: even the right code is not taken now, and the pending step is gone.
    assert (await code_step(hub_client, right)).status_code in (400, 429)
    assert not await signed_in(hub_client)
    async with hub_db.read() as s:
        failed = [a.action for a in await s.scalars(select(AuditLog))]
    assert failed.count("code_failed") == 5


async def test_a_replayed_code_is_refused(hub_client):
    """A code seen over a shoulder or copied from a log, used again within its 30 s."""
    await password_step(hub_client)
    code = ENROLLED["Priya"].code()
    assert (await code_step(hub_client, code)).status_code in (200, 303)
    await hub_client.post("/logout", data={"_csrf_token": csrf_of(hub_client)})
    assert not await signed_in(hub_client)
    await password_step(hub_client)
    replay = await code_step(hub_client, code)
    assert replay.status_code == 401 and "used already" in replay.text
    assert not await signed_in(hub_client)
    older = pyotp.TOTP(ENROLLED["Priya"].secret).generate_otp(ENROLLED["Priya"].last_step - 1)
    assert (await code_step(hub_client, older)).status_code == 401  # an earlier step too


async def test_the_code_must_follow_the_password_soon(hub_client, monkeypatch):
    await password_step(hub_client)
    later = utcnow() + timedelta(minutes=6)
    monkeypatch.setattr(account_routes, "utcnow", lambda: later)
    response = await code_step(hub_client, ENROLLED["Priya"].code())
    assert response.status_code == 400 and "Sign in again" in response.text
    assert not await signed_in(hub_client)


async def test_a_code_with_no_password_step_signs_nobody_in(hub_client):
    await hub_client.get("/login")
    response = await code_step(hub_client, ENROLLED["Priya"].code())
    assert response.status_code == 400 and not await signed_in(hub_client)


async def test_managers_sign_in_with_their_own_code(hub_client):
    await sign_in(hub_client, "Omar")
    assert await signed_in(hub_client)


async def test_demo_mode_without_codes_says_so_on_every_page(hub_cfg, hub_db):
    import msgspec
    from litestar.testing import AsyncTestClient

    from app.server import create_hub_app
    from tests.hub.conftest import add_hub_user

    cfg = msgspec.structs.replace(
        hub_cfg, security=msgspec.structs.replace(hub_cfg.security, require_totp=False))
    await add_hub_user(hub_db, "Priya", "admin")
    async with AsyncTestClient(app=create_hub_app(cfg, check_migrations=False)) as client:
        login = (await client.get("/login")).text
        assert 'data-testid="security-banner"' in login and "needs no code" in login
        done = await password_step(client)
        assert done.status_code in (200, 303) and await signed_in(client)
        assert "needs no code" in (await client.get("/")).text


def test_module_clocks_are_the_ones_the_tests_move():
    assert accounts_module.utcnow is auth_module.utcnow


async def test_a_user_from_before_codes_is_not_let_in_on_the_password_alone(hub_client, hub_db):
    """A hub upgraded from PIN sign-in: the old user has a hash but no authenticator key.
    The password must not be enough, nor may it choose the second factor."""
    from app.core.auth import create_user

    await create_user(hub_db, "Old Timer", "manager", "5093")
    response = await password_step(hub_client, "Old Timer", "5093")
    assert response.status_code == 403 and "kirana hub reset-totp" in response.text
    assert 'name="code"' not in response.text and not await signed_in(hub_client)


async def test_one_code_sent_twice_at_once_signs_in_once(hub_db, hub_cfg):
    """Two sign-ins racing with one code (seen over a shoulder and typed at once on a
    second machine): on PostgreSQL both read "no step used yet" before either wrote, so
    both got in. Exactly one may."""
    import asyncio

    from app.core.auth import LoginError
    from tests.hub.conftest import add_hub_user

    user = await add_hub_user(hub_db, "Priya", "admin")
    code = ENROLLED["Priya"].code()

    async def attempt(device: str):
        try:
            return await accounts_module.check_code(hub_db, hub_cfg, user.id, code,
                                                    device, "203.0.113.9")
        except LoginError:
            return None

    results = await asyncio.gather(*(attempt(f"device-{i}") for i in range(4)))
    assert sum(r is not None for r in results) == 1, results


async def test_wrong_passwords_sent_at_once_are_each_counted(hub_db, hub_cfg):
    """A guesser firing wrong passwords in parallel (or several hub processes taking
    them): on PostgreSQL the first tries raced to create the same throttle row (a 500,
    the try not counted) and later ones read the same count and wrote it back (lost
    updates), so parallel guessing got more than five tries per lock. Every try counts."""
    import asyncio

    from sqlalchemy import select as select_

    from app.core.auth import LoginError
    from app.core.models import LoginThrottle
    from tests.hub.conftest import add_hub_user

    await add_hub_user(hub_db, "Priya", "admin")

    async def guess(n: int) -> str:
        try:
            await accounts_module.check_password(hub_db, hub_cfg, "Priya", f"wrong guess {n}",
                                                 f"device-{n}", "203.0.113.9", final=False)
        except LoginError as exc:
            return str(exc)
        return "in"

    answers = await asyncio.gather(*(guess(n) for n in range(4)))
    assert all("Wrong name or password" in a for a in answers), answers
    async with hub_db.read() as s:
        row = await s.scalar(select_(LoginThrottle).where(
            LoginThrottle.key == "source:203.0.113.9"))
    assert row is not None and row.failures == 4


async def test_a_lock_does_not_tell_which_names_are_users(hub_db, hub_cfg):
    """The hub lists no users, but only a real name could be locked: five wrong tries
    from five addresses, then a sixth answered "Too many wrong tries for this account"
    (429) for a user and "Wrong name or password" (401) for a name nobody has."""
    from app.core.auth import LoginError
    from tests.hub.conftest import add_hub_user

    await add_hub_user(hub_db, "Priya", "admin")

    async def answer(name: str, n: int) -> tuple[str, int]:
        try:
            await accounts_module.check_password(hub_db, hub_cfg, name, "wrong guess here",
                                                 f"device-{name}-{n}", f"198.51.100.{n}",
                                                 final=False)
        except LoginError as exc:
            return str(exc), exc.locked_seconds
        return "in", 0

    for n in range(5):
        await answer("Priya", n)
        await answer("Nobody", n)
    real, fake = await answer("Priya", 9), await answer("Nobody", 9)
    assert real[0] == fake[0] and bool(real[1]) == bool(fake[1]), (real, fake)


async def test_the_password_step_does_not_clear_the_count_of_wrong_codes(hub_db, hub_cfg):
    """Someone who has the password guesses codes: four wrong codes, the password again
    (which cleared the count), four more, and so on without end through 10^6 codes. Only
    a completed sign-in may clear it."""
    from app.core.auth import LoginError
    from tests.hub.conftest import add_hub_user

    user = await add_hub_user(hub_db, "Priya", "admin")
    right = ENROLLED["Priya"]
    locked = False
    for round_ in range(3):
        try:
            await accounts_module.check_password(hub_db, hub_cfg, "Priya", right.password,
                                                 "device-x", "203.0.113.9", final=False)
        except LoginError as exc:
            locked = locked or bool(exc.locked_seconds)
        for n in range(4):
            try:
                await accounts_module.check_code(hub_db, hub_cfg, user.id,
                                                 f"{round_ * 4 + n:06d}", "device-x",
                                                 "203.0.113.9")
            except LoginError as exc:
                locked = locked or bool(exc.locked_seconds)
    assert locked


async def test_a_completed_sign_in_clears_the_count_of_wrong_codes(hub_db, hub_cfg):
    """A few wrong codes now and then must not add up to a lock."""
    from app.core.auth import LoginError
    from tests.hub.conftest import add_hub_user

    user = await add_hub_user(hub_db, "Priya", "admin")
    right = ENROLLED["Priya"]
    for _ in range(2):
        await accounts_module.check_password(hub_db, hub_cfg, "Priya", right.password,
                                             "device-x", "203.0.113.9", final=False)
        for wrong in ("000000", "000001", "000002"):
            with pytest.raises(LoginError, match="Wrong code"):
                await accounts_module.check_code(hub_db, hub_cfg, user.id, wrong, "device-x",
                                                 "203.0.113.9")
        await accounts_module.check_code(hub_db, hub_cfg, user.id, right.code(), "device-x",
                                         "203.0.113.9")
