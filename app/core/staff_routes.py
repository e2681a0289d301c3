"""Staff and API keys at a store: who may sign in, when each last did, and the keys
machines use (issue #13 item 9). Thin: the rules are in core/credentials.py."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.response import Template

from app.core import credentials
from app.core.auth import requires, restamp_session
from app.core.security import PinPolicyError
from app.core.web import Form, page, signed_in


async def _staff_page(request: Request, status: int = 200, **extra) -> Template:
    me = signed_in(request)
    db = request.app.state.db
    return page(request, "core/staff.html", status_code=status, me=me,
                users=await credentials.list_users(db),
                keys=await credentials.list_api_keys(db) if me.role == "admin" else [],
                may_reset=lambda role: credentials.may_reset(me, role), **extra)


@get("/staff", guards=[requires("manager")])
async def staff_page(request: Request) -> Template:
    return await _staff_page(request, done=request.query_params.get("done", "")[:80])


async def _act(request: Request, action, done: str) -> Response | Template:
    try:
        await action()
    except (credentials.CredentialError, PinPolicyError) as exc:
        return await _staff_page(request, 400, error=str(exc))
    return await _staff_page(request, done=done)


@post("/staff/{user_id:str}/deactivate", guards=[requires("manager")])
async def deactivate(request: Request, user_id: str) -> Response | Template:
    me = signed_in(request)
    return await _act(request, lambda: credentials.set_active(
        request.app.state.db, False, user_id=user_id, by=me), "Deactivated: they are "
        "signed out everywhere and cannot sign in.")


@post("/staff/{user_id:str}/activate", guards=[requires("manager")])
async def activate(request: Request, user_id: str) -> Response | Template:
    me = signed_in(request)
    return await _act(request, lambda: credentials.set_active(
        request.app.state.db, True, user_id=user_id, by=me), "Active again.")


@post("/staff/{user_id:str}/reset-pin", guards=[requires("manager")])
async def reset_pin(request: Request, user_id: str, data: Form) -> Response | Template:
    me = signed_in(request)
    return await _act(request, lambda: credentials.reset_pin(
        request.app.state.db, data.get("pin", "")[:6], user_id=user_id, by=me),
        "New PIN set. Tell them in person, not by message.")


@post("/staff/keys/{name:str}/revoke", guards=[requires("admin")])
async def revoke_key(request: Request, name: str) -> Response | Template:
    me = signed_in(request)
    return await _act(request, lambda: credentials.revoke_api_key(
        request.app.state.db, name, me), f"Key {name} revoked: it no longer works.")


@post("/staff/keys/{name:str}/rotate", guards=[requires("admin")])
async def rotate_key(request: Request, name: str) -> Response | Template:
    me = signed_in(request)
    try:
        key, full = await credentials.rotate_api_key(request.app.state.db, name, me)
    except credentials.CredentialError as exc:
        return await _staff_page(request, 400, error=str(exc))
    response = await _staff_page(request, new_key=full, new_key_name=key.name,
                                 done=f"Key {key.name} has a new secret; the old one no "
                                 "longer works.")
    response.headers["Cache-Control"] = "no-store"
    return response


@get("/account/pin", guards=[requires("cashier", "picker", "manager")])
async def my_pin_form(request: Request) -> Template:
    return page(request, "core/my_pin.html", error="", done="")


@post("/account/pin", guards=[requires("cashier", "picker", "manager")])
async def my_pin_change(request: Request, data: Form) -> Template:
    me = signed_in(request)
    try:
        await credentials.change_own_pin(request.app.state.db, me.id, data.get("old_pin", ""),
                                         data.get("new_pin", "")[:6])
    except (credentials.CredentialError, PinPolicyError) as exc:
        return page(request, "core/my_pin.html", status_code=400, error=str(exc), done="")
    await restamp_session(request)  # this device stays signed in; the others are signed out
    return page(request, "core/my_pin.html", error="", done="Your PIN is changed.")


ROUTES = [staff_page, deactivate, activate, reset_pin, revoke_key, rotate_key, my_pin_form,
          my_pin_change]
