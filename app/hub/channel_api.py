"""The sales channels' order API (`/api/v1/orders...`): post an order, read it, cancel
it, confirm delivery. A channel's key reaches its own orders only and sees the
customer-facing view; hub staff signed in also get the routing log. Thin: the rules
are in placement.py, the reading in order_reads.py."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.params import Body

from app.core.api_errors import ORDER_REPEAT, RETURN_REPEAT, api_errors
from app.core.auth import api_access
from app.hub import order_reads, placement, returns
from app.hub.service import HubError
from app.orders.schemas import CancelBody, OrderBody
from app.orders.service import LineIn, OrderError, OrderIn

HQ = ("manager",)


def _machine(request: Request):
    return request.scope.get("state", {}).get("kirana_machine")


def _json(request: Request, found: order_reads.OrderPage) -> dict[str, Any]:
    """A key (a channel) gets the customer-facing order; hub staff signed in get the
    routing log too (issue #13 item 5)."""
    view = order_reads.order_json if _machine(request) is not None else order_reads.staff_order_json
    return view(found.order, found.lines, found.log)


@post("/api/v1/orders", guards=[api_access("orders:write")],
      responses={200: ORDER_REPEAT, **api_errors(422)})
async def api_post_order(request: Request, data: Annotated[OrderBody, Body()]) -> Response:
    """Place an order. Idempotent on channel + external_id: a repeat returns the first
    order (200) instead of a new one (201). The key's name is the channel."""
    machine = _machine(request)
    if machine is not None and machine.scope != "all" and data.channel != machine.name:
        raise PermissionDeniedException(f"this API key belongs to channel {machine.name!r}, "
                                        f"not {data.channel!r}")
    incoming = OrderIn(
        channel=data.channel, external_id=data.external_id, customer_name=data.customer.name,
        customer_phone=data.customer.phone, address=data.customer.address,
        pincode=data.customer.pincode, lat=data.customer.lat, lon=data.customer.lon,
        promised_by=data.promised_by, payment=data.payment,
        cod_amount_minor=data.cod_amount_minor, notes=data.notes,
        lines=tuple(LineIn(line.sku, line.quantity, line.price_minor) for line in data.lines))
    try:
        placed = await placement.take_order(request.app.state.db, request.app.state.cfg, incoming)
    except OrderError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    page_ = (order_reads.OrderPage(placed.order, list(placed.lines), list(placed.log), [], [])
             if placed.created else await _own_order(request, placed.order.id))
    return Response(_json(request, page_), status_code=201 if placed.created else 200)


async def _own_order(request: Request, order_id: str) -> order_reads.OrderPage:
    """A channel's key sees its own orders only; staff and read-all keys see every one."""
    found = await order_reads.get_order(request.app.state.db, order_id)
    machine = _machine(request)
    own_only = machine is not None and machine.scope == "orders:write"
    if found is None or (own_only and machine.name != found.order.channel):
        raise NotFoundException(f"no order {order_id}")
    return found


@get("/api/v1/orders/{order_id:str}",
     guards=[api_access("orders:read", *HQ, also=("orders:write",))])
async def api_get_order(request: Request, order_id: str) -> dict[str, Any]:
    found = await _own_order(request, order_id)
    out = _json(request, found)
    if found.parts:
        out["parts"] = [order_reads.order_json(part) for part in found.parts]
    return out


@post("/api/v1/orders/{order_id:str}/cancel", guards=[api_access("orders:write")],
      responses=api_errors(409))
async def api_cancel_order(request: Request, order_id: str,
                           data: Annotated[CancelBody, Body()]) -> dict[str, Any]:
    found = await _own_order(request, order_id)
    machine = _machine(request)
    try:
        await placement.cancel(request.app.state.db, found.order.id,
                               data.reason or "cancelled by the channel",
                               f"api:{machine.name}" if machine else "api")
    except HubError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    found = await _own_order(request, found.order.id)
    return _json(request, found)


@post("/api/v1/orders/{order_id:str}/delivered", guards=[api_access("orders:write")],
      responses=api_errors(409))
async def api_delivered(request: Request, order_id: str) -> dict[str, Any]:
    """The courier's confirmation that the customer has the order."""
    found = await _own_order(request, order_id)
    machine = _machine(request)
    try:
        order = await placement.mark_delivered(request.app.state.db, found.order.id,
                                               f"api:{machine.name}" if machine else "api")
    except HubError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    return order_reads.order_json(order)


def _actor(request: Request) -> str:
    machine = _machine(request)
    return f"api:{machine.name}" if machine else "api"


@post("/api/v1/orders/{order_id:str}/returns", guards=[api_access("orders:write")],
      responses={200: RETURN_REPEAT, **api_errors(409, 422)})
async def api_post_return(request: Request, order_id: str,
                          data: Annotated[returns.ReturnBody, Body()]) -> Response:
    """Ask for a return of a delivered order (issue #19): lines and quantities, reason,
    pickup or walk-in, the channel's `return_id`, optionally `exchange`. Idempotent on
    `return_id`: a repeat answers the first return (200) instead of a new one (201)."""
    found = await _own_order(request, order_id)
    try:
        made = await returns.request_return(request.app.state.db, request.app.state.cfg,
                                            found.order.id, data, _actor(request))
    except returns.Conflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except HubError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return Response(returns.return_json(made), status_code=201 if made.created else 200)


@get("/api/v1/orders/{order_id:str}/returns",
     guards=[api_access("orders:read", *HQ, also=("orders:write",))])
async def api_get_returns(request: Request, order_id: str) -> list[dict[str, Any]]:
    found = await _own_order(request, order_id)
    return [returns.return_json(view)
            for view in await returns.returns_of(request.app.state.db, found.order.id)]


@post("/api/v1/orders/{order_id:str}/undelivered", guards=[api_access("orders:write")],
      responses=api_errors(409))
async def api_undelivered(request: Request, order_id: str,
                          data: Annotated[returns.UndeliveredBody, Body()]) -> dict[str, Any]:
    """The courier could not hand the order over (RTO): it goes back to the store that
    packed it, as a return of kind `rto`."""
    found = await _own_order(request, order_id)
    try:
        order, view = await returns.mark_undelivered(request.app.state.db, found.order.id,
                                                     data.reason, _actor(request),
                                                     request.app.state.cfg.offline_after)
    except HubError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    return {**order_reads.order_json(order), "return": returns.return_json(view)}


ROUTES = [api_post_order, api_get_order, api_cancel_order, api_delivered, api_post_return,
          api_get_returns, api_undelivered]
