"""The store's optional `cashier` on a points redemption (issue #21, migration 0031 at
the store) reaches a hub that does not keep it yet: the movement books exactly as
before, once, on SQLite and PostgreSQL; the event keeps it (hub_store_events)."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.hub.models import HubLoyaltyEntry, StoreEventRow
from tests.hub.test_hub_service import apply, ev
from tests.hub.test_loyalty_hub import PHONE, customer, joined, move, stores


async def test_a_redemption_with_its_cashier_books_as_before(hub_db):
    await stores(hub_db)
    redeemed = ev(3, "loyalty.redeemed", {
        "entry_id": "E2", "phone": PHONE, "kind": "redeemed", "points": -50,
        "reference": "S1-000002", "at": "2026-11-27T11:40:00+05:30",
        "cashier": "01a2f3c4-0000-7000-8000-000000000001"})
    await apply(hub_db, "S1", [joined(1), move(2, "E1", "earned", 120), redeemed])
    await apply(hub_db, "S1", [redeemed])  # a resend books nothing more
    assert (await customer(hub_db)).balance == 70
    async with hub_db.read() as s:
        entries = list(await s.scalars(select(HubLoyaltyEntry).order_by(HubLoyaltyEntry.id)))
        kept = await s.scalar(select(StoreEventRow.data).where(
            StoreEventRow.kind == "loyalty.redeemed"))
    assert [(e.kind, e.points) for e in entries] == [("earned", 120), ("redeemed", -50)]
    assert json.loads(kept)["cashier"] == "01a2f3c4-0000-7000-8000-000000000001"
