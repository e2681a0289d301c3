"""The store's own commands: run the server, migrate its database, catalogue and bins."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from app.cli.common import STORE, console, fail, in_store_language, progress_bar
from app.config import StoreConfig
from app.core.i18n import _, ngettext

GRACEFUL_SHUTDOWN_SECONDS = 5


@click.command(help="Run the store server.")
@STORE.config_option
@click.option("--host", default=None, help="Address to listen on (default from config).")
@click.option("--port", default=None, type=int, help="Port (default from config).")
@STORE.with_config
def serve(cfg: StoreConfig, host: str | None, port: int | None) -> None:
    import uvicorn

    from app.core import lan_https, tls
    from app.core.cert_names import host_of
    from app.server import StartupError, create_store_app, freeze_startup_heap

    host = host or cfg.server.host
    port = port or cfg.server.port
    files = tls.TlsFiles(cfg.data_dir / "tls")
    switch = None
    public_host = host_of(cfg.server.public_url)  # as configured: it goes in the certificate
    if files.present():
        if said := tls.renew_at_start(files, cfg.store.name, public_host=public_host):
            console.print(said, highlight=False, soft_wrap=True)
        switch = lan_https.TlsSwitch(files)
        cfg.server.secure_cookies = True
    cfg.server.port = port
    if not cfg.server.public_url:
        # Where /pair's QR codes and e-receipts send phones: the LAN address the
        # certificate covers when listening on 0.0.0.0, not the bare computer name.
        cfg.server.public_url = tls.device_url(files if switch else None, host, port)
    from app.ops.backup import BackupError, ServerLock

    try:  # one server per database: a second one, or a restore under this one, is refused
        lock = ServerLock(cfg.database_path, f"the store server on port {port}").acquire()
    except BackupError as exc:
        fail(str(exc))
    try:
        app = create_store_app(cfg)
    except StartupError as exc:
        fail(str(exc))
    app.state.database_lock = lock  # held for the life of the process
    app.on_startup.append(freeze_startup_heap)  # last start-up step (see its docstring)
    console.print(f"Kirana store [bold]{cfg.store.id}[/] ({cfg.store.name}) on "
                  f"{cfg.public_url}/", highlight=False)
    served: Any = app  # the Litestar app, or the plain-HTTP door in front of it
    http_protocol: Any = "auto"
    if switch is not None:
        # HTTPS and, on the same port, plain HTTP for the CA only (app/core/lan_https.py).
        app.state.plain_http_ca = True
        watch = lan_https.CertificateWatch(
            switch, lambda: tls.renew_if_needed(files, cfg.store.name, public_host))
        app.on_startup.append(watch.start)  # renews and reloads while the server runs
        app.on_shutdown.insert(0, watch.stop)
        served = lan_https.PlainHttpDoor(app, switch=switch, base_url=cfg.public_url,
                                         store_name=cfg.store.name,
                                         language=cfg.store.language)
        http_protocol = lan_https.sniffing_protocol(switch)
    # Open order boards hold a live stream that never ends by itself: on SIGTERM or
    # Ctrl-C, requests get a few seconds to finish, then the server stops anyway.
    from app.core.logs import log_config

    uvicorn.run(served, host=host, port=port, log_level="info", proxy_headers=False,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS, http=http_protocol,
                loop="asyncio", log_config=log_config(cfg.server.log_format))


# ---- db -----------------------------------------------------------------------------


@click.group(help="Database commands.")
def db() -> None:
    pass


@db.command("upgrade", help="Create or migrate the store database to the current schema.")
@STORE.config_option
@STORE.with_config
def db_upgrade(cfg: StoreConfig) -> None:
    from app.core import migrate

    before = migrate.current_revision(cfg.database_path)
    try:
        migrate.upgrade(cfg.database_path)
    except migrate.NewerDatabase as exc:
        fail(str(exc))
    after = migrate.current_revision(cfg.database_path)
    if before == after:
        console.print(f"Database {cfg.database_path} is up to date ({after}).")
    else:
        console.print(f"Database {cfg.database_path} migrated {before or 'empty'} → {after}.")


# ---- catalogue and bins -----------------------------------------------------------------


@click.group(help="Catalogue import and export.")
def catalog() -> None:
    pass


@catalog.command("import", help="Import products from a CSV file (see README for columns).")
@STORE.config_option
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
@click.option("--skip-bad", is_flag=True, help="Import the good rows and skip the bad ones.")
@STORE.with_config
@in_store_language
def catalog_import(cfg: StoreConfig, csv_file: str, dry_run: bool, skip_bad: bool) -> None:
    report = import_catalog_file(cfg, Path(csv_file), dry_run=dry_run, skip_bad=skip_bad)
    if report is None:
        sys.exit(1)


def import_catalog_file(
    cfg: StoreConfig,
    path: Path,
    *,
    dry_run: bool = False,
    skip_bad: bool = False,
    quiet: bool = False,
):
    from app.catalog.csv_io import parse_catalog
    from app.catalog.service import ImportRejected, import_catalog

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(_("%(file)s: not UTF-8 text; save the sheet as 'CSV UTF-8'") % {"file": path})
    parsed = parse_catalog(text, cfg.measure_rules)

    async def work(database):
        with progress_bar() as bar:
            task = bar.add_task(_("Importing %(file)s") % {"file": path.name},
                                total=max(len(parsed.rows), 1))

            def step(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return await import_catalog(
                database, parsed, skip_bad=skip_bad, dry_run=dry_run, progress=step
            )

    try:
        report = STORE.with_db(cfg, work, errors=())
    except ImportRejected as exc:
        for err in exc.errors[:50]:
            console.print(f"  {path}: {err}", highlight=False, soft_wrap=True)
        if len(exc.errors) > 50:
            console.print("  " + _("… and %(count)s more") % {"count": len(exc.errors) - 50})
        console.print(
            "[bold red]" + _("%(count)s bad row(s); nothing was imported.") % {
                "count": len(exc.errors)} + "[/] "
            + _("Fix them, or run again with --skip-bad to import the good rows.")
        )
        return None
    said = (_("Would import: %(new)s new, %(changed)s changed, %(unchanged)s unchanged.")
            if dry_run else
            _("Imported: %(new)s new, %(changed)s changed, %(unchanged)s unchanged."))
    if not quiet:
        console.print(said % {"new": report.created, "changed": report.updated,
                              "unchanged": report.unchanged})
        for err in report.skipped:
            console.print("  " + _("skipped %(file)s: %(error)s") % {"file": path, "error": err},
                          highlight=False, soft_wrap=True)
        if dry_run and not report.skipped:
            console.print(_("The file is clean. Run again without --dry-run to import it."))
    return report


@catalog.command("export", help="Write the catalogue as CSV (to stdout or --out FILE).")
@STORE.config_option
@click.option("--out", type=click.Path(dir_okay=False), default=None)
@STORE.with_config
@in_store_language
def catalog_export(cfg: StoreConfig, out: str | None) -> None:
    from app.catalog.csv_io import write_catalog
    from app.catalog.service import export_rows

    rows = STORE.with_db(cfg, export_rows, errors=())
    if out:
        with open(out, "w", encoding="utf-8", newline="") as fh:
            n = write_catalog(rows, fh)
        console.print(ngettext("Wrote %(num)d product to %(file)s.",
                               "Wrote %(num)d products to %(file)s.", n) % {"num": n, "file": out})
    else:
        write_catalog(rows, sys.stdout)


@click.group(help="Bins (shelf locations).")
def bins() -> None:
    pass


@bins.command("import", help="Create or update bins from CSV: code,zone,aisle,shelf,pick_seq")
@STORE.config_option
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@STORE.with_config
@in_store_language
def bins_import(cfg: StoreConfig, csv_file: str) -> None:
    from app.stock.service import StockError, load_bins_csv

    text = Path(csv_file).read_text(encoding="utf-8")
    try:
        n = STORE.with_db(cfg, lambda database: load_bins_csv(database, text), errors=())
    except StockError as exc:
        fail(f"{csv_file}: {exc}")
    console.print(ngettext("%(num)d bin loaded.", "%(num)d bins loaded.", n) % {"num": n})
