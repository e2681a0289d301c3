"""A signed-in session may hold at most MAX_STREAMS_PER_SESSION live streams (issue #13
item 21, ASVS 4.0.3 V11.1.4): the next is refused with 429 and a plain reason; closing a
stream frees its place; another session is not affected. A live uvicorn store on
127.0.0.1 and real streaming HTTP connections."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
import uvicorn

from app.orders import live
from tests.conftest import STAFF, login
from tests.sync.harness import free_port

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def live_store(app):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.02)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, 20)


async def signed_in(url: str, user_id: str, role: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, timeout=10)
    response = await login(client, user_id, STAFF[role][1])
    assert response.status_code == 303, response.text
    return client


async def open_stream(client: httpx.AsyncClient, stack: contextlib.AsyncExitStack):
    response = await stack.enter_async_context(client.stream("GET", "/orders/events"))
    if response.status_code == 200:
        # Keep the reader: a dropped line iterator closes the connection (httpx).
        response.lines = response.aiter_lines()
        first = await anext(response.lines)
        assert first.startswith(("event:", "retry:", "data:")), first
    return response


async def test_a_session_gets_at_most_its_cap_of_live_streams(live_store, staff):
    cap = 4  # a board and a pick page on two tabs need two; four leaves room
    picker = await signed_in(live_store, staff["picker"], "picker")
    manager = await signed_in(live_store, staff["manager"], "manager")
    try:
        async with contextlib.AsyncExitStack() as stack:
            opened = [await open_stream(picker, stack) for _ in range(cap)]
            assert [r.status_code for r in opened] == [200] * cap
            extra = await picker.get("/orders/events", timeout=3)  # a stream never ends
            assert extra.status_code == 429
            assert "open live pages" in extra.text
            # Another person's session is counted on its own.
            other = await open_stream(manager, stack)
            assert other.status_code == 200
            # Closing one page frees its place.
            await opened[0].aclose()
            for _ in range(100):
                response = await stack.enter_async_context(picker.stream("GET",
                                                                         "/orders/events"))
                if response.status_code == 200:
                    break
                await response.aclose()
                await asyncio.sleep(0.05)
            assert response.status_code == 200
        assert cap == live.MAX_STREAMS_PER_SESSION
    finally:
        await picker.aclose()
        await manager.aclose()
