"""Picker phone screens, the packing bench and the rider desk."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.response import Template

from app.catalog import service as catalog
from app.catalog.units import format_quantity as qty
from app.core.auth import requires
from app.core.clock import utcnow
from app.core.i18n import _, ngettext
from app.core.money import format_amount
from app.core.web import Form, current_user, go, page, signed_in
from app.orders import service as orders
from app.orders.states import LABELS, IllegalTransition
from app.picking import handover, service
from app.picking.planner import BatchLimits, PlanError
from app.stock.service import list_bins

PICKER = requires("picker")


async def _pick_view(request: Request, message: str = "", kind: str = "ok",
                     batch_picked: bool = False) -> dict[str, Any]:
    """What the picker's screen needs; `batch_picked`: the last task of a batch was just
    done, so the screen offers the way to packing."""
    batch = await service.open_batch(request.app.state.db, signed_in(request))
    put_back = await service.put_back_list(request.app.state.db, signed_in(request),
                                           request.app.state.cfg.tz)
    task = service.next_task(batch) if batch else None
    promised, name_local = None, ""
    if task is not None:
        order = await orders.get_order(request.app.state.db, task.order_id)
        promised = order.promised_by if order else None
        name_local = await catalog.local_name(request.app.state.db, task.product_id)
    zones = sorted({b.zone for b in await list_bins(request.app.state.db) if b.zone})
    waiting = await service.waiting_count(request.app.state.db)
    return {"user": current_user(request), "batch": batch, "task": task, "message": message,
            "waiting": waiting, "batch_picked": batch_picked,
            "zones": zones, "zone": request.query_params.get("zone", ""),
            "kind": kind, "progress": service.progress(batch) if batch else None,
            "put_back": put_back, "promised_by": promised, "now": utcnow(),
            "name_local": name_local}


@get("/pick", guards=[PICKER])
async def pick_page(request: Request) -> Template:
    return page(request, "picking/pick.html", fragment="picking/_task.html",
                **await _pick_view(request))


@get("/pick/alerts", guards=[PICKER])
async def pick_alerts(request: Request) -> Template:
    """Put-back instructions and the waiting count, refreshed when any order changes."""
    return page(request, "picking/_alerts.html", **await _pick_view(request))


@post("/pick/claim", guards=[PICKER])
async def claim(request: Request, data: Form) -> Template:
    """Next batch; a picker who works one zone (chilled, frozen…) gets only its orders."""
    try:
        cfg = request.app.state.cfg
        zone = data.get("zone", "").strip() or None
        limits = BatchLimits(max_orders=cfg.picking.max_orders_per_batch,
                             max_items=cfg.picking.max_items_per_batch, zone=zone)
        batch = await service.claim_batch(request.app.state.db, cfg, signed_in(request), limits)
    except PlanError as exc:
        return page(request, "picking/_task.html", **await _pick_view(request, str(exc), "error"))
    message = "" if batch else _("No orders waiting. Check again in a moment.")
    return page(request, "picking/_task.html", **await _pick_view(request, message))


async def _after_pick(request: Request, task) -> Template:
    """What the picker sees after a counted item: progress, or the next task."""
    message = (_("%(name)s: %(picked)s of %(quantity)s") % {
        "name": task.name, "picked": task.picked, "quantity": task.quantity}
        if task.status == "open"
        else _("Done: %(name)s into bag %(bag)s") % {"name": task.name, "bag": task.bag})
    picked = await service.open_batch(request.app.state.db, signed_in(request)) is None
    if picked:
        message += _(". Batch picked: take the bags to packing.")
    return page(request, "picking/_task.html", **await _pick_view(request, message,
                                                                   batch_picked=picked))


@post("/pick/tasks/{task_id:str}/scan", guards=[PICKER])
async def scan(request: Request, task_id: str, data: Form) -> Template:
    try:
        task = await service.confirm_scan(request.app.state.db, signed_in(request), task_id,
                                          data.get("code", ""),
                                          request.app.state.cfg.measure_rules)
    except service.PickError as exc:
        return page(request, "picking/_task.html", **await _pick_view(request, str(exc),
                                                                       "error"))
    return await _after_pick(request, task)


@post("/pick/tasks/{task_id:str}/more", guards=[PICKER])
async def more(request: Request, task_id: str, data: Form) -> Template:
    try:
        task = await service.add_more(request.app.state.db, signed_in(request), task_id,
                                      take_all=data.get("all") == "1")
    except service.PickError as exc:
        return page(request, "picking/_task.html", **await _pick_view(request, str(exc),
                                                                       "error"))
    return await _after_pick(request, task)


@post("/pick/tasks/{task_id:str}/short", guards=[PICKER])
async def short(request: Request, task_id: str, data: Form) -> Template:
    try:
        task = await service.short_pick(request.app.state.db, signed_in(request), task_id,
                                        data.get("reason", ""), data.get("substitute", ""),
                                        request.app.state.cfg.measure_rules)
    except service.PickError as exc:
        return page(request, "picking/_task.html", **await _pick_view(request, str(exc),
                                                                       "error"))
    note = _(" Substitute %(sku)s goes in bag %(bag)s.") % {
        "sku": task.substitute_sku, "bag": task.bag} if task.substitute_sku else ""
    picked = await service.open_batch(request.app.state.db, signed_in(request)) is None
    if picked:
        note += _(" Batch picked: take the bags to packing.")
    return page(request, "picking/_task.html", **await _pick_view(
        request, _("Short: %(name)s. The bin is marked for a count.") % {"name": task.name}
        + note,
        batch_picked=picked))


async def _bench(request: Request, **extra: Any) -> dict[str, Any]:
    """What the packing page needs: the picked orders with their bag letters."""
    return {"user": current_user(request), "now": utcnow(), "money": format_amount,
            "cards": await service.packing_bench(request.app.state.db),
            "message": request.query_params.get("msg", "")[:200], "error": False} | extra


@get("/pack", guards=[PICKER])
async def pack_page(request: Request) -> Template:
    return page(request, "picking/pack.html", **await _bench(request))


def _pack_answer(request: Request, result: service.Packed | service.WhichOrder | None,
                 error: str = "") -> Template:
    """The answer under the packing bench's one scan field: what happened, or which bag;
    the order's card comes out of band, so the field (and the packer's place) stay put."""
    card, message, kind = None, error, "error"
    if isinstance(result, service.Packed):
        card, line = result.card, result.line
        message, kind = _("%(name)s: %(packed)s of %(picked)s → bag %(bag)s (%(order)s)") % {
            "name": line.name, "packed": qty(line.packed_quantity, line.unit),
            "picked": qty(line.picked_quantity, line.unit), "bag": card.bag or "?",
            "order": card.order.number}, "ok"
        if not service.unpacked(card.order):
            message += _(". All packed: print its labels.")
    return page(request, "picking/pack.html", fragment="picking/_pack_result.html",
                scan_message=message, scan_kind=kind, card=card,
                ask=result if isinstance(result, service.WhichOrder) else None,
                now=utcnow(), money=format_amount)


@post("/pack/scan", guards=[PICKER])
async def pack_scan_any(request: Request, data: Form) -> Template:
    """Any item scanned at the bench finds its order by itself."""
    try:
        result = await service.pack_scan_any(request.app.state.db, data.get("code", ""),
                                             request.app.state.cfg.measure_rules)
    except service.PickError as exc:
        return _pack_answer(request, None, str(exc))
    return _pack_answer(request, result)


@post("/pack/{order_id:str}/scan", guards=[PICKER])
async def pack_scan(request: Request, order_id: str, data: Form) -> Template:
    """The item goes into this order: the packer's answer to "which bag?"."""
    try:
        result = await service.pack_scan_into(request.app.state.db, order_id,
                                              data.get("code", ""),
                                              request.app.state.cfg.measure_rules)
    except service.PickError as exc:
        return _pack_answer(request, None, str(exc))
    return _pack_answer(request, result)


@post("/pack/{order_id:str}", guards=[PICKER])
async def pack(request: Request, order_id: str, data: Form) -> Response | Template:
    bags = data.get("bags", "1").strip()
    try:
        if not (bags.isascii() and bags.isdigit()):
            raise service.PickError(_("bags must be a whole number"))
        order = await service.pack(request.app.state.db, request.app.state.cfg, signed_in(request),
                                   order_id, int(bags))
    except (service.PickError, IllegalTransition) as exc:
        return page(request, "picking/pack.html", **await _bench(request, message=str(exc),
                                                                 error=True))
    request.app.state.print_queue.wake()
    said = ngettext("Order %(number)s packed: %(num)d label printed",
                    "Order %(number)s packed: %(num)d labels printed", order.bag_count) % {
        "number": order.number, "num": order.bag_count}
    return go(request, "/pack?" + urlencode({"msg": said}))


HANDOVER = requires(*handover.HANDOVER_ROLES)


async def _desk(request: Request, **extra: Any) -> dict[str, Any]:
    """What the rider desk's templates need: the ready orders, and who may see codes."""
    ready = await service.orders_in(request.app.state.db, "ready")
    return {"user": current_user(request), "orders": ready, "now": utcnow(),
            "money": format_amount, "handed": handover.handed, "labels": LABELS,
            "show_code": handover.may_hand_over(current_user(request)), "message": "",
            "kind": "ok", "confirm": None, "found": None, "q": "", "find_error": "",
            "max_found": handover.MAX_FOUND} | extra


@get("/handover", guards=[HANDOVER])
async def handover_page(request: Request) -> Template:
    return page(request, "picking/handover.html", fragment="picking/_handover.html",
                **await _desk(request))


@post("/handover/scan", guards=[HANDOVER])
async def handover_scan(request: Request, data: Form) -> Template:
    """A bag label hands over that bag; the order's code asks first, then hands over the rest."""
    db, cfg = request.app.state.db, request.app.state.cfg
    confirm = None
    try:
        result = await handover.handover_scan(db, cfg, signed_in(request), data.get("code", ""),
                                              data.get("confirm", ""))
        number = result.order.number
        if result.confirm:
            message, kind, confirm = "", "ok", result
        elif result.bags_left:
            message, kind = ngettext(
                "Bag %(bag)s of %(count)s of %(number)s handed over: %(num)d more bag to scan.",
                "Bag %(bag)s of %(count)s of %(number)s handed over: %(num)d more bags to scan.",
                result.bags_left) % {"bag": result.bag_no, "count": result.order.bag_count,
                                     "number": number, "num": result.bags_left}, "warn"
        else:
            cash = (_(" Collect %(amount)s cash.") % {
                "amount": format_amount(result.order.cod_amount_minor)}
                if result.order.payment == "cod" else "")
            message, kind = _("%(number)s handed over.") % {"number": number} + cash, "ok"
    except (service.PickError, IllegalTransition) as exc:
        message, kind = str(exc), "error"
    return page(request, "picking/handover.html", fragment="picking/_handover_result.html",
                **await _desk(request, message=message, kind=kind, confirm=confirm))


@get("/handover/find", guards=[HANDOVER])
async def handover_find(request: Request) -> Template:
    """Find an order by its number or the customer's phone: its bags, and its code."""
    q = request.query_params.get("q", "")[:40]
    found, error = None, ""
    try:
        found = await handover.find_orders(request.app.state.db, request.app.state.cfg, q)
    except service.PickError as exc:
        error = str(exc)
    return page(request, "picking/handover.html", fragment="picking/_found.html",
                **await _desk(request, found=found, q=q.strip(), find_error=error))


ROUTES = [
    pick_page, pick_alerts, claim, scan, more, short, pack_page, pack_scan_any, pack_scan, pack,
    handover_page, handover_scan, handover_find,
]
