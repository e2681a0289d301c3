"""Smoke run of bench/backup.py (tiny sizes): it keeps working as the app changes."""

from __future__ import annotations

from tests.bench.test_bench_smoke import NUM, assert_lines, run_bench


def test_backup_bench_prints_backup_restore_and_commit_times():
    out = run_bench("backup.py", "--days", "2", "--bills", "10", "--runs", "1")
    assert_lines(out, rf"^backup: median {NUM} s",
                 rf"^a till's commit during a backup: p50 {NUM} ms", rf"^restore: median {NUM} s")
