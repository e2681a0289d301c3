"""Databases, their WAL files, secrets and keys are 0600 and their folders 0700 (issue #13
item 17, ASVS 4.0.3 V8.1.1/V6.1.1), whatever the umask, and files an older version left
0644 are tightened when they are opened."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from app.core import migrate, tls
from app.core.db import Database
from app.core.secret_file import attach_pepper, install_secret
from tests.conftest import make_config


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def loose_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


async def write_something(db: Database) -> None:
    async with db.write() as s:
        await s.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
        await s.execute(text("INSERT INTO probe VALUES (1)"))


def assert_private_sqlite(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        assert p.exists(), p
        assert mode(p) == 0o600, f"{p.name} is {oct(mode(p))}"


async def test_a_new_store_database_and_its_wal_files_are_0600_in_a_0700_folder(tmp_path):
    path = tmp_path / "var" / "s1" / "store.db"
    migrate.upgrade(path)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700
    db = Database(path)
    try:
        await write_something(db)
        assert_private_sqlite(path)  # the WAL files exist while a connection is open
    finally:
        await db.dispose()


async def test_a_world_readable_database_from_before_is_tightened_when_opened(tmp_path):
    path = tmp_path / "store.db"
    migrate.upgrade(path)
    for p in tmp_path.iterdir():
        os.chmod(p, 0o644)
    db = Database(path)
    try:
        await write_something(db)
        assert_private_sqlite(path)
    finally:
        await db.dispose()


async def test_the_store_app_keeps_its_data_folder_0700_and_secret_file_0600(
        tmp_path, migrated_template):
    from litestar.testing import AsyncTestClient

    from app.server import create_store_app

    cfg = make_config(tmp_path)
    cfg.data_dir.mkdir(mode=0o755)
    shutil.copy(migrated_template, cfg.database_path)
    os.chmod(cfg.database_path, 0o644)
    async with AsyncTestClient(app=create_store_app(cfg)) as client:
        assert (await client.get("/login")).status_code == 200
        await write_something(client.app.state.db)
        assert_private_sqlite(cfg.database_path)
    assert mode(cfg.data_dir) == 0o700
    assert mode(cfg.data_dir / "secret.key") == 0o600


async def test_the_hub_sqlite_database_is_0600(tmp_path):
    from app.hub.db import open_hub_database

    path = tmp_path / "hub" / "hub.db"
    migrate.hub_upgrade(f"sqlite:///{path}")
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    db = attach_pepper(open_hub_database(f"sqlite:///{path}"), tmp_path / "hubvar")
    try:
        await write_something(db)
        assert_private_sqlite(path)
        assert mode(tmp_path / "hubvar") == 0o700
    finally:
        await db.dispose()


def test_a_data_folder_made_by_the_secret_file_is_0700(tmp_path):
    install_secret(tmp_path / "new" / "var")
    assert mode(tmp_path / "new" / "var") == 0o700
    assert mode(tmp_path / "new" / "var" / "secret.key") == 0o600


def test_tls_keys_rewritten_over_a_0644_file_end_up_0600(tmp_path):
    files = tls.TlsFiles(tmp_path / "tls")
    tls.ensure(files, "Test store")
    os.chmod(files.key, 0o644)
    tls.ensure(files, "Test store", force=True)
    assert mode(files.key) == 0o600 and mode(files.ca_key) == 0o600
    assert mode(files.key.parent) == 0o700


def test_a_store_token_written_over_a_0644_file_ends_up_0600(tmp_path):
    from app.cli import _write_secret

    token_file = tmp_path / "hub.token"
    token_file.write_text("old\n")
    os.chmod(token_file, 0o644)
    _write_secret(token_file, "new-token")
    assert token_file.read_text() == "new-token\n" and mode(token_file) == 0o600


async def test_a_database_path_that_is_a_symlink_makes_its_target_0600(tmp_path):
    """store.db as a symlink to a database on another disk that does not exist yet:
    nothing was made 0600 beforehand (the link already existed), so SQLite created the
    target with the umask (0644), and its -wal and -shm beside it the same."""
    disk = tmp_path / "disk"
    disk.mkdir()
    target = disk / "real.db"
    link = tmp_path / "store.db"
    link.symlink_to(target)
    db = Database(link)
    try:
        await write_something(db)
        assert_private_sqlite(target)
    finally:
        await db.dispose()
