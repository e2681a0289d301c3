"""The expiry page for managers (issue #17): what is past its date or expires in the
next days, by bin, with "Write off as expired" and "Mark down" on every batch. Thin:
parse the form with expiry_rules, call one service function (expiry.py), render.

Mark-down labels go to the print queue (app.printing, which imports no other feature;
pyproject lets this one module reach it)."""

from __future__ import annotations

import secrets
from datetime import date

from litestar import Request, get, post
from litestar.response import Template

from app.catalog.units import format_quantity
from app.core.auth import requires
from app.core.clock import utcnow
from app.core.i18n import _, ngettext
from app.core.money import format_amount
from app.core.web import Form, current_user, page, signed_in
from app.printing import service as printing
from app.stock import expiry
from app.stock.expiry_rules import MAX_DAYS, ExpiryError, parse_days

MANAGER = requires("manager")


def _today(request: Request) -> date:
    return utcnow().astimezone(request.app.state.cfg.tz).date()


def _new_key() -> str:
    """The idempotency key of one drawn button: a double tap or a retry acts once."""
    return secrets.token_urlsafe(18)


async def _page(request: Request, days: int, *, message: str = "", kind: str = "ok",
                status_code: int = 200) -> Template:
    listed = await expiry.expiring(request.app.state.db, request.app.state.cfg, days=days,
                                   today=_today(request))
    return page(request, "stock/expiry.html", status_code=status_code,
                user=current_user(request), listed=listed, days=days, max_days=MAX_DAYS,
                message=message, kind=kind, new_key=_new_key)


def _default_days(request: Request) -> int:
    """The store's setting (stock.expiry_days_ahead), 7 unless set."""
    return int(request.app.state.cfg.stock.expiry_days_ahead)


@get("/stock/expiry", guards=[MANAGER])
async def expiry_page(request: Request, days: str = "") -> Template:
    try:
        ahead = parse_days(days[:10], _default_days(request))
    except ExpiryError as exc:
        return await _page(request, _default_days(request), message=str(exc), kind="error",
                           status_code=400)
    return await _page(request, ahead)


def _days_of(request: Request, data: dict[str, str]) -> int:
    try:
        return parse_days(data.get("days", "")[:10], _default_days(request))
    except ExpiryError:
        return _default_days(request)


@post("/stock/expiry/write-off", guards=[MANAGER])
async def write_off(request: Request, data: Form) -> Template:
    days = _days_of(request, data)
    try:
        done = await expiry.write_off(
            request.app.state.db, product_id=data.get("product_id", ""),
            bin_id=data.get("bin_id", ""), batch=data.get("batch", ""),
            key=data.get("key", ""), user=signed_in(request))
    except ExpiryError as exc:
        return await _page(request, days, message=str(exc), kind="error", status_code=400)
    what = {"qty": format_quantity(done.quantity, done.unit), "name": done.name,
            "batch": done.batch, "code": done.bin_code}
    message = (_("Already written off: %(qty)s × %(name)s, batch %(batch)s, bin %(code)s.")
               if done.already else
               _("Written off as expired: %(qty)s × %(name)s, batch %(batch)s, bin %(code)s.")
               ) % what
    return await _page(request, days, message=message)


@post("/stock/expiry/mark-down", guards=[MANAGER])
async def mark_down(request: Request, data: Form) -> Template:
    days = _days_of(request, data)
    cfg = request.app.state.cfg

    def print_labels(s, label: expiry.MarkdownLabel) -> int:
        return len(printing.print_document(s, cfg, "price_label", ref=f"markdown {label.sku}",
                                           title=f"Mark-down {label.name}", label=label))

    try:
        done = await expiry.mark_down(
            request.app.state.db, cfg, product_id=data.get("product_id", ""),
            bin_id=data.get("bin_id", ""), batch=data.get("batch", ""),
            price=data.get("price", "")[:40], labels=data.get("labels", "")[:10],
            key=data.get("key", ""), user=signed_in(request), print_labels=print_labels)
    except ExpiryError as exc:
        return await _page(request, days, message=str(exc), kind="error", status_code=400)
    if done.already or done.label is None:
        return await _page(request, days,
                           message=_("Those labels were already sent to the printer."))
    request.app.state.print_queue.wake()
    label = done.label
    return await _page(request, days, message=ngettext(
        "%(num)d label for %(name)s at %(price)s sent to the printer. Stick them over the old "
        "price.", "%(num)d labels for %(name)s at %(price)s sent to the printer. Stick them "
        "over the old price.", label.copies) % {
            "num": label.copies, "name": label.name, "price": format_amount(label.now_minor)})


ROUTES = [expiry_page, write_off, mark_down]
