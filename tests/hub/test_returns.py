"""Returns of online orders at the hub (issue #19), on SQLite and PostgreSQL: a channel's
request through the API (validation, hostile input, idempotency, the return window),
no unit returned twice however many requests come at once, a failed delivery (RTO),
each store's lines routed to it as `return.requested`, a store's `return.completed`
(a forged store's ignored, a malformed one failing its frame), and the channel's signed
webhook, sent once."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.core.clock import utcnow
from app.hub import placement, returns, webhooks
from app.hub.models import HubOrder, HubOrderLine, HubOrderLog, HubReturn, HubReturnLine, HubWebhook
from tests.hub.test_hub_service import apply
from tests.hub.test_hub_service import ev as event
from tests.hub.test_routing import incoming, sent_to, setup_stores


def ev(seq: int, kind: str, data: dict):
    """A store event whose id no setup event has (setup_stores used e1)."""
    return event(seq, kind, data, id_=f"ret{seq}")


STEPS = ("accepted", "picking", "picked", "packed", "ready", "handed_over")


async def delivered_order(hub_db, hub_cfg, ext: str = "W-1", qty: int = 4,
                          deliver: bool = True, store: str = "S1") -> HubOrder:
    """An order of `qty` RICE placed at S1 (Indiranagar), taken to the rider and (if
    `deliver`) delivered."""
    placed = await placement.take_order(hub_db, hub_cfg, incoming(ext, qty=qty))
    assert placed.order.store_id == store
    for status in STEPS:
        async with hub_db.write() as s:
            await placement.on_store_status(s, hub_cfg, store, {
                "channel": "webshop", "external_id": ext, "status": status})
    if deliver:
        await placement.mark_delivered(hub_db, placed.order.id, "api:webshop")
    async with hub_db.read() as s:
        order = await s.get(HubOrder, placed.order.id)
    assert order is not None
    return order


async def channel(hub_db, url: str = "") -> dict[str, str]:
    key, _secret = await webhooks.add_channel(hub_db, "webshop", url)
    return {"Authorization": f"Bearer {key}"}


def ask(return_id: str = "R-1", qty: int = 1, sku: str = "RICE", **over) -> dict:
    body = {"return_id": return_id, "lines": [{"sku": sku, "quantity": qty}],
            "reason": "torn packet", "mode": "pickup"}
    body.update(over)
    return body


def completed(ret: dict, store: str = "S1", refund: int = 4500, **over) -> dict:
    line = {"sku": "RICE", "expected": 1, "received": 1, "resellable": 1, "damaged": 0,
            "expired": 0, "wrong_item": 0, "refund_minor": refund}
    line.update(over.pop("line", {}))
    data = {"return_id": ret["return_id"], "number": ret["number"], "at": utcnow().isoformat(),
            "by": "Asha", "decision": "refund", "approved_by": None, "lines": [line],
            "refund_total_minor": refund}
    data.update(over)
    return data


async def test_a_channel_return_goes_to_the_store_that_packed_it(hub_client, hub_db, hub_cfg):
    await setup_stores(hub_db, {"S1": 10, "D2": 10})
    auth = await channel(hub_db)
    order = await delivered_order(hub_db, hub_cfg)
    made = await hub_client.post(f"/api/v1/orders/{order.id}/returns",
                                 json=ask(qty=2), headers=auth)
    assert made.status_code == 201, made.text
    ret = made.json()
    assert ret["number"].startswith("RET-") and ret["state"] == "requested"
    assert ret["return_id"] == "R-1" and ret["kind"] == "customer"
    assert ret["lines"][0]["quantity"] == 2
    assert ret["lines"][0]["refundable_minor"] == 2 * 4500
    assert "S1" not in made.text  # the channel never hears which store
    [sent] = await sent_to(hub_db, "S1", "return.requested")
    assert sent["return_id"] == ret["id"] and sent["number"] == ret["number"]
    assert (sent["kind"], sent["mode"], sent["hub_order_id"], sent["order_number"]) == (
        "customer", "pickup", order.id, order.number)
    assert (sent["channel"], sent["external_id"], sent["channel_return_id"]) == (
        "webshop", "W-1", "R-1")
    assert sent["exchange"] is False and sent["reason"] == "torn packet"
    assert sent["lines"] == [{"sku": "RICE", "quantity": 2, "unit_price_minor": 4500,
                              "refundable_minor": 9000}]
    assert await sent_to(hub_db, "D2", "return.requested") == []
    # The same request again: the same return (200), nothing new sent.
    again = await hub_client.post(f"/api/v1/orders/{order.id}/returns",
                                  json=ask(qty=2), headers=auth)
    assert again.status_code == 200 and again.json()["id"] == ret["id"]
    assert len(await sent_to(hub_db, "S1", "return.requested")) == 1
    # The same return id with another body: 409, nothing made.
    other = await hub_client.post(f"/api/v1/orders/{order.id}/returns",
                                  json=ask(qty=1), headers=auth)
    assert other.status_code == 409 and "R-1" in other.text
    # What is left: 2 of 4; a third asks for 3.
    over = await hub_client.post(f"/api/v1/orders/{order.id}/returns",
                                 json=ask("R-2", qty=3), headers=auth)
    assert over.status_code == 422
    assert "RICE: 3 asked back, but only 2 can be (4 delivered, 2 returned already)" in over.text
    listed = await hub_client.get(f"/api/v1/orders/{order.id}/returns", headers=auth)
    assert [r["number"] for r in listed.json()] == [ret["number"]]
    async with hub_db.read() as s:
        line = await s.scalar(select(HubOrderLine).where(HubOrderLine.order_id == order.id))
        assert line is not None and line.returned == 2
        log = [e.text for e in await s.scalars(select(HubOrderLog).where(
            HubOrderLog.order_id == order.id, HubOrderLog.kind == "return"))]
    assert log == [f"Return {ret['number']} (2 units, pickup): torn packet"]
    # The hub's order page shows it.
    from tests.hub.conftest import sign_in

    await sign_in(hub_client)
    page = await hub_client.get(f"/hub/orders/{order.id}")
    assert ret["number"] in page.text and "torn packet" in page.text


async def test_refusals_are_clear_and_change_nothing(hub_client, hub_db, hub_cfg):
    await setup_stores(hub_db, {"S1": 10})
    auth = await channel(hub_db)
    other_key, _ = await webhooks.add_channel(hub_db, "marketplace")
    rider = await delivered_order(hub_db, hub_cfg, "W-2", deliver=False)
    order = await delivered_order(hub_db, hub_cfg)
    url = f"/api/v1/orders/{order.id}/returns"
    not_yet = await hub_client.post(f"/api/v1/orders/{rider.id}/returns", json=ask(),
                                    headers=auth)
    assert not_yet.status_code == 422 and "only a delivered order can be returned" in not_yet.text
    unknown = await hub_client.post(url, json=ask(sku="DAL"), headers=auth)
    assert unknown.status_code == 422 and f"DAL is not on order {order.number}" in unknown.text
    theirs = await hub_client.post(url, json=ask(), headers={
        "Authorization": f"Bearer {other_key}"})
    assert theirs.status_code == 404
    twice = await hub_client.post(url, json=ask(lines=[{"sku": "RICE", "quantity": 1},
                                                        {"sku": "rice", "quantity": 1}]),
                                  headers=auth)
    assert twice.status_code == 422 and "twice" in twice.text
    blank = await hub_client.post(url, json=ask(reason="   "), headers=auth)
    assert blank.status_code == 422 and "reason" in blank.text
    # Hostile input: the strict body decoder refuses it before anything runs.
    hostile = [
        ask(qty=0), ask(qty=-1), ask(qty=2**63), ask(qty=10**7), ask(qty=1.5),
        ask(qty=True), ask(reason="x" * 100_000), ask(reason="torn\x00packet"),
        ask(return_id=""), ask(return_id="r" * 81), ask(mode="drone"), ask(exchange="yes"),
        ask(lines=[]), ask(sku="R" * 41), ask(extra=1),
    ]
    for body in hostile:
        bad = await hub_client.post(url, json=body, headers=auth)
        assert bad.status_code == 400, (body if len(str(body)) < 200 else "long", bad.text)
    for raw in (b'{"return_id": "R", "lines": [{"sku": "RICE", "quantity": NaN}], '
                b'"reason": "x"}',
                b'{"return_id": "R", "lines": [{"sku": "RICE", "quantity": Infinity}], '
                b'"reason": "x"}',
                b'{"return_id": "R", "lines": [{"sku": "RICE", "quantity": 1e400}], '
                b'"reason": "x"}'):
        bad = await hub_client.post(url, content=raw, headers={
            **auth, "Content-Type": "application/json"})
        assert bad.status_code == 400, bad.text
    no_key = await hub_client.post(url, json=ask())
    assert no_key.status_code == 401
    # The return window: 7 days unless the channel's is set otherwise.
    async with hub_db.write() as s:
        await s.execute(update(HubOrderLog).where(HubOrderLog.order_id == order.id)
                        .values(at=utcnow() - timedelta(days=8)))
    late = await hub_client.post(url, json=ask(), headers=auth)
    assert late.status_code == 422 and "takes returns for 7 days after delivery" in late.text
    await returns.set_return_window(hub_db, "webshop", 10)
    in_time = await hub_client.post(url, json=ask(), headers=auth)
    assert in_time.status_code == 201, in_time.text
    async with hub_db.read() as s:
        made = list(await s.scalars(select(HubReturn)))
    assert [r.channel_return_id for r in made] == ["R-1"]
    with pytest.raises(returns.HubError):
        await returns.set_return_window(hub_db, "webshop", 10**9)


async def test_requests_at_once_never_return_a_unit_twice(hub_db, hub_cfg):
    """Eight different return requests at once for 1 unit each of an order of 4: four
    are made, four refused, and the order line has returned exactly 4."""
    await setup_stores(hub_db, {"S1": 10})
    await channel(hub_db)
    order = await delivered_order(hub_db, hub_cfg)

    async def one(i: int) -> str:
        body = returns.ReturnBody(return_id=f"R-{i}", reason="late",
                                  lines=[returns.ReturnLineBody("RICE", 1)])
        try:
            await returns.request_return(hub_db, hub_cfg, order.id, body, "api:webshop")
        except returns.Refused:
            return "refused"
        return "made"

    results = await asyncio.gather(*(one(i) for i in range(8)))
    assert sorted(results) == ["made"] * 4 + ["refused"] * 4
    # The same return id eight times at once: one return.
    same = returns.ReturnBody(return_id="R-X", reason="late",
                              lines=[returns.ReturnLineBody("RICE", 1)])
    async with hub_db.write() as s:
        await s.execute(update(HubOrderLine).values(returned=0))
    made = await asyncio.gather(*(returns.request_return(hub_db, hub_cfg, order.id, same,
                                                         "api:webshop") for _ in range(8)))
    assert len({m.ret.id for m in made}) == 1 and sum(m.created for m in made) == 1
    async with hub_db.read() as s:
        rets = list(await s.scalars(select(HubReturn)))
        line = await s.scalar(select(HubOrderLine).where(HubOrderLine.order_id == order.id))
    assert len(rets) == 5 and line is not None and line.returned == 1
    assert len(await sent_to(hub_db, "S1", "return.requested")) == 5


async def test_a_failed_delivery_comes_back_to_its_store(hub_client, hub_db, hub_cfg):
    await setup_stores(hub_db, {"S1": 10})
    auth = await channel(hub_db)
    order = await delivered_order(hub_db, hub_cfg, deliver=False, qty=3)
    url = f"/api/v1/orders/{order.id}/undelivered"
    for hostile in ({"reason": ""}, {"reason": "x" * 100_000}, {"reason": "no\x00one"},
                    {"reason": 5}, {}, {"reason": "x", "extra": True}):
        bad = await hub_client.post(url, json=hostile, headers=auth)
        assert bad.status_code == 400, bad.text
    other_key, _ = await webhooks.add_channel(hub_db, "marketplace")
    theirs = await hub_client.post(url, json={"reason": "x"}, headers={
        "Authorization": f"Bearer {other_key}"})
    assert theirs.status_code == 404
    listing = await hub_client.get(f"/api/v1/orders/{order.id}/returns", headers={
        "Authorization": f"Bearer {other_key}"})
    assert listing.status_code == 404
    with pytest.raises(returns.HubError, match="0 to 365 days"):
        await webhooks.add_channel(hub_db, "slowshop", return_window_days=400)
    back = await hub_client.post(url, json={"reason": "customer not at home"}, headers=auth)
    assert back.status_code == 201 or back.status_code == 200, back.text
    body = back.json()
    assert body["status"] == "undelivered" and body["return"]["kind"] == "rto"
    assert body["return"]["lines"][0]["quantity"] == 3
    [sent] = await sent_to(hub_db, "S1", "return.requested")
    assert (sent["kind"], sent["mode"], sent["channel_return_id"]) == ("rto", "rto", None)
    assert sent["lines"][0]["quantity"] == 3
    again = await hub_client.post(url, json={"reason": "again"}, headers=auth)
    assert again.json()["return"]["id"] == body["return"]["id"]
    assert len(await sent_to(hub_db, "S1", "return.requested")) == 1
    # Nothing more happens to it: not delivered, not returned by the customer.
    with pytest.raises(returns.HubError):
        await placement.mark_delivered(hub_db, order.id, "api:webshop")
    refused = await hub_client.post(f"/api/v1/orders/{order.id}/returns", json=ask(),
                                    headers=auth)
    assert refused.status_code == 422
    # A delivered order cannot come back undelivered.
    delivered = await delivered_order(hub_db, hub_cfg, "W-3")
    no = await hub_client.post(f"/api/v1/orders/{delivered.id}/undelivered",
                               json={"reason": "x"}, headers=auth)
    assert no.status_code == 409 and "only an order with a rider" in no.text
    # The hub's staff do the same from the order page.
    from tests.conftest import csrf_of
    from tests.hub.conftest import sign_in

    third = await delivered_order(hub_db, hub_cfg, "W-4", deliver=False)
    await sign_in(hub_client)
    page = await hub_client.get(f"/hub/orders/{third.id}")
    assert "Not delivered" in page.text
    done = await hub_client.post(f"/hub/orders/{third.id}/undelivered", data={
        "reason": "wrong address", "_csrf_token": csrf_of(hub_client)})
    assert done.status_code == 200 and "wrong address" in done.text
    assert len(await sent_to(hub_db, "S1", "return.requested")) == 2


async def test_a_store_completes_a_return_and_the_channel_hears_once(hub_db, hub_cfg, caplog):
    await setup_stores(hub_db, {"S1": 10, "D2": 10})
    posted: list[tuple[bytes, dict]] = []

    async def post(url: str, body: bytes, headers: dict) -> int:
        posted.append((body, headers))
        return 200

    await channel(hub_db, "http://127.0.0.1:9/hook")
    async with hub_db.read() as s:
        from app.hub.models import HubChannel

        row = await s.get(HubChannel, "webshop")
        assert row is not None
        secret = webhooks.sealing.open_webhook_secret(hub_db, "webshop", row.webhook_secret)
    order = await delivered_order(hub_db, hub_cfg, qty=2)
    while await webhooks.deliver_webhooks(hub_db, post):  # the order's status calls
        pass
    posted.clear()
    view = await returns.request_return(hub_db, hub_cfg, order.id, returns.ReturnBody(
        return_id="R-1", reason="stale", lines=[returns.ReturnLineBody("RICE", 2)]),
        "api:webshop")
    ret = {"return_id": view.ret.id, "number": view.ret.number}
    line = {"expected": 2, "received": 2, "resellable": 1, "damaged": 1}
    # Another store cannot complete it (logged, ignored); a malformed one fails the frame.
    caplog.set_level(logging.WARNING)
    await apply(hub_db, "D2", [ev(1, "return.completed", completed(ret, "D2", line=line))])
    assert "whose goods go to S1: ignored" in caplog.text
    for bad in ({"refund_minor": -1}, {"received": 2**63}, {"received": 1.5},
                {"sku": "x" * 41}, {"resellable": "1"}):
        with pytest.raises(ValueError):
            await apply(hub_db, "S1", [ev(2, "return.completed",
                                          completed(ret, line={**line, **bad}))])
    with pytest.raises(ValueError):
        await apply(hub_db, "S1", [ev(2, "return.completed", completed(ret, decision="maybe"))])
    async with hub_db.read() as s:
        assert (await s.get(HubReturn, view.ret.id)).state == "requested"
    # The store's report: one resellable, one damaged, refund 9000 (capped at refundable).
    done = completed(ret, refund=9000, line={**line, "refund_minor": 99_999})
    await apply(hub_db, "S1", [ev(3, "return.completed", done)])
    async with hub_db.read() as s:
        row = await s.get(HubReturn, view.ret.id)
        lines = list(await s.scalars(select(HubReturnLine)))
        log = [e.text for e in await s.scalars(select(HubOrderLog).where(
            HubOrderLog.order_id == order.id, HubOrderLog.kind == "return")
            .order_by(HubOrderLog.at))]
    assert row.state == "completed" and row.refund_total_minor == 9000
    assert (lines[0].resellable, lines[0].damaged, lines[0].refund_minor) == (1, 1, 9000)
    assert any("back at S1: 2 of 2 units received (1 resellable, 1 damaged)" in t for t in log)
    # Replayed (the same event again, or the store sending it anew): nothing changes.
    await apply(hub_db, "S1", [ev(3, "return.completed", done)])
    await apply(hub_db, "S1", [ev(4, "return.completed", done)])
    while await webhooks.deliver_webhooks(hub_db, post):
        pass
    [(body, headers)] = posted
    assert headers["X-Kirana-Signature"] == webhooks.signature(secret, body)
    call = json.loads(body)
    assert call["event"] == "return.completed" and call["order_id"] == order.id
    assert call["return"]["return_id"] == "R-1" and call["return"]["refund_total_minor"] == 9000
    assert call["return"]["lines"][0]["refund_minor"] == 9000
    async with hub_db.read() as s:
        hooks = list(await s.scalars(select(HubWebhook).where(
            HubWebhook.payload.contains('"return.completed"'))))
    assert len(hooks) == 1


async def test_an_exchange_places_a_replacement_order_once(hub_client, hub_db, hub_cfg):
    await setup_stores(hub_db, {"S1": 10})
    auth = await channel(hub_db)
    order = await delivered_order(hub_db, hub_cfg)
    made = await hub_client.post(f"/api/v1/orders/{order.id}/returns",
                                 json=ask(exchange=True), headers=auth)
    assert made.status_code == 201, made.text
    ret = made.json()
    assert ret["exchange"] is True and ret["replacement_order_id"]
    again = await hub_client.post(f"/api/v1/orders/{order.id}/returns",
                                  json=ask(exchange=True), headers=auth)
    assert again.json()["replacement_order_id"] == ret["replacement_order_id"]
    async with hub_db.read() as s:
        replacement = await s.get(HubOrder, ret["replacement_order_id"])
        count = len(list(await s.scalars(select(HubOrder).where(
            HubOrder.external_id.contains("/exchange/")))))
    assert replacement is not None and count == 1
    assert replacement.external_id == f"W-1/exchange/{ret['number']}"
    assert replacement.status == "assigned" and replacement.store_id == "S1"
    [sent] = await sent_to(hub_db, "S1", "return.requested")
    assert sent["exchange"] is True


async def split_order(hub_db, hub_cfg, deliver: bool = True,
                      cancelled: str = "") -> tuple[HubOrder, dict]:
    """RICE x3 from S1 and DAL x2 from D2 (no store has both), both with a rider and (if
    `deliver`) delivered; the part of store `cancelled` (if any) is cancelled by HQ
    before it is picked. Returns the order and its parts by store."""
    from app.hub import order_reads
    from app.hub.allocation import Rules
    from app.orders.service import LineIn, OrderIn
    from tests.hub.test_routing import INDIRANAGAR

    await setup_stores(hub_db, {})
    await apply(hub_db, "S1", [event(9, "stock.moved", {"sku": "RICE", "delta": 5})])
    await apply(hub_db, "D2", [event(9, "stock.moved", {"sku": "DAL", "delta": 5})])
    await placement.save_rules(hub_db, Rules(split_above_minor=100), "Priya")
    placed = await placement.take_order(hub_db, hub_cfg, OrderIn(
        channel="webshop", external_id="BIG-1", customer_name="Hotel", customer_phone="",
        address="MG Road", pincode="560038", promised_by=utcnow() + timedelta(hours=2),
        lines=(LineIn("RICE", 3), LineIn("DAL", 2)), lat=INDIRANAGAR[0], lon=INDIRANAGAR[1]))
    assert placed.order.status == "split"
    parts = {p.store_id: p for p in (await order_reads.get_order(hub_db, placed.order.id)).parts}
    if cancelled:
        await placement.cancel(hub_db, parts[cancelled].id, "spoilt", "Priya")
    for store_id, part in parts.items():
        if store_id == cancelled:
            continue
        for status in STEPS:
            async with hub_db.write() as s:
                await placement.on_store_status(s, hub_cfg, store_id, {
                    "channel": "webshop", "external_id": part.external_id, "status": status})
    if deliver:
        await placement.mark_delivered(hub_db, placed.order.id, "api:webshop")
    async with hub_db.read() as s:
        order = await s.get(HubOrder, placed.order.id)
    return order, parts


async def test_a_split_orders_return_goes_to_each_store_and_completes_with_both(hub_db, hub_cfg):
    await webhooks.add_channel(hub_db, "webshop", "http://127.0.0.1:9/hook",
                               return_window_days=3)
    order, parts = await split_order(hub_db, hub_cfg)
    assert order.status == "delivered"
    view = await returns.request_return(hub_db, hub_cfg, order.id, returns.ReturnBody(
        return_id="R-S", reason="not needed", lines=[returns.ReturnLineBody("RICE", 1),
                                                     returns.ReturnLineBody("DAL", 2)]),
        "api:webshop")
    [to_s1] = await sent_to(hub_db, "S1", "return.requested")
    [to_d2] = await sent_to(hub_db, "D2", "return.requested")
    # Each store hears of the part it packed, with its own lines.
    assert (to_s1["hub_order_id"], to_s1["order_number"], to_s1["external_id"]) == (
        parts["S1"].id, parts["S1"].number, parts["S1"].external_id)
    assert to_s1["external_id"].startswith("BIG-1#")
    assert [ln["sku"] for ln in to_s1["lines"]] == ["RICE"]
    assert to_d2["hub_order_id"] == parts["D2"].id
    assert [(ln["sku"], ln["quantity"]) for ln in to_d2["lines"]] == [("DAL", 2)]
    ret = {"return_id": view.ret.id, "number": view.ret.number}
    await apply(hub_db, "S1", [ev(1, "return.completed", completed(ret))])
    async with hub_db.read() as s:
        assert (await s.get(HubReturn, view.ret.id)).state == "requested"  # D2 not yet
    await apply(hub_db, "D2", [ev(1, "return.completed", completed(
        ret, refund=0, decision="rejected", line={
            "sku": "DAL", "expected": 2, "received": 2, "resellable": 0, "wrong_item": 2,
            "refund_minor": 0}))])
    async with hub_db.read() as s:
        row = await s.get(HubReturn, view.ret.id)
        hooks = list(await s.scalars(select(HubWebhook).where(
            HubWebhook.payload.contains('"return.completed"'))))
    assert row.state == "completed" and row.refund_total_minor == 4500
    [hook] = hooks
    lines = {ln["sku"]: ln for ln in json.loads(hook.payload)["return"]["lines"]}
    assert lines["RICE"]["refund_minor"] == 4500 and lines["DAL"]["refund_minor"] == 0
    assert lines["DAL"]["wrong_item"] == 2


async def test_a_split_order_comes_back_undelivered_from_each_store(hub_db, hub_cfg):
    await webhooks.add_channel(hub_db, "webshop")
    order, parts = await split_order(hub_db, hub_cfg, deliver=False)
    assert order.status == "handed_over"
    back, view = await returns.mark_undelivered(hub_db, order.id, "gate locked", "Priya")
    async with hub_db.read() as s:
        statuses = {p.store_id: (await s.get(HubOrder, p.id)).status for p in parts.values()}
        parent = await s.get(HubOrder, order.id)
    assert statuses == {"S1": "undelivered", "D2": "undelivered"}
    assert parent.status == "undelivered" and view.ret.kind == "rto"
    [to_s1] = await sent_to(hub_db, "S1", "return.requested")
    [to_d2] = await sent_to(hub_db, "D2", "return.requested")
    assert to_s1["lines"][0]["quantity"] == 3 and to_d2["lines"][0]["quantity"] == 2
    assert to_s1["kind"] == to_d2["kind"] == "rto"
