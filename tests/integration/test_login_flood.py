"""A sign-in flood must not slow the tills or grow tables without bound (issue #13
item 8): cheap checks before the 16 MB scrypt, a global rate of sign-in checks, and
pruning of old throttle rows and failed-sign-in audit rows."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

import app.core.auth as auth_module
from app.core.clock import utcnow
from app.core.models import AuditLog, LoginThrottle
from tests.conftest import STAFF, login


@pytest.fixture
def hashes(monkeypatch):
    """Counts the scrypt checks sign-in runs."""
    calls = []
    real = auth_module.verify_pin

    def counting(pin, stored, pepper):
        calls.append(pin)
        return real(pin, stored, pepper)

    monkeypatch.setattr(auth_module, "verify_pin", counting)
    return calls


async def test_random_user_ids_cost_no_hashing(app, client, staff, hashes):
    """The flood the audit saw: random user ids (16 a second), fresh cookies."""
    for _ in range(40):
        async with AsyncTestClient(app=app) as fresh:
            response = await login(fresh, str(uuid.uuid4()), "4827")
            assert response.status_code in (401, 429)
    assert hashes == []  # not one scrypt for a user that does not exist


@pytest.fixture
def many_sources(monkeypatch):
    """Each request from another address (a botnet), so no address lock kicks in."""
    import app.core.routes as core_routes

    counter = iter(range(100_000))
    monkeypatch.setattr(core_routes, "client_source",
                        lambda request: f"198.51.{next(counter) % 250}.{next(counter) % 250}")


async def test_a_flood_of_real_ids_is_held_to_the_global_rate(app, client, staff, hashes,
                                                               many_sources, monkeypatch):
    """Wrong PINs for real staff from many addresses and fresh cookies: beyond the rate
    the server answers "busy" without hashing, so the tills stay quick."""
    clock = {"now": 1000.0}
    monkeypatch.setattr(auth_module, "time", type("T", (), {
        "monotonic": staticmethod(lambda: clock["now"])}))
    app.state.db._signin_bucket = auth_module.TokenBucket(10, 6)  # 10 a second, 6 at once
    ids = list(staff.values())
    busy = 0
    for n in range(80):  # all within the same instant
        async with AsyncTestClient(app=app) as fresh:
            response = await login(fresh, ids[n % len(ids)], "4827")
            busy += "busy with sign-ins" in response.text
    assert len(hashes) == 6 and busy == 74
    clock["now"] += 1.0  # a second later the rate allows ten more
    ok = await login(client, staff["cashier"], STAFF["cashier"][1])
    assert ok.status_code in (200, 303) and "Hello, Asha" in ok.text


async def test_old_throttle_and_failed_sign_in_rows_are_pruned(app, client, staff, db,
                                                                many_sources, monkeypatch):
    for _ in range(30):
        async with AsyncTestClient(app=app) as fresh:  # a fresh device and address each time
            await login(fresh, str(uuid.uuid4()), "4827")
    async with db.read() as s:
        before = await s.scalar(select(func.count()).select_from(LoginThrottle))
        failed = await s.scalar(select(func.count()).select_from(AuditLog)
                                .where(AuditLog.action == "login_failed"))
    assert before >= 60 and failed >= 30
    later = utcnow() + timedelta(days=91)
    monkeypatch.setattr(auth_module, "utcnow", lambda: later)
    auth_module._last_prune.clear()
    await login(client, staff["picker"], "4827")  # any failure prunes (at most once a minute)
    async with db.read() as s:
        after = await s.scalar(select(func.count()).select_from(LoginThrottle))
        failed_after = await s.scalar(select(func.count()).select_from(AuditLog)
                                      .where(AuditLog.action == "login_failed"))
    assert after <= 4  # only the rows of that last attempt (device, source, user, user on device)
    assert failed_after == 1


async def test_staff_on_their_own_till_sign_in_during_a_flood(app, client, staff, hashes,
                                                              many_sources, monkeypatch):
    """A botnet keeps the global rate used up: every sign-in was "busy", the real till's
    too. A device the person has signed in on before (its cookie is secret) is not held
    to the global rate; strangers still are."""
    assert (await login(client, staff["cashier"], STAFF["cashier"][1])).status_code in (200, 303)
    await client.post("/logout", data={"_csrf_token": client.cookies.get("csrftoken")})
    clock = {"now": 1000.0}
    monkeypatch.setattr(auth_module, "time", type("T", (), {
        "monotonic": staticmethod(lambda: clock["now"])}))
    app.state.db._signin_bucket = auth_module.TokenBucket(10, 6)
    ids = list(staff.values())
    for n in range(20):
        async with AsyncTestClient(app=app) as fresh:
            await login(fresh, ids[n % len(ids)], "4827")
    ok = await login(client, staff["cashier"], STAFF["cashier"][1])
    assert ok.status_code in (200, 303) and "Hello, Asha" in ok.text
    async with AsyncTestClient(app=app) as stranger:
        busy = await login(stranger, staff["cashier"], STAFF["cashier"][1])
    assert "busy with sign-ins" in busy.text
