"""Sync benchmark: store -> hub over `/sync/v1` on a real hub process, SQLite and PostgreSQL.

1. latency: a stock receive committed on a real store (`kirana serve`) until the hub's
   `GET /api/v1/inventory/{sku}` shows it (p50/p99; target p99 under 250 ms);
2. sustained: events/s on one link while the connected store's outbox is being filled
   (100 events per commit, faster than the link drains it);
3. catch-up: the store was offline with 100,000 queued events and comes back; time until
   the hub's `hub_stores.acked_up` reaches its last seq (target 5,000 events/s on SQLite);
4. many stores: 500 simulated stores (raw websocket clients in this process, speaking the
   protocol, acking the catalogue the hub sends them) on one hub process: connect time,
   hub memory (VmRSS), hub CPU with every link idle, then ack round trip and events/s at
   a steady rate (a frame of 5 events per store every 10 s) and flat out (50 stores keep
   one frame of 20 events in flight each).

After 2-3 the hub's tables must hold each event once and its stock levels must equal
the sum of the deltas. Run:

    .venv/bin/python bench/sync.py [--backend sqlite|postgresql|both] [--quick] [--markdown]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import random
import secrets
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (
    REPO,
    Budget,
    BudgetExceeded,
    busy_warning,
    format_table,
    load_average,
    machine_info,
    summarize,
    work_directory,
)

PACKAGES = ("litestar", "uvicorn", "websockets", "SQLAlchemy", "asyncpg", "msgspec", "httpx")
TARGET_LATENCY_P99_MS = 250.0
TARGET_CATCHUP_EPS = 5000.0  # into a SQLite hub
ADMIN_PIN = "1470"  # tests/sync/harness.make_hub's default
BINS_CSV = "code,zone,aisle,shelf,pick_seq\nA-01,A,1,1,1\n"
SKU_POOL = 2000  # distinct SKUs in the bulk events: about a kirana store's range
CATALOG_PRODUCTS = 3  # the hub's catalogue: each new store is sent these on connect

_json = msgspec.json.Encoder()


class BenchFailed(Exception):
    """A figure could not be trusted: events lost or applied twice, errors on a link."""


@dataclass
class Sizes:
    samples: int
    sustained: int
    catchup: int
    stores: int
    load_seconds: float
    period: float  # seconds between two frames of one simulated store
    batch: int  # events per frame at the steady rate
    flat_seconds: float
    flat_batch: int
    flat_stores: int  # how many of the stores send flat out (the others stay connected)


def sizes_for(args: argparse.Namespace) -> Sizes:
    quick = Sizes(samples=60, sustained=5000, catchup=20000, stores=100, load_seconds=20,
                  period=10.0, batch=5, flat_seconds=5, flat_batch=20, flat_stores=50)
    full = Sizes(samples=200, sustained=20000, catchup=100000, stores=500, load_seconds=30,
                 period=10.0, batch=5, flat_seconds=10, flat_batch=20, flat_stores=50)
    chosen = quick if args.quick else full
    for name in ("samples", "sustained", "catchup", "stores", "load_seconds", "period",
                 "batch", "flat_stores"):
        value = getattr(args, name)
        if value is not None:
            setattr(chosen, name, value)
    return chosen


# ---- events ------------------------------------------------------------------------------


def stock_moved(rng: random.Random, at: str) -> tuple[str, dict, int]:
    """(id, data, delta) of a `stock.moved` as app/stock/service.record_move writes it.
    Ids are random (uuid4): the hub skips an id it has seen from ANY store."""
    event_id = str(uuid.uuid4())
    delta = rng.choice((-3, -2, -1, 1, 1, 2, 3, 5))
    data = {"move_id": event_id, "sku": f"BENCH-{rng.randrange(SKU_POOL):05d}", "bin": "A-01",
            "delta": delta, "reason": "receive" if delta > 0 else "sale",
            "reference": "bench", "batch": None, "expiry": None, "at": at}
    return event_id, data, delta


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def fill_outbox(db_path: Path, n: int, rng: random.Random, chunk: int) -> tuple[int, int]:
    """Append n stock.moved events to a store's outbox, `chunk` per transaction, as a busy
    store's own commits would (WAL, synchronous=FULL like app/core/db.py). Returns
    (last seq, sum of the deltas)."""
    conn = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=10000")
        total = 0
        done = 0
        while done < n:
            rows = []
            at = now_iso()
            for _ in range(min(chunk, n - done)):
                event_id, data, delta = stock_moved(rng, at)
                total += delta
                rows.append((event_id, "stock.moved", at, _json.encode(data).decode()))
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO outbox (id, kind, at, data) VALUES (?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
            done += len(rows)
        last = conn.execute("SELECT max(seq) FROM outbox").fetchone()[0]
        return int(last), total
    finally:
        conn.close()


def commit_probe(folder: Path, n: int = 200) -> str:
    """p50/p99 of a one-row SQLite commit with synchronous=FULL in `folder`: the fsync the
    SQLite hub waits for on every frame. Other work on the disk makes it slower."""
    path = folder / "commit-probe.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS t (a INTEGER PRIMARY KEY, b TEXT)")
        times = []
        for _ in range(n):
            start = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (b) VALUES ('x')")
            conn.execute("COMMIT")
            times.append(time.perf_counter() - start)
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(f"{path}{suffix}").unlink()
    got = summarize(times)
    return f"p50 {got.p50:.1f} ms, p99 {got.p99:.1f} ms ({n} one-row commits, synchronous=FULL)"


# ---- looking into the hub's database -------------------------------------------------------


class HubProbe:
    """Reads the hub's cursors and totals straight from its database (SQLite file or
    PostgreSQL), for waiting on acks and checking exactly-once afterwards."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self._pg: Any = None
        self._lite: sqlite3.Connection | None = None

    async def __aenter__(self) -> HubProbe:
        if self.url.startswith("sqlite:///"):
            self._lite = sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=30,
                                         isolation_level=None)
        else:
            import asyncpg

            self._pg = await asyncpg.connect(self.url.replace("postgresql+asyncpg://",
                                                              "postgresql://", 1))
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._lite is not None:
            self._lite.close()
        if self._pg is not None:
            await self._pg.close()

    async def value(self, query: str, *params: Any) -> Any:
        if self._lite is not None:
            lite_query = query
            for i in range(len(params), 0, -1):
                lite_query = lite_query.replace(f"${i}", "?")
            return self._lite.execute(lite_query, params).fetchone()[0]
        return await self._pg.fetchval(query, *params)

    async def acked_up(self, store_id: str) -> int:
        return int(await self.value("SELECT acked_up FROM hub_stores WHERE id = $1", store_id))

    async def totals(self, store_id: str) -> tuple[int, int]:
        """(events the hub keeps from the store, sum of its on-hand over all SKUs)."""
        events = await self.value("SELECT count(*) FROM hub_store_events WHERE store_id = $1",
                                  store_id)
        on_hand = await self.value(
            "SELECT coalesce(sum(on_hand), 0) FROM hub_stock_levels WHERE store_id = $1",
            store_id)
        return int(events), int(on_hand)

    async def wait_acked(self, store_id: str, upto: int, budget: Budget, *,
                         within: float, interval: float = 0.01) -> float:
        """Poll until the hub acked `upto`; returns the perf_counter time it was seen."""
        deadline = time.perf_counter() + min(within, budget.remaining())
        while True:
            if await self.acked_up(store_id) >= upto:
                return time.perf_counter()
            if time.perf_counter() > deadline:
                got = await self.acked_up(store_id)
                raise BenchFailed(f"hub acked {got:,} of {upto:,} events of {store_id} "
                                  f"after {within:.0f} s")
            await asyncio.sleep(interval)


# ---- PostgreSQL ------------------------------------------------------------------------------


def pg_admin_dsn(args: argparse.Namespace) -> str:
    return args.pg_dsn or os.environ.get("KIRANA_TEST_PG",
                                         "postgresql://postgres@127.0.0.1:5432/postgres")


async def _pg_admin(dsn: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def pg_reachable(dsn: str) -> str:
    """'' when a PostgreSQL server answers at dsn, else why not."""
    try:
        asyncio.run(_pg_admin(dsn, "SELECT 1"))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def pg_create(dsn: str) -> str:
    """A new empty database for this run; returns the hub's SQLAlchemy URL."""
    name = f"kirana_bench_sync_{secrets.token_hex(4)}"
    asyncio.run(_pg_admin(dsn, f'CREATE DATABASE "{name}"'))
    base = dsn.split("://", 1)[1].rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{base}/{name}"


def pg_drop(dsn: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    asyncio.run(_pg_admin(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# ---- the hub process: memory and CPU -------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process in KiB."""
    out = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.cpu0 = cpu_seconds(pid)
        self.wall0 = time.perf_counter()

    def percent(self) -> float:
        """CPU used since start, in % of one core."""
        wall = time.perf_counter() - self.wall0
        return 100 * (cpu_seconds(self.pid) - self.cpu0) / wall if wall > 0 else float("nan")


# ---- 1. latency ------------------------------------------------------------------------------


async def hub_login(hub: Any) -> httpx.AsyncClient:
    """An HTTP client signed in to the hub as the admin: harness.Hub.client's sign-in
    (name and password, then a TOTP code), its cookies handed to an async client."""
    signed_in = await asyncio.to_thread(hub.client)
    client = httpx.AsyncClient(base_url=hub.proc.url, timeout=10, trust_env=False,
                               cookies=signed_in.cookies)
    signed_in.close()
    return client


async def measure_latency(hub: Any, database_url: str, store_db: Path, store_id: str,
                          sku: str, samples: int, budget: Budget, poll: float) -> dict[str, list]:
    """Commit a receive of 1 on the store, poll the hub's stock API until it shows.
    Returns lists of seconds: "view" (commit -> the API shows it), "applied" (commit ->
    the hub's `hub_stores.last_applied_at` of the frame that carried it; same clock) and
    "poll" (one API request)."""
    from app.core.db import Database
    from app.stock import service as stock

    db = Database(store_db)
    rng = random.Random(11)
    out: dict[str, list] = {"view": [], "applied": [], "poll": []}
    try:
        await stock.load_bins_csv(db, BINS_CSV)
        with sqlite3.connect(store_db) as conn:
            product_id = conn.execute("SELECT id FROM products WHERE sku = ?", (sku,)).fetchone()[0]
        client = await hub_login(hub)
        try:
            async def on_hand() -> int:
                start = time.perf_counter()
                response = await client.get(f"/api/v1/inventory/{sku}")
                out["poll"].append(time.perf_counter() - start)
                response.raise_for_status()
                return next(s["on_hand"] for s in response.json()["stores"]
                            if s["store"] == store_id)

            expected = await on_hand()
            async with HubProbe(database_url) as probe:
                for i in range(samples + 5):  # the first 5 warm up
                    budget.remaining()
                    await asyncio.sleep(rng.uniform(0.0, 0.1))  # random phase vs the 50 ms poll
                    await stock.receive(db, product_id=product_id, bin_code="A-01", quantity=1,
                                        user_id=None, reference="bench")
                    committed, committed_at = time.perf_counter(), datetime.now(UTC)
                    expected += 1
                    while True:
                        seen = await on_hand()
                        if seen == expected:
                            break
                        if seen > expected:
                            raise BenchFailed(f"hub shows {seen} on hand, expected {expected}: "
                                              "a stock event was applied twice")
                        if time.perf_counter() - committed > 10:
                            raise BenchFailed(f"hub still shows {seen} (expected {expected}) "
                                              "10 s after the commit")
                        await asyncio.sleep(poll)
                    if i >= 5:
                        out["view"].append(time.perf_counter() - committed)
                        applied = datetime.fromisoformat(await probe.value(
                            "SELECT last_applied_at FROM hub_stores WHERE id = $1", store_id))
                        out["applied"].append((applied - committed_at).total_seconds())
        finally:
            await client.aclose()
        return out
    finally:
        await db.dispose()


# ---- 2. sustained, 3. catch-up ---------------------------------------------------------------


@dataclass
class LinkRun:
    events: int
    seconds: float
    write_seconds: float = 0.0
    startup_seconds: float = 0.0
    total_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("nan")


async def measure_sustained(url: str, store_db: Path, store_id: str, n: int,
                            budget: Budget) -> tuple[LinkRun, int]:
    """Fill the connected store's outbox (100 events per commit, as fast as SQLite
    takes them) while the link drains it; time from the first commit to the hub's
    ack of the last event. Returns (run, sum of deltas written)."""
    async with HubProbe(url) as probe:
        out: dict[str, Any] = {}

        def writer() -> None:
            try:
                t0 = time.perf_counter()
                out["last"], out["delta"] = fill_outbox(store_db, n, random.Random(22), 100)
                out["write"] = time.perf_counter() - t0
            except BaseException as exc:
                out["error"] = exc

        start = time.perf_counter()
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        while thread.is_alive():
            await asyncio.sleep(0.01)
            budget.remaining()
        if "error" in out:
            raise out["error"]
        done = await probe.wait_acked(store_id, out["last"], budget, within=300)
    return LinkRun(n, done - start, write_seconds=out["write"]), out["delta"]


async def watch_catchup(url: str, store_id: str, last: int, budget: Budget,
                        started: float) -> tuple[float, int, float]:
    """After the store answered /healthz: (when it did, acked then, when all acked)."""
    async with HubProbe(url) as probe:
        ready = time.perf_counter()
        acked_at_ready = await probe.acked_up(store_id)
        done = await probe.wait_acked(store_id, last, budget, within=600)
    return ready - started, acked_at_ready, done


async def check_totals(url: str, store_id: str) -> tuple[int, int, int]:
    async with HubProbe(url) as probe:
        events, on_hand = await probe.totals(store_id)
        return events, on_hand, await probe.acked_up(store_id)


# ---- 4. many simulated stores ----------------------------------------------------------------


async def register_stores(url: str, count: int) -> dict[str, str]:
    """add_store in-process against the hub database (hub stopped): {store id: token}."""
    from app.hub import service as hub_service
    from app.hub.db import open_hub_database

    db = open_hub_database(url)
    tokens = {}
    try:
        for i in range(count):
            store_id = f"B{i:04d}"
            made = await hub_service.add_store(db, store_id, name=f"Bench {store_id}",
                                               kind="counter", lat=12.9, lon=77.6,
                                               pincodes="560038")
            tokens[store_id] = made.token
    finally:
        await db.dispose()
    return tokens


@dataclass
class SimStore:
    """One simulated store: a raw websocket speaking sync protocol v1, or v3 (`proto`
    3: products come from the hub's shared catalogue log in `catalog` frames, issue #24)."""

    id: str
    token: str
    rng: random.Random
    ws: Any = None
    next_seq: int = 1
    down_cursor: int = 0
    down_events: int = 0
    pending: collections.deque = field(default_factory=collections.deque)  # (last seq, sent)
    acks: list[float] = field(default_factory=list)
    acked_events: int = 0
    acked_upto: int = 0
    sent_events: int = 0
    problems: list[str] = field(default_factory=list)
    ack_event: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    down_repeats: int = 0  # hub -> store events received again (at or below the cursor)
    # Called with each frame's new hub -> store events before the cursor moves past them
    # (bench/hub_scale.py checks every store gets the catalogue once, in order).
    on_down: Any = None
    epoch: str = ""  # made at the first open and kept, as a store's database keeps it
    proto: int = 1  # 1, or 3 (the catalogue log)
    cat_cursor: int = 0  # the last catalogue-log seq applied (proto 3)
    cat_events: int = 0

    async def open(self, ws_url: str, wait_s: float) -> None:
        """Connect and say hello. Opening again after a drop resumes like a store's
        reconnect: the same epoch, `applied_down` = the hub events applied so far, and
        the next stock event after what the hub acked (frames it never acked are given
        up: their seqs go to new events)."""
        from websockets.asyncio.client import connect

        self.epoch = self.epoch or secrets.token_hex(8)
        self.ws = await connect(ws_url, additional_headers={"Authorization": f"Bearer {self.token}"},
                                open_timeout=wait_s, max_size=4 * 1024 * 1024, compression=None,
                                ping_interval=20, ping_timeout=60, close_timeout=5)
        hello = {"type": "hello", "proto": 1, "store_id": self.id, "epoch": self.epoch,
                 "applied_down": self.down_cursor}
        if self.proto >= 3:
            hello.update(proto_max=3, applied_catalog=self.cat_cursor)
        await self.ws.send(_json.encode(hello))
        welcome = msgspec.json.decode(await asyncio.wait_for(self.ws.recv(), wait_s))
        if welcome.get("type") != "welcome":
            raise BenchFailed(f"{self.id}: expected welcome, got {welcome}")
        if self.proto >= 3 and (welcome.get("proto") != 3
                                or welcome.get("catalog_after") != self.cat_cursor):
            raise BenchFailed(f"{self.id}: a v3 welcome from our cursor expected, got "
                                  f"{welcome}")
        self.acked_upto = welcome["acked_up"]
        self.next_seq = self.acked_upto + 1
        self.pending.clear()
        self.closed = False

    async def read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in self.ws:
                message = msgspec.json.decode(raw)
                kind = message.get("type")
                if kind == "ack":
                    now = time.perf_counter()
                    self.acked_upto = max(self.acked_upto, message["upto"])
                    while self.pending and self.pending[0][0] <= self.acked_upto:
                        last, sent, count = self.pending.popleft()
                        self.acks.append(now - sent)
                        self.acked_events += count
                    self.ack_event.set()
                elif kind == "events":
                    events = message["events"]
                    if events[0]["seq"] > self.down_cursor + 1:
                        self.problems.append(f"gap in hub events at {events[0]['seq']}")
                        await self.ws.send(_json.encode({"type": "resend",
                                                         "from": self.down_cursor + 1}))
                        continue
                    fresh = [e for e in events if e["seq"] > self.down_cursor]
                    self.down_repeats += len(events) - len(fresh)
                    if self.on_down is not None:
                        self.on_down(self, fresh, "down")
                    self.down_events += len(fresh)
                    self.down_cursor = max(self.down_cursor, events[-1]["seq"])
                    await self.ws.send(_json.encode({"type": "ack", "upto": self.down_cursor}))
                elif kind == "catalog":  # protocol 3: the rule of protocol.receive_catalog
                    if message["after"] > self.cat_cursor:
                        self.problems.append(f"catalogue frame after {message['after']}, "
                                             f"cursor {self.cat_cursor}")
                        await self.ws.send(_json.encode({"type": "catalog_resend",
                                                         "after": self.cat_cursor}))
                        continue
                    events = message["events"]
                    fresh = [e for e in events if e["seq"] > self.cat_cursor]
                    self.down_repeats += len(events) - len(fresh)
                    if self.on_down is not None:
                        self.on_down(self, fresh, "catalog")
                    self.cat_events += len(fresh)
                    self.cat_cursor = max(self.cat_cursor, events[-1]["seq"])
                    await self.ws.send(_json.encode({"type": "catalog_ack",
                                                     "upto": self.cat_cursor}))
                else:
                    self.problems.append(f"unexpected {str(message)[:200]}")
        except ConnectionClosed as exc:
            self.problems.append(f"connection closed: {exc}")
        finally:
            self.closed = True
            self.ack_event.set()

    async def send_frame(self, count: int) -> None:
        at = now_iso()
        events = []
        for _ in range(count):
            event_id, data, _delta = stock_moved(self.rng, at)
            events.append({"seq": self.next_seq, "id": event_id, "kind": "stock.moved",
                           "at": at, "data": data})
            self.next_seq += 1
        self.pending.append((self.next_seq - 1, time.perf_counter(), count))
        self.sent_events += count
        from websockets.exceptions import ConnectionClosed

        try:
            await self.ws.send(_json.encode({"type": "events", "events": events}))
        except ConnectionClosed as exc:
            self.problems.append(f"send failed: {exc}")
            self.closed = True

    async def steady(self, period: float, batch: int, until: float) -> None:
        """One frame of `batch` events every `period` s (random phase) until `until`."""
        loop = asyncio.get_running_loop()
        due = loop.time() + self.rng.uniform(0, period)
        while due < until and not self.closed:
            await asyncio.sleep(max(0.0, due - loop.time()))
            await self.send_frame(batch)
            due += period

    async def flat_out(self, batch: int, until: float) -> None:
        """One frame in flight at a time: the next goes as soon as the last is acked."""
        loop = asyncio.get_running_loop()
        while loop.time() < until and not self.closed:
            self.ack_event.clear()
            await self.send_frame(batch)
            while self.pending and not self.closed:
                await self.ack_event.wait()
                self.ack_event.clear()

    async def drained(self, wait_s: float) -> bool:
        deadline = time.perf_counter() + wait_s
        while self.pending and not self.closed and time.perf_counter() < deadline:
            self.ack_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ack_event.wait(), max(0.01, deadline -
                                                                   time.perf_counter()))
        return not self.pending


@dataclass
class LoadFigures:
    senders: int
    events: int  # acked
    seconds: float
    acks: list[float]
    cpu_percent: float
    rss_max_kib: int
    stuck: int = 0  # senders still without their last ack at the end
    dropped: int = 0  # links that closed during the run

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("nan")


@dataclass
class ManyFigures:
    stores: int
    connect_seconds: float
    rss_idle_kib: int  # fresh hub, before any store connects
    rss_connected_kib: int
    idle_cpu_percent: float
    steady: LoadFigures | None = None
    flat: LoadFigures | None = None
    rss_peak_kib: int = 0
    sent: int = 0
    problems: list[str] = field(default_factory=list)


async def run_load(sims: list[SimStore], pid: int, budget: Budget, seconds: float,
                   make: Any, drain_s: float = 60) -> LoadFigures:
    """Run make(sim, until) on each of `sims` for `seconds`, then wait for their last acks
    (at most `drain_s`). Figures only: links that drop or stall are counted, not fatal."""
    closed_before = sum(sim.closed for sim in sims)
    for sim in sims:
        sim.acks.clear()
        sim.acked_events = 0
    meter = CpuMeter(pid)
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    until = loop.time() + min(seconds, budget.remaining())
    rss_max = 0

    async def sample_rss() -> None:
        nonlocal rss_max
        while True:
            rss_max = max(rss_max, proc_status(pid).get("VmRSS", 0))
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample_rss())
    try:
        await asyncio.gather(*(make(sim, until) for sim in sims))
        drained = await asyncio.gather(*(sim.drained(min(drain_s, budget.remaining()))
                                         for sim in sims))
        end = time.perf_counter()
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    return LoadFigures(
        senders=len(sims), events=sum(sim.acked_events for sim in sims), seconds=end - start,
        acks=[a for sim in sims for a in sim.acks], cpu_percent=meter.percent(),
        rss_max_kib=rss_max, stuck=sum(1 for d in drained if not d),
        dropped=sum(sim.closed for sim in sims) - closed_before)


async def simulate_stores(ws_url: str, database_url: str, tokens: dict[str, str], pid: int,
                          sizes: Sizes, budget: Budget, rss_idle: int, flat: bool) -> ManyFigures:
    sims = [SimStore(store_id, token, random.Random(i))
            for i, (store_id, token) in enumerate(sorted(tokens.items()))]
    gate = asyncio.Semaphore(50)

    async def open_one(sim: SimStore) -> None:
        async with gate:
            await sim.open(ws_url, min(60, budget.remaining()))

    start = time.perf_counter()
    await asyncio.gather(*(open_one(sim) for sim in sims))
    connect_seconds = time.perf_counter() - start
    readers = [asyncio.create_task(sim.read()) for sim in sims]
    try:
        # Each new store is sent the catalogue; wait until every store has it and the hub
        # has recorded every store's ack, so that "idle" below is idle.
        deadline = time.perf_counter() + min(120, budget.remaining())
        while any(sim.down_events < CATALOG_PRODUCTS for sim in sims):
            if time.perf_counter() > deadline:
                behind = sum(1 for sim in sims if sim.down_events < CATALOG_PRODUCTS)
                raise BenchFailed(f"{behind} simulated stores did not get the catalogue")
            await asyncio.sleep(0.1)
        async with HubProbe(database_url) as probe:
            while await probe.value("SELECT count(*) FROM hub_stores WHERE id LIKE 'B%' "
                                    "AND down_acked < down_seq"):
                if time.perf_counter() > deadline:
                    raise BenchFailed("the hub did not record the simulated stores' acks")
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        rss_connected = proc_status(pid).get("VmRSS", 0)
        meter = CpuMeter(pid)
        await asyncio.sleep(min(5.0, budget.remaining()))
        figures = ManyFigures(len(sims), connect_seconds, rss_idle, rss_connected,
                              meter.percent())
        figures.steady = await run_load(
            sims, pid, budget, sizes.load_seconds,
            lambda sim, until: sim.steady(sizes.period, sizes.batch, until))
        if flat:
            senders = [sim for sim in sims if not sim.closed][:sizes.flat_stores]
            figures.flat = await run_load(
                senders, pid, budget, sizes.flat_seconds,
                lambda sim, until: sim.flat_out(sizes.flat_batch, until))
        figures.rss_peak_kib = proc_status(pid).get("VmHWM", 0)
        figures.sent = sum(sim.next_seq - 1 for sim in sims)
        for sim in sims:
            if sim.acked_upto != sim.next_seq - 1:
                sim.problems.append(f"hub acked {sim.acked_upto}, sent {sim.next_seq - 1}")
            figures.problems += [f"{sim.id}: {p}" for p in sim.problems]
        return figures
    finally:
        await asyncio.gather(*(sim.ws.close() for sim in sims if sim.ws is not None),
                             return_exceptions=True)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


async def hub_sums(url: str, store_ids: list[str]) -> tuple[int, int]:
    """(events the hub kept from these stores, sum of their acked_up)."""
    async with HubProbe(url) as probe:
        events = acked = 0
        for store_id in store_ids:
            got, _ = await probe.totals(store_id)
            events += got
            acked += await probe.acked_up(store_id)
    return events, acked


# ---- one backend -----------------------------------------------------------------------------


@dataclass
class BackendFigures:
    backend: str
    latency: dict[str, list] = field(default_factory=dict)
    sustained: LinkRun | None = None
    catchup: LinkRun | None = None
    many: ManyFigures | None = None
    hub_tracebacks: int = 0


def write_catalog(path: Path, count: int) -> list[str]:
    """The first `count` active piece products of the demo catalogue; returns their SKUs."""
    import csv
    import io

    text = (REPO / "store_config" / "demo_catalog.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    chosen = [r for r in rows if r["unit"] == "piece" and r["active"] == "yes"][:count]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(chosen)
    path.write_text(out.getvalue(), encoding="utf-8")
    return [r["sku"] for r in chosen]


def production_sync_settings(config: Path) -> None:
    """The harness's hub.toml has test timings (offline after 10 s, which makes every link
    write a heartbeat each 3.3 s); use store_config/hub.toml's instead."""
    text = config.read_text(encoding="utf-8")
    fixed = (text.replace("offline_after_seconds = 10", "offline_after_seconds = 60")
             .replace("hello_timeout_seconds = 5", "hello_timeout_seconds = 10"))
    if "offline_after_seconds = 60" not in fixed:
        raise RuntimeError(f"could not set offline_after_seconds = 60 in {config}")
    config.write_text(fixed, encoding="utf-8")


def wait_until(predicate: Any, budget: Budget, timeout: float, what: str) -> None:
    deadline = time.monotonic() + min(timeout, budget.remaining())
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def run_backend(backend: str, root: Path, template: Path, args: argparse.Namespace,
                sizes: Sizes, budget: Budget) -> BackendFigures:
    from tests.sync.harness import kirana, make_hub, make_store

    figures = BackendFigures(backend)
    dsn = pg_admin_dsn(args)
    url = pg_create(dsn) if backend == "postgresql" else ""
    try:
        t0 = time.perf_counter()
        hub = make_hub(root / "hub", url)
        production_sync_settings(hub.config)
        skus = write_catalog(root / "catalog.csv", CATALOG_PRODUCTS)
        kirana("hub", "catalog-import", "--config", str(hub.config), str(root / "catalog.csv"))
        token = hub.add_store("S1")
        store = make_store(root / "s1", "S1", hub.ws_url, token, template)
        print(f"[{backend}] hub {hub.proc.url} ({hub.database_url.split('@')[-1]}), "
              f"store S1, set up in {time.perf_counter() - t0:.1f} s")
        try:
            hub.proc.start()
            try:
                store.proc.start()
                wait_until(lambda: store.sql("SELECT count(*) FROM products")[0][0] >= len(skus),
                           budget, 60, "the catalogue to reach the store")
                figures.latency = asyncio.run(measure_latency(
                    hub, hub.database_url, store.db_path, "S1", skus[0],
                    sizes.samples, budget, args.poll_ms / 1000))
                lat = summarize(figures.latency["view"])
                print(f"[{backend}] latency: {lat.n} samples, p50 {lat.p50:.1f} ms, "
                      f"p99 {lat.p99:.1f} ms")

                before_events, before_on_hand, before_acked = asyncio.run(
                    check_totals(hub.database_url, "S1"))
                figures.sustained, delta_sum = asyncio.run(measure_sustained(
                    hub.database_url, store.db_path, "S1", sizes.sustained, budget))
                print(f"[{backend}] sustained: {sizes.sustained:,} events in "
                      f"{figures.sustained.seconds:.1f} s = {figures.sustained.rate:,.0f}/s "
                      f"(outbox written in {figures.sustained.write_seconds:.1f} s)")
            finally:
                store.proc.stop()

            rng = random.Random(33)
            t_fill = time.perf_counter()
            last, more = fill_outbox(store.db_path, sizes.catchup, rng, 5000)
            delta_sum += more
            fill_seconds = time.perf_counter() - t_fill
            started = time.perf_counter()
            try:
                store.proc.start()
                startup, acked_at_ready, done = asyncio.run(
                    watch_catchup(hub.database_url, "S1", last, budget, started))
            finally:
                store.proc.stop()
            caught = last - acked_at_ready
            figures.catchup = LinkRun(caught, done - started - startup, write_seconds=fill_seconds,
                                      startup_seconds=startup, total_seconds=done - started)
            print(f"[{backend}] catch-up: {sizes.catchup:,} queued events; store up after "
                  f"{startup:.1f} s ({acked_at_ready - before_acked - sizes.sustained:,} acked by "
                  f"then), the rest {caught:,} in {figures.catchup.seconds:.1f} s = "
                  f"{figures.catchup.rate:,.0f}/s")
            events, on_hand, acked = asyncio.run(check_totals(hub.database_url, "S1"))
            want = sizes.sustained + sizes.catchup
            if (events - before_events, on_hand - before_on_hand, acked - before_acked) != \
                    (want, delta_sum, want):
                raise BenchFailed(
                    f"hub totals for S1 do not add up: {events - before_events:,} events kept "
                    f"(want {want:,}), on-hand change {on_hand - before_on_hand:,} (want "
                    f"{delta_sum:,}), acked {acked - before_acked:,} (want {want:,})")
            print(f"[{backend}] check: the hub kept each of the {want:,} events once "
                  "and its stock levels match their deltas")

            if sizes.stores > 0:
                figures.many = run_many(hub, backend, sizes, args, budget)
        finally:
            hub.proc.stop()
            log = (root / "hub" / "hub.log").read_text(errors="replace")
            figures.hub_tracebacks = log.count("Traceback")
            if figures.hub_tracebacks:
                print(f"[{backend}] the hub log has {figures.hub_tracebacks} tracebacks: "
                      f"{root / 'hub' / 'hub.log'}")
    finally:
        if url:
            pg_drop(dsn, url)
    return figures


def run_many(hub: Any, backend: str, sizes: Sizes, args: argparse.Namespace,
             budget: Budget) -> ManyFigures:
    hub.proc.stop()
    t0 = time.perf_counter()
    tokens = asyncio.run(register_stores(hub.database_url, sizes.stores))
    print(f"[{backend}] registered {sizes.stores} stores in-process in "
          f"{time.perf_counter() - t0:.1f} s; restarting the hub")
    hub.proc.start()
    pid = hub.proc.popen.pid
    time.sleep(1.0)
    rss_idle = proc_status(pid).get("VmRSS", 0)
    many = asyncio.run(simulate_stores(hub.ws_url, hub.database_url, tokens, pid, sizes, budget,
                                       rss_idle, flat=not args.no_flat_out))
    events, acked = asyncio.run(hub_sums(hub.database_url, sorted(tokens)))
    if events != acked or acked > many.sent:
        many.problems.append(f"the simulated stores sent {many.sent:,} events; the hub kept "
                             f"{events:,} and acked {acked:,}")
    for label, load in (("steady", many.steady), ("flat out", many.flat)):
        if load is None:
            continue
        acks = summarize(load.acks)
        print(f"[{backend}] {sizes.stores} stores, {label} ({load.senders} sending): "
              f"{load.rate:,.0f} events/s, ack p50 {acks.p50:,.0f} ms, p99 {acks.p99:,.0f} ms"
              + (f"; {load.dropped} links DROPPED" if load.dropped else "")
              + (f"; {load.stuck} never got their last ack" if load.stuck else ""))
    if many.problems:
        print(f"[{backend}] PROBLEMS on the simulated links ({len(many.problems)}), e.g.:")
        for line in many.problems[:6]:
            print("   ", line[:300])
    return many


# ---- report ------------------------------------------------------------------------------


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f}" if kib else "-"


def report(results: list[BackendFigures], sizes: Sizes, markdown: bool) -> None:
    def show(title: str, headers: list[str], rows: list[list[object]]) -> None:
        print(f"\n{title}")
        print(format_table(headers, rows))
        if markdown:
            print()
            print(format_table(headers, rows, markdown=True))

    rows = []
    for r in results:
        for label, key in (("commit -> API shows it", "view"),
                           ("commit -> hub applied", "applied"),
                           ("one API poll", "poll")):
            lat = summarize(r.latency[key])
            rows.append([f"{r.backend}: {label}", lat.n, lat.p50, lat.p90, lat.p99, lat.max])
    show("1. store commit -> hub stock view (GET /api/v1/inventory/{sku}), ms",
         ["hub", "n", "p50", "p90", "p99", "max"], rows)

    rows = []
    for r in results:
        s, c = r.sustained, r.catchup
        rows.append([r.backend, s.events, s.seconds, round(s.rate), c.events, c.seconds,
                     round(c.rate), c.startup_seconds, c.total_seconds])
    show("2-3. one store link (stock.moved events, SKUs from a pool of "
         f"{SKU_POOL:,})",
         ["hub", "sustained n", "s", "events/s", "catch-up n", "s", "events/s",
          "store start s", "total s"], rows)

    rows = []
    for r in results:
        m = r.many
        if m is None:
            continue
        for label, load in (("steady", m.steady), ("flat out", m.flat)):
            if load is None:
                continue
            acks = summarize(load.acks)
            rows.append([f"{r.backend} {label}", m.stores, load.senders, m.connect_seconds,
                         mib(m.rss_idle_kib), mib(m.rss_connected_kib), mib(load.rss_max_kib),
                         m.idle_cpu_percent, load.cpu_percent, round(load.rate), acks.n,
                         acks.p50, acks.p99, acks.max, load.dropped])
    if rows:
        show(f"4. simulated stores on one hub process (steady: every store sends a frame of "
             f"{sizes.batch} events every {sizes.period:g} s; flat out: {sizes.flat_stores} of "
             f"them keep one frame of {sizes.flat_batch} in flight, the rest stay connected)",
             ["hub", "stores", "sending", "connect s", "RSS0 MiB", "RSS idle", "RSS load",
              "idle CPU%", "load CPU%", "events/s", "acks", "ack p50", "ack p99", "ack max",
              "dropped"], rows)
    print()
    for r in results:
        p99 = summarize(r.latency["view"]).p99
        verdict = "met" if p99 < TARGET_LATENCY_P99_MS else "MISSED"
        line = (f"{r.backend}: latency p99 {p99:.0f} ms vs target "
                f"{TARGET_LATENCY_P99_MS:.0f} ms: {verdict}")
        if r.backend == "sqlite":
            rate = r.catchup.rate
            line += (f"; catch-up {rate:,.0f} events/s vs target {TARGET_CATCHUP_EPS:,.0f}: "
                     f"{'met' if rate >= TARGET_CATCHUP_EPS else 'MISSED'}")
        print(line)


# ---- main --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--quick", action="store_true",
                   help="smaller run (60 samples, 5,000 + 20,000 events, 100 stores)")
    p.add_argument("--samples", type=int, help="latency samples (200)")
    p.add_argument("--sustained", type=int, help="events for the sustained run (20,000)")
    p.add_argument("--catchup", type=int, help="events queued while offline (100,000)")
    p.add_argument("--stores", type=int, help="simulated stores, 0 to skip (500)")
    p.add_argument("--load-seconds", type=float, help="steady-rate run length (30)")
    p.add_argument("--period", type=float, help="seconds between a store's frames (10)")
    p.add_argument("--batch", type=int, help="events per frame at the steady rate (5)")
    p.add_argument("--flat-stores", type=int,
                   help="stores that send flat out, one frame of 20 in flight each (50)")
    p.add_argument("--no-flat-out", action="store_true", help="skip the flat-out run")
    p.add_argument("--poll-ms", type=float, default=5.0,
                   help="pause between two polls of the hub's stock API (5)")
    p.add_argument("--pg-dsn", default="",
                   help="PostgreSQL server to create the bench database on (default "
                        "$KIRANA_TEST_PG or postgresql://postgres@127.0.0.1:5432/postgres)")
    p.add_argument("--markdown", action="store_true", help="tables as Markdown too")
    p.add_argument("--workdir", help="use this (empty or new) directory; always kept")
    p.add_argument("--keep", action="store_true", help="keep the temp directory")
    p.add_argument("--time-limit", type=float, default=900, help="seconds in total (900)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sizes_for(args)
    budget = Budget(args.time_limit)
    budget.arm()
    try:
        with work_directory(args.workdir, args.keep, prefix="kirana-bench-sync-") as root:
            return run(args, sizes, root, budget)
    except (BudgetExceeded, TimeoutError) as exc:
        print(f"ABORTED: {str(exc) or 'time limit reached while measuring'}", file=sys.stderr)
        return 3
    except BenchFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"SETUP FAILED: {exc}", file=sys.stderr)
        return 2
    finally:
        Budget.disarm()


def run(args: argparse.Namespace, sizes: Sizes, root: Path, budget: Budget) -> int:
    from app.core import migrate

    print(f"Kirana sync bench, {date.today().isoformat()}, work dir {root}")
    print(format_table(["machine", ""], machine_info(PACKAGES), numeric=False))
    warning = busy_warning()
    if warning:
        print(warning)
    print("Hub, store, and this process (the load, the pollers, the simulated stores) share "
          "the machine's CPUs.")
    print(f"SQLite commit on this disk: {commit_probe(root)}\n")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    template = root / "template.db"
    migrate.upgrade(template)
    results = []
    for backend in backends:
        if backend == "postgresql":
            why = pg_reachable(pg_admin_dsn(args))
            if why:
                print("!" * 78 + f"\n!! PostgreSQL is NOT reachable at "
                      f"{pg_admin_dsn(args).split('@')[-1]} ({why[:120]}):\n!! the "
                      "PostgreSQL figures are SKIPPED.\n" + "!" * 78)
                continue
        results.append(run_backend(backend, root / backend, template, args, sizes, budget))
    if results:
        report(results, sizes, args.markdown)
    print(f"\nwhole run: {budget.elapsed():.0f} s; load average at the end {load_average()}; "
          f"SQLite commit {commit_probe(root)}")
    bad = [r.backend for r in results if r.hub_tracebacks or (r.many and r.many.problems)]
    if bad:
        print(f"FAILED: tracebacks in the hub log or problems on the simulated links "
              f"({', '.join(bad)}); see above")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
