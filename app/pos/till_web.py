"""What every till screen shares: the guards, the session keys, the page context, the
manager-PIN box and the cart/message fragments. The route modules (routes.py for the
till and its cart, pay_routes, refund_routes, shift_routes) build on these; only
app/server.py imports the route modules themselves.

The counter comes from the signed-in session (chosen when the shift was opened), never
from a form, so a cart id copied from another counter is refused by the service.
"""

from __future__ import annotations

import re
import secrets
from functools import lru_cache
from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from litestar import Request
from litestar.response import Template
from markupsafe import Markup

from app.catalog.units import format_measure, format_quantity
from app.core import auth, i18n
from app.core.auth import LoginError, StaffUser, requires
from app.core.routes import client_source, device_key
from app.core.web import current_user, page, signed_in
from app.pos import cart, priced_cart, shifts
from app.pos.receipts import quantity_and_rate, sale_line_text, sale_saved
from app.printing import service as printing

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
        "you_saved": sale_saved,
        "cart_line": cart_line,
        **extra,
    }


@pass_context
def cart_line(context: Context, cart_id: str, line: priced_cart.LineState,
              product: Any, price: Any, latest: bool) -> Markup:
    """One line of the cart fragment (pos/_cart_line.html). A scan redraws the whole
    cart and most of its lines are as they were, so each line is drawn once for the
    values it shows and kept (issue #15: ~30 us a line, a tenth of a scan's template
    time per line on the bill). The macro reads only these values, so a kept line can
    never differ from a fresh one. Not kept while pages are being edited (auto_reload)."""
    values = (cart_id, line.id, product.name, product.unit, product.price_minor,
              line.quantity, line.label_price_minor, line.discount_kind, line.discount_value,
              price.gross, price.line_discount, bool(latest), price.promo_discount,
              price.item_offers, getattr(product, "name_local", ""),
              i18n.current_language())  # a line drawn in Hindi is kept for Hindi only
    env = context.environment
    if env.auto_reload:
        return _draw_line(env, values)
    return _kept_line(env, values)


def _draw_line(env: Environment, values: tuple[Any, ...]) -> Markup:
    # a template module's macros are its attributes, unknown to the type checker
    macro = env.get_template("pos/_cart_line.html").module.cart_line  # type: ignore[attr-defined]
    *head, promo_discount, offers, name_local, _language = values
    return Markup(macro(*head, qty_rate=quantity_and_rate, promo_discount=promo_discount,
                        offers=offers, name_local=name_local))


_kept_line = lru_cache(maxsize=2048)(_draw_line)


async def approver_of(request: Request, data: dict[str, str]) -> StaffUser | None:
    """A manager's PIN typed on this screen, if the form carries one."""
    approver_id, pin = data.get("approver_id", ""), data.get("approver_pin", "")
    if not approver_id and not pin:
        return None
    if not approver_id or not pin:
        raise LoginError(i18n.gettext("choose the manager and enter their PIN"))
    asking = current_user(request)
    return await auth.verify_approver(
        request.app.state.db, request.app.state.cfg, approver_id, pin, device_key(request),
        requester_id=asking.id if asking else None, source=client_source(request),
    )


async def approval_box(
    request: Request, data: dict[str, str], message: str, target: str = "#cart",
    view: priced_cart.CartView | None = None, what: str = "",
) -> Template:
    """Re-show the same step with a manager PIN box; submitting re-posts the step. With the
    cart's `view` the box stands over the cart (which stays in sight behind it) and names
    `what` it approves; no manager is chosen for the cashier."""
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
            view=view,
            what=what,
            chosen=data.get("approver_id", ""),
            pay_key=pay_key(),
            oob_summary=True,
        ),
    )


def pay_key() -> str:
    """The idempotency key of one drawn payment button (the pay panel's Complete, the
    cart's "Cash, exact"): a double tap or a retry of that button makes one sale."""
    return secrets.token_urlsafe(18)


def notice(request: Request, text: str, kind: str = "error", status: int = 200) -> Template:
    return page(request, "pos/_message.html", status_code=status, message=text, kind=kind)


async def cart_response(
    request: Request,
    view: priced_cart.CartView,
    message: str = "",
    kind: str = "ok",
    suggestions: list | None = None,
    latest: str = "",
    **extra: Any,
) -> Template:
    """The cart in the till's #cart, its summary (Total, Cash exact, Pay) out of band;
    `latest` is the line just added, which the line list scrolls to."""
    return page(
        request,
        "pos/_cart.html",
        **ctx(request, view=view, message=message, kind=kind, suggestions=suggestions or [],
              pay_key=pay_key(), oob_summary=True, latest=latest, **extra),
    )


async def till_page(request: Request, done: dict[str, Any] | None = None) -> Template | None:
    """The till: scan field, the cart (or, while the next cart is still empty, the receipt
    of the sale just made: `done`, the receipt page's context), quick keys and search.
    None when this device has no open shift. Showing the receipt inside the till means
    the next scan or quick key starts the next sale, on the same screen."""
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = counter_of(request)
    shift, quick = await shifts.shift_and_quick_keys(db, cfg, counter) if counter else (None, [])
    if shift is None or not counter:
        return None
    view = await cart.current_cart(db, cfg, counter, signed_in(request))
    return page(request, "pos/till.html", **ctx(
        request, view=view, shift=shift, quick=quick, pay_key=pay_key(),
        done=done if done and not view.cart.lines else None,
        printer_alerts=await printer_alerts(request, counter), **(done or {})))


async def printer_alerts(request: Request, counter: str) -> list[printing.PrinterAlert]:
    """This counter's receipt printer problems (out of paper, not responding ...)."""
    return await printing.printer_alerts(request.app.state.db, request.app.state.cfg,
                                         request.app.state.print_queue.state, counter)


def visit_credit(request: Request) -> dict[str, str] | None:
    """The credit note this visit's exchange refund made, if any (see EXCHANGE_KEY)."""
    found = request.session.get(EXCHANGE_KEY)
    if isinstance(found, dict) and found.get("number") and found.get("code"):
        return {"number": str(found["number"]), "code": str(found["code"])}
    return None
