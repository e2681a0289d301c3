"""Simulated stores for bench/hub_scale.py, in the bench process or split over client
processes (`--client-procs N`, issue #24): one Python event loop reading 1,000 links of a
10,000,000-entry fan-out used 104 s of CPU in 143 s and fell behind its own websocket
keepalive, so the bench, not the hub, was the limit.

A `StoreGroup` is a share of the simulated stores (bench/sync.py's `SimStore`, one raw
websocket each) with what the bench checks on them: every catalogue entry once, in the
hub's order (`DownCheck`), the link drops and reconnects, the steady stock traffic. The
bench drives every group through the same async methods: a `StoreGroup` in its own
event loop (`--client-procs 0`, the default), or a `RemoteGroup` that runs one in a
child process and forwards each call over a pipe (the results come back pickled: counts,
timestamps of `time.perf_counter()`, which is CLOCK_MONOTONIC and so the same clock in
every process, problem and drop lines, the steady run's `LoadFigures`).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import random
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec
from _common import Budget, BudgetExceeded
from sync import LoadFigures, SimStore, _json, run_load

# ---- reading catalogue frames cheaply ----------------------------------------------------------


class EntryData(msgspec.Struct):
    sku: str | None = None

    def get(self, key: str) -> Any:
        return getattr(self, key, None)


class Entry(msgspec.Struct):
    """A catalogue-log entry as the bench checks it: its seq, kind and product SKU (the
    other fields are parsed, as JSON must be, but not kept)."""

    seq: int
    kind: str
    data: EntryData = msgspec.field(default_factory=EntryData)

    def __getitem__(self, key: str) -> Any:  # DownCheck reads entries like dicts
        return getattr(self, key)


class CatalogFrame(msgspec.Struct):
    type: str
    after: int = 0
    events: list[Entry] = msgspec.field(default_factory=list)


CATALOG_FRAME = msgspec.json.Decoder(CatalogFrame)


class LeanSimStore(SimStore):
    """bench/sync.py's SimStore with a cheaper read of `catalog` frames: the frame's
    bytes (no UTF-8 decoding into a str first) decoded into `CatalogFrame`, which keeps
    only each entry's seq, kind and SKU. Profiled in a 1,000-store fan-out, decoding
    every entry into dicts was about three quarters of a client process's CPU. The
    rules are SimStore's (protocol.receive_catalog): a frame past the cursor asks for a
    resend, entries at or below it count as sent again, each frame's last seq is acked.
    Every other message goes through SimStore's handling unchanged."""

    async def read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                raw = await self.ws.recv(decode=False)
                try:
                    frame: CatalogFrame | None = CATALOG_FRAME.decode(raw)
                except msgspec.ValidationError:
                    frame = None
                if frame is None or frame.type != "catalog":
                    await self._handle(msgspec.json.decode(raw))
                    continue
                if frame.after > self.cat_cursor:
                    self.problems.append(f"catalogue frame after {frame.after}, "
                                         f"cursor {self.cat_cursor}")
                    await self.ws.send(_json.encode({"type": "catalog_resend",
                                                     "after": self.cat_cursor}))
                    continue
                events = frame.events
                fresh = [e for e in events if e.seq > self.cat_cursor]
                self.down_repeats += len(events) - len(fresh)
                if self.on_down is not None:
                    self.on_down(self, fresh, "catalog")
                self.cat_events += len(fresh)
                self.cat_cursor = max(self.cat_cursor, events[-1].seq)
                await self.ws.send(_json.encode({"type": "catalog_ack",
                                                 "upto": self.cat_cursor}))
        except ConnectionClosed as exc:
            self.problems.append(f"connection closed: {exc}")
        finally:
            self.closed = True
            self.ack_event.set()

    async def _handle(self, message: dict) -> None:
        """SimStore.read's handling of `ack` and `events` (the store's own stream)."""
        kind = message.get("type")
        if kind == "ack":
            now = time.perf_counter()
            self.acked_upto = max(self.acked_upto, message["upto"])
            while self.pending and self.pending[0][0] <= self.acked_upto:
                _last, sent, count = self.pending.popleft()
                self.acks.append(now - sent)
                self.acked_events += count
            self.ack_event.set()
        elif kind == "events":
            events = message["events"]
            if events[0]["seq"] > self.down_cursor + 1:
                self.problems.append(f"gap in hub events at {events[0]['seq']}")
                await self.ws.send(_json.encode({"type": "resend",
                                                 "from": self.down_cursor + 1}))
                return
            fresh = [e for e in events if e["seq"] > self.down_cursor]
            self.down_repeats += len(events) - len(fresh)
            if self.on_down is not None:
                self.on_down(self, fresh, "down")
            self.down_events += len(fresh)
            self.down_cursor = max(self.down_cursor, events[-1]["seq"])
            await self.ws.send(_json.encode({"type": "ack", "upto": self.down_cursor}))
        else:
            self.problems.append(f"unexpected {str(message)[:200]}")

# ---- what one store is checked for ---------------------------------------------------------


@dataclass
class DownCheck:
    """What one simulated store has been sent on the stream that carries the catalogue
    (its own stream on protocol 1, the shared catalogue log on 3): seqs must be
    consecutive and the products must arrive once each, in the hub's order."""

    skus: list[str]
    stream: str = "down"  # "down" (protocol 1) or "catalog" (protocol 3)
    last_seq: int = 0
    index: int = 0
    other_kinds: int = 0
    first_at: float = 0.0
    last_at: float = 0.0
    problems: list[str] = field(default_factory=list)

    def __call__(self, sim: SimStore, fresh: list[dict], stream: str = "down") -> None:
        if stream != self.stream:
            self.other_kinds += len(fresh)
            return
        self.last_at = time.perf_counter()
        if fresh and not self.first_at:
            self.first_at = self.last_at
        for event in fresh:
            if event["seq"] != self.last_seq + 1 and len(self.problems) < 5:
                self.problems.append(f"seq {event['seq']} after {self.last_seq}")
            self.last_seq = event["seq"]
            if event["kind"] != "product.upserted":
                self.other_kinds += 1
                continue
            sku = event["data"].get("sku")
            if (self.index >= len(self.skus) or sku != self.skus[self.index]) \
                    and len(self.problems) < 5:
                want = self.skus[self.index] if self.index < len(self.skus) else "nothing"
                self.problems.append(f"product {self.index + 1}: got {sku}, expected {want}")
            self.index += 1


async def connect_all(sims: list[SimStore], ws_url: str, wait_s: float) -> float:
    """Open every link, 50 handshakes at a time; each waits at most what is left of
    `wait_s` (at most 120 s)."""
    gate = asyncio.Semaphore(50)
    deadline = time.perf_counter() + wait_s

    async def open_one(sim: SimStore) -> None:
        async with gate:
            await sim.open(ws_url, max(1.0, min(120.0, deadline - time.perf_counter())))

    start = time.perf_counter()
    await asyncio.gather(*(open_one(sim) for sim in sims))
    return time.perf_counter() - start


async def keep_reading(sim: SimStore, ws_url: str, drops: list[str],
                       stop: asyncio.Event) -> None:
    """Read a store's link; when it drops, reconnect as app/sync/client.py does (same
    epoch, `applied_down` = its cursor; full jitter, uniform(0.2, 1) x a delay that
    starts at 1 s after a session that got going and doubles per failed try up to
    60 s), so the hub resumes where it was and sees the reconnect load real stores make."""
    rng = random.Random(sim.id)
    while True:
        await sim.read()
        if stop.is_set():
            return
        why = next((x for x in reversed(sim.problems) if x.startswith("connection closed")),
                   "closed")
        if why in sim.problems:
            sim.problems.remove(why)
        drops.append(f"{sim.id}: {why}")
        delay = 1.0
        while True:
            await asyncio.sleep(rng.uniform(0.2, 1.0) * delay)
            delay = min(delay * 2, 60.0)
            if stop.is_set():
                return
            try:
                await sim.open(ws_url, 60)
                break
            except Exception as exc:
                drops.append(f"{sim.id}: reconnect failed: {type(exc).__name__}: {exc}")


# ---- a share of the stores ---------------------------------------------------------------------


@dataclass
class Connected:
    seconds: float  # nan when some link could not be opened
    connected: int
    error: str = ""


@dataclass
class Progress:
    behind: int  # stores whose catalogue cursor is still short of their target
    last_at: float  # perf_counter of the newest catalogue entry at any store (0: none)
    first_at: float  # ... of the first entry at any store (nan: none)
    drops: int


@dataclass
class Closed:
    sent: int  # stock events the stores sent
    told: int  # ... the hub told them it acked
    behind: int  # stores still without their last stock ack
    example: str  # one of them
    drops: list[str]


class StoreGroup:
    """Some of the simulated stores, in the process that runs this object.
    `stores`: (index, store id, token); the index seeds each store's random numbers, so a
    store makes the same events whichever process runs it."""

    def __init__(self, stores: list[tuple[int, str, str]], proto: int) -> None:
        self.sims: list[SimStore] = []
        self.checks: dict[str, DownCheck] = {}
        for i, store_id, token in stores:
            sim = LeanSimStore(store_id, token, random.Random(i), proto=proto)
            self.checks[store_id] = sim.on_down = DownCheck(
                [], stream="catalog" if proto >= 3 else "down")
            self.sims.append(sim)
        self.drops: list[str] = []
        self.readers: list[asyncio.Task] = []
        self.stop_reading = asyncio.Event()
        self.targets: dict[str, int] = {}
        self.ws_url = ""
        self.closed: Closed | None = None

    @property
    def pids(self) -> list[int]:
        return []

    async def connect(self, ws_url: str, wait_s: float) -> Connected:
        self.ws_url = ws_url
        try:
            seconds = await connect_all(self.sims, ws_url, wait_s)
        except BudgetExceeded:
            raise
        except Exception as exc:
            return Connected(math.nan, sum(1 for s in self.sims if s.ws is not None),
                             f"{type(exc).__name__}: {str(exc)[:120]}")
        self.readers = [asyncio.create_task(keep_reading(sim, ws_url, self.drops,
                                                         self.stop_reading))
                        for sim in self.sims]
        return Connected(seconds, len(self.sims))

    async def expect(self, skus: list[str]) -> None:
        """The products every store must get, in this order."""
        for check in self.checks.values():
            check.skus = skus

    async def aim(self, targets: dict[str, int]) -> None:
        """The seq each store's catalogue cursor must reach (its own stream's last seq on
        protocol 1, the catalogue log's head on 3)."""
        self.targets = {s.id: targets[s.id] for s in self.sims}

    async def progress(self) -> Progress:
        checks = [self.checks[s.id] for s in self.sims]
        return Progress(
            behind=sum(1 for s, c in zip(self.sims, checks, strict=True)
                       if c.last_seq < self.targets[s.id]),
            last_at=max((c.last_at for c in checks), default=0.0),
            first_at=min((c.first_at for c in checks if c.first_at), default=math.nan),
            drops=len(self.drops))

    async def fan_problems(self, products: int, stopped: bool) -> list[str]:
        """Exactly-once and order after the fan-out: every product once (unless the run
        was stopped), no entry sent again, consecutive seqs, the hub's order."""
        problems = []
        for sim in self.sims:
            check = self.checks[sim.id]
            if check.index != products and not stopped:
                problems.append(f"{sim.id}: {check.index:,} product events, expected "
                                f"{products:,}")
            if sim.down_repeats:
                problems.append(f"{sim.id}: {sim.down_repeats} events sent again")
            problems += [f"{sim.id}: {p}" for p in check.problems + sim.problems]
        return problems

    async def drop_lines(self) -> list[str]:
        return list(self.drops)

    async def steady(self, hub_pid: int, limit_s: float, seconds: float, period: float,
                     batch: int, drain_s: float) -> LoadFigures:
        """bench/sync.py's run_load: one frame of `batch` stock events every `period` s per
        store (random phase) for `seconds`, then their last acks."""
        return await run_load(self.sims, hub_pid, Budget(limit_s), seconds,
                              lambda sim, until: sim.steady(period, batch, until),
                              drain_s=drain_s)

    async def close(self) -> Closed:
        if self.closed is None:
            self.stop_reading.set()
            await asyncio.gather(*(sim.ws.close() for sim in self.sims if sim.ws is not None),
                                 return_exceptions=True)
            for task in self.readers:
                task.cancel()
            await asyncio.gather(*self.readers, return_exceptions=True)
            behind = [sim for sim in self.sims if sim.acked_upto != sim.next_seq - 1]
            self.closed = Closed(
                sent=sum(sim.next_seq - 1 for sim in self.sims),
                told=sum(sim.acked_upto for sim in self.sims), behind=len(behind),
                example=(f"{behind[0].id}: acked {behind[0].acked_upto} of "
                         f"{behind[0].next_seq - 1}") if behind else "",
                drops=list(self.drops))
        return self.closed

    async def stop(self) -> None:
        await self.close()


# ---- ... in a child process ----------------------------------------------------------------


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


async def _recv(conn: Any) -> Any:
    """conn.recv() without blocking the event loop (nor a thread that a budget alarm
    could leave waiting)."""
    loop = asyncio.get_running_loop()
    while not conn.poll():
        ready: asyncio.Future[None] = loop.create_future()
        loop.add_reader(conn.fileno(), _wake, ready)
        try:
            await ready
        finally:
            loop.remove_reader(conn.fileno())
    return conn.recv()


def serve(conn: Any, stores: list[tuple[int, str, str]], proto: int) -> None:
    """A client process: one StoreGroup, each call from the bench answered with
    (True, result) or (False, the error)."""
    asyncio.run(_serve(conn, stores, proto))


async def _serve(conn: Any, stores: list[tuple[int, str, str]], proto: int) -> None:
    group = StoreGroup(stores, proto)
    try:
        while True:
            try:
                name, args = await _recv(conn)
            except (EOFError, OSError):
                return  # the bench is gone
            if name == "exit":
                await group.close()
                conn.send((True, None))
                return
            try:
                conn.send((True, await getattr(group, name)(*args)))
            except Exception as exc:
                conn.send((False, f"{type(exc).__name__}: {str(exc)[:500]}"))
    finally:
        await group.close()


class RemoteGroup:
    """A StoreGroup run by a child process (multiprocessing, spawn: a fresh interpreter,
    nothing of the bench's event loop)."""

    def __init__(self, stores: list[tuple[int, str, str]], proto: int, name: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=serve, args=(child, stores, proto), name=name,
                                daemon=True)
        self.proc.start()
        child.close()
        self.lock = asyncio.Lock()
        self.size = len(stores)

    @property
    def pids(self) -> list[int]:
        return [self.proc.pid] if self.proc.pid is not None else []

    async def call(self, name: str, *args: Any) -> Any:
        async with self.lock:
            self.conn.send((name, args))
            try:
                ok, value = await _recv(self.conn)
            except EOFError:
                raise RuntimeError(f"client process {self.proc.name} ended "
                                   f"(exit code {self.proc.exitcode})") from None
        if not ok:
            raise RuntimeError(f"client process {self.proc.name}: {name}: {value}")
        return value

    async def connect(self, ws_url: str, wait_s: float) -> Connected:
        return await self.call("connect", ws_url, wait_s)

    async def expect(self, skus: list[str]) -> None:
        await self.call("expect", skus)

    async def aim(self, targets: dict[str, int]) -> None:
        await self.call("aim", targets)

    async def progress(self) -> Progress:
        return await self.call("progress")

    async def fan_problems(self, products: int, stopped: bool) -> list[str]:
        return await self.call("fan_problems", products, stopped)

    async def drop_lines(self) -> list[str]:
        return await self.call("drop_lines")

    async def steady(self, hub_pid: int, limit_s: float, seconds: float, period: float,
                     batch: int, drain_s: float) -> LoadFigures:
        return await self.call("steady", hub_pid, limit_s, seconds, period, batch, drain_s)

    async def close(self) -> Closed:
        return await self.call("close")

    async def stop(self) -> None:
        """End the child: politely, then by its pid."""
        if self.proc.is_alive() and not self.lock.locked():
            try:
                self.conn.send(("exit", ()))
                await asyncio.wait_for(_recv(self.conn), 10)
            except (EOFError, OSError, TimeoutError):
                pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)
        self.conn.close()


Group = StoreGroup | RemoteGroup


def make_groups(tokens: dict[str, str], proto: int, procs: int) -> list[Group]:
    """The stores (sorted by id, the index seeding each one's random numbers) in this
    process (`procs` 0) or dealt round-robin over `procs` client processes."""
    stores = [(i, store_id, token) for i, (store_id, token) in enumerate(sorted(tokens.items()))]
    if procs <= 0:
        return [StoreGroup(stores, proto)]
    groups: list[Group] = []
    try:
        for k in range(procs):
            groups.append(RemoteGroup(stores[k::procs], proto, f"sim-stores-{k + 1}"))
    except BaseException:
        for group in groups:
            if isinstance(group, RemoteGroup):
                group.proc.terminate()
        raise
    return groups


def merge_load(parts: list[LoadFigures]) -> LoadFigures:
    """One steady run's figures from the groups' (they ran side by side)."""
    return LoadFigures(
        senders=sum(p.senders for p in parts), events=sum(p.events for p in parts),
        seconds=max(p.seconds for p in parts), acks=[a for p in parts for a in p.acks],
        cpu_percent=max(p.cpu_percent for p in parts),
        rss_max_kib=max(p.rss_max_kib for p in parts), stuck=sum(p.stuck for p in parts),
        dropped=sum(p.dropped for p in parts))
