"""`kirana init store|darkstore|hub DIR` (app/ops/site.py): a config the server loads,
a private data folder, the next commands; refused over an existing config and for bad
ids or names, changing nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.config import load_config, load_hub_config
from app.core import migrate
from app.ops.site import InitError, make_site
from tests.conftest import ROOT


@pytest.mark.parametrize("kind", ["store", "darkstore"])
def test_a_new_store_folder_serves_after_its_next_commands(tmp_path, kind):
    site = make_site(kind, tmp_path / "site", name='Sharma "Fresh" Kirana \\ Jayanagar')
    cfg = load_config(site.config)
    assert cfg.store.name == 'Sharma "Fresh" Kirana \\ Jayanagar'
    assert cfg.store.id == ("D1" if kind == "darkstore" else "S1")
    assert cfg.store.kind == ("darkstore" if kind == "darkstore" else "counter")
    assert cfg.store.gstin == "" and cfg.store.address == ""  # nothing fake on a bill
    assert cfg.database_path == tmp_path / "site" / "var" / "store.db"
    assert oct(os.stat(site.data_dir).st_mode & 0o777) == "0o700"
    assert site.next_steps[0].startswith("kirana db upgrade --config ")
    migrate.upgrade(cfg.database_path)
    from app.server import create_store_app

    create_store_app(cfg)  # starts on it: migrations at head, config accepted


def test_a_new_hub_folder_loads_and_migrates(tmp_path):
    site = make_site("hub", tmp_path / "hq", name="Chain HQ", port=9100)
    cfg = load_hub_config(site.config)
    assert cfg.hub.name == "Chain HQ" and cfg.server.port == 9100
    migrate.hub_upgrade(cfg.database_url)
    assert migrate.hub_pending_message(cfg.database_url) is None
    assert site.next_steps[-1] == f"kirana hub --config {site.config}"


@pytest.mark.parametrize(("kwargs", "said"), [
    ({"store_id": "s1"}, "store id"), ({"store_id": "S 1"}, "store id"),
    ({"store_id": "ABCDE"}, "store id"), ({"name": "a\nb"}, "one line"),
    ({"name": "x\x00"}, "one line"), ({"name": "n" * 81}, "one line")])
def test_bad_ids_and_names_are_refused_and_nothing_is_written(tmp_path, kwargs, said):
    with pytest.raises(InitError, match=said):
        make_site("store", tmp_path / "site", **kwargs)
    assert not (tmp_path / "site" / "store.toml").exists()


def test_an_existing_config_is_never_overwritten(tmp_path):
    done = subprocess.run([sys.executable, "-m", "app.cli", "init", "store", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "kirana serve --config" in done.stdout + done.stderr
    (tmp_path / "store.toml").write_text("# mine\n" + (tmp_path / "store.toml").read_text())
    again = subprocess.run([sys.executable, "-m", "app.cli", "init", "store", str(tmp_path)],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "exists already" in again.stdout + again.stderr
    assert (tmp_path / "store.toml").read_text().startswith("# mine\n")
