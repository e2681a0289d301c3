"""Live updates for the order board: server-sent events.

The stream polls a tiny marker (number of orders, latest change) four times a second
and tells the page when it moved; the page then fetches the board fragment. Polling
the database rather than an in-process signal means a change made by any process
(the API, the hub link, a CLI) shows up, and a lost event is harmless.

Each stream holds a connection and polls the database, so one signed-in session may
hold at most MAX_STREAMS_PER_SESSION of them (a board and a pick page on two tabs need
two); the next is refused with 429 until one closes.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import AsyncIterator

from litestar import Request, Response, get
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from app.core.auth import requires
from app.core.db import Database
from app.core.web import counted
from app.orders.service import board_marker as marker

POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0
MAX_STREAMS_PER_SESSION = 4
TOO_MANY = ("This device already has too many open live pages (order board, picking). "
            "Close one of them, then reload this page.")


async def changes(db: Database) -> AsyncIterator[ServerSentEventMessage]:
    last = await marker(db)
    quiet = 0.0
    yield ServerSentEventMessage(event="hello", data="ok", retry=2000)
    while True:
        await asyncio.sleep(POLL_SECONDS)  # a closed page ends the stream (and this loop)
        now = await marker(db)
        if now != last:
            last, quiet = now, 0.0
            yield ServerSentEventMessage(event="orders", data=str(now[0]))
        else:
            quiet += POLL_SECONDS
            if quiet >= KEEPALIVE_SECONDS:  # keeps proxies and Wi-Fi sleep from cutting it
                quiet = 0.0
                yield ServerSentEventMessage(comment="keep-alive")


def _session_key(request: Request) -> str:
    # The session cookie names the signed-in session (a new one at every sign-in).
    return hashlib.sha256(request.cookies.get("session", "").encode()).hexdigest()


@get("/orders/events", guards=[requires("picker", "manager")])
async def order_events(request: Request) -> ServerSentEvent | Response:
    state = request.app.state
    streams: Counter = state.setdefault("live_streams", Counter())
    key = _session_key(request)
    if streams[key] >= MAX_STREAMS_PER_SESSION:
        return Response(TOO_MANY, status_code=429, media_type="text/plain",
                        headers={"Retry-After": "5"})
    streams[key] += 1
    return ServerSentEvent(counted(streams, key, changes(state.db)))


ROUTES = [order_events]
