"""Receiving pages (GRN, issue #17), made for a phone: pick the purchase order (or none),
scan each case or piece, check the differences, a manager signs off with their PIN.
Staff who put goods away (picker) and managers may receive; only a manager's PIN signs.
Thin: parse the form with receiving_rules.py, call one receiving.py function, render."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Template
from markupsafe import Markup

from app.catalog.units import format_quantity
from app.core import auth
from app.core.auth import LoginError, requires
from app.core.clock import utcnow
from app.core.i18n import N_, _
from app.core.money import format_amount
from app.core.routes import client_source, device_key
from app.core.web import Form, current_user, go, is_htmx, page, signed_in
from app.printing.documents import local_day
from app.purchasing import receiving, service
from app.purchasing.receiving_rules import (
    KIND_LABELS,
    MAX_REASON,
    MAX_REF,
    WARNINGS,
    ReceivingError,
    parse_batch,
    parse_count,
    parse_expiry,
    parse_text,
)
from app.purchasing.rules import SupplierError, parse_case_cost

RECEIVER = requires("manager", "picker")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Suggested reasons for a difference (the form's datalist), in the reader's language.
REASONS = (N_("Supplier sent less"), N_("Rest comes later"), N_("Supplier sent more"),
           N_("Broken in transit"), N_("Leaking or wet"), N_("Expired or close to expiry"),
           N_("Not on our order: kept"), N_("Wrong item: returned to the driver"))


def _today(request: Request) -> date:
    return utcnow().astimezone(request.app.state.cfg.tz).date()


def _ctx(request: Request, **extra: Any) -> dict[str, Any]:
    return {"user": current_user(request), "fq": format_quantity, "kinds": KIND_LABELS,
            "money": format_amount, "bin_options": bin_options, "day": local_day, **extra}


@pass_context
def bin_options(context: Context, bins: tuple[receiving.BinChoice, ...], chosen: Any,
                home: str) -> Markup:
    """The put-away <option>s (purchasing/_bin_options.html), drawn once per bins, chosen
    and home bin and kept: a scan lists every bin of the store (80 in the bench), which
    was most of a scan's template time. A chosen value that is no bin's code (typed
    into the form) selects nothing and is kept as None, so form input cannot fill the
    cache. Not kept while pages are being edited (auto_reload)."""
    if chosen not in _codes(bins):
        chosen = None
    env = context.environment
    if env.auto_reload:
        return _draw_bin_options(env, bins, chosen, home, _("(its place)"))
    return _kept_bin_options(env, bins, chosen, home, _("(its place)"))


def _draw_bin_options(env: Environment, bins: tuple[receiving.BinChoice, ...],
                      chosen: str | None, home: str, its_place: str = "(its place)") -> Markup:
    # its_place: the home bin's mark in the reader's language (a key of the kept drawing)
    # a template module's macros are its attributes, unknown to the type checker
    macro = env.get_template("purchasing/_bin_options.html").module.bin_options  # type: ignore[attr-defined]
    return Markup(macro(bins, chosen, home, its_place))


_kept_bin_options = lru_cache(maxsize=512)(_draw_bin_options)


@lru_cache(maxsize=4)
def _codes(bins: tuple[receiving.BinChoice, ...]) -> frozenset[str]:
    return frozenset(b.code for b in bins)


async def _view(request: Request, grn: str) -> receiving.ReceiptView:
    try:
        return await receiving.get_receipt(request.app.state.db, grn)
    except receiving.NotFound as exc:
        raise NotFoundException(str(exc)) from None


@get("/purchasing/receive", guards=[RECEIVER])
async def receive_index(request: Request) -> Template:
    db = request.app.state.db
    return page(request, "purchasing/receive_index.html", **_ctx(
        request, orders=await receiving.awaiting_orders(db),
        receipts=await receiving.list_receipts(db),
        suppliers=await service.list_suppliers(db), error=""))


@post("/purchasing/receive", guards=[RECEIVER])
async def receive_start(request: Request, data: Form) -> Response | Template:
    """Open a receipt against an order (or join the one open on it), or without one."""
    db = request.app.state.db
    try:
        grn = await receiving.start(
            db, po_id=data.get("po_id", "").strip() or None,
            supplier_id=data.get("supplier_id", "").strip() or None,
            supplier_ref=parse_text(data.get("supplier_ref", ""), _("the supplier's bill number"),
                                    MAX_REF),
            user_id=signed_in(request).id)
    except ReceivingError as exc:
        return page(request, "purchasing/receive_index.html", status_code=400, **_ctx(
            request, orders=await receiving.awaiting_orders(db),
            receipts=await receiving.list_receipts(db),
            suppliers=await service.list_suppliers(db), error=str(exc)))
    return go(request, f"/purchasing/receive/{grn}")


@get("/purchasing/receive/{grn:str}", guards=[RECEIVER])
async def receive_page(request: Request, grn: str, done: str = "") -> Template:
    view = await _lines(request, grn)
    return page(request, "purchasing/receive.html", **_ctx(request, view=view, done=done == "1"))


def _step(request: Request, view_id: str, step: receiving.ScanStep | None, *,
          error: str = "", values: dict[str, str] | None = None, warnings: Sequence[str] = (),
          confirm: Sequence[str] = (), status_code: int = 200) -> Template:
    # htmx swaps only 2xx answers: a refusal it must show comes as 200 (the plain form
    # post, without htmx, gets the real status).
    if is_htmx(request):
        status_code = 200
    return page(request, "purchasing/receive_step.html", status_code=status_code, **_ctx(
        request, grn_id=view_id, step=step, error=error, values=values or {},
        warnings=list(warnings), confirm=",".join(confirm)))


@post("/purchasing/receive/{grn:str}/scan", guards=[RECEIVER])
async def receive_scan(request: Request, grn: str, data: Form) -> Template:
    """A scanned code -> the product and the add form (nothing is written)."""
    try:
        step = await receiving.scan(request.app.state.db, grn, data.get("code", ""),
                                    today=_today(request),
                                    rules=request.app.state.cfg.measure_rules)
    except receiving.NotFound as exc:
        raise NotFoundException(str(exc)) from None
    except ReceivingError as exc:
        return _step(request, grn, None, error=str(exc))
    return _step(request, grn, step)


def _item(data: dict[str, str], today: date) -> receiving.ItemInput:
    return receiving.ItemInput(
        request_id=data.get("request_id", "")[:64],
        product_id=data.get("product_id", "")[:64],
        unit=data.get("unit", "piece")[:8],
        count=parse_count(data.get("count", "")),
        bin_code=parse_text(data.get("bin", ""), _("bin"), 20),
        batch=parse_batch(data.get("batch", "")),
        expiry=parse_expiry(data.get("expiry", ""), today),
        damaged=data.get("damaged", "") == "1",
        # As scanned, for the record: FNC1 (GS) and any other control character shown as |.
        code=_CONTROL.sub("|", data.get("code", "")[:200]),
    )


async def _lines(request: Request, grn: str) -> receiving.ReceiptView:
    try:
        return await receiving.get_receipt(request.app.state.db, grn, scanned_only=True)
    except receiving.NotFound as exc:
        raise NotFoundException(str(exc)) from None


@post("/purchasing/receive/{grn:str}/items", guards=[RECEIVER])
async def receive_add(request: Request, grn: str, data: Form) -> Template:
    """Add the scanned line; an unusual one comes back with its warnings to confirm."""
    db = request.app.state.db
    confirmed = frozenset(k for k in data.get("confirm", "")[:60].split(",") if k in WARNINGS)
    try:
        added = await receiving.add_item(db, grn, _item(data, _today(request)),
                                         today=_today(request), user_id=signed_in(request).id,
                                         confirmed=confirmed)
    except receiving.NotFound as exc:
        raise NotFoundException(str(exc)) from None
    except ReceivingError as exc:
        step = None
        try:
            step = await receiving.step_for(db, grn, data.get("product_id", ""),
                                            data.get("unit", "piece"))
        except ReceivingError as again:
            return _step(request, grn, None, error=f"{exc} {again}".strip(), status_code=400)
        if isinstance(exc, receiving.NeedsConfirm):
            return _step(request, grn, step, values=data, warnings=exc.warnings,
                         confirm=exc.kinds, status_code=409)
        return _step(request, grn, step, values=data, error=str(exc), status_code=400)
    view = await _lines(request, grn)
    return page(request, "purchasing/receive_added.html", **_ctx(request, added=added,
                                                                   view=view))


@post("/purchasing/receive/{grn:str}/items/{item:str}/remove", guards=[RECEIVER])
async def receive_remove(request: Request, grn: str, item: str) -> Response | Template:
    try:
        await receiving.remove_item(request.app.state.db, grn, item)
    except receiving.NotFound as exc:
        raise NotFoundException(str(exc)) from None
    except ReceivingError as exc:
        view = await _view(request, grn)
        return page(request, "purchasing/receive.html", status_code=400,
                    **_ctx(request, view=view, error=str(exc)))
    if is_htmx(request):
        return page(request, "purchasing/receive_lines.html",
                    **_ctx(request, view=await _lines(request, grn)))
    return go(request, f"/purchasing/receive/{grn}")


async def _summary_page(request: Request, grn: str, *, error: str = "",
                        values: dict[str, str] | None = None,
                        status_code: int = 200) -> Template:
    view = await _view(request, grn)
    approvers = await auth.list_approvers(request.app.state.db)
    return page(request, "purchasing/receive_summary.html", status_code=status_code, **_ctx(
        request, view=view, approvers=approvers, error=error, values=values or {},
        reasons=REASONS))


@get("/purchasing/receive/{grn:str}/summary", guards=[RECEIVER])
async def receive_summary(request: Request, grn: str) -> Template:
    return await _summary_page(request, grn)


def _sign_form(data: dict[str, str], view: receiving.ReceiptView) -> receiving.SignOff:
    reasons: dict[str, str] = {}
    costs: dict[str, int | None] = {}
    for row in view.summary:
        pid = row.product_id
        reasons[pid] = parse_text(data.get(f"reason_{pid}", ""),
                                  _("the reason for %(name)s") % {"name": row.name}, MAX_REASON)
        text = data.get(f"cost_{pid}", "")
        try:
            costs[pid] = parse_case_cost(text) if text.strip() else None
        except SupplierError as exc:
            raise ReceivingError(f"{row.name}: {exc}") from None
    return receiving.SignOff(reasons=reasons, costs=costs, close_po=data.get("close_po") == "1")


@post("/purchasing/receive/{grn:str}/sign", guards=[RECEIVER])
async def receive_sign(request: Request, grn: str, data: Form) -> Response | Template:
    """The manager's PIN closes the receipt: stock in, order state, average cost."""
    db = request.app.state.db
    view = await _view(request, grn)
    if not view.open:  # a double tap or a replay: already done, nothing changes
        return go(request, f"/purchasing/receive/{grn}")
    try:
        form = _sign_form(data, view)
        approver_id, pin = data.get("approver_id", "")[:36], data.get("approver_pin", "")[:12]
        if not approver_id or not pin:
            raise ReceivingError(_("Choose the manager and enter their PIN."))
        asking = signed_in(request)
        signer = await auth.verify_approver(db, request.app.state.cfg, approver_id, pin,
                                            device_key(request), requester_id=asking.id,
                                            source=client_source(request))
        await receiving.sign_off(db, grn, form, signer_id=signer.id, user_id=asking.id)
    except receiving.AlreadyClosed:
        return go(request, f"/purchasing/receive/{grn}")
    except (ReceivingError, LoginError) as exc:
        return await _summary_page(request, grn, error=str(exc), values=data, status_code=400)
    return go(request, f"/purchasing/receive/{grn}?done=1")


@post("/purchasing/receive/{grn:str}/cancel", guards=[requires("manager")])
async def receive_cancel(request: Request, grn: str) -> Response:
    """A manager gives up an open receipt; nothing entered stock."""
    try:
        await receiving.cancel(request.app.state.db, grn, signed_in(request).id)
    except receiving.NotFound as exc:
        raise NotFoundException(str(exc)) from None
    except ReceivingError:
        pass  # already closed: a double tap changes nothing
    return go(request, f"/purchasing/receive/{grn}")


ROUTES = [receive_index, receive_start, receive_page, receive_scan, receive_add, receive_remove,
          receive_summary, receive_sign, receive_cancel]
