"""Loyalty pages (issue #21, docs/loyalty.md): find a customer by number (or its last
four digits) or card, join with consent, the customer's balance and history (numbers
masked: 98xxxxxx10), and erasing a customer on request (managers only). Thin: the
rules are in app/core/loyalty.py, the rows in app/loyalty/service.py."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Template

from app.core.auth import requires
from app.core.i18n import _
from app.core.loyalty import LoyaltyError
from app.core.web import Form, current_user, go, page
from app.loyalty import service

STAFF = requires("cashier", "manager")  # cashiers look up and sign up; managers too
MANAGER = requires("manager")  # managers and admins


def _off(request: Request) -> bool:
    return not request.app.state.cfg.loyalty.enabled


async def _home(request: Request, status_code: int = 200, **extra: Any) -> Template:
    return page(request, "loyalty/home.html", status_code=status_code,
                user=current_user(request), off=_off(request), **extra)


@get("/loyalty", guards=[STAFF])
async def loyalty_home(request: Request, q: str = "") -> Template:
    """Search (by the number, its last 4 digits or the card) and the join form."""
    if not q or _off(request):
        return await _home(request)
    try:
        found = await service.search(request.app.state.db, q[:64])
    except LoyaltyError as exc:
        return await _home(request, status_code=400, error=str(exc))
    return await _home(request, found=found, searched=True)


@post("/loyalty/join", guards=[STAFF])
async def loyalty_join(request: Request, data: Form) -> Template | Response:
    user = current_user(request)
    assert user is not None
    try:
        customer = await service.join(
            request.app.state.db, request.app.state.cfg, phone=data.get("phone", "")[:40],
            card=data.get("card", "")[:40], name=data.get("name", "")[:200],
            consent=data.get("consent") == "yes", user=user)
    except LoyaltyError as exc:
        return await _home(request, status_code=400, join_error=str(exc))
    return go(request, f"/loyalty/customers/{customer.id}")


@get("/loyalty/customers/{customer_id:str}", guards=[STAFF])
async def loyalty_customer(request: Request, customer_id: str) -> Template:
    found = await service.customer_page(request.app.state.db, customer_id[:36])
    if found is None:
        raise NotFoundException(_("No such customer (or erased on request)."))
    return page(request, "loyalty/customer.html", user=current_user(request), found=found,
                point_value=request.app.state.cfg.loyalty.point_value_paise)


@post("/loyalty/customers/{customer_id:str}/erase", guards=[MANAGER])
async def loyalty_erase(request: Request, customer_id: str, data: Form) -> Template:
    """Erase on the customer's request: number, card and name gone here, at the hub and
    at every store that heard of them; the points ledger stays, anonymous."""
    user = current_user(request)
    assert user is not None
    if data.get("confirm") != "erase":
        found = await service.customer_page(request.app.state.db, customer_id[:36])
        if found is None:
            raise NotFoundException(_("No such customer (or erased on request)."))
        return page(request, "loyalty/customer.html", status_code=400, user=user,
                    found=found, point_value=request.app.state.cfg.loyalty.point_value_paise,
                    error=_("Type erase in the box to confirm."))
    if not await service.erase(request.app.state.db, request.app.state.cfg,
                               customer_id[:36], user):
        raise NotFoundException(_("No such customer (or erased on request)."))
    return await _home(request, saved=_("The customer's details were erased. Their points "
                                        "history is kept without them, for the books."))


ROUTES = [loyalty_home, loyalty_join, loyalty_customer, loyalty_erase]
