"""Smoke runs of the benches in bench/: tiny sizes, a few seconds each.

They keep the scripts working as the app changes (a renamed route, a new sign-in step,
a moved module): each must exit 0 and print its headline figure lines. Speed is not
asserted here; the figures are for bench/README.md, on a quiet machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"


def run_bench(script: str, *args: str, timeout: float = 240) -> str:
    env = dict(os.environ, PYTHONUNBUFFERED="1", NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    proc = subprocess.run([sys.executable, str(BENCH / script), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (f"{script} exited {proc.returncode}\n--- stdout ---\n"
                                  f"{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}")
    return proc.stdout


def assert_lines(out: str, *patterns: str) -> None:
    for pattern in patterns:
        assert re.search(pattern, out, re.MULTILINE), f"no line matching {pattern!r} in:\n{out}"


NUM = r"[0-9][0-9,]*\.?[0-9]*"


def test_pos_bench_prints_cpu_per_sale_and_bills_per_second():
    out = run_bench("pos.py", "--products", "200", "--sales", "4", "--tills", "1,4",
                    "--time-limit", "200")
    assert_lines(
        out,
        rf"^whole bills per second \(1 till\)\s+{NUM}",
        rf"^one-till scan p99 \(server time\) {NUM} ms",
        rf"^server CPU per sale \(1 till\): {NUM} ms \(14 requests",
        rf"^server CPU per sale \(4 tills\): {NUM} ms",
        rf"^bills per second: 1 till {NUM}, 4 tills {NUM}$",
        r"^server at a full core \(4 tills\): (yes|no) \(\d+% of one core",
        rf"^ratio 4 tills / 1 till: {NUM}x",
        r"^scan\s+" + NUM,  # the per-phase CPU split of the one-till run
    )


def test_pos_bench_rings_up_bills_that_meet_running_offers():
    """Issue #21's basket (30 lines, 20 offers) at a CI-cheap size: the offers are made
    through the promotions service and the bills draw from the products they target."""
    out = run_bench("pos.py", "--products", "300", "--sales", "3", "--tills", "1",
                    "--lines", "12", "--promotions", "9", "--warmup", "0",
                    "--time-limit", "200")
    assert_lines(
        out,
        r"^offers: 9 running \(.*2 percent_off.*buy_x_get_y.*bill_percent_off",
        r"bills of 12 lines, 16 requests each",
        rf"^one-till scan p99 \(server time\) {NUM} ms",
        rf"^server CPU per sale \(1 till\): {NUM} ms \(16 requests; the target is for "
        "10-line bills without offers",
    )


def test_scan_lookup_bench_prints_api_ratio_and_four_till_scans():
    out = run_bench("scan_lookup.py", "--products", "300", "--requests", "40",
                    "--extra-requests", "10", "--concurrency", "2", "--tills", "4",
                    "--till-bills", "4", "--time-limit", "200")
    assert_lines(
        out,
        rf"^GET /api/v1/scan \(known EAN-13\)\s+40\s+{NUM}",
        rf"^ratio scan/healthz: p50 {NUM}x, req/s {NUM}x",
        rf"^ratio scan/healthz server time \(app\): p50 {NUM}x",
        rf"^POST /pos/scan -> cart fragment, server \(4 tills at once\)\s+40\s+{NUM}",
        rf"^scan -> cart fragment server time \(4 tills at once, 300 products\): "
        rf"p50 {NUM} ms, p99 {NUM} ms",
    )


def test_printing_bench_prints_render_time_and_queue_rate():
    out = run_bench("printing.py", "--renders", "5", "--jobs", "10")
    assert_lines(out, rf"^-> ESC/POS bytes incl\. QR \+ barcode\s+{NUM}",
                 rf"^queue -> TCP sink, jobs/s \(10 jobs\)\s+{NUM}", rf"^render p99 {NUM} ms")


def test_darkstore_bench_prints_board_latency_and_planning():
    out = run_bench("darkstore.py", "--orders", "3")
    assert_lines(out, rf"^order posted -> board told \(SSE\)\s+{NUM}",
                 rf"^board p99 {NUM} ms vs target")


@pytest.mark.e2e
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists() or not shutil.which("chromium"),
                    reason="needs Debian's Chromium")
def test_first_load_bench_prints_page_weight_and_camera_time():
    out = run_bench("first_load.py")
    assert_lines(out, rf"^total: {NUM} bytes in \d+ responses",
                 r"^camera button -> first EAN-13 in the cart: \d+ ms")


def test_sync_bench_on_sqlite_prints_latency_and_rates():
    out = run_bench("sync.py", "--backend", "sqlite", "--samples", "5", "--sustained", "200",
                    "--catchup", "300", "--stores", "5", "--load-seconds", "2", "--period", "1",
                    "--no-flat-out", "--time-limit", "200")
    assert_lines(out, rf"^\[sqlite\] latency: \d+ samples, p50 {NUM} ms",
                 r"^\[sqlite\] sustained: 200 events in", r"^\[sqlite\] catch-up: 300 queued",
                 r"^\[sqlite\] check: the hub kept each of the")


def test_allocation_bench_on_sqlite_prints_decision_placement_and_intake():
    out = run_bench("allocation.py", "--quick", "--backend", "sqlite", "--stores", "30",
                    "--skus", "500", "--decisions", "20", "--placements", "5",
                    "--intake-stores", "5", "--clients", "2", "--seconds", "1",
                    "--time-limit", "200")
    assert_lines(out, rf"^allocate\(\) p99 {NUM} ms", rf"^take_order on sqlite p99 {NUM} ms",
                 r"intake on sqlite done")


def test_request_cost_bench_prints_cpu_per_request_against_healthz():
    out = run_bench("request_cost.py", "--requests", "10", "--rounds", "1")
    assert_lines(out, rf"^GET /healthz \(no identity\)\s+{NUM}",
                 rf"^GET /pos/printer-alerts \(cashier session\)\s+{NUM}",
                 rf"^GET /api/v1/products/<none> \(API key\)\s+{NUM}")


def test_inventory_bench_prints_the_suggested_order_times():
    out = run_bench("inventory.py", "--products", "60", "--days", "30", "--runs", "2",
                    "--scans", "20", "--transfers", "2")
    assert_lines(out, rf"^suggest\(\) pure, 60 products\s+{NUM}",
                 rf"^suggested_order\(\) service, 60 products, SQLite\s+{NUM}",
                 rf"^suggested_order\(\) p99 {NUM} ms vs target 200 ms: (PASS|FAIL) "
                 rf"\(p50 {NUM} ms; CPU p50 {NUM} ms",
                 rf"^receiving scan -> add form, server \(EAN-13 and GS1-128\)\s+{NUM}",
                 rf"^receiving scan p99 \(server time\): {NUM} ms vs target 15 ms: "
                 rf"(PASS|FAIL) \(p50 {NUM} ms",
                 r"^receiving: 20 lines added, 0 asked to confirm",
                 rf"^transfer S1 -> D2: dispatch -> on its way at D2\s+{NUM}",
                 rf"^transfer dispatch -> visible at the destination p99: {NUM} ms vs target "
                 r"1000 ms: (PASS|FAIL) \(2 transfers; p50",
                 r"^targets: [0-3] of 3 PASS")
