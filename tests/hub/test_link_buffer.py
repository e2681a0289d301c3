"""What a hub buffers per store link is bounded (issue #13 item 21, ASVS 4.0.3 V11.1.4,
V13.2.x): a forged store sending frames with gaps in their seqs, or frames past its sync
window, while the hub's database is slow, cannot make the hub hold them. Measured as the
link's buffer (frames and bytes queued for the applier), not RSS."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from websockets.exceptions import ConnectionClosed

from app.sync import hub_link
from tests.hub import test_hub_links
from tests.hub.test_hub_links import REAL, add_s1, hello, until

live_hub = test_hub_links.live_hub  # the fixture: a uvicorn hub on 127.0.0.1

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.parametrize("hub_cfg", ["sqlite"], indirect=True)]
PAD = "x" * 200_000  # each frame ~200 KB


def frame(first: int, count: int = 1, pad: str = "") -> str:
    return json.dumps({"type": "events", "events": [{
        "seq": seq, "id": f"S1-ev-{seq}", "kind": "stock.moved",
        "at": "2026-11-27T10:00:00+00:00",
        "data": {"sku": "RICE", "delta": 1, "bin": "A-1", "reason": "receive", "note": pad}}
        for seq in range(first, first + count)]})


@pytest.fixture
def slow_database(monkeypatch):
    """A stand-in for a busy hub database: every frame takes 50 ms to apply."""
    real = hub_link.apply_frame

    async def slow(*args, **kw):
        await asyncio.sleep(0.05)
        return await real(*args, **kw)

    monkeypatch.setattr(hub_link, "apply_frame", slow)


class BufferProbe:
    """Samples every live link's buffer while a test runs."""

    def __init__(self, app) -> None:
        self.links = app.state.links.links
        self.frames = self.bytes = 0

    async def run(self) -> None:
        while True:
            for link in list(self.links):
                inbox = getattr(link, "inbox", None)
                if inbox is not None:
                    self.frames = max(self.frames, inbox.qsize())
                    self.bytes = max(self.bytes, sum(
                        len(e.data.get("note", "")) for f in list(inbox._queue)
                        for e in f.events))
            await asyncio.sleep(0.002)


@contextlib.asynccontextmanager
async def probing(app):
    probe = BufferProbe(app)
    task = asyncio.create_task(probe.run())
    try:
        yield probe
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def drain(ws) -> tuple[int | None, str, list[dict]]:
    got = []
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        while True:
            got.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
    return ws.close_code, ws.close_reason or "", got


async def test_200_gapped_frames_are_not_buffered_and_get_one_resend(
        live_hub, hub_db, hub_app, slow_database):
    token = await add_s1(hub_db)
    async with probing(hub_app) as probe, live_hub.link(token, "forged/1") as ws:
        await ws.send(hello(REAL))
        await until(ws, "welcome")
        for i in range(200):  # seqs 5, 15, 25 ...: none can be applied (cursor is 0)
            await ws.send(frame(5 + 10 * i, pad=PAD))
        await ws.send(frame(1, 2))  # then the frame the hub asked for
        reply = await until(ws, "ack")
        assert reply["upto"] == 2
    assert probe.frames <= 2, f"{probe.frames} frames were buffered"
    assert probe.bytes < 1_000_000, f"{probe.bytes} bytes were buffered"


async def test_the_hub_answers_a_gap_with_one_resend_not_one_per_frame(
        live_hub, hub_db, hub_app, slow_database):
    token = await add_s1(hub_db)
    async with live_hub.link(token, "forged/1") as ws:
        await ws.send(hello(REAL))
        await until(ws, "welcome")
        for i in range(20):
            await ws.send(frame(5 + 10 * i))
        await ws.send(frame(1, 2))
        await asyncio.sleep(0.5)
        await ws.send(frame(3, 1))
        seen = []
        while not (seen and seen[-1] == {"type": "ack", "upto": 3}):
            seen.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    resends = [m for m in seen if m["type"] == "resend"]
    assert resends == [{"type": "resend", "from": 1}]


async def test_frames_past_the_sync_window_close_the_link_with_4400(
        live_hub, hub_db, hub_app, slow_database):
    token = await add_s1(hub_db)
    async with probing(hub_app) as probe, live_hub.link(token, "forged/1") as ws:
        await ws.send(hello(REAL))
        await until(ws, "welcome")
        with contextlib.suppress(ConnectionClosed):
            for seq in range(1, 200 * 25, 25):  # contiguous, 25 events a frame, no waiting
                await ws.send(frame(seq, 25))
        code, reason, _got = await drain(ws)
    assert code == 4400, (code, reason)
    assert "window" in reason
    assert probe.frames <= hub_link.MAX_BUFFERED_EVENTS // 25 + 1


async def test_big_frames_past_the_byte_cap_close_the_link_with_4400(
        live_hub, hub_db, hub_app, slow_database):
    token = await add_s1(hub_db)
    async with probing(hub_app) as probe, live_hub.link(token, "forged/1") as ws:
        await ws.send(hello(REAL))
        await until(ws, "welcome")
        with contextlib.suppress(ConnectionClosed):
            for seq in range(1, 200):  # ~800 KB a frame, 160 MB in all
                await ws.send(frame(seq, 1, pad="y" * 800_000))
        code, reason, _got = await drain(ws)
    assert code == 4400, (code, reason)
    assert probe.bytes <= hub_link.MAX_BUFFERED_BYTES + 1_000_000


async def test_a_store_sending_its_whole_window_at_once_is_not_cut_off(
        live_hub, hub_db, hub_app, slow_database):
    """The cap is above what an honest store sends: its whole window (2,000 events, four
    frames of 500) at once, against a slow database, is applied and acked."""
    from app.sync import protocol as p

    token = await add_s1(hub_db)
    async with live_hub.link(token, "kirana-store/1") as ws:
        await ws.send(hello(REAL))
        await until(ws, "welcome")
        window = p.STORE_SEND_WINDOW
        for seq in range(1, window + 1, p.MAX_EVENTS_PER_FRAME):
            await ws.send(frame(seq, p.MAX_EVENTS_PER_FRAME, pad="z" * 200))
        upto = 0
        while upto < window:
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert message["type"] == "ack", message
            upto = message["upto"]
    assert upto == window
