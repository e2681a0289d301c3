"""HTML plumbing shared by every feature: page vs fragment, template globals, errors.

A normal request gets the whole page; an htmx request (``HX-Request``) gets only
the fragment it asked for. Both carry ``Vary: HX-Request`` so no cache mixes them.
Errors come back as readable pages or fragments, never stack traces.
"""

from __future__ import annotations

import base64
import io
import logging
from collections import Counter
from collections.abc import AsyncIterator
from typing import Annotated, Any

import qrcode
import qrcode.image.svg
from litestar import Request, Response
from litestar.enums import RequestEncodingType
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.params import Body
from litestar.response import Redirect, Template
from litestar.response.sse import ServerSentEventMessage
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from app.core import resources
from app.core.auth import StaffUser, role_allows
from app.core.i18n import N_, gettext
from app.core.money import format_amount, format_rate
from app.core.words import count_of

log = logging.getLogger("kirana.web")
TEMPLATES_DIR = resources.TEMPLATES
VARY = {"Vary": "HX-Request"}


# A form posted by a page (urlencoded), as the routes read it.
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def go(request: Request, url: str) -> Response:
    """After a step that moves the user on: htmx follows HX-Redirect, a plain form a 303."""
    if is_htmx(request):
        return Response("", headers={"HX-Redirect": url})
    return Redirect(url, status_code=303)


def signed_in(request: Request) -> StaffUser:
    """The user of a route guarded by requires(...): never None there."""
    user = current_user(request)
    assert user is not None, "route without a requires() guard"
    return user


def current_user(request: Request) -> StaffUser | None:
    return request.scope.get("state", {}).get("kirana_user")


def page(
    request: Request,
    template: str,
    fragment: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> Template:
    """Render `template` (full page), or `fragment` when htmx asked for a part."""
    name = fragment if fragment and is_htmx(request) else template
    return Template(template_name=name, context=context, status_code=status_code, headers=VARY)


# Navigation: (label, path, roles allowed). Shown only to roles that may open it.
NAV: list[tuple[str, str, tuple[str, ...]]] = [
    (N_("Till"), "/pos", ("cashier",)),
    (N_("Products"), "/products", ("cashier", "picker", "manager")),
    (N_("Receive"), "/stock/receive", ("manager",)),
    (N_("Adjust"), "/stock/adjust", ("manager",)),
    (N_("Pick"), "/pick", ("picker",)),
    (N_("Pack"), "/pack", ("picker",)),
    (N_("Riders"), "/handover", ("picker",)),
    (N_("Orders"), "/orders", ("manager", "picker")),
    (N_("Returns"), "/returns", ("manager", "picker")),  # online returns desk (issue #19)
    (N_("Stock"), "/stock", ("manager", "picker")),
    (N_("Counts"), "/stock/counts", ("manager", "picker")),  # cycle counts (issue #17)
    (N_("Expiry"), "/stock/expiry", ("manager",)),  # expiry and mark-downs (issue #17)
    (N_("Promotions"), "/promotions", ("manager",)),  # offers at the counter (issue #21)
    (N_("Loyalty"), "/loyalty", ("cashier", "manager")),  # customers' points (issue #21)
    (N_("Transfers"), "/stock/transfers", ("manager", "picker")),  # between stores (issue #17)
    (N_("Suppliers"), "/purchasing", ("manager",)),
    (N_("Reports"), "/reports", ("manager",)),  # sales, stock, GSTR-1, fulfilment (issue #18)
    (N_("Overrides"), "/pos/audit", ("manager",)),
    (N_("Printers"), "/printers", ("manager",)),
    (N_("Pair devices"), "/pair", ("manager",)),
    (N_("Staff"), "/staff", ("manager",)),
    (N_("Sign-in locks"), "/security/locks", ("admin",)),
    (N_("Help"), "/help", ("cashier", "picker", "manager")),  # what to do when… (core/routes.py)
]


def nav_for(user: StaffUser | None) -> list[tuple[str, str]]:
    if user is None:
        return []
    return [(gettext(label), path) for label, path, roles in NAV
            if role_allows(user.role, roles)]


def qr_svg_data_uri(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


TENDER_LABELS = {"cash": N_("Cash"), "card": N_("Card"), "upi": N_("UPI"),
                 "exchange": N_("Exchange credit"), "points": N_("Loyalty points")}


def tender_label(kind: str) -> str:
    """The tender's name in the language in force (app/core/i18n.py)."""
    label = TENDER_LABELS.get(kind)
    return gettext(label) if label else kind


def template_globals() -> dict[str, Any]:
    return {
        "money": format_amount,
        "rate": format_rate,
        "nav_for": nav_for,
        "tender_label": tender_label,
        "count_of": count_of,
    }


# ---- error handlers -----------------------------------------------------------


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/schema", "/metrics")) or (
        "application/json" in request.headers.get("accept", "")
        and "text/html" not in request.headers.get("accept", "")
    )


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    if _wants_json(request):
        return Response({"error": title, "detail": message}, status_code=status)
    return page(
        request,
        "errors/error.html",
        fragment="errors/_error.html",
        status_code=status,
        title=title,
        message=message,
        user=current_user(request),
    )


def not_authorized_handler(request: Request, exc: NotAuthorizedException) -> Response:
    if _wants_json(request):
        return Response({"error": "not signed in", "detail": exc.detail}, status_code=401)
    # A session that just ended for want of use says so on the sign-in page.
    idle = "idle=1&" if request.scope.get("state", {}).get("kirana_signed_out") else ""
    if is_htmx(request):
        # htmx follows HX-Redirect with a full navigation.
        login = f"/login?{idle}".rstrip("?&")
        return Response("", status_code=401, headers={"HX-Redirect": login, **VARY})
    return Redirect(f"/login?{idle}next={request.url.path}")


def permission_denied_handler(request: Request, exc: PermissionDeniedException) -> Response:
    return _error_page(request, 403, gettext("Not allowed"), exc.detail)


def not_found_handler(request: Request, exc: NotFoundException) -> Response:
    return _error_page(request, 404, gettext("Not found"),
                       exc.detail or gettext("There is nothing at this address."))


def validation_handler(request: Request, exc: ValidationException) -> Response:
    detail = exc.detail
    extra = exc.extra
    if isinstance(extra, list) and extra:
        parts = []
        for item in extra:
            if isinstance(item, dict):
                key = item.get("key") or ""
                parts.append(f"{key}: {item.get('message')}" if key else str(item.get("message")))
        if parts:
            detail = "; ".join(parts)
    if _wants_json(request):
        return Response({"error": "bad request", "detail": detail}, status_code=400)
    return _error_page(request, 400, gettext("Please check"), detail)


def http_exception_handler(request: Request, exc: HTTPException) -> Response:
    return _error_page(request, exc.status_code, gettext("Problem"), exc.detail)


def server_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _error_page(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        gettext("Something went wrong"),
        gettext("The server hit a problem and saved nothing from this step. Try again; "
                "if it keeps happening, tell the store manager."),
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    NotAuthorizedException: not_authorized_handler,
    PermissionDeniedException: permission_denied_handler,
    NotFoundException: not_found_handler,
    ValidationException: validation_handler,
    HTTPException: http_exception_handler,
    Exception: server_error_handler,
}


class UploadProblem(ValueError):
    """An uploaded file that cannot be read; the message tells staff what to do."""


async def upload_text(data: dict[str, Any], field: str = "file") -> str:
    """The text of an uploaded CSV (UTF-8, with or without Excel's BOM)."""
    from litestar.datastructures import UploadFile

    upload = data.get(field)
    if not isinstance(upload, UploadFile):
        raise UploadProblem("Choose a CSV file first.")
    try:
        text = (await upload.read()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadProblem("The file is not UTF-8 text; save it as CSV UTF-8 and try "
                            "again.") from None
    if "\x00" in text:  # PostgreSQL refuses it in text; no real CSV has one
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise UploadProblem(f"The file has a NUL character (\\0) on line {line}: it is not a "
                            "plain CSV text file. Save it again as CSV UTF-8.")
    return text


async def counted(streams: Counter, key: str, events: AsyncIterator[ServerSentEventMessage]
                  ) -> AsyncIterator[ServerSentEventMessage]:
    """A live stream (order board, customer display) holding its place in
    `streams[key]` until the page goes away: the routes cap streams per session or screen."""
    try:
        async for message in events:
            yield message
    finally:
        streams[key] -= 1
        if streams[key] <= 0:
            del streams[key]
