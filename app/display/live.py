"""What tells a counter's customer displays that its till changed: an in-process broker
(one feed per counter: a version number, the till's last screen, an asyncio.Event) and
the ASGI hook on the till's routes that bumps the feed after each successful step.

The hook does no database work and no rendering on the till's request: it reads the
request's path, the response's status and the counter in the session, and bumps a
counter (O(1)). The first of the counter's display streams to wake then reads the
cart, prices it and draws the screen once for that version; the counter's other
streams send the same screen (CounterFeed.shown).
One server process serves a store (`kirana serve`), so an in-process broker reaches
every display; a display whose stream was cut reconnects and is sent the state as it
is, so a missed bump costs nothing."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import cast
from urllib.parse import parse_qs

from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

COUNTER_KEY = "counter"  # the till's session key for its counter (app/pos/till_web.py)
_SALE = re.compile(r"/pos/sales/([0-9A-Za-z-]{1,36})")
_PAY_STEPS = ("/pos/pay/tender",)
_COMPLETES = ("/pos/pay/complete", "/pos/pay/cash-exact")


@dataclass(frozen=True, slots=True)
class TillSignal:
    """What the till's screen shows, as far as the display cares: the cart ("cart"),
    the pay panel ("pay"; `upi` when the cashier put the UPI QR up, with the amount
    typed for it, "" for all that is due) or the sale just made ("done", `sale_id`)."""

    mode: str = "cart"
    upi: bool = False
    upi_amount: str = ""
    sale_id: str = ""
    at: float = 0.0  # time.monotonic() when it was given


def signal_for(method: str, path: str, query: bytes, status: int,
               location: str) -> TillSignal | None:
    """The till step's signal, or None when the step changed nothing a customer sees
    (searches, printer alerts, refused steps). `location` is the response's HX-Redirect
    or Location header."""
    if method == "POST":
        if path in _COMPLETES:
            sale = _SALE.fullmatch(location)
            if sale and (200 <= status < 300 or status == 303):
                return TillSignal("done", sale_id=sale[1], at=time.monotonic())
            return TillSignal("pay", at=time.monotonic()) if 200 <= status < 300 else None
        if not 200 <= status < 300:
            return None
        if path.startswith(_PAY_STEPS):
            return TillSignal("pay", at=time.monotonic())
        return TillSignal("cart", at=time.monotonic())
    if method != "GET" or not 200 <= status < 300:
        return None
    if path == "/pos/pay":
        return TillSignal("pay", at=time.monotonic())
    if path == "/pos/pay/upi-code":
        amount = parse_qs(query.decode("latin-1")[:200]).get("amount", [""])[0][:20]
        return TillSignal("pay", upi=True, upi_amount=amount, at=time.monotonic())
    if path == "/pos/pay/back":
        return TillSignal("cart", at=time.monotonic())
    return None


@dataclass(frozen=True, slots=True)
class Shown:
    """The counter's screen drawn once for every display stream of the counter: the
    feed's version it was drawn for, when (time.monotonic()), the HTML, when it changes
    by itself (the thank-you's end, monotonic; None if it does not), and the displays
    of the counter that were paired and unrevoked when it was drawn."""

    version: int
    at: float
    html: str
    ends: float | None
    valid: frozenset[str]


class CounterFeed:
    """One counter's changes: displays wait on it, the till's hook bumps it. `shown`
    is the last screen drawn for it; `drawing` lets one stream draw while the
    counter's other streams wait for that screen instead of drawing it again."""

    __slots__ = ("version", "signal", "_changed", "shown", "drawing")

    def __init__(self) -> None:
        self.version = 0
        self.signal = TillSignal()
        self._changed = asyncio.Event()
        self.shown: Shown | None = None
        self.drawing = asyncio.Lock()

    def bump(self, signal: TillSignal | None = None) -> None:
        """O(1) for the till: a new version, the signal kept, the waiters woken."""
        self.version += 1
        if signal is not None:
            self.signal = signal
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait(self, version: int, within: float) -> bool:
        """True when the feed moved past `version` (at once if it already has), False
        after `within` seconds without a change."""
        if self.version != version:
            return True
        changed = self._changed
        try:
            async with asyncio.timeout(max(0.0, within)):
                await changed.wait()
        except TimeoutError:
            return self.version != version
        return True


class Broker:
    """Every counter's feed, made on first use."""

    def __init__(self) -> None:
        self.feeds: dict[str, CounterFeed] = {}

    def feed(self, counter: str) -> CounterFeed:
        found = self.feeds.get(counter)
        if found is None:
            found = self.feeds[counter] = CounterFeed()
        return found

    def notify(self, counter: str, signal: TillSignal | None = None) -> None:
        self.feed(counter).bump(signal)


def till_hook(broker: Broker):
    """ASGI middleware for the till's routes: after a step's response has gone out,
    bump the feed of the counter the cashier's session is on."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def hooked(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            seen: dict[str, object] = {}

            async def watch(message: Message) -> None:
                if message["type"] == "http.response.start":
                    seen["status"] = message["status"]
                    for name, value in message.get("headers", ()):
                        if name in (b"hx-redirect", b"location"):
                            seen["location"] = value.decode("latin-1")
                await send(message)

            await app(scope, receive, watch)
            session = scope.get("session")
            counter = session.get(COUNTER_KEY) if isinstance(session, dict) else None
            if not counter or "status" not in seen:
                return
            http = cast(HTTPScope, scope)
            signal = signal_for(http["method"], http["path"], http.get("query_string", b""),
                                int(str(seen["status"])), str(seen.get("location", "")))
            if signal is not None:
                broker.notify(counter, signal)

        return hooked

    return middleware
