"""The store end of the sync protocol: a background task of the store app.

It connects to the hub, says `hello` (offering protocols 1 to 3; from v2 it reports
its status: version, free disk, newest backup, clock, then every STATUS_SECONDS; on a v3
link also its live load, sent when it changes (store_load.py), and products come from
the hub's shared catalogue log, in `catalog` frames applied under their own cursor,
`sync_state.applied_catalog`),
resends its outbox from the hub's cursor in frames of at most 500 events, applies hub
events in order (each frame and the `applied_down` cursor in one transaction), and
reconnects with exponential backoff and jitter. Selling, picking and printing never
wait for it: they only write the outbox, which this task drains whenever the hub is
reachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import msgspec
import websockets
from sqlalchemy import func, insert, select, update
from websockets.asyncio.client import connect

from app import __version__
from app.config import StoreConfig
from app.core.clock import utcnow
from app.core.db import Database, Session
from app.core.waits import wait_event
from app.sync import protocol as p
from app.sync.models import InboxEvent, OutboxEvent, SyncState
from app.sync.store_apply import BadHubEvent, apply_hub_event
from app.sync.store_load import read_load

log = logging.getLogger("kirana.sync")
IDLE_POLL_SECONDS = 0.05  # outbox check while idle: one indexed max() on a local file
REFUSED_RETRY_SECONDS = 300.0  # after a 4401/4403: a person has to act first (token, id)
# After a 4409 (database conflict) the store asks again this often: each try is one
# refused hello while the alert stands, and the first try after HQ accepts the store's
# database gets in, so the store is back within seconds, not minutes.
CONFLICT_RETRY_SECONDS = 10.0
STATUS_SECONDS = 300.0  # how often a v2 link reports the store's status
# A v3 link's status carries the store's live load (issue #24, app/sync/store_load.py):
# read this often (one query), sent when it changed, and at least every
# LOAD_RESEND_SECONDS unchanged so the hub knows it is current (the hub ignores a load
# older than routing.load_fresh_seconds, 300 s by default).
LOAD_SECONDS = 30.0
LOAD_RESEND_SECONDS = 120.0
# A hub from before v2 (or v3) refuses the longer hello (unknown fields): the store then
# says the older hello for this long before offering its newest again (the hub may have
# been upgraded meanwhile).
V1_FALLBACK_SECONDS = 3600.0


class HubRefused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class LinkStatus:
    """What the store's pages show: online, syncing N, offline since ..."""

    state: str = "standalone"  # standalone | connecting | online | offline | refused
    since: datetime | None = None
    last_error: str = ""
    hub_acked: int = 0
    outbox_last: int = 0
    # The catalogue log's catch-up on this link (protocol 3): where it started, where
    # it is, and the hub's head as the last frame said.
    catalog_from: int = 0
    catalog_at: int = 0
    catalog_head: int = 0

    @property
    def waiting(self) -> int:
        return max(0, self.outbox_last - self.hub_acked)

    @property
    def catalog_percent(self) -> int | None:
        """How much of a catalogue catch-up is done (a new store, a big import), 0-99;
        None when there is none to show."""
        if self.catalog_head <= self.catalog_at:
            return None
        span = self.catalog_head - self.catalog_from
        return min(99, max(0, (self.catalog_at - self.catalog_from) * 100 // span))


async def read_state(db: Database) -> SyncState:
    async with db.read() as s:
        return await _state_row(s)


async def _state_row(s: Session) -> SyncState:
    """The one sync_state row: migration 0004 creates it with the database."""
    state = await s.get(SyncState, 1)
    if state is None:
        raise RuntimeError("the sync_state row is missing: this database was not migrated")
    return state


async def outbox_first(db: Database) -> int | None:
    """The oldest outbox seq still held (None: nothing ever written). Retention keeps
    the newest row, so it is never past the last seq."""
    async with db.read() as s:
        first = await s.scalar(select(func.min(OutboxEvent.seq)))
    return int(first) if first is not None else None


async def link_figures(db: Database) -> tuple[int, int]:
    """(last outbox seq, last seq the hub acked)."""
    async with db.read() as s:
        last = await s.scalar(select(func.max(OutboxEvent.seq))) or 0
        acked = await s.scalar(select(SyncState.acked_up).where(SyncState.id == 1)) or 0
    return int(last), int(acked)


def read_token(cfg: StoreConfig) -> str:
    if not cfg.hub.token_file:
        return ""
    path = cfg.resolve(cfg.hub.token_file)
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def insecure_link_warning(cfg: StoreConfig) -> bool:
    """Say at every start that the link is in clear text (allowed by hub.allow_insecure)."""
    if not cfg.hub.in_clear_text:
        return False
    log.warning("sync: hub.url %s is ws:// to another machine: the store's token and all "
                "sync data cross the network in clear text (hub.allow_insecure = true); "
                "use wss:// outside a test network", cfg.hub.url)
    return True


NewestBackup = Callable[[StoreConfig], datetime | None]


def store_status(cfg: StoreConfig, newest_backup: NewestBackup | None = None,
                 load: p.Load | None = None) -> p.Status:
    """What the hub shows of this store (blocking file reads: run it in a thread). A
    figure that cannot be read is sent as unknown rather than holding up the link.
    `newest_backup` is app.ops.backup's, given by the server (ops sits above sync);
    `load`: the live load (store_load.read_load), for a v3 link only."""
    disk = None
    with contextlib.suppress(OSError):
        st = os.statvfs(Path(cfg.database_path).parent)
        disk = min(st.f_bavail * st.f_frsize, 2**62)
    newest = None
    if newest_backup is not None:
        with contextlib.suppress(OSError):
            newest = newest_backup(cfg)
    return p.Status(version=__version__[:40], clock=utcnow(), disk_free_bytes=disk,
                    last_backup_at=newest, load=load)


async def current_load(db: Database) -> p.Load | None:
    """The live load, or None when it cannot be read (the status goes out without)."""
    try:
        return await read_load(db)
    except Exception:
        log.exception("sync: the store's live load could not be read")
        return None


class SyncClient:
    def __init__(self, db: Database, cfg: StoreConfig, *, backoff_max: float = 60.0,
                 status_every: float = STATUS_SECONDS,
                 newest_backup: NewestBackup | None = None,
                 load_every: float = LOAD_SECONDS,
                 load_resend: float = LOAD_RESEND_SECONDS) -> None:
        self.db, self.cfg = db, cfg
        self.newest_backup = newest_backup
        self.status_every = status_every
        self.load_every, self.load_resend = load_every, load_resend
        self.proto = 1  # the current link's protocol version (from the welcome)
        # (version, monotonic time): offer no more than that version until then
        self._fallback: tuple[int, float] = (p.PROTO, -math.inf)
        self.status = LinkStatus()
        self.backoff_max = backoff_max
        self.conflict_retry = CONFLICT_RETRY_SECONDS
        self._task: asyncio.Task | None = None
        self._watcher: asyncio.Task | None = None
        self._sent = 0
        self._acked = 0
        self._resends = 0  # a batch being sent stops when the hub asks for a resend
        self._welcomed = False
        self._wakeup = asyncio.Event()

    @property
    def enabled(self) -> bool:
        return bool(self.cfg.hub.url)

    async def start(self) -> None:
        if not self.enabled:
            return
        insecure_link_warning(self.cfg)
        self.status = LinkStatus(state="connecting", since=utcnow())
        self._task = asyncio.create_task(self._run(), name="sync-client")
        self._watcher = asyncio.create_task(self._watch(), name="sync-figures")

    async def stop(self) -> None:
        for task in (self._task, self._watcher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, 5)

    async def _watch(self) -> None:
        """Keep the badge's figures true while offline too (the outbox keeps growing)."""
        while True:
            with contextlib.suppress(Exception):
                last, acked = await link_figures(self.db)
                self.status.outbox_last = last
                self.status.hub_acked = max(self.status.hub_acked, acked)
            await asyncio.sleep(1)

    def _offline(self, error: str, state: str = "offline") -> None:
        if self.status.state != state:
            self.status.since = utcnow()
        self.status.state, self.status.last_error = state, error[:300]

    async def _run(self) -> None:
        delay = 1.0
        while True:
            self._welcomed = False
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except HubRefused as exc:
                log.warning("hub refused the link (%s): %s", exc.code, exc)
                if exc.code in (p.AUTH, p.WRONG_STORE, p.CONFLICT):
                    # A person has to act (token, store id, restored database) first.
                    self._offline(f"hub refused the link ({exc.code}): {exc}", "refused")
                    wait = (self.conflict_retry if exc.code == p.CONFLICT
                            else REFUSED_RETRY_SECONDS)
                    await asyncio.sleep(wait * random.uniform(0.8, 1.0))
                    continue
                self._offline(f"link closed ({exc.code}): {exc}")
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException,
                    p.ProtocolError) as exc:
                self._offline(f"{type(exc).__name__}: {exc}")
            except Exception as exc:
                log.exception("sync link failed")
                self._offline(f"{type(exc).__name__}: {exc}")
            if self._welcomed:  # a session that got going: start the backoff afresh
                delay = 1.0
            # Full jitter: hundreds of stores coming back after a hub restart spread out.
            await asyncio.sleep(random.uniform(0.2, 1.0) * delay)
            delay = min(delay * 2, self.backoff_max)

    async def _session(self) -> None:
        token = read_token(self.cfg)
        if not token:
            raise HubRefused(p.AUTH, f"no store token in {self.cfg.hub.token_file or '(unset)'}"
                             "; run `kirana hub add-store` at the hub and save the token")
        self.status.state = "connecting"
        async with connect(
            self.cfg.hub.url,
            additional_headers={"Authorization": f"Bearer {token}"},
            user_agent_header=f"kirana-store/{__version__}",
            open_timeout=10, ping_interval=20, ping_timeout=20, close_timeout=5,
            max_size=p.MAX_FRAME_BYTES * 2, compression=None,
        ) as ws:
            state = await read_state(self.db)
            version, until = self._fallback
            newest = version if time.monotonic() < until else p.PROTO
            load = await current_load(self.db) if newest >= p.CATALOG_FROM else None
            status = (await asyncio.to_thread(store_status, self.cfg, self.newest_backup, load)
                      if newest >= p.STATUS_FROM else None)
            hello = p.hello(self.cfg.store.id, state.epoch, state.applied_down, status,
                            newest=newest, outbox_first=await outbox_first(self.db),
                            applied_catalog=state.applied_catalog)
            await ws.send(p.encode(hello).decode())
            reply = p.decode(await asyncio.wait_for(ws.recv(), 15))
            if isinstance(reply, p.Error):
                if (reply.code == p.BAD_MESSAGE and hello.proto_max is not None
                        and "unknown field" in reply.message):
                    # A v2 hub names the first field it does not know: the catalogue
                    # cursor, or the status's load (issue #24), both of v3.
                    older = (p.STATUS_FROM if hello.proto_max >= p.CATALOG_FROM
                             and ("applied_catalog" in reply.message
                                  or "`load`" in reply.message) else 1)
                    log.warning("sync: the hub predates protocol %d (%s): saying the v%d "
                                "hello for the next %d min", older + 1, reply.message, older,
                                V1_FALLBACK_SECONDS // 60)
                    self._fallback = (older, time.monotonic() + V1_FALLBACK_SECONDS)
                raise HubRefused(reply.code, reply.message)
            if not isinstance(reply, p.Welcome):
                await self._fail(ws, p.BAD_MESSAGE, "expected welcome")
            try:
                self.proto = p.welcomed_version(hello, reply)
            except p.ProtocolError as exc:
                await self._fail(ws, exc.code, str(exc))
            last, _ = await link_figures(self.db)
            if reply.acked_up > last:
                message = (f"the hub has events up to {reply.acked_up} from this store but this "
                           f"database only wrote {last}: restored from a backup?")
                await self._fail(ws, p.CONFLICT, message)
            if self.proto >= p.CATALOG_FROM:
                await self._catalog_start(ws, state.applied_catalog, reply.catalog_after)
            await self._save_ack(reply.acked_up)
            self._sent = self._acked = reply.acked_up
            self._welcomed = True
            after = reply.catalog_after or 0
            self.status = LinkStatus(state="online", since=utcnow(), hub_acked=reply.acked_up,
                                     outbox_last=last, catalog_from=after, catalog_at=after,
                                     catalog_head=after)
            log.info("sync: connected to the hub (protocol %s); it has our events up to %s",
                     self.proto, reply.acked_up)
            tasks = [asyncio.create_task(self._reader(ws)), asyncio.create_task(self._sender(ws))]
            if self.proto >= p.STATUS_FROM:
                tasks.append(asyncio.create_task(self._status_sender(
                    ws, hello.status.load if hello.status is not None else None)))
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # re-raise what ended the link
                # The reader ends quietly when the hub closes the socket cleanly.
                raise ConnectionError(f"the hub closed the link ({ws.close_code})")
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _catalog_start(self, ws, applied: int, after: int | None) -> None:
        """Where the hub sends the catalogue log from (v3): our cursor, or 0 when our
        cursor is past its log (a hub restored from a backup): then the whole log comes
        again, whole product states that change nothing already applied."""
        if after is None or after > applied:
            await self._fail(ws, p.BAD_MESSAGE, f"the hub would send the catalogue after "
                                                f"{after}; this store applied {applied}")
        if after < applied:
            log.warning("sync: the hub's catalogue log ends before our cursor %d: taking "
                        "the whole log again", applied)
            async with self.db.write() as s:
                await s.execute(update(SyncState).where(SyncState.id == 1)
                                .values(applied_catalog=after))

    async def _fail(self, ws, code: p.ErrorCode, message: str) -> NoReturn:
        with contextlib.suppress(Exception):
            await ws.send(p.encode(p.Error(code=code, message=message[:500])).decode())
            await ws.close(code, p.close_reason(message))
        raise HubRefused(code, message)

    async def _reader(self, ws) -> None:
        async for raw in ws:
            try:
                message = p.decode(raw, expect_kinds=p.HUB_TO_STORE)
            except p.ProtocolError as exc:
                await self._fail(ws, exc.code, str(exc))
            if isinstance(message, p.Events):
                await self._apply(ws, message)
            elif isinstance(message, p.Catalog):
                if self.proto < p.CATALOG_FROM:
                    await self._fail(ws, p.BAD_MESSAGE, f"a catalogue frame on a protocol "
                                                        f"{self.proto} link")
                await self._apply_catalog(ws, message)
            elif isinstance(message, p.Ack):
                if message.upto > self._sent:
                    await self._fail(ws, p.CONFLICT, f"ack {message.upto} is past the last "
                                                     f"event sent ({self._sent})")
                if message.upto > self._acked:
                    self._acked = message.upto
                    await self._save_ack(message.upto)
                self._wakeup.set()
            elif isinstance(message, p.Resend):
                self._sent = max(self._acked, min(self._sent, message.from_ - 1))
                self._resends += 1
                self._wakeup.set()
            elif isinstance(message, p.Error):
                raise HubRefused(message.code, message.message)
            else:
                await self._fail(ws, p.BAD_MESSAGE, f"unexpected {type(message).__name__}")

    async def _apply(self, ws, frame: p.Events) -> None:
        try:
            async with self.db.write() as s:
                state = await _state_row(s)
                got = p.receive(state.applied_down, frame)
                for event in got.apply:
                    await apply_hub_event(s, self.cfg, event)
                if got.apply:
                    now = utcnow()
                    await s.execute(insert(InboxEvent), [
                        {"seq": e.seq, "id": e.id, "kind": e.kind, "applied_at": now}
                        for e in got.apply])
                state.applied_down = got.cursor
        except BadHubEvent as exc:
            await self._fail(ws, p.BAD_MESSAGE, f"hub event could not be applied: {exc}")
        await ws.send(p.encode(got.reply).decode())

    async def _apply_catalog(self, ws, frame: p.Catalog) -> None:
        """Catalogue-log entries past our cursor, applied with the new cursor in one
        transaction (protocol.receive_catalog). They are not written to sync_inbox: its
        seqs are the store's own stream's, and an entry is a product's whole state, which
        applied twice changes nothing."""
        try:
            async with self.db.write() as s:
                state = await _state_row(s)
                fresh, cursor, reply = p.receive_catalog(state.applied_catalog, frame)
                for event in fresh:
                    await apply_hub_event(s, self.cfg, event)
                state.applied_catalog = cursor
        except BadHubEvent as exc:
            await self._fail(ws, p.BAD_MESSAGE, f"catalogue entry could not be applied: {exc}")
        self.status.catalog_at = cursor
        self.status.catalog_head = max(cursor, frame.head or 0)
        await ws.send(p.encode(reply).decode())

    async def _save_ack(self, upto: int) -> None:
        async with self.db.write() as s:
            await s.execute(update(SyncState).where(SyncState.id == 1,
                                                    SyncState.acked_up < upto)
                            .values(acked_up=upto, acked_at=utcnow()))
        self.status.hub_acked = max(self.status.hub_acked, upto)

    async def _status_sender(self, ws, load: p.Load | None = None) -> None:
        """The store's status every `status_every` (its hello carried the first). On a
        v3 link also its live load: read every `load_every`, the status sent when the
        load changed or `load_resend` passed (the hub drops a status sooner than 10 s
        after the last, far below these)."""
        live = self.proto >= p.CATALOG_FROM
        loop = asyncio.get_running_loop()
        sent_at = loop.time()
        while True:
            await asyncio.sleep(min(self.load_every, self.status_every) if live
                                else self.status_every)
            due = loop.time() - sent_at >= (min(self.load_resend, self.status_every) if live
                                            else self.status_every) - 0.001
            fresh = await current_load(self.db) if live else None
            if live and not due and (fresh is None or fresh == load):
                continue
            load = fresh
            status = await asyncio.to_thread(store_status, self.cfg, self.newest_backup, load)
            await ws.send(p.encode(status).decode())
            sent_at = loop.time()

    async def _sender(self, ws) -> None:
        window = p.STORE_SEND_WINDOW
        while True:
            self._wakeup.clear()
            if self._sent - self._acked < window:
                async with self.db.read() as s:
                    rows = (await s.execute(
                        select(OutboxEvent.seq, OutboxEvent.id, OutboxEvent.kind, OutboxEvent.at,
                               OutboxEvent.data)
                        .where(OutboxEvent.seq > self._sent).order_by(OutboxEvent.seq)
                        .limit(min(window - (self._sent - self._acked),
                                   p.MAX_EVENTS_PER_FRAME * 2)))).all()
                if rows:
                    events = [p.Event(seq=seq, id=id_, kind=kind, at=at.isoformat(),
                                      data=msgspec.json.decode(data))
                              for seq, id_, kind, at, data in rows]
                    self.status.outbox_last = max(self.status.outbox_last, events[-1].seq)
                    resends = self._resends
                    for frame in p.frames(events):
                        if self._resends != resends:
                            break  # the hub asked for a resend meanwhile: from there
                        # Counted first: the hub's ack can be read before this send
                        # returns (an ack past `_sent` is a 4409).
                        self._sent = frame.events[-1].seq
                        await ws.send(p.encode(frame).decode())
                    continue
            await wait_event(self._wakeup, IDLE_POLL_SECONDS)

