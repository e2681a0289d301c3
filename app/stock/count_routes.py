"""Cycle count pages (issue #17): the manager's tasks, approvals, ABC schedule and
accuracy; the counter's blind count on a phone. Thin: app/stock/counts.py does the work.

Counting (any staff who count: picker, cashier, manager) happens on one phone per task:
the phone is known by a key kept in its sign-in session, so a second phone (or another
person) is refused while the first one counts.
"""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template

from app.catalog.units import format_quantity
from app.core.auth import requires
from app.core.i18n import _
from app.core.web import Form, current_user, go, page, signed_in
from app.stock import count_chart, count_rules, count_schedule, counts
from app.stock.counts import CountError, NeedQuantity

MANAGER = requires("manager")
COUNTER = requires("manager", "picker", "cashier")
PHONE_KEY = "count_phone"
CHART_W, CHART_H = 320, 120


def _phone(request: Request) -> str:
    """This browser's counting key (one per sign-in session)."""
    key = request.session.get(PHONE_KEY)
    if not isinstance(key, str) or len(key) != 32:
        key = counts.new_phone_key()
        request.session[PHONE_KEY] = key
    return key


def _tz(request: Request) -> Any:
    return request.app.state.cfg.tz


@get("/stock/counts", guards=[COUNTER])
async def counts_page(request: Request, error: str = "") -> Template:
    db = request.app.state.db
    user = signed_in(request)
    manager = user.role in ("manager", "admin")
    return page(request, "stock/counts.html", user=user, manager=manager,
                tasks=await counts.list_tasks(db),
                done=await counts.list_tasks(db, finished=True, limit=10) if manager else [],
                waiting=len(await counts.approvals(db)) if manager else 0,
                zones=await counts.zones(db) if manager else [],
                kinds=counts.KINDS, words=counts.STATUS_WORDS, say_scope=counts.say_scope,
                error=error[:200])


@post("/stock/counts", guards=[MANAGER])
async def create_count(request: Request, data: Form) -> Template | Response:
    kind = data.get("kind", "")
    target = {"bin": data.get("bin", ""), "zone": data.get("zone", ""),
              "product": data.get("sku", "")}.get(kind, "")
    try:
        limit = int(data.get("limit", "20") or "20") if len(data.get("limit", "")) <= 4 else 0
    except ValueError:
        limit = 0
    try:
        task = await counts.create_task(request.app.state.db, kind=kind, target=target,
                                        user=signed_in(request), limit=limit, tz=_tz(request))
    except CountError as exc:
        if kind == "due":
            return await _due_page(request, str(exc))
        return await counts_page.fn(request, error=str(exc))
    return go(request, f"/stock/count/{task.id}")


@get("/stock/count/{task_id:str}", guards=[MANAGER])
async def count_detail(request: Request, task_id: str, message: str = "") -> Template:
    try:
        detail = await counts.task_detail(request.app.state.db, task_id)
    except CountError as exc:
        return await counts_page.fn(request, error=str(exc))
    return page(request, "stock/count_task.html", user=current_user(request), d=detail,
                kinds=counts.KINDS, words=counts.STATUS_WORDS, say_scope=counts.say_scope,
                count_reason=count_rules.say_reason, fq=format_quantity, message=message[:200])


@post("/stock/count/{task_id:str}/cancel", guards=[MANAGER])
async def cancel_count(request: Request, task_id: str) -> Template | Response:
    try:
        await counts.cancel_task(request.app.state.db, task_id, signed_in(request))
    except CountError as exc:
        return await count_detail.fn(request, task_id, message=str(exc))
    return go(request, f"/stock/count/{task_id}")


@post("/stock/count/{task_id:str}/release", guards=[MANAGER])
async def release_count(request: Request, task_id: str) -> Template | Response:
    try:
        await counts.release_task(request.app.state.db, task_id, signed_in(request))
    except CountError as exc:
        return await count_detail.fn(request, task_id, message=str(exc))
    return go(request, f"/stock/count/{task_id}")


@get("/stock/counts/approvals", guards=[MANAGER])
async def approvals_page(request: Request, message: str = "", refused: bool = False
                         ) -> Template:
    rows = await counts.approvals(request.app.state.db)
    return page(request, "stock/count_approvals.html", fragment="stock/_count_approvals.html",
                user=current_user(request), rows=rows, fq=format_quantity, message=message[:200],
                count_reason=count_rules.say_reason, refused=refused)


@post("/stock/counts/lines/{line_id:str}/{verdict:str}", guards=[MANAGER])
async def decide(request: Request, line_id: str, verdict: str) -> Template:
    if verdict not in ("approve", "reject"):
        return await approvals_page.fn(request, message=_("Choose approve or reject."),
                                       refused=True)
    try:
        line = await counts.decide_line(request.app.state.db, line_id, signed_in(request),
                                        approve=verdict == "approve")
        message = (_("Approved: the difference is now in the stock book.")
                   if line.status == "posted" else _("Rejected: the stock book stays as it was."))
    except CountError as exc:
        return await approvals_page.fn(request, message=str(exc), refused=True)
    return await approvals_page.fn(request, message=message)


async def _due_page(request: Request, error: str = "") -> Template:
    due = await count_schedule.due_products(request.app.state.db, tz=_tz(request))
    return page(request, "stock/count_due.html", user=current_user(request), due=due[:200],
                total=len(due), error=error[:200])


@get("/stock/counts/due", guards=[MANAGER])
async def due_page(request: Request) -> Template:
    return await _due_page(request)


@get("/stock/counts/accuracy", guards=[MANAGER])
async def accuracy_page(request: Request) -> Template:
    weeks = await count_schedule.accuracy(request.app.state.db, tz=_tz(request))
    bars = count_chart.share_bars([w.share_bp for w in weeks], CHART_W, CHART_H)
    return page(request, "stock/count_accuracy.html", user=current_user(request),
                weeks=list(zip(weeks, bars, strict=True)), width=CHART_W, height=CHART_H,
                lines=sum(w.lines for w in weeks), right=sum(w.right for w in weeks))


# ---- counting on a phone ---------------------------------------------------------------


def _ctx(request: Request, **extra: Any) -> dict[str, Any]:
    return {"user": current_user(request), "fq": format_quantity,
            "form_id": secrets.token_hex(16), **extra}


async def _phone_page(request: Request, task_id: str, *, message: str = "",
                      kind: str = "ok", status_code: int = 200) -> Template:
    db = request.app.state.db
    try:
        view = await counts.phone_task(db, task_id, signed_in(request), _phone(request))
    except CountError as exc:
        return page(request, "stock/count_phone.html", fragment="stock/_count_phone.html",
                    status_code=200, **_ctx(request, view=None, bin=None, message=str(exc),
                                            kind="error"))
    return page(request, "stock/count_phone.html", fragment="stock/_count_phone.html",
                status_code=status_code,
                **_ctx(request, view=view, bin=None, message=message, kind=kind))


def _bin_page(request: Request, view: counts.BinView, *, message: str = "", kind: str = "ok",
              need: Any = None) -> Template:
    return page(request, "stock/count_phone.html", fragment="stock/_count_phone.html",
                **_ctx(request, view=None, bin=view, message=message or view.note,
                       kind=kind if message else ("info" if view.note else kind), need=need))


@post("/stock/count/{task_id:str}/claim", guards=[COUNTER])
async def claim_count(request: Request, task_id: str, data: Form) -> Template | Any:
    try:
        await counts.claim(request.app.state.db, task_id, signed_in(request), _phone(request),
                           alone=data.get("alone") == "1", take_over=data.get("here") == "1")
    except CountError as exc:
        return page(request, "stock/count_phone.html", **_ctx(
            request, view=None, bin=None, message=str(exc), kind="error",
            alone_task=task_id if exc.offer == "alone" else "",
            here_task=task_id if exc.offer == "here" else ""))
    return go(request, f"/stock/count/{task_id}/count")


@get("/stock/count/{task_id:str}/count", guards=[COUNTER])
async def count_phone(request: Request, task_id: str) -> Template:
    return await _phone_page(request, task_id)


@post("/stock/count/{task_id:str}/bin", guards=[COUNTER])
async def open_bin(request: Request, task_id: str, data: Form) -> Template:
    try:
        view = await counts.open_bin(request.app.state.db, task_id, signed_in(request),
                                     _phone(request), data.get("code", ""))
    except CountError as exc:
        return await _phone_page(request, task_id, message=str(exc), kind="error")
    return _bin_page(request, view)


@get("/stock/count/{task_id:str}/bins/{bin_id:str}", guards=[COUNTER])
async def bin_page(request: Request, task_id: str, bin_id: str) -> Template:
    try:
        view = await counts.bin_view(request.app.state.db, task_id, signed_in(request),
                                     _phone(request), bin_id)
    except CountError as exc:
        return await _phone_page(request, task_id, message=str(exc), kind="error")
    return _bin_page(request, view)


async def _after_error(request: Request, task_id: str, bin_id: str, exc: CountError
                       ) -> Template:
    """The bin again with the reason (a scan refused), or the task (the bin is gone)."""
    try:
        view = await counts.bin_view(request.app.state.db, task_id, signed_in(request),
                                     _phone(request), bin_id)
    except CountError:
        return await _phone_page(request, task_id, message=str(exc), kind="error")
    need = exc.product if isinstance(exc, NeedQuantity) else None
    return _bin_page(request, view, message=str(exc), kind="info" if need else "error",
                     need=need)


@post("/stock/count/{task_id:str}/bins/{bin_id:str}/scan", guards=[COUNTER])
async def scan_item(request: Request, task_id: str, bin_id: str, data: Form) -> Template:
    try:
        view = await counts.add_scan(
            request.app.state.db, task_id, bin_id, signed_in(request), _phone(request),
            code=data.get("code", ""), quantity=data.get("quantity"),
            request_id=data.get("request_id", ""), rules=request.app.state.cfg.measure_rules)
    except CountError as exc:
        return await _after_error(request, task_id, bin_id, exc)
    return _bin_page(request, view)


@post("/stock/count/{task_id:str}/bins/{bin_id:str}/undo", guards=[COUNTER])
async def undo_scan(request: Request, task_id: str, bin_id: str) -> Template:
    try:
        view = await counts.undo_last(request.app.state.db, task_id, bin_id,
                                      signed_in(request), _phone(request))
    except CountError as exc:
        return await _after_error(request, task_id, bin_id, exc)
    return _bin_page(request, view)


@post("/stock/count/{task_id:str}/bins/{bin_id:str}/done", guards=[COUNTER])
async def finish_bin(request: Request, task_id: str, bin_id: str) -> Template:
    try:
        sent = await counts.finish_bin(request.app.state.db, task_id, bin_id,
                                       signed_in(request), _phone(request),
                                       counts.policy_of(request.app.state.cfg.stock))
    except CountError as exc:
        return await _after_error(request, task_id, bin_id, exc)
    if sent.round_over:
        return page(request, "stock/count_phone.html", fragment="stock/_count_phone.html",
                    **_ctx(request, view=None, bin=None, finished=sent.task,
                           message=_("Bin %(code)s sent. Every bin of %(number)s is counted: "
                                     "thank you.") % {"code": sent.bin.code,
                                                      "number": sent.task.number}, kind="ok"))
    return await _phone_page(request, task_id,
                             message=_("Bin %(code)s sent.") % {"code": sent.bin.code})


ROUTES = [
    counts_page, create_count, count_detail, cancel_count, release_count, approvals_page,
    decide, due_page, accuracy_page, claim_count, count_phone, open_bin, bin_page, scan_item,
    undo_scan, finish_bin,
]
