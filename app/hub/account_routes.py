"""The hub's sign-in: a name and a password, then a code from an authenticator app.

Nothing on these pages lists the hub's users (the hub is reachable from the internet);
the rules live in accounts.py and core/auth.py.
"""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect, Template

from app.core import auth
from app.core.auth import PUBLIC, LoginError, requires
from app.core.clock import utcnow
from app.core.i18n import _
from app.core.routes import (
    NEW_SESSION_ID,
    _device_cookie,
    _safe_next,
    client_source,
    device_key,
)
from app.core.web import Form, page, qr_svg_data_uri, signed_in
from app.hub import accounts

PENDING = "pending_code"  # session key between the password and the code


def _page(request: Request, template: str, status: int = 200, **context: Any) -> Template:
    response = page(request, template, status_code=status, store=request.app.state.cfg.store,
                    **context)
    response.cookies.extend(_device_cookie(request))
    return response


def _login_page(request: Request, error: str = "", status: int = 200, name: str = "",
                next_path: str | None = None) -> Template:
    return _page(request, "hub/login.html", status, error=error, name=name,
                 next=_safe_next(next_path or request.query_params.get("next")),
                 notice=(_("You were signed out because this device was not used for a "
                           "while. Sign in again.") if request.query_params.get("idle") == "1"
                         and not error else ""))


async def _code_page(request: Request, user_id: str, next_path: str, error: str = "",
                     status: int = 200) -> Template:
    secret = await accounts.enrolment(request.app.state.db, user_id)
    enrol: dict[str, str] = {}
    if secret:
        cfg = request.app.state.cfg
        name = await accounts.user_name(request.app.state.db, user_id)
        uri = accounts.provisioning_uri(name or "", secret, cfg.hub.name)
        enrol = {"qr": qr_svg_data_uri(uri),
                 "secret": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))}
    return _page(request, "hub/login_code.html", status, error=error, enrol=enrol,
                 next=next_path)


async def _sign_in(request: Request, user: auth.StaffUser, next_path: str) -> Redirect:
    # A fresh session id at sign-in defeats session fixation.
    request.scope.setdefault("state", {})[NEW_SESSION_ID] = secrets.token_hex(32)
    request.clear_session()
    request.set_session(auth.new_session(user))
    await auth.restamp_session(request)  # the password and key it was opened with
    return Redirect(_safe_next(next_path), status_code=303)


@get("/login", opt=PUBLIC)
async def hub_login_form(request: Request) -> Template:
    return _login_page(request)


@post("/login", opt=PUBLIC)
async def hub_login_submit(request: Request, data: Form) -> Response | Template:
    name, password = data.get("name", "")[:60], data.get("password", "")
    next_path = _safe_next(data.get("next"))
    if not name.strip() or not password:
        return _login_page(request, _("Enter your name and your password."), 400, name,
                           next_path)
    cfg = request.app.state.cfg
    final = not cfg.security.require_totp
    try:
        user = await accounts.check_password(
            request.app.state.db, cfg, name, password, device_key(request),
            client_source(request), final=final)
    except LoginError as exc:
        return _login_page(request, str(exc), 429 if exc.locked_seconds else 401, name,
                           next_path)
    if final or not accounts.needs_code(cfg, user.role):
        return await _sign_in(request, user, next_path)
    if not await accounts.has_code_key(request.app.state.db, user.id):
        # A user from before codes (a hub upgraded from PIN sign-in): never let a password
        # alone choose the second factor; an admin gives the account a key first.
        return _login_page(request, _("This account has no authenticator key yet. Ask an "
                                      "admin to run: kirana hub reset-password %(name)s and "
                                      "kirana hub reset-totp %(name)s") % {"name": user.name},
                           403, name, next_path)
    # Password right: a new session that is not signed in, waiting for the code.
    request.scope.setdefault("state", {})[NEW_SESSION_ID] = secrets.token_hex(32)
    request.clear_session()
    request.set_session({PENDING: {"id": user.id, "at": utcnow().timestamp(),
                                   "next": next_path}})
    return await _code_page(request, user.id, next_path)


@post("/login/code", opt=PUBLIC)
async def hub_login_code(request: Request, data: Form) -> Response | Template:
    pending = request.session.get(PENDING) if "session" in request.scope else None
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int | float) or (
            utcnow().timestamp() - pending["at"] > accounts.PENDING_SECONDS):
        return _login_page(request, _("Sign in again: the code must follow the password "
                                      "within five minutes."), 400)
    user_id, next_path = str(pending.get("id", "")), _safe_next(pending.get("next"))
    try:
        user = await accounts.check_code(request.app.state.db, request.app.state.cfg,
                                         user_id, data.get("code", ""), device_key(request),
                                         client_source(request))
    except LoginError as exc:
        if exc.locked_seconds:
            request.clear_session()
            return _login_page(request, str(exc), 429)
        return await _code_page(request, user_id, next_path, str(exc), 401)
    return await _sign_in(request, user, next_path)


# ---- people and channel keys (issue #13 item 9) ----------------------------------------


async def _people(request: Request, status: int = 200, **extra: Any) -> Template:
    from app.core import credentials

    db = request.app.state.db
    response = page(request, "hub/people.html", status_code=status,
                    me=signed_in(request), users=await credentials.list_users(db),
                    keys=await credentials.list_api_keys(db), **extra)
    if "shown" in extra:
        response.headers["Cache-Control"] = "no-store"
    return response


@get("/hub/people", guards=[requires("admin")])
async def people_page(request: Request) -> Template:
    return await _people(request)


@post("/hub/people/{user_id:str}/{action:str}", guards=[requires("admin")])
async def person_action(request: Request, user_id: str, action: str) -> Template:
    from app.core import credentials

    me, db = signed_in(request), request.app.state.db
    try:
        if action in ("deactivate", "activate"):
            user = await credentials.set_active(db, action == "activate", user_id=user_id,
                                                by=me)
            done = (_("%(name)s: activated.") if action == "activate"
                    else _("%(name)s: deactivated.")) % {"name": user.name}
            return await _people(request, done=done)
        if action == "new-code-key":
            name = await accounts.user_name(db, user_id)
            if name is None:
                raise ValueError("no such user")
            await accounts.reset_totp(db, name, me)
            return await _people(request, done=_(
                "%(name)s enrols a new authenticator key at their next sign-in; the old "
                "codes no longer work.") % {"name": name})
    except (credentials.CredentialError, ValueError) as exc:
        return await _people(request, 400, error=str(exc))
    return await _people(request, 404, error=_("Unknown action."))


@post("/hub/channels/{name:str}/{action:str}", guards=[requires("admin")])
async def channel_action(request: Request, name: str, action: str) -> Template:
    from app.core import credentials

    me, db = signed_in(request), request.app.state.db
    try:
        if action == "rotate-key":
            _key, full = await credentials.rotate_api_key(db, name, me)
            return await _people(request, shown=full,
                                 shown_what=_("New API key for %(name)s") % {"name": name})
        if action == "revoke-key":
            await credentials.revoke_api_key(db, name, me)
            return await _people(request,
                                 done=_("%(name)s's API key is revoked.") % {"name": name})
        if action == "rotate-webhook-secret":
            secret = await accounts.rotate_webhook_secret(db, name)
            return await _people(request, shown=secret,
                                 shown_what=_("New webhook signing secret for %(name)s")
                                 % {"name": name})
    except (credentials.CredentialError, ValueError) as exc:
        return await _people(request, 400, error=str(exc))
    return await _people(request, 404, error=_("Unknown action."))


@get("/account/password", guards=[requires("manager")])
async def my_password_form(request: Request) -> Template:
    return page(request, "hub/my_password.html", error="", done="")


@post("/account/password", guards=[requires("manager")])
async def my_password_change(request: Request, data: Form) -> Template:
    try:
        await accounts.change_own_password(request.app.state.db, signed_in(request).id,
                                           data.get("old", ""), data.get("new", "")[:200])
    except ValueError as exc:
        return page(request, "hub/my_password.html", status_code=400, error=str(exc), done="")
    await auth.restamp_session(request)  # this device stays signed in; the others are not
    return page(request, "hub/my_password.html", error="", done=_("Your password is changed."))


ROUTES = [hub_login_form, hub_login_submit, hub_login_code, people_page, person_action,
          channel_action, my_password_form, my_password_change]
