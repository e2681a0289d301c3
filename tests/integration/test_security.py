"""Logins, lockout, CSRF, and the rule that every route declares who may use it."""

from __future__ import annotations

import re

import pytest
from litestar.routes import HTTPRoute, WebSocketRoute

from app.core.models import AuditLog
from tests.conftest import STAFF, csrf_of, login

# Routes anyone may open: sign-in, static files, the service worker, health,
# the offline page, the customer's e-receipt (/r/<unguessable token>), and a customer
# display's pairing page (/display/join: it holds a one-time code, no credential yet), and
# the PIN screen's language toggle (/language: a cookie; saved only for the signed-in).
PUBLIC_PATHS = {"/login", "/healthz", "/readyz", "/sw.js", "/offline", "/static", "/r",
                "/pair/ca.crt", "/display/join", "/language"}


def _guard_roles(handler) -> list:
    guards = [g for layer in handler.ownership_layers for g in (layer.guards or [])]
    return [g for g in guards if hasattr(g, "kirana_roles")]


# Websockets that authenticate in the handler, and how (stated in the route's opt).
TOKEN_SOCKETS = {"/sync/v1"}


async def test_every_route_declares_its_roles(app):
    unguarded = []
    for route in app.routes:
        if isinstance(route, WebSocketRoute):
            handler = route.route_handler
            if route.path not in TOKEN_SOCKETS or "token" not in handler.opt.get("auth", ""):
                unguarded.append(route.path)
            continue
        assert isinstance(route, HTTPRoute), f"{route.path}: add this kind of route to the walk"
        handlers = route.route_handlers
        for handler in handlers:
            if _guard_roles(handler) or handler.http_methods == {"OPTIONS"}:
                continue  # (Litestar's automatic OPTIONS handler answers CORS preflight only)
            public = handler.opt.get("public")
            base = "/" + route.path.strip("/").split("/")[0]
            if public and (route.path in PUBLIC_PATHS or base in PUBLIC_PATHS):
                continue
            unguarded.append(route.path)
    assert not unguarded, f"routes without a role guard: {sorted(set(unguarded))}"


async def test_route_walk_catches_an_unguarded_route(cfg):
    """The walk above must be able to fail: add an unguarded route and see it flagged."""
    from litestar import get

    from app.server import create_store_app

    @get("/sneaky")
    async def sneaky() -> str:
        return "x"

    app = create_store_app(cfg)
    app.register(sneaky)
    with pytest.raises(AssertionError, match="/sneaky"):
        await test_every_route_declares_its_roles(app)


async def test_login_then_home_shows_role_navigation(client, staff):
    response = await login(client, staff["manager"], STAFF["manager"][1])
    assert response.status_code == 200  # followed the 303 to /
    assert "Hello, Meena" in response.text
    assert 'href="/stock/receive"' in response.text


async def test_wrong_pin_is_refused_with_a_clear_message(client, staff):
    response = await login(client, staff["cashier"], "9999")
    assert response.status_code == 401
    assert "Wrong PIN" in response.text
    assert (await client.get("/", follow_redirects=False)).status_code == 302


async def test_new_session_id_at_login(client, staff):
    await client.get("/login")
    await client.post(
        "/login", data={"user_id": staff["cashier"], "pin": "0000", "_csrf_token": csrf_of(client)}
    )
    before = client.cookies.get("session")
    await login(client, staff["cashier"], STAFF["cashier"][1])
    after = client.cookies.get("session")
    assert after and after != before


async def test_five_failures_lock_user_and_device(client, staff, db):
    for _ in range(4):
        assert (await login(client, staff["cashier"], "1111")).status_code == 401
    locked = await login(client, staff["cashier"], "1111")
    assert locked.status_code == 429
    assert "Try again in 5 minutes" in locked.text
    # Even the right PIN is refused while locked...
    right = await login(client, staff["cashier"], STAFF["cashier"][1])
    assert right.status_code == 429
    # ...and the same device cannot move on to another user.
    other = await login(client, staff["picker"], STAFF["picker"][1])
    assert other.status_code == 429
    async with db.read() as s:
        from sqlalchemy import select

        actions = [a.action for a in await s.scalars(select(AuditLog))]
    assert actions.count("login_failed") == 5


async def test_lock_expires(client, staff, db, monkeypatch):
    from datetime import timedelta

    import app.core.auth as auth_module
    from app.core.clock import utcnow

    for _ in range(5):
        await login(client, staff["cashier"], "1111")
    later = utcnow() + timedelta(seconds=301)
    monkeypatch.setattr(auth_module, "utcnow", lambda: later)
    response = await login(client, staff["cashier"], STAFF["cashier"][1])
    assert response.status_code == 200 and "Hello, Asha" in response.text


async def test_post_without_csrf_token_is_rejected(client, login_as):
    await login_as("manager")
    response = await client.post("/stock/receive/scan", data={"code": "123"})
    assert response.status_code == 403
    ok = await client.post(
        "/stock/receive/scan", data={"code": "123"}, headers={"x-csrftoken": csrf_of(client)}
    )
    assert ok.status_code == 200


async def test_login_post_needs_csrf(client, staff):
    await client.get("/login")
    response = await client.post("/login", data={"user_id": staff["manager"], "pin": "4726"})
    assert response.status_code == 403


async def test_cashier_cannot_reach_manager_pages(client, login_as):
    await login_as("cashier")
    for path in ("/stock/receive", "/stock/adjust", "/schema/openapi.json"):
        response = await client.get(path)
        assert response.status_code == 403, path
    assert "may not open this page" in (await client.get("/stock/receive")).text
    assert (await client.get("/products")).status_code == 200


async def test_picker_cannot_receive_stock_even_with_csrf(client, login_as):
    await login_as("picker")
    response = await client.post(
        "/stock/receive",
        data={"product_id": "x", "quantity": "5"},
        headers={"x-csrftoken": csrf_of(client)},
    )
    assert response.status_code == 403


async def test_open_redirect_after_login_is_refused(client, staff):
    await client.get("/login")
    response = await client.post(
        "/login",
        data={
            "user_id": staff["cashier"],
            "pin": STAFF["cashier"][1],
            "next": "https://evil.example/",
            "_csrf_token": csrf_of(client),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"


@pytest.mark.parametrize("target", ["/\\evil.example/", "/\t/evil.example/",
                                    "/\n/evil.example/", "\\/evil.example/"])
async def test_next_that_a_browser_reads_as_another_site_is_refused(client, staff, target):
    """Browsers read a backslash as a slash and drop tabs and newlines in a Location, so
    "/\\evil.example" or "/<tab>/evil.example" lead to evil.example after the sign-in."""
    await client.get("/login")
    response = await client.post(
        "/login",
        data={"user_id": staff["cashier"], "pin": STAFF["cashier"][1], "next": target,
              "_csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"


async def test_logout_ends_the_session(client, login_as):
    await login_as("cashier")
    await client.post("/logout", headers={"x-csrftoken": csrf_of(client)})
    assert (await client.get("/products", follow_redirects=False)).status_code == 302


async def test_deactivated_user_loses_access_at_once(client, login_as, db, staff):
    from app.core.models import User

    await login_as("cashier")
    assert (await client.get("/products")).status_code == 200
    async with db.write() as s:
        (await s.get(User, staff["cashier"])).active = False
    assert (await client.get("/products", follow_redirects=False)).status_code == 302


async def test_api_key_is_stored_hashed_and_scoped(client, db):
    from sqlalchemy import select

    from app.core.auth import create_api_key
    from app.core.models import ApiKey

    _key, full = await create_api_key(db, "webshop", "stock:read")
    async with db.read() as s:
        stored = (await s.scalars(select(ApiKey))).one()
    assert full not in (stored.key_hash, stored.prefix) and re.fullmatch(
        r"[0-9a-f]{64}", stored.key_hash
    )
    bearer = {"Authorization": f"Bearer {full}"}
    assert (await client.get("/api/v1/stock/NOPE", headers=bearer)).status_code == 404
    assert (await client.get("/api/v1/products/NOPE", headers=bearer)).status_code == 403
    bad = {"Authorization": "Bearer kir_wrong"}
    assert (await client.get("/api/v1/stock/NOPE", headers=bad)).status_code == 401
    assert (await client.get("/api/v1/stock/NOPE")).status_code == 401


async def test_pages_send_no_secrets(client, login_as):
    await login_as("manager")
    page = (await client.get("/")).text
    assert "secret" not in page.lower() and "pin_hash" not in page


async def test_anonymous_and_api_requests_leave_no_session_behind(client, db, cfg, staff):
    from app.core.auth import create_api_key

    folder = cfg.data_dir / "sessions"
    count = lambda: sum(1 for _ in folder.glob("*")) if folder.exists() else 0  # noqa: E731
    _key, full = await create_api_key(db, "scanner", "all")
    for _ in range(5):
        await client.get("/healthz")
        await client.get("/login")
        await client.get("/api/v1/scan/8900000000005", headers={"Authorization": f"Bearer {full}"})
    assert count() == 0  # a flood of anonymous requests cannot fill the disk
    await client.post("/login", data={"user_id": staff["cashier"], "pin": STAFF["cashier"][1],
                                      "_csrf_token": csrf_of(client)})
    assert count() == 1  # signing in makes exactly one
    for _ in range(3):
        assert (await client.get("/products")).status_code == 200
    assert count() == 1


async def test_csrf_exemption_is_only_for_paths_starting_with_api(client, login_as):
    await login_as("cashier")
    # "/api/" inside another path must not switch CSRF off.
    response = await client.post("/pos/carts/api/resume", data={})
    assert response.status_code == 403
