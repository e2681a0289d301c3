"""`kirana service install` (issue #23, docs/deploy.md): systemd units for a store or
the hub, so it starts at boot, comes back after a crash and runs as its own user.

For a store: `kirana-store-<id>.service` (the server) and `kirana-backup-<id>.service`
with its hourly `.timer` (at idle I/O priority, docs/deploy.md's recovery point), and
for its USB printers a udev rule giving the service's group the printer
(`70-kirana-printers.rules`). For the hub: `kirana-hub.service`, or with several
processes a template `kirana-hub@.service` started once per port (`kirana-hub@8101`,
`kirana-hub@8102`, …) behind the reverse proxy.

Each server unit restarts always (2 s apart, at most 10 times a minute), runs as
`--user` with no new privileges, a read-only system and home, and write access to the
site's data folder (and, for the hub on SQLite, its database folder) only. The files
are written into `--to` (default /etc/systemd/system; udev rules to /etc/udev/rules.d
there, or beside the units when `--to` is given) and checked with
`systemd-analyze verify` by the tests.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from app.config import HubConfig, StoreConfig

_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


class ServiceError(Exception):
    """The units cannot be written; the message says why."""


@dataclass(frozen=True)
class Unit:
    name: str
    text: str


def _hardening(user: str, writable: list[Path]) -> str:
    # "-": a folder not made yet (the first backup makes its own) is no start failure
    paths = " ".join("-" + shlex.quote(str(p)) for p in sorted(set(writable)))
    return (f"User={user}\nGroup={user}\nNoNewPrivileges=yes\nProtectSystem=strict\n"
            f"ProtectHome=read-only\nPrivateTmp=yes\nReadWritePaths={paths}\n")


def _check_user(user: str) -> None:
    if not _USER.match(user):
        raise ServiceError("user: a Linux user name (lower case letters, digits, - and _)")


def store_units(cfg: StoreConfig, config_path: Path, kirana: Path, user: str) -> list[Unit]:
    _check_user(user)
    sid = cfg.store.id.lower()
    conf = shlex.quote(str(config_path.resolve()))
    exe = shlex.quote(str(kirana))
    data = [cfg.data_dir.resolve(), cfg.database_path.resolve().parent,
            cfg.resolve(cfg.backup.folder).resolve()]
    if cfg.backup.mirror:
        data.append(cfg.resolve(cfg.backup.mirror).resolve())
    server = Unit(f"kirana-store-{sid}.service", (
        f"[Unit]\nDescription=Kirana store {cfg.store.id} ({cfg.store.name})\n"
        "After=network-online.target\nWants=network-online.target\n"
        "StartLimitIntervalSec=60\nStartLimitBurst=10\n\n"
        f"[Service]\nType=simple\nExecStart={exe} serve --config {conf}\n"
        f"WorkingDirectory={shlex.quote(str(config_path.resolve().parent))}\n"
        "Restart=always\nRestartSec=2\n"
        "# kirana serve lets open requests finish for 5 s on SIGTERM\nTimeoutStopSec=20\n"
        f"{_hardening(user, data)}\n[Install]\nWantedBy=multi-user.target\n"))
    backup = Unit(f"kirana-backup-{sid}.service", (
        f"[Unit]\nDescription=Kirana store {cfg.store.id} backup\n\n"
        f"[Service]\nType=oneshot\nExecStart={exe} backup --config {conf}\n"
        "Nice=10\nIOSchedulingClass=idle\n"
        f"{_hardening(user, data)}"))
    timer = Unit(f"kirana-backup-{sid}.timer", (
        f"[Unit]\nDescription=Kirana store {cfg.store.id} backup every hour\n\n"
        "[Timer]\nOnCalendar=hourly\nPersistent=true\nRandomizedDelaySec=120\n\n"
        "[Install]\nWantedBy=timers.target\n"))
    units = [server, backup, timer]
    usb = [p for p in cfg.printers if p.kind == "usb" and p.vendor_id and p.product_id]
    if usb:
        rules = "".join(
            f'# printer {p.name}\nSUBSYSTEM=="usb", ATTR{{idVendor}}=="{p.vendor_id:04x}", '
            f'ATTR{{idProduct}}=="{p.product_id:04x}", MODE="0660", GROUP="{user}"\n'
            for p in usb)
        units.append(Unit("70-kirana-printers.rules", rules))
    return units


def hub_units(cfg: HubConfig, config_path: Path, kirana: Path, user: str,
              processes: int = 1) -> list[Unit]:
    _check_user(user)
    if not 1 <= processes <= 32:
        raise ServiceError("processes: 1 to 32")
    if processes > 1 and not cfg.hub.database_url:
        raise ServiceError("several hub processes need PostgreSQL (hub.database_url); "
                           "on SQLite run one")
    conf = shlex.quote(str(config_path.resolve()))
    exe = shlex.quote(str(kirana))
    data = [cfg.data_dir.resolve()]
    if not cfg.hub.database_url:
        data.append(cfg.resolve(cfg.hub.database_path).resolve().parent)
    name = "kirana-hub@.service" if processes > 1 else "kirana-hub.service"
    port = " --port %i" if processes > 1 else ""
    what = "Kirana hub on port %i" if processes > 1 else "Kirana hub"
    return [Unit(name, (
        f"[Unit]\nDescription={what}\n"
        "After=network-online.target postgresql.service\nWants=network-online.target\n"
        "StartLimitIntervalSec=60\nStartLimitBurst=10\n\n"
        f"[Service]\nType=simple\nExecStart={exe} hub --config {conf}{port}\n"
        f"WorkingDirectory={shlex.quote(str(config_path.resolve().parent))}\n"
        "Restart=always\nRestartSec=2\nTimeoutStopSec=20\n"
        f"{_hardening(user, data)}\n[Install]\nWantedBy=multi-user.target\n"))]


def write_units(units: list[Unit], folder: Path) -> list[Path]:
    """Write each unit (0644, as systemd expects); an existing file is replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for unit in units:
        path = folder / unit.name
        path.write_text(unit.text, encoding="utf-8")
        path.chmod(0o644)
        written.append(path)
    return written
