"""Benchmark: barcode scan lookup (GET /api/v1/scan/{code}) against a big catalogue.

What a cashier feels when scanning: one request at a time from one client, on a store
server (single uvicorn worker, SQLite) holding --products products. Steps:

1. Make a deterministic catalogue CSV (one unique, valid EAN-13 per product), import it
   with the real ``kirana catalog import`` (timed), create a ``catalog:read`` API key.
2. Start ``kirana serve`` on a free 127.0.0.1 port and wait for /healthz.
3. Warm up, then measure with httpx (HTTP/1.1 keep-alive): sequential latency over
   --requests requests, then throughput with --concurrency clients; the same for
   /healthz (the framework floor), for unknown EAN-13s (404) and for variable-measure
   weight codes ``21PPPPPWWWWWC`` whose items do not exist (404). The sequential
   requests of all routes are shuffled into one stream, so noise hits them alike.
   The app's own time of a scan against /healthz's is the "server time" ratio.
4. Tills (``--tills``, default 4): that many cashiers signed in at once on the same
   server ring up bills of 10 lines (``POST /pos/scan`` -> cart fragment, pay, complete;
   bench/_till.py); the scans' server time p50/p99 is the figure.
5. Stop the server and remove the work directory (unless --keep or --workdir).

Exit status: 0 ok, 1 a known code did not answer 200, 2 setup failed, 3 out of time.

    .venv/bin/python bench/scan_lookup.py                      # 100k products
    .venv/bin/python bench/scan_lookup.py --products 2000 --requests 500   # quick check
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from _common import (
    LOCALHOST,
    Budget,
    BudgetExceeded,
    LatencySummary,
    StoreDir,
    busy_warning,
    format_table,
    free_port,
    load_average,
    machine_info,
    summarize,
    work_directory,
)
from _till import LINES_PER_BILL, MAX_TILLS, TillRun, prepare_tills, run_tills

from app.catalog.barcodes import gtin_check_digit

TIME_LIMIT_S = 600
PACKAGES = ("litestar", "uvicorn", "SQLAlchemy", "aiosqlite", "httpx")
TARGET_P99_MS = 10.0
TARGET_TILL_SCAN_P99_MS = 5.0  # issue #15: scan -> cart fragment, 4 tills, server time
TARGET_SCAN_HEALTHZ_RATIO = 4.0  # issue #15: API scan server time within 4x of /healthz
SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")
CATEGORIES = (
    "Atta, Rice & Dals", "Masala & Spices", "Oils & Ghee", "Snacks", "Biscuits",
    "Beverages", "Dairy", "Personal Care", "Household", "Baby Care", "Frozen", "Bakery",
)
GST_RATES = ("0", "5", "12", "18", "28")


# ---- catalogue ---------------------------------------------------------------------------


def ean13(body12: str) -> str:
    return body12 + gtin_check_digit(body12)


def product_code(i: int) -> str:
    """Unique EAN-13 for product i: GS1 India prefix 890 + 9 scrambled digits + check.

    7919 is coprime with 10**9, so i -> i*7919 mod 10**9 is a bijection: no duplicates,
    and neighbouring products do not get neighbouring codes.
    """
    return ean13(f"890{(i * 7919 + 104_729) % 1_000_000_000:09d}")


def write_catalog_csv(path: Path, count: int) -> list[str]:
    """Write ``count`` products in the import format; return their barcodes."""
    codes = []
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["sku", "name", "barcodes", "price", "gst_rate", "hsn", "unit",
                         "pack_size", "category", "active", "reorder_level"])
        for i in range(count):
            code = product_code(i)
            codes.append(code)
            writer.writerow([
                f"BENCH-{i:07d}", f"Bench product {i} {CATEGORIES[i % 12].split()[0]}",
                code, f"{10 + (i * 37) % 990}.{(i * 13) % 100:02d}", GST_RATES[i % 5],
                f"{1000 + i % 9000}", "piece", f"{100 + (i % 10) * 50} g",
                CATEGORIES[i % len(CATEGORIES)], "yes", str(i % 25),
            ])
    return codes


def unknown_codes(rng: random.Random, n: int) -> list[str]:
    """Valid EAN-13s under prefix 400 (the catalogue only uses 890): always 404."""
    return [ean13(f"400{rng.randrange(10**9):09d}") for _ in range(n)]


def weight_codes(rng: random.Random, n: int) -> list[str]:
    """In-store scale labels ``21`` + PLU + grams + check (rule "21.....{NNDDD}")."""
    return [ean13(f"21{rng.randrange(10**5):05d}{rng.randrange(1, 10**5):05d}")
            for _ in range(n)]


# ---- measuring ---------------------------------------------------------------------------


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)  # the app's own Server-Timing figure
    statuses: Counter = field(default_factory=Counter)
    wall: float = 0.0
    bad: list[str] = field(default_factory=list)  # first few unexpected answers

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall else float("nan")


@dataclass
class Route:
    label: str
    paths: list[str]
    expect: int
    must_pass: bool  # a wrong status fails the bench (known codes)
    check: Callable[[str, httpx.Response], str | None] | None = None
    seq: Run = field(default_factory=Run)
    conc: Run = field(default_factory=Run)


def _scan_body_check(path: str, resp: httpx.Response) -> str | None:
    code = path.rsplit("/", 1)[1]
    try:
        body = resp.json()
    except ValueError:
        return f"{path}: body is not JSON"
    if body.get("lookup_code") != code or code not in body.get("product", {}).get("barcodes", []):
        return f"{path}: answered for {body.get('lookup_code')!r}, not {code}"
    return None


def _server_seconds(resp: httpx.Response) -> float | None:
    """``Server-Timing: app;dur=<ms>`` (app/core/timing.py), if this build sends it."""
    match = SERVER_TIMING.search(resp.headers.get("server-timing", ""))
    return float(match.group(1)) / 1000 if match else None


def _record(run: Run, route: Route, path: str, resp: httpx.Response, seconds: float,
            check_body: bool) -> None:
    run.latencies.append(seconds)
    server = _server_seconds(resp)
    if server is not None:
        run.server.append(server)
    run.statuses[resp.status_code] += 1
    problem = None
    if resp.status_code != route.expect:
        problem = f"{path}: HTTP {resp.status_code} {resp.text[:200]}"
    elif check_body and route.check is not None:
        problem = route.check(path, resp)
    if problem:
        if len(run.bad) < 5:
            run.bad.append(problem)
        run.statuses["unexpected"] += 1


async def sequential(client: httpx.AsyncClient, route: Route, paths: Sequence[str],
                     run: Run) -> None:
    """One request at a time: the latency a cashier sees per scan."""
    clock = time.perf_counter
    start = clock()
    for path in paths:
        t0 = clock()
        resp = await client.get(path)
        elapsed = clock() - t0
        _record(run, route, path, resp, elapsed, check_body=True)
    run.wall = clock() - start


async def sequential_mixed(client: httpx.AsyncClient, routes: Sequence[Route],
                           rng: random.Random) -> None:
    """Every route's sequential requests in one shuffled stream, one at a time.

    Interleaving means a disturbance (another process on the machine, a GC, a disk
    flush) hits every route alike, so the scan/healthz ratio stays fair on a busy box.
    """
    order = [(route, path) for route in routes for path in route.paths]
    rng.shuffle(order)
    clock = time.perf_counter
    start = clock()
    for route, path in order:
        t0 = clock()
        resp = await client.get(path)
        elapsed = clock() - t0
        _record(route.seq, route, path, resp, elapsed, check_body=True)
    wall = clock() - start
    for route in routes:
        route.seq.wall = wall


async def concurrent(client: httpx.AsyncClient, route: Route, paths: Sequence[str],
                     run: Run, concurrency: int) -> None:
    """``concurrency`` clients on keep-alive connections, each sending back to back."""
    clock = time.perf_counter
    queue = iter(paths)

    async def worker() -> None:
        for path in queue:  # shared iterator: each path is sent once
            t0 = clock()
            resp = await client.get(path)
            elapsed = clock() - t0
            _record(run, route, path, resp, elapsed, check_body=False)

    start = clock()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.wall = clock() - start


async def measure(base_url: str, key: str, routes: list[Route], concurrency: int,
                  warmup: list[str], budget: Budget, cookies: bool, seed: int) -> Run:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    # With cookies (httpx's default, like requests.Session or a browser) the client sends
    # back the session cookie the server sets; without, every request arrives cookie-less.
    jar = CookieJar() if cookies else CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    async with (
        asyncio.timeout(budget.remaining()),
        httpx.AsyncClient(base_url=base_url, limits=limits, timeout=10.0, trust_env=False,
                          http1=True, http2=False, cookies=jar,
                          headers={"Authorization": f"Bearer {key}"}) as client,
    ):
        warm = Run()
        warm_route = Route("warm-up", warmup, 200, True)
        await concurrent(client, warm_route, warmup, warm, concurrency)  # opens every conn
        await sequential(client, warm_route, warmup[: len(warmup) // 2], warm)
        if warm.statuses.get("unexpected"):
            return warm  # broken before we start (bad key, app error): report, skip the rest
        gc.collect()
        gc.freeze()  # keep the client's collector out of the tail latencies
        total = sum(len(r.paths) for r in routes)
        print(f"  sequential: {total} requests, all routes interleaved ...", flush=True)
        await sequential_mixed(client, routes, random.Random(seed))
        for route in routes:
            print(f"  {route.label}: {len(route.paths)} at concurrency {concurrency} ...",
                  flush=True)
            await concurrent(client, route, route.paths, route.conc, concurrency)
        return warm


# ---- report ------------------------------------------------------------------------------


def figures_rows(routes: list[Route]) -> list[list[object]]:
    rows = []
    for r in routes:
        s: LatencySummary = summarize(r.seq.latencies)
        app: LatencySummary = summarize(r.seq.server)
        c: LatencySummary = summarize(r.conc.latencies)
        rows.append([r.label, s.n, s.p50, s.p90, s.p99, s.max, app.p50, app.p99,
                     r.conc.rate, c.p50, c.p99])
    return rows


HEADERS = ["route", "n", "p50 ms", "p90 ms", "p99 ms", "max ms", "app p50", "app p99",
           "req/s @c", "p50 @c ms", "p99 @c ms"]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--products", type=int, default=100_000, help="catalogue size (100000)")
    p.add_argument("--requests", type=int, default=5_000,
                   help="requests per measurement for scan and /healthz (5000)")
    p.add_argument("--concurrency", type=int, default=8, help="concurrent clients (8)")
    p.add_argument("--extra-requests", type=int, default=None,
                   help="requests for the 404 rows (default: requests/5, at least 100)")
    p.add_argument("--seed", type=int, default=2026, help="random seed for the code sample")
    p.add_argument("--workdir", help="use this (empty or new) folder; it is kept")
    p.add_argument("--keep", action="store_true", help="keep the temp folder (db, server log)")
    p.add_argument("--no-cookies", action="store_true",
                   help="refuse cookies, like curl; the default keeps them, like httpx/requests")
    p.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    p.add_argument("--tills", type=int, default=4,
                   help=f"tills ringing up bills at once after the API rows, 0 to skip "
                        f"(4, at most {MAX_TILLS})")
    p.add_argument("--till-bills", type=int, default=40,
                   help=f"bills of {LINES_PER_BILL} lines shared by those tills (40)")
    p.add_argument("--time-limit", type=float, default=TIME_LIMIT_S,
                   help=f"abort after this many seconds in total ({TIME_LIMIT_S})")
    args = p.parse_args(argv)
    if not 1 <= args.products <= 2_000_000:
        p.error("--products must be 1..2000000")
    if not 10 <= args.requests <= 200_000:
        p.error("--requests must be 10..200000")
    if not 1 <= args.concurrency <= 256:
        p.error("--concurrency must be 1..256")
    if not 0 <= args.tills <= MAX_TILLS:
        p.error(f"--tills must be 0..{MAX_TILLS}")
    if args.tills and not args.tills <= args.till_bills <= 10_000:
        p.error("--till-bills must be --tills..10000")
    if args.extra_requests is None:
        args.extra_requests = max(100, args.requests // 5)
    return args


def print_tills(args: argparse.Namespace, till_run: TillRun) -> None:
    """Scan -> cart fragment with ``--tills`` cashiers at once: server time and round trip."""
    workers = till_run.workers
    server = summarize([s for w in workers for s in w.scan_server_s])
    trip = summarize([s for w in workers for s in w.scan_s])
    label = f"{args.tills} till{'s' if args.tills > 1 else ''} at once"
    rows = [[f"POST /pos/scan -> cart fragment, server ({label})", server.n, server.p50,
             server.p90, server.p99, server.max],
            [f"POST /pos/scan -> cart fragment, round trip ({label})", trip.n, trip.p50,
             trip.p90, trip.p99, trip.max]]
    print()
    headers = ["measure", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"]
    print(format_table(headers, rows))
    if args.markdown:
        print()
        print(format_table(headers, rows, markdown=True))
    cpu = till_run.cpu
    print(f"tills: {args.till_bills / till_run.seconds:.2f} bills/s, server CPU "
          f"{cpu.server / args.till_bills * 1000:.1f} ms per bill, "
          f"{100 * cpu.server_cores:.0f}% of one core (other work "
          f"{100 * cpu.others_cores:.0f}%)")
    verdict = "MET" if server.p99 <= TARGET_TILL_SCAN_P99_MS else "MISSED"
    print(f"scan -> cart fragment server time ({label}, {args.products:,} products): "
          f"p50 {server.p50:.2f} ms, p99 {server.p99:.2f} ms; target p99 <= "
          f"{TARGET_TILL_SCAN_P99_MS:.0f} ms: {verdict}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    budget = Budget(args.time_limit)
    budget.arm()
    try:
        with work_directory(args.workdir, args.keep, prefix="kirana-bench-scan-") as root:
            return run(args, root, budget)
    except (BudgetExceeded, TimeoutError) as exc:
        print(f"ABORTED: {str(exc) or 'time limit reached while measuring'}", file=sys.stderr)
        return 3
    except httpx.HTTPError as exc:
        print(f"FAILED: request error {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except (RuntimeError, OSError) as exc:
        print(f"SETUP FAILED: {exc}", file=sys.stderr)
        return 2
    finally:
        Budget.disarm()


def run(args: argparse.Namespace, root: Path, budget: Budget) -> int:
    print(f"Kirana scan lookup bench, {date.today().isoformat()}, work dir {root}")
    print(format_table(["machine", ""], machine_info(PACKAGES), numeric=False))
    warning = busy_warning()
    if warning:
        print(warning)
    print("Client and server run on the SAME machine and share its CPUs; latencies include")
    print("the httpx client's own overhead (the /healthz row is that floor plus the framework).")
    print()

    store = StoreDir(root)
    store.upgrade(timeout=min(120, budget.remaining()))

    t0 = time.perf_counter()
    csv_path = root / "catalog.csv"
    codes = write_catalog_csv(csv_path, args.products)
    csv_mb = csv_path.stat().st_size / 1e6
    print(f"catalogue: {args.products:,} products, {len(codes):,} EAN-13 codes, "
          f"CSV {csv_mb:.1f} MB written in {time.perf_counter() - t0:.1f} s")
    imported = store.import_catalog(csv_path, timeout=budget.remaining())
    print(f"kirana catalog import: {imported.seconds:.1f} s "
          f"({args.products / imported.seconds:,.0f} products/s, CLI start-up included) "
          f"-> {imported.last_line('stderr')}")
    key = store.api_key("bench-scan", "catalog:read", timeout=min(60, budget.remaining()))
    if args.tills:
        prepare_tills(store, args.tills, timeout=min(60, budget.remaining()))
    db_mb = store.db_path.stat().st_size / 1e6
    print(f"database: {db_mb:.1f} MB")

    rng = random.Random(args.seed)
    n, extra = args.requests, args.extra_requests
    routes = [
        Route("GET /healthz", ["/healthz"] * n, 200, False),
        Route("GET /api/v1/scan (known EAN-13)",
              [f"/api/v1/scan/{c}" for c in rng.choices(codes, k=n)], 200, True,
              _scan_body_check),
        Route("GET /api/v1/scan (unknown EAN-13, 404)",
              [f"/api/v1/scan/{c}" for c in unknown_codes(rng, extra)], 404, False),
        Route("GET /api/v1/scan (weight 21..., 404)",
              [f"/api/v1/scan/{c}" for c in weight_codes(rng, extra)], 404, False),
    ]
    warmup = [f"/api/v1/scan/{c}" for c in rng.choices(codes, k=min(1000, n))]

    port = free_port()
    base_url = f"http://{LOCALHOST}:{port}"
    server = store.serve(port)
    print(f"server: pid {server.pid}, {base_url} (single uvicorn worker), log {server.log_path}")
    try:
        ready = server.wait_ready(f"{base_url}/healthz", timeout=min(60, budget.remaining()))
        print(f"server ready after {ready:.1f} s; measuring")
        warm = asyncio.run(measure(base_url, key, routes, args.concurrency, warmup, budget,
                                   cookies=not args.no_cookies, seed=args.seed))
        till_run = None
        if args.tills and not warm.statuses.get("unexpected"):
            print(f"  {args.tills} tills at once: {args.till_bills} bills of "
                  f"{LINES_PER_BILL} lines (POST /pos/scan -> cart fragment) ...", flush=True)
            till_run = asyncio.run(run_tills(base_url, codes, args.till_bills, args.tills,
                                             args.seed, server_pid=server.pid))
    finally:
        rc = server.stop()
        if server.exited_early:
            print(f"SERVER DIED during the bench (exit {rc}; negative = killed by that signal)."
                  f" Log tail:\n{server.log_tail(1500)}", file=sys.stderr)
        else:
            print(f"server stopped (exit {rc})")

    log = server.log_tail(10**7)
    tracebacks = log.count("Traceback")
    print(f"server-side session files left in var/sessions: {store.session_files():,} "
          f"(client {'refused' if args.no_cookies else 'kept'} cookies)")
    print()
    print(f"Figures: {args.products:,} products, {n:,} requests per scan/healthz row, "
          f"{extra:,} per 404 row. p50..max: sequential round trips (one client);\n"
          f"app p50/p99: the server's own time for those requests (Server-Timing header);\n"
          f"'@c': {args.concurrency} concurrent keep-alive clients.")
    rows = figures_rows(routes)
    print(format_table(HEADERS, rows))
    health, scan = routes[0], routes[1]
    hs, ss = summarize(health.seq.latencies), summarize(scan.seq.latencies)
    print(f"ratio scan/healthz: p50 {ss.p50 / hs.p50:.2f}x, "
          f"req/s {scan.conc.rate / health.conc.rate:.2f}x")
    verdict = "MET" if ss.p99 < TARGET_P99_MS else "MISSED"
    print(f"target p99 < {TARGET_P99_MS:.0f} ms for a sequential scan at "
          f"{args.products:,} products: {verdict} ({ss.p99:.2f} ms)")
    ha, sa = summarize(health.seq.server), summarize(scan.seq.server)
    if ha.n and sa.n:
        ratio = sa.p50 / ha.p50
        print(f"ratio scan/healthz server time (app): p50 {ratio:.2f}x "
              f"({sa.p50:.2f} / {ha.p50:.2f} ms), p99 {sa.p99 / ha.p99:.2f}x; target <= "
              f"{TARGET_SCAN_HEALTHZ_RATIO:.0f}x: "
              f"{'MET' if ratio <= TARGET_SCAN_HEALTHZ_RATIO else 'MISSED'}")
    if till_run is not None:
        print_tills(args, till_run)
    if args.markdown:
        print()
        print(format_table(HEADERS, rows, markdown=True))

    failed = False
    for route in [Route("warm-up", [], 200, True, seq=warm), *routes]:
        for phase, r in (("sequential", route.seq), ("concurrent", route.conc)):
            wrong = r.statuses.get("unexpected", 0)
            if wrong:
                print(f"{route.label} {phase}: {wrong} unexpected answer(s); statuses "
                      f"{dict(r.statuses)}; e.g. {r.bad[:3]}", file=sys.stderr)
                failed = failed or route.must_pass
    if tracebacks:
        print(f"server log has {tracebacks} traceback(s); see {server.log_path}", file=sys.stderr)
    print(f"total bench time {budget.elapsed():.0f} s; load average now {load_average()}")
    if warning:
        print(warning)
    if failed:
        print("FAILED: a known code did not answer 200 with its product", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
