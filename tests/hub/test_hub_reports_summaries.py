"""The summaries the chain overview reads (migration h013's triggers): hub_sale_days
follows hub_sales, hub_order_slots follows orders moving store, being cancelled and
handed over. SQLite and PostgreSQL (hub_db)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.hub import service as hub
from app.hub.models import HubOrder, HubOrderLog, HubOrderSlot, HubSale, HubSaleDay
from tests.hub.test_hub_reports_pages import _order

AT = datetime(2026, 11, 20, 8, 40, tzinfo=UTC)  # slot 08:30 UTC


async def _slots(hub_db) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    async with hub_db.read() as s:
        return {(r.store_id, r.slot): (r.orders, r.cancelled, r.handed, r.met)
                for r in await s.scalars(select(HubOrderSlot))
                if (r.orders, r.cancelled, r.handed, r.met) != (0, 0, 0, 0)}


def _log(n: int, order: str, at: datetime, status: str) -> HubOrderLog:
    return HubOrderLog(id=f"l{n}", order_id=order, at=at, kind="status", text="Status",
                       detail=json.dumps({"status": status}))


async def test_order_slots_follow_moves_cancels_and_handovers(hub_db):
    for sid in ("S1", "S2"):
        await hub.add_store(hub_db, sid, name=sid, kind="darkstore", lat=12.9, lon=77.6)
    async with hub_db.write() as s:
        s.add(HubOrder(**_order(1, "S1", AT, AT + timedelta(minutes=30), "assigned")))
        s.add(HubOrder(**_order(2, "S1", AT, AT + timedelta(minutes=30), "assigned")))
        s.add(HubOrder(**{**_order(3, "S1", AT, AT, "new"), "store_id": None}))
    assert await _slots(hub_db) == {("S1", "2026-11-20T08:30"): (2, 0, 0, 0)}
    async with hub_db.write() as s:  # o1 moves to S2; o2 is cancelled; o3 gets a store
        await s.execute(update(HubOrder).where(HubOrder.id == "o1").values(store_id="S2"))
        await s.execute(update(HubOrder).where(HubOrder.id == "o2").values(status="cancelled"))
        await s.execute(update(HubOrder).where(HubOrder.id == "o3")
                        .values(store_id="S2", status="assigned"))
        await s.execute(update(HubOrder).where(HubOrder.id == "o1").values(status="picking"))
    assert await _slots(hub_db) == {("S1", "2026-11-20T08:30"): (1, 1, 0, 0),
                                    ("S2", "2026-11-20T08:30"): (2, 0, 0, 0)}
    async with hub_db.write() as s:  # o1 on time (then delivered: no second count), o3 late
        s.add(_log(1, "o1", AT + timedelta(minutes=20), "handed_over"))
        s.add(_log(2, "o1", AT + timedelta(minutes=50), "delivered"))
        s.add(_log(3, "o3", AT + timedelta(minutes=5), "delivered"))
        s.add(HubOrderLog(id="l4", order_id="o1", at=AT, kind="store", text="x",
                          detail=json.dumps({"status": "handed_over"})))
    assert await _slots(hub_db) == {("S1", "2026-11-20T08:30"): (1, 1, 0, 0),
                                    ("S2", "2026-11-20T08:30"): (2, 0, 2, 1)}


async def test_sale_days_follow_every_bill_once(hub_db):
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.9, lon=77.6)
    async with hub_db.write() as s:
        for i, (kind, total, day) in enumerate([("sale", 1000, "2026-11-20"),
                                                 ("sale", 2500, "2026-11-20"),
                                                 ("refund", -400, "2026-11-20"),
                                                 ("sale", 700, "2026-11-21")]):
            s.add(HubSale(id=f"x{i}", store_id="S1", kind=kind, number=f"N{i}", at=AT,
                          day=day, total_minor=total))
    async with hub_db.read() as s:
        rows = {(r.day, r.bills, r.sales_minor, r.refunds_minor)
                for r in await s.scalars(select(HubSaleDay))}
    assert rows == {("2026-11-20", 2, 3500, -400), ("2026-11-21", 1, 700, 0)}
