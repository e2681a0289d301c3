"""How long a store's backup and restore take, and what a backup costs the tills
(issue #23; the recovery point and recovery time in docs/deploy.md come from here).

It writes a year of one store's sales (bench/report_data.py: about 300 bills a day) into
a temporary file, then:

- times `take_backup` (the SQLite online backup, the integrity check, the flush and the
  rename) a few times;
- meanwhile a writer commits small transactions on the live file (BEGIN IMMEDIATE,
  synchronous=FULL, as a till does) and the bench prints the slowest commit with and
  without a backup running: a backup must not hold up a sale;
- times `restore_backup` (copy, new epoch, schema check, rename).

    .venv/bin/python bench/backup.py [--days 365] [--bills 300] [--runs 3] [--from-db FILE]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core import migrate  # noqa: E402
from app.ops.backup import restore_backup, take_backup  # noqa: E402
from bench import report_data  # noqa: E402


class Writer(threading.Thread):
    """Commits one small write after another on the live file, timing each commit."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.times: list[float] = []

    def run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        try:
            while not self.stop.is_set():
                started = time.perf_counter()
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("UPDATE sync_state SET acked_at = ? WHERE id = 1",
                             (datetime.now(UTC).isoformat(),))
                conn.execute("COMMIT")
                self.times.append(time.perf_counter() - started)
                time.sleep(0.005)
        finally:
            conn.close()


def writes_while(path: Path, work) -> tuple[float, float, int]:
    """(slowest commit ms, p50 ms, commits) while `work()` runs."""
    writer = Writer(path)
    writer.start()
    time.sleep(0.2)
    try:
        work()
    finally:
        writer.stop.set()
        writer.join()
    ms = [t * 1000 for t in writer.times]
    return max(ms), statistics.median(ms), len(ms)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--bills", type=int, default=300)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--from-db", type=Path, default=None,
                    help="copy this store database (bench/report_data.py's output) "
                         "instead of writing a new one")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kirana-bench-backup-") as tmp:
        live = Path(tmp) / "store.db"
        if a.from_db:
            shutil.copyfile(a.from_db, live)
            bills = sqlite3.connect(live).execute("SELECT count(*) FROM sales").fetchone()[0]
            print(f"store database: {bills:,} bills, {live.stat().st_size / 1_048_576:,.1f} MB "
                  f"(copied from {a.from_db})")
        else:
            built = report_data.build(live, a.days, a.bills)
            print(f"store database: {built.bills:,} bills, "
                  f"{live.stat().st_size / 1_048_576:,.1f} MB (written in {built.seconds:.1f} s)")
        size = live.stat().st_size
        folder = Path(tmp) / "backups"
        took: list[float] = []
        start = datetime(2026, 12, 1, tzinfo=UTC)

        def one_backup(i: int = 0) -> None:
            done = take_backup(live, "S1", folder, keep_last=2, keep_daily=0,
                               now=start + timedelta(minutes=len(took) + i))
            took.append(done.seconds)

        idle_max, idle_p50, idle_n = writes_while(live, lambda: time.sleep(1.0))
        busy = [writes_while(live, one_backup) for _ in range(a.runs)]
        print(f"backup: median {statistics.median(took):.2f} s, slowest {max(took):.2f} s "
              f"({a.runs} runs, {size / 1_048_576 / statistics.median(took):,.0f} MB/s)")
        print(f"a till's commit without a backup: p50 {idle_p50:.1f} ms, slowest "
              f"{idle_max:.1f} ms ({idle_n} commits)")
        print(f"a till's commit during a backup: p50 "
              f"{statistics.median(b[1] for b in busy):.1f} ms, slowest "
              f"{max(b[0] for b in busy):.1f} ms ({sum(b[2] for b in busy)} commits)")
        newest = sorted(folder.glob("kirana-S1-*.db"))[-1]
        restored: list[float] = []
        known = migrate.known_revisions()
        for _ in range(a.runs):
            done = restore_backup(newest, live, known_revisions=known, upgrade=migrate.upgrade)
            restored.append(done.seconds)
            if done.moved_aside:  # keep the temp folder from filling up
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{done.moved_aside}{suffix}").unlink(missing_ok=True)
        print(f"restore: median {statistics.median(restored):.2f} s, slowest "
              f"{max(restored):.2f} s ({a.runs} runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
