"""HQ's pages for transfers between stores and replenishment (issue #17). Thin: the
use cases are in transfers.py, the rules in replenish.py and stock/transfer_rules.py."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Template

from app.core.auth import requires
from app.core.clock import utcnow
from app.core.i18n import _
from app.core.web import Form, go, page, signed_in
from app.hub import replenish, transfers, views
from app.hub.service import HubError
from app.stock import transfer_rules as rules
from app.stock.transfer_rules import Line, TransferRuleError

HQ = ("manager",)  # admins may do everything


def _q(text: str) -> str:
    return quote(text[:300])


def _int(text: str, default: int, low: int, high: int) -> int:
    text = (text or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 3:
        return default
    return min(max(int(text), low), high)


@get("/hub/transfers", guards=[requires(*HQ)])
async def transfers_page(request: Request, store: str = "") -> Template:
    db = request.app.state.db
    state = request.query_params.get("state", "open")
    rows = await transfers.list_transfers(db, state=state[:12], store=store[:8])
    stores = await views.store_health(db, request.app.state.cfg.offline_after)
    return page(request, "hub/transfers.html", "hub/_transfers_table.html", rows=rows,
                in_transit=await transfers.in_transit(db), stores=stores,
                state=state[:12], store=store[:8], label=rules.label, states=rules.STATES,
                error=request.query_params.get("error", "")[:300],
                form=request.query_params)


@get("/hub/transfers/{transfer_id:str}", guards=[requires(*HQ)])
async def transfer_page(request: Request, transfer_id: str) -> Template:
    try:
        view = await transfers.get_transfer(request.app.state.db, transfer_id)
    except transfers.NotFound:
        raise NotFoundException(_("No such transfer.")) from None
    return page(request, "hub/transfer.html", view=view, t=view.transfer, label=rules.label,
                open_states=rules.OPEN, error=request.query_params.get("error", "")[:300])


@post("/hub/transfers", guards=[requires(*HQ)])
async def transfer_create(request: Request, data: Form) -> Response:
    user = signed_in(request)
    try:
        lines = rules.parse_lines(data.get("lines", ""))
        made = await transfers.create(request.app.state.db, transfers.NewTransfer(
            data.get("source", ""), data.get("dest", ""), tuple(lines),
            data.get("note", "")[:rules.MAX_NOTE]), user.name)
    except (HubError, TransferRuleError) as exc:
        return go(request, f"/hub/transfers?error={_q(str(exc))}")
    return go(request, f"/hub/transfers/{made.id}")


@post("/hub/transfers/{transfer_id:str}/approve", guards=[requires(*HQ)])
async def transfer_approve(request: Request, transfer_id: str) -> Response:
    try:
        await transfers.approve(request.app.state.db, transfer_id, signed_in(request).name)
    except transfers.NotFound:
        raise NotFoundException("No such transfer.") from None
    except HubError as exc:
        return go(request, f"/hub/transfers/{_q(transfer_id)}?error={_q(str(exc))}")
    return go(request, f"/hub/transfers/{_q(transfer_id)}")


@post("/hub/transfers/{transfer_id:str}/cancel", guards=[requires(*HQ)])
async def transfer_cancel(request: Request, transfer_id: str, data: Form) -> Response:
    try:
        await transfers.cancel(request.app.state.db, transfer_id, signed_in(request).name,
                               data.get("reason", ""))
    except transfers.NotFound:
        raise NotFoundException("No such transfer.") from None
    except HubError as exc:
        return go(request, f"/hub/transfers/{_q(transfer_id)}?error={_q(str(exc))}")
    return go(request, f"/hub/transfers/{_q(transfer_id)}")


async def _replenish_context(request: Request, days: str, history: str) -> dict[str, Any]:
    cfg = request.app.state.cfg
    lead, hist = _int(days, 2, 1, replenish.MAX_DAYS), _int(history, 14, 1, replenish.MAX_DAYS)
    today = utcnow().astimezone(cfg.tz).date()
    found = await transfers.replenishment(request.app.state.db, today, lead, hist)
    return {"found": found, "days": lead, "history": hist,
            "key": secrets.token_urlsafe(18), "float": float}


@get("/hub/replenish", guards=[requires(*HQ)])
async def replenish_page(request: Request, days: str = "2", history: str = "14") -> Template:
    return page(request, "hub/replenish.html",
                **await _replenish_context(request, days, history),
                error=request.query_params.get("error", "")[:300],
                made=request.query_params.get("made", "")[:300])


@post("/hub/replenish", guards=[requires(*HQ)])
async def replenish_confirm(request: Request, data: Form) -> Response:
    """Bulk confirm: the ticked suggestions become transfers, one per pair of stores,
    already approved. The form's key makes a second submit (double tap, another tab)
    find the first one's transfers instead of making more."""
    back = f"/hub/replenish?days={_int(data.get('days', ''), 2, 1, 90)}"
    try:
        picks = replenish.picks_from_form(data)
        items = [transfers.NewTransfer(source, dest, tuple(Line(sku, q) for sku, q in lines))
                 for (source, dest), lines in replenish.group(picks).items()]
        made = await transfers.create_many(request.app.state.db, data.get("key", ""), items,
                                           signed_in(request).name)
    except (HubError, ValueError) as exc:
        return go(request, f"{back}&error={_q(str(exc))}")
    numbers = ", ".join(t.number for t in made)
    return go(request, f"{back}&made={_q(numbers)}")


ROUTES = [transfers_page, transfer_page, transfer_create, transfer_approve, transfer_cancel,
          replenish_page, replenish_confirm]
