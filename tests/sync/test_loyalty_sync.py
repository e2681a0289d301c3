"""Loyalty over the real /sync/v1 (issue #21), a hub process on SQLite and on
PostgreSQL and raw websocket stores: a store's movements are booked once however often
they are sent (a resend after a lost ack, a restored store's re-sent entry), the hub
answers `loyalty.balance` to that store only, and another store's token learns of the
customer only when it asks (its forged spending of their points changes nothing)."""

from __future__ import annotations

import asyncio
import json
import secrets

import pytest

from tests.sync.harness import Hub
from tests.sync.test_bad_input import open_link

pytestmark = pytest.mark.timeout(120)

PHONE = "9812345610"
AT = "2026-11-27T11:30:00+05:30"


def hello(store_id: str, epoch: str, applied_down: int = 0) -> str:
    return json.dumps({"type": "hello", "proto": 1, "store_id": store_id, "epoch": epoch,
                       "applied_down": applied_down})


def event(seq: int, kind: str, data: dict, id_: str | None = None) -> dict:
    return {"seq": seq, "id": id_ or f"ev-{secrets.token_hex(8)}", "kind": kind, "at": AT,
            "data": data}


def movement(seq: int, entry: str, kind: str, points: int, event_kind: str) -> dict:
    return event(seq, event_kind, {"entry_id": entry, "phone": PHONE, "kind": kind,
                                   "points": points, "reference": "S1-000001", "at": AT})


SEEN: list[dict] = []  # balances read while waiting for an ack


async def next_reply(ws) -> dict:
    """The next ack/resend; loyalty.balance events arriving first are kept in SEEN."""
    while True:
        message = json.loads(await ws.recv())
        if message["type"] in ("ack", "resend"):
            return message
        if message["type"] == "events":
            SEEN.extend(e["data"] for e in message["events"] if e["kind"] == "loyalty.balance")


async def balances(ws, wait: float = 1.5) -> list[dict]:
    """The loyalty.balance events the hub sent this store since the last call (those
    read while waiting for an ack, then any within `wait` seconds)."""
    got, SEEN[:] = list(SEEN), []
    try:
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), wait))
            if message["type"] == "events":
                got += [e["data"] for e in message["events"] if e["kind"] == "loyalty.balance"]
    except TimeoutError:
        return got


async def test_loyalty_events_book_once_and_balances_reach_only_the_asker(hub: Hub) -> None:
    SEEN.clear()
    s1, d2 = hub.add_store("S1"), hub.add_store("D2")
    joined = event(1, "loyalty.joined", {"phone": PHONE, "card": None, "consent_at": AT})
    earned = movement(2, "E1", "earned", 120, "loyalty.earned")
    async with open_link(hub, s1) as ws:
        await ws.send(hello("S1", "e" * 16))
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(json.dumps({"type": "events", "events": [joined, earned]}))
        assert await next_reply(ws) == {"type": "ack", "upto": 2}
        told = await balances(ws)
    assert told[-1]["balance"] == 120 and told[-1]["seq"] == 2
    # The ack was lost: the store resends the same frame on the next link, and a
    # restored store sends the same entry again under a new event id and seq.
    async with open_link(hub, s1) as ws:
        await ws.send(hello("S1", "e" * 16))
        assert json.loads(await ws.recv())["acked_up"] == 2
        await ws.send(json.dumps({"type": "events", "events": [joined, earned]}))
        assert await next_reply(ws) == {"type": "ack", "upto": 2}
        await ws.send(json.dumps({"type": "events", "events": [
            movement(3, "E1", "earned", 120, "loyalty.earned"),
            event(4, "loyalty.lookup", {"phone": PHONE, "card": None})]}))
        assert await next_reply(ws) == {"type": "ack", "upto": 4}
        told = await balances(ws)
    # (the hub first resends what this store never acknowledged: the earlier balances)
    assert [(t["balance"], t["seq"]) for t in told if t["seq"] >= 3] == [(120, 4)]  # once
    # D2 never asked: its forged spending is kept apart and it hears nothing ...
    async with open_link(hub, d2) as ws:
        await ws.send(hello("D2", "d" * 16))
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(json.dumps({"type": "events", "events": [
            movement(1, "X1", "redeemed", -120, "loyalty.redeemed")]}))
        assert await next_reply(ws) == {"type": "ack", "upto": 1}
        assert await balances(ws) == []
        # ... until it asks (a customer at its counter): then the untouched balance.
        await ws.send(json.dumps({"type": "events", "events": [
            event(2, "loyalty.lookup", {"phone": PHONE, "card": None})]}))
        assert await next_reply(ws) == {"type": "ack", "upto": 2}
        told = await balances(ws)
    assert [(t["phone"], t["balance"], t["seq"]) for t in told] == [(PHONE, 120, 2)]
