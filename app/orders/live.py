"""Live updates for the order board: server-sent events.

The stream polls a tiny marker (number of orders, latest change) four times a second
and tells the page when it moved; the page then fetches the board fragment. Polling
the database rather than an in-process signal means a change made by any process
(the API, the hub link, a CLI) shows up, and a lost event is harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from litestar import Request, get
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage
from sqlalchemy import func, select

from app.core.auth import requires
from app.core.db import Database
from app.orders.models import Order

POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0


async def marker(db: Database) -> tuple:
    async with db.read() as s:
        return tuple((await s.execute(select(func.count(Order.id), func.max(Order.updated_at))
                                      )).one())


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


@get("/orders/events", guards=[requires("picker", "manager")])
async def order_events(request: Request) -> ServerSentEvent:
    return ServerSentEvent(changes(request.app.state.db))


ROUTES = [order_events]
