"""Allocation benchmark: which store gets an online order, and how many orders a hub takes.

1. decision: the pure `app.hub.allocation.allocate` with 1,000 dark stores spread over
   Bengaluru and a 20,000-SKU catalogue (each store carries 2,000-5,000 SKUs), orders of
   1-10 lines: p50/p99/max in ms (target p99 under 10 ms);
2. placement: a real `placement.take_order` on an in-process hub database (SQLite and
   PostgreSQL) holding the same 1,000 stores, 20,000 products and their stock levels,
   with the time split into reading the stores' stock (`routing_inputs.read`), the
   decision (`allocate`), the courier choice and the rest (log, writes, commit);
3. intake: a real hub process (`kirana hub`), a channel API key, N concurrent HTTP
   clients posting orders to `POST /api/v1/orders` for a fixed time against 50 stores:
   orders/s, p50/p99 latency, assigned vs unfulfillable, and a check that no unit of
   stock was promised twice.

Run: .venv/bin/python bench/allocation.py [--quick] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import random
import re
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (
    LOCALHOST,
    REPO,
    Budget,
    BudgetExceeded,
    LatencySummary,
    ServerProcess,
    busy_warning,
    format_table,
    free_port,
    kirana_exe,
    machine_info,
    percentile,
    run_cli,
    summarize,
    work_directory,
)

from app.hub import allocation

PACKAGES = ("litestar", "uvicorn", "SQLAlchemy", "asyncpg", "httpx")
TARGET_DECISION_P99_MS = 10.0
TARGET_INTAKE_PER_S = 150  # issue 15: 8 clients, SQLite and PostgreSQL with 2 hub processes
TARGET_CPU_PER_ORDER_MS = 5.0
# Bengaluru: the box the stores and the customers are spread over, and its PIN codes.
LAT_RANGE = (12.85, 13.10)
LON_RANGE = (77.50, 77.75)
PINCODES = tuple(f"560{n:03d}" for n in range(1, 111))
PICKERS = 10_000  # capacity = pickers x orders_per_picker: never the limit here
CORE_SHARE = 0.8  # share of order lines drawn from the SKUs every store carries
ZERO_SHARE = 0.05  # share of a store's carried SKUs that are out of stock
MAX_ON_HAND = 40
CHANNEL = "bench"


# ---- sizes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    stores: int
    skus: int
    stock_min: int
    stock_max: int
    decisions: int
    placements: int
    intake_stores: int
    clients: tuple[int, ...]  # part 3 runs once per (hub processes, clients)
    seconds: float
    processes: tuple[int, ...] = (1,)


DEFAULT = Sizes(stores=1000, skus=20_000, stock_min=2000, stock_max=5000, decisions=2000,
                placements=300, intake_stores=50, clients=(1, 8), seconds=20.0,
               processes=(1, 2))
QUICK = Sizes(stores=200, skus=5000, stock_min=500, stock_max=1500, decisions=300,
              placements=50, intake_stores=20, clients=(4,), seconds=5.0)


# ---- the data set (deterministic for a seed) ------------------------------------------


@dataclass
class StoreSpec:
    id: str
    lat: float
    lon: float
    pincodes: tuple[str, ...]
    levels: dict[str, int]


@dataclass
class Dataset:
    skus: list[str]
    core: int  # skus[:core] are carried by every store and drawn most often
    stores: list[StoreSpec]

    @property
    def stock_rows(self) -> int:
        return sum(len(s.levels) for s in self.stores)


def sku_name(i: int) -> str:
    return f"AL{i:05d}"


def make_dataset(n_stores: int, n_skus: int, stock_min: int, stock_max: int,
                 seed: int) -> Dataset:
    """Stores at random points of the box, 1-3 random PIN codes each. Every store carries
    the `core` (most ordered) SKUs plus a random part of the rest, 2,000-5,000 in all by
    default; 5% of what it carries is out of stock, the rest has 1-40 units."""
    rng = random.Random(seed)
    skus = [sku_name(i) for i in range(n_skus)]
    stock_min, stock_max = min(stock_min, n_skus), min(stock_max, n_skus)
    core = max(1, stock_min // 2)
    tail = skus[core:]
    stores = []
    for i in range(n_stores):
        carried = skus[:core] + rng.sample(tail, rng.randint(stock_min, stock_max) - core)
        levels = {sku: 0 if rng.random() < ZERO_SHARE else rng.randint(1, MAX_ON_HAND)
                  for sku in carried}
        stores.append(StoreSpec(
            id=f"D{i + 1:04d}", lat=round(rng.uniform(*LAT_RANGE), 6),
            lon=round(rng.uniform(*LON_RANGE), 6),
            pincodes=tuple(sorted(rng.sample(PINCODES, rng.randint(1, 3)))), levels=levels))
    return Dataset(skus, core, stores)


@dataclass(frozen=True)
class OrderSpec:
    lat: float
    lon: float
    pincode: str
    lines: tuple[tuple[str, int], ...]


def make_order(ds: Dataset, rng: random.Random) -> OrderSpec:
    """1-10 distinct SKUs, 80% from the core range, 1-3 of each; the customer anywhere
    in the box."""
    wanted = rng.randint(1, 10)
    lines: dict[str, int] = {}
    n = len(ds.skus)
    while len(lines) < min(wanted, n):
        if rng.random() < CORE_SHARE or ds.core >= n:
            sku = ds.skus[rng.randrange(ds.core)]
        else:
            sku = ds.skus[rng.randrange(ds.core, n)]
        lines[sku] = rng.randint(1, 3)
    return OrderSpec(round(rng.uniform(*LAT_RANGE), 6), round(rng.uniform(*LON_RANGE), 6),
                     rng.choice(PINCODES), tuple(lines.items()))


# ---- 1. the pure decision ----------------------------------------------------------------


@dataclass
class DecisionResult:
    times: list[float]
    cpu: list[float]  # this thread's CPU time: what other work on the machine cannot inflate
    detail_times: list[float]
    outcomes: Counter
    candidates: list[int]


def time_decisions(ds: Dataset, n: int, seed: int) -> DecisionResult:
    views = [allocation.StoreView(id=s.id, name=f"Dark store {s.id}", lat=s.lat, lon=s.lon,
                                  pincodes=frozenset(s.pincodes), pickers=PICKERS,
                                  level=s.levels, assigned={}) for s in ds.stores]
    rules = allocation.Rules()  # the shipped hub.toml: radius 8 km, no splits
    rng = random.Random(seed + 1)
    orders = [make_order(ds, rng) for _ in range(n)]
    views_orders = [allocation.OrderView(pincode=o.pincode, lat=o.lat, lon=o.lon,
                                         lines=o.lines) for o in orders]
    for order in views_orders[:20]:  # warm-up
        allocation.allocate(order, views, rules)
    times, cpu, detail_times, candidates = [], [], [], []
    outcomes: Counter = Counter()
    gc.collect()
    gc.freeze()  # the data set is long-lived; collections of it are not the decision's
    try:
        for order in views_orders:
            start, start_cpu = time.perf_counter(), time.thread_time()
            decision = allocation.allocate(order, views, rules)
            times.append(time.perf_counter() - start)
            cpu.append(time.thread_time() - start_cpu)
            outcomes["placed" if decision.chosen else "none"] += 1
            candidates.append(len(decision.ranked))
            # What placement.place() then does with it for the decision log: every candidate
            # and every store in the area that was passed over; far stores only counted.
            start = time.perf_counter()
            json.dumps({"candidates": [c._asdict() for c in decision.ranked],
                        "skipped": [{"store_id": x.store_id, "reason": x.reason}
                                    for x in decision.skipped if x.why != "area"],
                        "out_of_area": sum(x.why == "area" for x in decision.skipped)},
                       default=str)
            detail_times.append(time.perf_counter() - start)
    finally:
        gc.unfreeze()
    return DecisionResult(times, cpu, detail_times, outcomes, candidates)


# ---- a hub database ---------------------------------------------------------------------


def hub_toml(database_url: str, port: int) -> str:
    """store_config/hub.toml with the database and paths in the work directory, stores
    that stay online for an hour, and orders that wait an hour for an accept (no store
    process answers here)."""
    text = (REPO / "store_config" / "hub.toml").read_text(encoding="utf-8")
    for old, new in (('database_url = ""', f'database_url = "{database_url}"'),
                     ('database_path = "../var/hub/hub.db"', 'database_path = "hub.db"'),
                     ('data_dir = "../var/hub"', 'data_dir = "var"'),
                     ('host = "0.0.0.0"', f'host = "{LOCALHOST}"'),
                     ("port = 8100", f"port = {port}"),
                     ("offline_after_seconds = 60", "offline_after_seconds = 3600"),
                     ("accept_timeout_seconds = 120", "accept_timeout_seconds = 3600")):
        if old not in text:
            raise RuntimeError(f"store_config/hub.toml changed: {old!r} not found")
        text = text.replace(old, new, 1)
    return text


@dataclass
class HubDir:
    backend: str
    root: Path
    config_path: Path
    url: str  # SQLAlchemy URL
    pg_url: str = ""  # PostgreSQL database to drop afterwards

    @property
    def sqlite_file(self) -> Path | None:
        return Path(self.url.removeprefix("sqlite:///")) if self.url.startswith("sqlite") \
            else None


def make_hub_dir(backend: str, root: Path, port: int = 8100) -> HubDir:
    """A migrated, empty hub database and its hub.toml (sync: call outside event loops)."""
    from app.config import load_hub_config
    from app.core import migrate
    from tests import pg

    root.mkdir(parents=True, exist_ok=True)
    pg_url = pg.create_database() if backend == "postgresql" else ""
    config_path = root / "hub.toml"
    config_path.write_text(hub_toml(pg_url, port), encoding="utf-8")
    url = load_hub_config(config_path).database_url
    if backend == "sqlite":
        migrate.hub_upgrade(url)
    return HubDir(backend, root, config_path, url, pg_url)


def drop_hub_dir(hub_dir: HubDir) -> None:
    if hub_dir.pg_url:
        from tests import pg

        with contextlib.suppress(Exception):
            pg.drop_database(hub_dir.pg_url)


def catalog_csv(ds: Dataset, seed: int) -> str:
    rng = random.Random(seed + 2)
    rows = ["sku,name,price,gst_rate,unit,category"]
    rows += [f"{sku},Bench item {sku},{rng.randint(10, 900)}.00,5,piece,Bench"
             for sku in ds.skus]
    return "\n".join(rows) + "\n"


async def populate(hub_dir: HubDir, ds: Dataset, seed: int) -> dict[str, float]:
    """Stores (before the catalogue, so nothing is queued for them), the catalogue with no
    fan-out, then every store's stock levels in bulk; all stores online, many pickers."""
    from sqlalchemy import update

    from app.catalog.csv_io import parse_catalog
    from app.catalog.service import import_catalog
    from app.config import load_hub_config
    from app.core.clock import utcnow
    from app.hub import service as hub
    from app.hub.db import open_hub_database
    from app.hub.models import HubStore, HubStoreLink

    cfg = load_hub_config(hub_dir.config_path)
    db = open_hub_database(hub_dir.url)
    took: dict[str, float] = {}
    try:
        start = time.perf_counter()
        for st in ds.stores:
            await hub.add_store(db, st.id, name=f"Dark store {st.id}", kind="darkstore",
                                lat=st.lat, lon=st.lon, pincodes=list(st.pincodes))
        async with db.write() as s:
            now = utcnow()
            # Every store with a live load (issue #24), so placement reads it as a hub
            # with v3 stores does; dated ahead to stay fresh for the whole run.
            await s.execute(update(HubStore).values(
                pickers=PICKERS, load_pickers=PICKERS, load_orders='{"accepted":1}',
                load_picks_hour=60, load_at=now + timedelta(days=1)))
            s.add_all([HubStoreLink(id=f"bench-{st.id}", store_id=st.id, process="bench",
                                    address="", version="", epoch="bench", applied_down=0,
                                    connected_at=now, last_seen_at=now) for st in ds.stores])
        took["add stores"] = time.perf_counter() - start
        start = time.perf_counter()
        parsed = parse_catalog(catalog_csv(ds, seed), cfg.measure_rules)
        if parsed.errors:
            raise RuntimeError(f"bench catalogue rejected: {parsed.errors[:3]}")
        await import_catalog(db, parsed, after_write=None)
        took["import catalogue"] = time.perf_counter() - start
    finally:
        await db.dispose()
    start = time.perf_counter()
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    rows = ((st.id, sku, st.levels[sku], at) for st in sorted(ds.stores, key=lambda s: s.id)
            for sku in sorted(st.levels))  # primary-key order: the bulk load is faster
    if hub_dir.sqlite_file is not None:
        with contextlib.closing(sqlite3.connect(hub_dir.sqlite_file, timeout=60)) as conn, conn:
            conn.execute("PRAGMA cache_size = -262144")  # 256 MiB: the sku index fits
            conn.executemany("INSERT INTO hub_stock_levels (store_id, sku, on_hand, "
                             "updated_at) VALUES (?, ?, ?, ?)", rows)
    else:
        import asyncpg

        conn = await asyncpg.connect("postgresql://" + hub_dir.url.split("://", 1)[1])
        try:
            await conn.copy_records_to_table(
                "hub_stock_levels", records=rows,
                columns=["store_id", "sku", "on_hand", "updated_at"])
            # A running hub's autovacuum would have analysed the table by now.
            await conn.execute("ANALYZE hub_stock_levels; ANALYZE hub_stores")
        finally:
            await conn.close()
    took["stock levels"] = time.perf_counter() - start
    return took


# ---- 2. a real take_order, in process ----------------------------------------------------


@dataclass
class PlacementResult:
    total: list[float]
    cpu: list[float]  # this thread's CPU (SQLite runs in it; PostgreSQL's server does not)
    parts: dict[str, list[float]]
    outcomes: Counter
    detail_bytes: list[int]
    setup: dict[str, float]


# Steps of placement.take_order()/place() that are timed (those that exist in this build):
# (module, function), looked up at call time.
ASYNC_PARTS = (("placement", "lock_stores"), ("routing_inputs", "read"),
               ("placement", "_store_views"), ("placement", "_choose_courier"))


@contextlib.contextmanager
def timed_parts(parts: dict[str, list[float]]) -> Iterator[Callable[[], None]]:
    """Wrap steps of placement.take_order() (module attributes, looked up at call time) with
    timers. Yields a function that starts a new order's row. Restored afterwards."""
    import importlib.util

    current: dict[str, float] = {}
    modules = {name: importlib.import_module(f"app.hub.{name}")
               for name in {m for m, _f in ASYNC_PARTS}
               if importlib.util.find_spec(f"app.hub.{name}") is not None}
    originals = {(m, f): getattr(modules[m], f) for m, f in ASYNC_PARTS
                 if m in modules and hasattr(modules[m], f)}
    original_allocate = allocation.allocate

    def wrap_async(name: str, fn: Callable) -> Callable:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                current[name] = current.get(name, 0.0) + time.perf_counter() - start
        return wrapper

    def allocate(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original_allocate(*args, **kwargs)
        finally:
            current["allocate"] = current.get("allocate", 0.0) + time.perf_counter() - start

    def next_order() -> None:
        if current:
            for name in (*(f for _m, f in originals), "allocate"):
                parts[name].append(current.get(name, 0.0))
        current.clear()

    for (m, f), fn in originals.items():
        setattr(modules[m], f, wrap_async(f, fn))
    allocation.allocate = allocate
    try:
        yield next_order
    finally:
        for (m, f), fn in originals.items():
            setattr(modules[m], f, fn)
        allocation.allocate = original_allocate


def order_in(spec: OrderSpec, external_id: str) -> Any:
    from app.orders.service import LineIn, OrderIn

    return OrderIn(channel=CHANNEL, external_id=external_id, customer_name="Bench customer",
                   customer_phone="9800000000", address="1st Main, Bengaluru",
                   pincode=spec.pincode, lat=spec.lat, lon=spec.lon,
                   promised_by=datetime.now(UTC) + timedelta(minutes=30),
                   lines=tuple(LineIn(sku, qty) for sku, qty in spec.lines))


async def time_placements(hub_dir: HubDir, ds: Dataset, n: int, seed: int,
                          budget: Budget) -> PlacementResult:
    from sqlalchemy import text

    from app.config import load_hub_config
    from app.hub import placement
    from app.hub.db import open_hub_database

    setup = await populate(hub_dir, ds, seed)
    cfg = load_hub_config(hub_dir.config_path)
    db = open_hub_database(hub_dir.url)
    rng = random.Random(seed + 3)
    parts: dict[str, list[float]] = defaultdict(list)
    total: list[float] = []
    cpu: list[float] = []
    outcomes: Counter = Counter()
    try:
        for i in range(5):  # warm-up: connections, statement caches
            await placement.take_order(db, cfg, order_in(make_order(ds, rng), f"warm-{i}"))
        gc.collect()
        with timed_parts(parts) as next_order:
            for i in range(n):
                budget.remaining()
                incoming = order_in(make_order(ds, rng), f"P-{i:06d}")
                next_order()
                start, start_cpu = time.perf_counter(), time.thread_time()
                placed = await placement.take_order(db, cfg, incoming)
                total.append(time.perf_counter() - start)
                cpu.append(time.thread_time() - start_cpu)
                outcomes[placed.order.status] += 1
            next_order()
        async with db.read() as s:
            detail_bytes = [int(v) for v in (await s.execute(text(
                "SELECT length(detail) FROM hub_order_log WHERE kind = 'allocation'"))).scalars()]
    finally:
        await db.dispose()
    return PlacementResult(total, cpu, dict(parts), outcomes, detail_bytes, setup)


# ---- 3. sustained intake over HTTP ----------------------------------------------------------


@dataclass
class IntakeResult:
    backend: str
    stores: int
    clients: int
    seconds: float
    processes: int = 1
    prefix: str = "I"  # external ids of this run's orders: f"{prefix}-{client}-{i}"
    hub_cpu: float = float("nan")  # CPU seconds of the hub processes during the timed part
    # Where the box's CPUs went during the timed part, in cores: the hub processes, the
    # PostgreSQL server's processes, this bench (the HTTP clients), everything else.
    split: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    app_ms: list[float] = field(default_factory=list)
    finished_at: list[float] = field(default_factory=list)  # seconds since the start
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    db_statuses: dict[str, int] = field(default_factory=dict)
    over_promised: int = 0
    setup: dict[str, float] = field(default_factory=dict)
    profiles: list[Path] = field(default_factory=list)  # py-spy's collapsed stacks

    def cpu_per_order_ms(self) -> float:
        return self.hub_cpu * 1000 / len(self.latencies) if self.latencies else float("nan")

    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else float("nan")

    def rate_between(self, lo: float, hi: float) -> float:
        done = sum(1 for t in self.finished_at if lo <= t < hi)
        return done / (hi - lo) if hi > lo else float("nan")


def order_body(spec: OrderSpec, external_id: str) -> dict:
    return {"channel": CHANNEL, "external_id": external_id,
            "customer": {"name": "Bench customer", "phone": "9800000000",
                         "address": "1st Main, Bengaluru", "pincode": spec.pincode,
                         "lat": spec.lat, "lon": spec.lon},
            "promised_by": (datetime.now(UTC) + timedelta(minutes=30)).isoformat(),
            "lines": [{"sku": sku, "quantity": qty} for sku, qty in spec.lines]}


SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")


def box_busy() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, wall seconds) from /proc/stat."""
    import os

    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK"), time.perf_counter()


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes on this machine (to count their CPU)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
    return pids


def process_cpu(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (Linux /proc)."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):  # (a PostgreSQL backend may have ended)
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def post_orders(bases: list[str], key: str, ds: Dataset, clients: int, seconds: float,
                      seed: int, result: IntakeResult, pids: list[int] | None = None,
                      profile_dir: Path | None = None) -> None:
    """`clients` concurrent clients, spread round-robin over the hub processes `bases`.
    With `profile_dir`, py-spy samples each hub process during the timed part."""
    headers = {"Authorization": f"Bearer {key}"}

    async def client(w: int, until: float, prefix: str, record: bool) -> None:
        rng = random.Random(seed * 1000 + w + (0 if record else 500))
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=bases[w % len(bases)], headers=headers, timeout=30,
                                     trust_env=False, limits=limits) as http:
            i = 0
            while time.perf_counter() < until:
                body = order_body(make_order(ds, rng), f"{prefix}-{w}-{i}")
                i += 1
                start = time.perf_counter()
                try:
                    response = await http.post("/api/v1/orders", json=body)
                except httpx.HTTPError as exc:
                    if record:
                        result.errors[type(exc).__name__] += 1
                    continue
                done = time.perf_counter()
                if not record:
                    continue
                if response.status_code != 201:
                    result.errors[f"HTTP {response.status_code}"] += 1
                    continue
                result.latencies.append(done - start)
                result.finished_at.append(done - t0)
                result.statuses[response.json()["status"]] += 1
                timing = SERVER_TIMING.search(response.headers.get("server-timing", ""))
                if timing:
                    result.app_ms.append(float(timing.group(1)))

    # Warm-up: every client opens its connection and places a few orders (not counted).
    warm_until = time.perf_counter() + min(2.0, seconds / 5)
    await asyncio.gather(*(client(w, warm_until, "W" + result.prefix, False) for w in range(clients)))
    spies = start_py_spy(pids or [], seconds, profile_dir, result.prefix) if profile_dir else []
    pg = postgres_pids() if result.backend == "postgresql" else []
    cpu0, pg0, me0, (box0, wall0) = (process_cpu(pids or []), process_cpu(pg),
                                     time.process_time(), box_busy())
    t0 = time.perf_counter()
    await asyncio.gather(*(client(w, t0 + seconds, result.prefix, True)
                           for w in range(clients)))
    if pids:
        result.hub_cpu = process_cpu(pids) - cpu0
        box1, wall1 = box_busy()
        wall = wall1 - wall0
        parts = {"hub": result.hub_cpu, "postgresql": process_cpu(pg) - pg0,
                 "bench clients": time.process_time() - me0}
        result.split = {**{k: v / wall for k, v in parts.items()},
                        "other work": max(0.0, box1 - box0 - sum(parts.values())) / wall}
    for spy, _path in spies:
        with contextlib.suppress(Exception):
            spy.wait(timeout=30)
    result.profiles = [path for _spy, path in spies if path.exists()]
    result.seconds = max(result.finished_at, default=seconds)


def py_spy_exe() -> str | None:
    """py-spy beside the interpreter (a dev extra), else on PATH."""
    import shutil

    near = Path(sys.executable).parent / "py-spy"
    return str(near) if near.exists() else shutil.which("py-spy")


def start_py_spy(pids: list[int], seconds: float, out_dir: Path, prefix: str
                 ) -> list[tuple[Any, Path]]:
    """One `py-spy record` per hub process for the timed run, in collapsed-stack form
    (one line per stack: frames joined by ';', then a sample count)."""
    import subprocess

    exe = py_spy_exe()
    if exe is None:
        print("WARNING: --profile needs py-spy (pip install py-spy); not profiled")
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    spies = []
    for n, pid in enumerate(pids):
        path = out_dir / f"{prefix}-hub{n}.txt"
        spies.append((subprocess.Popen(
            [exe, "record", "-p", str(pid), "-d", str(max(1, int(seconds))), "-r", "200",
             "--nonblocking", "-f", "raw", "-o", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), path))
    return spies


# Where a sample's time goes, by the innermost frame that is ours or a library's: the
# first matching rule, in this order, wins for each stack (inner frames checked first).
PROFILE_GROUPS = (
    ("asyncpg / PostgreSQL driver", ("asyncpg/", "sqlalchemy/dialects/postgresql/asyncpg")),
    # Without --native py-spy shows no C frames: time in sqlite3's C code (statements,
    # COMMIT and its fsync) shows as the Python frame that called the driver:
    # SQLAlchemy's, or the hub's own (app/hub/db.py Raw).
    ("database driver calls (sqlite3 C code: statements, COMMIT + fsync)",
     ("do_execute (", "do_executemany (", "do_commit (", "do_rollback (", "do_begin (",
      "sqlite3/", "Raw.rows (", "Raw.many (")),
    ("SQLAlchemy ORM (unit of work, flush, identity map, loading)", ("sqlalchemy/orm/",)),
    ("SQLAlchemy Core (compile, cache key, execute, rows)", ("sqlalchemy/",)),
    ("JSON (msgspec, json)", ("msgspec", "json/")),
    ("Litestar / uvicorn / h11 (HTTP)", ("litestar/", "uvicorn/", "h11/", "httptools",
                                         "starlette/")),
    ("asyncio (event loop, sockets)", ("asyncio/", "selectors.py")),
    ("app.hub.allocation (pure decision)", ("app/hub/allocation.py",)),
    ("app (other)", ("app/",)),
)


def profile_summary(paths: list[Path], top: int = 25) -> str:
    """Share of samples by group (see PROFILE_GROUPS: a sample counts for the innermost
    frame that matches), and the functions with the most samples anywhere on the stack
    (inclusive) and as the innermost frame (self)."""
    groups: Counter = Counter()
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            total += count
            frames = stack.split(";")
            own[frames[-1]] += count
            for frame in set(frames):
                inclusive[frame] += count
            for frame in reversed(frames):
                name = next((g for g, marks in PROFILE_GROUPS
                             if any(m in frame for m in marks)), None)
                if name:
                    groups[name] += count
                    break
            else:
                groups["other (interpreter, stdlib)"] += count
    if not total:
        return "(no samples)"
    out = [f"{total} samples"]
    out += [f"{n * 100 / total:5.1f} %  {g}" for g, n in groups.most_common()]
    out.append("inclusive (anywhere on the stack):")
    out += [f"{n * 100 / total:5.1f} %  {f}" for f, n in inclusive.most_common(top)]
    out.append("self (innermost frame):")
    out += [f"{n * 100 / total:5.1f} %  {f}" for f, n in own.most_common(top)]
    return "\n".join(out)


async def check_promises(hub_dir: HubDir, result: IntakeResult) -> None:
    """Count the orders by status, and (store, SKU) pairs promised beyond the on-hand."""
    from sqlalchemy import func, select

    from app.hub.db import open_hub_database
    from app.hub.models import HubOrder, HubOrderLine, HubStockLevel
    from app.hub.order_states import HOLDING

    db = open_hub_database(hub_dir.url)
    try:
        async with db.read() as s:
            result.db_statuses = dict((await s.execute(
                select(HubOrder.status, func.count())
                .where(HubOrder.external_id.like(f"{result.prefix}-%"))
                .group_by(HubOrder.status))).all())
            promised = (await s.execute(
                select(HubOrder.store_id, HubOrderLine.sku, func.sum(HubOrderLine.quantity))
                .join(HubOrderLine, HubOrderLine.order_id == HubOrder.id)
                .where(HubOrder.status.in_(HOLDING))
                .group_by(HubOrder.store_id, HubOrderLine.sku))).all()
            levels = {(store, sku): on_hand for store, sku, on_hand in (await s.execute(
                select(HubStockLevel.store_id, HubStockLevel.sku, HubStockLevel.on_hand))).all()}
    finally:
        await db.dispose()
    result.over_promised = sum(1 for store, sku, qty in promised
                               if int(qty) > levels.get((store, sku), 0))


def run_intake(backend: str, root: Path, ds: Dataset, sizes: Sizes, seed: int,
               budget: Budget, profile_dir: Path | None = None) -> list[IntakeResult]:
    """For each count of hub processes and of clients, a timed run on a fresh hub
    database (so a run does not start with the open orders an earlier run left: the
    bench's stores never accept, and what every placement reads grows with them), with
    that many `kirana hub` processes (each on its own port, all on that database)."""
    ports = [free_port() for _ in range(max(sizes.processes))]
    results: list[IntakeResult] = []
    for processes, clients in [(p, c) for p in sizes.processes for c in sizes.clients]:
        hub_dir = make_hub_dir(backend, root / f"intake-{processes}p{clients}c", ports[0])
        try:
            run_cli([kirana_exe(), "hub", "db-upgrade", "--config", str(hub_dir.config_path)],
                    cwd=root, timeout=min(120, budget.remaining()))
            setup = asyncio.run(populate(hub_dir, ds, seed))
            out = run_cli([kirana_exe(), "hub", "add-channel", "--config",
                           str(hub_dir.config_path), CHANNEL], cwd=root,
                          timeout=min(120, budget.remaining())).stdout
            match = re.search(r"(?m)^API key .*\): (\S+)\s*$", out)
            if not match:
                raise RuntimeError(f"unexpected add-channel output: {out!r}")
            servers = [ServerProcess([kirana_exe(), "hub", "--config", str(hub_dir.config_path),
                                      "--host", LOCALHOST, "--port", str(port)],
                                     cwd=root, log_path=root / f"hub-{processes}p{clients}c-{n}.log")
                       for n, port in enumerate(ports[:processes])]
            try:
                bases = [f"http://{LOCALHOST}:{port}" for port in ports[:processes]]
                for server, base in zip(servers, bases, strict=True):
                    server.wait_ready(base + "/healthz", timeout=min(60, budget.remaining()))
                budget.remaining()
                result = IntakeResult(backend, len(ds.stores), clients, sizes.seconds,
                                      processes, f"I{processes}p{clients}c", setup=setup)
                asyncio.run(post_orders(bases, match.group(1), ds, clients, sizes.seconds,
                                        seed, result, [sv.pid for sv in servers],
                                        profile_dir / backend if profile_dir else None))
                results.append(result)
            finally:
                for server in servers:
                    server.stop()
                dead = [sv for sv in servers if sv.exited_early]
                if dead:
                    raise RuntimeError(f"a hub died during the run:\n{dead[0].log_tail()}")
            asyncio.run(check_promises(hub_dir, result))
        finally:
            drop_hub_dir(hub_dir)
    return results


# ---- report ------------------------------------------------------------------------------


def ms_row(name: str, summary: LatencySummary, extra: list,
           cpu: LatencySummary | None = None) -> list:
    nan = float("nan")
    return [name, summary.n, summary.p50, summary.p90, summary.p99, summary.max, summary.mean,
            cpu.p50 if cpu else nan, cpu.p99 if cpu else nan, *extra]


def share(counter: Counter, key: str) -> str:
    total = sum(counter.values())
    return f"{counter.get(key, 0)} ({counter.get(key, 0) * 100 / total:.0f}%)" if total else "-"


def counts(text: str) -> tuple[int, ...]:
    values = tuple(int(x) for x in text.split(",") if x.strip())
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("positive whole numbers, comma-separated")
    return values


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help=f"small run: {QUICK.stores} stores, {QUICK.skus} SKUs, "
                        f"{QUICK.seconds:.0f} s of intake (about a minute)")
    p.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--parts", default="decision,placement,intake",
                   help="comma-separated: decision, placement, intake")
    p.add_argument("--stores", type=int, help=f"stores for parts 1-2 ({DEFAULT.stores})")
    p.add_argument("--skus", type=int, help=f"catalogue size ({DEFAULT.skus})")
    p.add_argument("--decisions", type=int, help=f"pure decisions timed ({DEFAULT.decisions})")
    p.add_argument("--placements", type=int,
                   help=f"take_order calls timed per backend ({DEFAULT.placements})")
    p.add_argument("--intake-stores", type=int, help=f"stores ({DEFAULT.intake_stores})")
    p.add_argument("--clients", type=counts, help="concurrent HTTP clients, comma-separated: "
                   f"a run for each ({','.join(map(str, DEFAULT.clients))})")
    p.add_argument("--hub-processes", type=counts, help="`kirana hub` processes on one "
                   "database, comma-separated: a run for each "
                   f"({','.join(map(str, DEFAULT.processes))})")
    p.add_argument("--seconds", type=float, help=f"intake time ({DEFAULT.seconds:.0f} s)")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--markdown", action="store_true", help="also print Markdown tables")
    p.add_argument("--workdir", help="use this (new or empty) directory; always kept")
    p.add_argument("--keep", action="store_true", help="keep the temp directory")
    p.add_argument("--time-limit", type=float, default=900.0)
    p.add_argument("--profile", metavar="DIR",
                   help="sample each hub process with py-spy during the intake runs (collapsed "
                        "stacks in DIR/<backend>/) and print where the time went")
    args = p.parse_args()
    base = QUICK if args.quick else DEFAULT
    sizes = dataclasses.replace(base, **{k: v for k, v in (
        ("stores", args.stores), ("skus", args.skus), ("decisions", args.decisions),
        ("placements", args.placements), ("intake_stores", args.intake_stores),
        ("clients", args.clients), ("seconds", args.seconds),
        ("processes", args.hub_processes)) if v is not None})
    parts = {x.strip() for x in args.parts.split(",") if x.strip()}
    unknown = parts - {"decision", "placement", "intake"}
    if unknown or not parts:
        p.error(f"--parts: unknown {', '.join(sorted(unknown)) or '(empty)'}; use decision, "
                "placement, intake")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]

    print(format_table(["machine", ""], machine_info(PACKAGES), numeric=False))
    warning = busy_warning()
    if warning:
        print(warning)
    if "postgresql" in backends and ({"placement", "intake"} & parts):
        from tests import pg

        if not pg.reachable():
            print(pg.NOT_REACHABLE)
            print("PostgreSQL rows are SKIPPED.")
            backends.remove("postgresql")

    budget = Budget(args.time_limit)
    budget.arm()
    decision_rows: list[list] = []
    intake: list[IntakeResult] = []
    placements: dict[str, PlacementResult] = {}
    setup_notes: list[str] = []
    status = 0
    try:
        with work_directory(args.workdir, args.keep, "kirana-bench-alloc-") as root:
            ds = None
            if {"decision", "placement"} & parts:
                start = time.perf_counter()
                ds = make_dataset(sizes.stores, sizes.skus, sizes.stock_min, sizes.stock_max,
                                  args.seed)
                print(f"data set: {len(ds.stores):,} stores, {len(ds.skus):,} SKUs "
                      f"({ds.core:,} carried everywhere), {ds.stock_rows:,} stock levels; "
                      f"made in {time.perf_counter() - start:.1f} s", flush=True)
            if "decision" in parts:
                res = time_decisions(ds, sizes.decisions, args.seed)
                decision = summarize(res.times)
                cands = sorted(res.candidates)
                decision_rows.append(ms_row(
                    f"allocate(), pure, {len(ds.stores):,} stores", decision,
                    [share(res.outcomes, "placed"), share(res.outcomes, "none")],
                    summarize(res.cpu)))
                decision_rows.append(ms_row("  decision -> log detail (JSON)",
                                            summarize(res.detail_times), ["", ""]))
                setup_notes.append(f"pure: candidates per order p50 {percentile(cands, 50):.0f}"
                                   f", max {cands[-1]} (stores in range with every line)")
                print(f"decision done ({budget.elapsed():.0f} s)", flush=True)
            if "placement" in parts:
                for backend in backends:
                    hub_dir = make_hub_dir(backend, root / f"placement-{backend}")
                    try:
                        res = asyncio.run(time_placements(hub_dir, ds, sizes.placements,
                                                          args.seed, budget))
                    finally:
                        drop_hub_dir(hub_dir)
                    placements[backend] = res
                    decision_rows.append(ms_row(
                        f"take_order, {backend}, {len(ds.stores):,} stores",
                        summarize(res.total), [share(res.outcomes, "assigned"),
                                               share(res.outcomes, "unfulfillable")],
                        summarize(res.cpu)))
                    for name, label in (("lock_stores", "lock all store rows"),
                                        ("_store_views", "read stores + stock"),
                                        ("read", "read (area's stores: lock + stock)"),
                                        ("allocate", "allocate()"),
                                        ("_choose_courier", "courier choice")):
                        if name in res.parts and any(res.parts[name]):
                            decision_rows.append(ms_row(f"  of which {label}",
                                                        summarize(res.parts[name]), ["", ""]))
                    rest = [t - sum(res.parts[k][i] for k in res.parts)
                            for i, t in enumerate(res.total)]
                    decision_rows.append(ms_row("  of which the rest (log, writes, commit)",
                                                summarize(rest), ["", ""]))
                    sizes_kb = sorted(b / 1024 for b in res.detail_bytes)
                    setup_notes.append(
                        f"{backend}: setup " + ", ".join(f"{k} {v:.1f} s"
                                                         for k, v in res.setup.items())
                        + f"; allocation log detail per order p50 "
                        f"{percentile(sizes_kb, 50):.0f} KiB, max {sizes_kb[-1]:.0f} KiB")
                    print(f"placement on {backend} done ({budget.elapsed():.0f} s)", flush=True)
            del ds
            gc.collect()
            if "intake" in parts:
                small = make_dataset(sizes.intake_stores, sizes.skus, sizes.stock_min,
                                     sizes.stock_max, args.seed + 10)
                for backend in backends:
                    intake += run_intake(backend, root / f"intake-{backend}", small, sizes,
                                         args.seed, budget,
                                         Path(args.profile).resolve() if args.profile else None)
                    print(f"intake on {backend} done ({budget.elapsed():.0f} s)", flush=True)
    except BudgetExceeded as exc:
        print(f"TIME LIMIT: {exc}", file=sys.stderr)
        status = 3
    except RuntimeError as exc:
        print(f"SETUP FAILED: {exc}", file=sys.stderr)
        status = 2
    finally:
        Budget.disarm()

    print(f"\nSizes: {sizes.stores:,} stores x {sizes.skus:,} SKUs (each store "
          f"{min(sizes.stock_min, sizes.skus):,}-{min(sizes.stock_max, sizes.skus):,}), "
          f"orders of 1-10 lines "
          f"({CORE_SHARE:.0%} of lines from the SKUs every store carries), rules as in "
          f"store_config/hub.toml (radius 8 km, no splits).")
    headers = ["measure", "n", "p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms",
               "cpu p50", "cpu p99", "placed", "unfulfillable"]
    if decision_rows:
        print(format_table(headers, decision_rows))
        if args.markdown:
            print(format_table(headers, decision_rows, markdown=True))
        for note in setup_notes:
            print(note)
    intake_rows = []
    for r in intake:
        lat = summarize(r.latencies)
        app = sorted(r.app_ms)
        q = r.seconds / 4
        intake_rows.append([
            r.backend, r.processes, r.stores, r.clients, f"{r.seconds:.1f}", lat.n, r.rate(),
            r.cpu_per_order_ms(),
            f"{r.rate_between(0, q):.0f} / {r.rate_between(3 * q, r.seconds + 1e-9):.0f}",
            lat.p50, lat.p99, lat.max, percentile(app, 50), percentile(app, 99),
            share(r.statuses, "assigned"), share(r.statuses, "unfulfillable"),
            sum(r.errors.values()), r.over_promised])
    if intake_rows:
        iheaders = ["hub", "procs", "stores", "clients", "s", "orders", "orders/s", "cpu/order",
                    "first/last quarter", "p50 ms", "p99 ms", "max ms", "app p50", "app p99",
                    "assigned", "unfulfillable", "errors", "over-promised"]
        print()
        print(format_table(iheaders, intake_rows))
        if args.markdown:
            print(format_table(iheaders, intake_rows, markdown=True))
        for r in intake:
            print(f"{r.backend}, {r.processes} hub process(es), {r.clients} clients: setup "
                  + ", ".join(f"{k} {v:.1f} s" for k, v in r.setup.items())
                  + f"; hub_orders by status {r.db_statuses}"
                  + (f"; errors {dict(r.errors)}" if r.errors else "")
                  + ("; CPU in cores: " + ", ".join(f"{k} {v:.2f}" for k, v in r.split.items())
                     if r.split else ""))
        for r in intake:
            if r.profiles:
                print(f"\nprofile (py-spy, hub processes) {r.backend}, {r.processes} hub "
                      f"process(es), {r.clients} clients:")
                print(profile_summary(r.profiles))
    if decision_rows and "decision" in parts:
        p99, cpu99 = decision_rows[0][4], decision_rows[0][8]
        print(f"\nallocate() p99 {p99:.2f} ms ({cpu99:.2f} ms of CPU) vs target "
              f"{TARGET_DECISION_P99_MS:.0f} ms: "
              f"{'met' if p99 < TARGET_DECISION_P99_MS else 'MISSED'}")
    for backend, res in placements.items():
        p99, cpu99 = summarize(res.total).p99, summarize(res.cpu).p99
        print(f"take_order on {backend} p99 {p99:.2f} ms ({cpu99:.2f} ms of this process's CPU)"
              f" vs {TARGET_DECISION_P99_MS:.0f} ms: "
              f"{'met' if p99 < TARGET_DECISION_P99_MS else 'MISSED'}")
    for r in intake:
        if r.clients >= 8:
            print(f"intake on {r.backend}, {r.processes} hub process(es), {r.clients} clients: "
                  f"{r.rate():.0f} orders/s, {r.cpu_per_order_ms():.1f} ms of hub CPU per order "
                  f"vs target {TARGET_INTAKE_PER_S}/s and {TARGET_CPU_PER_ORDER_MS:.0f} ms: "
                  + ("met" if r.rate() >= TARGET_INTAKE_PER_S
                     and r.cpu_per_order_ms() <= TARGET_CPU_PER_ORDER_MS else "MISSED"))
    bad = [r for r in intake if r.errors or r.over_promised
           or sum(r.db_statuses.values()) != len(r.latencies)]
    if bad and status == 0:
        for r in bad:
            print(f"FAILED on {r.backend}: {sum(r.errors.values())} failed requests, "
                  f"{r.over_promised} over-promised (store, SKU) pairs, "
                  f"{sum(r.db_statuses.values())} orders in the database for "
                  f"{len(r.latencies)} answered", file=sys.stderr)
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
