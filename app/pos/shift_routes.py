"""The cashier's shift: open it (or join the open one), cash in/out, no-sale, close
with the cash count, X/Z reports on screen and paper, and the manager's audit page."""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.response import Template

from app.core import audit
from app.core.auth import LoginError
from app.core.i18n import _
from app.core.money import MoneyError, format_amount, parse_amount, parse_count
from app.core.web import Form, go, page, signed_in
from app.pos import shifts
from app.pos.common import OVERRIDE_ACTIONS
from app.pos.till_rules import NeedsApproval, PosError
from app.pos.till_web import (
    CASHIER,
    COUNTER_KEY,
    LAST_SHIFT_KEY,
    MANAGER,
    approval_box,
    approver_of,
    counter_of,
    ctx,
    notice,
)


@post("/pos/shift/open", guards=[CASHIER])
async def open_shift(request: Request, data: Form) -> Template | Response:
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = data.get("counter", "")
    try:
        float_minor = parse_amount(data.get("float", "0") or "0")
        existing = await shifts.current_shift(db, counter) if counter in cfg.pos.counters else None
        if existing is None:
            await shifts.open_shift(db, cfg, counter, signed_in(request), float_minor)
    except (PosError, MoneyError) as exc:
        return notice(request, str(exc))
    request.session[COUNTER_KEY] = counter  # joining an already open shift is fine
    return go(request, "/pos")


# ---- shift ----------------------------------------------------------------------------


@get("/pos/shift", guards=[CASHIER])
async def shift_page(request: Request) -> Template | Response:
    db = request.app.state.db
    counter = counter_of(request)
    shift = await shifts.current_shift(db, counter) if counter else None
    if shift is None:
        return go(request, "/pos")
    report = await shifts.shift_report(db, shift.id, request.app.state.cfg)
    return page(
        request,
        "pos/shift.html",
        **ctx(
            request, report=report, money=format_amount, message=request.query_params.get("msg", "")
        ),
    )


@post("/pos/shift/cash", guards=[CASHIER])
async def shift_cash(request: Request, data: Form) -> Response | Template:
    try:
        amount = parse_amount(data.get("amount", ""))
        sign = -1 if data.get("direction") == "out" else 1
        approver = await approver_of(request, data)
        await shifts.cash_movement(
            request.app.state.db,
            counter_of(request) or "",
            signed_in(request),
            sign * amount,
            data.get("reason", ""),
            approver,
            cfg=request.app.state.cfg,
        )
    except (NeedsApproval, LoginError) as exc:
        return await approval_box(request, data, str(exc), target="#shift-msg")
    except (PosError, MoneyError) as exc:
        return notice(request, str(exc))
    return go(request, "/pos/shift?" + urlencode({"msg": _("Cash recorded")}))


@post("/pos/shift/no-sale", guards=[CASHIER])
async def shift_no_sale(request: Request, data: Form) -> Response | Template:
    try:
        await shifts.no_sale(
            request.app.state.db, counter_of(request) or "", signed_in(request), data.get("reason", "")
        )
    except PosError as exc:
        return notice(request, str(exc))
    return go(request, "/pos/shift?" + urlencode({"msg": _("Drawer opening logged")}))


@post("/pos/shift/close", guards=[CASHIER])
async def shift_close(request: Request, data: Form) -> Response | Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = counter_of(request)
    shift = await shifts.current_shift(db, counter) if counter else None
    if shift is None:
        return notice(request, _("This counter has no open shift (was it closed already?)."))
    counts: dict[int, int] = {}
    try:
        for denom in cfg.pos.denominations:
            text = data.get(f"d{denom}", "").strip() or "0"
            try:
                counts[denom] = parse_count(text, "a count")
            except MoneyError as exc:
                raise PosError(f"₹{denom}: {exc}") from None
        await shifts.close_shift(db, cfg, shift.id, signed_in(request), counts)
    except PosError as exc:
        return notice(request, str(exc))
    request.session.pop(COUNTER_KEY, None)
    request.session[LAST_SHIFT_KEY] = shift.id
    return go(request, f"/pos/shifts/{shift.id}")


def _may_see_report(request: Request, shift_id: str) -> None:
    """A cashier sees the Z report of the shift they just closed; others are the manager's."""
    closed_here = request.session.get(LAST_SHIFT_KEY) == shift_id
    if signed_in(request).role not in ("manager", "admin") and not closed_here:
        raise PermissionDeniedException(_("Shift reports of other counters are for managers."))


@get("/pos/shifts/{shift_id:str}", guards=[CASHIER])
async def shift_report_page(request: Request, shift_id: str) -> Template:
    try:
        report = await shifts.shift_report(request.app.state.db, shift_id,
                                            request.app.state.cfg)
    except PosError:
        raise NotFoundException(_("No such shift.")) from None
    _may_see_report(request, shift_id)
    return page(request, "pos/z_report.html", **ctx(request, report=report, money=format_amount))


@post("/pos/shift/print", guards=[CASHIER])
async def shift_print(request: Request) -> Template:
    """The X report of this counter's open shift, on paper."""
    db = request.app.state.db
    counter = counter_of(request)
    shift = await shifts.current_shift(db, counter) if counter else None
    if shift is None:
        return notice(request, _("This counter has no open shift (was it closed already?)."))
    return await _print_report(request, shift.id)


@post("/pos/shifts/{shift_id:str}/print", guards=[CASHIER])
async def shift_report_print(request: Request, shift_id: str) -> Template:
    """A shift's report again: its X while open, a DUPLICATE of its Z once closed."""
    _may_see_report(request, shift_id)
    return await _print_report(request, shift_id)


async def _print_report(request: Request, shift_id: str) -> Template:
    try:
        report, printers = await shifts.print_shift_report(
            request.app.state.db, request.app.state.cfg, shift_id, signed_in(request))
    except PosError as exc:
        return notice(request, str(exc))
    request.app.state.print_queue.wake()
    label = _("Z report (copy)") if report.shift.closed_at else _("X report")
    return notice(request, _("%(report)s sent to %(printers)s.") % {
        "report": label, "printers": ", ".join(printers)}, "ok")


@get("/pos/audit", guards=[MANAGER])
async def audit_page(request: Request) -> Template:
    entries = await audit.named_entries(request.app.state.db, OVERRIDE_ACTIONS)
    recent = await shifts.recent_shifts(request.app.state.db)
    return page(
        request,
        "pos/audit.html",
        **ctx(request, entries=entries, shifts=recent, money=format_amount),
    )

ROUTES = [
    open_shift,
    shift_page,
    shift_cash,
    shift_no_sale,
    shift_close,
    shift_report_page,
    shift_print,
    shift_report_print,
    audit_page,
]
