"""`kirana backup` / `kirana restore` on real store databases (app/ops/backup.py):
backups taken while tills sell are whole and consistent, a backup killed half-way
leaves the earlier ones usable, and a restore is refused under a running server, for a
file that is not a sound store database, and for one a newer Kirana made."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.core import migrate
from app.core.db import Database
from app.ops import backup_rules
from app.ops.backup import (
    BackupError,
    ServerLock,
    list_backups,
    read_facts,
    restore_backup,
    take_backup,
)
from tests.conftest import ROOT
from tests.integration.test_print_queue import sell, set_up_till

KEEP = {"keep_last": 5, "keep_daily": 3}


def sql(path: Path, query: str, *args: object) -> list[tuple]:
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(query, args).fetchall()
    finally:
        conn.close()


def consistent(path: Path) -> int:
    """The copy is sound and whole: integrity ok; every sale has its lines, its stock
    moves and its outbox event; levels equal the ledger. Returns its number of sales."""
    assert sql(path, "PRAGMA integrity_check") == [("ok",)]
    sales = sql(path, "SELECT count(*) FROM sales")[0][0]
    assert sql(path, "SELECT count(*) FROM sales s WHERE NOT EXISTS "
                     "(SELECT 1 FROM sale_lines l WHERE l.sale_id = s.id)") == [(0,)]
    assert sql(path, "SELECT count(*) FROM outbox WHERE kind = 'sale.completed'") == [(sales,)]
    assert sql(path, "SELECT count(*) FROM stock_ledger WHERE reason = 'sale'")[0][0] >= sales
    assert sql(path, """SELECT count(*) FROM (SELECT product_id, bin_id, coalesce(batch, '') b,
                        sum(delta) q FROM stock_ledger GROUP BY 1, 2, 3) m
                        LEFT JOIN stock_levels l ON l.product_id = m.product_id
                        AND l.bin_id = m.bin_id AND coalesce(l.batch, '') = m.b
                        WHERE coalesce(l.on_hand, 0) != m.q""") == [(0,)]
    return sales


async def test_backups_taken_while_the_till_sells_are_whole_and_consistent(cfg, db, tmp_path):
    staff, code = await set_up_till(db, cfg)
    folder = tmp_path / "backups"
    stop = asyncio.Event()

    async def till(start: int) -> int:
        made = 0
        while not stop.is_set():
            made += len(await sell(db, cfg, staff, code, 1, start + made))
            await asyncio.sleep(0)  # a sale may never suspend: let the backups run
        return made

    tills = [asyncio.create_task(till(0))]
    counts = []
    try:
        for i in range(3):
            await asyncio.sleep(0.3)
            done = await asyncio.to_thread(
                take_backup, cfg.database_path, "S1", folder, **KEEP,
                now=datetime(2026, 12, 1, 18, 0, i, tzinfo=UTC))
            counts.append(consistent(done.path))
            assert oct(done.path.stat().st_mode & 0o777) == "0o600"
    finally:
        stop.set()
        sold = sum(await asyncio.gather(*tills))
    assert counts == sorted(counts) and counts[-1] > 0, counts  # later backups hold more
    live = sql(cfg.database_path, "SELECT count(*) FROM sales")[0][0]
    assert live == sold >= counts[-1]
    assert [b.name for b in list_backups(folder, "S1")] == [
        f"kirana-S1-20261201T18000{i}Z.db" for i in (2, 1, 0)]
    assert oct(folder.stat().st_mode & 0o777) == "0o700"


async def test_retention_and_the_mirror_keep_what_the_policy_says(cfg, db, tmp_path):
    folder, mirror = tmp_path / "b", tmp_path / "second-disk"
    start = datetime(2026, 11, 1, 23, 0, tzinfo=UTC)
    for hours in range(0, 24 * 10, 12):  # two a day for ten days
        take_backup(cfg.database_path, "S1", folder, keep_last=3, keep_daily=4,
                    mirror=mirror, now=start + timedelta(hours=hours))
    (folder / "notes.txt").write_text("mine")  # not a backup: never touched
    kept = sorted(os.listdir(folder))
    assert kept == sorted(os.listdir(mirror)) + ["notes.txt"]
    names = [n for n in kept if n.endswith(".db")]
    # newest three, and the newest of each of the four days up to the newest one
    assert names == ["kirana-S1-20261108T230000Z.db", "kirana-S1-20261109T230000Z.db",
                     "kirana-S1-20261110T110000Z.db", "kirana-S1-20261110T230000Z.db",
                     "kirana-S1-20261111T110000Z.db"]


async def test_a_backup_killed_half_way_leaves_the_earlier_ones_usable(cfg, db, tmp_path):
    staff, code = await set_up_till(db, cfg)
    await sell(db, cfg, staff, code, 3, 0)
    folder = tmp_path / "backups"
    first = take_backup(cfg.database_path, "S1", folder, **KEEP,
                        now=datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    await sell(db, cfg, staff, code, 2, 10)
    ready = tmp_path / "copied"
    # A second backup that is killed after its copy is written, before it is published.
    script = f"""
import time
from pathlib import Path
from app.ops import backup
def hang(partial, final):
    Path({str(ready)!r}).write_text("x")
    time.sleep(120)
backup._publish = hang
backup.take_backup(Path({str(cfg.database_path)!r}), "S1", Path({str(folder)!r}),
                   keep_last=5, keep_daily=3)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)  # noqa: ASYNC220
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None, "the backup process ended early"
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    partials = [n for n in os.listdir(folder) if n.endswith(backup_rules.PARTIAL)]
    assert len(partials) == 1
    assert [b.name for b in list_backups(folder, "S1")] == [first.path.name]
    assert consistent(first.path) == 3  # the earlier backup is untouched and whole
    again = take_backup(cfg.database_path, "S1", folder, **KEEP)
    assert consistent(again.path) == 5
    assert not [n for n in os.listdir(folder) if n.endswith(backup_rules.PARTIAL)]


async def test_a_restore_puts_the_backup_back_with_a_new_epoch_and_keeps_the_old_file(
        cfg, db: Database, tmp_path):
    staff, code = await set_up_till(db, cfg)
    await sell(db, cfg, staff, code, 2, 0)
    taken = take_backup(cfg.database_path, "S1", tmp_path / "b", **KEEP)
    await sell(db, cfg, staff, code, 3, 10)  # lost by the restore (the hub has them)
    old_epoch = sql(cfg.database_path, "SELECT epoch FROM sync_state")[0][0]
    await db.dispose()
    assert read_facts(taken.path).sales == 2
    done = restore_backup(taken.path, cfg.database_path,
                          known_revisions=migrate.known_revisions(), upgrade=migrate.upgrade)
    assert done.facts.epoch == old_epoch and done.new_epoch != old_epoch
    assert sql(cfg.database_path, "SELECT epoch FROM sync_state") == [(done.new_epoch,)]
    assert consistent(cfg.database_path) == 2
    assert migrate.current_revision(cfg.database_path) == migrate.head_revision()
    assert done.moved_aside is not None and consistent(done.moved_aside) == 5
    assert not list(cfg.database_path.parent.glob("*.partial*"))
    # the restored database serves: a sale goes through on it
    fresh = Database(cfg.database_path)
    try:
        assert len(await sell(fresh, cfg, staff, code, 1, 50)) == 1
    finally:
        await fresh.dispose()


async def test_a_restore_is_refused_while_a_server_holds_the_database(cfg, db, tmp_path):
    taken = take_backup(cfg.database_path, "S1", tmp_path / "b", **KEEP)
    before = cfg.database_path.read_bytes()
    with ServerLock(cfg.database_path, "the store server on port 8000"), \
            pytest.raises(BackupError, match="in use by the store server on port 8000"):
        restore_backup(taken.path, cfg.database_path, known_revisions=migrate.known_revisions())
    assert cfg.database_path.read_bytes() == before
    with ServerLock(cfg.database_path, "x"):  # released: it can be taken again
        pass


def test_a_second_store_server_on_the_same_database_is_refused(cfg):
    with ServerLock(cfg.database_path, "the store server on port 8000"):
        done = subprocess.run([sys.executable, "-m", "app.cli", "serve", "--config",
                               cfg.source, "--port", "8765"], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 2
    assert "in use by the store server on port 8000" in done.stdout + done.stderr


@pytest.mark.parametrize("damage", ["random bytes", "not a store", "truncated", "newer",
                                    "itself", "empty"])
async def test_a_restore_refuses_what_is_not_a_sound_backup_and_changes_nothing(
        cfg, db, tmp_path, damage):
    taken = take_backup(cfg.database_path, "S1", tmp_path / "b", **KEEP)
    bad = tmp_path / "bad.db"
    known = migrate.known_revisions()
    if damage == "random bytes":
        bad.write_bytes(os.urandom(8192))
    elif damage == "not a store":
        with sqlite3.connect(bad) as conn:
            conn.execute("CREATE TABLE t (x)")
        conn.close()
    elif damage == "truncated":
        bad.write_bytes(taken.path.read_bytes()[: taken.size // 3])
    elif damage == "newer":
        bad = taken.path
        known = known - {read_facts(taken.path).revision}
    elif damage == "itself":
        bad = cfg.database_path
    else:
        bad.write_bytes(b"")
    before = cfg.database_path.read_bytes()
    with pytest.raises(BackupError) as refused:
        restore_backup(bad, cfg.database_path, known_revisions=known)
    said = str(refused.value)
    assert {"random bytes": "not a readable SQLite database",
            "not a store": "not a Kirana store database",
            "truncated": "", "newer": "made by a newer Kirana",
            "itself": "the live database itself",
            "empty": "not a Kirana store database"}[damage] in said
    assert cfg.database_path.read_bytes() == before
    assert not list(cfg.database_path.parent.glob("*.partial*"))


def test_a_store_in_a_folder_with_odd_characters_backs_up_and_restores(cfg, tmp_path):
    odd = tmp_path / "Sharma & Sons #2 ?50% off"
    odd.mkdir()
    live = odd / "store.db"
    live.write_bytes(cfg.database_path.read_bytes())
    taken = take_backup(live, "S1", odd / "backups", **KEEP)
    assert consistent(taken.path) == 0
    done = restore_backup(taken.path, live, known_revisions=migrate.known_revisions())
    assert done.facts.sales == 0 and sql(live, "SELECT epoch FROM sync_state") == [
        (done.new_epoch,)]
