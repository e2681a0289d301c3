"""`kirana` command line. Each command prints plain words and exits non-zero on failure;
config and input mistakes are one line (``file: key: what is wrong``), never a traceback."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from app.config import ConfigError, StoreConfig, load_config

console = Console(stderr=True)
CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Store config file, e.g. store_config/store.toml",
)


def fail(message: str) -> NoReturn:
    console.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(2)


def with_config(fn):
    @functools.wraps(fn)
    def wrapper(config_path: str, *args, **kwargs):
        try:
            cfg = load_config(config_path)
        except ConfigError as exc:
            fail(str(exc))
        return fn(cfg, *args, **kwargs)

    return wrapper


def run(coro):
    return asyncio.run(coro)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


@click.group(help="Kirana: store and dark-store operations.")
@click.version_option(package_name="kirana")
def main() -> None:
    pass


# ---- serve -------------------------------------------------------------------------


GRACEFUL_SHUTDOWN_SECONDS = 5


@main.command(help="Run the store server.")
@CONFIG_OPTION
@click.option("--host", default=None, help="Address to listen on (default from config).")
@click.option("--port", default=None, type=int, help="Port (default from config).")
@with_config
def serve(cfg: StoreConfig, host: str | None, port: int | None) -> None:
    import uvicorn

    from app.core import tls
    from app.server import StartupError, create_store_app

    host = host or cfg.server.host
    port = port or cfg.server.port
    files = tls.TlsFiles(cfg.data_dir / "tls")
    ssl: dict[str, Any] = {}
    scheme = "http"
    if files.present():
        if said := tls.renew_at_start(files, cfg.store.name):
            console.print(said, highlight=False, soft_wrap=True)
        ssl = {"ssl_certfile": str(files.cert), "ssl_keyfile": str(files.key)}
        scheme = "https"
        cfg.server.secure_cookies = True
        cfg.server.port = port
        if not cfg.server.public_url:
            cfg.server.public_url = f"https://{_display_host(host)}:{port}"
    try:
        app = create_store_app(cfg)
    except StartupError as exc:
        fail(str(exc))
    console.print(f"Kirana store [bold]{cfg.store.id}[/] ({cfg.store.name}) on "
                  f"{scheme}://{_display_host(host)}:{port}/")
    # Open order boards hold a live stream that never ends by itself: on SIGTERM or
    # Ctrl-C, requests get a few seconds to finish, then the server stops anyway.
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS, **ssl)


def _display_host(host: str) -> str:
    import socket

    return socket.gethostname() if host in ("0.0.0.0", "::", "") else host


# ---- db -----------------------------------------------------------------------------


@main.group(help="Database commands.")
def db() -> None:
    pass


@db.command("upgrade", help="Create or migrate the store database to the current schema.")
@CONFIG_OPTION
@with_config
def db_upgrade(cfg: StoreConfig) -> None:
    from app.core import migrate

    before = migrate.current_revision(cfg.database_path)
    migrate.upgrade(cfg.database_path)
    after = migrate.current_revision(cfg.database_path)
    if before == after:
        console.print(f"Database {cfg.database_path} is up to date ({after}).")
    else:
        console.print(f"Database {cfg.database_path} migrated {before or 'empty'} → {after}.")


def _database(cfg: StoreConfig):
    from app.core import migrate
    from app.core.db import Database
    from app.core.secret_file import attach_pepper

    pending = migrate.pending_message(cfg.database_path)
    if pending:
        fail(pending)
    return attach_pepper(Database(cfg.database_path), cfg.data_dir)


# ---- users and keys ----------------------------------------------------------------------


@main.group(help="Staff users.")
def user() -> None:
    pass


@user.command("add", help="Add a staff user with a 4-6 digit PIN.")
@CONFIG_OPTION
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(["cashier", "picker", "manager", "admin"]))
@click.option("--pin", required=True, help="4 to 6 digits.")
@with_config
def user_add(cfg: StoreConfig, name: str, role: str, pin: str) -> None:
    from app.core.auth import create_user
    from app.core.security import PinPolicyError

    async def go():
        database = _database(cfg)
        try:
            return await create_user(database, name, role, pin)
        finally:
            await database.dispose()

    try:
        created = run(go())
    except (ValueError, PinPolicyError) as exc:
        fail(str(exc))
    console.print(f"Added {created.name} ({created.role}).")


def _with_db(cfg, work):
    """Run `work(database)` on the store's database; a refused change ends the command
    with its message."""
    from app.core.credentials import CredentialError
    from app.core.security import PinPolicyError

    async def go():
        database = _database(cfg)
        try:
            return await work(database)
        finally:
            await database.dispose()

    try:
        return run(go())
    except (CredentialError, PinPolicyError, ValueError) as exc:
        fail(str(exc))


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


@user.command("list", help="Staff with their role and last sign-in.")
@CONFIG_OPTION
@with_config
def user_list(cfg: StoreConfig) -> None:
    from app.core.credentials import list_users

    for u in _with_db(cfg, list_users):
        state = "" if u.active else "  (deactivated)"
        click.echo(f"{u.name:<20} {u.role:<8} last sign-in {_when(u.last_login_at)}{state}")


@user.command("deactivate", help="Stop a user signing in (signed out at once).")
@CONFIG_OPTION
@click.argument("name")
@with_config
def user_deactivate(cfg: StoreConfig, name: str) -> None:
    from app.core.credentials import set_active

    user = _with_db(cfg, lambda db: set_active(db, False, name=name))
    console.print(f"{user.name} can no longer sign in.")


@user.command("activate", help="Let a deactivated user sign in again.")
@CONFIG_OPTION
@click.argument("name")
@with_config
def user_activate(cfg: StoreConfig, name: str) -> None:
    from app.core.credentials import set_active

    user = _with_db(cfg, lambda db: set_active(db, True, name=name))
    console.print(f"{user.name} may sign in again.")


@user.command("reset-pin", help="Give a user a new PIN (asked for when --pin is left out).")
@CONFIG_OPTION
@click.argument("name")
@click.option("--pin", default=None, help="4 to 6 digits; prefer the prompt (not in history).")
@with_config
def user_reset_pin(cfg: StoreConfig, name: str, pin: str | None) -> None:
    from app.core.credentials import reset_pin

    pin = pin or click.prompt("New PIN", hide_input=True, confirmation_prompt=True)
    user = _with_db(cfg, lambda db: reset_pin(db, pin, name=name))
    console.print(f"{user.name} has a new PIN.")


@main.group(help="API keys for sales channels and scripts.")
def apikey() -> None:
    pass


@apikey.command("create", help="Create an API key; it is shown once, only its hash is kept.")
@CONFIG_OPTION
@click.option("--name", required=True)
@click.option(
    "--scope",
    required=True,
    type=click.Choice(["catalog:read", "stock:read", "orders:write", "orders:read", "all"]),
)
@click.option("--channel", default="local", show_default=True,
              help="The only channel whose orders the key may post, read and cancel.")
@with_config
def apikey_create(cfg: StoreConfig, name: str, scope: str, channel: str) -> None:
    from app.core.auth import create_api_key
    from app.orders.service import check_key_channel

    async def go():
        database = _database(cfg)
        try:
            await check_key_channel(database, channel)
            return await create_api_key(database, name, scope, channel=channel)
        finally:
            await database.dispose()

    try:
        key, full = run(go())
    except ValueError as exc:
        fail(str(exc))
    console.print(
        f"API key [bold]{key.name}[/] (scope {key.scope}, channel {key.channel}). "
        "Copy it now; it is not shown again:"
    )
    click.echo(full)


@apikey.command("list", help="API keys with their scope, channel and last use.")
@CONFIG_OPTION
@with_config
def apikey_list(cfg: StoreConfig) -> None:
    from app.core.credentials import list_api_keys

    for k in _with_db(cfg, list_api_keys):
        state = f"  revoked {_when(k.revoked_at)}" if k.revoked_at else ""
        click.echo(f"{k.name:<20} {k.scope:<13} {k.channel:<10} {k.prefix}…  last used "
                   f"{_when(k.last_used_at)}{state}")


@apikey.command("revoke", help="Stop an API key working, at once.")
@CONFIG_OPTION
@click.argument("name")
@with_config
def apikey_revoke(cfg: StoreConfig, name: str) -> None:
    from app.core.credentials import revoke_api_key

    key = _with_db(cfg, lambda db: revoke_api_key(db, name))
    console.print(f"API key {key.name} is revoked.")


@apikey.command("rotate", help="Give an API key a new secret (shown once; the old one stops).")
@CONFIG_OPTION
@click.argument("name")
@with_config
def apikey_rotate(cfg: StoreConfig, name: str) -> None:
    from app.core.credentials import rotate_api_key

    key, full = _with_db(cfg, lambda db: rotate_api_key(db, name))
    console.print(f"API key [bold]{key.name}[/] has a new secret. Copy it now; it is not "
                  "shown again:")
    click.echo(full)


# ---- catalogue ------------------------------------------------------------------------


@main.group(help="Catalogue import and export.")
def catalog() -> None:
    pass


@catalog.command("import", help="Import products from a CSV file (see README for columns).")
@CONFIG_OPTION
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
@click.option("--skip-bad", is_flag=True, help="Import the good rows and skip the bad ones.")
@with_config
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
        fail(f"{path}: not UTF-8 text; save the sheet as 'CSV UTF-8'")
    parsed = parse_catalog(text, cfg.measure_rules)

    async def go():
        database = _database(cfg)
        try:
            with progress_bar() as bar:
                task = bar.add_task(f"Importing {path.name}", total=max(len(parsed.rows), 1))

                def step(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                return await import_catalog(
                    database, parsed, skip_bad=skip_bad, dry_run=dry_run, progress=step
                )
        finally:
            await database.dispose()

    try:
        report = run(go())
    except ImportRejected as exc:
        for err in exc.errors[:50]:
            console.print(f"  {path}: {err}", highlight=False, soft_wrap=True)
        if len(exc.errors) > 50:
            console.print(f"  … and {len(exc.errors) - 50} more")
        console.print(
            f"[bold red]{len(exc.errors)} bad row(s); nothing was imported.[/] "
            "Fix them, or run again with --skip-bad to import the good rows."
        )
        return None
    verb = "Would import" if dry_run else "Imported"
    if not quiet:
        console.print(
            f"{verb}: {report.created} new, {report.updated} changed, {report.unchanged} unchanged."
        )
        for err in report.skipped:
            console.print(f"  skipped {path}: {err}", highlight=False, soft_wrap=True)
        if dry_run and not report.skipped:
            console.print("The file is clean. Run again without --dry-run to import it.")
    return report


@catalog.command("export", help="Write the catalogue as CSV (to stdout or --out FILE).")
@CONFIG_OPTION
@click.option("--out", type=click.Path(dir_okay=False), default=None)
@with_config
def catalog_export(cfg: StoreConfig, out: str | None) -> None:
    from app.catalog.csv_io import write_catalog
    from app.catalog.service import export_rows

    async def go():
        database = _database(cfg)
        try:
            return await export_rows(database)
        finally:
            await database.dispose()

    rows = run(go())
    if out:
        with open(out, "w", encoding="utf-8", newline="") as fh:
            n = write_catalog(rows, fh)
        console.print(f"Wrote {n} products to {out}.")
    else:
        write_catalog(rows, sys.stdout)


@main.group(help="Bins (shelf locations).")
def bins() -> None:
    pass


@bins.command("import", help="Create or update bins from CSV: code,zone,aisle,shelf,pick_seq")
@CONFIG_OPTION
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@with_config
def bins_import(cfg: StoreConfig, csv_file: str) -> None:
    from app.stock.service import StockError, load_bins_csv

    text = Path(csv_file).read_text(encoding="utf-8")

    async def go():
        database = _database(cfg)
        try:
            return await load_bins_csv(database, text)
        finally:
            await database.dispose()

    try:
        n = run(go())
    except StockError as exc:
        fail(f"{csv_file}: {exc}")
    console.print(f"{n} bins loaded.")


# ---- tls ------------------------------------------------------------------------------


@main.group(help="HTTPS on the store LAN (cameras and the installable app need it).")
def tls() -> None:
    pass


CA_PASSPHRASE_OPTION = click.option(
    "--ca-passphrase-file", type=click.Path(dir_okay=False, exists=True), default=None,
    help="File whose first line is the passphrase protecting the CA's key (at least 12 "
         "characters). Renewal then needs it; the key is useless to whoever copies the disk.")
CA_DIR_OPTION = click.option(
    "--ca-dir", type=click.Path(file_okay=False), default=None,
    help="Folder holding the CA's key kept off this computer (e.g. a USB stick), for "
         "`kirana tls export-ca`.")


def _passphrase(path: str | None) -> bytes | None:
    if path is None:
        return None
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return lines[0].encode() if lines and lines[0] else b""


def _tls_ensure(cfg: StoreConfig, names: tuple[str, ...], ips: tuple[str, ...], force: bool,
                passphrase: bytes | None, ca_dir: str | None, *, ask: bool = False):
    from app.core import tls as tls_module

    files = tls_module.TlsFiles(cfg.data_dir / "tls")
    key = tls_module.ca_key_path(files, Path(ca_dir) if ca_dir else None)
    if ask and passphrase is None and tls_module.ca_key_encrypted(key):
        passphrase = click.prompt("Passphrase of the store's CA key", hide_input=True).encode()
    try:
        return files, tls_module.ensure(files, cfg.store.name, force=force, extra_names=names,
                                        extra_ips=ips, passphrase=passphrase,
                                        ca_dir=Path(ca_dir) if ca_dir else None)
    except tls_module.CaKeyUnavailable as exc:
        fail(f"{exc}.")
    except ValueError as exc:
        fail(f"{'--ca-passphrase-file' if 'passphrase' in str(exc) else '--ip'}: {exc}")


@tls.command("init", help="Make the store's certificate authority and server certificate.")
@CONFIG_OPTION
@click.option("--name", "names", multiple=True, help="Extra DNS name devices use (repeatable).")
@click.option("--ip", "ips", multiple=True, help="Extra IP address devices use (repeatable).")
@click.option("--force", is_flag=True, help="Make a new server certificate now (keeps the CA).")
@CA_PASSPHRASE_OPTION
@CA_DIR_OPTION
@with_config
def tls_init(cfg: StoreConfig, names: tuple[str, ...], ips: tuple[str, ...], force: bool,
             ca_passphrase_file: str | None, ca_dir: str | None) -> None:
    files, report = _tls_ensure(cfg, names, ips, force, _passphrase(ca_passphrase_file),
                                ca_dir, ask=True)
    _tls_report(files, report)


@tls.command("renew", help="Make a new server certificate now with the CA's key (asks for "
                           "its passphrase if it has one; --ca-dir if it is kept offline).")
@CONFIG_OPTION
@click.option("--name", "names", multiple=True, help="Extra DNS name devices use (repeatable).")
@click.option("--ip", "ips", multiple=True, help="Extra IP address devices use (repeatable).")
@CA_PASSPHRASE_OPTION
@CA_DIR_OPTION
@with_config
def tls_renew(cfg: StoreConfig, names: tuple[str, ...], ips: tuple[str, ...],
              ca_passphrase_file: str | None, ca_dir: str | None) -> None:
    from app.core import tls as tls_module

    if not tls_module.TlsFiles(cfg.data_dir / "tls").ca_cert.exists():
        fail("this store has no certificate authority yet: run `kirana tls init` first")
    files, report = _tls_ensure(cfg, names, ips, True, _passphrase(ca_passphrase_file),
                                ca_dir, ask=True)
    _tls_report(files, report)


@tls.command("export-ca", help="Move the CA's key off this computer (to a USB stick or "
                               "another machine); renew later with --ca-dir.")
@CONFIG_OPTION
@click.option("--to", "to", required=True, type=click.Path(file_okay=False))
@click.option("--keep", is_flag=True, help="Copy only; leave the key here too.")
@with_config
def tls_export_ca(cfg: StoreConfig, to: str, keep: bool) -> None:
    from app.core import tls as tls_module

    files = tls_module.TlsFiles(cfg.data_dir / "tls")
    try:
        target = tls_module.export_ca(files, Path(to), keep=keep)
    except tls_module.CaKeyUnavailable as exc:
        fail(f"{exc}.")
    console.print(f"The CA's key is now at {target}" + (" (and still here)." if keep else
                  "; it is no longer on this computer. Keep that copy safe and offline: "
                  "renewing the server certificate (yearly) needs it: "
                  f"`kirana tls renew --ca-dir {to}`."), highlight=False, soft_wrap=True)


@tls.command("protect-ca", help="Encrypt the CA's existing key with a passphrase.")
@CONFIG_OPTION
@click.option("--ca-passphrase-file", type=click.Path(dir_okay=False, exists=True),
              required=True, help="File whose first line is the new passphrase (12+ characters).")
@CA_DIR_OPTION
@with_config
def tls_protect_ca(cfg: StoreConfig, ca_passphrase_file: str, ca_dir: str | None) -> None:
    from app.core import tls as tls_module

    files = tls_module.TlsFiles(cfg.data_dir / "tls")
    try:
        path = tls_module.protect_ca(files, _passphrase(ca_passphrase_file) or b"",
                                     Path(ca_dir) if ca_dir else None)
    except tls_module.CaKeyUnavailable as exc:
        fail(f"{exc}.")
    except ValueError as exc:
        fail(f"--ca-passphrase-file: {exc}")
    console.print(f"{path} is now encrypted. `kirana serve` can no longer renew the server "
                  "certificate by itself: run `kirana tls renew` when it says so (yearly).",
                  highlight=False, soft_wrap=True)


def _tls_report(files, report) -> None:
    if report.created_ca:
        console.print(f"Made a certificate authority for this store: {files.ca_cert}")
    if report.renewed:
        console.print(f"Made a server certificate, valid until {report.valid_until:%d %b %Y}, for:")
    else:
        console.print(f"The server certificate is valid until {report.valid_until:%d %b %Y} "
                      "(use --force to remake it, e.g. after the address changed). It covers:")
    console.print("  " + ", ".join(report.names + report.ips), highlight=False, soft_wrap=True)
    console.print("Restart `kirana serve`; then pair each device from the Pair devices page (/pair).")


# ---- hub --------------------------------------------------------------------------------

HUB_CONFIG_OPTION = click.option(
    "--config", "config_path", required=True, type=click.Path(dir_okay=False),
    help="Hub config file, e.g. store_config/hub.toml")


def with_hub_config(fn):
    @functools.wraps(fn)
    def wrapper(config_path: str, *args, **kwargs):
        from app.config import load_hub_config

        try:
            cfg = load_hub_config(config_path)
        except ConfigError as exc:
            fail(str(exc))
        return fn(cfg, *args, **kwargs)

    return wrapper


def _hub_db(cfg):
    from app.core.secret_file import attach_pepper
    from app.hub.db import open_hub_database

    return attach_pepper(open_hub_database(cfg.database_url, cfg.hub), cfg.data_dir)


@main.group(invoke_without_command=True,
            help="Run the hub (`kirana hub --config store_config/hub.toml`) or manage it.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Hub config file; with no sub-command, runs the hub server.")
@click.option("--host", default=None, help="Address to listen on (default from config).")
@click.option("--port", default=None, type=int, help="Port (default from config).")
@click.option("--forwarded-allow-ips", default="", metavar="ADDRESSES",
              help="Behind a reverse proxy: its address(es), comma-separated. Client "
                   "addresses and https are then taken from its X-Forwarded-For/-Proto "
                   "(else every request has the proxy's address for the sign-in throttle).")
@click.pass_context
def hub(ctx: click.Context, config_path: str | None, host: str | None, port: int | None,
        forwarded_allow_ips: str) -> None:
    if ctx.invoked_subcommand is not None:
        return
    if not config_path:
        fail("give --config FILE to run the hub (or a sub-command; see --help)")
    from app.config import load_hub_config

    try:
        cfg = load_hub_config(config_path)
    except ConfigError as exc:
        fail(str(exc))
    import uvicorn

    from app.server import StartupError, create_hub_app

    try:
        app = create_hub_app(cfg)
    except StartupError as exc:
        fail(str(exc))
    host, port = host or cfg.server.host, port or cfg.server.port
    where = cfg.database_url.split("@")[-1]
    console.print(f"Kirana hub [bold]{cfg.hub.name}[/] on http://{_display_host(host)}:{port}/ "
                  f"(database {where})", highlight=False)
    proxy = {"proxy_headers": True, "forwarded_allow_ips": forwarded_allow_ips} if (
        forwarded_allow_ips) else {"proxy_headers": False}
    uvicorn.run(app, host=host, port=port, log_level="info", **proxy,
                ws_max_size=4 * 1024 * 1024, ws_ping_interval=20, ws_ping_timeout=20)


@hub.command("db-upgrade", help="Create or migrate the hub database.")
@HUB_CONFIG_OPTION
@with_hub_config
def hub_db_upgrade(cfg) -> None:
    from app.core import migrate

    migrate.hub_upgrade(cfg.database_url)
    console.print("The hub database is at the current schema.")


@hub.command("add-store", help="Register a store; prints its token ONCE (only a hash is kept).")
@HUB_CONFIG_OPTION
@click.argument("store_id")
@click.option("--name", required=True)
@click.option("--kind", type=click.Choice(["counter", "darkstore"]), required=True)
@click.option("--lat", type=float, required=True)
@click.option("--lon", type=float, required=True)
@click.option("--pincodes", default="", help="PIN codes the store serves: 560038,560008")
@click.option("--priority", default=0, type=int, help="Higher is preferred for online orders.")
@click.option("--pickers", default=2, type=int,
              help="Pickers on shift; capacity = pickers x placement.orders_per_picker.")
@click.option("--token-file", default=None, type=click.Path(dir_okay=False),
              help="Also write the token to this file (mode 600) for the store's config.")
@with_hub_config
def hub_add_store(cfg, store_id: str, name: str, kind: str, lat: float, lon: float,
                  pincodes: str, priority: int, pickers: int, token_file: str | None) -> None:
    from app.hub.service import HubError, add_store

    async def go():
        database = _hub_db(cfg)
        try:
            return await add_store(database, store_id, name=name, kind=kind, lat=lat, lon=lon,
                                   pincodes=pincodes, priority=priority, pickers=pickers)
        finally:
            await database.dispose()

    try:
        made = run(go())
    except HubError as exc:
        fail(str(exc))
    if token_file:
        _write_secret(Path(token_file), made.token)
        console.print(f"Token written to {token_file}.")
    console.print(f"Store [bold]{made.store.id}[/] registered. Its token (shown once; put it in "
                  "the store's hub.token_file):")
    click.echo(made.token)


def _write_secret(path: Path, text: str) -> None:
    from app.core.private_files import write_private

    write_private(path, (text + "\n").encode())  # 0600 even over an older 0644 file


@hub.command("update-store", help="Change a store's PIN codes, priority, pickers or "
                                   "whether it takes online orders.")
@HUB_CONFIG_OPTION
@click.argument("store_id")
@click.option("--pincodes", default=None)
@click.option("--priority", default=None, type=int)
@click.option("--pickers", default=None, type=int)
@click.option("--active/--inactive", default=None)
@with_hub_config
def hub_update_store(cfg, store_id: str, pincodes: str | None, priority: int | None,
                     pickers: int | None, active: bool | None) -> None:
    from app.hub.service import HubError, update_store

    async def go():
        database = _hub_db(cfg)
        try:
            return await update_store(database, store_id, pincodes=pincodes,
                                      priority=priority, pickers=pickers, active=active)
        finally:
            await database.dispose()

    try:
        store = run(go())
    except HubError as exc:
        fail(str(exc))
    console.print(f"{store.id}: PIN codes {store.pincodes or '(none)'}, priority "
                  f"{store.priority}, {store.pickers} pickers, "
                  f"{'takes' if store.active else 'does not take'} online orders.")


@hub.command("rotate-token", help="Give a store a new token (the old one stops working).")
@HUB_CONFIG_OPTION
@click.argument("store_id")
@with_hub_config
def hub_rotate_token(cfg, store_id: str) -> None:
    from app.hub.service import HubError, rotate_token

    async def go():
        database = _hub_db(cfg)
        try:
            return await rotate_token(database, store_id.upper())
        finally:
            await database.dispose()

    try:
        click.echo(run(go()))
    except HubError as exc:
        fail(str(exc))


@hub.command("user", help="Add a hub user: kirana hub user --config F NAME ROLE (asks for "
             "the password; prints the authenticator key to enrol)")
@HUB_CONFIG_OPTION
@click.argument("name")
@click.argument("role", type=click.Choice(["manager", "admin"]))
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
@with_hub_config
def hub_user(cfg, name: str, role: str, password_stdin: bool) -> None:
    from app.hub.accounts import create_hub_user, provisioning_uri

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password (12 or more characters)", hide_input=True,
                                confirmation_prompt=True)

    async def go():
        database = _hub_db(cfg)
        try:
            return await create_hub_user(database, name, role, password)
        finally:
            await database.dispose()

    try:
        user, secret = run(go())
    except ValueError as exc:
        fail(str(exc))
    console.print(f"Added {user.name} ({user.role}) to the hub.")
    if secret:
        import io

        import qrcode

        uri = provisioning_uri(user.name, secret, cfg.hub.name)
        qr = qrcode.QRCode(border=1)
        qr.add_data(uri)
        out = io.StringIO()
        qr.print_ascii(out=out, invert=True)
        click.echo(out.getvalue())
        click.echo(f"Authenticator key for {user.name} (shown once here, and at the first "
                   f"sign-in until a code is given):\nTOTP secret: {secret}\n{uri}")


def _with_hub_db(cfg, work):
    from app.core.credentials import CredentialError

    async def go():
        database = _hub_db(cfg)
        try:
            return await work(database)
        finally:
            await database.dispose()

    try:
        return run(go())
    except (CredentialError, ValueError) as exc:
        fail(str(exc))


@hub.command("users", help="Hub users with their role and last sign-in.")
@HUB_CONFIG_OPTION
@with_hub_config
def hub_users(cfg) -> None:
    from app.core.credentials import list_users

    for u in _with_hub_db(cfg, list_users):
        state = "" if u.active else "  (deactivated)"
        click.echo(f"{u.name:<20} {u.role:<8} last sign-in {_when(u.last_login_at)}{state}")


@hub.command("user-deactivate", help="Stop a hub user signing in (signed out at once).")
@HUB_CONFIG_OPTION
@click.argument("name")
@with_hub_config
def hub_user_deactivate(cfg, name: str) -> None:
    from app.core.credentials import set_active

    user = _with_hub_db(cfg, lambda db: set_active(db, False, name=name))
    console.print(f"{user.name} can no longer sign in to the hub.")


@hub.command("user-activate", help="Let a deactivated hub user sign in again.")
@HUB_CONFIG_OPTION
@click.argument("name")
@with_hub_config
def hub_user_activate(cfg, name: str) -> None:
    from app.core.credentials import set_active

    user = _with_hub_db(cfg, lambda db: set_active(db, True, name=name))
    console.print(f"{user.name} may sign in to the hub again.")


@hub.command("reset-password", help="Give a hub user a new password.")
@HUB_CONFIG_OPTION
@click.argument("name")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
@with_hub_config
def hub_reset_password(cfg, name: str, password_stdin: bool) -> None:
    from app.hub.accounts import reset_password

    password = (sys.stdin.readline().rstrip("\r\n") if password_stdin else
                click.prompt("New password (12 or more characters)", hide_input=True,
                             confirmation_prompt=True))
    user = _with_hub_db(cfg, lambda db: reset_password(db, name, password))
    console.print(f"{user.name} has a new password.")


@hub.command("reset-totp", help="A new authenticator key for a hub user (a lost phone).")
@HUB_CONFIG_OPTION
@click.argument("name")
@with_hub_config
def hub_reset_totp(cfg, name: str) -> None:
    from app.hub.accounts import provisioning_uri, reset_totp

    user, secret = _with_hub_db(cfg, lambda db: reset_totp(db, name))
    click.echo(f"New authenticator key for {user.name} (the old one no longer works; the next "
               f"sign-in shows it as a QR code until a code confirms it):\nTOTP secret: "
               f"{secret}\n{provisioning_uri(user.name, secret, cfg.hub.name)}")


@hub.command("channel-keys", help="Channels' API keys with their last use.")
@HUB_CONFIG_OPTION
@with_hub_config
def hub_channel_keys(cfg) -> None:
    from app.core.credentials import list_api_keys

    for k in _with_hub_db(cfg, list_api_keys):
        state = f"  revoked {_when(k.revoked_at)}" if k.revoked_at else ""
        click.echo(f"{k.name:<20} {k.scope:<13} {k.prefix}…  last used "
                   f"{_when(k.last_used_at)}{state}")


@hub.command("rotate-channel-key", help="A new API key for a channel (shown once; the old "
             "one stops working).")
@HUB_CONFIG_OPTION
@click.argument("channel")
@with_hub_config
def hub_rotate_channel_key(cfg, channel: str) -> None:
    from app.core.credentials import rotate_api_key

    key, full = _with_hub_db(cfg, lambda db: rotate_api_key(db, channel.strip().lower()))
    console.print(f"Channel {key.name} has a new API key. Copy it now; it is not shown again:")
    click.echo(full)


@hub.command("revoke-channel-key", help="Stop a channel's API key working, at once.")
@HUB_CONFIG_OPTION
@click.argument("channel")
@with_hub_config
def hub_revoke_channel_key(cfg, channel: str) -> None:
    from app.core.credentials import revoke_api_key

    key = _with_hub_db(cfg, lambda db: revoke_api_key(db, channel.strip().lower()))
    console.print(f"Channel {key.name}'s API key is revoked.")


@hub.command("rotate-webhook-secret", help="A new signing secret for a channel's webhooks "
             "(shown once).")
@HUB_CONFIG_OPTION
@click.argument("channel")
@with_hub_config
def hub_rotate_webhook_secret(cfg, channel: str) -> None:
    from app.hub.accounts import rotate_webhook_secret

    secret = _with_hub_db(cfg, lambda db: rotate_webhook_secret(db, channel))
    console.print("New webhook signing secret; give it to the channel. Copy it now:")
    click.echo(secret)


@hub.command("add-channel", help="Register a sales channel: prints its API key and webhook "
                                  "secret once.")
@HUB_CONFIG_OPTION
@click.argument("name")
@click.option("--webhook", default="", help="URL to POST each order status change to.")
@with_hub_config
def hub_add_channel(cfg, name: str, webhook: str) -> None:
    from app.hub.service import HubError
    from app.hub.webhooks import add_channel

    async def go():
        database = _hub_db(cfg)
        try:
            return await add_channel(database, name, webhook)
        finally:
            await database.dispose()

    try:
        key, secret = run(go())
    except HubError as exc:
        fail(str(exc))
    console.print(f"Channel [bold]{name.lower()}[/] registered. Shown once, keep them safe:")
    click.echo(f"API key (Authorization: Bearer …): {key}")
    if webhook:
        click.echo(f"Webhook secret (X-Kirana-Signature = sha256 HMAC of the body): {secret}")


@hub.command("catalog-import", help="Import products into the hub's master catalogue (CSV).")
@HUB_CONFIG_OPTION
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@with_hub_config
def hub_catalog_import(cfg, csv_file: str) -> None:
    from app.catalog.csv_io import parse_catalog
    from app.catalog.service import ImportRejected, import_catalog
    from app.hub.service import announce_products
    from app.hub.wake import notify_hub_processes

    parsed = parse_catalog(Path(csv_file).read_text(encoding="utf-8-sig"), cfg.measure_rules)

    async def go():
        database = _hub_db(cfg)
        try:
            with progress_bar() as bar:
                task = bar.add_task("Importing", total=None)
                report = await import_catalog(
                    database, parsed, after_write=announce_products,
                    progress=lambda done, total: bar.update(task, completed=done, total=total))
            await notify_hub_processes(cfg.database_url)  # running hubs send it at once
            return report
        finally:
            await database.dispose()

    try:
        report = run(go())
    except ImportRejected as exc:
        for error in exc.errors[:20]:
            console.print(f"  line {error.line}: {error.message}", highlight=False)
        fail(f"{csv_file}: {exc}")
    console.print(f"{report.created} new, {report.updated} changed, {report.unchanged} "
                  "unchanged; changes queued for every store.")


# ---- demo ------------------------------------------------------------------------------


@main.command(help="Set up and run the demo: a hub, a counter store and a dark store.")
@click.option(
    "--dir",
    "directory",
    default="demo-data",
    type=click.Path(file_okay=False),
    help="Where the demo's configs and databases go.",
)
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8000, type=int,
              help="Counter store S1's port; dark store D2 on port+1, the hub on port+100.")
@click.option("--no-serve", is_flag=True, help="Only prepare the demo; don't start the servers.")
@click.option("--no-orders", is_flag=True, help="Don't post made-up online orders.")
@click.option("--store-only", is_flag=True,
              help="Just the counter store S1, standalone, in DIR (what tests use).")
def demo(directory: str, host: str, port: int, no_serve: bool, no_orders: bool,
         store_only: bool) -> None:
    from app.demo import DEMO_LOGINS, HUB_LOGINS, prepare_demo, prepare_site

    if store_only:
        cfg_path, logins, fresh = prepare_demo(
            Path(directory), host=host, port=port, progress=progress_bar,
            orders_per_minute=0 if no_orders else 2.0,
        )
        def store_banner(heading: str) -> None:
            console.print(f"[bold green]{heading}[/] ({'new' if fresh else 'existing'} "
                          f"data in {directory}/)")
            console.print(f"Open [bold]http://{host}:{port}/[/] and sign in with a name and PIN:")
            for name, role, pin in logins:
                console.print(f"  {name:<10} {role:<8} PIN {pin}")

        if no_serve:
            store_banner("Demo store prepared (not started)")
            return
        _banner_when_up(f"http://{host}:{port}/", lambda: store_banner("Demo store ready"))
        serve.main(["--config", str(cfg_path), "--host", host, "--port", str(port)],
                   standalone_mode=False)
        return
    site = prepare_site(Path(directory), host=host, port=port, progress=progress_bar,
                        orders_per_minute=0 if no_orders else 2.0)

    def banner(heading: str) -> None:
        console.print()
        console.print(f"[bold green]{heading}[/] ({'new' if site.fresh else 'existing'} data in "
                      f"{directory}/): a hub and two stores, syncing.")
        console.print(f"  Hub (HQ: catalogue, all stock, store health)  [bold]{site.hub_url}[/]")
        console.print(f"  Counter store S1 (till, stock)                [bold]{site.stores['S1'][1]}[/]")
        console.print(f"  Dark store D2 (online orders, picking)        [bold]{site.stores['D2'][1]}[/]")
        console.print("Sign in at a store with a name and PIN:")
        for name, role, pin in DEMO_LOGINS:
            console.print(f"  {name:<10} {role:<8} PIN {pin}")
        console.print("Sign in at the hub with a name and password:")
        for name, role, password in HUB_LOGINS:
            console.print(f"  {name:<10} {role:<8} password {password}")
        console.print("  (the demo hub asks for no authenticator code and says so in red; a "
                      "real hub does ask)")

    if no_serve:
        banner("Demo prepared (not started)")
        return
    sys.exit(_run_site(site, host, lambda: banner("Demo ready")))


DEMO_START_TIMEOUT = 90.0  # seconds for each demo server to answer /healthz


def _banner_when_up(url: str, banner: Callable[[], None]) -> None:
    """Print the banner from a side thread once the in-process server answers /healthz
    (the server itself blocks this thread), or say that it never did."""
    import threading
    import time

    def watch() -> None:
        deadline = time.monotonic() + DEMO_START_TIMEOUT
        while time.monotonic() < deadline:
            if _answers(url):
                banner()
                return
            time.sleep(0.2)
        console.print(f"[bold red]The demo store did not answer {url}healthz[/]",
                      highlight=False)

    threading.Thread(target=watch, name="demo-banner", daemon=True).start()


def _die_with_parent() -> None:
    """In a demo server (between fork and exec): SIGTERM it when the demo dies, even by
    kill -9, so no server is left holding its port (Linux's PR_SET_PDEATHSIG)."""
    import contextlib
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):  # not Linux: Ctrl-C still works
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (systemd, Docker, `kill`) stops the demo the way Ctrl-C does."""
    raise KeyboardInterrupt


def _answers(url: str) -> bool:
    """The server at url answers /healthz (over https if it closes a plain request: the
    store after `kirana tls init`)."""
    import http.client
    import ssl
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    where = urlsplit(url)
    host = "127.0.0.1" if where.hostname in ("0.0.0.0", "::", "") else where.hostname
    try:
        with urllib.request.urlopen(f"http://{host}:{where.port}/healthz", timeout=1) as reply:
            return reply.status == 200
    except (http.client.HTTPException, ConnectionResetError):
        pass  # maybe TLS
    except (urllib.error.URLError, OSError, ValueError):
        return False
    context = ssl.create_default_context()  # only asking whether it is up
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with urllib.request.urlopen(f"https://{host}:{where.port}/healthz", timeout=1,
                                    context=context) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException):
        return False


def _port_taken(host: str, url: str) -> bool:
    """Something already listens on the url's port (where the server would bind)."""
    import socket
    from urllib.parse import urlsplit

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, urlsplit(url).port or 0))
        except OSError:
            return True
    return False


def _run_site(site, host: str, ready) -> int:
    """Start the hub and both stores as child processes; call ready() once all three
    answer /healthz. Ctrl-C or SIGTERM stops all three; so does one of them failing to
    start or stopping. Returns the exit code."""
    import signal
    import subprocess
    import time

    from app.demo import DEMO_STORES

    exe = [sys.executable, "-m", "app.cli"]
    servers = [("The hub", site.hub_url, ["hub", "--config", str(site.hub_config)])]
    for store_id, (cfg_path, url) in site.stores.items():
        kind = "Dark store" if DEMO_STORES[store_id][2] == "darkstore" else "Counter store"
        servers.append((f"{kind} {store_id}", url, ["serve", "--config", str(cfg_path)]))
    taken = [f"{name} ({url})" for name, url, _args in servers if _port_taken(host, url)]
    if taken:  # another program would answer /healthz in its place and fake "ready"
        console.print(f"[bold red]Port in use for {', '.join(taken)}[/]: is another demo or "
                      "server running? Stop it, or pass --port.", highlight=False)
        return 1
    procs: list[tuple[str, subprocess.Popen]] = []
    previous = signal.signal(signal.SIGTERM, _interrupt), signal.getsignal(signal.SIGINT)
    try:
        for i, (name, _url, args) in enumerate(servers):
            procs.append((name, subprocess.Popen([*exe, *args, "--host", host],
                                                    preexec_fn=_die_with_parent)))
            # The hub first: the stores would connect anyway, but not on the first try.
            if i == 0 or i == len(servers) - 1:
                why = _wait_until_up(procs, servers, time.monotonic() + DEMO_START_TIMEOUT)
                if why:
                    console.print(f"[bold red]{why}[/]; stopping the demo.", highlight=False)
                    return 1
        ready()
        while all(proc.poll() is None for _name, proc in procs):
            time.sleep(0.5)
        stopped = next(name for name, proc in procs if proc.poll() is not None)
        console.print(f"[bold red]{stopped} stopped[/]; stopping the others.", highlight=False)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan them
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for _name, proc in procs:
            if proc.poll() is None:
                proc.terminate()  # SIGTERM: each server shuts down gracefully
        for _name, proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])


def _wait_until_up(procs, servers, deadline: float) -> str:
    """Wait until every started server answers /healthz; a sentence naming the first that
    exited or never answered, or "" when all are up."""
    import time

    waiting = {name for name, _proc in procs}
    urls = {name: url for name, url, _args in servers}
    while waiting:
        for name, proc in procs:
            if name not in waiting:
                continue
            if proc.poll() is not None:
                return f"{name} did not start (it exited with code {proc.returncode})"
            if _answers(urls[name]):
                waiting.discard(name)
        if waiting and time.monotonic() > deadline:
            name = sorted(waiting)[0]
            return (f"{name} did not start: no answer from {urls[name]}healthz "
                    f"in {DEMO_START_TIMEOUT:.0f} s")
        if waiting:
            time.sleep(0.2)
    return ""


if __name__ == "__main__":
    main()
