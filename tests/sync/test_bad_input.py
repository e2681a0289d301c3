"""Forged or broken input at the hub's /sync/v1 changes nothing and gets the right close
(hub process on SQLite and on PostgreSQL; raw websocket clients)."""

from __future__ import annotations

import contextlib
import json
import secrets

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.sync.harness import Hub

pytestmark = pytest.mark.timeout(120)


def hello(store_id: str, epoch: str, applied_down: int = 0) -> str:
    return json.dumps({"type": "hello", "proto": 1, "store_id": store_id, "epoch": epoch,
                       "applied_down": applied_down})


def event(seq: int, kind: str = "stock.moved", **data) -> dict:
    data = data or {"sku": "SKU-1", "delta": 5, "bin": "A-1", "reason": "receive"}
    return {"seq": seq, "id": f"ev-{secrets.token_hex(8)}", "kind": kind,
            "at": "2026-11-27T10:00:00+00:00", "data": data}


async def closed_with(ws) -> tuple[int, list[dict]]:
    """Read until the hub closes; returns the close code and the messages before it."""
    got = []
    try:
        async for raw in ws:
            got.append(json.loads(raw))
    except ConnectionClosed:
        pass
    return ws.close_code, got


def open_link(hub: Hub, token: str):
    return connect(hub.ws_url, additional_headers={"Authorization": f"Bearer {token}"},
                   max_size=4 * 1024 * 1024, open_timeout=10)


def hub_state(hub: Hub, store_id: str) -> dict:
    client = hub.client()
    try:
        stores = client.get("/api/v1/stores").json()["stores"]
    finally:
        client.close()
    return next(s for s in stores if s["id"] == store_id)


def accept_database(hub: Hub, store_id: str) -> None:
    client = hub.client()
    try:
        board = client.get("/").text
        assert "different database" in board and "Accept the store" in board
        accepted = hub.post(client, f"/hub/stores/{store_id}/accept-database")
        assert accepted.status_code in (200, 303)
    finally:
        client.close()


async def test_bad_token_is_4401(hub: Hub) -> None:
    hub.add_store("S1")
    async with open_link(hub, "kst_forged") as ws:
        # The hub checks the token before it reads anything: it may close first.
        with contextlib.suppress(ConnectionClosed):
            await ws.send(hello("S1", "e" * 16))
        code, got = await closed_with(ws)
    assert code == 4401
    assert got[-1]["type"] == "error" and got[-1]["code"] == 4401


async def test_token_of_one_store_saying_another_is_4403(hub: Hub) -> None:
    token_a = hub.add_store("S1")
    hub.add_store("S2")
    async with open_link(hub, token_a) as ws:
        await ws.send(hello("S2", "e" * 16))
        code, got = await closed_with(ws)
    assert code == 4403
    assert "S1" in got[-1]["message"]
    assert hub_state(hub, "S2")["events_received"] == 0


@pytest.mark.parametrize("frame, why", [
    ("{not json", "not JSON"),
    (json.dumps({"type": "gossip"}), "bad message"),
    (json.dumps({"type": "events", "events": [event(1, kind="product.upserted")]}),
     "not sent this way"),
    (json.dumps({"type": "events", "events": [event(1), event(3)]}), "consecutive"),
    ("x" * (1024 * 1024 + 10), "1 MiB"),
])
async def test_broken_frames_are_4400_and_change_nothing(hub: Hub, frame: str, why: str) -> None:
    token = hub.add_store("S1")
    async with open_link(hub, token) as ws:
        await ws.send(hello("S1", "e" * 16))
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(frame)
        code, got = await closed_with(ws)
    assert code == 4400
    assert why in got[-1]["message"]
    assert hub_state(hub, "S1")["events_received"] == 0


async def test_gap_gets_resend_and_repeats_are_skipped(hub: Hub) -> None:
    token = hub.add_store("S1")
    async with open_link(hub, token) as ws:
        await ws.send(hello("S1", "e" * 16))
        assert json.loads(await ws.recv())["acked_up"] == 0
        first = [event(1), event(2)]
        await ws.send(json.dumps({"type": "events", "events": first}))
        assert await next_reply(ws) == {"type": "ack", "upto": 2}
        await ws.send(json.dumps({"type": "events", "events": [event(5)]}))  # 3, 4 missing
        assert await next_reply(ws) == {"type": "resend", "from": 3}
        await ws.send(json.dumps({"type": "events", "events": first + [event(3)]}))  # repeat
        assert await next_reply(ws) == {"type": "ack", "upto": 3}
    state = hub_state(hub, "S1")
    assert state["events_received"] == 3
    async with open_link(hub, token) as ws:  # reconnect: the hub says where it is
        await ws.send(hello("S1", "e" * 16))
        assert json.loads(await ws.recv())["acked_up"] == 3


async def next_reply(ws) -> dict:
    """The next ack/resend (hub -> store catalogue events may arrive in between)."""
    while True:
        message = json.loads(await ws.recv())
        if message["type"] in ("ack", "resend"):
            return message


async def test_changed_epoch_is_4409_with_an_alert_until_accepted(hub: Hub) -> None:
    token = hub.add_store("S1")
    async with open_link(hub, token) as ws:
        await ws.send(hello("S1", "a" * 16))
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(json.dumps({"type": "events", "events": [event(1)]}))
        assert await next_reply(ws) == {"type": "ack", "upto": 1}
    async with open_link(hub, token) as ws:  # the store's database was restored/replaced
        await ws.send(hello("S1", "b" * 16))
        code, got = await closed_with(ws)
    assert code == 4409
    assert "different database" in got[-1]["message"]
    state = hub_state(hub, "S1")
    assert "different database" in state["alert"]
    assert state["events_received"] == 1
    # An admin accepts the store's database on the dashboard; it may then connect again.
    accept_database(hub, "S1")
    async with open_link(hub, token) as ws:
        await ws.send(hello("S1", "b" * 16))
        welcome = json.loads(await ws.recv())
    assert welcome == {"type": "welcome", "acked_up": 0, "hub_time": welcome["hub_time"]}
    assert hub_state(hub, "S1")["alert"] is None
