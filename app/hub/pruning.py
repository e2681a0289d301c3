"""Retention at the hub: `hub_outbox` rows a store acknowledged are deleted once older
than `sync.retention_days` (docs/sync-protocol.md "Retention").

Exactly-once rests on the cursors: a hub -> store event at or below the store's
`applied_down` is skipped by the store before any lookup, so a pruned row is never
needed by a live link. A row above `down_acked` (not acknowledged yet) is kept whatever
its age. Rows go per store in seq order, oldest first, stopping at the first young row,
so what is left is a contiguous tail and `down_floor` says exactly what is gone (the
handshake refuses, 4409, a restored store that lacks pruned events).

`hub_store_events` is not pruned: it is the hub's record of every event a store sent,
by id, which is what lets HQ accept a restored store database. After the accept the
store sends again what its backup holds, under the same ids, and the events it makes
afterwards reuse the seqs the hub already had from it, under new ids: only the id tells
them apart. A cursor "floor" cannot (an earlier version set the cursor to the highest
pruned seq and so skipped a restored store's new events with those seqs). Each batch is
one short transaction holding that store's `hub_stores` row (the lock the link takes).
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
from app.hub import event_partitions
from app.hub.db import HubDatabase, write_retrying
from app.hub.models import HubOutbox, HubStore

log = logging.getLogger("kirana.hub")
BATCH = 500  # rows per write transaction
PAUSE_SECONDS = 0.05  # between batches: links and pages write in between
EVERY_SECONDS = 3600.0  # a pass an hour
FIRST_AFTER_SECONDS = 60.0


@dataclass(frozen=True)
class Pruned:
    outbox: int = 0


async def down_floor(s: Session, store_id: str, down_seq: int) -> int:
    """The highest hub -> store seq pruned from hub_outbox (0 if none was)."""
    first = await s.scalar(select(func.min(HubOutbox.seq)).where(HubOutbox.store_id == store_id))
    return down_seq if first is None else int(first) - 1


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
    outbox = 0
    for store_id in store_ids:
        while True:
            done = await prune_outbox_batch(db, store_id, cutoff, limit)
            outbox += done
            if done < limit:
                break
            await asyncio.sleep(pause)
        await asyncio.sleep(0)
    return Pruned(outbox=outbox)


class HubPruner:
    """The hub's background task: a pass every EVERY_SECONDS in every hub process (two
    processes pruning at once delete the same rows under the same row lock: harmless).
    Each pass first makes the coming months' partitions of hub_store_events
    (app/hub/event_partitions.py; PostgreSQL only)."""

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
            try:  # next months' partitions of hub_store_events (PostgreSQL)
                await event_partitions.ensure(self.db)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("making hub_store_events' next partitions failed; trying "
                              "again later (this month's and up to 3 ahead are made)")
            try:
                done = await prune(self.db, self.cfg.sync.retention_days)
                if done.outbox:
                    log.info("sync retention: deleted %d hub_outbox rows older than %d days",
                             done.outbox, self.cfg.sync.retention_days)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hub sync retention pass failed; trying again later")
            await asyncio.sleep(self.every)
