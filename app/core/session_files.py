"""Session files, read once (issue #15).

Litestar's FileStore reads the session's file on every request, through a worker thread
(anyio): at the till that was about a tenth of the server's CPU, more than the scan's
own queries. SessionFileStore keeps each session it read or wrote in memory with the
file's identity (inode, size, modification time) and reads the file again only when a
``stat`` of it (a few microseconds, on the event loop) shows another value: written,
replaced or deleted by anyone else (a second process, a restore). A deleted file is a
signed-out session at once; writes still go to the file first, so a restart loses
nothing. At most ``keep`` sessions are held (the least recently used go first).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from datetime import timedelta
from pathlib import Path

from litestar.stores.base import StorageObject
from litestar.stores.file import FileStore

_Identity = tuple[int, int, int]  # inode, size, mtime in ns


def _identity(path: os.PathLike[str]) -> _Identity | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class SessionFileStore(FileStore):
    def __init__(self, path: Path, *, create_directories: bool = False,
                 keep: int = 1000) -> None:
        super().__init__(path, create_directories=create_directories)
        self._kept: OrderedDict[str, tuple[_Identity, StorageObject]] = OrderedDict()
        self._keep = keep

    def _remember(self, key: str, identity: _Identity | None, obj: StorageObject) -> None:
        if identity is None:
            self._kept.pop(key, None)
            return
        self._kept[key] = (identity, obj)
        self._kept.move_to_end(key)
        while len(self._kept) > self._keep:
            self._kept.popitem(last=False)

    async def set(self, key: str, value: str | bytes,
                  expires_in: int | timedelta | None = None) -> None:
        await super().set(key, value, expires_in)
        data = value.encode("utf-8") if isinstance(value, str) else value
        path = self._path_from_key(key)
        # What was just written, under the identity the file has now (a failed write
        # leaves the old file, whose identity then does not match: read again).
        self._kept.pop(key, None)
        identity = _identity(path)
        loaded = await self._load_from_path(path) if identity is not None else None
        if loaded is not None and loaded.data == data:
            self._remember(key, identity, loaded)

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        path = self._path_from_key(key)
        identity = _identity(path)
        kept = self._kept.get(key)
        if identity is None:
            self._kept.pop(key, None)
            return None
        if kept is not None and kept[0] == identity:
            obj = kept[1]
            self._kept.move_to_end(key)
        else:
            loaded = await self._load_from_path(path)
            if loaded is None:
                self._kept.pop(key, None)
                return None
            obj = loaded
            # The file may have changed while it was read: a later get compares again.
            self._remember(key, identity, obj)
        if obj.expired:
            self._kept.pop(key, None)
            await path.unlink(missing_ok=True)
            return None
        if renew_for and obj.expires_at:
            await self.set(key, value=obj.data, expires_in=renew_for)
        return obj.data

    async def delete(self, key: str) -> None:
        self._kept.pop(key, None)
        await super().delete(key)

    async def delete_all(self) -> None:
        self._kept.clear()
        await super().delete_all()
