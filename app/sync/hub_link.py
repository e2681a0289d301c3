"""The hub end of the sync protocol: the `/sync/v1` websocket (versions 1 to 3, chosen
in the handshake: protocol.negotiate; a store from before v2 gets exactly the v1 exchange).

One `HubLink` per connected store. Its reader applies store events and moves the
store's cursor in one transaction (the cursor is re-read under the store row's lock,
so a stale second connection for the same store can never apply twice); its sender
streams the store's hub -> store events from the store's cursor, at most
`send_window` ahead of the store's acks, woken by `Waker` and polling as a fallback.
On a v3 link it also sends the shared catalogue log (app/hub/catalog_log.py) from the
store's catalogue cursor, always up to the log's head before any of the store's own
events read with it, so an order never reaches a store before the product it names; on
an older link it copies the log into the store's own stream instead.

Liveness is per connection: each link has its own `hub_store_links` row, refreshed by
this process's heartbeat and deleted when the link closes, so a second connection
with the same token cannot mark the store offline. hub_stores rows are locked one at
a time here, or all in id order (`placement.lock_stores`), never in any other order;
every write retries on a deadlock or serialization failure (`write_retrying`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import os
import random
import socket as _socket
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from sqlalchemy import update
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.config import HubConfig
from app.core.auth import PUBLIC
from app.core.clock import utcnow
from app.core.db import Session
from app.core.ids import uuid7
from app.core.waits import wait_event
from app.hub import catalog_log, link_history, placement, pruning
from app.hub import loyalty as hub_loyalty
from app.hub import promotions as hub_promotions
from app.hub import service as hub
from app.hub import transfers as hub_transfers
from app.hub.db import HubDatabase, write_retrying
from app.hub.models import HubStore, HubStoreLink
from app.hub.wake import CATALOG_TOPIC, Waker, down_topic
from app.sync import protocol as p
from app.sync.protocol import close_reason

log = logging.getLogger("kirana.sync")
# Hub changes wake the link that must send them (Waker); the poll is the safety net for
# a lost wake-up or a change written by another program (the CLI's catalogue import on
# a SQLite hub). Polling every link every second cost 55 % of a core at 500 stores.
POLL_SECONDS = 15.0
HEARTBEAT_SECONDS = 15.0
PROCESS = f"{_socket.gethostname()[:40]}:{os.getpid()}"
# What one link may hold for its applier. A store sends at most its window
# (p.STORE_SEND_WINDOW events) ahead of our acks, so more than that (plus one frame) is a
# store ignoring the protocol: closed with 4400 instead of growing the hub's memory.
MAX_BUFFERED_EVENTS = p.STORE_SEND_WINDOW + p.MAX_EVENTS_PER_FRAME
MAX_BUFFERED_BYTES = 32 * 1024 * 1024
# A store sends its status every few minutes; one sent sooner than this after the last
# one kept is dropped, so a store cannot turn status into a write per frame.
STATUS_MIN_SECONDS = 10.0
# Catalogue frames a v3 link sends ahead of the store's catalogue acks.
CATALOG_WINDOW_FRAMES = 4
# How often the links' catalogue acks are written (one write for all): what the
# catalogue page's "applied by" lags behind the stores at most.
CATALOG_ACKS_SECONDS = 1.0


class LinkClosed(Exception):
    def __init__(self, code: p.ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


async def _receive_text(socket: WebSocket) -> str | bytes:
    message = await socket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(detail="store closed the connection",
                                  code=message.get("code", 1000))
    text, data = message.get("text"), message.get("bytes")
    if isinstance(text, str):
        return text
    return data if isinstance(data, bytes) else b""


async def _locked_store(s: Session, store_id: str) -> HubStore:
    """The store's row, locked for the transaction (a hub never deletes a store's row)."""
    row = await s.get(HubStore, store_id, with_for_update=True)
    if row is None:
        raise LinkClosed(p.AUTH, "unknown store")
    return row


class LinkRegistry:
    """The links this hub process holds. One task keeps their rows' `last_seen_at`
    fresh in ONE write every few seconds (not a write per link: 500 stores would be 33
    commits a second on SQLite's single writer)."""

    def __init__(self, db: HubDatabase, cfg: HubConfig) -> None:
        self.db, self.cfg = db, cfg
        self.links: set[HubLink] = set()
        self._task: asyncio.Task | None = None
        self._acks_task: asyncio.Task | None = None
        # Catalogue frames read and encoded once for every link of this process.
        self.catalog = catalog_log.CatalogFrames(db)

    def add(self, link: HubLink) -> None:
        self.links.add(link)

    def discard(self, link: HubLink) -> None:
        self.links.discard(link)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hub-heartbeat")
        self._acks_task = asyncio.create_task(self._save_acks(), name="hub-catalog-acks")

    async def stop(self) -> None:
        for task in (self._task, self._acks_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def beat(self) -> None:
        await hub.touch_links(self.db, [link.row.id for link in self.links
                                        if link.row is not None])

    async def save_catalog_acks(self) -> None:
        """The v3 links' catalogue acks since the last save, in ONE write for all links
        (a fan-out to 1,000 stores acks 1,000 times per frame: a write each was the
        per-store cost the shared log removes)."""
        moved = [link for link in list(self.links) if link.cat_acked > link.cat_acked_saved]
        if not moved:
            return
        await catalog_log.save_acks(self.db, {link.store_id: link.cat_acked for link in moved})
        for link in moved:
            link.cat_acked_saved = link.cat_acked

    async def _save_acks(self) -> None:
        while True:
            await asyncio.sleep(CATALOG_ACKS_SECONDS)
            try:
                await self.save_catalog_acks()
            except Exception:
                log.exception("saving the stores' catalogue acks failed")

    async def _run(self) -> None:
        every = min(HEARTBEAT_SECONDS, self.cfg.sync.offline_after_seconds / 3)
        while True:
            await asyncio.sleep(every)
            try:
                await self.beat()
            except Exception:
                log.exception("hub heartbeat failed")


class HubLink:
    def __init__(self, socket: WebSocket, db: HubDatabase, cfg: HubConfig, waker: Waker,
                 links: LinkRegistry) -> None:
        self.socket, self.db, self.cfg, self.waker = socket, db, cfg, waker
        self.links = links
        self.store_id = ""
        self.epoch = ""
        self.proto = 1  # this link's protocol version, chosen in the handshake
        self.status_kept = -math.inf  # loop time of the last status written
        self.row: HubStoreLink | None = None  # this connection's liveness row
        self.why = "closed"  # why the link ended, for the store's link history
        self.sent = 0  # highest hub -> store seq sent on this connection
        self.acked = 0  # highest the store acked
        # The shared catalogue log (v3): last seq sent, acked, and the ack written;
        # the last seq of each catalogue frame not acked yet.
        self.cat_sent = self.cat_acked = self.cat_acked_saved = 0
        self.cat_in_flight: collections.deque[int] = collections.deque()
        self.catalog_copied = 0  # protocol 1-2: how far the log is in the store's stream
        # Bumped by every resend the store asks for: a batch being sent stops there, so
        # its later frames cannot move the cursor back past what the resend asked for.
        self.resends = 0
        self.wakeup = asyncio.Event()
        # Set when the store's own stream may hold events to send (its topic woke, an
        # ack made room, a resend): only then, or every POLL_SECONDS, does the sender read
        # the stream. A catalogue wake alone needs only the log's head, read once for all
        # links of the process (1,000 links reading their streams for every catalogue
        # frame emptied the pool in the 100,000-product fan-out).
        self.own_news = asyncio.Event()
        self.own_news.set()
        self.own_read_at = -math.inf
        self.known_head = 0  # the highest catalogue-log head this link has read
        self.catalog_news = asyncio.Event()  # the log may have grown past known_head
        self.catalog_news.set()
        # Store -> hub frames read but not applied yet, and what they weigh.
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.inbox_sizes: collections.deque[tuple[int, int]] = collections.deque()
        self.inbox_events = self.inbox_bytes = 0
        self.expect = 1  # the next store -> hub seq the queue can use
        self.gap_events = 0  # events dropped past a gap since the resend for it

    async def send(self, message: p.Message) -> None:
        try:
            await self.socket.send_text(p.encode(message).decode())
        except (OSError, RuntimeError) as exc:
            # The store went away while we were sending (uvicorn's ClientDisconnected is
            # an OSError): the same as a close seen by the reader.
            raise WebSocketDisconnect(detail=f"store went away while the hub was sending "
                                             f"({type(exc).__name__})", code=1006) from None

    async def serve(self) -> None:
        await self.socket.accept()
        try:
            await self._handshake()
            await self._run()
        except LinkClosed as closed:
            self.why = f"closed by the hub ({closed.code}): {closed}"
            await self._close(closed.code, str(closed))
        except p.ProtocolError as exc:
            self.why = f"closed by the hub ({exc.code}): {exc}"
            await self._close(exc.code, str(exc))
        except WebSocketDisconnect as gone:
            # The store closed or its network went: normal life for a store, not an error.
            self.why = f"the store closed the link or went away ({gone.code})"
            log.info("sync %s: store closed the link (%s %s)", self.store_id or "?",
                     gone.code, gone.detail)
        except Exception:
            self.why = "a fault at the hub"
            log.exception("sync %s: link failed", self.store_id or "?")
            with contextlib.suppress(Exception):
                await self.socket.close(code=1011, reason="hub error; reconnect")
        finally:
            await self._mark_gone()

    async def _close(self, code: p.ErrorCode, message: str) -> None:
        log.info("sync %s: closing %s: %s", self.store_id or "?", code, message)
        with contextlib.suppress(Exception):
            await self.send(p.Error(code=code, message=message[:500]))
            await self.socket.close(code=code, reason=close_reason(message))

    async def _handshake(self) -> None:
        header = self.socket.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        store = await hub.store_for_token(self.db, token)
        if store is None:
            raise LinkClosed(p.AUTH, "unknown or revoked store token")
        try:
            raw = await asyncio.wait_for(_receive_text(self.socket),
                                         self.cfg.sync.hello_timeout_seconds)
        except TimeoutError:
            raise LinkClosed(p.BAD_MESSAGE, "expected hello first") from None
        hello = p.decode(raw)
        if not isinstance(hello, p.Hello):
            raise LinkClosed(p.BAD_MESSAGE, f"expected hello first, got {type(hello).__name__}")
        if hello.store_id != store.id:
            raise LinkClosed(p.WRONG_STORE, f"this token belongs to store {store.id}, "
                                            f"not {hello.store_id}")
        self.store_id, self.epoch = store.id, hello.epoch
        self.proto = p.negotiate(hello)
        status = hello.status if self.proto >= p.STATUS_FROM else None
        version = self.socket.headers.get("user-agent", "")[:60]
        client = self.socket.client
        address = f"{client.host}:{client.port}"[:60] if client else ""

        async def admit(s: Session) -> tuple[str, int, HubStoreLink | None, int]:
            now = utcnow()
            row = await _locked_store(s, store.id)
            head = await catalog_log.head(s)
            if row.epoch is None:
                row.epoch = hello.epoch
            if row.epoch != hello.epoch:
                return (f"store {store.id} connected with a different database (epoch "
                        f"{hello.epoch[:8]}…, expected {row.epoch[:8]}…): restored from a "
                        "backup or reinstalled? Check it, then accept its database here.",
                        0, None, head)
            if hello.applied_down > row.down_seq:
                return (f"store {store.id} says it applied hub event {hello.applied_down} "
                        f"but the hub only made {row.down_seq}", 0, None, head)
            if hello.applied_down < row.down_acked:
                return (f"store {store.id} went back in time: it applied hub events up to "
                        f"{row.down_acked} before, now says {hello.applied_down} "
                        "(database restored from a backup?)", 0, None, head)
            cat = hello.applied_catalog if self.proto >= p.CATALOG_FROM else None
            if cat is not None and cat < row.catalog_acked <= head:
                # A store acks only what it committed, so a cursor below its last ack is
                # a database that lost committed work. (Past the hub's head it is the
                # hub that was restored: the welcome starts its catalogue again.)
                return (f"store {store.id} went back in time: it applied the catalogue up to "
                        f"{row.catalog_acked} before, now says {cat} (database restored "
                        "from a backup?)", 0, None, head)
            if hello.applied_down < row.down_seq and hello.applied_down < (
                    await pruning.down_floor(s, store.id, row.down_seq)):
                # Only after an accept (down_acked 0): the events it lacks were pruned.
                return (f"store {store.id} applied hub events only up to "
                        f"{hello.applied_down} and the hub no longer keeps the ones after "
                        "it (older than sync.retention_days): restore a newer backup of "
                        "the store, or register it again as a new store", 0, None, head)
            row.down_acked = hello.applied_down
            if hello.outbox_first is not None and row.acked_up < hello.outbox_first - 1:
                # The store prunes only events the hub acknowledged, so below its oldest
                # row the hub has applied everything. Only after HQ accepted a restored
                # database (the cursor back at 0) is the hub's cursor below it: resume
                # there instead of asking for events the store no longer has.
                log.warning("sync: %s resumes at its oldest outbox event %d (hub cursor "
                            "was %d)", store.id, hello.outbox_first, row.acked_up)
                row.acked_up = hello.outbox_first - 1
            link = HubStoreLink(id=uuid7(), store_id=store.id, process=PROCESS[:60],
                                address=address, version=version, epoch=hello.epoch,
                                applied_down=hello.applied_down, connected_at=now,
                                last_seen_at=now)
            s.add(link)
            link_history.record_up(s, store.id, address, version)
            if status is not None:
                link_history.apply_status(row, status, now)
            self.catalog_copied = row.catalog_copied
            row.sync_proto = self.proto
            if cat is not None:  # where its catalogue starts now (0: the hub's log is older)
                row.catalog_acked = cat if cat <= head else 0
            return "", row.acked_up, link, head

        conflict, acked_up, self.row, head = await write_retrying(self.db, admit)
        if conflict:
            await hub.raise_alert(self.db, store.id, conflict, hub.RefusedLink(
                address=address, version=version, epoch=hello.epoch,
                applied_down=hello.applied_down))
            raise LinkClosed(p.CONFLICT, conflict)
        self.sent = self.acked = hello.applied_down
        self.expect = acked_up + 1
        if status is not None:
            self.status_kept = asyncio.get_running_loop().time()
        welcome = p.welcome(hello, self.proto, acked_up, utcnow().isoformat(), head)
        if welcome.catalog_after is not None:
            # Sent from there; saved as acked by the next heartbeat (a store whose
            # cursor is past this hub's log starts again at 0: protocol.welcome).
            self.cat_sent = self.cat_acked = welcome.catalog_after
        await self.send(welcome)

    async def _run(self) -> None:
        topic = down_topic(self.store_id)
        self.wakeup = self.waker.subscribe(topic)
        self.waker.subscribe(topic, self.own_news)
        self.waker.subscribe(CATALOG_TOPIC, self.wakeup)
        self.waker.subscribe(CATALOG_TOPIC, self.catalog_news)
        self.links.add(self)
        tasks = [asyncio.create_task(self._reader()), asyncio.create_task(self._applier()),
                 asyncio.create_task(self._sender())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # re-raise what ended the link
        finally:
            self.links.discard(self)
            for task in tasks:
                task.cancel()
            done, stuck = await asyncio.wait(tasks, timeout=10)
            for task in done:  # retrieved, so asyncio does not log them as lost
                if not task.cancelled():
                    task.exception()
            if stuck:  # never hold up the hub's shutdown for a link that is gone
                log.warning("sync %s: %d link task(s) did not stop when cancelled",
                            self.store_id, len(stuck))
            self.waker.unsubscribe(topic, self.wakeup)
            self.waker.unsubscribe(topic, self.own_news)
            self.waker.unsubscribe(CATALOG_TOPIC, self.wakeup)
            self.waker.unsubscribe(CATALOG_TOPIC, self.catalog_news)

    async def _reader(self) -> None:
        """Reads every frame at once, so the server keeps reading pongs while a frame is
        being applied; event frames queue for the applier. The store sends at most its
        window ahead of our acks, which bounds the queue (_buffer enforces it)."""
        while True:
            raw = await _receive_text(self.socket)
            message = p.decode(raw, expect_kinds=p.STORE_TO_HUB)
            if isinstance(message, p.Events):
                await self._buffer(message, len(raw))
            elif isinstance(message, p.Ack):
                if message.upto > self.sent:
                    raise LinkClosed(p.CONFLICT, f"ack {message.upto} is past the last event "
                                                 f"sent ({self.sent})")
                if message.upto > self.acked:
                    self.acked = message.upto
                    try:
                        await self._store_ack(message.upto)
                    except PoolTimeout:  # kept by its next ack or its next hello
                        log.info("sync %s: ack %d not saved: the hub's database pool is "
                                 "busy", self.store_id, message.upto)
                self.own_news.set()  # room in the window: more of its stream may go
                self.wakeup.set()
            elif isinstance(message, p.Resend):
                if message.from_ - 1 > self.sent:
                    raise LinkClosed(p.CONFLICT, f"resend from {message.from_} is past the "
                                                 f"last event sent ({self.sent})")
                self.sent = max(self.acked, message.from_ - 1)
                self.resends += 1
                self.own_news.set()
                self.wakeup.set()
            elif isinstance(message, p.CatalogAck | p.CatalogResend):
                self._catalog_reply(message)
            elif isinstance(message, p.Status):
                await self._status(message)
            elif isinstance(message, p.Error):
                log.warning("sync %s: store reports %s %s", self.store_id, message.code,
                            message.message)
                await hub.raise_alert(self.db, self.store_id,
                                      f"store closed the link: {message.message}")
                raise WebSocketDisconnect(detail=message.message, code=message.code)
            else:
                raise LinkClosed(p.BAD_MESSAGE, f"unexpected {type(message).__name__.lower()} "
                                                "after hello")

    def _catalog_reply(self, message: p.CatalogAck | p.CatalogResend) -> None:
        """A v3 store's answer to catalogue frames: an ack moves its cursor (written in
        batches by the heartbeat); a resend starts the log again after its cursor."""
        if self.proto < p.CATALOG_FROM:
            raise LinkClosed(p.BAD_MESSAGE, f"catalogue replies need protocol "
                                            f"{p.CATALOG_FROM}; this link speaks {self.proto}")
        if isinstance(message, p.CatalogAck):
            if message.upto > self.cat_sent:
                raise LinkClosed(p.CONFLICT, f"catalogue ack {message.upto} is past the last "
                                             f"entry sent ({self.cat_sent})")
            self.cat_acked = max(self.cat_acked, message.upto)
            while self.cat_in_flight and self.cat_in_flight[0] <= self.cat_acked:
                self.cat_in_flight.popleft()
        else:
            if message.after > self.cat_sent:
                raise LinkClosed(p.CONFLICT, f"catalogue resend after {message.after} is "
                                             f"past the last entry sent ({self.cat_sent})")
            self.cat_sent = message.after
            self.cat_in_flight.clear()
            self.resends += 1
        self.wakeup.set()

    async def _status(self, status: p.Status) -> None:
        """Keep the store's latest status (v2 links only), at most one write per
        STATUS_MIN_SECONDS; the skew is against the hub's clock now, at receipt."""
        if self.proto < p.STATUS_FROM:
            raise LinkClosed(p.BAD_MESSAGE, f"status needs protocol {p.STATUS_FROM}; this "
                                            f"link speaks {self.proto}")
        received_at = utcnow()
        now = asyncio.get_running_loop().time()
        if now - self.status_kept < STATUS_MIN_SECONDS:
            log.debug("sync %s: status sooner than %s s after the last: dropped",
                      self.store_id, STATUS_MIN_SECONDS)
            return
        self.status_kept = now
        await link_history.save_status(self.db, self.store_id, status, received_at)

    async def _buffer(self, frame: p.Events, size: int) -> None:
        """Queue a frame for the applier, unless nothing in it can be applied (it starts
        past a gap: dropped, and the gap answered with ONE resend) or the store is past its
        window (4400). So a store cannot make the hub hold more than its window."""
        first, count = frame.events[0].seq, len(frame.events)
        if first > self.expect:
            if not self.gap_events:
                await self.send(p.Resend(from_=self.expect))
            self.gap_events += count
            if self.gap_events > MAX_BUFFERED_EVENTS:
                raise LinkClosed(p.BAD_MESSAGE, f"{self.gap_events} events past a gap at seq "
                                                f"{self.expect} after the hub asked to resend")
            return
        self.gap_events = 0
        self.expect = max(self.expect, frame.events[-1].seq + 1)
        self.inbox_events += count
        self.inbox_bytes += size
        if self.inbox_events > MAX_BUFFERED_EVENTS or self.inbox_bytes > MAX_BUFFERED_BYTES:
            raise LinkClosed(p.BAD_MESSAGE, f"sent past its sync window: {self.inbox_events} "
                                            f"events, {self.inbox_bytes // 1024} KiB not yet "
                                            "acked; wait for acks")
        self.inbox_sizes.append((count, size))
        self.inbox.put_nowait(frame)

    async def _applier(self) -> None:
        while True:
            frame = await self.inbox.get()
            count, size = self.inbox_sizes.popleft()
            try:
                while True:
                    try:
                        await self._apply(frame)
                        break
                    except PoolTimeout:  # no connection came: nothing was done, try again
                        log.info("sync %s: the hub's database pool is busy: applying the "
                                 "frame again shortly", self.store_id)
                        await asyncio.sleep(random.uniform(0.5, 2.0))
            finally:
                self.inbox_events -= count
                self.inbox_bytes -= size

    async def _apply(self, frame: p.Events) -> None:
        # The stores the frame gave news (a re-routed order) are woken at its commit.
        reply, _wake = await apply_frame(self.db, self.cfg, self.store_id, self.epoch, frame)
        await self.send(reply)

    async def _store_ack(self, upto: int) -> None:
        await store_ack(self.db, self.store_id, upto)

    async def _sender(self) -> None:
        while True:
            try:
                await self._send_round()
            except PoolTimeout:
                # The pool had no connection for this link in time (a fan-out to many
                # links): wait a moment and go on, rather than drop the link and have
                # it come back through a handshake, which needs the pool too.
                log.info("sync %s: the hub's database pool is busy: sending again shortly",
                         self.store_id)
                self.own_news.set()
                await asyncio.sleep(random.uniform(0.5, 2.0))

    async def _send_round(self) -> None:
        window = self.cfg.sync.send_window
        loop = asyncio.get_running_loop()
        while True:
            self.wakeup.clear()
            started = loop.time()
            room = window - (self.sent - self.acked)
            limit = min(room, p.MAX_EVENTS_PER_FRAME * 4) if room > 0 else 0
            if self.own_news.is_set() or started - self.own_read_at >= POLL_SECONDS:
                self.own_news.clear()  # (before the read: news meanwhile sets it again)
                self.own_read_at = started
                # The store's events first, then the catalogue log's head: every product
                # an event read here names is in the log at or below that head.
                pending, head = await hub.pending_down_and_head(
                    self.db, self.store_id, self.sent, limit)
                if limit and len(pending) >= limit:
                    self.own_news.set()  # a full read: there may be more
            else:  # only the catalogue may have moved
                pending = []
                at = self.cat_sent if self.proto >= p.CATALOG_FROM else self.catalog_copied
                if at < self.known_head or not self.catalog_news.is_set():
                    head = self.known_head  # short of a head it read, or no news: no read
                else:  # the head, read once for the links woken together
                    self.catalog_news.clear()
                    head = await self.links.catalog.head(since=started)
            self.known_head = max(self.known_head, head)
            catalogue_first = (self.cat_sent < head if self.proto >= p.CATALOG_FROM
                               else self.catalog_copied < head)
            if catalogue_first and pending:
                self.own_news.set()  # not sent this round: read again after the catalogue
            if self.proto >= p.CATALOG_FROM:
                if self.cat_sent < head:
                    if await self._send_catalog(head):
                        continue
                    if self.cat_sent < head:  # its catalogue window is full: wait for acks
                        await wait_event(self.wakeup, POLL_SECONDS)
                        continue
            elif self.catalog_copied < head:
                # An older store: the log's new entries join its own stream, then go out
                # with the rest (re-read, in seq order).
                self.catalog_copied = await catalog_log.copy_to_stream(
                    self.db, self.store_id, head)
                self.own_news.set()  # (its stream grew)
                continue
            if pending:
                resends = self.resends
                for frame in p.frames(pending):
                    if self.resends != resends:
                        break  # the store asked for a resend meanwhile: start from there
                    # Counted first: the ack can be read before this send returns.
                    self.sent = frame.events[-1].seq
                    await self.send(frame)
                continue
            await wait_event(self.wakeup, POLL_SECONDS)

    async def _send_catalog(self, head: int) -> bool:
        """Send catalogue frames past `cat_sent` up to `head`, within the window; each
        frame is read and encoded once per process (catalog_log.CatalogFrames). Whether
        any was sent."""
        room = CATALOG_WINDOW_FRAMES - len(self.cat_in_flight)
        if room <= 0:
            return False
        frames = await self.links.catalog.frames(self.cat_sent, head)
        resends = self.resends
        for text, last in frames[:room]:
            if self.resends != resends:
                break  # the store asked for a resend meanwhile: start from there
            # Counted as sent before the send: the store's ack may be read while this
            # send still waits for the socket to drain (an ack past `cat_sent` is a 4409).
            self.cat_sent = last
            self.cat_in_flight.append(last)
            try:
                await self.socket.send_text(text)
            except (OSError, RuntimeError) as exc:
                raise WebSocketDisconnect(detail=f"store went away while the hub was "
                                                 f"sending ({type(exc).__name__})",
                                          code=1006) from None
        return bool(frames)

    async def _mark_gone(self) -> None:
        if self.row is None:
            return
        if self.cat_acked > self.cat_acked_saved:  # acked since the last save: keep it
            try:
                await catalog_log.save_acks(self.db, {self.store_id: self.cat_acked})
                self.cat_acked_saved = self.cat_acked
            except Exception as exc:
                log.warning("sync %s: could not save the catalogue ack: %s", self.store_id,
                            exc)
        try:
            await hub.close_link(self.db, self.row, self.cfg.offline_after)
            await link_history.record_down(self.db, self.store_id, self.row.address, self.why)
        except Exception as exc:
            log.warning("sync %s: could not drop the closed link's row: %s", self.store_id,
                        exc)


async def apply_frame(db: HubDatabase, cfg: HubConfig, store_id: str, epoch: str,
                      frame: p.Events) -> tuple[p.Message, tuple[str, ...]]:
    """Apply a store's events frame and move its cursor in one transaction (retried on
    a deadlock). Returns the reply for the store and the stores to wake."""

    async def body(s: Session) -> tuple[p.Message, tuple[str, ...]]:
        now = utcnow()
        wake: tuple[str, ...] = ()
        if locks_every_store(frame.events):
            await placement.lock_stores(s)  # routing's lock order: every store row first
        row = await _locked_store(s, store_id)
        if row.epoch != epoch:
            raise LinkClosed(p.CONFLICT, "the store's database changed while connected")
        got = p.receive(row.acked_up, frame)
        if got.apply:
            try:
                await hub.apply_store_events(s, row, got.apply, cfg.tz)
            except ValueError as exc:
                first = got.apply[0]
                raise LinkClosed(p.BAD_MESSAGE, f"events from seq {first.seq} could not be "
                                                f"applied: {exc}") from None
            for event in got.apply:
                if event.kind == "order.status":
                    wake += await placement.on_store_status(s, cfg, store_id, event.data)
            row.acked_up = got.cursor
            row.last_event_at = _parse_at(got.apply[-1].at, now)
            row.last_applied_at = now
        return got.reply, wake

    return await write_retrying(db, body)


def locks_every_store(events: Sequence[p.Event]) -> bool:
    """Whether applying these events may write to other stores' streams or re-route an
    order, which takes every store row in id order first (placement's lock order). A
    step forward of an order (`order.status` accepted ... delivered) does neither: it
    would otherwise lock all the chain's store rows for every picked order."""
    for e in events:
        if e.kind == "order.status":
            status = e.data.get("status")  # (any JSON: a list is not hashable)
            if isinstance(status, str) and status in placement.REROUTING_STATUSES:
                return True
        elif (e.kind in hub_transfers.ENQUEUES or e.kind in hub_loyalty.ENQUEUES
              or e.kind in hub_promotions.ENQUEUES):
            return True
    return False


async def store_ack(db: HubDatabase, store_id: str, upto: int) -> None:
    """The store applied hub -> store events up to `upto` (one row, retried)."""

    async def body(s: Session) -> None:
        await s.execute(update(HubStore).where(HubStore.id == store_id,
                                               HubStore.down_acked < upto)
                        .values(down_acked=upto))

    await write_retrying(db, body)


def _parse_at(text: str, default: datetime) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return default
    return at if at.tzinfo else default


@websocket("/sync/v1", opt={**PUBLIC, "auth": "store token (Bearer), checked in the handler"})
async def sync_v1(socket: WebSocket) -> None:
    state: Any = socket.app.state
    await HubLink(socket, state.db, state.cfg, state.waker, state.links).serve()


ROUTES = [sync_v1]
