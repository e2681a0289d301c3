"""A store's token speaks for that store only (issue #13 item 4, ASVS 4.0.3 V4.2.1): an
order.status or a stock snapshot naming another store's order changes nothing there, is
logged, and does not break the sending store's link.

The hostile stand-in is store S1 with a valid token that knows D2's order ids."""

from __future__ import annotations

import logging

from sqlalchemy import select

from app.hub import placement
from app.hub.models import HubOrder, HubOrderLog, HubReservation, HubStoreOrder
from tests.hub.test_hub_service import apply, ev
from tests.hub.test_routing import KORAMANGALA, incoming, sent_to, setup_stores

D2_ORDER = "0192aaaa-0000-7000-8000-00000000d2d2"  # D2's own id for the order


async def d2_has_accepted(hub_db, hub_cfg) -> HubOrder:
    await setup_stores(hub_db, {"D2": 10})
    order = (await placement.take_order(hub_db, hub_cfg, incoming(
        "W-77", at=KORAMANGALA, pincode="560034"))).order
    assert order.store_id == "D2"
    accepted = {"order_id": D2_ORDER, "number": "D2-000001", "channel": "webshop",
                "external_id": "W-77", "status": "accepted",
                "lines": [{"sku": "RICE", "quantity": 2}]}
    await apply(hub_db, "D2", [ev(2, "order.status", accepted)])
    async with hub_db.write() as s:
        await placement.on_store_status(s, hub_cfg, "D2", accepted)
    return order


async def order_log(hub_db, order_id: str) -> list[str]:
    async with hub_db.read() as s:
        return [e.text for e in await s.scalars(select(HubOrderLog).where(
            HubOrderLog.order_id == order_id).order_by(HubOrderLog.at, HubOrderLog.id))]


async def held(hub_db) -> list[tuple[str, str, str, int]]:
    async with hub_db.read() as s:
        return [(r.order_id, r.sku, r.store_id, r.quantity)
                for r in await s.scalars(select(HubReservation).order_by(HubReservation.sku))]


async def test_a_store_cannot_change_another_stores_order_or_reservations(
        hub_db, hub_cfg, caplog):
    order = await d2_has_accepted(hub_db, hub_cfg)
    before, log_before = await held(hub_db), await order_log(hub_db, order.id)
    assert before == [(D2_ORDER, "RICE", "D2", 2)]
    caplog.set_level(logging.WARNING)
    forged = [
        {"order_id": D2_ORDER, "channel": "webshop", "external_id": "W-77",
         "status": "cancelled", "reason": "forged"},
        {"order_id": D2_ORDER, "channel": "webshop", "external_id": "W-77",
         "status": "accepted", "lines": [{"sku": "DAL", "quantity": 5}]},
        {"order_id": D2_ORDER, "channel": "webshop", "external_id": "W-77",
         "status": "delivered"},
    ]
    for i, data in enumerate(forged, 1):
        await apply(hub_db, "S1", [ev(i, "order.status", data)])
        async with hub_db.write() as s:
            assert await placement.on_store_status(s, hub_cfg, "S1", data) == ()
    async with hub_db.read() as s:
        row = await s.get(HubStoreOrder, D2_ORDER)
        hub_order = await s.get(HubOrder, order.id)
    assert (row.store_id, row.status) == ("D2", "accepted")
    assert (hub_order.store_id, hub_order.status) == ("D2", "accepted")
    assert await held(hub_db) == before
    assert await order_log(hub_db, order.id) == log_before
    assert await sent_to(hub_db, "S1", "order.cancelled") == []
    assert "S1" in caplog.text and "D2" in caplog.text and "ignored" in caplog.text


async def test_a_snapshot_naming_another_stores_order_is_skipped_not_fatal(
        hub_db, hub_cfg, caplog):
    await d2_has_accepted(hub_db, hub_cfg)
    caplog.set_level(logging.WARNING)
    snapshot = {"snapshot_id": "snap-1", "part": 1, "parts": 1,
                "at": "2026-11-27T06:00:00+00:00", "levels": [{"sku": "RICE", "on_hand": 4}],
                "reservations": [{"order_id": D2_ORDER, "sku": "RICE", "quantity": 9},
                                 {"order_id": "s1-own-order", "sku": "RICE", "quantity": 1}]}
    await apply(hub_db, "S1", [ev(5, "stock.snapshot", snapshot)])
    assert await held(hub_db) == [(D2_ORDER, "RICE", "D2", 2), ("s1-own-order", "RICE", "S1", 1)]
    assert "ignored" in caplog.text
