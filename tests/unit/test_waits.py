"""A loop waiting for wake-ups must stop when cancelled, even when the wake-up and
the cancel arrive together (Python 3.11's wait_for returned normally then)."""

from __future__ import annotations

import asyncio

import pytest

from app.core.waits import wait_event


async def test_cancel_arriving_with_the_wake_up_stops_the_loop() -> None:
    event = asyncio.Event()
    rounds = 0

    async def worker() -> None:
        nonlocal rounds
        while True:
            await wait_event(event, 15)
            event.clear()
            rounds += 1

    task = asyncio.create_task(worker())
    await asyncio.sleep(0.01)  # the worker waits
    event.set()
    task.cancel()  # in the same loop step as the wake-up
    done, _ = await asyncio.wait({task}, timeout=1)
    assert task in done, "the cancellation was lost: the loop went round again"
    with pytest.raises(asyncio.CancelledError):
        task.result()


async def test_returns_whether_the_event_was_set() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    event.set()
    assert await wait_event(event, 1) is True
