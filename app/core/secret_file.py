"""The install's secret file (``<data_dir>/secret.key``): made once, 0600, never in the
database, the config or the logs. CSRF tokens are signed with it and the PIN pepper is
derived from it, so a copy of the database alone cannot be used to test PIN guesses.

Back it up apart from the database: losing it means every PIN and password must be set
again (``kirana user reset-pin``); every hub process sharing one database needs the same
file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import TypeVar

from app.core.db import AnyDatabase
from app.core.private_files import private_dir

D = TypeVar("D", bound=AnyDatabase)

SECRET_NAME = "secret.key"


def install_secret(data_dir: Path) -> str:
    path = private_dir(Path(data_dir)) / SECRET_NAME
    if not path.exists():
        # Written under a private name, then linked: a second process starting at the
        # same moment sees either no file or the whole secret, never an empty one.
        tmp = path.with_name(f".{SECRET_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first; use theirs
        finally:
            tmp.unlink()
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise RuntimeError(f"{path} is damaged (too short); restore it from the backup")
    return secret


def pin_pepper(data_dir: Path) -> bytes:
    """The secret every PIN and password hash is keyed with."""
    secret = install_secret(data_dir)
    return hmac.new(secret.encode(), b"kirana pin pepper v1", hashlib.sha256).digest()


def attach_pepper(db: D, data_dir: Path) -> D:
    """Give an opened database the pepper of its install; returns the database."""
    db.pepper = pin_pepper(data_dir)
    return db
