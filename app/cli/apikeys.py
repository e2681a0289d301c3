"""API keys: the store's (`kirana apikey …`, for channels and scripts) and the hub's
channel keys (`kirana hub channel-keys`, `rotate-channel-key`, `revoke-channel-key`).
Listing, rotating and revoking are one implementation for both places."""

from __future__ import annotations

import click

from app.cli.common import HUB, STORE, Place, console, when
from app.config import HubConfig, StoreConfig

# ---- one implementation for the store and the hub ----------------------------------------


def list_keys(place: Place, cfg: StoreConfig | HubConfig, *, channel_column: bool) -> None:
    """One line a key; the store's keys show their channel (a hub key is its channel)."""
    from app.core.credentials import list_api_keys

    for k in place.with_db(cfg, list_api_keys):
        state = f"  revoked {when(k.revoked_at)}" if k.revoked_at else ""
        channel = f"{k.channel:<10} " if channel_column else ""
        click.echo(f"{k.name:<20} {k.scope:<13} {channel}{k.prefix}…  last used "
                   f"{when(k.last_used_at)}{state}")


def rotate_key(place: Place, cfg: StoreConfig | HubConfig, name: str, said: str) -> None:
    """A new secret for the key `name`, printed once; `said` names it ({name})."""
    from app.core.credentials import rotate_api_key

    key, full = place.with_db(cfg, lambda db: rotate_api_key(db, name))
    console.print(said.format(name=key.name) + " Copy it now; it is not shown again:")
    click.echo(full)


def revoke_key(place: Place, cfg: StoreConfig | HubConfig, name: str, said: str) -> None:
    from app.core.credentials import revoke_api_key

    key = place.with_db(cfg, lambda db: revoke_api_key(db, name))
    console.print(said.format(name=key.name))


# ---- the store: kirana apikey … ------------------------------------------------------------


@click.group(help="API keys for sales channels and scripts.")
def apikey() -> None:
    pass


@apikey.command("create", help="Create an API key; it is shown once, only its hash is kept.")
@STORE.config_option
@click.option("--name", required=True)
@click.option(
    "--scope",
    required=True,
    type=click.Choice(["catalog:read", "stock:read", "orders:write", "orders:read", "metrics",
                       "all"]),
    help="metrics: only /metrics (for Prometheus); all: every API scope.",
)
@click.option("--channel", default="local", show_default=True,
              help="The only channel whose orders the key may post, read and cancel.")
@STORE.with_config
def apikey_create(cfg: StoreConfig, name: str, scope: str, channel: str) -> None:
    from app.core.auth import create_api_key
    from app.orders.service import check_key_channel

    async def work(database):
        await check_key_channel(database, channel)
        return await create_api_key(database, name, scope, channel=channel)

    key, full = STORE.with_db(cfg, work)
    console.print(
        f"API key [bold]{key.name}[/] (scope {key.scope}, channel {key.channel}). "
        "Copy it now; it is not shown again:"
    )
    click.echo(full)


@apikey.command("list", help="API keys with their scope, channel and last use.")
@STORE.config_option
@STORE.with_config
def apikey_list(cfg: StoreConfig) -> None:
    list_keys(STORE, cfg, channel_column=True)


@apikey.command("revoke", help="Stop an API key working, at once.")
@STORE.config_option
@click.argument("name")
@STORE.with_config
def apikey_revoke(cfg: StoreConfig, name: str) -> None:
    revoke_key(STORE, cfg, name, "API key {name} is revoked.")


@apikey.command("rotate", help="Give an API key a new secret (shown once; the old one stops).")
@STORE.config_option
@click.argument("name")
@STORE.with_config
def apikey_rotate(cfg: StoreConfig, name: str) -> None:
    rotate_key(STORE, cfg, name, "API key [bold]{name}[/] has a new secret.")


# ---- the hub: a channel's key is named after the channel -------------------------------------


@click.command("channel-keys", help="Channels' API keys with their last use.")
@HUB.config_option
@HUB.with_config
def hub_channel_keys(cfg: HubConfig) -> None:
    list_keys(HUB, cfg, channel_column=False)


@click.command("rotate-channel-key", help="A new API key for a channel (shown once; the old "
               "one stops working).")
@HUB.config_option
@click.argument("channel")
@HUB.with_config
def hub_rotate_channel_key(cfg: HubConfig, channel: str) -> None:
    rotate_key(HUB, cfg, channel.strip().lower(), "Channel {name} has a new API key.")


@click.command("revoke-channel-key", help="Stop a channel's API key working, at once.")
@HUB.config_option
@click.argument("channel")
@HUB.with_config
def hub_revoke_channel_key(cfg: HubConfig, channel: str) -> None:
    revoke_key(HUB, cfg, channel.strip().lower(), "Channel {name}'s API key is revoked.")


@click.command("rotate-webhook-secret", help="A new signing secret for a channel's webhooks "
               "(shown once).")
@HUB.config_option
@click.argument("channel")
@HUB.with_config
def hub_rotate_webhook_secret(cfg: HubConfig, channel: str) -> None:
    from app.hub.accounts import rotate_webhook_secret

    secret = HUB.with_db(cfg, lambda db: rotate_webhook_secret(db, channel))
    console.print("New webhook signing secret; give it to the channel. Copy it now:")
    click.echo(secret)


@click.command("metrics-key", help="A key that reads only the hub's /metrics (for "
               "Prometheus); shown once, only its hash is kept.")
@HUB.config_option
@click.argument("name", default="prometheus")
@HUB.with_config
def hub_metrics_key(cfg: HubConfig, name: str) -> None:
    from app.core.auth import create_api_key

    name = name.strip().lower()
    key, full = HUB.with_db(cfg, lambda db: create_api_key(db, name, "metrics"),
                            errors=(ValueError,))
    console.print(f"Metrics key [bold]{key.name}[/] (reads /metrics, nothing else; list, "
                  "rotate and revoke it like a channel's key). Copy it now; it is not "
                  "shown again:")
    click.echo(full)


HUB_COMMANDS = (hub_channel_keys, hub_rotate_channel_key, hub_revoke_channel_key,
                hub_rotate_webhook_secret, hub_metrics_key)
