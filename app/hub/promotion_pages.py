"""HQ's chain promotions page (issue #21): the offers, a form per kind (the store's
forms and rules), End now, a preview on a sample basket on a chosen day. HQ only
(managers and admins); a store token or a channel key opens nothing here."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Template

from app.core.auth import requires
from app.core.clock import utcnow
from app.core.promotions import PromotionError
from app.core.web import Form, page, signed_in
from app.core.words import count_of
from app.hub import promotions
from app.promotions.service import KIND_WORDS, FormError

HQ = requires("manager")  # managers and admins
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


async def _page(request: Request, status_code: int = 200, **extra: Any) -> Template:
    cfg = request.app.state.cfg
    rows = await promotions.listing(request.app.state.db, utcnow().astimezone(cfg.tz))
    return page(request, "hub/promotions.html", status_code=status_code, rows=rows,
                kinds=KIND_WORDS, days=DAYS, chain=True, promo_action="/hub/promotions",
                form=extra.pop("form", {}), **extra)


@get("/hub/promotions", guards=[HQ])
async def promotions_page(request: Request) -> Template:
    return await _page(request)


@post("/hub/promotions", guards=[HQ])
async def create_promotion(request: Request, data: Form) -> Template:
    form = dict(data)
    form["days"] = ",".join(str(d) for d in range(7) if form.get(f"day{d}"))
    try:
        created = await promotions.create(request.app.state.db, form, signed_in(request).id)
    except (FormError, PromotionError) as exc:
        shown = {k: v[:200] for k, v in form.items() if isinstance(v, str)}
        return await _page(request, status_code=400, error=str(exc), form=shown)
    await request.app.state.waker.wake_all_stores()
    return await _page(request, saved=f"Saved: {created.promotion.name}, sent to "
                                      f"{count_of(len(created.stores), 'store')}")


@post("/hub/promotions/{promotion_id:str}/end", guards=[HQ])
async def end_promotion(request: Request, promotion_id: str) -> Template:
    ended = await promotions.end(request.app.state.db, promotion_id[:36],
                                 signed_in(request).id)
    if not ended:
        return await _page(request, status_code=404, error="That offer is not running.")
    await request.app.state.waker.wake_all_stores()
    return await _page(request, saved="The offer has ended at every store.")


@post("/hub/promotions/preview", guards=[HQ])
async def preview_promotions(request: Request, data: Form) -> Template:
    basket, on, codes = data.get("basket", ""), data.get("on", ""), data.get("coupons", "")
    try:
        preview = await promotions.preview(request.app.state.db, basket, on, codes,
                                           request.app.state.cfg.tz)
    except FormError as exc:
        return await _page(request, status_code=400, preview_error=str(exc),
                           basket=basket[:2000], on=on[:10], coupons=codes[:200])
    return await _page(request, preview=preview, basket=basket[:2000], on=on[:10],
                       coupons=codes[:200])


ROUTES = [promotions_page, create_promotion, end_promotion, preview_promotions]
