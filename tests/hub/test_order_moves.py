"""What a store reports moves a hub order only as the hub's state machine allows
(app/hub/order_states.py); a report that may not follow is logged and ignored, and the
store's link goes on. On SQLite and PostgreSQL."""

from __future__ import annotations

from app.hub import order_reads, placement
from tests.hub.test_routing import incoming, sent_to, setup_stores


async def _report(hub_db, hub_cfg, order, store_id: str, *statuses: str) -> tuple:
    wake: tuple = ()
    for status in statuses:
        async with hub_db.write() as s:
            wake += await placement.on_store_status(s, hub_cfg, store_id, {
                "channel": order.channel, "external_id": order.external_id,
                "status": status})
    return wake


async def test_a_store_cannot_take_back_an_order_its_rider_has(hub_db, hub_cfg):
    """Before: a store's `cancelled` for an order out for delivery re-routed it (sent to
    another store, whose picker would pack it a second time)."""
    await setup_stores(hub_db, {"S1": 10, "D2": 10})
    order = (await placement.take_order(hub_db, hub_cfg, incoming("W-1"))).order
    first = order.store_id
    await _report(hub_db, hub_cfg, order, first, "accepted", "picking", "picked", "packed",
                  "ready", "handed_over")
    assert await _report(hub_db, hub_cfg, order, first, "cancelled") == ()
    page = await order_reads.get_order(hub_db, order.id)
    assert (page.order.status, page.order.store_id) == ("handed_over", first)
    other = "D2" if first == "S1" else "S1"
    assert await sent_to(hub_db, other, "order.assigned") == []
    assert f"{first} reported cancelled, which cannot follow with rider: ignored" in [
        e.text for e in page.log]


async def test_a_step_back_is_ignored_but_a_picker_letting_go_is_not(hub_db, hub_cfg):
    """Before: a `accepted` after `packed` set the order back to accepted."""
    await setup_stores(hub_db, {"S1": 10})
    order = (await placement.take_order(hub_db, hub_cfg, incoming("W-2"))).order
    await _report(hub_db, hub_cfg, order, "S1", "accepted", "picking", "accepted")
    assert (await order_reads.get_order(hub_db, order.id)).order.status == "accepted"
    await _report(hub_db, hub_cfg, order, "S1", "picking", "picked", "packed", "accepted")
    assert (await order_reads.get_order(hub_db, order.id)).order.status == "packed"
    await _report(hub_db, hub_cfg, order, "S1", "ready", "handed_over", "delivered")
    assert (await order_reads.get_order(hub_db, order.id)).order.status == "delivered"
