"""Making the hub equal to a store again after its database was restored (or replaced)
and an admin accepted it.

The hub cannot rebuild a restored store's figures from the events it has: the store
lost the work after its backup, and its fresh events are deltas on the backup's levels.
So on accept the hub queues `store.resync` (hub -> store, through the normal outbox:
exactly once, survives restarts) with the highest human number it has per series from
that store. The store moves its number sequences past them and, in the same
transaction, writes `stock.snapshot` events with every level it has; the hub replaces
that store's levels and reservations with the snapshot. Events the store writes later
follow the snapshot in its outbox, so they apply on top of it.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import delete, func, insert, select, update

from app.core.db import Session
from app.hub.db import upsert
from app.hub.models import (
    HubReservation,
    HubSale,
    HubStockLevel,
    HubStoreOrder,
    HubTransfer,
    StoreEventRow,
)

log = logging.getLogger("kirana.hub")
_TRAILING_DIGITS = re.compile(r"(\d+)$")


def number_part(number: str) -> int:
    """The running part of a store's human number: S1-000123 -> 123, S1-R00012 -> 12."""
    found = _TRAILING_DIGITS.search(number or "")
    return int(found.group(1)) if found else 0


async def _highest(s: Session, column: Any, *where: Any) -> int:
    """Highest number in `column`: zero-padded numbers of one series compare as text
    among the longest ones, so the database finds it without reading every row."""
    number = await s.scalar(select(column).where(*where)
                            .order_by(func.length(column).desc(), column.desc()).limit(1))
    return number_part(number or "")


async def resync_payload(s: Session, store_id: str) -> dict:
    """`store.resync` data: the highest number per series the hub has from the store."""
    shifts = 0
    for data in await s.scalars(select(StoreEventRow.data).where(
            StoreEventRow.store_id == store_id, StoreEventRow.kind == "shift.closed")):
        shifts = max(shifts, number_part(str(msgspec.json.decode(data).get("number", ""))))
    return {"numbers": {
        "sale": await _highest(s, HubSale.number, HubSale.store_id == store_id,
                               HubSale.kind == "sale"),
        "refund": await _highest(s, HubSale.number, HubSale.store_id == store_id,
                                 HubSale.kind == "refund"),
        "order": await _highest(s, HubStoreOrder.number, HubStoreOrder.store_id == store_id),
        "shift": shifts,
        # Transfers the store raised (S1-T00012); an older store skips the sequence.
        "transfer": await _highest(s, HubTransfer.number, HubTransfer.raised_by == store_id,
                                   HubTransfer.number.like(f"{store_id}-T%")),
    }}


def _part(data: dict, key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"stock.snapshot needs a whole number {key!r} from 1")
    return value


# Bigger figures do not fit the hub's columns (PostgreSQL integer): refused as a bad
# event (4400) rather than failing the link's transaction again on every reconnect.
MAX_FIGURE = 1_000_000_000


def _rows(data: dict, key: str, fields: dict[str, type]) -> list[dict]:
    rows = data.get(key) or []
    if not isinstance(rows, list):
        raise ValueError(f"stock.snapshot {key!r} must be a list")
    for row in rows:
        if not isinstance(row, dict) or any(
                not isinstance(row.get(name), kind) or isinstance(row.get(name), bool)
                for name, kind in fields.items()):
            raise ValueError(f"stock.snapshot {key!r}: each needs {', '.join(fields)}")
        if any(kind is int and abs(row[name]) > MAX_FIGURE for name, kind in fields.items()):
            raise ValueError(f"stock.snapshot {key!r}: a figure is past {MAX_FIGURE:,}")
    return rows


async def _orders_of_other_stores(s: Session, store_id: str, order_ids: set[str]) -> set[str]:
    """Which of `order_ids` another store reported or holds stock for (issue #13 item 4)."""
    ids = sorted(order_ids)
    found: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        found |= set(await s.scalars(select(HubStoreOrder.order_id).where(
            HubStoreOrder.order_id.in_(chunk), HubStoreOrder.store_id != store_id)))
        found |= set(await s.scalars(select(HubReservation.order_id).where(
            HubReservation.order_id.in_(chunk), HubReservation.store_id != store_id)))
    return found


async def apply_snapshot(s: Session, store_id: str, data: dict, now: datetime) -> None:
    """Replace the store's levels and reservations with the store's own figures. Part 1
    of a snapshot clears them (a SKU the store no longer lists is 0); every part sets
    the levels and reservations it carries. Parts arrive in order, like every event."""
    part, parts = _part(data, "part"), _part(data, "parts")
    if part > parts:
        raise ValueError("stock.snapshot part is past its parts")
    levels = _rows(data, "levels", {"sku": str, "on_hand": int})
    held = _rows(data, "reservations", {"order_id": str, "sku": str, "quantity": int})
    if part == 1:
        await s.execute(update(HubStockLevel).where(HubStockLevel.store_id == store_id)
                        .values(on_hand=0, updated_at=now))
        await s.execute(delete(HubReservation).where(HubReservation.store_id == store_id))
    if levels:
        table = HubStockLevel.__table__
        stmt = upsert(s, table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["store_id", "sku"],
            set_={"on_hand": stmt.excluded.on_hand, "updated_at": stmt.excluded.updated_at})
        await s.execute(stmt, [{"store_id": store_id, "sku": row["sku"][:40],
                                "on_hand": row["on_hand"], "updated_at": now}
                               for row in levels])
    if held:
        merged: dict[tuple[str, str], int] = {}
        for row in held:
            key = (row["order_id"][:36], row["sku"][:40])
            merged[key] = merged.get(key, 0) + row["quantity"]
        others = await _orders_of_other_stores(s, store_id, {k[0] for k in merged})
        if others:
            log.warning("store %s's snapshot holds stock for %d orders of other stores "
                        "(%s): ignored", store_id, len(others), ", ".join(sorted(others)[:5]))
        rows = [{"order_id": order_id, "sku": sku, "store_id": store_id, "quantity": quantity}
                for (order_id, sku), quantity in sorted(merged.items())
                if order_id not in others]
        if rows:
            await s.execute(insert(HubReservation), rows)
