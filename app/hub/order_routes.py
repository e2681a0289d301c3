"""Online orders at the hub: the channels' API and the operators' pages. Thin: the
rules are in routing.py (and the pure allocation.py / couriers.py)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.params import Body
from litestar.response import Template

from app.core.auth import api_access, requires
from app.core.clock import utcnow
from app.core.web import Form, UploadProblem, current_user, go, page, upload_text
from app.hub import allocation, routing
from app.hub.service import HubError
from app.orders.routes import CancelBody, OrderBody
from app.orders.service import LineIn, OrderError, OrderIn

HQ = ("manager",)


async def _wake(request: Request, stores: tuple[str, ...]) -> None:
    await request.app.state.waker.wake_stores(stores)


def _machine(request: Request):  # noqa: ANN202
    return request.scope.get("state", {}).get("kirana_machine")


def _json(request: Request, found: routing.OrderPage) -> dict[str, Any]:
    """A key (a channel) gets the customer-facing order; hub staff signed in get the
    routing log too (issue #13 item 5)."""
    view = routing.order_json if _machine(request) is not None else routing.staff_order_json
    return view(found.order, found.lines, found.log)


# --- API for sales channels ----------------------------------------------------------


@post("/api/v1/orders", guards=[api_access("orders:write")])
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
        placed = await routing.take_order(request.app.state.db, request.app.state.cfg, incoming)
    except OrderError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    await _wake(request, placed.wake)
    page_ = await routing.get_order(request.app.state.db, placed.order.id)
    return Response(_json(request, page_), status_code=201 if placed.created else 200)


async def _own_order(request: Request, order_id: str) -> routing.OrderPage:
    """A channel's key sees its own orders only; staff and read-all keys see every one."""
    found = await routing.get_order(request.app.state.db, order_id)
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
        out["parts"] = [routing.order_json(part) for part in found.parts]
    return out


@post("/api/v1/orders/{order_id:str}/cancel", guards=[api_access("orders:write")])
async def api_cancel_order(request: Request, order_id: str,
                           data: Annotated[CancelBody, Body()]) -> dict[str, Any]:
    found = await _own_order(request, order_id)
    machine = _machine(request)
    try:
        wake = await routing.cancel(request.app.state.db, found.order.id,
                                    data.reason or "cancelled by the channel",
                                    f"api:{machine.name}" if machine else "api")
    except HubError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    await _wake(request, wake)
    found = await routing.get_order(request.app.state.db, found.order.id)
    return _json(request, found)


@post("/api/v1/orders/{order_id:str}/delivered", guards=[api_access("orders:write")])
async def api_delivered(request: Request, order_id: str) -> dict[str, Any]:
    """The courier's confirmation that the customer has the order."""
    found = await _own_order(request, order_id)
    machine = _machine(request)
    try:
        order = await routing.mark_delivered(request.app.state.db, found.order.id,
                                             f"api:{machine.name}" if machine else "api")
    except HubError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    return routing.order_json(order)


# --- operators' pages ----------------------------------------------------------------


@get("/hub/orders", guards=[requires(*HQ)])
async def orders_page(request: Request, status: str = "open", store: str = "",
                      channel: str = "", late: bool = False) -> Template:
    orders = await routing.list_orders(request.app.state.db, status=status, store=store,
                                       channel=channel, late=late)
    return page(request, "hub/orders.html", "hub/_orders_table.html", orders=orders,
                status=status, store=store, channel=channel, late=late, now=utcnow(),
                counts=await routing.counts(request.app.state.db), labels=routing.LABELS)


@get("/hub/orders/{order_id:str}", guards=[requires(*HQ)])
async def order_page(request: Request, order_id: str) -> Template:
    found = await routing.get_order(request.app.state.db, order_id)
    if found is None:
        raise NotFoundException(f"no order {order_id}")
    from app.hub import service as hub

    stores = await hub.store_health(request.app.state.db, request.app.state.cfg.offline_after)
    return page(request, "hub/order.html", found=found, order=found.order, stores=stores,
                labels=routing.LABELS, now=utcnow(), error=request.query_params.get("error", ""))


@post("/hub/orders/{order_id:str}/assign", guards=[requires(*HQ)])
async def order_assign(request: Request, order_id: str, data: Form) -> Response:
    user = current_user(request)
    try:
        wake = await routing.assign_by_hand(request.app.state.db, request.app.state.cfg,
                                            order_id, data.get("store", ""), user.name)
    except HubError as exc:
        return go(request, f"/hub/orders/{order_id}?error={_q(str(exc))}")
    await _wake(request, wake)
    return go(request, f"/hub/orders/{order_id}")


@post("/hub/orders/{order_id:str}/cancel", guards=[requires(*HQ)])
async def order_cancel(request: Request, order_id: str, data: Form) -> Response:
    user = current_user(request)
    try:
        wake = await routing.cancel(request.app.state.db, order_id, data.get("reason", ""),
                                    user.name)
    except HubError as exc:
        return go(request, f"/hub/orders/{order_id}?error={_q(str(exc))}")
    await _wake(request, wake)
    return go(request, f"/hub/orders/{order_id}")


def _q(text: str) -> str:
    from urllib.parse import quote

    return quote(text)


# --- bulk upload ---------------------------------------------------------------------

UPLOAD_COLUMNS = ("external_id", "customer_name", "phone", "address", "pincode", "lat", "lon",
                  "promised_by", "payment", "cod_amount", "sku", "quantity", "price")


def parse_order_rows(text: str, channel: str) -> tuple[list[tuple[list[int], OrderIn]],
                                                      list[tuple[int, str]]]:
    """One row per order line, grouped by external_id. Returns the orders (with their
    file lines) and the rows that are wrong, each with a reason."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("external_id", "pincode", "promised_by", "sku", "quantity")
               if c not in (reader.fieldnames or [])]
    if missing:
        return [], [(1, f"missing column(s): {', '.join(missing)}")]
    groups: dict[str, list[tuple[int, dict]]] = {}
    errors: list[tuple[int, str]] = []
    for row in reader:
        ext = (row.get("external_id") or "").strip()
        if not ext:
            errors.append((reader.line_num, "external_id is empty"))
            continue
        groups.setdefault(ext, []).append((reader.line_num, row))
    orders = []
    for ext, rows in groups.items():
        first_line, first = rows[0]
        try:
            promised = datetime.fromisoformat((first.get("promised_by") or "").strip())
            lines = tuple(LineIn(sku=(r.get("sku") or "").strip().upper(),
                                 quantity=int((r.get("quantity") or "").strip()),
                                 price_minor=round(float(r.get("price") or 0) * 100))
                          for _n, r in rows)
            lat = float(first["lat"]) if (first.get("lat") or "").strip() else None
            lon = float(first["lon"]) if (first.get("lon") or "").strip() else None
            payment = (first.get("payment") or "prepaid").strip() or "prepaid"
            cod = round(float(first.get("cod_amount") or 0) * 100)
        except ValueError as exc:
            errors.extend((n, f"order {ext}: {exc}") for n, _r in rows)
            continue
        orders.append(([n for n, _r in rows], OrderIn(
            channel=channel, external_id=ext, customer_name=(first.get("customer_name") or ""),
            customer_phone=(first.get("phone") or "")[:15], address=first.get("address") or "",
            pincode=(first.get("pincode") or "").strip(), promised_by=promised, lines=lines,
            payment=payment, cod_amount_minor=cod, lat=lat, lon=lon)))
    return orders, errors


@get("/hub/orders-upload", guards=[requires(*HQ)])
async def upload_form(request: Request) -> Template:
    return page(request, "hub/orders_upload.html", results=None, errors=[], error="",
                columns=UPLOAD_COLUMNS)


@post("/hub/orders-upload", guards=[requires(*HQ)])
async def upload_orders(
    request: Request,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Template:
    channel = str(data.get("channel") or "b2b").strip().lower()[:40] or "b2b"
    try:
        text = await upload_text(data)
    except UploadProblem as exc:
        return page(request, "hub/orders_upload.html", status_code=400, results=None,
                    errors=[], error=str(exc), columns=UPLOAD_COLUMNS)
    orders, errors = parse_order_rows(text, channel)
    results = []
    wake: list[str] = []
    for lines, incoming in orders:
        try:
            placed = await routing.take_order(request.app.state.db, request.app.state.cfg,
                                              incoming)
        except OrderError as exc:
            results.append((lines, incoming.external_id, None, str(exc)))
            continue
        wake += placed.wake
        note = "" if placed.created else "already uploaded: kept the first"
        results.append((lines, incoming.external_id, placed.order, note))
    await _wake(request, tuple(wake))
    return page(request, "hub/orders_upload.html", results=results, errors=errors, error="",
                columns=UPLOAD_COLUMNS, labels=routing.LABELS)


# --- rules ---------------------------------------------------------------------------


@get("/hub/rules", guards=[requires(*HQ)])
async def rules_page(request: Request) -> Template:
    return await _rules(request)


async def _rules(request: Request, error: str = "", saved: bool = False,
                 status_code: int = 200) -> Template:
    cfg = request.app.state.cfg
    async with request.app.state.db.read() as s:
        rules = await routing.current_rules(s, cfg)
        from sqlalchemy import select

        from app.hub.models import HubCourier

        available = {c.name: c.available for c in await s.scalars(select(HubCourier))}
    return page(request, "hub/rules.html", status_code=status_code, rules=rules,
                criteria=allocation.CRITERIA, labels=allocation.CRITERIA_LABELS, cfg=cfg,
                available=available, error=error, saved=saved)


@post("/hub/rules", guards=[requires("admin")])
async def rules_save(request: Request, data: Form) -> Template:
    order = [c for c in (data.get(f"criterion{i}", "") for i in range(1, 5)) if c]
    try:
        rules = allocation.Rules(
            criteria=tuple(order), radius_km=float(data.get("radius_km", "")),
            safety_stock=int(data.get("safety_stock", "")),
            split_above_minor=round(float(data.get("split_above_rupees", "0") or 0) * 100),
            orders_per_picker=int(data.get("orders_per_picker", "")))
    except ValueError as exc:
        return await _rules(request, error=f"Not saved: {exc}", status_code=400)
    await routing.save_rules(request.app.state.db, rules, current_user(request).name)
    return await _rules(request, saved=True)


@post("/hub/couriers/{name:str}", guards=[requires(*HQ)])
async def courier_toggle(request: Request, name: str, data: Form) -> Response:
    if name not in {c.name for c in request.app.state.cfg.couriers}:
        raise NotFoundException(f"no courier {name}")
    await routing.set_courier_available(request.app.state.db, name,
                                        data.get("available") == "yes")
    return go(request, "/hub/rules")


ROUTES = [api_post_order, api_get_order, api_cancel_order, api_delivered, orders_page,
          order_page, order_assign, order_cancel, upload_form, upload_orders, rules_page,
          rules_save, courier_toggle]
