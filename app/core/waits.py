"""Waiting for a wake-up with a time limit, in a loop that must stop when cancelled.

`asyncio.wait_for(event.wait(), t)` on Python 3.11 loses a cancellation that arrives
just as the event is set: it returns normally and the loop goes round again, so a
link or a print worker that was told to stop keeps running, and a server's shutdown
waits for it for ever (seen at the hub: uvicorn never finished shutting down after a
store's link closed while a wake-up arrived). `asyncio.timeout` keeps the
cancellation (fixed the same way in 3.12's wait_for)."""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` pass; True if it was set. A cancellation
    always propagates."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
