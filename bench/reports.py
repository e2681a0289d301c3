"""Report timings on one store with a year of sales (issue #18).

Builds the store with bench/report_data.py (about 300 bills a day for 365 days,
deterministic), then times the sales report for a day, a month and a year two ways:
the service call in this process (app.reports.sales.sales_report on the file) and the
page over HTTP from a real `kirana serve` (GET /reports/sales?from=..&to=.., a manager
signed in; the `app` column is the server's own time from its Server-Timing header).
Target: the page under 1 s.

Hooks for the other reports of the issue: `EXTRA_TIMINGS` holds functions
`(db_path: Path) -> dict[str, float]` (milliseconds by figure) run on the same file after
the sales figures; the stock valuation of bench/stock_reports.py is added when present,
and a GSTR-1 timing can be appended the same way (`add_timing(fn)`).

Run: .venv/bin/python bench/reports.py [--days 365] [--bills 300] [--runs 5] [--keep]
     [--db existing.db]  (reuse a file made earlier by report_data.py; it is not changed
     except that the bench adds one manager to sign in)
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _common import (  # noqa: E402
    Budget,
    StoreDir,
    format_table,
    free_port,
    machine_info,
    run_in_work_directory,
)
from _till import process_cpu_seconds  # noqa: E402
from report_data import TZ, build  # noqa: E402

from app.core.db import Database  # noqa: E402
from app.reports import sales  # noqa: E402
from app.reports.sales_rules import DateRange, month_range  # noqa: E402

TARGET_MS = 1000.0
MANAGER = ("Bench Manager", "4726")
Timing = Callable[[Path], dict[str, float]]
EXTRA_TIMINGS: list[Timing] = []


def add_timing(fn: Timing) -> None:
    """Register another report's timing (GSTR-1, stock valuation) to run on the file."""
    EXTRA_TIMINGS.append(fn)


def _stock_hook() -> None:
    try:
        from stock_reports import time_stock_reports  # type: ignore[import-not-found]
    except ImportError:
        return
    add_timing(lambda path: time_stock_reports(path, runs=3))


def ranges(last_day: date) -> list[tuple[str, DateRange]]:
    prev_month_end = last_day.replace(day=1) - timedelta(days=1)
    return [
        ("day", DateRange(last_day, last_day)),
        ("month", month_range(prev_month_end.year, prev_month_end.month)),
        ("year", DateRange(last_day - timedelta(days=364), last_day)),
    ]


async def time_service(db_path: Path, last_day: date, runs: int) -> dict[str, list[float]]:
    """Wall ms per call under `name`, this process's CPU ms (all threads) under
    `name cpu`: the CPU figure does not grow when other work shares the machine."""
    db = Database(db_path)
    out: dict[str, list[float]] = {}
    try:
        for name, r in ranges(last_day):
            for _ in range(runs):
                t, c = time.perf_counter(), time.process_time()
                report = await sales.sales_report(db, r, TZ)
                out.setdefault(name, []).append((time.perf_counter() - t) * 1000)
                out.setdefault(name + " cpu", []).append((time.process_time() - c) * 1000)
            out[name + " bills"] = [report.totals.bills]
    finally:
        await db.dispose()
    return out


def _sign_in(client: httpx.Client) -> None:
    page = client.get("/login").text
    name, pin = MANAGER
    match = re.search(rf'value="([0-9a-f-]{{36}})"[^>]*>\s*<span class="tile-name">'
                      rf"{re.escape(name)}<", page)
    if not match:
        raise RuntimeError(f"{name} is not on the sign-in page")
    client.post("/login", data={"user_id": match.group(1), "pin": pin,
                                "_csrf_token": client.cookies.get("csrftoken", "")})


def time_pages(store: StoreDir, last_day: date, runs: int, budget: Budget
               ) -> dict[str, tuple[list[float], list[float], list[float]]]:
    """Per range: wall ms, the app's own ms (Server-Timing) and the server process's
    CPU ms (/proc/<pid>/stat) of each request."""
    port = free_port()
    server = store.serve(port)
    out: dict[str, tuple[list[float], list[float], list[float]]] = {}
    try:
        base = f"http://127.0.0.1:{port}"
        server.wait_ready(base + "/healthz", timeout=60)
        with httpx.Client(base_url=base, timeout=120, follow_redirects=True,
                          trust_env=False) as client:
            _sign_in(client)
            for name, r in ranges(last_day):
                walls: list[float] = []
                apps: list[float] = []
                cpus: list[float] = []
                for _ in range(runs):
                    budget.remaining()
                    t, c = time.perf_counter(), process_cpu_seconds(server.pid)
                    resp = client.get("/reports/sales", params={
                        "from": r.start.isoformat(), "to": r.end.isoformat()})
                    walls.append((time.perf_counter() - t) * 1000)
                    cpus.append((process_cpu_seconds(server.pid) - c) * 1000)
                    if resp.status_code != 200:
                        raise RuntimeError(f"/reports/sales {name}: {resp.status_code}")
                    m = re.search(r"app;dur=([0-9.]+)", resp.headers.get("server-timing", ""))
                    apps.append(float(m.group(1)) if m else float("nan"))
                out[name] = (walls, apps, cpus)
            t = time.perf_counter()
            csv_resp = client.get("/reports/sales.csv", params={
                "from": ranges(last_day)[2][1].start.isoformat(),
                "to": last_day.isoformat()})
            out["year CSV"] = ([(time.perf_counter() - t) * 1000], [float("nan")],
                               [float("nan")])
            if csv_resp.status_code != 200:
                raise RuntimeError(f"/reports/sales.csv: {csv_resp.status_code}")
    finally:
        server.stop()
    return out


def run(args: argparse.Namespace, root: Path, budget: Budget) -> int:
    store = StoreDir(root)
    if args.db:
        shutil.copy(args.db, store.db_path)
        import sqlite3
        with sqlite3.connect(store.db_path) as con:
            last = con.execute("SELECT max(at) FROM sales").fetchone()[0]
        from datetime import datetime
        last_day = datetime.fromisoformat(last).astimezone(TZ).date()
        print(f"store file copied from {args.db}")
    else:
        built = build(store.db_path, args.days, args.bills)
        last_day = built.last_day
        print(f"built {built.bills:,} bills, {built.lines:,} lines, {built.refunds:,} refunds "
              f"({built.first_day} to {built.last_day}) in {built.seconds:.1f} s")
    store.upgrade(timeout=300)
    store.cli("user", "add", "--name", MANAGER[0], "--role", "manager", "--pin", MANAGER[1],
              timeout=60)
    for key, value in machine_info(["litestar", "sqlalchemy"]):
        print(f"{key}: {value}")
    pages = time_pages(store, last_day, args.runs, budget)  # the server starts cold
    service = asyncio.run(time_service(store.db_path, last_day, args.runs))
    rows = []
    for name, r in ranges(last_day):
        s, cpu = service[name], service[name + " cpu"]
        walls, apps, pcpu = pages[name]
        warm = statistics.median(walls[1:]) if len(walls) > 1 else walls[0]
        warm_cpu = statistics.median(pcpu[1:] or pcpu)
        rows.append([f"{name} ({r.start} to {r.end})", int(service[name + " bills"][0]),
                     f"{s[0]:.0f} / {cpu[0]:.0f}",
                     f"{statistics.median(s[1:] or s):.0f} / {statistics.median(cpu[1:] or cpu):.0f}",
                     f"{walls[0]:.0f} / {pcpu[0]:.0f}", f"{warm:.0f} / {warm_cpu:.0f}",
                     "yes" if warm < TARGET_MS else ("CPU yes" if warm_cpu < TARGET_MS else "NO")])
    print()
    print("ms as wall / CPU. cold: the first call after the server or process started; warm:")
    print("median of the others (both read the rollup of migration 0022; nothing is kept in")
    print("memory). Page CPU is the server process's own (/proc/<pid>/stat).")
    print(format_table(["sales report", "bills", "service cold", "service warm",
                        "page cold", "page warm", "page < 1 s"],
                       rows, markdown=args.markdown))
    print(f"\nyear CSV download: {pages['year CSV'][0][0]:.0f} ms")
    _stock_hook()
    for fn in EXTRA_TIMINGS:  # each prints its own figures
        fn(store.db_path)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--bills", type=int, default=300)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--db", help="reuse a store file made by bench/report_data.py")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--time-limit", type=float, default=900.0)
    ap.add_argument("--workdir")
    ap.add_argument("--keep", action="store_true")
    return run_in_work_directory(ap.parse_args(), "kirana-bench-reports-", run)


if __name__ == "__main__":
    raise SystemExit(main())
