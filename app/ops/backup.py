"""Backing up and restoring a store's database while it sells (issue #23, docs/deploy.md).

Backup: SQLite's online backup API copies the live file from one read transaction. The
database runs in WAL mode, so that read sees one committed moment and never blocks a
till's write: a backup taken mid-rush holds every sale committed before it began, whole,
and none after. The copy is written as `<name>.partial`, checked (`PRAGMA
quick_check`: every page readable), flushed to disk, and only then renamed to its final name, and the
folder is flushed too: a backup killed half-way (kill -9, power cut) leaves a partial
file that never counts and is removed by the next run, and every earlier backup stays as
it was. Retention (app/ops/backup_rules.py) then drops what the policy no longer keeps;
an optional mirror folder (a second disk) gets the same file the same way.

Restore: refused while a store server holds the database (`ServerLock`, taken by
`kirana serve`), refused for a file that is not a sound Kirana store database or that a
newer Kirana made. The backup is copied beside the database, upgraded to this version's
schema, and given a new sync epoch, so the hub cannot mistake it for the database it
knew: it refuses the store (4409) until HQ accepts it, and then reconciles (docs/
sync-protocol.md, "4409"). The database it replaces is never deleted: it is moved aside
with its -wal and -shm as `<db>.before-restore-<time>`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from app.config import StoreConfig
from app.core.i18n import _
from app.core.private_files import FILE_MODE, private_dir, tighten
from app.ops import backup_rules

LOCK_SUFFIX = ".lock"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


# -- the server's lock on its database ---------------------------------------------


class ServerLock:
    """An exclusive lock on `<db>.lock` while a store server (or a restore) uses the
    database: a second server on the same file, or a restore under a running server,
    is refused instead of corrupting what the first one holds. The kernel drops the
    lock when the process ends, kill -9 included, so a crash never leaves it stuck."""

    def __init__(self, db_path: Path, purpose: str) -> None:
        self.path = Path(f"{Path(db_path).resolve()}{LOCK_SUFFIX}")
        self.purpose = purpose
        self._fd: int | None = None

    def acquire(self) -> ServerLock:
        private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = (os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                      or _("another process"))
            os.close(fd)
            raise BackupError(
                _("%(database)s is in use by %(holder)s. Stop it first (for a store server: "
                  "stop the kirana service), then try again.")
                % {"database": self.path.name[:-len(LOCK_SUFFIX)], "holder": holder}) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{self.purpose} (process {os.getpid()})".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> ServerLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """One backup at a time into a folder (a cron job and a person at once)."""
    fd = os.open(folder / ".backup.lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(_("another backup into %(folder)s is running; wait for it to "
                                "finish") % {"folder": folder}) from None
        yield
    finally:
        os.close(fd)


# -- backup ---------------------------------------------------------------------------


@dataclass
class BackupResult:
    path: Path
    size: int
    seconds: float
    taken_at: datetime
    mirrored: Path | None = None
    deleted: list[str] = field(default_factory=list)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _open_existing(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """Open a database file that must exist (sqlite3 would make an empty one)."""
    if not path.is_file():
        raise BackupError(_("%(file)s does not exist") % {"file": path})
    mode = "ro" if readonly else "rw"
    # as_uri() escapes what a URI would misread in a folder name ('?', '#', '%', spaces)
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=30,
                           isolation_level=None)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _check(conn: sqlite3.Connection, what: str, full: bool) -> None:
    """`quick_check` (every page and b-tree readable: what a disk error breaks, about a
    tenth of the time) or the full `integrity_check` (indexes against their tables too:
    20 s for a year of sales here, run once per restore)."""
    pragma = "integrity_check(20)" if full else "quick_check(20)"
    try:
        found = [row[0] for row in conn.execute(f"PRAGMA {pragma}")]
    except sqlite3.DatabaseError as exc:
        raise BackupError(_("%(file)s is not a readable SQLite database (%(error)s)")
                          % {"file": what, "error": exc}) from None
    if found != ["ok"]:
        raise BackupError(_("%(file)s is damaged: %(details)s")
                          % {"file": what, "details": "; ".join(map(str, found))[:300]})


def _copy_database(src: sqlite3.Connection, dst_path: Path) -> None:
    """Copy `src` into a new self-contained file (rollback journal, not WAL: one file
    is the whole backup), check it and flush it to disk."""
    dst_path.unlink(missing_ok=True)
    os.close(os.open(dst_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    dst = sqlite3.connect(dst_path, isolation_level=None)
    try:
        src.backup(dst)  # one step: one read transaction, one consistent moment
        dst.execute("PRAGMA journal_mode=DELETE")
        _check(dst, _("the copy just written"), full=False)
    finally:
        dst.close()
    _fsync_file(dst_path)


def _copy_file(source: Path, partial: Path, *, readonly: bool) -> None:
    """`_copy_database` from the file at `source`; a failed copy leaves no partial."""
    src = _open_existing(source, readonly=readonly)
    try:
        _copy_database(src, partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()


def _publish(partial: Path, final: Path) -> None:
    os.replace(partial, final)
    _fsync_dir(final.parent)


def _prune(folder: Path, store_id: str, keep_last: int, keep_daily: int) -> list[str]:
    names = os.listdir(folder)
    gone = backup_rules.to_delete(names, store_id, keep_last, keep_daily)
    for name in gone:
        (folder / name).unlink(missing_ok=True)
    if gone:
        _fsync_dir(folder)
    return gone


def _clear_partials(folder: Path, store_id: str) -> None:
    for name in backup_rules.stale_partials(os.listdir(folder), store_id):
        (folder / name).unlink(missing_ok=True)


def take_backup(db_path: Path, store_id: str, folder: Path, *, keep_last: int,
                keep_daily: int, mirror: Path | None = None,
                now: datetime | None = None) -> BackupResult:
    """Write a consistent copy of the live database into `folder` (and `mirror`), then
    apply the retention policy in each. Safe while the store sells."""
    started = time.perf_counter()
    taken_at = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    name = backup_rules.backup_name(store_id, taken_at)
    folder = private_dir(Path(folder))
    with _folder_lock(folder):
        _clear_partials(folder, store_id)
        final = folder / name
        if final.exists():
            raise BackupError(_("%(file)s already exists: a backup was taken this second")
                              % {"file": final})
        partial = folder / (name + backup_rules.PARTIAL)
        _copy_file(Path(db_path), partial, readonly=False)
        _publish(partial, final)
        result = BackupResult(path=final, size=final.stat().st_size, seconds=0.0,
                              taken_at=taken_at)
        result.deleted = _prune(folder, store_id, keep_last, keep_daily)
    if mirror is not None:
        mirror = private_dir(Path(mirror))
        with _folder_lock(mirror):
            _clear_partials(mirror, store_id)
            copy = mirror / (name + backup_rules.PARTIAL)
            shutil.copyfile(final, copy)
            tighten(copy)
            _fsync_file(copy)
            _publish(copy, mirror / name)
            result.mirrored = mirror / name
            result.deleted += [f"{mirror.name}/{n}"
                               for n in _prune(mirror, store_id, keep_last, keep_daily)]
    result.seconds = time.perf_counter() - started
    return result


@dataclass(frozen=True)
class BackupInfo:
    name: str
    taken_at: datetime
    size: int


def newest_backup_at(cfg: StoreConfig) -> datetime | None:
    """When this store's newest backup was taken (what it reports to the hub)."""
    backups = list_backups(cfg.resolve(cfg.backup.folder), cfg.store.id)
    return backups[0].taken_at if backups else None


def list_backups(folder: Path, store_id: str) -> list[BackupInfo]:
    """This store's backups in `folder`, newest first."""
    if not Path(folder).is_dir():
        return []
    found = []
    for name in os.listdir(folder):
        parsed = backup_rules.parse_name(name)
        if parsed and parsed.store == store_id:
            found.append(BackupInfo(name, parsed.at, (Path(folder) / name).stat().st_size))
    return sorted(found, key=lambda b: b.taken_at, reverse=True)


# -- restore --------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupFacts:
    """What a backup holds, read before anything is changed."""

    revision: str
    epoch: str
    sales: int
    last_sale: str | None
    last_sale_at: str | None
    outbox_seq: int


def read_facts(path: Path) -> BackupFacts:
    """Check that `path` is a sound Kirana store database and say what it holds."""
    conn = _open_existing(Path(path), readonly=True)
    try:
        _check(conn, str(path), full=True)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        needed = {"alembic_version", "sync_state", "sales", "outbox"}
        if not needed <= tables:
            raise BackupError(_("%(file)s is not a Kirana store database (it has no "
                                "%(tables)s table)")
                              % {"file": path, "tables": ", ".join(sorted(needed - tables))})
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        epoch = conn.execute("SELECT epoch FROM sync_state WHERE id = 1").fetchone()
        if revision is None or epoch is None:
            raise BackupError(_("%(file)s is not a finished Kirana store database (no schema "
                                "version or sync identity)") % {"file": path})
        sales = conn.execute("SELECT count(*) FROM sales").fetchone()[0]
        last = conn.execute("SELECT number, at FROM sales ORDER BY at DESC LIMIT 1").fetchone()
        seq = conn.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(_("%(file)s could not be read as a store database (%(error)s)")
                          % {"file": path, "error": exc}) from None
    finally:
        conn.close()
    return BackupFacts(revision=str(revision[0]), epoch=str(epoch[0]), sales=int(sales),
                       last_sale=last[0] if last else None,
                       last_sale_at=str(last[1]) if last else None, outbox_seq=int(seq))


@dataclass
class RestoreResult:
    facts: BackupFacts
    new_epoch: str
    moved_aside: Path | None
    seconds: float


def restore_backup(backup: Path, db_path: Path, *, known_revisions: set[str],
                   upgrade: Callable[[Path], None] | None = None,
                   now: datetime | None = None) -> RestoreResult:
    """Put `backup` in place of the store database at `db_path`.

    `known_revisions`: the schema revisions this code knows (a backup made by a newer
    Kirana is refused). `upgrade(path)`: brings the copy to this code's schema before
    it goes live (app.core.migrate.upgrade)."""
    started = time.perf_counter()
    backup, db_path = Path(backup).resolve(), Path(db_path).resolve()
    if backup == db_path:
        raise BackupError(_("that is the live database itself; name a backup file"))
    with ServerLock(db_path, "kirana restore"):
        facts = read_facts(backup)
        if facts.revision not in known_revisions:
            raise BackupError(
                _("%(file)s was made by a newer Kirana (schema %(schema)s); install that "
                  "version or a later one, then restore")
                % {"file": backup.name, "schema": facts.revision})
        stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        partial = db_path.with_name(db_path.name + ".restore" + backup_rules.PARTIAL)
        _copy_file(backup, partial, readonly=True)
        new_epoch = secrets.token_hex(16)
        try:
            conn = sqlite3.connect(partial, isolation_level=None)
            try:
                conn.execute("UPDATE sync_state SET epoch = ? WHERE id = 1", (new_epoch,))
            finally:
                conn.close()
            if upgrade is not None:
                upgrade(partial)
                # Back to one self-contained file: a WAL left beside the copy would hold
                # committed schema changes that must not be left behind at the rename.
                conn = sqlite3.connect(partial, isolation_level=None)
                try:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    conn.execute("PRAGMA journal_mode=DELETE")
                finally:
                    conn.close()
            _fsync_file(partial)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        moved = None
        if db_path.exists():
            moved = db_path.with_name(f"{db_path.name}.before-restore-{stamp}")
            for suffix in ("", "-wal", "-shm"):  # the WAL holds committed work: keep it
                live = Path(f"{db_path}{suffix}")
                if live.exists():
                    os.replace(live, Path(f"{moved}{suffix}"))
        _publish(partial, db_path)
        Path(f"{partial}-shm").unlink(missing_ok=True)  # an index only; its WAL is gone
    return RestoreResult(facts=facts, new_epoch=new_epoch, moved_aside=moved,
                         seconds=time.perf_counter() - started)
