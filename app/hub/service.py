"""Hub use cases: the store registry, the hub -> store outbox, applying store events,
and the views HQ looks at (central stock, store health, sales).

Every function that changes something takes the caller's transaction `s` or opens
exactly one; hub -> store events are written in the same transaction as the change
they announce (`enqueue`), like the store's outbox.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.catalog import rules
from app.catalog.barcodes import MeasureRule
from app.catalog.models import Barcode, Product
from app.core.clock import utcnow
from app.core.db import Session
from app.core.geo import point_problem
from app.core.i18n import _
from app.core.ids import uuid7
from app.core.security import hash_token
from app.hub import catalog_log, reconcile
from app.hub.db import HubDatabase, Raw, insert_rows, rows_of, upsert, write_retrying
from app.hub.events import StoresHaveNews, raise_event, uow_of
from app.hub.models import (
    HubChannel,
    HubOutbox,
    HubReservation,
    HubSale,
    HubSetting,
    HubStockLevel,
    HubStore,
    HubStoreLink,
    HubStoreOrder,
    StoreEventRow,
)
from app.hub.wake import CHANNEL as WAKE_CHANNEL
from app.hub.wake import down_topic, notify_in_commits
from app.orders.states import holds_reservation
from app.sync.protocol import HUB_TO_STORE, Event

log = logging.getLogger("kirana.hub")

_json = msgspec.json.Encoder()


class HubError(ValueError):
    """A request the hub refuses, with a message for the person who made it."""


class UnknownStore(HubError):
    """No store has this id (a 404, not a refusal)."""


# --- registry ------------------------------------------------------------------------

STORE_ID = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")
PINCODE = re.compile(r"^[1-9][0-9]{5}$")


def parse_pincodes(text: str | list[str]) -> list[str]:
    items = text if isinstance(text, list) else re.split(r"[\s,]+", text)
    codes = [c.strip() for c in items if c.strip()]
    bad = [c for c in codes if not PINCODE.match(c)]
    if bad:
        raise HubError(_("%(code)r is not a 6-digit PIN code") % {"code": bad[0]})
    return sorted(set(codes))


@dataclass(frozen=True)
class NewStore:
    store: HubStore
    token: str  # shown once; only its hash is kept


async def add_store(db: HubDatabase, store_id: str, *, name: str, kind: str, lat: float,
                    lon: float, pincodes: str | list[str] = "", priority: int = 0,
                    pickers: int = 2) -> NewStore:
    """Register a store: it gets the catalogue from the shared catalogue log."""
    store_id = store_id.strip().upper()
    if not STORE_ID.match(store_id):
        raise HubError(_("store id: a letter, then up to 7 letters or digits (like S1 or D2)"))
    if kind not in ("counter", "darkstore"):
        raise HubError(_("kind must be counter or darkstore"))
    if problem := point_problem(lat, lon):
        raise HubError(problem)
    if not name.strip():
        raise HubError(_("a store needs a name"))
    if not 1 <= pickers <= 500:
        raise HubError(_("pickers must be between 1 and 500"))
    codes = parse_pincodes(pincodes)
    token = "kst_" + secrets.token_urlsafe(32)

    async def register(s: Session) -> HubStore:
        from app.hub import promotions  # (promotions.py imports this module)

        # Store rows in id order, then the chain-offers lock (HQ's create/end order): an
        # offer being made meanwhile is waited for and heard (issue #21 review, item 3).
        await s.execute(select(HubStore.id).order_by(HubStore.id).with_for_update())
        await promotions.lock_chain_offers(s)
        if await s.get(HubStore, store_id) is not None:
            raise HubError(_("store %(store)s is already registered (use rotate-token for a "
                             "new token)") % {"store": store_id})
        store = HubStore(id=store_id, name=name.strip()[:80], kind=kind, lat=lat, lon=lon,
                         pincodes=",".join(codes), priority=priority, pickers=pickers,
                         active=True,
                         token_hash=hash_token(token), created_at=utcnow(), acked_up=0,
                         down_seq=0, down_acked=0, version="", alert="", rejected_link="")
        s.add(store)
        await s.flush()
        # The catalogue is not copied for it: it reads the shared catalogue log from 0
        # (issue #24: catalog_log.py), or, on protocol 1 or 2, its link copies the log
        # into its stream while connected (catalog_copied starts at 0).
        names = await _channel_names(s)
        if names:
            await enqueue(s, [store_id], [("hub.channels", {"channels": names})])
        await promotions.send_all_to(s, store_id)  # running chain offers (issue #21)
        return store

    return NewStore(await write_retrying(db, register), token)


async def update_store(db: HubDatabase, store_id: str, *, pincodes: str | None = None,
                       priority: int | None = None, pickers: int | None = None,
                       active: bool | None = None) -> HubStore:
    """Change what routing knows about a store (its area, preference, capacity)."""
    async with db.write() as s:
        store = await s.get(HubStore, store_id.upper())
        if store is None:
            raise HubError(_("no store %(store)s") % {"store": store_id})
        if pincodes is not None:
            store.pincodes = ",".join(parse_pincodes(pincodes))
        if priority is not None:
            store.priority = priority
        if pickers is not None:
            if not 1 <= pickers <= 500:
                raise HubError(_("pickers must be between 1 and 500"))
            store.pickers = pickers
        if active is not None:
            store.active = active
    return store


async def rotate_token(db: HubDatabase, store_id: str) -> str:
    token = "kst_" + secrets.token_urlsafe(32)
    async with db.write() as s:
        store = await s.get(HubStore, store_id)
        if store is None:
            raise HubError(_("no store %(store)s") % {"store": store_id})
        store.token_hash = hash_token(token)
    return token


async def store_for_token(db: HubDatabase, token: str) -> HubStore | None:
    if not token:
        return None
    async with db.read() as s:
        store = await s.scalar(select(HubStore).where(HubStore.token_hash == hash_token(token)))
    return store if store is not None and store.active else None


async def accept_store_database(db: HubDatabase, store_id: str, *,
                                offline_after: timedelta = timedelta(seconds=60),
                                epoch: str | None = None) -> None:
    """After a 4409 alert: trust the store's database as it is now. The store then
    resends its whole outbox (events the hub already has are skipped by id) and the
    hub resends from whatever the store says it applied.

    Refused while the store has a live, healthy link: the refused connection then came
    from somewhere else (a stray copy of the token), and accepting its database would
    cut off the real store. `epoch` (from the page) must still be the refused one."""
    now = utcnow()
    async with db.write() as s:
        store = await s.get(HubStore, store_id, with_for_update=True)
        if store is None:
            raise UnknownStore(_("no store %(store)s") % {"store": store_id})
        if epoch is not None and epoch != (store.rejected_epoch or ""):
            raise HubError(_("another connection of %(store)s was refused since this page "
                             "was loaded: look at the alert again before accepting")
                           % {"store": store_id})
        live = (await live_links(s, now, offline_after, [store_id])).get(store_id, [])
        if live:
            link = live[0]
            raise HubError(
                _("%(store)s is connected right now with the database the hub knows (from "
                  "%(address)s, %(version)s, since %(since)s UTC). The refused connection came "
                  "from somewhere else: accepting it would cut off the real store. Find the "
                  "other device, or rotate the store's token; if the store itself was just "
                  "replaced, accept once its old link has gone offline.")
                % {"store": store_id, "address": link.address or _("an unknown address"),
                   "version": link.version or _("unknown version"),
                   "since": f"{link.connected_at:%H:%M}"})
        store.epoch = store.rejected_epoch or store.epoch
        store.rejected_epoch = None
        store.rejected_link = ""
        # Back to 0: the restored store resends what it has and the hub skips, by event
        # id, what it applied before (hub_store_events is never pruned for that reason);
        # a v2 store's hello moves the cursor up to its oldest outbox row (its events
        # below it were acknowledged, so applied). docs/sync-protocol.md "Retention".
        store.acked_up = 0
        store.down_acked = 0
        store.catalog_acked = 0  # its catalogue cursor, whatever it is, is taken as it is
        store.alert, store.alert_at = "", None
        # Make the hub equal to the store again (its levels, its numbers): see reconcile.
        await enqueue(s, [store_id], [("store.resync", await reconcile.resync_payload(
            s, store_id))])


@dataclass(frozen=True)
class RefusedLink:
    """What the hub knows of a connection it refused with 4409."""

    address: str
    version: str
    epoch: str
    applied_down: int

    def as_text(self, at: datetime) -> str:
        return _json.encode({"address": self.address, "version": self.version,
                             "epoch": self.epoch, "applied_down": self.applied_down,
                             "at": at.isoformat()}).decode()


async def raise_alert(db: HubDatabase, store_id: str, message: str,
                      refused: RefusedLink | None = None) -> None:
    """Show `message` on the Stores page (its first time stays, a repeat refreshes
    the refused connection's details)."""
    now = utcnow()
    async with db.write() as s:
        store = await s.get(HubStore, store_id, with_for_update=True)
        if store is None:
            return
        if store.alert != message[:300] or store.alert_at is None:
            store.alert, store.alert_at = message[:300], now
        if refused is not None:
            store.rejected_epoch = refused.epoch
            store.rejected_link = refused.as_text(now)


# --- liveness: one row per live connection -------------------------------------------
#
# hub_store_links rows are written only by the hub process holding the connection: at
# the handshake, by that process's heartbeat, and deleted at close. So the heartbeat
# never locks hub_stores rows (which catalogue fan-out and routing lock, in id order),
# and a stray second connection with the store's token cannot mark the store offline
# or overwrite its version when it closes.

LINK_ROWS_KEPT = timedelta(days=1)  # a dead process's rows, for "offline since"


def is_online(last_seen_at: datetime | None, now: datetime, offline_after: timedelta) -> bool:
    """A link is live while it was seen lately: a hub process that died with the socket
    open stops refreshing its rows, and the staleness catches it."""
    return bool(last_seen_at and now - last_seen_at < offline_after)


async def live_links(s: Session, now: datetime, offline_after: timedelta,
                     store_ids: list[str] | None = None) -> dict[str, list[HubStoreLink]]:
    """Each store's live links, oldest first (the first is the established one)."""
    query = select(HubStoreLink).where(HubStoreLink.last_seen_at > now - offline_after)
    if store_ids is not None:
        query = query.where(HubStoreLink.store_id.in_(store_ids))
    out: dict[str, list[HubStoreLink]] = defaultdict(list)
    for link in await s.scalars(query.order_by(HubStoreLink.connected_at, HubStoreLink.id)):
        out[link.store_id].append(link)
    return out


async def online_store_ids(s: Session, now: datetime, offline_after: timedelta) -> set[str]:
    return set(await s.scalars(select(HubStoreLink.store_id).distinct().where(
        HubStoreLink.last_seen_at > now - offline_after)))


async def touch_links(db: HubDatabase, link_ids: list[str]) -> None:
    """The heartbeat of one hub process: refresh its own links' rows, locked in id
    order, and drop rows no process has refreshed for a day (skipping rows someone
    else is deleting, so two processes' heartbeats never wait on each other)."""
    ids = sorted(link_ids)

    async def beat(s: Session) -> None:
        now = utcnow()
        if ids:
            await s.execute(select(HubStoreLink.id).where(HubStoreLink.id.in_(ids))
                            .order_by(HubStoreLink.id).with_for_update())
            await s.execute(update(HubStoreLink).where(HubStoreLink.id.in_(ids))
                            .values(last_seen_at=now))
        stale = list(await s.scalars(
            select(HubStoreLink.id).where(HubStoreLink.last_seen_at < now - LINK_ROWS_KEPT)
            .order_by(HubStoreLink.id).limit(500).with_for_update(skip_locked=True)))
        if stale:
            await s.execute(delete(HubStoreLink).where(HubStoreLink.id.in_(stale)))

    await write_retrying(db, beat)


async def close_link(db: HubDatabase, link: HubStoreLink, offline_after: timedelta) -> None:
    """A connection ended: drop its row; if it was the store's last live link, keep its
    version and the time as the store's last known link facts. Two transactions, so
    the link row's lock is never held while waiting for the store row."""
    async with db.write() as s:
        await s.execute(delete(HubStoreLink).where(HubStoreLink.id == link.id))

    async def remember(s: Session) -> None:
        now = utcnow()
        others = select(HubStoreLink.id).where(
            HubStoreLink.store_id == link.store_id,
            HubStoreLink.last_seen_at > now - offline_after).exists()
        await s.execute(update(HubStore).where(HubStore.id == link.store_id, ~others)
                        .values(last_seen_at=now, version=link.version))

    await write_retrying(db, remember)


# --- hub -> store outbox -------------------------------------------------------------


CHANNELS_TOLD = "channels_told"  # hub_settings: the channel list last sent to every store


async def _channel_names(s: Session) -> list[str]:
    return sorted(await s.scalars(select(HubChannel.name)))


async def announce_channels(s: Session) -> tuple[str, ...]:
    """Send every store the hub's channel names (`hub.channels`, the whole list) if they
    changed since the last time: a store refuses API keys posting under them, so no one
    at a store can pass an order off as the hub's (issue #13 item 1). Called when a
    channel is added and when a hub process starts. Returns the stores to wake."""
    names = await _channel_names(s)
    told = _json.encode(names).decode()
    row = await s.get(HubSetting, CHANNELS_TOLD)
    if row is not None and row.value == told:
        return ()
    # A hub that never had a channel has nothing to tell: a store knows no hub channel
    # until told (and add_store tells a new store the list there is).
    stores = sorted(await s.scalars(select(HubStore.id))) if names or row is not None else []
    await enqueue(s, stores, [("hub.channels", {"channels": names})])
    stmt = upsert(s, HubSetting.__table__).values(key=CHANNELS_TOLD, value=told,
                                                  updated_at=utcnow(), updated_by="hub")
    # Two hub processes starting together may both tell: harmless (the whole list twice).
    await s.execute(stmt.on_conflict_do_update(
        index_elements=["key"], set_={"value": stmt.excluded.value,
                                      "updated_at": stmt.excluded.updated_at}))
    return tuple(stores)


async def enqueue(s: Session, store_ids: list[str], events: list[tuple[str, dict]]) -> None:
    """Append events to each store's stream, seqs consecutive per store. The seq counter
    is bumped with UPDATE ... RETURNING, which also locks the store row on PostgreSQL,
    so two hub processes never hand out the same seq; rows are taken in id order, like
    every other multi-row lock on hub_stores."""
    if not events or not store_ids:
        return
    for kind, _data in events:
        if kind not in HUB_TO_STORE:
            raise ValueError(f"{kind!r} is not a hub -> store event")
    now = utcnow()
    encoded = [(kind, _json.encode(data).decode()) for kind, data in events]
    # Core statements (issue #15: the ORM's per-statement work was a tenth of an order's
    # intake): what the session holds is written first, and a store row it has loaded
    # learns its new seq.
    await s.flush()
    raw = await Raw.of(s)
    at_once = raw is not None and raw.dialect == "postgresql"
    notify = at_once and notify_in_commits()
    targets = sorted(set(store_ids))  # hub_stores rows are always locked in id order
    for store_id in targets:
        await _append(s, store_id, encoded, now, at_once=at_once, notify=notify)
    if notify:  # (the statement NOTIFYed their links: heard at COMMIT)
        uow_of(s).notified.update(store_ids)
    raise_event(s, StoresHaveNews(tuple(targets)))  # woken after commit


_OLDER_PROTOCOLS = (1, 2)  # stores that cannot read the catalogue log (sync protocol 3)


async def _append(s: Session, store_id: str, encoded: list[tuple[str, str]],
                  now: datetime, *, at_once: bool, notify: bool) -> None:
    """Write encoded (kind, data) events at the end of one store's stream. `at_once`
    (PostgreSQL, its transaction begun): the seqs and the rows in one statement, which
    NOTIFYs the store's link too when `notify`."""
    if at_once:  # one round trip: the seqs and the rows in one statement
        last = int((await rows_of(s, _BUMP_AND_WRITE_PG if notify else _BUMP_AND_WRITE_QUIET_PG, {
            "store_id": store_id, "n": len(encoded), "at": now,
            "ids": [uuid7() for _ in encoded], "kinds": [kind for kind, _ in encoded],
            "data": [data for _, data in encoded]}))[0][0])
    else:
        last = int((await rows_of(s, _BUMP_SEQ, {"store_id": store_id,
                                                 "n": len(encoded)}))[0][0])
        first = last - len(encoded) + 1
        await insert_rows(s, HubOutbox.__table__, [
            {"store_id": store_id, "seq": first + i, "id": uuid7(), "kind": kind,
             "at": now, "data": data} for i, (kind, data) in enumerate(encoded)])
    row = s.sync_session.identity_map.get(identity_key(HubStore, store_id))
    if row is not None:
        set_committed_value(row, "down_seq", last)


async def copy_catalogue_into_stream(s: Session, store_id: str, upto: int | None = None,
                                     *, reads: int | None = None) -> int:
    """For a store on protocol 1 or 2: copy the catalogue log's entries past its
    `catalog_copied` (up to `upto`, default the head) into its own stream, under its
    row's lock, in at most `reads` reads of catalog_log.READ_LIMIT (None: all). Returns
    how far the log is now copied into the stream."""
    copied = await s.scalar(select(HubStore.catalog_copied).where(HubStore.id == store_id)
                            .with_for_update())
    if copied is None:
        return 0
    start = copied = int(copied)
    upto = await catalog_log.head(s) if upto is None else upto
    raw = await Raw.of(s)  # (begun: the SELECT above)
    at_once = raw is not None and raw.dialect == "postgresql"
    now, done = utcnow(), 0
    while copied < upto and (reads is None or done < reads):
        entries = await catalog_log.entries_after(s, copied, upto)
        done += 1
        if entries:
            await _append(s, store_id, [(e.kind, _json.encode(e.data).decode())
                                        for e in entries], now, at_once=at_once, notify=False)
            raise_event(s, StoresHaveNews((store_id,)))  # its link woken after commit
        copied = entries[-1].seq if len(entries) == catalog_log.READ_LIMIT else upto
    if copied != start:
        await s.execute(update(HubStore).where(HubStore.id == store_id)
                        .values(catalog_copied=copied))
        row = s.sync_session.identity_map.get(identity_key(HubStore, store_id))
        if row is not None:
            set_committed_value(row, "catalog_copied", copied)
    return copied


_BUMP_SEQ = ("UPDATE hub_stores SET down_seq = down_seq + :n WHERE id = :store_id "
             "RETURNING down_seq")
# PostgreSQL (issue #15): the bump and the store's new outbox rows in one statement, one
# round trip instead of two; the rows take the seqs the bump handed out, in list order.
# The bump also NOTIFYs the store's link topic (wake.py): PostgreSQL delivers it to every
# hub process's LISTEN at COMMIT and drops it on a rollback, so the wake-up costs no round
# trip of its own after the commit (it was one more per placed order).
_BUMP_AND_WRITE_PG = (
    "WITH b AS (UPDATE hub_stores SET down_seq = down_seq + :n WHERE id = :store_id "
    f"RETURNING down_seq, pg_notify('{WAKE_CHANNEL}', '{down_topic('')}' || id)) "
    "INSERT INTO hub_outbox (store_id, seq, id, kind, at, data) "
    "SELECT :store_id, b.down_seq - :n + u.i, u.id, u.kind, :at, u.data FROM b, "
    "unnest(CAST(:ids AS text[]), CAST(:kinds AS text[]), CAST(:data AS text[])) "
    "WITH ORDINALITY AS u(id, kind, data, i) RETURNING (SELECT down_seq FROM b)")
# The same without the NOTIFY, while PostgreSQL's notification queue is full (wake.py).
_BUMP_AND_WRITE_QUIET_PG = _BUMP_AND_WRITE_PG.replace(
    f", pg_notify('{WAKE_CHANNEL}', '{down_topic('')}' || id)", "")


async def pending_down(db: HubDatabase, store_id: str, after: int, limit: int) -> list[Event]:
    """The store's own hub -> store events past `after` (not the catalogue: catalog_log)."""
    return (await pending_down_and_head(db, store_id, after, limit))[0]


async def pending_down_and_head(db: HubDatabase, store_id: str, after: int,
                                limit: int) -> tuple[list[Event], int]:
    """The store's own events past `after` (at most `limit`; 0: none read) and then the
    catalogue log's head, read after them (hub_link sends the log up to that head first,
    so a product an event names always reaches the store before the event)."""
    async with db.read() as s:
        rows = [] if limit <= 0 else (await s.execute(
            select(HubOutbox.seq, HubOutbox.id, HubOutbox.kind, HubOutbox.at, HubOutbox.data)
            .where(HubOutbox.store_id == store_id, HubOutbox.seq > after)
            .order_by(HubOutbox.seq).limit(limit))).all()
        head = await catalog_log.head(s)
    return [Event(seq=seq, id=id_, kind=kind, at=at.isoformat(), data=msgspec.json.decode(data))
            for seq, id_, kind, at, data in rows], head


async def active_store_ids(s: Session) -> list[str]:
    return list(await s.scalars(select(HubStore.id).where(HubStore.active.is_(True))
                                .order_by(HubStore.id)))


# --- catalogue master ----------------------------------------------------------------


def product_payload(p: Product, codes: list[str]) -> dict:
    """What a store needs to sell a product: the `product.upserted` data."""
    return {"sku": p.sku, "name": p.name, "name_local": p.name_local,
            "price_minor": p.price_minor,
            "mrp_minor": p.mrp_minor, "gst_rate_bp": p.gst_rate_bp, "hsn": p.hsn, "unit": p.unit,
            "pack_size": p.pack_size, "category": p.category, "active": p.active,
            "reorder_level": p.reorder_level, "tracks_expiry": p.tracks_expiry,
            "barcodes": sorted(codes), "updated_at": p.updated_at.isoformat()}


async def _codes_for(s: Session, product_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for i in range(0, len(product_ids), 2000):
        part = product_ids[i:i + 2000]
        for code, pid in (await s.execute(select(Barcode.code, Barcode.product_id)
                                          .where(Barcode.product_id.in_(part)))).all():
            out[pid].append(code)
    return out


async def announce_products(s: Session, product_ids: list[str]) -> None:
    """Write `product.upserted` with the product's whole state to the shared catalogue
    log (catalog_log.py; one row per product for all stores, issue #24): call in the
    transaction that changed the products. Retired is a field (`active`), so edits to a
    retired product reach the stores too (the hub no longer sends the bare
    `product.retired`; stores still apply it from older hubs)."""
    if not product_ids:
        return
    products = []
    for i in range(0, len(product_ids), 2000):
        products += list(await s.scalars(select(Product).where(
            Product.id.in_(product_ids[i:i + 2000]))))
    codes = await _codes_for(s, [p.id for p in products])
    await append_to_catalogue_log(s, [
        (catalog_log.product_key(p.sku), "product.upserted", product_payload(p, codes[p.id]))
        for p in sorted(products, key=lambda p: p.sku)])


async def append_to_catalogue_log(s: Session, entries: list[tuple[str, str, dict]]) -> None:
    """Write entries to the shared catalogue log (products, chain promotions) in the
    caller's transaction, and copy them into the streams of stores on protocol 1 or 2,
    which cannot read the log: an event enqueued for such a store after this commit (an
    order naming the product) then comes after the change there too, as it does for a
    v3 store reading its events, then the log's head. (The change pays for it, never a
    placement.) Lock order: those stores' rows in id order, then the log's head row, as
    a promotion writer holding every store row takes it."""
    older = list(await s.scalars(select(HubStore.id).where(
        HubStore.sync_proto.in_(_OLDER_PROTOCOLS)).order_by(HubStore.id).with_for_update()))
    await catalog_log.append(s, entries)
    for store_id in older:
        await copy_catalogue_into_stream(s, store_id)


async def import_catalog_with_progress(db: HubDatabase, parsed: Any, progress: Any,
                                      label: str) -> Any:
    """A catalogue CSV into the hub's master, announced to every store, with a bar."""
    from app.catalog.service import import_catalog

    if progress is None:
        return await import_catalog(db, parsed, after_write=announce_products)
    with progress() as bar:
        task = bar.add_task(label, total=len(parsed.rows))
        return await import_catalog(db, parsed, after_write=announce_products,
                                    progress=lambda d, t: bar.update(task, completed=d, total=t))


ProductEdit = rules.ProductFields  # one product as the hub's form and services give it


async def save_product(db: HubDatabase, edit: ProductEdit,
                       measure_rules: Sequence[MeasureRule] = ()) -> Product:
    """Create or change one product at the hub; every store hears of it. The fields are
    checked by the product rules the CSV imports use (app/catalog/rules.py); the hub's
    barcode rules (`measure_rules`) say which in-store scale-label codes are item codes."""
    try:
        edit = rules.check_product(edit, measure_rules)
    except rules.ProductError as exc:
        raise HubError(str(exc)) from None
    sku, codes = edit.sku, list(edit.barcodes)
    now = utcnow()

    async def save(s: Session) -> Product:
        product = await s.scalar(select(Product).where(Product.sku == sku))
        if codes:
            owners = dict((await s.execute(select(Barcode.code, Product.sku).join(Product)
                                           .where(Barcode.code.in_(codes)))).all())
            clash = next((c for c, owner in owners.items() if owner != sku), None)
            if clash:
                raise HubError(_("barcode %(code)s already belongs to %(sku)s")
                               % {"code": clash, "sku": owners[clash]})
        if product is None:
            product = Product(id=uuid7(), sku=sku)
            s.add(product)
        product.name = edit.name
        product.name_local = edit.name_local
        product.price_minor = edit.price_minor
        product.mrp_minor = edit.mrp_minor
        product.gst_rate_bp = edit.gst_rate_bp
        product.unit = edit.unit
        product.hsn = edit.hsn
        product.pack_size = edit.pack_size
        product.category = edit.category
        product.reorder_level = edit.reorder_level
        product.tracks_expiry = edit.tracks_expiry
        product.active = edit.active
        product.updated_at = now
        await s.flush()
        await s.execute(delete(Barcode).where(Barcode.product_id == product.id))
        if codes:
            await s.execute(insert(Barcode), [{"code": c, "product_id": product.id}
                                              for c in sorted(codes)])
        await announce_products(s, [product.id])
        return product

    return await write_retrying(db, save)


async def set_price(db: HubDatabase, sku: str, price_minor: int) -> Product:
    """A new selling price, within the product's MRP (checked in the transaction)."""
    try:
        rules.check_price_minor(price_minor)
    except rules.ProductError as exc:
        raise HubError(str(exc)) from None
    return await _change_product(db, sku, price_minor=price_minor)


async def set_active(db: HubDatabase, sku: str, active: bool) -> Product:
    return await _change_product(db, sku, active=active)


async def _change_product(db: HubDatabase, sku: str, **changes: Any) -> Product:
    async def change(s: Session) -> Product:
        product = await s.scalar(select(Product).where(Product.sku == sku.upper()))
        if product is None:
            raise HubError(_("no product %(sku)s") % {"sku": sku})
        for key, value in changes.items():
            setattr(product, key, value)
        try:
            rules.check_within_mrp(product.sku, product.price_minor, product.mrp_minor)
        except rules.ProductError as exc:
            raise HubError(str(exc)) from None
        product.updated_at = utcnow()
        await announce_products(s, [product.id])
        return product

    return await write_retrying(db, change)


async def product_with_codes(db: HubDatabase, sku: str) -> tuple[Product | None, list[str]]:
    """The catalogue's product with this SKU (any case) and its barcodes, for its form."""
    async with db.read() as s:
        product = await s.scalar(select(Product).where(Product.sku == sku.upper()))
        codes = [] if product is None else list(await s.scalars(
            select(Barcode.code).where(Barcode.product_id == product.id).order_by(Barcode.code)))
    return product, codes


# --- store -> hub events -------------------------------------------------------------


async def apply_store_events(s: Session, store: HubStore, events: tuple[Event, ...],
                             hub_tz: Any) -> None:
    """Apply a frame's fresh events in the caller's transaction (which also moves the
    store's cursor). An event id seen before (a store that resent its whole outbox
    after a restore was accepted) is skipped."""
    now = utcnow()
    ids = [e.id for e in events]
    seen = set(await s.scalars(select(StoreEventRow.id).where(StoreEventRow.id.in_(ids))))
    fresh = [e for e in events if e.id not in seen]
    if not fresh:
        return
    await s.execute(insert(StoreEventRow), [
        {"id": e.id, "store_id": store.id, "seq": e.seq, "kind": e.kind, "at": e.at,
         "received_at": now, "data": _json.encode(e.data).decode()} for e in fresh])
    from app.hub import transfers  # (transfers.py imports this module)

    deltas: dict[str, int] = defaultdict(int)
    sold = transfers.SoldTally(hub_tz)  # replenishment's velocity (issue #17)
    for e in fresh:
        data = e.data
        if e.kind == "stock.moved":
            deltas[_text(data, "sku")] += _int(data, "delta")
            sold.add(data)
        elif e.kind in transfers.KINDS:
            await transfers.apply_store_event(s, store.id, e)
        elif e.kind == "return.completed":  # issue #19
            from app.hub import returns  # (returns.py imports this module)

            await returns.apply_store_event(s, store.id, e)
        elif e.kind.startswith("loyalty."):  # issue #21
            from app.hub import loyalty  # (loyalty.py imports this module)

            if e.kind in loyalty.KINDS:
                await loyalty.apply_store_event(s, store.id, e)
            if e.kind == "loyalty.erased":  # their chain coupon keys go too
                from app.hub import promotions  # (promotions.py imports this module)

                await promotions.forget_erased(s, store.id, data)
        elif e.kind in ("coupon.used", "coupon.released", "coupon.lookup"):  # issue #21
            from app.hub import promotions  # (promotions.py imports this module)

            await promotions.apply_store_event(s, store.id, e)
        elif e.kind == "stock.snapshot":
            # Deltas before the snapshot are in it: add them first, then replace.
            await _add_deltas(s, store.id, deltas, now)
            deltas.clear()
            await reconcile.apply_snapshot(s, store.id, data, now)
        elif e.kind in ("sale.completed", "sale.refunded"):
            await _record_sale(s, store.id, e, hub_tz)
        elif e.kind == "order.status":
            await _record_order_status(s, store.id, data, now)
    await _add_deltas(s, store.id, deltas, now)
    await sold.write(s, store.id)


async def _add_deltas(s: Session, store_id: str, deltas: dict[str, int], now: datetime) -> None:
    """One statement for the whole frame (executemany), not one per SKU: a frame of
    500 events took 191 ms per-SKU against 34 ms like this (bench/sync.py)."""
    if not deltas:
        return
    table = HubStockLevel.__table__
    stmt = upsert(s, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["store_id", "sku"],
        set_={"on_hand": table.c.on_hand + stmt.excluded.on_hand,
              "updated_at": stmt.excluded.updated_at})
    await s.execute(stmt, [{"store_id": store_id, "sku": sku, "on_hand": delta,
                            "updated_at": now} for sku, delta in sorted(deltas.items())])


def _text(data: dict, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"event data needs text {key!r}")
    return value


def _int(data: dict, key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"event data needs a whole number {key!r}")
    return value


async def _record_sale(s: Session, store_id: str, e: Event, hub_tz: Any) -> None:
    data = e.data
    refund = e.kind == "sale.refunded"
    at = datetime.fromisoformat(_text(data, "at"))
    total = _int(data, "total")
    if abs(total) >= 2**62:  # no till can make it (money.MAX_*): a forged frame
        raise ValueError("event data 'total' is out of range")
    row_id = _text(data, "refund_id" if refund else "sale_id")
    from app.hub import reports  # the GST document and its rows (issue #18)

    doc = reports.document(data, refund)  # checked: a bad field is "not sent", never raised
    day = at.astimezone(hub_tz).date().isoformat()
    written = await s.execute(upsert(s, HubSale.__table__).values(
        id=row_id, store_id=store_id, kind="refund" if refund else "sale",
        number=_text(data, "number")[:24], at=at,
        day=day, total_minor=-total if refund else total, **doc.columns(),
    ).on_conflict_do_nothing(index_elements=["id"]))
    if getattr(written, "rowcount", 1):  # a replayed event adds nothing
        await reports.record_tax_lines(s, store_id, row_id, refund, day, data, doc)
        from app.hub import promotion_reports  # lines and their offers (issue #21)

        await promotion_reports.record_sale_lines(s, store_id, row_id, refund, day, data)


async def _record_order_status(s: Session, store_id: str, data: dict, now: datetime) -> None:
    """A store reports its own orders only: an order id another store reported (or holds
    stock for) is logged and ignored, never applied, and the link goes on (issue #13
    item 4: a store's token speaks for that store alone)."""
    order_id, status = _text(data, "order_id"), _text(data, "status")
    row = await s.get(HubStoreOrder, order_id)
    owner = row.store_id if row is not None else await s.scalar(
        select(HubReservation.store_id).where(HubReservation.order_id == order_id,
                                              HubReservation.store_id != store_id).limit(1))
    if owner is not None and owner != store_id:
        # Two stores each refusing the same hub order (its id stands in for theirs) is
        # normal; anything else from a store about another's order is worth a warning.
        both_refused = status == "rejected" and row is not None and row.status == "rejected"
        log.log(logging.INFO if both_refused else logging.WARNING,
                "store %s sent order.status %r for order %s of store %s: ignored",
                store_id, status[:16], order_id[:36], owner)
        return
    if row is None:
        row = HubStoreOrder(order_id=order_id, store_id=store_id,
                            number=str(data.get("number", ""))[:20],
                            channel=str(data.get("channel", ""))[:40],
                            external_id=str(data.get("external_id", ""))[:80],
                            status=status, updated_at=now)
        s.add(row)
    row.status, row.updated_at = status, now
    if status == "accepted":
        for line in data.get("lines") or []:
            if isinstance(line, dict) and isinstance(line.get("quantity"), int):
                await s.execute(upsert(s, HubReservation.__table__).values(
                    order_id=order_id, sku=str(line.get("sku", ""))[:40], store_id=store_id,
                    quantity=line["quantity"]).on_conflict_do_nothing())
    elif not holds_reservation(status):
        await s.execute(delete(HubReservation).where(HubReservation.order_id == order_id,
                                                     HubReservation.store_id == store_id))
