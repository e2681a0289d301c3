"""Retention at the hub: `hub_outbox` rows a store acknowledged and the applied store
events in `hub_store_events` are deleted once older than `sync.retention_days`
(docs/sync-protocol.md "Retention").

Exactly-once rests on the cursors: a store event at or below `hub_stores.acked_up` is
skipped by `protocol.receive` before any id lookup, so a pruned row is never needed by
a live link. Kept, whatever their age:

* a `hub_outbox` row above the store's `down_acked` (not acknowledged yet);
* a store event above `acked_up`, and every `shift.closed` (the hub's record of the
  store's shifts: `reconcile.resync_payload` reads their numbers after a restore).

Rows go per store in seq order, oldest first, stopping at the first young row, so
what is left is a contiguous tail and the floors below say exactly what is gone.
Each batch is one short transaction holding that store's `hub_stores` row (the lock
the link's apply and an accept take: one row at a time, as the lock order allows).

The floors matter only when HQ accepts a restored store database (both cursors were
reset to 0 there before): the accept now sets `acked_up` to `up_floor`, so events a
restored store resends from below it are skipped by the cursor (their rows may be gone,
so the id lookup could no longer catch them), and above it every applied event still
has its row; and the handshake refuses (4409) a store whose `applied_down` is below
`down_floor`: the hub no longer holds the events it would need.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from app.config import HubConfig
from app.core.clock import utcnow
from app.core.db import Session
from app.hub.db import HubDatabase, write_retrying
from app.hub.models import HubOutbox, HubStore, StoreEventRow

log = logging.getLogger("kirana.hub")
BATCH = 500  # rows per write transaction
PAUSE_SECONDS = 0.05  # between batches: links and pages write in between
EVERY_SECONDS = 3600.0  # a pass an hour
FIRST_AFTER_SECONDS = 60.0
KEPT_KINDS = ("shift.closed",)  # store events the hub keeps for good (module doc)


@dataclass(frozen=True)
class Pruned:
    outbox: int = 0
    events: int = 0


def _when(at: str, received_at: datetime) -> datetime:
    """An event's time as the store wrote it (the store prunes its outbox by the same
    clock, so the hub never keeps less than a backup of the store may ask for); the
    time it arrived if the store's text is not a time with a zone."""
    try:
        when = datetime.fromisoformat(at)
    except (TypeError, ValueError):
        return received_at
    return when if when.tzinfo is not None else received_at


async def up_floor(s: Session, store_id: str, acked_up: int) -> int:
    """The highest store -> hub seq whose event row may have been pruned: rows above it
    are all still here. `acked_up` when no prunable row is left (all went)."""
    first = await s.scalar(select(func.min(StoreEventRow.seq)).where(
        StoreEventRow.store_id == store_id, StoreEventRow.kind.not_in(KEPT_KINDS)))
    return acked_up if first is None else min(int(first) - 1, acked_up)


async def down_floor(s: Session, store_id: str, down_seq: int) -> int:
    """The highest hub -> store seq pruned from hub_outbox (0 if none was)."""
    first = await s.scalar(select(func.min(HubOutbox.seq)).where(HubOutbox.store_id == store_id))
    return down_seq if first is None else int(first) - 1


async def prune_events_batch(db: HubDatabase, store_id: str, cutoff: datetime,
                             limit: int = BATCH) -> int:
    """Delete up to `limit` of the store's oldest applied events (not shift.closed)
    written before `cutoff`. Returns how many went."""

    async with db.read() as s:  # most passes find nothing: no write transaction then
        oldest = (await s.execute(
            select(StoreEventRow.at, StoreEventRow.received_at)
            .join(HubStore, HubStore.id == StoreEventRow.store_id)
            .where(StoreEventRow.store_id == store_id, StoreEventRow.seq <= HubStore.acked_up,
                   StoreEventRow.kind.not_in(KEPT_KINDS))
            .order_by(StoreEventRow.seq).limit(1))).first()
    if oldest is None or _when(*oldest) >= cutoff:
        return 0

    async def body(s: Session) -> int:
        store = await s.get(HubStore, store_id, with_for_update=True)
        if store is None:
            return 0
        rows = (await s.execute(
            select(StoreEventRow.id, StoreEventRow.at, StoreEventRow.received_at)
            .where(StoreEventRow.store_id == store_id, StoreEventRow.seq <= store.acked_up,
                   StoreEventRow.kind.not_in(KEPT_KINDS))
            .order_by(StoreEventRow.seq).limit(limit))).all()
        ids = []
        for id_, at, received_at in rows:
            if _when(at, received_at) >= cutoff:
                break
            ids.append(id_)
        if ids:
            await s.execute(delete(StoreEventRow).where(StoreEventRow.id.in_(ids)))
        return len(ids)

    return await write_retrying(db, body)


async def prune_outbox_batch(db: HubDatabase, store_id: str, cutoff: datetime,
                             limit: int = BATCH) -> int:
    """Delete up to `limit` of the store's oldest hub -> store events it acknowledged
    and that were made before `cutoff`. Returns how many went."""

    async with db.read() as s:
        oldest = await s.scalar(
            select(HubOutbox.at).join(HubStore, HubStore.id == HubOutbox.store_id)
            .where(HubOutbox.store_id == store_id, HubOutbox.seq <= HubStore.down_acked)
            .order_by(HubOutbox.seq).limit(1))
    if oldest is None or oldest >= cutoff:
        return 0

    async def body(s: Session) -> int:
        store = await s.get(HubStore, store_id, with_for_update=True)
        if store is None:
            return 0
        rows = (await s.execute(
            select(HubOutbox.seq, HubOutbox.at)
            .where(HubOutbox.store_id == store_id, HubOutbox.seq <= store.down_acked)
            .order_by(HubOutbox.seq).limit(limit))).all()
        old = 0
        for _seq, at in rows:
            if at >= cutoff:
                break
            old += 1
        if old:
            await s.execute(delete(HubOutbox).where(
                HubOutbox.store_id == store_id,
                HubOutbox.seq.between(rows[0][0], rows[old - 1][0])))
        return old

    return await write_retrying(db, body)


async def prune(db: HubDatabase, retention_days: int, *, now: datetime | None = None,
                limit: int = BATCH, pause: float = PAUSE_SECONDS) -> Pruned:
    """One pass over every store (inactive ones too): batches until nothing more is old
    enough. Returns the rows deleted."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    async with db.read() as s:
        store_ids = list(await s.scalars(select(HubStore.id).order_by(HubStore.id)))
    outbox = events = 0
    for store_id in store_ids:
        for batch in (prune_outbox_batch, prune_events_batch):
            while True:
                done = await batch(db, store_id, cutoff, limit)
                if batch is prune_outbox_batch:
                    outbox += done
                else:
                    events += done
                if done < limit:
                    break
                await asyncio.sleep(pause)
        await asyncio.sleep(0)
    return Pruned(outbox=outbox, events=events)


class HubPruner:
    """The hub's background task: a pass every EVERY_SECONDS in every hub process (two
    processes pruning at once delete the same rows under the same row lock: harmless)."""

    def __init__(self, db: HubDatabase, cfg: HubConfig, *, every: float = EVERY_SECONDS,
                 first_after: float = FIRST_AFTER_SECONDS) -> None:
        self.db, self.cfg = db, cfg
        self.every, self.first_after = every, first_after
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hub-sync-pruning")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 5)

    async def _run(self) -> None:
        await asyncio.sleep(self.first_after)
        while True:
            try:
                done = await prune(self.db, self.cfg.sync.retention_days)
                if done.outbox or done.events:
                    log.info("sync retention: deleted %d hub_outbox and %d store event rows "
                             "older than %d days", done.outbox, done.events,
                             self.cfg.sync.retention_days)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hub sync retention pass failed; trying again later")
            await asyncio.sleep(self.every)
