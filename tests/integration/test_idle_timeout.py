"""Sessions end after the role's idle limit and after session_hours (issue #13 item 11):
a till tablet left signed in is signed out, a page that polls does not keep it signed in,
and an htmx request on an expired session sends the device to sign-in."""

from __future__ import annotations

from datetime import timedelta

import pytest

import app.core.auth as auth_module
from app.core.clock import utcnow
from tests.conftest import STAFF, login


@pytest.fixture
def clock(monkeypatch):
    """Move the auth module's clock forward by `clock.advance(minutes=...)`."""

    class Clock:
        now = utcnow()

        def advance(self, **delta) -> None:
            self.now += timedelta(**delta)

    c = Clock()
    monkeypatch.setattr(auth_module, "utcnow", lambda: c.now)
    return c


HX = {"HX-Request": "true"}


async def test_an_unused_till_is_signed_out_after_the_cashier_limit(client, staff, clock):
    await login(client, staff["cashier"], STAFF["cashier"][1])
    assert (await client.get("/")).status_code == 200
    clock.advance(minutes=14)
    assert (await client.get("/")).status_code == 200  # used at 14 minutes: still in
    clock.advance(minutes=15, seconds=30)
    response = await client.get("/", follow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/login?idle=1")
    page = await client.get(response.headers["location"])
    assert "not used for a while" in page.text
    # The session is gone on the server: going back does not sign the device in again.
    clock.advance(seconds=1)
    assert (await client.get("/", follow_redirects=False)).status_code in (302, 303)


async def test_polling_does_not_keep_an_unused_device_signed_in(client, staff, clock):
    """The till polls printer alerts every 3 s; app.js reports how long ago the last
    touch was, and those background requests must not count as use."""
    await login(client, staff["cashier"], STAFF["cashier"][1])
    for minute in range(1, 15):
        clock.advance(minutes=1)
        poll = await client.get("/", headers={**HX, "X-Kirana-Idle-Seconds": str(minute * 60)})
        assert poll.status_code == 200
    clock.advance(minutes=2)
    poll = await client.get("/", headers={**HX, "X-Kirana-Idle-Seconds": str(16 * 60)})
    assert poll.status_code == 401 and poll.headers["hx-redirect"].startswith("/login?idle=1")


async def test_expired_session_on_an_htmx_request_is_signed_out_even_if_it_claims_use(
        client, staff, clock):
    """Hostile: the request claims the device was just touched (idle 0) after the limit
    has passed on the server; the session has already ended."""
    await login(client, staff["manager"], STAFF["manager"][1])
    clock.advance(minutes=16)
    response = await client.get("/", headers={**HX, "X-Kirana-Idle-Seconds": "0"})
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/login?idle=1"
    again = await client.get("/", headers={**HX, "X-Kirana-Idle-Seconds": "0"})
    assert again.status_code == 401


async def test_use_keeps_the_session_and_the_limit_is_per_role(client, staff, clock):
    await login(client, staff["picker"], STAFF["picker"][1])  # pickers: 30 minutes
    for _ in range(3):
        clock.advance(minutes=20)
        assert (await client.get("/", headers={**HX, "X-Kirana-Idle-Seconds": "5"})
                ).status_code == 200
    assert (await client.get("/")).status_code == 200


async def test_a_busy_session_still_ends_after_session_hours(client, staff, clock):
    await login(client, staff["picker"], STAFF["picker"][1])
    for _ in range(12 * 4):
        clock.advance(minutes=15)
        assert (await client.get("/")).status_code == 200
    clock.advance(minutes=1)
    assert (await client.get("/", follow_redirects=False)).status_code in (302, 303)


async def test_signed_in_pages_tell_the_device_its_idle_limit(client, login_as):
    await login_as("cashier")
    page = (await client.get("/")).text
    assert '<meta name="kirana-idle-seconds" content="900">' in page
