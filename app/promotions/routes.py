"""The manager's promotions page (issue #21): what runs, what is scheduled, what ended;
a form per kind of offer in plain words; end an offer; a preview on a sample basket.
Every route is for managers (and admins); forms carry the CSRF token like the others."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Template

from app.core.auth import requires
from app.core.i18n import N_, _
from app.core.promotions import PromotionError
from app.core.web import Form, current_user, page
from app.promotions import service
from app.promotions.service import KIND_WORDS, FormError

MANAGER = requires("manager")  # managers and admins

DAYS = [N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun")]


async def _page(request: Request, status_code: int = 200, **extra: Any) -> Template:
    listing = await service.listing(request.app.state.db, request.app.state.cfg)
    return page(request, "promotions/list.html", status_code=status_code,
                user=current_user(request), listing=listing, kinds=KIND_WORDS, days=DAYS,
                form=extra.pop("form", {}), **extra)


@get("/promotions", guards=[MANAGER])
async def promotions_page(request: Request) -> Template:
    return await _page(request)


@post("/promotions", guards=[MANAGER])
async def create_promotion(request: Request, data: Form) -> Template:
    user = current_user(request)
    assert user is not None
    form = dict(data)
    form["days"] = _days_of(form)
    try:
        row = await service.create(request.app.state.db, request.app.state.cfg, form, user)
    except (FormError, PromotionError) as exc:
        shown = {k: v[:200] for k, v in form.items() if isinstance(v, str)}
        return await _page(request, status_code=400, error=str(exc), form=shown)
    return await _page(request, saved=_("Saved: %(name)s") % {"name": row.name})


def _days_of(form: dict[str, str]) -> str:
    """Days of the week come as day0 ... day6 checkboxes."""
    return ",".join(str(d) for d in range(7) if form.get(f"day{d}"))


@post("/promotions/{promotion_id:str}/end", guards=[MANAGER])
async def end_promotion(request: Request, promotion_id: str) -> Template:
    user = current_user(request)
    assert user is not None
    ended = await service.end(request.app.state.db, request.app.state.cfg,
                              promotion_id[:36], user)
    if not ended:
        return await _page(request, status_code=404, error=_("That offer is not running."))
    return await _page(request, saved=_("The offer has ended."))


@post("/promotions/preview", guards=[MANAGER])
async def preview_promotions(request: Request, data: Form) -> Template:
    basket = data.get("basket", "")
    try:
        preview = await service.preview(request.app.state.db, request.app.state.cfg, basket,
                                        data.get("coupons", ""))
    except FormError as exc:
        return await _page(request, status_code=400, preview_error=str(exc),
                           basket=basket[:2000])
    return await _page(request, preview=preview, basket=basket[:2000])


ROUTES = [promotions_page, create_promotion, end_promotion, preview_promotions]
