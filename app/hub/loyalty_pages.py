"""HQ's loyalty page (issue #21, docs/loyalty.md): the chain's points outstanding, the
write-offs per store (overdraws booked so no balance went below zero), movements kept
apart, and a customer by number or card (masked). Read only: stores move points."""

from __future__ import annotations

from litestar import Request, get
from litestar.response import Template

from app.core.auth import requires
from app.core.loyalty import LoyaltyError
from app.core.web import page
from app.hub import loyalty

HQ = ("manager",)  # admins too


@get("/hub/loyalty", guards=[requires(*HQ)])
async def loyalty_page(request: Request, q: str = "") -> Template:
    db = request.app.state.db
    chain, overdraws = await loyalty.overview(db)
    found, error = None, ""
    if q.strip():
        try:
            found = await loyalty.customer_view(db, q[:64])
            if found is None:
                error = "No customer with that number or card at the hub."
        except LoyaltyError as exc:
            error = str(exc)
    return page(request, "hub/loyalty.html", status_code=400 if error and found is None
                and not error.startswith("No customer") else 200, chain=chain,
                overdraws=overdraws, found=found, error=error, q=q[:64])


ROUTES = [loyalty_page]
