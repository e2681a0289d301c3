"""Online orders at the hub, the operators' side: the order list and page, moving or
cancelling an order by hand, the bulk upload, the routing rules and couriers. The
channels' API is channel_api.py. Thin: the rules are in placement.py (and the pure
allocation.py / couriers.py), the reads in order_reads.py."""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from litestar.response import Template

from app.catalog.csv_io import CsvUnreadable, csv_header, csv_rows, parse_line_quantity
from app.core.auth import requires
from app.core.clock import utcnow
from app.core.i18n import _
from app.core.money import parse_amount, parse_count
from app.core.web import Form, UploadProblem, go, page, signed_in, upload_text
from app.hub import allocation, order_reads, order_states, placement, returns, views
from app.hub.models import HubOrder
from app.hub.service import HubError
from app.orders.schemas import OrderBody
from app.orders.service import LineIn, OrderError, OrderIn

HQ = ("manager",)


# --- operators' pages ----------------------------------------------------------------


@get("/hub/orders", guards=[requires(*HQ)])
async def orders_page(request: Request, status: str = "open", store: str = "",
                      channel: str = "", late: bool = False) -> Template:
    orders = await order_reads.list_orders(request.app.state.db, status=status, store=store,
                                         channel=channel, late=late)
    return page(request, "hub/orders.html", "hub/_orders_table.html", orders=orders,
                status=status, store=store, channel=channel, late=late, now=utcnow(),
                counts=await order_reads.counts(request.app.state.db), labels=order_states.LABELS)


@get("/hub/orders/{order_id:str}", guards=[requires(*HQ)])
async def order_page(request: Request, order_id: str) -> Template:
    found = await order_reads.get_order(request.app.state.db, order_id)
    if found is None:
        raise NotFoundException(f"no order {order_id}")
    stores = await views.store_health(request.app.state.db, request.app.state.cfg.offline_after)
    return page(request, "hub/order.html", found=found, order=found.order, stores=stores,
                labels=order_states.LABELS, now=utcnow(), error=request.query_params.get("error", ""),
                returns=await returns.returns_of(request.app.state.db, found.order.id))


@post("/hub/orders/{order_id:str}/assign", guards=[requires(*HQ)])
async def order_assign(request: Request, order_id: str, data: Form) -> Response:
    user = signed_in(request)
    try:
        await placement.assign_by_hand(request.app.state.db, request.app.state.cfg,
                                       order_id, data.get("store", ""), user.name)
    except HubError as exc:
        return go(request, f"/hub/orders/{order_id}?error={_q(str(exc))}")
    return go(request, f"/hub/orders/{order_id}")


@post("/hub/orders/{order_id:str}/cancel", guards=[requires(*HQ)])
async def order_cancel(request: Request, order_id: str, data: Form) -> Response:
    user = signed_in(request)
    try:
        await placement.cancel(request.app.state.db, order_id, data.get("reason", ""),
                               user.name)
    except HubError as exc:
        return go(request, f"/hub/orders/{order_id}?error={_q(str(exc))}")
    return go(request, f"/hub/orders/{order_id}")


@post("/hub/orders/{order_id:str}/undelivered", guards=[requires(*HQ)])
async def order_undelivered(request: Request, order_id: str, data: Form) -> Response:
    """The rider could not hand it over (RTO, issue #19): back to the store that packed it."""
    user = signed_in(request)
    try:
        await returns.mark_undelivered(request.app.state.db, order_id,
                                       data.get("reason", ""), user.name,
                                       request.app.state.cfg.offline_after)
    except HubError as exc:
        return go(request, f"/hub/orders/{order_id}?error={_q(str(exc))}")
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
    try:
        header = csv_header(reader)
    except CsvUnreadable as exc:
        return [], [(exc.line, str(exc))]
    missing = [c for c in ("external_id", "pincode", "promised_by", "sku", "quantity")
               if c not in header]
    if missing:
        return [], [(1, f"missing column(s): {', '.join(missing)}")]
    groups: dict[str, list[tuple[int, dict]]] = {}
    errors: list[tuple[int, str]] = []
    try:
        for row in csv_rows(reader):
            ext = (row.get("external_id") or "").strip()
            if not ext:
                errors.append((reader.line_num, "external_id is empty"))
                continue
            groups.setdefault(ext, []).append((reader.line_num, row))
    except CsvUnreadable as exc:
        errors.append((exc.line, str(exc)))
    orders = []
    for ext, rows in groups.items():
        try:
            incoming = _order_of(channel, ext, [r for _n, r in rows])
        except ValueError as exc:
            errors.extend((n, f"order {ext}: {exc}") for n, _r in rows)
            continue
        orders.append(([n for n, _r in rows], incoming))
    return orders, errors


def _amount(text: str | None, what: str) -> int:
    """Rupees typed in a form or file -> paise (0 when empty), by money.parse_amount."""
    try:
        return parse_amount(text) if text and text.strip() else 0
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


def _coordinate(text: str | None) -> float | None:
    """A latitude or longitude typed in a file: a finite number (its range is checked with
    the API's rule), or None when empty."""
    cleaned = (text or "").strip()
    if not cleaned:
        return None
    value = float(cleaned[:32])
    if not math.isfinite(value):
        raise ValueError(f"{cleaned[:20]!r} is not a map coordinate")
    return value


def _order_of(channel: str, ext: str, rows: list[dict]) -> OrderIn:
    """One order from its rows, checked with the same rules (and bounds) as the API's body:
    the file's text is turned into an OrderBody, so nothing the API refuses gets in here."""
    first = rows[0]
    get = lambda key: (first.get(key) or "")  # noqa: E731
    body = {
        "channel": channel, "external_id": ext,
        "customer": {"name": get("customer_name").strip(), "phone": get("phone").strip()[:15],
                     "address": get("address").strip(), "pincode": get("pincode").strip(),
                     "lat": _coordinate(get("lat")), "lon": _coordinate(get("lon"))},
        "promised_by": datetime.fromisoformat(get("promised_by").strip()[:40]),
        "lines": [{"sku": (r.get("sku") or "").strip().upper(),
                   "quantity": parse_line_quantity(r.get("quantity") or ""),
                   "price_minor": _amount(r.get("price"), "price")} for r in rows],
        "payment": get("payment").strip() or "prepaid",
        "cod_amount_minor": _amount(get("cod_amount"), "cod_amount"),
    }
    try:
        data = msgspec.convert(body, OrderBody)
    except msgspec.ValidationError as exc:
        where, _sep, problem = str(exc).partition(" - at `$.")
        raise ValueError(f"{problem.rstrip('`')}: {where.replace('`', '')}" if problem
                         else where) from None
    return OrderIn(
        channel=data.channel, external_id=data.external_id, customer_name=data.customer.name,
        customer_phone=data.customer.phone, address=data.customer.address,
        pincode=data.customer.pincode, promised_by=data.promised_by, payment=data.payment,
        cod_amount_minor=data.cod_amount_minor, lat=data.customer.lat, lon=data.customer.lon,
        notes=data.notes,
        lines=tuple(LineIn(line.sku, line.quantity, line.price_minor) for line in data.lines))


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
    results: list[tuple[list[int], str, HubOrder | None, str]] = []
    for lines, incoming in orders:
        try:
            placed = await placement.take_order(request.app.state.db, request.app.state.cfg,
                                                incoming)
        except OrderError as exc:
            results.append((lines, incoming.external_id, None, str(exc)))
            continue
        note = "" if placed.created else _("already uploaded: kept the first")
        results.append((lines, incoming.external_id, placed.order, note))
    return page(request, "hub/orders_upload.html", results=results, errors=errors, error="",
                columns=UPLOAD_COLUMNS, labels=order_states.LABELS)


# --- rules ---------------------------------------------------------------------------


@get("/hub/rules", guards=[requires(*HQ)])
async def rules_page(request: Request) -> Template:
    return await _rules(request)


async def _rules(request: Request, error: str = "", saved: bool = False,
                 status_code: int = 200) -> Template:
    cfg = request.app.state.cfg
    rules, available = await order_reads.rules_and_couriers(request.app.state.db, cfg)
    return page(request, "hub/rules.html", status_code=status_code, rules=rules,
                criteria=allocation.CRITERIA, labels=allocation.CRITERIA_LABELS, cfg=cfg,
                available=available, error=error, saved=saved)


@post("/hub/rules", guards=[requires("admin")])
async def rules_save(request: Request, data: Form) -> Template:
    order = [c for c in (data.get(f"criterion{i}", "") for i in range(1, 5)) if c]
    try:
        rules = allocation.Rules(
            criteria=tuple(order), radius_km=float(data.get("radius_km", "")[:32]),
            safety_stock=parse_count(data.get("safety_stock", ""), "safety stock"),
            split_above_minor=_amount(data.get("split_above_rupees", "0"), "split value"),
            orders_per_picker=parse_count(data.get("orders_per_picker", ""),
                                          "orders per picker"))
    except ValueError as exc:
        return await _rules(request, error=_("Not saved: %(problem)s") % {"problem": exc},
                            status_code=400)
    await placement.save_rules(request.app.state.db, rules, signed_in(request).name)
    return await _rules(request, saved=True)


@post("/hub/couriers/{name:str}", guards=[requires(*HQ)])
async def courier_toggle(request: Request, name: str, data: Form) -> Response:
    if name not in {c.name for c in request.app.state.cfg.couriers}:
        raise NotFoundException(f"no courier {name}")
    await placement.set_courier_available(request.app.state.db, name,
                                          data.get("available") == "yes")
    return go(request, "/hub/rules")


ROUTES = [orders_page, order_page, order_assign, order_cancel, order_undelivered,
          upload_form, upload_orders,
          rules_page, rules_save, courier_toggle]
