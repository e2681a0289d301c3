"""Session files read once (app/core/session_files.py, issue #15): a session is read from
its file the first time only, yet a file another process deleted (signed out there),
rewrote or let expire is seen at the next request. Real files in a temp directory, and
a real signed-in client against the store app."""

from __future__ import annotations

import os

import msgspec
import pytest
from litestar.stores.base import StorageObject

from app.core.session_files import SessionFileStore


@pytest.fixture
def store(tmp_path):
    return SessionFileStore(tmp_path / "sessions", create_directories=True)


@pytest.fixture
def reads(store, monkeypatch):
    """Counts the files the store reads."""
    seen: list[str] = []
    load = store._load_from_path

    async def counted(path):
        seen.append(os.fspath(path))
        return await load(path)

    monkeypatch.setattr(store, "_load_from_path", counted)
    return seen


def write_as_another_process(store: SessionFileStore, key: str, data: bytes,
                             expires_in: int | None = 3600) -> None:
    path = os.fspath(store._path_from_key(key))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".other"
    with open(tmp, "wb") as fh:
        fh.write(StorageObject.new(data=data, expires_in=expires_in).to_bytes())
    os.replace(tmp, path)


async def test_a_session_is_read_from_its_file_once(store, reads):
    await store.set("abc", b'{"user": 1}', expires_in=3600)
    reads.clear()  # set() reads back what it wrote
    for _ in range(5):
        assert await store.get("abc") == b'{"user": 1}'
    assert reads == []
    assert await store.get("nobody") is None


async def test_a_change_by_anyone_else_is_seen_at_once(store, reads):
    await store.set("abc", b"one", expires_in=3600)
    assert await store.get("abc") == b"one"
    write_as_another_process(store, "abc", b"two")
    assert await store.get("abc") == b"two"
    os.unlink(store._path_from_key("abc"))  # signed out by another process
    assert await store.get("abc") is None
    write_as_another_process(store, "late", b"three")  # never seen by this one
    assert await store.get("late") == b"three"


async def test_an_expired_or_deleted_session_is_gone(store):
    write_as_another_process(store, "old", b"x", expires_in=-1)
    assert await store.get("old") is None
    assert not await store.exists("old")
    await store.set("abc", b"one", expires_in=3600)
    assert await store.get("abc") == b"one"
    await store.delete("abc")
    assert await store.get("abc") is None
    await store.set("abc", b"again", expires_in=3600)
    await store.delete_all()
    assert await store.get("abc") is None


async def test_at_most_keep_sessions_are_held(tmp_path, monkeypatch):
    store = SessionFileStore(tmp_path / "s", create_directories=True, keep=3)
    for i in range(5):
        await store.set(f"k{i}", msgspec.json.encode({"i": i}), expires_in=3600)
    assert list(store._kept) == ["k2", "k3", "k4"]
    assert await store.get("k0") == b'{"i":0}'  # read from its file again


async def test_signing_out_on_the_app_ends_the_session(app, staff):
    """The store app uses it: a signed-in cashier's session file, deleted, signs them out."""
    from tests.integration.test_credential_freshness import signed_in, signed_out

    assert isinstance(app.stores.get("sessions"), SessionFileStore)
    async with signed_in(app, staff, "cashier") as cashier:
        assert "Hello, Asha" in (await cashier.get("/")).text
        folder = app.stores.get("sessions").path
        for name in os.listdir(folder):
            os.unlink(os.path.join(folder, name))
        assert await signed_out(cashier)
