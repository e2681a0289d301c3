"""What every till screen shares: the guards, the session keys, the page context, the
manager-PIN box and the cart/message fragments. The route modules (routes.py for the
till and its cart, pay_routes, refund_routes, shift_routes) build on these; only
app/server.py imports the route modules themselves.

The counter comes from the signed-in session (chosen when the shift was opened), never
from a form, so a cart id copied from another counter is refused by the service.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from litestar.response import Template

from app.catalog.units import format_measure, format_quantity
from app.core import auth
from app.core.auth import LoginError, StaffUser, requires
from app.core.routes import client_source, device_key
from app.core.web import current_user, page
from app.pos import priced_cart
from app.pos.receipts import quantity_and_rate, sale_line_text

CASHIER = requires("cashier")
MANAGER = requires("manager")
COUNTER_KEY = "counter"
LAST_SHIFT_KEY = "last_closed_shift"
WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")  # str.isdigit() also takes "²" and 5,000 digits
# This visit's credit note: {"number": refund number, "code": its printed code}. The code is
# kept nowhere else (only its hash), so the pay screen can offer it for this visit only.
EXCHANGE_KEY = "exchange_credit"


def counter_of(request: Request) -> str | None:
    return request.session.get(COUNTER_KEY)


def ctx(request: Request, **extra: Any) -> dict[str, Any]:
    cfg = request.app.state.cfg
    return {
        "user": current_user(request),
        "counter": counter_of(request),
        "pos": cfg.pos,
        "store": cfg.store,
        "fq": format_quantity,
        "measure": format_measure,
        "qty_rate": quantity_and_rate,
        "line_text": sale_line_text,
        **extra,
    }


async def approver_of(request: Request, data: dict[str, str]) -> StaffUser | None:
    """A manager's PIN typed on this screen, if the form carries one."""
    approver_id, pin = data.get("approver_id", ""), data.get("approver_pin", "")
    if not approver_id and not pin:
        return None
    if not approver_id or not pin:
        raise LoginError("choose the manager and enter their PIN")
    asking = current_user(request)
    return await auth.verify_approver(
        request.app.state.db, request.app.state.cfg, approver_id, pin, device_key(request),
        requester_id=asking.id if asking else None, source=client_source(request),
    )


async def approval_box(
    request: Request, data: dict[str, str], message: str, target: str = "#cart"
) -> Template:
    """Re-show the same step with a manager PIN box; submitting re-posts the step."""
    fields = {
        k: v for k, v in data.items() if k not in ("approver_id", "approver_pin", "_csrf_token")
    }
    approvers = await auth.list_approvers(request.app.state.db)
    return page(
        request,
        "pos/_approval.html",
        **ctx(
            request,
            message=message,
            fields=fields,
            action=request.url.path,
            target=target,
            approvers=approvers,
        ),
    )


def notice(request: Request, text: str, kind: str = "error", status: int = 200) -> Template:
    return page(request, "pos/_message.html", status_code=status, message=text, kind=kind)


async def cart_response(
    request: Request,
    view: priced_cart.CartView,
    message: str = "",
    kind: str = "ok",
    suggestions: list | None = None,
) -> Template:
    return page(
        request,
        "pos/_cart.html",
        **ctx(request, view=view, message=message, kind=kind, suggestions=suggestions or []),
    )


def visit_credit(request: Request) -> dict[str, str] | None:
    """The credit note this visit's exchange refund made, if any (see EXCHANGE_KEY)."""
    found = request.session.get(EXCHANGE_KEY)
    if isinstance(found, dict) and found.get("number") and found.get("code"):
        return {"number": str(found["number"]), "code": str(found["code"])}
    return None
