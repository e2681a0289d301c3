# ruff: noqa: F811  (pytest fixtures imported from test_pos_service and the report's test)
"""The store's sale and refund events carry each line's offers (issue #21, the hub's
chain promotions report): what the sale line kept, each offer with what it took off;
a refund gives back each offer's share, and refunds of a whole line in parts give back
exactly what the offer took. Real SQLite store, sales through the real till."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from app.core import promotion_uplift as uplift
from app.pos import refunds
from app.pos.models import SaleLine
from app.pos.refunds import RefundRequest
from tests.integration.test_pos_service import (  # noqa: F401  (fixtures)
    ATTA,
    DAL,
    LOTION,
    barcode,
    cashier,
    catalog,
    events,
    manager,
    new_key,
    parsed,
    users,
)
from tests.integration.test_promotions_report import D0, clock, sold  # noqa: F401


async def test_each_line_carries_its_offers_as_the_sale_line_kept_them(cfg, db, sold):
    _made, bills = sold
    completed = {e["sale_id"]: e for e in await events(db, "sale.completed")}
    async with db.read() as s:
        kept = {(str(a), int(p)): str(t) for a, p, t in await s.execute(
            select(SaleLine.sale_id, SaleLine.position, SaleLine.promotions))}
    # A bill before the offers: no line carries "offers" (an older hub sees what it saw).
    assert all("offers" not in line for line in completed[bills["before1"]]["lines"])
    during = completed[bills["during3"]]
    with_offers = [line for line in during["lines"] if line.get("offers")]
    assert with_offers, during["lines"]
    by_sale = sorted((p, t) for (sid, p), t in kept.items() if sid == bills["during3"])
    sent = [line.get("offers", []) for line in during["lines"]]
    assert sent == [json.loads(t) if t else [] for _p, t in by_sale]
    for offers in sent:
        for o in offers:
            assert set(o) == {"id", "name", "off", "bill"} and isinstance(o["off"], int)
    # The event's offers read back as the hub reads them, nothing dropped.
    lines, dropped = uplift.sold_lines(during, refund=False)
    assert dropped == 0 and sum(len(x.offers) for x in lines) == sum(map(len, sent))


async def test_refunds_give_back_each_offers_share_and_all_of_it_in_the_end(
        cfg, db, sold, clock, manager):
    _made, bills = sold
    sale_id = bills["during1"]  # 3 atta, buy 2 get 1: the offer took one atta's price
    clock.on(D0 + timedelta(days=3))
    async with db.read() as s:
        [line] = list(await s.scalars(select(SaleLine).where(SaleLine.sale_id == sale_id)))
    took = uplift.stored_offers(line.promotions)
    assert took and line.quantity == 3
    for _ in range(3):  # one at a time
        await refunds.refund(db, cfg, "C1", sale_id,
                             [RefundRequest(line.id, 1, "resaleable")], "cash", new_key(),
                             manager)
    back = await events(db, "sale.refunded")
    assert len(back) == 3  # (no other refund in the fixture)
    for offer in took:
        given = [o["off"] for e in back for ln in e["lines"] for o in ln.get("offers", [])
                 if o["id"] == offer.id]
        assert len(given) == 3 and sum(given) == offer.off_minor
