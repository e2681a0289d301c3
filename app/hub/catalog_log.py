"""The shared catalogue log (issue #24): the catalogue's fan-out as one ordered log for
all stores, each store with its own cursor, instead of a copy of every change in every
store's stream (a 100,000-product import to 1,000 stores was 100 million outbox rows).

* One row per product (`hub_catalog_log`, key "product:<sku>") holding its newest
  `product.upserted` and a seq; likewise one per chain promotion ("promotion:<id>",
  `promotion.upserted`: an offer is the same for every store, its coupon's allowance is
  not and goes in each store's stream). A change replaces the row under a higher seq: the log
  is compacted by key, so it never grows past the catalogue, and read from 0 it IS a
  snapshot of the catalogue (a new store, or one far behind, gets exactly that).
* Seqs come from one counter row (`hub_catalog_head`) bumped with UPDATE ... RETURNING
  in the writer's transaction: its row lock orders catalogue writers, so seqs follow
  commit order and a reader at cursor C never misses an entry committed later below C.
  The newest entry always holds the head's seq (only a higher one replaces it), so a
  store is caught up exactly when its cursor reaches the head.
* A v3 store reads the log in `catalog` frames (app/sync/protocol.py) from its
  `applied_catalog`; the frames for one (cursor, head) are read and encoded once per hub
  process and sent to every store at that cursor (`CatalogFrames`).
* An older store (protocol 1 or 2) cannot read the log: while it is connected its link
  copies the log's new entries into its own stream (`copy_to_stream`, cursor
  `hub_stores.catalog_copied`), as the hub did for every store before.
"""

from __future__ import annotations

import asyncio
import collections
import math
from typing import Any

import msgspec
from sqlalchemy import select, update

from app.core.clock import utcnow
from app.core.db import Session
from app.core.ids import uuid7
from app.hub.db import HubDatabase, rows_of, upsert, write_retrying
from app.hub.events import CatalogHasNews, raise_event
from app.hub.models import HubCatalogEntry, HubCatalogHead, HubStore
from app.sync import protocol as p

_json = msgspec.json.Encoder()
READ_LIMIT = p.MAX_EVENTS_PER_FRAME * 4  # entries one read may bring (4 frames)
_CHUNK = 1000  # rows per INSERT ... ON CONFLICT statement


def product_key(sku: str) -> str:
    return f"product:{sku}"


def promotion_key(promotion_id: str) -> str:
    return f"promotion:{promotion_id}"


async def append(s: Session, entries: list[tuple[str, str, dict]]) -> int:
    """Write (key, kind, data) entries, in order, in the caller's transaction: each key's
    row takes a new seq (a key given twice keeps its last data). Returns the new head."""
    latest: dict[str, tuple[str, dict]] = {}
    for key, kind, data in entries:
        if kind not in p.CATALOG_KINDS:
            raise ValueError(f"{kind!r} is not a catalogue-log kind")
        latest.pop(key, None)  # re-inserted at the end: the order is the last write's
        latest[key] = (kind, data)
    if not latest:
        return await head(s)
    last = int((await rows_of(s, _BUMP_HEAD, {"n": len(latest)}))[0][0])
    seq = last - len(latest)
    now = utcnow()
    rows = []
    for key, (kind, data) in latest.items():
        seq += 1
        rows.append({"key": key, "seq": seq, "id": uuid7(), "kind": kind, "at": now,
                     "data": _json.encode(data).decode()})
    table = HubCatalogEntry.__table__
    for i in range(0, len(rows), _CHUNK):
        stmt = upsert(s, table).values(rows[i:i + _CHUNK])
        await s.execute(stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={c: stmt.excluded[c] for c in ("seq", "id", "kind", "at", "data")}))
    raise_event(s, CatalogHasNews())
    return last


_BUMP_HEAD = "UPDATE hub_catalog_head SET seq = seq + :n WHERE id = 1 RETURNING seq"


async def head(s: Session) -> int:
    """The log's last seq (0: empty)."""
    return int(await s.scalar(select(HubCatalogHead.seq).where(HubCatalogHead.id == 1)) or 0)


async def entries_after(s: Session, after: int, upto: int | None = None,
                        limit: int = READ_LIMIT) -> list[p.Event]:
    """Log entries past `after` (up to `upto`), oldest first."""
    stmt = (select(HubCatalogEntry.seq, HubCatalogEntry.id, HubCatalogEntry.kind,
                   HubCatalogEntry.at, HubCatalogEntry.data)
            .where(HubCatalogEntry.seq > after).order_by(HubCatalogEntry.seq).limit(limit))
    if upto is not None:
        stmt = stmt.where(HubCatalogEntry.seq <= upto)
    return [p.Event(seq=seq, id=id_, kind=kind, at=at.isoformat(),
                    data=msgspec.json.decode(data))
            for seq, id_, kind, at, data in (await s.execute(stmt)).all()]


async def read(db: HubDatabase, after: int = 0, limit: int = READ_LIMIT) -> list[p.Event]:
    async with db.read() as s:
        return await entries_after(s, after, limit=limit)


async def copy_to_stream(db: HubDatabase, store_id: str, upto: int) -> int:
    """For a store on protocol 1 or 2, from its link: copy one read of the log's entries
    past the store's `catalog_copied` (up to `upto`) into its own stream. Returns how
    far the log is now copied (service.copy_catalogue_into_stream)."""
    from app.hub import service  # (service imports this module)

    async def body(s: Session) -> int:
        return await service.copy_catalogue_into_stream(s, store_id, upto, reads=1)

    return await write_retrying(db, body)


async def save_acks(db: HubDatabase, acked: dict[str, int]) -> None:
    """The v3 stores' catalogue acks, in one transaction (the links' heartbeat)."""
    if not acked:
        return

    async def body(s: Session) -> None:
        for store_id in sorted(acked):  # hub_stores rows in id order, like every writer
            await s.execute(update(HubStore).where(HubStore.id == store_id,
                                                   HubStore.catalog_acked < acked[store_id])
                            .values(catalog_acked=acked[store_id]))

    await write_retrying(db, body)


class CatalogFrames:
    """The `catalog` frames from a cursor up to a head, read and encoded once per hub
    process and shared by every link at that cursor (in a fan-out every store starts at
    the same cursor, so a thousand links cost one read and one encoding per frame, not a
    thousand). A few (cursor, head) pairs are kept; a request already being read waits
    for that read instead of starting another."""

    def __init__(self, db: HubDatabase, keep: int = 16) -> None:
        self.db, self.keep = db, keep
        self._cache: collections.OrderedDict[tuple[int, int], asyncio.Future[Any]] = (
            collections.OrderedDict())
        self.reads = 0  # database reads made (for tests and the bench)
        self._head: asyncio.Future[int] | None = None  # the latest read of the head
        self._head_started = -math.inf  # loop time that read began
        self.head_reads = 0

    async def head(self, since: float) -> int:
        """The log's head as read by a statement begun at or after loop time `since`
        (so it sees every commit before then); links woken together share one read."""
        future = self._head
        if future is None or self._head_started < since or (
                future.done() and (future.cancelled() or future.exception() is not None)):
            self._head_started = asyncio.get_running_loop().time()
            future = self._head = asyncio.ensure_future(self._read_head())
        return await asyncio.shield(future)

    async def _read_head(self) -> int:
        self.head_reads += 1
        async with self.db.read() as s:
            return await head(s)

    async def frames(self, after: int, upto: int) -> tuple[tuple[str, int], ...]:
        """(frame text, its last seq) for up to READ_LIMIT entries past `after`."""
        key = (after, upto)
        future = self._cache.get(key)
        if future is None and (tail := self._tail(after, upto)):
            return tail
        if future is None:
            future = asyncio.ensure_future(self._read(after, upto))
            self._cache[key] = future
            while len(self._cache) > self.keep:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        try:
            return await asyncio.shield(future)
        except Exception:
            if self._cache.get(key) is future:
                del self._cache[key]  # a failed read is not kept
            raise

    def _tail(self, after: int, upto: int) -> tuple[tuple[str, int], ...]:
        """The rest of a kept read that has a frame ending at `after`: a link whose window
        let it send only part of a read goes on with the same frames as the others, so
        the links of a fan-out stay on the same reads."""
        for (_first, head), future in self._cache.items():
            if (head != upto or not future.done() or future.cancelled()
                    or future.exception() is not None):
                continue
            frames = future.result()
            for i, (_text, last) in enumerate(frames[:-1]):
                if last == after:
                    return frames[i + 1:]
        return ()

    async def _read(self, after: int, upto: int) -> tuple[tuple[str, int], ...]:
        self.reads += 1
        async with self.db.read() as s:
            entries = await entries_after(s, after, upto)
        return tuple((p.encode(frame).decode(), frame.events[-1].seq)
                     for frame in p.catalog_frames(after, entries, head=upto))
