"""`Server-Timing: app;dur=<ms>` on every HTTP response.

Browsers show it in the network panel and the benchmarks read it, so "is the
server slow or the Wi-Fi?" has an answer without a profiler. The figure is the
time from the request reaching the app to the response headers leaving it.
"""

from __future__ import annotations

import time

from litestar.types import ASGIApp, Message, Receive, Scope, Send


def server_timing_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start = time.perf_counter()

        async def send_with_timing(message: Message) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - start) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={ms:.2f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_timing)

    return middleware
