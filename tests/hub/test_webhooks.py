"""Channel webhooks with two delivery loops on one database (SQLite and PostgreSQL).

Each loop has its own engine and runs in its own thread with its own event loop, as
two hub processes would; both race on the same due rows and post to a recording
receiver on 127.0.0.1. Every call must arrive exactly once, and an order's calls in
the order they were made.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import func, select

from app.core.secret_file import attach_pepper
from app.hub import placement, webhooks
from app.hub.db import open_hub_database
from app.hub.models import HubWebhook
from tests.hub.test_routing import KORAMANGALA, incoming, setup_stores

STEPS = ("accepted", "picking", "picked", "packed", "ready", "handed_over")


class Receiver:
    """A channel's webhook endpoint that records every call and answers slowly enough
    (a few ms) for two senders to overlap."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(random.uniform(0.001, 0.01))
                with receiver.lock:
                    receiver.calls.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # both senders' calls at once, none refused

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def delivery_loop(url: str, data_dir, errors: list, deadline: float) -> None:
    """One 'hub process': its own engine and event loop, delivering until nothing is due
    (with the install's secret file: channels' webhook secrets are sealed)."""

    async def run() -> None:
        db = attach_pepper(open_hub_database(url), data_dir)
        async with httpx.AsyncClient(timeout=10) as http:
            async def post(target: str, body: bytes, headers: dict) -> int:
                return (await http.post(target, content=body, headers=headers)).status_code

            try:
                while time.monotonic() < deadline:
                    await webhooks.deliver_webhooks(db, post)
                    async with db.read() as s:
                        left = await s.scalar(select(func.count()).select_from(HubWebhook)
                                              .where(HubWebhook.delivered_at.is_(None)))
                    if not left:
                        return
                    await asyncio.sleep(0.005)
            finally:
                await db.dispose()

    try:
        asyncio.run(run())
    except Exception as exc:
        errors.append(exc)


@pytest.mark.timeout(180)
async def test_two_delivery_loops_send_every_call_once_and_in_order(hub_db, hub_cfg):
    await setup_stores(hub_db, {"D2": 500})
    with Receiver() as receiver:
        await webhooks.add_channel(hub_db, "webshop", receiver.url)
        orders = 25
        for i in range(orders):
            await placement.take_order(hub_db, hub_cfg, incoming(f"W-{i}", at=KORAMANGALA,
                                                               pincode="560034"))
        for status in STEPS:  # every order moves on step by step, so each has 7 calls
            for i in range(orders):
                async with hub_db.write() as s:
                    await placement.on_store_status(s, hub_cfg, "D2", {
                        "channel": "webshop", "external_id": f"W-{i}", "status": status})
        async with hub_db.read() as s:
            made = [(h.id, h.order_id) for h in await s.scalars(
                select(HubWebhook).order_by(HubWebhook.created_at, HubWebhook.id))]
        assert len(made) == orders * (1 + len(STEPS))

        errors: list = []
        deadline = time.monotonic() + 120
        loops = [threading.Thread(target=delivery_loop,
                                  args=(hub_cfg.database_url, hub_cfg.data_dir, errors,
                                        deadline))
                 for _ in range(2)]
        for t in loops:
            t.start()
        for t in loops:
            await asyncio.to_thread(t.join)
        assert not errors, errors

    got = Counter(call["event_id"] for call in receiver.calls)
    twice = {e: n for e, n in got.items() if n > 1}
    assert not twice, f"{len(twice)} of {len(made)} calls arrived more than once"
    assert set(got) == {event for event, _order in made}
    expected: dict[str, list[str]] = defaultdict(list)
    for event, order in made:
        expected[order].append(event)
    heard: dict[str, list[str]] = defaultdict(list)
    for call in receiver.calls:
        heard[call["order_id"]].append(call["event_id"])
    assert heard == expected  # per order, in the order the changes were made
    async with hub_db.read() as s:
        rows = list(await s.scalars(select(HubWebhook)))
    assert [(r.attempts, r.claimed_by, r.claimed_until) for r in rows
            if not r.delivered_at or r.attempts != 1 or r.claimed_by] == []


async def test_a_claimed_call_holds_back_its_order_until_the_lease_lapses(hub_db, hub_cfg):
    """A process that died mid-call: its claim blocks the order's later calls (never
    sent out of order) until the lease lapses; then another process sends it."""
    await setup_stores(hub_db, {"D2": 10})
    await webhooks.add_channel(hub_db, "webshop", "http://127.0.0.1:9/hook")
    await placement.take_order(hub_db, hub_cfg, incoming("W-1", at=KORAMANGALA, pincode="560034"))
    async with hub_db.write() as s:
        await placement.on_store_status(s, hub_cfg, "D2", {
            "channel": "webshop", "external_id": "W-1", "status": "accepted"})
    [taken] = await webhooks.claim_webhooks(hub_db, tag="dead-process")
    heard = []

    async def post(url, body, headers):
        heard.append(json.loads(body)["status"])
        return 200

    assert await webhooks.deliver_webhooks(hub_db, post) == 0 and heard == []
    async with hub_db.write() as s:
        row = await s.get(HubWebhook, taken.id)
        row.claimed_until = row.claimed_until - timedelta(seconds=webhooks.LEASE_SECONDS + 1)
    assert await webhooks.deliver_webhooks(hub_db, post) == 1
    assert await webhooks.deliver_webhooks(hub_db, post) == 1
    assert heard == ["assigned", "accepted"]


async def test_a_later_change_made_by_a_hub_with_a_slow_clock_still_goes_out_later(
        hub_db, hub_cfg, monkeypatch):
    """Two hub machines whose clocks differ: the second change is stamped by a clock a
    minute behind, and must still be sent after the first."""
    await setup_stores(hub_db, {"D2": 10})
    await webhooks.add_channel(hub_db, "webshop", "http://127.0.0.1:9/hook")
    await placement.take_order(hub_db, hub_cfg, incoming("W-1", at=KORAMANGALA, pincode="560034"))
    real = placement.utcnow
    monkeypatch.setattr(placement, "utcnow", lambda: real() - timedelta(minutes=1))
    async with hub_db.write() as s:
        await placement.on_store_status(s, hub_cfg, "D2", {
            "channel": "webshop", "external_id": "W-1", "status": "accepted"})
    monkeypatch.setattr(placement, "utcnow", real)
    heard = []

    async def post(url, body, headers):
        heard.append(json.loads(body)["status"])
        return 200

    for _ in range(3):
        await webhooks.deliver_webhooks(hub_db, post)
    assert heard == ["assigned", "accepted"]
