"""Order intake API for sales channels, and the order board for the store."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.params import Body
from litestar.response import Template

from app.core.api_errors import ORDER_REPEAT, api_errors
from app.core.auth import Machine, api_access, requires
from app.core.clock import utcnow
from app.core.i18n import N_, _, ngettext
from app.core.money import format_amount
from app.core.web import current_user, page
from app.orders import service, states
from app.orders.schemas import CancelBody, OrderBody


def _machine(request: Request) -> Machine | None:
    return request.scope.get("state", {}).get("kirana_machine")


def _channel(request: Request) -> str | None:
    """The channel an API key is bound to; None for staff signed in (they see all)."""
    machine = _machine(request)
    return machine.channel if machine else None


def _actor(request: Request) -> str:
    machine = _machine(request)
    user = current_user(request)
    return f"api:{machine.name}" if machine else (user.name if user else "unknown")


@post("/api/v1/orders", guards=[api_access("orders:write")],
      responses={200: ORDER_REPEAT, **api_errors(422)})
async def post_order(request: Request, data: Annotated[OrderBody, Body()]) -> Response:
    bound = _channel(request)
    if bound is not None and data.channel != bound:
        raise PermissionDeniedException(
            f"this API key may post orders only as channel {bound!r}, not {data.channel!r}")
    incoming = service.OrderIn(
        channel=data.channel, external_id=data.external_id, customer_name=data.customer.name,
        customer_phone=data.customer.phone, address=data.customer.address,
        pincode=data.customer.pincode, lat=data.customer.lat, lon=data.customer.lon,
        promised_by=data.promised_by, payment=data.payment,
        cod_amount_minor=data.cod_amount_minor, notes=data.notes,
        lines=tuple(service.LineIn(line.sku, line.quantity, line.price_minor)
                    for line in data.lines),
    )
    try:
        intake = await service.receive_order(request.app.state.db, request.app.state.cfg,
                                             incoming, _actor(request))
    except service.ChannelForbidden as exc:
        raise PermissionDeniedException(str(exc)) from None
    except service.OrderError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return Response(service.order_json(intake.order), status_code=201 if intake.created else 200)


@get("/api/v1/orders/{order_id:str}", guards=[api_access("orders:read", "picker", "manager")])
async def get_order(request: Request, order_id: str) -> dict[str, Any]:
    channel = _channel(request)
    order = await service.get_order(request.app.state.db, order_id, channel=channel)
    if order is None:
        raise NotFoundException(service.not_found(order_id, channel))
    return service.order_json(order)


@post("/api/v1/orders/{order_id:str}/cancel", guards=[api_access("orders:write")],
      responses=api_errors(409))
async def cancel_order(request: Request, order_id: str, data: Annotated[CancelBody, Body()]
                       ) -> dict[str, Any]:
    try:
        order = await service.cancel_order(request.app.state.db, order_id, _actor(request),
                                           data.reason, channel=_channel(request))
    except service.OrderError as exc:
        raise NotFoundException(str(exc)) from None
    except states.IllegalTransition as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    return service.order_json(order)


# The reasons the store itself writes on an order's steps (stored and sent in English:
# the hub and channels read them) as a Hindi reader reads them; others are shown as typed.
_FIXED_REASONS = {"every line in stock": N_("every line in stock"),
                  "packed and labelled": N_("packed and labelled"),
                  "cancelled": N_("cancelled")}
_BATCH = re.compile(r"batch (\S+)")
_BAGS = re.compile(r"([0-9]+) bags?")
_SHORT = re.compile(r"(\S+) \(wanted ([0-9]+), have ([0-9]+)\)")


def shown_reason(reason: str) -> str:
    """An order step's reason (or reject reason) in the language in force."""
    if reason in _FIXED_REASONS:
        return _(_FIXED_REASONS[reason])
    if m := _BATCH.fullmatch(reason):
        return _("batch %(number)s") % {"number": m[1]}
    if m := _BAGS.fullmatch(reason):
        return ngettext("%(num)d bag", "%(num)d bags", int(m[1])) % {"num": int(m[1])}
    if reason.startswith("not enough stock: "):
        rest = reason.removeprefix("not enough stock: ")
        found = list(_SHORT.finditer(rest))
        if found and ", ".join(m[0] for m in found) == rest:
            shown = ", ".join(
                _("%(sku)s (wanted %(wanted)s, have %(have)s)")
                % {"sku": m[1], "wanted": m[2], "have": m[3]} for m in found)
            return _("not enough stock: %(lines)s") % {"lines": shown}
    return reason


@get("/orders", guards=[requires("picker", "manager")])
async def order_board(request: Request, q: str = "", late: bool = False) -> Template:
    """The board; `q` filters by order number, customer or pincode, `late` keeps only
    orders past (or within five minutes of) their promised time."""
    orders = await service.board(request.app.state.db)
    text = q.strip().lower()
    if text:
        orders = [o for o in orders if text in o.number.lower()
                  or text in o.customer_name.lower() or text in o.pincode]
    if late:
        soon = utcnow() + timedelta(minutes=5)
        orders = [o for o in orders if o.state not in states.FINAL and o.promised_by <= soon]
    columns = [(s, states.LABELS[s], [o for o in orders if o.state == s])
               for s in ("received", "accepted", "picking", "picked", "packed", "ready",
                         "handed_over")]
    done = [o for o in orders if o.state in states.FINAL]
    return page(request, "orders/board.html", fragment="orders/_board.html",
                user=current_user(request), columns=columns, done=done, now=utcnow(),
                money=format_amount, labels=states.LABELS, q=q, late=late,
                reason=shown_reason)


@get("/orders/{order_id:str}", guards=[requires("picker", "manager")])
async def order_page(request: Request, order_id: str) -> Template:
    order = await service.get_order(request.app.state.db, order_id)
    if order is None:
        raise NotFoundException(_("No such order."))
    return page(request, "orders/order.html", user=current_user(request), order=order,
                labels=states.LABELS, money=format_amount, now=utcnow(), reason=shown_reason,
                more=await service.more_timeline(request.app.state.db, order.id))


ROUTES = [post_order, get_order, cancel_order, order_board, order_page]
