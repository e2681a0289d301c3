"""`kirana service install` (app/ops/service.py): units systemd accepts
(`systemd-analyze verify`), for a store with its hourly backup and USB printers' udev
rule, and for one or several hub processes; refusals for a bad user or several hub
processes on SQLite."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import load_config, load_hub_config
from app.ops.service import ServiceError, hub_units, store_units, write_units
from app.ops.site import make_site
from tests.conftest import ROOT

VERIFY = shutil.which("systemd-analyze")
KIRANA = Path(sys.executable).parent / "kirana"


def verify(paths: list[Path]) -> None:
    if VERIFY is None:
        pytest.skip("systemd-analyze is not installed")
    units = [str(p) for p in paths if p.suffix in (".service", ".timer")]
    done = subprocess.run([VERIFY, "verify", *units], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Unknown key" not in done.stderr and "Invalid" not in done.stderr, done.stderr


def test_a_stores_units_verify_and_say_how_to_start(tmp_path):
    site = make_site("store", tmp_path / "s1", store_id="BLR4", name="Sharma Kirana")
    text = site.config.read_text() + (
        '\n[[printers]]\nname = "counter-usb"\nkind = "usb"\nvendor_id = 0x04b8\n'
        'product_id = 0x0202\ndocuments = ["receipt"]\ncounters = ["C1"]\n')
    site.config.write_text(text)
    done = subprocess.run([sys.executable, "-m", "app.cli", "service", "install", "store",
                           "--config", str(site.config), "--to", str(tmp_path / "units"),
                           "--kirana", str(KIRANA)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    written = sorted((tmp_path / "units").iterdir())
    assert [p.name for p in written] == [
        "70-kirana-printers.rules", "kirana-backup-blr4.service", "kirana-backup-blr4.timer",
        "kirana-store-blr4.service"]
    verify(written)
    server = (tmp_path / "units" / "kirana-store-blr4.service").read_text()
    assert f"ExecStart={KIRANA} serve --config {site.config}" in server
    assert "Restart=always" in server and "User=kirana" in server
    assert f"-{site.data_dir}" in server  # writable: its own data, nothing else
    rules = (tmp_path / "units" / "70-kirana-printers.rules").read_text()
    assert 'ATTR{idVendor}=="04b8", ATTR{idProduct}=="0202"' in rules
    assert "enable --now kirana-store-blr4.service kirana-backup-blr4.timer" in said


def test_hub_units_for_one_and_for_several_processes(tmp_path):
    site = make_site("hub", tmp_path / "hq")
    cfg = load_hub_config(site.config)
    one = write_units(hub_units(cfg, site.config, KIRANA, "kirana"), tmp_path / "one")
    verify(one)
    assert [p.name for p in one] == ["kirana-hub.service"]
    with pytest.raises(ServiceError, match="need PostgreSQL"):
        hub_units(cfg, site.config, KIRANA, "kirana", processes=2)
    cfg.hub.database_url = "postgresql+asyncpg://kirana@127.0.0.1:5432/kirana_hub"
    many = write_units(hub_units(cfg, site.config, KIRANA, "kirana", processes=3),
                       tmp_path / "many")
    verify(many)
    assert "--port %i" in many[0].read_text() and many[0].name == "kirana-hub@.service"


@pytest.mark.parametrize("user", ["root user", "Kirana", "", "a" * 33, "k;rm -rf /"])
def test_a_bad_user_name_is_refused(tmp_path, user):
    site = make_site("store", tmp_path / "s1")
    with pytest.raises(ServiceError, match="user"):
        store_units(load_config(site.config), site.config, KIRANA, user)
