"""Lockout must not be a denial of service (issue #13 item 7): a stranger cannot lock
staff out of the devices they use, a cashier cannot lock a manager through the approval
box, locks grow for a guesser who keeps going, and an admin can see and clear them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient

import app.core.auth as auth_module
import app.core.routes as core_routes
from app.core.clock import utcnow
from tests.conftest import STAFF, csrf_of, login
from tests.integration.test_pos_pages import hx, open_till, rows  # noqa: F401


@pytest.fixture
def sources(monkeypatch):
    """Each test request says which address it comes from (X-Test-Source), as requests
    from different machines would."""
    def source(request) -> str:
        return request.headers.get("x-test-source", "10.0.0.1")

    monkeypatch.setattr(core_routes, "client_source", source, raising=False)


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        now = utcnow()

        def advance(self, **delta) -> None:
            self.now += timedelta(**delta)

    c = Clock()
    monkeypatch.setattr(auth_module, "utcnow", lambda: c.now)
    return c


async def attempt(app, user_id: str, pin: str, source: str):
    """One try from a brand-new device (a fresh client: no device cookie kept)."""
    async with AsyncTestClient(app=app) as fresh:
        fresh.headers["x-test-source"] = source
        return await login(fresh, user_id, pin)


async def test_fresh_device_cookies_from_one_address_are_stopped(app, client, staff, sources):
    """Guesses spread over several accounts, each from a brand-new cookie: no account
    and no device reaches five, but the address does."""
    targets = [staff["manager"], staff["admin"], staff["cashier"], staff["picker"],
               staff["manager"]]
    for user_id in targets:
        response = await attempt(app, user_id, "0000", "203.0.113.9")
        assert response.status_code in (401, 429)
    sixth = await attempt(app, staff["picker"], STAFF["picker"][1], "203.0.113.9")
    assert sixth.status_code == 429 and "Too many wrong tries" in sixth.text
    # Another address (another till) is not affected.
    other = await attempt(app, staff["picker"], STAFF["picker"][1], "10.0.0.9")
    assert other.status_code in (200, 303) and "Hello, Ravi" in other.text


async def test_strangers_cannot_lock_a_manager_out_of_their_own_till(app, client, staff,
                                                                     sources):
    client.headers["x-test-source"] = "10.0.0.5"  # the back-office till
    assert (await login(client, staff["manager"], STAFF["manager"][1])).status_code in (200, 303)
    await client.post("/logout", data={"_csrf_token": csrf_of(client)})
    # Guessing from many addresses, each with fresh cookies.
    for n in range(12):
        await attempt(app, staff["manager"], "0000", f"198.51.100.{n}")
    stranger = await attempt(app, staff["manager"], STAFF["manager"][1], "198.51.100.99")
    assert stranger.status_code == 429 and "other devices" in stranger.text
    # The manager's own till still signs them in.
    mine = await login(client, staff["manager"], STAFF["manager"][1])
    assert mine.status_code in (200, 303) and "Hello, Meena" in mine.text


async def test_a_cashier_cannot_lock_a_manager_through_the_approval_box(
        app, client, login_as, rows, staff, sources):  # noqa: F811
    client.headers["x-test-source"] = "10.0.0.7"  # the till
    await login_as("cashier")
    cart = await open_till(client)
    r = await client.post("/pos/scan", data={"code": rows[0].barcodes[0], "cart_id": cart},
                          headers=hx(client))
    url = "/pos/lines/" + re.search(r"/pos/lines/([^/]+)/discount", r.text).group(1) + "/discount"
    for _ in range(8):
        await client.post(url, data={"cart_id": cart, "kind": "percent", "value": "25",
                                     "approver_id": staff["manager"], "approver_pin": "0000"},
                          headers=hx(client))
    # The approval box on this till is locked for now ...
    r = await client.post(url, data={"cart_id": cart, "kind": "percent", "value": "25",
                                     "approver_id": staff["manager"], "approver_pin": STAFF["manager"][1]},
                          headers=hx(client))
    assert "Too many wrong tries" in r.text
    # ... but the manager is not: they sign in at once on another device.
    other = await attempt(app, staff["manager"], STAFF["manager"][1], "10.0.0.8")
    assert other.status_code in (200, 303) and "Hello, Meena" in other.text


async def test_each_lock_in_a_row_lasts_longer(app, client, staff, sources, clock):
    for _ in range(5):
        await login(client, staff["cashier"], "0000")
    clock.advance(minutes=5, seconds=1)
    assert (await login(client, staff["cashier"], "0000")).status_code == 401  # lock over
    for _ in range(4):
        await login(client, staff["cashier"], "0000")
    clock.advance(minutes=5, seconds=1)  # a fixed 5-minute lock would be over by now
    still = await login(client, staff["cashier"], STAFF["cashier"][1])
    assert still.status_code == 429
    clock.advance(minutes=5)
    done = await login(client, staff["cashier"], STAFF["cashier"][1])
    assert done.status_code in (200, 303) and "Hello, Asha" in done.text


async def test_an_admin_sees_and_clears_locks(app, client, staff, sources):
    for n in range(6):
        await attempt(app, staff["picker"], "0000", f"192.0.2.{n}")
    async with AsyncTestClient(app=app) as admin:
        admin.headers["x-test-source"] = "10.0.0.2"
        await login(admin, staff["admin"], STAFF["admin"][1])
        page = (await admin.get("/security/locks")).text
        assert "Ravi (picker)" in page
        key = f"user:{staff['picker']}"
        assert f'data-key="{key}"' in page
        done = await admin.post("/security/locks/clear",
                                data={"key": key, "_csrf_token": csrf_of(admin)})
        assert done.status_code in (200, 303)
        assert f'data-key="{key}"' not in (await admin.get("/security/locks")).text
    after = await attempt(app, staff["picker"], STAFF["picker"][1], "192.0.2.50")
    assert after.status_code in (200, 303) and "Hello, Ravi" in after.text


async def test_managers_may_not_see_or_clear_locks(client, login_as):
    await login_as("manager")
    assert (await client.get("/security/locks")).status_code == 403


async def test_a_cashiers_own_pin_does_not_reset_the_approval_boxs_count(cfg, db, staff):
    """A cashier guessing the manager's PIN in the approval box typed their own PIN (and
    their own name) between guesses: that "approval" checked out, cleared the box's count,
    and the guessing went on without end. Only a manager's PIN may count as a success."""
    from app.core.auth import LoginError, verify_approver

    async def approve(user_id: str, pin: str) -> str:
        try:
            await verify_approver(db, cfg, user_id, pin, "till-1", source="10.0.0.7",
                                  requester_id=staff["cashier"])
        except LoginError as exc:
            return str(exc)
        return "ok"

    answers = []
    for _ in range(3):
        answers += [await approve(staff["manager"], "0000") for _ in range(4)]
        await approve(staff["cashier"], STAFF["cashier"][1])
    assert any("Too many wrong tries" in a for a in answers), answers


async def test_a_till_the_manager_uses_does_not_let_a_cashier_guess_their_pin(
        app, client, staff, sources):
    """The shared till is trusted for the manager (they signed in there), so the
    account's lock did not apply to it; and the cashier signing in as themselves between
    guesses cleared the till's own count. Guesses from the till must still be stopped."""
    client.headers["x-test-source"] = "10.0.0.7"
    assert (await login(client, staff["manager"], STAFF["manager"][1])).status_code in (200, 303)
    await client.post("/logout", data={"_csrf_token": csrf_of(client)})
    statuses = []
    for _ in range(3):
        for _ in range(4):
            statuses.append((await login(client, staff["manager"], "0000")).status_code)
        await login(client, staff["cashier"], STAFF["cashier"][1])
        await client.post("/logout", data={"_csrf_token": csrf_of(client)})
    assert statuses[-4:] == [429] * 4, statuses  # stopped, and stays stopped


async def test_a_guesser_sharing_the_address_does_not_lock_out_known_devices(
        app, client, staff, sources):
    """Behind a reverse proxy (or one office NAT) every request comes from one address:
    a stranger's five wrong tries locked that address, and with it every sign-in of the
    whole hub or store. A device the person has signed in on before still gets in;
    new devices from that address stay stopped."""
    client.headers["x-test-source"] = "10.0.0.1"  # the proxy
    assert (await login(client, staff["manager"], STAFF["manager"][1])).status_code in (200, 303)
    await client.post("/logout", data={"_csrf_token": csrf_of(client)})
    for n in range(6):
        await attempt(app, staff["picker"] if n % 2 else staff["admin"], "0000", "10.0.0.1")
    stranger = await attempt(app, staff["cashier"], STAFF["cashier"][1], "10.0.0.1")
    assert stranger.status_code == 429
    mine = await login(client, staff["manager"], STAFF["manager"][1])
    assert mine.status_code in (200, 303) and "Hello, Meena" in mine.text
