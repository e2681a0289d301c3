"""Retention at the store: acknowledged `outbox` rows and `sync_inbox` rows are deleted
once older than `sync.retention_days` (docs/sync-protocol.md "Retention").

Exactly-once rests on the cursors, never on these rows: the hub skips store events at
or below its `acked_up`, this store skips hub events at or below `applied_down`
(`protocol.receive`, before anything else). So a pruned row is never needed again:

* an outbox row is deleted only at or below `sync_state.acked_up` (the hub has it;
  an unacknowledged row stays whatever its age), and never the newest row: its seq
  is what `link_figures` reports and what SQLite's next rowid follows (the table has
  no AUTOINCREMENT), so a seq is never handed out twice;
* an inbox row is deleted only at or below `applied_down` (nothing reads it back);
* rows go in seq order, oldest first, stopping at the first young row, so what is
  left is always a contiguous tail (the hub's floor after an accepted restore relies
  on that: app/hub/pruning.py);
* the outbox keeps `KEEP_MARGIN` past the retention window, so a backup of this
  store never lacks an event the hub still holds (see the accept in the docs).

Batches of `BATCH` rows, each its own short write transaction found by a read first
(the writer lock is held for one DELETE by seq range), with a pause between them so a
sale never waits for more than one batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from app.config import StoreConfig
from app.core.clock import utcnow
from app.core.db import Database, rowcount
from app.sync.models import InboxEvent, OutboxEvent, SyncState

log = logging.getLogger("kirana.sync")
BATCH = 500  # rows per write transaction
PAUSE_SECONDS = 0.05  # between batches: the tills take the writer lock in between
EVERY_SECONDS = 3600.0  # a pass an hour
FIRST_AFTER_SECONDS = 60.0  # the first pass a minute after start, not during it
KEEP_MARGIN = timedelta(days=1)  # the outbox is kept this much longer (module doc)


@dataclass(frozen=True)
class Pruned:
    outbox: int = 0
    inbox: int = 0


def _prefix(rows: list[tuple[int, datetime]], cutoff: datetime) -> tuple[int, int] | None:
    """(first seq, last seq) of the leading rows older than `cutoff`, or None."""
    last = None
    for seq, at in rows:
        if at >= cutoff:
            break
        last = seq
    return None if last is None else (rows[0][0], last)


async def prune_outbox_batch(db: Database, cutoff: datetime, limit: int = BATCH) -> int:
    """Delete up to `limit` of the oldest outbox rows the hub acknowledged and written
    before `cutoff` (never the newest row). Returns how many went."""
    async with db.read() as s:
        acked = await s.scalar(select(SyncState.acked_up).where(SyncState.id == 1)) or 0
        newest = await s.scalar(select(func.max(OutboxEvent.seq))) or 0
        rows = [(int(seq), at) for seq, at in (await s.execute(
            select(OutboxEvent.seq, OutboxEvent.at)
            .where(OutboxEvent.seq <= acked, OutboxEvent.seq < newest)
            .order_by(OutboxEvent.seq).limit(limit))).all()]
    span = _prefix(rows, cutoff)
    if span is None:
        return 0
    async with db.write() as s:
        # The bounds again inside the write: acked_up and the newest seq only grow, so
        # this only guards against a database swapped under a running server.
        result = await s.execute(delete(OutboxEvent).where(
            OutboxEvent.seq.between(*span),
            OutboxEvent.seq <= select(SyncState.acked_up).where(SyncState.id == 1)
            .scalar_subquery(),
            OutboxEvent.seq < select(func.max(OutboxEvent.seq)).scalar_subquery()))
        return rowcount(result)


async def prune_inbox_batch(db: Database, cutoff: datetime, limit: int = BATCH) -> int:
    """Delete up to `limit` of the oldest inbox rows applied before `cutoff`."""
    async with db.read() as s:
        applied = await s.scalar(select(SyncState.applied_down).where(SyncState.id == 1)) or 0
        rows = [(int(seq), at) for seq, at in (await s.execute(
            select(InboxEvent.seq, InboxEvent.applied_at)
            .where(InboxEvent.seq <= applied)
            .order_by(InboxEvent.seq).limit(limit))).all()]
    span = _prefix(rows, cutoff)
    if span is None:
        return 0
    async with db.write() as s:
        result = await s.execute(delete(InboxEvent).where(
            InboxEvent.seq.between(*span),
            InboxEvent.seq <= select(SyncState.applied_down).where(SyncState.id == 1)
            .scalar_subquery()))
        return rowcount(result)


async def prune(db: Database, retention_days: int, *, now: datetime | None = None,
                limit: int = BATCH, pause: float = PAUSE_SECONDS) -> Pruned:
    """One pass: batches until nothing more is old enough. Returns the rows deleted."""
    now = now or utcnow()
    window = timedelta(days=retention_days)
    counts = []
    for batch, cutoff in ((prune_outbox_batch, now - window - KEEP_MARGIN),
                          (prune_inbox_batch, now - window)):
        total = 0
        while True:
            done = await batch(db, cutoff, limit)
            total += done
            if done < limit:
                break
            await asyncio.sleep(pause)  # let the tills in between batches
        counts.append(total)
    return Pruned(outbox=counts[0], inbox=counts[1])


class StorePruner:
    """The store server's background task: a pass every EVERY_SECONDS."""

    def __init__(self, db: Database, cfg: StoreConfig, *, every: float = EVERY_SECONDS,
                 first_after: float = FIRST_AFTER_SECONDS) -> None:
        self.db, self.cfg = db, cfg
        self.every, self.first_after = every, first_after
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sync-pruning")

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
                if done.outbox or done.inbox:
                    log.info("sync retention: deleted %d outbox and %d inbox rows older "
                             "than %d days", done.outbox, done.inbox,
                             self.cfg.sync.retention_days)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sync retention pass failed; trying again later")
            await asyncio.sleep(self.every)
