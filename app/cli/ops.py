"""Running a store for real (issue #23, docs/deploy.md): `kirana init`, `kirana backup`
and `kirana restore`. The work is in app/ops/backup.py; these print what happened in plain
words and what to do next."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from app.cli.common import STORE, console, fail, in_store_language
from app.config import StoreConfig
from app.core.i18n import _, ngettext


def _size(n: int) -> str:
    return f"{n / 1_048_576:,.1f} MB" if n >= 1_048_576 else f"{n / 1024:,.0f} KB"


@click.command(help="Back up the store database while the store runs (safe mid-rush), "
                    "then drop old backups by the [backup] policy.")
@STORE.config_option
@click.option("--to", "folder", default=None, type=click.Path(file_okay=False),
              help="Folder for this backup (default: backup.folder in the config).")
@click.option("--list", "show", is_flag=True, help="List the backups there; take none.")
@STORE.with_config
@in_store_language
def backup(cfg: StoreConfig, folder: str | None, show: bool) -> None:
    from app.ops.backup import BackupError, list_backups, take_backup

    where = Path(folder) if folder else cfg.resolve(cfg.backup.folder)
    if show:
        found = list_backups(where, cfg.store.id)
        if not found:
            console.print(_("No backups of store %(store)s in %(folder)s.")
                          % {"store": cfg.store.id, "folder": where}, highlight=False)
            return
        now = datetime.now(UTC)
        for b in found:
            age = now - b.taken_at
            ago = _("%(days)s d %(hours)s h ago") % {"days": age.days,
                                                      "hours": age.seconds // 3600}
            console.print(f"{b.name}  {_size(b.size):>10}  {ago}", highlight=False)
        return
    mirror = cfg.resolve(cfg.backup.mirror) if cfg.backup.mirror else None
    try:
        done = take_backup(cfg.database_path, cfg.store.id, where,
                           keep_last=cfg.backup.keep_last, keep_daily=cfg.backup.keep_daily,
                           mirror=mirror)
    except (BackupError, OSError) as exc:
        fail(_("backup not taken: %(error)s") % {"error": exc})
    console.print(_("Backup taken: %(file)s (%(size)s, %(seconds)s s)")
                  % {"file": done.path, "size": _size(done.size),
                     "seconds": f"{done.seconds:.1f}"}, highlight=False, soft_wrap=True)
    if done.mirrored:
        console.print(_("Copied to %(folder)s") % {"folder": done.mirrored}, highlight=False,
                      soft_wrap=True)
    if done.deleted:
        console.print(_("Old backups removed by the keep policy: %(num)d")
                      % {"num": len(done.deleted)}, highlight=False)


@click.command(help="Put a backup in place of the store database (stop the store first). "
                    "The database it replaces is kept beside it.")
@STORE.config_option
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@STORE.with_config
@in_store_language
def restore(cfg: StoreConfig, backup_file: str, yes: bool) -> None:
    from app.core import migrate
    from app.ops.backup import BackupError, read_facts, restore_backup

    try:
        facts = read_facts(Path(backup_file))
    except BackupError as exc:
        fail(str(exc))
    console.print(ngettext("This backup holds %(num)d sale; the last is %(last)s at %(at)s UTC.",
                           "This backup holds %(num)d sales; the last is %(last)s at %(at)s "
                           "UTC.", facts.sales)
                  % {"num": facts.sales, "last": facts.last_sale or _("(none)"),
                     "at": facts.last_sale_at or "-"}, highlight=False)
    if not yes and not click.confirm(
            _("Replace %(database)s with it? Sales made after the backup stay at the hub but "
              "not in this store's database.") % {"database": cfg.database_path},
            default=False):
        fail(_("nothing changed"))
    try:
        done = restore_backup(Path(backup_file), cfg.database_path,
                              known_revisions=migrate.known_revisions(),
                              upgrade=migrate.upgrade)
    except (BackupError, OSError) as exc:
        fail(_("not restored: %(error)s") % {"error": exc})
    console.print(_("Restored in %(seconds)s s.") % {"seconds": f"{done.seconds:.1f}"},
                  highlight=False)
    if done.moved_aside:
        console.print(_("The database it replaced is kept as %(file)s")
                      % {"file": done.moved_aside}, highlight=False, soft_wrap=True)
    steps = (
        _("Start the store: %(command)s")
        % {"command": f"kirana serve --config {cfg.source}"},
        _("The hub refuses it at first (its database changed). On the hub's Stores page, "
          "press \"%(button)s\".") % {"button": _("Accept the store's database")},
        _("The store then sends its stock figures and the hub sends what it missed; the "
          "next receipt number continues after the hub's last one."),
    )
    console.print("\n".join([_("Next:"), *(f"  {n}. {step}" for n, step in enumerate(steps, 1))]),
                  highlight=False, soft_wrap=True)


@click.command("init", help="Set up a new store, dark store or hub in DIR: a commented "
                            "config, its private data folder, and the next commands.")
@click.argument("kind", type=click.Choice(["store", "darkstore", "hub"]))
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--id", "store_id", default="", help="Store id (default S1, or D1 for a "
                                                  "dark store): capitals and digits.")
@click.option("--name", default="", help="The name on screens and receipts.")
@click.option("--port", default=None, type=click.IntRange(1, 65535),
              help="Port to serve on (default 8000 for a store, 8100 for the hub).")
def init(kind: str, folder: str, store_id: str, name: str, port: int | None) -> None:
    from app.ops.site import InitError, make_site

    try:
        site = make_site(kind, Path(folder), store_id=store_id, name=name, port=port)
    except (InitError, OSError) as exc:
        fail(str(exc))
    console.print(f"Wrote {site.config} (data in {site.data_dir}). Next:", highlight=False,
                  soft_wrap=True)
    for n, step in enumerate(site.next_steps, 1):
        console.print(f"  {n}. {step}", highlight=False, soft_wrap=True)


@click.group(help="systemd units for a store or the hub (start at boot, restart on a "
                  "crash, run as their own user).")
def service() -> None:
    pass


@service.command("install", help="Write the units for KIND (store or hub) and say how to "
                                 "start them.")
@click.argument("kind", type=click.Choice(["store", "hub"]))
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="The store's or the hub's config file.")
@click.option("--user", default="kirana", show_default=True,
              help="The Linux user (and group) the service runs as.")
@click.option("--to", "folder", default="/etc/systemd/system", show_default=True,
              type=click.Path(file_okay=False), help="Where to write the units.")
@click.option("--processes", default=1, type=click.IntRange(1, 32), show_default=True,
              help="Hub only: processes behind the reverse proxy (PostgreSQL), one per "
                   "port from the config's port + 1.")
@click.option("--kirana", "kirana_path", default=None, type=click.Path(dir_okay=False),
              help="The kirana program the units start (default: this one).")
def service_install(kind: str, config_path: str, user: str, folder: str, processes: int,
                    kirana_path: str | None) -> None:
    import shutil
    import sys

    from app.config import ConfigError, load_config, load_hub_config
    from app.ops.service import ServiceError, hub_units, store_units, write_units

    exe = Path(kirana_path) if kirana_path else Path(sys.executable).parent / "kirana"
    if not exe.exists():
        found = shutil.which("kirana")
        exe = Path(found) if found else exe
    exe = exe.resolve()
    try:
        if kind == "hub":
            hub_cfg = load_hub_config(config_path)
            units = hub_units(hub_cfg, Path(config_path), exe, user, processes)
        else:
            cfg = load_config(config_path)
            units = store_units(cfg, Path(config_path), exe, user)
        written = write_units(units, Path(folder))
    except (ConfigError, ServiceError, OSError) as exc:
        fail(str(exc))
    for path in written:
        console.print(f"Wrote {path}", highlight=False, soft_wrap=True)
    # the server and the backup timer (the timer starts the backup service)
    starts = [u.name for u in units if u.name.endswith(".timer")
              or (u.name.endswith(".service") and "backup" not in u.name)]
    if kind == "hub" and processes > 1:
        first = hub_cfg.server.port + 1
        starts = [f"kirana-hub@{first + i}.service" for i in range(processes)]
    console.print("Next (as root):", highlight=False)
    console.print(f"  id {user} || useradd --system --home-dir /nonexistent "
                  f"--shell /usr/sbin/nologin {user}", highlight=False, soft_wrap=True)
    console.print(f"  chown -R {user}: <the site folder>", highlight=False, soft_wrap=True)
    if any(u.name.endswith(".rules") for u in units):
        console.print("  udevadm control --reload && udevadm trigger", highlight=False)
    console.print(f"  systemctl daemon-reload && systemctl enable --now {' '.join(starts)}",
                  highlight=False, soft_wrap=True)
