"""What a return may refund, at the hub (issue #19 review): the price the order was
taken at (not today's catalogue price), nothing for a cash-on-delivery order that came
back undelivered, never more than the order was worth, and nothing from a split order's
part that was cancelled. SQLite and PostgreSQL (the hub fixtures)."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from app.hub import placement, returns, service, webhooks
from app.hub.models import HubOrder, HubOrderLine
from tests.hub.test_hub_service import apply
from tests.hub.test_returns import STEPS, delivered_order, split_order
from tests.hub.test_routing import incoming, setup_stores


def body(return_id: str, *lines: tuple[str, int]) -> returns.ReturnBody:
    return returns.ReturnBody(return_id=return_id, reason="not needed",
                              lines=[returns.ReturnLineBody(sku, q) for sku, q in lines])


async def test_a_refund_follows_the_price_the_order_was_taken_at(hub_db, hub_cfg):
    await setup_stores(hub_db, {"S1": 10})
    await webhooks.add_channel(hub_db, "webshop")
    order = await delivered_order(hub_db, hub_cfg)  # 4 RICE at the catalogue's 45.00
    async with hub_db.read() as s:
        line = await s.scalar(select(HubOrderLine).where(HubOrderLine.order_id == order.id))
    assert line is not None and line.price_minor == 4500  # kept at intake
    await service.set_price(hub_db, "RICE", 45_000)  # ten times dearer a week later
    view = await returns.request_return(hub_db, hub_cfg, order.id, body("R-1", ("RICE", 2)),
                                        "api:webshop")
    assert [ln.refundable_minor for ln in view.lines] == [9000]


async def test_an_undelivered_cash_on_delivery_order_refunds_nothing(hub_db, hub_cfg):
    await setup_stores(hub_db, {"S1": 10})
    await webhooks.add_channel(hub_db, "webshop")
    for ext, payment, cod in (("W-COD", "cod", 9000), ("W-PRE", "prepaid", 0)):
        placed = await placement.take_order(hub_db, hub_cfg, dataclasses.replace(
            incoming(ext, qty=2), payment=payment, cod_amount_minor=cod))
        for status in STEPS:
            async with hub_db.write() as s:
                await placement.on_store_status(s, hub_cfg, "S1", {
                    "channel": "webshop", "external_id": ext, "status": status})
        _order, view = await returns.mark_undelivered(hub_db, placed.order.id, "gate locked",
                                                      "courier")
        assert view.ret.kind == "rto"
        # The rider never collected the cash: nothing to pay back. Prepaid: all of it.
        assert [ln.refundable_minor for ln in view.lines] == [0 if cod else 9000], ext


async def test_a_cancelled_part_of_a_split_order_cannot_be_returned(hub_db, hub_cfg):
    await webhooks.add_channel(hub_db, "webshop")
    order, parts = await split_order(hub_db, hub_cfg, cancelled="D2")
    async with hub_db.read() as s:
        assert (await s.get(HubOrder, order.id)).status == "delivered"
        assert (await s.get(HubOrder, parts["D2"].id)).status == "cancelled"
    try:
        await returns.request_return(hub_db, hub_cfg, order.id,
                                     body("R-D", ("DAL", 2)), "api:webshop")
    except returns.Refused as refused:
        assert "DAL is not on order" in str(refused)
    else:
        raise AssertionError("a cancelled part's goods were taken back")
    view = await returns.request_return(hub_db, hub_cfg, order.id,
                                        body("R-R", ("RICE", 3)), "api:webshop")
    assert [(ln.sku, ln.store_id, ln.refundable_minor) for ln in view.lines] == [
        ("RICE", "S1", 3 * 4500)]


async def test_units_that_did_not_come_back_may_be_asked_back_again(hub_db, hub_cfg):
    from tests.hub.test_returns import completed, ev

    await setup_stores(hub_db, {"S1": 10})
    await webhooks.add_channel(hub_db, "webshop")
    order = await delivered_order(hub_db, hub_cfg)  # 4 RICE
    first = await returns.request_return(hub_db, hub_cfg, order.id, body("R-1", ("RICE", 3)),
                                         "api:webshop")
    ret = {"return_id": first.ret.id, "number": first.ret.number}
    # The bag held 2 of ours and something else: 1 resellable, 1 damaged, 1 wrong item.
    await apply(hub_db, "S1", [ev(1, "return.completed", completed(
        ret, refund=9000, line={"expected": 3, "received": 3, "resellable": 1, "damaged": 1,
                                "wrong_item": 1, "refund_minor": 9000}))])
    async with hub_db.read() as s:
        line = await s.scalar(select(HubOrderLine).where(HubOrderLine.order_id == order.id))
    assert line is not None and line.returned == 2  # the wrong item's unit is still out
    try:
        await returns.request_return(hub_db, hub_cfg, order.id, body("R-2", ("RICE", 3)),
                                     "api:webshop")
    except returns.Refused as refused:
        assert "only 2 can be" in str(refused)
    else:
        raise AssertionError("more asked back than is out")
    again = await returns.request_return(hub_db, hub_cfg, order.id, body("R-3", ("RICE", 2)),
                                         "api:webshop")
    # 4 x 45.00 paid, 90.00 refunded: the last two may take the other 90.00
    assert [ln.refundable_minor for ln in again.lines] == [9000]
