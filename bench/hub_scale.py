"""Hub at chain scale (issue #24), the measurement baseline: N simulated stores on one
real `kirana hub` process, SQLite and PostgreSQL.

For each N of `--stores` (ascending; a fresh hub and database for each):

1. memory and idle CPU: hub RSS fresh, then with all N stores connected (KiB per
   connected store), hub CPU with every link idle (heartbeats, pings), time to connect all;
2. catalogue fan-out: `kirana hub catalog-import` of P generated products while the N
   stores are connected; every simulated store acks every frame. Time until the LAST
   store has every event, events/s delivered, hub DB growth in bytes (SQLite file + WAL;
   PostgreSQL pg_database_size), hub_outbox rows written (today one per product per
   store). P is `--products` unless P x N would pass `--max-fanout`: then P is cut and
   the 100,000-product figures are projected from the measured rate (formula printed);
3. steady stock traffic: `stock.moved` frames from all stores at `--events-per-second`
   in total; hub CPU per event, ack round trip.

Checks (exit 1 otherwise): every store got every hub event exactly once, consecutive
seqs, the products in the hub's order (by SKU); every stock event acked and kept once
at the hub; no traceback in the hub log. A step that runs out of time or memory stops
the curve there, and what was measured is reported (exit 0 if at least one N finished).

The simulated stores run in this process, or with `--client-procs N` in N child
processes (bench/_sim_procs.py), so that the bench's own CPU is not the limit; the
checks are made where each link is read. The hub, the import CLI and the bench share the
machine's CPUs with any other work on it: the `other work` column is the machine's busy
CPU that was none of them. Run:

    .venv/bin/python bench/hub_scale.py [--backend sqlite|postgresql|both]
        [--stores 100,1000,3000] [--products 100000] [--client-procs 2] [--quick]
        [--markdown]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import math
import os
import random
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (
    Budget,
    BudgetExceeded,
    busy_warning,
    format_table,
    load_average,
    machine_info,
    summarize,
    work_directory,
)
from _sim_procs import make_groups, merge_load
from _till import machine_busy_seconds, own_cpu_seconds
from sync import (
    BenchFailed,
    HubProbe,
    LoadFigures,
    cpu_seconds,
    hub_sums,
    pg_admin_dsn,
    pg_create,
    pg_drop,
    pg_reachable,
    proc_status,
    production_sync_settings,
    register_stores,
)

PACKAGES = ("litestar", "uvicorn", "websockets", "SQLAlchemy", "asyncpg", "msgspec")
FULL_IMPORT = 100_000  # issue #24's catalogue
TARGET_DB_GROWTH = 1 << 30  # 100,000 products to 1,000 stores: under 1 GB ...
TARGET_FANOUT_SECONDS = 600.0  # ... and every store acked within 10 minutes
TARGET_RSS_3000 = 1 << 30  # hub memory under 1 GB with 3,000 connected stores


# ---- measuring ----------------------------------------------------------------------------


class Phase:
    """CPU seconds over one phase: the hub, this process, children (the import CLI, added
    by hand), and the machine's busy CPU that was none of them ('other work')."""

    def __init__(self, hub_pid: int, clients: list[int] | None = None) -> None:
        self.pid = hub_pid
        self.clients = clients or []  # the bench's client processes (--client-procs)
        self.t0 = time.perf_counter()
        self.hub0 = cpu_seconds(hub_pid)
        self.own0 = self._own()
        self.busy0 = machine_busy_seconds()[0]
        self.children = 0.0

    def stop(self) -> Phase:
        self.wall = time.perf_counter() - self.t0
        self.hub = cpu_seconds(self.pid) - self.hub0
        self.own = self._own() - self.own0
        busy = machine_busy_seconds()[0] - self.busy0
        self.others = max(0.0, busy - self.hub - self.own - self.children)
        return self

    def _own(self) -> float:
        """The bench's CPU: this process and its client processes."""
        total = own_cpu_seconds()
        for pid in self.clients:
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += cpu_seconds(pid)
        return total

    def pct(self, seconds: float) -> float:
        """Seconds of CPU as % of one core over this phase."""
        return 100 * seconds / self.wall if self.wall > 0 else float("nan")


def mem_available_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    return 0


@dataclass
class PgWork:
    """What PostgreSQL did for the hub's database over a phase: CPU of its backends on
    this database (read from /proc; a backend that ends within the phase is missed),
    commits and rows written (pg_stat_database, flushed about once a second)."""

    cpu: float = 0.0
    commits: int = 0
    rows: int = 0  # inserted + updated + deleted


class PgMeter:
    STATS = ("SELECT xact_commit, tup_inserted + tup_updated + tup_deleted "
             "FROM pg_stat_database WHERE datname = current_database()")
    PIDS = ("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")

    def __init__(self, url: str) -> None:
        self.url = url
        self.on = url.startswith("postgresql")

    async def _read(self) -> tuple[dict[int, float], int, int]:
        async with Probe(self.url) as probe:
            pids = [int(r[0]) for r in await probe.rows(self.PIDS)]
            commits, rows = (await probe.rows(self.STATS))[0]
        cpu = {}
        for pid in pids:
            with contextlib.suppress(OSError, ValueError, IndexError):
                cpu[pid] = cpu_seconds(pid)
        return cpu, int(commits), int(rows)

    async def start(self) -> PgMeter:
        if self.on:
            self.cpu0, self.commits0, self.rows0 = await self._read()
            self.seen = dict(self.cpu0)
            self._task = asyncio.create_task(self._sample())
        return self

    async def _sample(self) -> None:
        """Every 0.5 s: the CPU of each backend seen, so one that ends before stop()
        (the import CLI's) still counts, less its last half second."""
        while True:
            await asyncio.sleep(0.5)
            with contextlib.suppress(Exception):
                cpu, _, _ = await self._read()
                self.seen.update(cpu)

    async def stop(self) -> PgWork | None:
        if not self.on:
            return None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await asyncio.sleep(1.2)  # let the backends flush their statistics
        cpu, commits, rows = await self._read()
        self.seen.update(cpu)
        return PgWork(sum(c - self.cpu0.get(pid, 0.0) for pid, c in self.seen.items()),
                      commits - self.commits0, rows - self.rows0)


class Probe(HubProbe):
    async def rows(self, query: str) -> list[tuple]:
        if self._lite is not None:
            return [tuple(r) for r in self._lite.execute(query).fetchall()]
        return [tuple(r) for r in await self._pg.fetch(query)]


async def db_bytes(url: str, sqlite_path: Path | None) -> int:
    """The hub database's size: SQLite's pages in use (page_count - freelist_count, read
    through the WAL, so not the file's size, which a WAL checkpoint makes jump), or
    PostgreSQL's pg_database_size (tables, indexes, TOAST)."""
    async with Probe(url) as probe:
        if sqlite_path is not None:
            pages = int(await probe.value("PRAGMA page_count"))
            free = int(await probe.value("PRAGMA freelist_count"))
            return (pages - free) * int(await probe.value("PRAGMA page_size"))
        return int(await probe.value("SELECT pg_database_size(current_database())"))


# ---- the catalogue --------------------------------------------------------------------------


def ean13(body12: str) -> str:
    digits = [int(c) for c in body12]
    check = (10 - (sum(digits[0::2]) + 3 * sum(digits[1::2])) % 10) % 10
    return body12 + str(check)


def write_catalog(path: Path, count: int, round_no: int) -> list[str]:
    """`count` generated piece products (one EAN-13 each), like a chain's range; a new
    round changes every price so each import touches every product. Returns the SKUs in
    the order the hub announces them (by SKU)."""
    rng = random.Random(round_no)
    lines = ["sku,name,barcodes,price,mrp,gst_rate,hsn,unit,pack_size,category,active,"
             "reorder_level,tracks_expiry"]
    skus = []
    for i in range(count):
        sku = f"HS-{i:06d}"
        skus.append(sku)
        mrp = rng.randrange(10, 2000)
        price = max(1, mrp - rng.randrange(0, 5) - round_no)
        lines.append(f"{sku},Bench product {i} {rng.choice(('500 g', '1 kg', '200 ml'))},"
                     f"{ean13(f'89{i:010d}')},{price}.00,{mrp}.00,5,0713,piece,1,Bench,yes,"
                     f"{rng.randrange(0, 20)},no")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sorted(skus)


def run_import(config: Path, csv_path: Path, log: Path) -> tuple[int, float, float]:
    """`kirana hub catalog-import` as an operator runs it: (exit code, wall s, CPU s)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", NO_COLOR="1", TERM="dumb")
    start = time.perf_counter()
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "hub", "catalog-import",
                                 "--config", str(config), str(csv_path)],
                                cwd=Path(__file__).resolve().parent.parent, env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.perf_counter() - start, usage.ru_utime + usage.ru_stime


# ---- one N ----------------------------------------------------------------------------------


@dataclass
class Point:
    backend: str
    stores: int
    connected: int = 0
    connect_seconds: float = float("nan")
    rss_fresh_kib: int = 0
    rss_connected_kib: int = 0
    idle: Phase | None = None
    products: int = 0
    fan_events: int = 0
    import_seconds: float = float("nan")
    import_cpu: float = 0.0
    fanout_seconds: float = float("nan")  # import start -> the last store has everything
    after_commit_seconds: float = float("nan")  # import exit -> the last store has everything
    # the first event at any store -> the last store has everything: the hub's delivery
    # rate once it has noticed the import (a SQLite hub notices at its next poll)
    delivery_seconds: float = float("nan")
    outbox_rows: int = 0
    log_rows: int = 0  # hub_catalog_log rows written (protocol 3: one per product)
    db_growth: int = 0
    fan: Phase | None = None
    rss_fanout_kib: int = 0
    steady: LoadFigures | None = None
    steady_phase: Phase | None = None
    steady_target: float = 0.0
    pg_fan: PgWork | None = None
    pg_steady: PgWork | None = None
    problems: list[str] = field(default_factory=list)  # exactly-once or order broken: exit 1
    warnings: list[str] = field(default_factory=list)  # hub errors logged: reported, exit 0
    drops: list[str] = field(default_factory=list)  # links the hub dropped (reconnected)
    fan_drops: int = 0
    steady_drops: int = 0
    stopped: str = ""  # why the curve stops here

    @property
    def kib_per_store(self) -> float:
        n = self.connected or self.stores
        return (self.rss_connected_kib - self.rss_fresh_kib) / n if n else float("nan")

    @property
    def fan_rate(self) -> float:
        return self.fan_events / self.fanout_seconds if self.fanout_seconds > 0 else float("nan")

    @property
    def delivery_rate(self) -> float:
        d = self.delivery_seconds
        return self.fan_events / d if d > 0 else float("nan")


@dataclass
class Sizes:
    stores: list[int]
    products: int
    max_fanout: int
    idle_seconds: float
    steady_seconds: float
    events_per_second: float
    proto: int = 3  # the simulated stores' protocol: 3 reads the catalogue log, 1 does not
    client_procs: int = 0  # 0: the simulated stores in the bench process; N: N child processes


async def measure_point(point: Point, hub: Any, tokens: dict[str, str], sizes: Sizes,
                        root: Path, budget: Budget, round_no: int) -> None:
    pid = hub.proc.popen.pid
    url = hub.database_url
    tag = f"[{point.backend}] {point.stores:,} stores:"
    groups = make_groups(tokens, sizes.proto, sizes.client_procs)
    clients = [p for g in groups for p in g.pids]  # their CPU is the bench's

    async def each(call: Any) -> list[Any]:
        return list(await asyncio.gather(*(call(g) for g in groups)))

    try:
        wait_s = budget.remaining()  # each handshake waits at most 120 s of it
        start = time.perf_counter()
        opened = await each(lambda g: g.connect(hub.ws_url, wait_s))
        point.connected = sum(c.connected for c in opened)
        failed = [c.error for c in opened if c.error]
        if failed:
            point.stopped = (f"only {point.connected:,} of {point.stores:,} stores connected "
                             f"({failed[0]})")
            return
        point.connect_seconds = time.perf_counter() - start
        await asyncio.sleep(2.0)  # the hellos' writes settle
        point.rss_connected_kib = proc_status(pid).get("VmRSS", 0)
        idle = Phase(pid, clients)
        await asyncio.sleep(min(sizes.idle_seconds, budget.remaining()))
        point.idle = idle.stop()
        print(f"{tag} connected in {point.connect_seconds:.1f} s; hub RSS "
              f"{point.rss_fresh_kib / 1024:.0f} -> {point.rss_connected_kib / 1024:.0f} MiB "
              f"({point.kib_per_store:.0f} KiB per store); idle hub CPU "
              f"{idle.pct(idle.hub):.1f}% of a core", flush=True)

        # 2. the catalogue import, fanned out
        products = min(sizes.products, max(1, sizes.max_fanout // point.stores))
        point.products = products
        csv_path = root / f"catalog-{products}.csv"
        skus = write_catalog(csv_path, products, round_no)
        await each(lambda g: g.expect(skus))
        # What each store must reach: its own stream's last seq (protocol 1), or the
        # catalogue log's head (protocol 3: one log for all stores).
        cursor_sql = ("SELECT id, (SELECT seq FROM hub_catalog_head) FROM hub_stores"
                      if sizes.proto >= 3 else "SELECT id, down_seq FROM hub_stores")
        async with Probe(url) as probe:
            rows0 = int(await probe.value("SELECT count(*) FROM hub_outbox"))
            log0 = int(await probe.value("SELECT count(*) FROM hub_catalog_log"))
            seq0 = dict(await probe.rows(cursor_sql))
        bytes0 = await db_bytes(url, hub.sqlite_path)
        pg_meter = await PgMeter(url).start()
        fan = Phase(pid, clients)
        rss_max = 0
        stop_rss = asyncio.Event()

        async def sample_rss() -> None:
            nonlocal rss_max
            while not stop_rss.is_set():
                rss_max = max(rss_max, proc_status(pid).get("VmRSS", 0))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop_rss.wait(), 0.5)

        sampler = asyncio.create_task(sample_rss())
        start = time.perf_counter()
        code, point.import_seconds, point.import_cpu = await asyncio.to_thread(
            run_import, hub.config, csv_path, root / "import.log")
        imported = time.perf_counter()
        if code != 0:
            raise BenchFailed(f"catalog-import exited {code}: "
                              f"{(root / 'import.log').read_text(errors='replace')[-1500:]}")
        async with Probe(url) as probe:
            targets = {str(k): int(v) for k, v in await probe.rows(cursor_sql)}
            point.outbox_rows = int(await probe.value("SELECT count(*) FROM hub_outbox")) - rows0
            point.log_rows = (int(await probe.value("SELECT count(*) FROM hub_catalog_log"))
                              - log0)
        point.fan_events = sum(targets[s] - seq0.get(s, 0) for s in tokens)
        await each(lambda g: g.aim(targets))
        wait_s = budget.remaining() - 30  # leave time to report
        deadline = time.perf_counter() + wait_s
        shown = time.perf_counter()
        while True:
            now = await each(lambda g: g.progress())
            behind = sum(p.behind for p in now)
            if not behind:
                break
            if time.perf_counter() > deadline:
                point.stopped = (f"time limit: {behind:,} stores still without the whole "
                                 f"catalogue after {time.perf_counter() - start:.0f} s")
                break
            if time.perf_counter() - shown > 60:  # a long fan-out shows it is alive
                shown = time.perf_counter()
                print(f"{tag} ... {shown - start:.0f} s: {behind:,} stores still behind, "
                      f"{sum(p.drops for p in now):,} links dropped so far", flush=True)
            await asyncio.sleep(0.1 if len(groups) == 1 else 0.25)
        done = max(p.last_at for p in now)
        first = min((p.first_at for p in now if not math.isnan(p.first_at)),
                    default=float("nan"))
        point.delivery_seconds = done - first
        stop_rss.set()
        await sampler
        fan.children = point.import_cpu
        point.fan = fan.stop()
        point.pg_fan = await pg_meter.stop()
        point.rss_fanout_kib = rss_max
        point.fanout_seconds = done - start
        point.after_commit_seconds = done - imported
        point.drops = [d for lines in await each(lambda g: g.drop_lines()) for d in lines]
        point.fan_drops = len(point.drops)
        # The hub records the acks a moment later; then the DB size is the steady one.
        async with Probe(url) as probe:
            behind_sql = ("SELECT count(*) FROM hub_stores WHERE catalog_acked < "
                          "(SELECT seq FROM hub_catalog_head)" if sizes.proto >= 3 else
                          "SELECT count(*) FROM hub_stores WHERE down_acked < down_seq")
            for _ in range(100):
                if not int(await probe.value(behind_sql)):
                    break
                await asyncio.sleep(0.1)
        point.db_growth = await db_bytes(url, hub.sqlite_path) - bytes0
        stopped = bool(point.stopped)
        for found in await each(lambda g: g.fan_problems(len(skus), stopped)):
            point.problems += found
        if point.stopped:
            print(f"{tag} STOPPED: {point.stopped}", flush=True)
            return
        if point.fan_drops:
            print(f"{tag} the hub dropped {point.fan_drops} links during the fan-out "
                  "(reconnected)", flush=True)
        print(f"{tag} catalogue of {products:,} products reached every store: "
              f"{point.fan_events:,} events in {point.fanout_seconds:.1f} s "
              f"({point.fan_rate:,.0f}/s; import {point.import_seconds:.1f} s, first event "
              f"to last ack {point.delivery_seconds:.1f} s = {point.delivery_rate:,.0f}/s), "
              f"{point.outbox_rows:,} hub_outbox rows, {point.log_rows:,} catalogue-log "
              f"rows, DB +{point.db_growth / 2**20:,.1f} MiB; hub CPU {point.fan.hub:.1f} s, "
              f"bench CPU {point.fan.own:.1f} s, hub peak RSS {rss_max / 1024:,.0f} MiB",
              flush=True)
        if sizes.steady_seconds > 0:
            # 3. steady stock events at the chain's rate
            per_store = sizes.events_per_second / point.stores  # events/s from one store
            batch = max(1, min(20, round(per_store * 5)))  # about one frame per 5 s, at least 1
            period = batch / per_store
            point.steady_target = sizes.events_per_second
            pg_meter = await PgMeter(url).start()
            phase = Phase(pid, clients)
            limit = budget.remaining()
            point.steady = merge_load(await each(lambda g: g.steady(
                pid, limit, sizes.steady_seconds, period, batch, 30)))
            point.steady_phase = phase.stop()
            point.pg_steady = await pg_meter.stop()
            s = point.steady
            acks = summarize(s.acks)
            print(f"{tag} steady {s.rate:,.0f} stock events/s (asked "
                  f"{sizes.events_per_second:,.0f}; frames of {batch} every {period:.1f} s per "
                  f"store): ack p50 {acks.p50:.0f} ms, p99 {acks.p99:.0f} ms; hub CPU "
                  f"{point.steady_phase.pct(phase.hub):.1f}% of a "
                  f"core = {cpu_per_event_us(point):,.0f} us per event "
                  f"({cpu_per_event_us(point, net=True):,.0f} net of idle); hub peak RSS "
                  f"{s.rss_max_kib / 1024:,.0f} MiB", flush=True)
    finally:
        try:
            closed = await each(lambda g: g.close())
        finally:
            await asyncio.gather(*(g.stop() for g in groups), return_exceptions=True)
    point.drops = [d for c in closed for d in c.drops]
    point.steady_drops = len(point.drops) - point.fan_drops
    lagging = [c for c in closed if c.behind]
    if lagging and point.steady is not None:  # late, not lost: a store resends what was not acked
        point.warnings.append(
            f"steady: {sum(c.behind for c in closed)} stores still without their last ack "
            f"when the run ended (e.g. {lagging[0].example}); the hub was that far behind")
    events, acked = await hub_sums(url, sorted(tokens))
    sent = sum(c.sent for c in closed)
    told = sum(c.told for c in closed)
    if events != acked or acked > sent or told > acked:
        point.problems.append(f"the stores sent {sent:,} stock events and were told "
                              f"{told:,} were acked; the hub kept {events:,} and its cursors "
                              f"say {acked:,}")
    elif sent != acked:
        point.warnings.append(f"{sent - acked:,} of {sent:,} stock events sent were not "
                              "acked when the links closed (not kept either: late, not lost)")


def cpu_per_event_us(point: Point, net: bool = False) -> float:
    """Hub CPU per stock event in the steady run; `net` takes off what the hub burns
    idle with the same links (heartbeats, pings), measured just before."""
    s, ph = point.steady, point.steady_phase
    if s is None or ph is None or not s.events:
        return float("nan")
    cpu = ph.hub
    if net and point.idle is not None and point.idle.wall > 0:
        cpu -= point.idle.hub / point.idle.wall * ph.wall
    return 1e6 * max(0.0, cpu) / s.events


def run_point(backend: str, n: int, root: Path, args: argparse.Namespace, sizes: Sizes,
              budget: Budget, round_no: int) -> Point:
    from tests.sync.harness import make_hub

    point = Point(backend, n)
    dsn = pg_admin_dsn(args)
    url = pg_create(dsn) if backend == "postgresql" else ""
    hub = None
    try:
        hub = make_hub(root / "hub", url)
        production_sync_settings(hub.config)
        t0 = time.perf_counter()
        tokens = asyncio.run(register_stores(hub.database_url, n))
        print(f"[{backend}] {n:,} stores registered in {time.perf_counter() - t0:.1f} s "
              f"({hub.database_url.split('@')[-1]})", flush=True)
        hub.proc.start(wait=60)
        time.sleep(1.0)
        point.rss_fresh_kib = proc_status(hub.proc.popen.pid).get("VmRSS", 0)
        asyncio.run(measure_point(point, hub, tokens, sizes, root, budget, round_no))
    finally:
        if hub is not None:
            hub.proc.stop()
            log = (root / "hub" / "hub.log").read_text(errors="replace")
            tracebacks = log.count("Traceback")
            if tracebacks:
                kinds = collections.Counter(re.findall(
                    r"(?m)^([\w.]+(?:Error|Exception|Timeout\w*|Closed\w*)): ", log))
                point.warnings.append(
                    f"{tracebacks} tracebacks in the hub log ("
                    + ", ".join(f"{n} {k}" for k, n in kinds.most_common(4))
                    + f"): {root / 'hub' / 'hub.log'}")
        if url:
            pg_drop(dsn, url)
    return point


# ---- report ---------------------------------------------------------------------------------


def show(title: str, headers: list[str], rows: list[list[object]], markdown: bool) -> None:
    print(f"\n{title}")
    print(format_table(headers, rows))
    if markdown:
        print()
        print(format_table(headers, rows, markdown=True))


def others(phase: Phase, pg: PgWork | None) -> float:
    """Other work's CPU seconds in a phase, PostgreSQL's backends for the hub taken out."""
    return max(0.0, phase.others - (pg.cpu if pg else 0.0))


def pg_per_event(p: Point) -> list[object]:
    """PostgreSQL CPU (us), rows written and commits per stock event in the steady run."""
    pg, s = p.pg_steady, p.steady
    if pg is None or s is None or not s.events:
        return ["-", "-", "-"]
    return [round(1e6 * pg.cpu / s.events), round(pg.rows / s.events, 2),
            round(pg.commits / s.events, 2)]


def report(points: list[Point], sizes: Sizes, markdown: bool) -> None:
    mib = 1024.0
    print("\n'other work': busy CPU of the machine that was none of the hub, the import, "
          "this bench or (PostgreSQL) the hub database's backends, in % of one core")
    show("1. connected stores on one hub process (idle: heartbeats and pings only)",
         ["hub", "stores", "connect s", "RSS fresh MiB", "RSS connected MiB", "KiB/store",
          "idle hub CPU %", "other work %"],
         [[p.backend, p.connected, p.connect_seconds, round(p.rss_fresh_kib / mib),
           round(p.rss_connected_kib / mib), round(p.kib_per_store),
           p.idle.pct(p.idle.hub) if p.idle else "-",
           round(p.idle.pct(p.idle.others)) if p.idle else "-"] for p in points], markdown)
    fan = [p for p in points if p.fan is not None]
    show("2. catalogue import fanned out (product.upserted; every store acks every frame). "
         "last ack s: import start -> the last store has all; delivery: the first event "
         "seen at any store -> that",
         ["hub", "stores", "products", "events", "import s", "last ack s", "events/s",
          "delivery s", "delivery ev/s",
          "outbox rows", "log rows", "rows/(PxN)", "DB growth MiB", "B/row", "hub CPU s",
          "import CPU s",
          "bench CPU s", "PG CPU s", "PG rows/event", "PG commits", "peak RSS MiB",
          "other work %", "links dropped"],
         [[p.backend, p.stores, p.products, p.fan_events, p.import_seconds, p.fanout_seconds,
           round(p.fan_rate), p.delivery_seconds, round(p.delivery_rate), p.outbox_rows,
           p.log_rows, round((p.outbox_rows + p.log_rows) / (p.products * p.stores), 3),
           round(p.db_growth / 2**20, 1),
           round(p.db_growth / max(1, p.outbox_rows + p.log_rows)),
           round(p.fan.hub, 1), round(p.import_cpu, 1), round(p.fan.own, 1),
           round(p.pg_fan.cpu, 1) if p.pg_fan else "-",
           round(p.pg_fan.rows / max(1, p.fan_events), 2) if p.pg_fan else "-",
           p.pg_fan.commits if p.pg_fan else "-",
           round(p.rss_fanout_kib / mib), round(p.fan.pct(others(p.fan, p.pg_fan))), p.fan_drops]
          for p in fan if p.fan], markdown)
    steady = [p for p in points if p.steady is not None and p.steady_phase is not None]
    show(f"3. steady stock.moved traffic, {sizes.events_per_second:,.0f} events/s asked in total",
         ["hub", "stores", "events/s", "ack p50 ms", "ack p99 ms", "hub CPU %",
          "hub CPU us/event", "net of idle", "events/s per core", "PG CPU us/event",
          "PG rows/event", "PG commits/event", "other work %", "links dropped"],
         [[p.backend, p.stores, round(p.steady.rate), summarize(p.steady.acks).p50,
           summarize(p.steady.acks).p99, round(p.steady_phase.pct(p.steady_phase.hub), 1),
           round(cpu_per_event_us(p)), round(cpu_per_event_us(p, net=True)),
           round(1e6 / cpu_per_event_us(p)) if cpu_per_event_us(p) > 0 else "-",
           *pg_per_event(p),
           round(p.steady_phase.pct(others(p.steady_phase, p.pg_steady))), p.steady_drops]
          for p in steady if p.steady and p.steady_phase], markdown)
    print("\nprojections (linear in products x stores, from each measured point; "
          "EXTRAPOLATED, not measured):")
    for p in fan:
        if p.fan_events and p.log_rows and not p.outbox_rows:  # protocol 3: one log
            per_row = p.db_growth / p.log_rows
            print(f"  {p.backend} from {p.products:,} x {p.stores:,} (catalogue log): "
                  f"{FULL_IMPORT:,} products = {FULL_IMPORT:,} log rows x {per_row:,.0f} B = "
                  f"{FULL_IMPORT * per_row / 1e9:,.2f} GB whatever the stores; delivery "
                  f"at {p.delivery_rate:,.0f} events/s to {p.stores:,} stores = "
                  f"{FULL_IMPORT * p.stores / p.delivery_rate / 60:,.1f} min after the "
                  f"import ({p.import_seconds / p.products * FULL_IMPORT / 60:,.1f} min at "
                  f"its measured rate)")
            continue
        if not p.fan_events or not p.outbox_rows:
            continue
        per_row = p.db_growth / p.outbox_rows
        for n in sorted({p.stores, 1000, 3000}):
            events = FULL_IMPORT * n
            print(f"  {p.backend} from {p.products:,} x {p.stores:,}: {FULL_IMPORT:,} products x "
                  f"{n:,} stores = {events:,} hub_outbox rows x {per_row:,.0f} B = "
                  f"{events * per_row / 1e9:,.1f} GB; time = {events:,} / {p.fan_rate:,.0f} "
                  f"events/s = {events / p.fan_rate / 60:,.0f} min")
    print()
    for p in points:
        if p.stopped:
            print(f"{p.backend} {p.stores:,} stores: the curve stops here: {p.stopped}")


# ---- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--quick", action="store_true",
                   help="under a minute for both backends: 25 stores, 300 products, "
                        "50 events/s, short phases")
    p.add_argument("--stores", help="simulated store counts, ascending (100,1000,3000)")
    p.add_argument("--products", type=int, help=f"catalogue import size ({FULL_IMPORT:,})")
    p.add_argument("--max-fanout", type=int,
                   help="most products x stores events to deliver per point; fewer products "
                        "beyond it, projected (2,000,000)")
    p.add_argument("--idle-seconds", type=float, help="idle CPU window (16: one heartbeat)")
    p.add_argument("--steady-seconds", type=float, help="steady traffic run (30)")
    p.add_argument("--events-per-second", type=float,
                   help="stock events/s from all stores together (300: a 1,000-store chain "
                        "at ~8 million stock moves a day, three times the day's average)")
    p.add_argument("--max-hub-mib", type=int, default=6144,
                   help="stop the curve when the hub's RSS passes this (6144)")
    p.add_argument("--pg-dsn", default="",
                   help="PostgreSQL server (default $KIRANA_TEST_PG or "
                        "postgresql://postgres@127.0.0.1:5432/postgres)")
    p.add_argument("--proto", type=int, choices=(1, 3), default=3,
                   help="the simulated stores' sync protocol: 3 reads the shared catalogue "
                        "log (issue #24), 1 gets the catalogue copied into its own stream "
                        "(the hub's path for older stores) (3)")
    p.add_argument("--client-procs", type=int, default=0,
                   help="run the simulated stores in this many child processes, dealt "
                        "round-robin (0: all in the bench process itself) (0)")
    p.add_argument("--markdown", action="store_true", help="tables as Markdown too")
    p.add_argument("--workdir", help="use this (empty or new) directory; always kept")
    p.add_argument("--keep", action="store_true", help="keep the temp directory")
    p.add_argument("--time-limit", type=float, default=2400, help="seconds in total (2400)")
    return p.parse_args(argv)


def sizes_for(args: argparse.Namespace) -> Sizes:
    if args.quick:
        sizes = Sizes([25], 300, 20_000, 3.0, 4.0, 50.0)
    else:
        sizes = Sizes([100, 1000, 3000], FULL_IMPORT, 2_000_000, 16.0, 30.0, 300.0)
    if args.stores:
        sizes.stores = sorted({int(x) for x in args.stores.split(",") if x.strip()})
    for name in ("products", "max_fanout", "idle_seconds", "steady_seconds",
                 "events_per_second"):
        if getattr(args, name) is not None:
            setattr(sizes, name, getattr(args, name))
    sizes.proto = args.proto
    sizes.client_procs = args.client_procs
    if not sizes.stores or min(sizes.stores) < 1 or sizes.products < 1:
        raise SystemExit("--stores needs counts of at least 1; --products at least 1")
    return sizes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sizes_for(args)
    budget = Budget(args.time_limit)
    budget.arm()
    try:
        with work_directory(args.workdir, args.keep, prefix="kirana-bench-hub-scale-") as root:
            return run(args, sizes, root, budget)
    except BenchFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"SETUP FAILED: {exc}", file=sys.stderr)
        return 2
    finally:
        Budget.disarm()


def run(args: argparse.Namespace, sizes: Sizes, root: Path, budget: Budget) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(sizes.stores) * 2 + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    print(f"Kirana hub scale bench (issue #24), {date.today().isoformat()}, work dir {root}")
    print(format_table(["machine", ""], machine_info(PACKAGES), numeric=False))
    warning = busy_warning()
    if warning:
        print(warning)
    print(f"load average at the start {load_average()}; stores {sizes.stores}, products "
          f"{sizes.products:,} (at most {sizes.max_fanout:,} products x stores per point), "
          f"{sizes.events_per_second:,.0f} stock events/s")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    points: list[Point] = []
    setup_failed = False
    for backend in backends:
        if backend == "postgresql":
            why = pg_reachable(pg_admin_dsn(args))
            if why:
                print(f"!! PostgreSQL is NOT reachable ({why[:120]}): its figures are SKIPPED")
                continue
        for i, n in enumerate(sizes.stores):
            if budget.remaining() < 60:
                print(f"[{backend}] {n:,} stores: SKIPPED, under a minute left")
                break
            if mem_available_kib() < 1 << 20:
                print(f"[{backend}] {n:,} stores: SKIPPED, under 1 GiB of memory available")
                break
            try:
                point = run_point(backend, n, root / f"{backend}-{n}", args, sizes, budget, i)
            except BudgetExceeded as exc:
                print(f"[{backend}] {n:,} stores: STOPPED: {exc}")
                budget = Budget(90)  # time to report and clean up what is left
                budget.arm()
                break
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                # the points measured so far are still reported
                print(f"[{backend}] {n:,} stores: SETUP FAILED, the curve stops: "
                      f"{str(exc)[-1500:]}")
                setup_failed = True
                break
            points.append(point)
            if point.problems:
                print(f"[{backend}] {n:,} stores: PROBLEMS ({len(point.problems)}), e.g.:")
                for line in point.problems[:6]:
                    print("   ", line[:300])
            for line in point.warnings:
                print(f"[{backend}] {n:,} stores: WARNING: {line[:400]}")
            if point.drops:
                why = collections.Counter(d.split(": ", 1)[1][:90] for d in point.drops)
                print(f"[{backend}] {n:,} stores: {len(point.drops)} link drops/reconnect "
                      "failures: " + "; ".join(f"{k} x{v}" for k, v in why.most_common(3)))
            if point.stopped:
                break
            if point.rss_fanout_kib > args.max_hub_mib * 1024:
                print(f"[{backend}] hub RSS passed {args.max_hub_mib} MiB: the curve stops")
                break
    if points:
        report(points, sizes, args.markdown)
    print(f"\nwhole run: {budget.elapsed():.0f} s; load average at the end {load_average()}")
    bad = [p for p in points if p.problems]
    if setup_failed and not points:
        return 2
    if bad or not points:
        print("FAILED: " + ("; ".join(f"{p.backend} {p.stores}: {p.problems[0][:200]}"
                                      for p in bad) or "nothing was measured"))
        return 1
    print("check: every store got every hub event exactly once, in order; every stock "
          "event was acked and kept once")
    return 0


if __name__ == "__main__":
    sys.exit(main())
