"""`kirana hub`: run the hub, migrate its database, register stores and channels, import
the master catalogue. Its user and channel-key commands live in users.py and
apikeys.py beside the store's (app/cli/__init__.py adds them to this group)."""

from __future__ import annotations

from pathlib import Path

import click

from app.cli.common import HUB, console, display_host, fail, progress_bar, write_secret
from app.config import ConfigError, HubConfig, load_hub_config
from app.core.words import count_of


@click.group(invoke_without_command=True,
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
    try:
        cfg = load_hub_config(config_path)
    except ConfigError as exc:
        fail(str(exc))
    import uvicorn

    from app.server import StartupError, create_hub_app, freeze_startup_heap

    try:
        app = create_hub_app(cfg)
    except StartupError as exc:
        fail(str(exc))
    app.on_startup.append(freeze_startup_heap)  # last start-up step (see its docstring)
    host, port = host or cfg.server.host, port or cfg.server.port
    where = cfg.database_url.split("@")[-1]
    console.print(f"Kirana hub [bold]{cfg.hub.name}[/] on http://{display_host(host)}:{port}/ "
                  f"(database {where})", highlight=False)
    proxy = {"proxy_headers": True, "forwarded_allow_ips": forwarded_allow_ips} if (
        forwarded_allow_ips) else {"proxy_headers": False}
    from app.core.logs import log_config

    uvicorn.run(app, host=host, port=port, log_level="info", **proxy,
                ws_max_size=4 * 1024 * 1024, ws_ping_interval=20, ws_ping_timeout=20,
                log_config=log_config(cfg.server.log_format))


@hub.command("db-upgrade", help="Create or migrate the hub database.")
@HUB.config_option
@HUB.with_config
def hub_db_upgrade(cfg: HubConfig) -> None:
    from app.core import migrate

    try:
        migrate.hub_upgrade(cfg.database_url)
    except migrate.NewerDatabase as exc:
        fail(str(exc))
    console.print("The hub database is at the current schema.")


# ---- stores -----------------------------------------------------------------------------


@hub.command("add-store", help="Register a store; prints its token ONCE (only a hash is kept).")
@HUB.config_option
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
@HUB.with_config
def hub_add_store(cfg: HubConfig, store_id: str, name: str, kind: str, lat: float, lon: float,
                  pincodes: str, priority: int, pickers: int, token_file: str | None) -> None:
    from app.hub.service import HubError, add_store

    made = HUB.with_db(cfg, lambda db: add_store(
        db, store_id, name=name, kind=kind, lat=lat, lon=lon, pincodes=pincodes,
        priority=priority, pickers=pickers), errors=(HubError,))
    if token_file:
        write_secret(Path(token_file), made.token)
        console.print(f"Token written to {token_file}.")
    console.print(f"Store [bold]{made.store.id}[/] registered. Its token (shown once; put it in "
                  "the store's hub.token_file):")
    click.echo(made.token)


@hub.command("update-store", help="Change a store's PIN codes, priority, pickers or "
                                  "whether it takes online orders.")
@HUB.config_option
@click.argument("store_id")
@click.option("--pincodes", default=None)
@click.option("--priority", default=None, type=int)
@click.option("--pickers", default=None, type=int)
@click.option("--active/--inactive", default=None)
@HUB.with_config
def hub_update_store(cfg: HubConfig, store_id: str, pincodes: str | None,
                     priority: int | None, pickers: int | None, active: bool | None) -> None:
    from app.hub.service import HubError, update_store

    store = HUB.with_db(cfg, lambda db: update_store(
        db, store_id, pincodes=pincodes, priority=priority, pickers=pickers, active=active),
        errors=(HubError,))
    console.print(f"{store.id}: PIN codes {store.pincodes or '(none)'}, priority "
                  f"{store.priority}, {count_of(store.pickers, 'picker')}, "
                  f"{'takes' if store.active else 'does not take'} online orders.")


@hub.command("rotate-token", help="Give a store a new token (the old one stops working).")
@HUB.config_option
@click.argument("store_id")
@HUB.with_config
def hub_rotate_token(cfg: HubConfig, store_id: str) -> None:
    from app.hub.service import HubError, rotate_token

    click.echo(HUB.with_db(cfg, lambda db: rotate_token(db, store_id.upper()),
                           errors=(HubError,)))


# ---- channels and the catalogue -------------------------------------------------------------


@hub.command("add-channel", help="Register a sales channel: prints its API key and webhook "
                                 "secret once.")
@HUB.config_option
@click.argument("name")
@click.option("--webhook", default="", help="URL to POST each order status change to.")
@click.option("--return-window-days", default=7, show_default=True, type=click.IntRange(0, 365),
              help="Days after delivery the channel may ask for a return.")
@click.option("--returns-to-nearest", is_flag=True, default=False,
              help="Send a return to the nearest online dark store when the store that "
                   "packed the order is a counter store, switched off or offline.")
@HUB.with_config
def hub_add_channel(cfg: HubConfig, name: str, webhook: str, return_window_days: int,
                    returns_to_nearest: bool) -> None:
    from app.hub.service import HubError
    from app.hub.webhooks import add_channel

    key, secret = HUB.with_db(cfg, lambda db: add_channel(db, name, webhook,
                                                          return_window_days,
                                                          returns_to_nearest),
                              errors=(HubError,))
    console.print(f"Channel [bold]{name.lower()}[/] registered. Shown once, keep them safe:")
    click.echo(f"API key (Authorization: Bearer …): {key}")
    if webhook:
        click.echo(f"Webhook secret (X-Kirana-Signature = sha256 HMAC of the body): {secret}")


@hub.command("catalog-import", help="Import products into the hub's master catalogue (CSV).")
@HUB.config_option
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@HUB.with_config
def hub_catalog_import(cfg: HubConfig, csv_file: str) -> None:
    from app.catalog.csv_io import parse_catalog
    from app.catalog.service import ImportRejected, import_catalog
    from app.hub.service import announce_products
    from app.hub.wake import notify_hub_processes

    parsed = parse_catalog(Path(csv_file).read_text(encoding="utf-8-sig"), cfg.measure_rules)

    async def work(database):
        with progress_bar() as bar:
            task = bar.add_task("Importing", total=None)
            report = await import_catalog(
                database, parsed, after_write=announce_products,
                progress=lambda done, total: bar.update(task, completed=done, total=total))
        await notify_hub_processes(cfg.database_url)  # running hubs send it at once
        return report

    try:
        report = HUB.with_db(cfg, work, errors=())
    except ImportRejected as exc:
        for error in exc.errors[:20]:
            console.print(f"  line {error.line}: {error.message}", highlight=False)
        fail(f"{csv_file}: {exc}")
    console.print(f"{report.created} new, {report.updated} changed, {report.unchanged} "
                  "unchanged; changes queued for every store.")
