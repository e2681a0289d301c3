"""Store pages for transfers between stores (issue #17), phone-sized: the list (going
out, coming in) with a request form, and one transfer's page with the step this store
can take (pick, send, receive with differences, cancel). Thin: stock/transfers.py."""

from __future__ import annotations

from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Template

from app.core.auth import requires
from app.core.clock import utcnow
from app.core.i18n import _
from app.core.web import Form, go, page, signed_in
from app.stock import service, transfers
from app.stock import transfer_rules as rules
from app.stock.transfer_rules import TransferRuleError

VIEW = requires("manager", "picker")
MANAGER = requires("manager")


def _store_id(request: Request) -> str:
    return request.app.state.cfg.store.id


def _q(text: str) -> str:
    return quote(text[:300])


@get("/stock/transfers", guards=[VIEW])
async def transfers_page(request: Request) -> Template:
    going, coming = await transfers.list_transfers(request.app.state.db, _store_id(request))
    return page(request, "stock/transfers.html", going=going, coming=coming,
                here=_store_id(request), label=rules.label,
                error=request.query_params.get("error", "")[:300])


@post("/stock/transfers", guards=[MANAGER])
async def transfer_request(request: Request, data: Form) -> Response:
    me = _store_id(request)
    other = data.get("other", "").strip().upper()[:9]
    sending = data.get("direction", "send") != "ask"
    try:
        lines = rules.parse_lines(data.get("lines", ""))
        made = await transfers.request_transfer(
            request.app.state.db, me, source=me if sending else other,
            dest=other if sending else me, lines=lines, note=data.get("note", "")[:200],
            user=signed_in(request))
    except (transfers.TransferError, TransferRuleError) as exc:
        return go(request, f"/stock/transfers?error={_q(str(exc))}")
    return go(request, f"/stock/transfers/{made.id}")


@get("/stock/transfers/{transfer_id:str}", guards=[VIEW])
async def transfer_page_route(request: Request, transfer_id: str) -> Template:
    return await transfer_page(request, transfer_id,
                               error=request.query_params.get("error", "")[:300])


async def transfer_page(request: Request, transfer_id: str, *, error: str = "",
                        typed: dict[str, str] | None = None, ask_more: bool = False
                        ) -> Template:
    db = request.app.state.db
    try:
        view = await transfers.get_transfer(db, transfer_id)
    except transfers.NotFound:
        raise NotFoundException(_("No such transfer here.")) from None
    me = _store_id(request)
    if me not in (view.transfer.source, view.transfer.dest):
        raise NotFoundException(_("No such transfer here."))
    return page(request, "stock/transfer.html", view=view, t=view.transfer, here=me,
                label=rules.label, reasons=rules.DIFFERENCE_REASONS,
                bins=await service.list_bins(db) if view.transfer.dest == me else [],
                error=error[:600], typed=typed or {}, ask_more=ask_more)


def _quantities(data: dict[str, str], prefix: str) -> dict[str, int]:
    out = {}
    for name, value in data.items():
        if name.startswith(prefix):
            sku = name[len(prefix):][:40]
            out[sku] = rules.parse_quantity(value or "0", sku, zero_ok=True)
    return out


async def _step(request: Request, transfer_id: str, step, data: dict[str, str] | None = None
                ) -> Response | Template:
    back = f"/stock/transfers/{_q(transfer_id)}"
    try:
        await step()
    except transfers.NotFound:
        raise NotFoundException(_("No such transfer here.")) from None
    except transfers.MoreThanExpected as exc:
        # The same form again with what they typed and the question: a redirect would
        # lose the numbers they have to check.
        typed = {k: v[:20] for k, v in (data or {}).items()
                 if k.startswith(("pick:", "got:", "why:")) or k == "bin"}
        return await transfer_page(request, transfer_id, error=str(exc), typed=typed,
                                   ask_more=True)
    except (transfers.TransferError, TransferRuleError) as exc:
        return go(request, f"{back}?error={_q(str(exc))}")
    return go(request, back)


def _more_ok(data: dict[str, str]) -> bool:
    return data.get("more_ok", "") == "yes"


@post("/stock/transfers/{transfer_id:str}/pick", guards=[VIEW])
async def transfer_pick(request: Request, transfer_id: str, data: Form
                        ) -> Response | Template:
    async def step() -> None:
        await transfers.pick(request.app.state.db, _store_id(request), transfer_id,
                             _quantities(data, "pick:"), signed_in(request),
                             more_ok=_more_ok(data))

    return await _step(request, transfer_id, step, data)


@post("/stock/transfers/{transfer_id:str}/dispatch", guards=[MANAGER])
async def transfer_dispatch(request: Request, transfer_id: str) -> Response:
    async def step() -> None:
        # Expired batches never leave: judged by the store's local date.
        await transfers.dispatch(request.app.state.db, _store_id(request), transfer_id,
                                 signed_in(request),
                                 today=utcnow().astimezone(request.app.state.cfg.tz).date())

    return await _step(request, transfer_id, step)


@post("/stock/transfers/{transfer_id:str}/receive", guards=[MANAGER])
async def transfer_receive(request: Request, transfer_id: str, data: Form
                           ) -> Response | Template:
    async def step() -> None:
        why = {name[4:][:40]: value[:20] for name, value in data.items()
               if name.startswith("why:")}
        await transfers.receive(request.app.state.db, _store_id(request), transfer_id,
                                _quantities(data, "got:"), why,
                                bin_code=data.get("bin", "")[:20], user=signed_in(request),
                                more_ok=_more_ok(data))

    return await _step(request, transfer_id, step, data)


@post("/stock/transfers/{transfer_id:str}/cancel", guards=[MANAGER])
async def transfer_cancel(request: Request, transfer_id: str, data: Form) -> Response:
    async def step() -> None:
        await transfers.cancel(request.app.state.db, _store_id(request), transfer_id,
                               data.get("reason", ""), signed_in(request))

    return await _step(request, transfer_id, step)


ROUTES = [transfers_page, transfer_request, transfer_page_route, transfer_pick, transfer_dispatch,
          transfer_receive, transfer_cancel]
