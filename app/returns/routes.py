"""The returns desk on a phone (issue #19): the expected returns, open one by scanning
its bag label or order code, scan each item, grade it (with a photo if wanted), finish;
a manager's PIN when the refund rule asks for one. Pickers and managers."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from litestar.response import Template

from app.catalog.units import format_measure, format_quantity
from app.config import PHOTO_MAX_KB_LIMIT
from app.core import auth
from app.core.auth import LoginError, requires
from app.core.i18n import N_, _
from app.core.return_rules import GRADES, ReturnRuleError
from app.core.routes import client_source, device_key
from app.core.web import Form, current_user, go, is_htmx, page, signed_in
from app.returns import metrics, photos, service

DESK = requires("picker")  # pickers and managers (a manager may do what a picker does)
# config's highest photo_max_kb, plus one byte: with the form it stays under Litestar's
# request body limit (10,000,000 bytes), so a photo too big gets the desk's own message
MAX_PHOTO_READ = PHOTO_MAX_KB_LIMIT * 1024 + 1


@get("/returns", guards=[DESK])
async def returns_index(request: Request, message: str = "") -> Template:
    db = request.app.state.db
    return page(request, "returns/index.html", user=current_user(request),
                expected=await service.expected_returns(db),
                finished=await service.recent_finished(db), message=message[:200],
                kind="error" if message else "ok")


@post("/returns/open", guards=[DESK])
async def returns_open(request: Request, data: Form) -> Response | Template:
    try:
        ret = await service.find_open(request.app.state.db, request.app.state.cfg,
                                      data.get("code", ""))
    except service.ReturnError as exc:
        db = request.app.state.db
        return page(request, "returns/index.html", status_code=404,
                    user=current_user(request), expected=await service.expected_returns(db),
                    finished=await service.recent_finished(db), message=str(exc),
                    kind="error")
    return go(request, f"/returns/{ret.id}")


async def _desk(request: Request, rid: str, *, message: str = "", kind: str = "ok",
                scanned: service.Scanned | None = None, status_code: int = 200,
                approval: str = "", again: str = "") -> Template:
    """The desk; `scanned` opens the grade form for an item, `again` (a SKU whose grade
    was refused) opens it once more so the picker can correct the quantity."""
    db = request.app.state.db
    cfg = request.app.state.cfg
    try:
        v = await service.view(db, rid)
    except service.NotFound as exc:
        raise NotFoundException(str(exc)) from None
    try:
        decision = service.preview(v.ret, cfg)
    except ReturnRuleError:
        decision = None
    if scanned is None and again and v.open:
        line = next((li for li in v.lines if li.sku == again.upper()), None)
        if line is not None and line.received < line.expected:
            scanned = service.Scanned(line, v.units.get(line.sku, "piece"))
    bin_code = await service.suggested_bin(db, scanned.line.product_id) if scanned else ""
    if v.ret.state == "awaiting_approval" and not approval:
        approval = decision.why if decision else N_("a manager must approve")
    # htmx swaps only 2xx answers: the desk's refusals come back as 200 fragments with
    # the red message (as the picker's screen does); a plain form post keeps the 4xx.
    if approval:  # the rule's reasons, kept in English in the history, read translated
        approval = "; ".join(_(part) for part in approval.split("; "))
    return page(request, "returns/desk.html", fragment="returns/_desk.html",
                status_code=200 if is_htmx(request) else status_code, user=current_user(request), v=v,
                decision=decision, message=message, kind=kind,
                scanned=scanned.line if scanned else None,
                unit=scanned.unit if scanned else "piece",
                weight=format_measure(scanned.weight, scanned.unit).split()[0]
                if scanned and scanned.weight else "",
                bin_code=bin_code, grades=GRADES, words=service.GRADE_WORDS,
                approval=approval,
                approvers=await auth.list_approvers(db) if approval else [],
                form_id=secrets.token_hex(16),
                max_kb=cfg.returns.photo_max_kb)


@get("/returns/report", guards=[requires("manager")])
async def returns_report(request: Request, days: int = 30) -> Template:
    """Return rate by product, returns by reason and grade, time to process."""
    return page(request, "returns/report.html", user=current_user(request),
                f=await metrics.figures(request.app.state.db, days),
                words=service.GRADE_WORDS)


@get("/returns/{rid:str}", guards=[DESK])
async def returns_desk(request: Request, rid: str) -> Template:
    return await _desk(request, rid)


@post("/returns/{rid:str}/scan", guards=[DESK])
async def returns_scan(request: Request, rid: str, data: Form) -> Template:
    try:
        found = await service.scan_for_grading(request.app.state.db, rid,
                                               data.get("code", ""),
                                               tuple(request.app.state.cfg.measure_rules))
    except service.NotFound as exc:
        raise NotFoundException(str(exc)) from None
    except service.ReturnError as exc:
        return await _desk(request, rid, message=str(exc), kind="error", status_code=400)
    message = (_("%(sku)s (%(weight)s on the label): how did it come back?")
               % {"sku": found.line.sku, "weight": format_quantity(found.weight, found.unit)}
               if found.weight else
               _("%(sku)s: how did it come back?") % {"sku": found.line.sku})
    return await _desk(request, rid, scanned=found, message=message)


@post("/returns/{rid:str}/grade", guards=[DESK])
async def returns_grade(
    request: Request, rid: str,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Template:
    sku = str(data.get("sku", ""))[:40]
    grade = str(data.get("grade", ""))[:20]
    upload = data.get("photo")
    photo = None
    if isinstance(upload, UploadFile) and upload.filename:
        photo = (await upload.read(MAX_PHOTO_READ)) or None
    try:
        await photos.grade_with_photo(request.app.state.db, request.app.state.cfg, rid, sku,
                                      grade, signed_in(request), photo,
                                      str(data.get("request_id", ""))[:36],
                                      quantity=str(data.get("quantity", "") or "")[:40],
                                      whole=data.get("whole") == "1")
    except service.AlreadyGraded:  # a retry of a grade already counted: the same answer
        pass
    except service.NotFound as exc:
        raise NotFoundException(str(exc)) from None
    except service.AlreadyFinished as exc:
        return await _desk(request, rid, message=str(exc), kind="error", status_code=400)
    except service.ReturnError as exc:
        return await _desk(request, rid, message=str(exc), kind="error", status_code=400,
                           again=sku)
    return await _desk(request, rid, message=_("%(sku)s: %(grade)s. Scan the next item.")
                       % {"sku": sku.upper(), "grade": _(service.GRADE_WORDS[grade])})


@post("/returns/{rid:str}/undo", guards=[DESK])
async def returns_undo(request: Request, rid: str, data: Form) -> Template:
    try:
        await service.undo_grades(request.app.state.db, rid, data.get("sku", ""),
                                  signed_in(request))
    except service.ReturnError as exc:
        return await _desk(request, rid, message=str(exc), kind="error", status_code=400)
    return await _desk(request, rid, message=_("Grades cleared: scan those items again."))


@post("/returns/{rid:str}/finish", guards=[DESK])
async def returns_finish(request: Request, rid: str, data: Form) -> Template:
    """Finish; with `approver_id` and `approver_pin` a manager approves (or, with
    decision=reject, rejects) a return the rule holds for them."""
    db, cfg = request.app.state.db, request.app.state.cfg
    asking = signed_in(request)
    reject = data.get("decision") == "reject"
    approver = None
    try:
        if data.get("approver_id") or data.get("approver_pin") or reject:
            approver_id = data.get("approver_id", "")[:36]
            pin = data.get("approver_pin", "")[:12]
            if not approver_id or not pin:
                raise service.ReturnError(_("Choose the manager and enter their PIN."))
            approver = await auth.verify_approver(db, cfg, approver_id, pin,
                                                  device_key(request),
                                                  requester_id=asking.id or None,
                                                  source=client_source(request))
        done = await service.finish(db, cfg, rid, asking, approver=approver, reject=reject)
    except service.NotFound as exc:
        raise NotFoundException(str(exc)) from None
    except service.AlreadyFinished as exc:
        return await _desk(request, rid, message=str(exc), kind="error", status_code=409)
    except (service.ReturnError, LoginError) as exc:
        return await _desk(request, rid, message=str(exc), kind="error", status_code=400)
    if done.state == "awaiting_approval":
        return await _desk(request, rid, kind="info", approval=done.why,
                           message=_("A manager's PIN is needed to finish this return."))
    return await _desk(request, rid, message=(
        _("Return rejected: nothing refunded, nothing put back.") if done.state == "rejected"
        else _("Return finished. The refund goes to the channel.")))


ROUTES = [returns_index, returns_open, returns_report, returns_desk, returns_scan,
          returns_grade, returns_undo, returns_finish]
