"""`kirana serve` and `kirana hub` freeze the heap they start with (issue #15): a full
garbage collection walked the ~200,000 start-up objects, one measured at 260 ms during a
scan rush. The step must be the servers' last start-up step (after the workers and the
sealing, whose objects live as long as the process) and must not run for apps that are
only built (tests build thousands in one process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import uvicorn
from click.testing import CliRunner

from app.cli import main
from app.core import migrate
from app.server import create_store_app, freeze_startup_heap

ROOT = Path(__file__).resolve().parents[2]


def test_the_store_server_freezes_its_heap_as_its_last_start_up_step(cfg, monkeypatch):
    captured: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: captured.update(app=app))
    done = CliRunner().invoke(main, ["serve", "--config", cfg.source, "--host", "127.0.0.1",
                                     "--port", "0"])
    assert done.exit_code == 0, done.output
    assert captured["app"].on_startup[-1] is freeze_startup_heap
    assert freeze_startup_heap not in create_store_app(cfg).on_startup  # only when served


def test_the_hub_freezes_its_heap_as_its_last_start_up_step(tmp_path, monkeypatch):
    text = (ROOT / "store_config" / "hub.toml").read_text()
    text = text.replace('database_path = "../var/hub/hub.db"', 'database_path = "hub.db"')
    text = text.replace('data_dir = "../var/hub"', 'data_dir = "var"')
    (tmp_path / "hub.toml").write_text(text)
    migrate.hub_upgrade(f"sqlite:///{tmp_path / 'hub.db'}")
    captured: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: captured.update(app=app))
    done = CliRunner().invoke(main, ["hub", "--config", str(tmp_path / "hub.toml")])
    assert done.exit_code == 0, done.output
    assert captured["app"].on_startup[-1] is freeze_startup_heap


def test_freezing_moves_the_live_heap_out_of_the_collectors_sight():
    # In a process of its own: freezing this test process would keep its fixtures forever.
    probe = ("import gc\n"
             "from app.server import freeze_startup_heap\n"
             "kept = [[i] for i in range(10000)]\n"
             "assert gc.get_freeze_count() == 0\n"
             "freeze_startup_heap()\n"
             "assert gc.get_freeze_count() > 10000, gc.get_freeze_count()\n"
             "assert len(gc.get_objects()) < 1000, len(gc.get_objects())\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
