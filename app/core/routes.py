"""Shell routes: sign in/out, home, help, health, service worker, offline page."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlparse

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template

from app.core import auth, credentials, i18n, migrate
from app.core.auth import PUBLIC, LoginError, requires
from app.core.i18n import _
from app.core.web import VARY, Form, current_user, page, signed_in

DEVICE_COOKIE = "kirana_device"
NEW_SESSION_ID = "kirana_new_sid"


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after login would be a phishing aid."""
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in target):
        return "/"  # browsers read "/\\evil.example" and "/<tab>/evil.example" as "//evil..."
    return target


def client_source(request: Request) -> str:
    """The address a request came from (behind a reverse proxy, run uvicorn with
    --proxy-headers and --forwarded-allow-ips so this is the client's, not the proxy's)."""
    return (request.client.host if request.client else "?")[:45]


def device_key(request: Request) -> str:
    cookie = request.cookies.get(DEVICE_COOKIE, "")
    return cookie[:64] if cookie else f"ip-{client_source(request)}"


def _device_cookie(request: Request) -> list[Cookie]:
    if request.cookies.get(DEVICE_COOKIE):
        return []
    return [
        Cookie(
            key=DEVICE_COOKIE,
            value=secrets.token_urlsafe(18),
            max_age=3600 * 24 * 365 * 5,
            httponly=True,
            samesite="lax",
            secure=request.app.state.cfg.server.secure_cookies,
        )
    ]


async def _login_page(
    request: Request, error: str = "", status: int = 200, selected: str = ""
) -> Template:
    users = await auth.list_login_users(request.app.state.db)
    response = page(
        request,
        "core/login.html",
        status_code=status,
        users=users,
        error=error,
        notice=(
            _("You were signed out because this device was not used for a while. "
              "Sign in again.")
            if request.query_params.get("idle") == "1" and not error else ""
        ),
        selected=selected,
        next=_safe_next(request.query_params.get("next")),
        store=request.app.state.cfg.store,
    )
    response.cookies.extend(_device_cookie(request))
    return response


@get("/login", opt=PUBLIC)
async def login_form(request: Request) -> Template:
    return await _login_page(request)


@post("/login", opt=PUBLIC)
async def login_submit(request: Request, data: Form) -> Response | Template:
    user_id = data.get("user_id", "")
    pin = data.get("pin", "")
    if not user_id:
        return await _login_page(request, _("Tap your name first."), 400)
    if not pin:
        return await _login_page(request, _("Enter your PIN."), 400, selected=user_id)
    try:
        user = await auth.authenticate(
            request.app.state.db, request.app.state.cfg, user_id, pin, device_key(request),
            source=client_source(request),
        )
    except LoginError as exc:
        return await _login_page(
            request, str(exc), 429 if exc.locked_seconds else 401, selected=user_id
        )
    # A fresh session id at login defeats session fixation.
    request.scope.setdefault("state", {})[NEW_SESSION_ID] = secrets.token_hex(32)
    request.clear_session()
    request.set_session(auth.new_session(user))
    await auth.restamp_session(request)  # the PIN it was opened with (a reset ends it)
    return Redirect(_safe_next(data.get("next")), status_code=303)


@post("/language", opt=PUBLIC)
async def choose_language(request: Request, data: Form) -> Response:
    """The language toggle (PIN screen, profile page): this device's language until
    someone signs in (cookie); a signed-in person's own choice is saved with them.
    ``lang=default`` goes back to the store's default: no own language, no device choice."""
    code = data.get("lang", "")
    to_default = code == i18n.STORE_DEFAULT
    if not (to_default or i18n.is_shipped(code)):
        return Response("Unknown language", status_code=400, media_type="text/plain")
    user = await auth.session_user(request)
    if user is not None:
        await credentials.set_language(request.app.state.db, user.id, "" if to_default else code)
    response: Response = Redirect(_safe_next(data.get("next")), status_code=303)
    secure = request.app.state.cfg.server.secure_cookies
    if to_default:
        response.delete_cookie(i18n.LANG_COOKIE)
    else:
        response.cookies.append(Cookie(
            key=i18n.LANG_COOKIE, value=code, max_age=3600 * 24 * 365, httponly=True,
            samesite="lax", secure=secure))
    return response


@post("/logout", guards=[requires("cashier", "picker", "manager")])
async def logout(request: Request) -> Redirect:
    request.clear_session()
    return Redirect("/login", status_code=303)


@get("/", guards=[requires("cashier", "picker", "manager")])
async def home(request: Request) -> Template:
    return page(
        request, "core/home.html", user=current_user(request), store=request.app.state.cfg.store
    )


# "What to do when…": one page per role (templates/help/). Every signed-in person may read
# all three (a manager also sells and picks); they say nothing an outsider should not
# know, but they name the store's pages, so like every store page they need a sign-in.
HELP_PAGES = {"cashier": "Cashier", "picker": "Picker and packer", "manager": "Manager"}
STAFF = requires("cashier", "picker", "manager")


def _help(request: Request, role: str) -> Template:
    return page(request, f"help/{role}.html", role=role, help_pages=HELP_PAGES,
                store=request.app.state.cfg.store)


@get("/help", guards=[STAFF])
async def help_home(request: Request) -> Template:
    """The help of the signed-in person's role (an admin's is the manager's)."""
    role = signed_in(request).role
    return _help(request, role if role in HELP_PAGES else "manager")


@get("/help/{role:str}", guards=[STAFF])
async def help_page(request: Request, role: str) -> Template:
    if role not in HELP_PAGES:
        raise NotFoundException(_("There is help for the cashier, the picker and the manager."))
    return _help(request, role)


@get("/healthz", opt=PUBLIC)
async def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@get("/readyz", opt=PUBLIC)
async def readyz(request: Request) -> Response:
    """Database reachable and at the code's migration (migrate.readiness)."""
    ready, checks = await migrate.readiness(request.app.state.db)
    return Response(
        {"status": "ready" if ready else "not ready", **checks}, status_code=200 if ready else 503
    )


@get("/sw.js", opt=PUBLIC)
async def service_worker(request: Request) -> Response:
    """The worker must be served from / to control every page; its text is built at start."""
    return Response(
        request.app.state.service_worker,
        media_type="application/javascript",
        headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"},
    )


@get("/offline", opt=PUBLIC)
async def offline(request: Request) -> Template:
    return Template(
        template_name="core/offline.html",
        headers=VARY,
        context={"store": request.app.state.cfg.store},
    )


@get("/security/locks", guards=[requires("admin")])
async def locks_page(request: Request) -> Template:
    """Who is locked out of signing in, and why; an admin may clear a lock."""
    return page(request, "core/locks.html", locks=await auth.list_locks(request.app.state.db),
                cleared=request.query_params.get("cleared", ""))


@post("/security/locks/clear", guards=[requires("admin")])
async def clear_lock(request: Request, data: Form) -> Redirect:
    key = data.get("key", "")
    await auth.clear_lock(request.app.state.db, key, signed_in(request))
    return Redirect("/security/locks?cleared=1", status_code=303)


ROUTES = [login_form, login_submit, choose_language, logout, home, help_home, help_page,
          healthz, readyz, service_worker, offline, locks_page, clear_lock]
