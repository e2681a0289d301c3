"""HQ's chain promotions page (issue #21): the offers, a form per kind (the store's
forms and rules), Change (the same form, prefilled, with its own preview), End now, a
preview on a sample basket on a chosen day. HQ only (managers and admins); a store token
or a channel key opens nothing here."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Template

from app.core.auth import requires
from app.core.clock import utcnow
from app.core.i18n import N_, _, ngettext
from app.core.promotions import PromotionError
from app.core.web import Form, page, signed_in
from app.hub import promotions
from app.promotions.service import KIND_WORDS, FormError

HQ = requires("manager")  # managers and admins
DAYS = [N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun")]


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
    form = _form_of(data)
    try:
        created = await promotions.create(request.app.state.db, form, signed_in(request).id)
    except (FormError, PromotionError) as exc:
        return await _page(request, status_code=400, error=str(exc), form=_shown(form))
    await request.app.state.waker.wake_all_stores()
    n = len(created.stores)
    return await _page(request, saved=ngettext(
        "Saved: %(name)s, sent to %(num)d store", "Saved: %(name)s, sent to %(num)d stores", n)
        % {"name": created.promotion.name, "num": n})


def _form_of(data: Form) -> dict[str, str]:
    form = dict(data)
    form["days"] = ",".join(str(d) for d in range(7) if form.get(f"day{d}"))
    return form


def _shown(form: dict[str, str]) -> dict[str, str]:
    return {k: v[:200] for k, v in form.items() if isinstance(v, str)}


async def _edit_page(request: Request, promotion_id: str, status_code: int = 200,
                     form: dict[str, str] | None = None, **extra: Any) -> Template:
    found = await promotions.for_edit(request.app.state.db, promotion_id[:36])
    if found is None:
        raise NotFoundException(_("That offer is not running: an ended offer cannot be "
                                  "changed."))
    promo, saved_form = found
    return page(request, "hub/promotion_edit.html", status_code=status_code, promo=promo,
                kinds=KIND_WORDS, days=DAYS, chain=True, only_kind=promo.kind,
                promo_action=f"/hub/promotions/{promo.id}/edit",
                forms_title=_("Change: %(name)s") % {"name": promo.name},
                save_words=_("Save the changes"),
                form=form if form is not None else saved_form, **extra)


@get("/hub/promotions/{promotion_id:str}/edit", guards=[HQ])
async def edit_page(request: Request, promotion_id: str) -> Template:
    return await _edit_page(request, promotion_id)


@post("/hub/promotions/{promotion_id:str}/edit", guards=[HQ])
async def edit_promotion(request: Request, promotion_id: str, data: Form) -> Template:
    form = _form_of(data)
    try:
        changed = await promotions.edit(request.app.state.db, promotion_id[:36], form,
                                        signed_in(request).id)
    except (FormError, PromotionError) as exc:
        return await _edit_page(request, promotion_id, status_code=400, error=str(exc),
                                form=_shown(form))
    await request.app.state.waker.wake_all_stores()
    n = len(changed.stores)
    return await _page(request, saved=ngettext(
        "Changed: %(name)s (version %(version)s), sent to %(num)d store",
        "Changed: %(name)s (version %(version)s), sent to %(num)d stores", n)
        % {"name": changed.promotion.name, "version": changed.promotion.version, "num": n})


@post("/hub/promotions/{promotion_id:str}/preview", guards=[HQ])
async def preview_edit(request: Request, promotion_id: str, data: Form) -> Template:
    """The edit form's offer, not saved, on a sample basket with the other running
    offers: what a till would give once the change is saved."""
    form = _form_of(data)
    basket, on, codes = data.get("basket", ""), data.get("on", ""), data.get("coupons", "")
    kept: dict[str, Any] = {"basket": basket[:2000], "on": on[:10], "coupons": codes[:200],
                            "form": _shown(form)}
    try:
        preview = await promotions.preview_edit(request.app.state.db, promotion_id[:36],
                                                form, basket, on, codes,
                                                request.app.state.cfg.tz)
    except (FormError, PromotionError) as exc:
        return await _edit_page(request, promotion_id, status_code=400,
                                preview_error=str(exc), **kept)
    return await _edit_page(request, promotion_id, preview=preview, **kept)


@post("/hub/promotions/{promotion_id:str}/end", guards=[HQ])
async def end_promotion(request: Request, promotion_id: str) -> Template:
    ended = await promotions.end(request.app.state.db, promotion_id[:36],
                                 signed_in(request).id)
    if not ended:
        return await _page(request, status_code=404, error=_("That offer is not running."))
    await request.app.state.waker.wake_all_stores()
    return await _page(request, saved=_("The offer has ended at every store."))


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


ROUTES = [promotions_page, create_promotion, edit_page, edit_promotion, preview_edit,
          end_promotion, preview_promotions]
