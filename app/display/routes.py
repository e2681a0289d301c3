"""The customer display's pages: the screen itself (/display, its live stream and the
slideshow's images), pairing a screen (/display/join), and the manager's page
(/display/screens: pair, revoke, slideshow images).

A display is not a person: its requests carry no staff session but the display cookie,
checked by display_guard, which gives the display and so its one counter. Nothing on
these pages takes a counter from the request."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Body
from litestar.response import File, Redirect, ServerSentEvent, Template
from litestar.response.sse import ServerSentEventMessage

from app.core import i18n
from app.core.auth import PUBLIC, requires, role_allows, session_user
from app.core.clock import utcnow
from app.core.i18n import N_, _
from app.core.web import Form, counted, current_user, page, qr_svg_data_uri, signed_in
from app.display import service
from app.display.live import Broker, CounterFeed, Shown
from app.display.screens import screen_for

MANAGER = requires("manager")
COOKIE = "kirana_display"
COOKIE_DAYS = 3650
DISPLAY_STATE = "kirana_display"
KEEPALIVE_SECONDS = 15.0
MAX_STREAMS_PER_DISPLAY = 4  # a screen reloading leaves a stream or two for a moment
TOO_MANY = N_("This screen already has too many open display pages. Close the others, "
              "then reload this page.")
NOT_PAIRED = N_("This screen is not paired with a counter (or its pairing was cancelled). "
                "A manager pairs it from Pair a device → Customer displays.")
# The form's image plus one byte: a bigger one is refused with the page's own message.
MAX_UPLOAD_READ = service.MAX_SLIDE_KB * 1024 + 1
# The upload's whole body: the largest image plus the form around it (boundaries, part
# headers, the CSRF field; well under 64 KB). A bigger body is refused with 413 on its
# Content-Length (or as it streams past the limit), before it is read into memory.
MAX_UPLOAD_BODY = service.MAX_SLIDE_KB * 1024 + 64 * 1024
TOO_BIG = N_("The slideshow takes images of at most %(kb)s KB. Save this one smaller, go "
             "back and upload it again. Nothing was stored.")


def display_guard(*roles: str):
    """Guard for the display's own pages: the display cookie of a paired, unrevoked
    display; with `roles`, a signed-in person of those roles may also open the page
    (the manager's slideshow previews the images the screens show)."""

    async def guard(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
        token = connection.cookies.get(COOKIE, "")
        display = await service.display_for_token(connection.app.state.db, token) if token \
            else None
        if display is not None:
            connection.scope.setdefault("state", {})[DISPLAY_STATE] = display
            return
        if roles:
            user = await session_user(connection)
            if user is not None and role_allows(user.role, roles):
                return
        raise PermissionDeniedException(_(NOT_PAIRED))

    # read by tests/integration/test_security.py's route-table walk
    guard.kirana_roles = ("display", *roles)  # type: ignore[attr-defined]
    return guard


DISPLAY = display_guard()


def _display(request: Request) -> service.Display:
    found = request.scope.get("state", {}).get(DISPLAY_STATE)
    assert isinstance(found, service.Display), "route without display_guard"
    return found


def broker_of(request: Request) -> Broker:
    return request.app.state.display_broker


# ---- the screen ---------------------------------------------------------------------


def _render(request: Request, template: str, context: dict[str, Any]) -> str:
    """A screen for the customer: in the store's language ([store] language), not the
    language of whoever's request happens to draw it (issue #22)."""
    engine = request.app.template_engine
    assert engine is not None  # (create_store_app's TemplateConfig)
    with i18n.use_language(request.app.state.cfg.store.language):
        return engine.get_template(template).render(**context)


@get("/display", guards=[DISPLAY])
async def display_page(request: Request) -> Template:
    """The whole screen; static/js/display.js then follows /display/events."""
    display = _display(request)
    db, cfg = request.app.state.db, request.app.state.cfg
    screen = await screen_for(db, cfg, display, broker_of(request).feed(display.counter).signal)
    i18n.pin_language(request.scope, cfg.store.language)  # for the customer: the store's
    return page(request, "display/screen.html", store=cfg.store, display=display,
                first=_render(request, screen.template, screen.context))


async def _shown(request: Request, feed: CounterFeed, display: service.Display,
                 not_before: float) -> Shown:
    """The counter's screen for the feed's current version, drawn after `not_before`
    (monotonic) and not yet past its own end. Drawn once and shared: the counter's
    other streams, woken by the same till step, wait on `feed.drawing` and reuse it, so
    N displays cost one cart read and one pricing per step. (The screen depends on the
    counter only, so any of its displays may draw it.)"""
    async with feed.drawing:
        shown, now = feed.shown, time.monotonic()
        if (shown is not None and shown.version == feed.version and shown.at >= not_before
                and (shown.ends is None or shown.ends > now)):
            return shown
        db, cfg = request.app.state.db, request.app.state.cfg
        version, signal = feed.version, feed.signal  # a bump while drawing redraws
        valid = await service.valid_on(db, display.counter)
        screen = await screen_for(db, cfg, display, signal, now)
        html = _render(request, screen.template, screen.context)
        ends = None if screen.changes_in is None else now + screen.changes_in
        shown = feed.shown = Shown(version, now, html, ends, valid)
        return shown


async def _screens(request: Request, display: service.Display
                   ) -> AsyncIterator[ServerSentEventMessage]:
    """Every change of the counter's screen, first the screen as it is now (a display
    that reconnects catches up at once). Ends when the display is revoked (revoking
    bumps the feed, and the screen drawn then no longer lists the display)."""
    db = request.app.state.db
    feed = broker_of(request).feed(display.counter)
    await service.seen(db, display.id)
    yield ServerSentEventMessage(event="hello", data="ok", retry=1000)
    last, confirmed, not_before = None, None, 0.0
    while True:
        shown = await _shown(request, feed, display, not_before)
        if display.id not in shown.valid and shown is not confirmed:
            # not paired yet when the screen was drawn, or revoked: ask for this one
            if not await service.still_valid(db, display.id):
                with i18n.use_language(request.app.state.cfg.store.language):
                    gone = _(NOT_PAIRED)
                yield ServerSentEventMessage(event="revoked", data=gone)
                return
            confirmed = shown
        if shown.html != last:
            last = shown.html
            yield ServerSentEventMessage(event="screen", data=shown.html)
        waited_from = time.monotonic()
        left = None if shown.ends is None else max(0.0, shown.ends - waited_from)
        wait = KEEPALIVE_SECONDS if left is None else min(KEEPALIVE_SECONDS, left + 0.05)
        if await feed.wait(shown.version, wait):
            not_before = 0.0  # a new version: any screen drawn for it will do
        else:  # a quiet wait: look at the counter afresh (changes from elsewhere)
            not_before = waited_from
            if left is None:
                yield ServerSentEventMessage(comment="keep-alive")


@get("/display/events", guards=[DISPLAY])
async def display_events(request: Request) -> ServerSentEvent | Response:
    """The screen, pushed as it changes (server-sent events; the browser reconnects by
    itself when the link drops). Each stream holds a connection: one display may hold
    MAX_STREAMS_PER_DISPLAY, the next is refused with 429 until one closes."""
    display = _display(request)
    streams: Counter = request.app.state.setdefault("display_streams", Counter())
    if streams[display.id] >= MAX_STREAMS_PER_DISPLAY:
        return Response(_(TOO_MANY), status_code=429, media_type="text/plain",
                        headers={"Retry-After": "5"})
    streams[display.id] += 1
    return ServerSentEvent(counted(streams, display.id, _screens(request, display)))


@get("/display/slides/{slide_id:str}", guards=[display_guard("manager")])
async def slide_image(request: Request, slide_id: str) -> File:
    found = await service.slide_file(request.app.state.db, request.app.state.cfg, slide_id)
    if found is None:
        raise NotFoundException(_("That image is not in the slideshow any more."))
    path, media_type = found
    return File(path, media_type=media_type, content_disposition_type="inline")


# ---- pairing a screen -----------------------------------------------------------------


@get("/display/join", opt=PUBLIC)
async def join_page(request: Request, code: str = "") -> Template:
    """What the screen opens from the pairing QR: one button, so that a link preview or
    a prefetch does not use the one-time code up."""
    return page(request, "display/join.html", code=code[:64], message="")


@post("/display/join", opt=PUBLIC)
async def join(request: Request, data: Form) -> Response | Template:
    cfg = request.app.state.cfg
    try:
        _display_row, token = await service.join(request.app.state.db, data.get("code", "")[:100])
    except service.DisplayError as exc:
        return page(request, "display/join.html", status_code=400, code="", message=str(exc))
    response: Response = Redirect("/display", status_code=303)
    response.set_cookie(COOKIE, token, max_age=COOKIE_DAYS * 86400, path="/display",
                        httponly=True, secure=cfg.server.secure_cookies, samesite="strict")
    return response


# ---- the manager's page -----------------------------------------------------------------


async def _manage(request: Request, message: str = "", kind: str = "ok",
                  pairing: dict[str, Any] | None = None, status_code: int = 200) -> Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    now = utcnow()
    displays = [(row, service.display_state(row, now)) for row in await service.list_displays(db)]
    return page(request, "display/screens.html", status_code=status_code,
                user=current_user(request), displays=displays,
                counters=cfg.pos.counters, slides=await service.list_slides(db),
                max_slides=service.MAX_SLIDES, max_kb=service.MAX_SLIDE_KB,
                slide_seconds=cfg.display.slide_seconds, message=message, kind=kind,
                pairing=pairing)


@get("/display/screens", guards=[MANAGER])
async def screens_page(request: Request) -> Template:
    return await _manage(request)


@post("/display/screens", guards=[MANAGER])
async def pair_screen(request: Request, data: Form) -> Template:
    """A pairing code for a new screen on a counter, shown once as a link and a QR."""
    db, cfg = request.app.state.db, request.app.state.cfg
    try:
        row, code = await service.start_pairing(db, cfg, data.get("counter", "")[:20],
                                                data.get("name", "")[:200], signed_in(request))
    except service.DisplayError as exc:
        return await _manage(request, str(exc), "error", status_code=400)
    link = f"{cfg.public_url}/display/join?code={code}"
    return await _manage(request, pairing={"row": row, "link": link, "qr": qr_svg_data_uri(link),
                                           "minutes": service.PAIRING_MINUTES})


@post("/display/screens/{display_id:str}/revoke", guards=[MANAGER])
async def revoke_screen(request: Request, display_id: str) -> Template:
    try:
        row = await service.revoke(request.app.state.db, display_id, signed_in(request))
    except service.DisplayError as exc:
        return await _manage(request, str(exc), "error", status_code=404)
    broker_of(request).notify(row.counter)  # its open streams check and end at once
    return await _manage(request, _("%(name)s is unpaired; it shows nothing any more.")
                         % {"name": row.name})


def _upload_too_big(request: Request, _exc: RequestEntityTooLarge) -> Response:
    """The body went over MAX_UPLOAD_BODY: the manager's plain message, not Litestar's."""
    return page(request, "errors/error.html", status_code=413, title=_("Image too big"),
                message=_(TOO_BIG) % {"kb": service.MAX_SLIDE_KB}, user=current_user(request))


@post("/display/slides", guards=[MANAGER], request_max_body_size=MAX_UPLOAD_BODY,
      exception_handlers={RequestEntityTooLarge: _upload_too_big})
async def add_slide(
    request: Request,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Template:
    upload = data.get("image")
    content = b""
    if isinstance(upload, UploadFile):
        content = await upload.read(MAX_UPLOAD_READ)
    try:
        await service.add_slide(request.app.state.db, request.app.state.cfg, content,
                                signed_in(request))
    except service.DisplayError as exc:
        return await _manage(request, str(exc), "error", status_code=400)
    _wake_all(request)
    return await _manage(request, _("Image added to the slideshow."))


@post("/display/slides/{slide_id:str}/remove", guards=[MANAGER])
async def remove_slide(request: Request, slide_id: str) -> Template:
    try:
        await service.remove_slide(request.app.state.db, request.app.state.cfg, slide_id,
                                   signed_in(request))
    except service.DisplayError as exc:
        return await _manage(request, str(exc), "error", status_code=404)
    _wake_all(request)
    return await _manage(request, _("Image removed from the slideshow."))


def _wake_all(request: Request) -> None:
    """Idle screens show the new slideshow at once."""
    for counter in request.app.state.cfg.pos.counters:
        broker_of(request).notify(counter)


ROUTES = [display_page, display_events, slide_image, join_page, join, screens_page, pair_screen,
          revoke_screen, add_slide, remove_slide]
