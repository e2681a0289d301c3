"""HQ's loyalty page (issue #21, docs/loyalty.md): the chain's points outstanding, the
write-offs per store (overdraws booked so no balance went below zero), movements kept
apart, and a customer by number or card (masked, with who took each points tender), and
the customer's erasure on request. Points move only at the stores."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Template

from app.core.auth import requires
from app.core.i18n import N_, _, ngettext
from app.core.loyalty import LoyaltyError
from app.core.web import Form, page, signed_in
from app.hub import loyalty

HQ = ("manager",)  # admins too
# The movements' kinds as the customer's table shows them (in English the kind itself).
KIND_WORDS = (N_("earned"), N_("redeemed"), N_("earned_back"), N_("points_back"))


@get("/hub/loyalty", guards=[requires(*HQ)])
async def loyalty_page(request: Request, q: str = "") -> Template:
    return await _page(request, q)


async def _page(request: Request, q: str = "", status_code: int = 200, **extra: Any
                ) -> Template:
    db = request.app.state.db
    chain, overdraws = await loyalty.overview(db)
    found, error = None, ""
    if q.strip():
        try:
            found = await loyalty.customer_view(db, q[:64])
            if found is None:
                error = _("No customer with that number or card at the hub.")
        except LoyaltyError as exc:
            error = str(exc)
            status_code = 400
    return page(request, "hub/loyalty.html", status_code=status_code, chain=chain,
                overdraws=overdraws, found=found, error=error, q=q[:64], **extra)


@post("/hub/loyalty/erase", guards=[requires(*HQ)])
async def erase_customer(request: Request, data: Form) -> Template:
    """Erase a customer on their request (DPDP Act 2023), from HQ: the manager types
    "erase". The form names the customer by id (the page never holds the number)."""
    if str(data.get("confirm", "")).strip().lower() != "erase":
        return await _page(request, status_code=400,
                           erase_error=_('Type "erase" to erase the customer.'))
    done = await loyalty.erase_at_hub(request.app.state.db, str(data.get("customer", "")),
                                      signed_in(request))
    if done is None:
        return await _page(request, status_code=404,
                           erase_error=_("No such customer at the hub (erased already?)."))
    masked, told = done
    if told:
        await request.app.state.waker.wake_all_stores()
    return await _page(request, erased=ngettext(
        "Erased %(masked)s: %(num)d store told to erase them too.",
        "Erased %(masked)s: %(num)d stores told to erase them too.", told)
        % {"masked": masked, "num": told})


ROUTES = [loyalty_page, erase_customer]
