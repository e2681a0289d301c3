"""Files only the server's own user may read (ASVS 4.0.3 V8.1, V6.1.1): databases with
their -wal/-shm/-journal companions, the secret file, TLS keys and the store's token
are 0600; the folders Kirana makes for them, and the data directory, are 0700.

SQLite makes a database's -wal, -shm and -journal files with the database file's own
permissions, so the file is made 0600 *before* SQLite opens it; files left 0644 by an
older version are tightened whenever they are opened.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """Make `path` (and missing parents) 0700; an existing folder we own is tightened."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for p in reversed(missing):
        with contextlib.suppress(FileExistsError):
            p.mkdir(mode=DIR_MODE)
        os.chmod(p, DIR_MODE)  # mkdir's mode is filtered by the umask
    if path.exists() and not missing:
        tighten(path)
    return path


def tighten(path: Path) -> None:
    """Drop group and other permissions from a file or folder this user owns."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if st.st_uid == os.geteuid() and st.st_mode & 0o077:
        os.chmod(path, st.st_mode & 0o7700)


def private_sqlite(path: Path) -> Path:
    """Before SQLite opens `path`: its folder exists (made 0700 if missing), the file
    exists 0600 (an empty file is an empty database to SQLite), and any existing file or
    companion is tightened to 0600. A symlinked path is followed, as SQLite does (its
    target and the target's -wal and -shm are the files that hold the data)."""
    path = Path(path).resolve()
    if not path.parent.exists():
        private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    for p in (path, *(path.with_name(path.name + s) for s in SQLITE_COMPANIONS)):
        tighten(p)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file 0600 (made so, or tightened if it was there already)."""
    path = Path(path)
    if not path.parent.exists():
        private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), FILE_MODE)
        fh.write(data)
