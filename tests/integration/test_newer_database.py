"""A database a newer Kirana made: the server refuses to start on it, and `kirana db
upgrade` (store) / `kirana hub db-upgrade` refuse it with a clear message and change
nothing (Alembic alone would fail on a revision it does not know, with a traceback)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys

import pytest

from app.core import migrate
from app.server import StartupError, create_store_app
from tests.conftest import ROOT, make_config

FUTURE = "9999_from_the_future"


def stamp(path, revision: str) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    conn.close()


def test_a_store_database_from_a_newer_kirana_is_refused(tmp_path, migrated_template):
    cfg = make_config(tmp_path)
    shutil.copy(migrated_template, cfg.database_path)
    stamp(cfg.database_path, FUTURE)
    said = migrate.pending_message(cfg.database_path)
    assert said and "made by a newer Kirana" in said and FUTURE in said
    with pytest.raises(StartupError, match="made by a newer Kirana"):
        create_store_app(cfg)
    before = cfg.database_path.read_bytes()
    done = subprocess.run([sys.executable, "-m", "app.cli", "db", "upgrade", "--config",
                           cfg.source], cwd=ROOT, capture_output=True, text=True, timeout=120)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "made by a newer Kirana" in out and "Traceback" not in out
    assert cfg.database_path.read_bytes() == before
    with pytest.raises(migrate.NewerDatabase):
        migrate.upgrade(cfg.database_path)


def test_a_hub_database_from_a_newer_kirana_is_refused(tmp_path):
    path = tmp_path / "hub.db"
    url = f"sqlite:///{path}"
    migrate.hub_upgrade(url)
    assert migrate.hub_pending_message(url) is None
    stamp(path, FUTURE)
    said = migrate.hub_pending_message(url)
    assert said and "made by a newer Kirana" in said and "kirana hub db-upgrade" in said
    with pytest.raises(migrate.NewerDatabase, match="made by a newer Kirana"):
        migrate.hub_upgrade(url)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(FUTURE,)]
    conn.close()
