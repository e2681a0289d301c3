"""Smoke run of bench/hub_scale.py (issue #24's measurement baseline): the quick mode on a
SQLite hub with 20 simulated stores and 300 products. It must exit 0 (every store got
the catalogue once, in order; every stock event acked and kept once) and print its
figure lines and tables. Speed is not asserted; the figures are for bench/README.md.
"""

from __future__ import annotations

from tests.bench.test_bench_smoke import NUM, assert_lines, run_bench


def test_hub_scale_bench_on_sqlite_prints_memory_fanout_and_steady_figures():
    out = run_bench("hub_scale.py", "--quick", "--backend", "sqlite", "--stores", "20",
                    "--products", "300", "--time-limit", "200")
    assert_lines(
        out,
        rf"^\[sqlite\] 20 stores: connected in {NUM} s; hub RSS {NUM} -> {NUM} MiB "
        rf"\({NUM} KiB per store\); idle hub CPU {NUM}% of a core",
        r"^\[sqlite\] 20 stores: catalogue of 300 products reached every store: 6,000 events",
        # Protocol 3 (issue #24): one catalogue-log row per product, none per store.
        r"0 hub_outbox rows, 300 catalogue-log rows, DB \+",
        rf"^\[sqlite\] 20 stores: steady {NUM} stock events/s .* hub CPU {NUM}% of a core",
        r"^1\. connected stores on one hub process",
        r"^2\. catalogue import fanned out",
        r"^sqlite\s+20\s+300\s+6000\s",  # the fan-out table's row
        r"^3\. steady stock\.moved traffic",
        r"^  sqlite from 300 x 20 \(catalogue log\): 100,000 products = 100,000 log rows x "
        rf"{NUM} B = {NUM} GB whatever the stores",
        r"^check: every store got every hub event exactly once, in order",
    )
