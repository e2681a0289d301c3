"""People who sign in: the store's staff (`kirana user …`, PINs) and the hub's users
(`kirana hub user …`, passwords and authenticator keys). Listing and (de)activating
are one implementation for both places."""

from __future__ import annotations

import sys

import click

from app.cli.common import HUB, STORE, Place, console, in_store_language, when
from app.config import HubConfig, StoreConfig
from app.core.i18n import _

# ---- one implementation for the store and the hub ----------------------------------------


def list_users(place: Place, cfg: StoreConfig | HubConfig) -> None:
    from app.core.credentials import list_users

    for u in place.with_db(cfg, list_users):
        state = "" if u.active else "  " + _("(deactivated)")
        seen = _("last sign-in %(when)s") % {"when": when(u.last_login_at)}
        click.echo(f"{u.name:<20} {_(u.role):<8} {seen}{state}")


def set_active(place: Place, cfg: StoreConfig | HubConfig, name: str, active: bool) -> None:
    from app.core.credentials import set_active

    user = place.with_db(cfg, lambda db: set_active(db, active, name=name))
    if place.to_the:  # the hub: English
        said = (f"{user.name} may sign in{place.to_the} again." if active
                else f"{user.name} can no longer sign in{place.to_the}.")
    else:
        said = (_("%(name)s may sign in again.") if active
                else _("%(name)s can no longer sign in.")) % {"name": user.name}
    console.print(said)


# ---- the store: kirana user … --------------------------------------------------------------


@click.group(help="Staff users.")
def user() -> None:
    pass


@user.command("add", help="Add a staff user with a 4-6 digit PIN.")
@STORE.config_option
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(["cashier", "picker", "manager", "admin"]))
@click.option("--pin", required=True, help="4 to 6 digits.")
@STORE.with_config
@in_store_language
def user_add(cfg: StoreConfig, name: str, role: str, pin: str) -> None:
    from app.core.auth import create_user

    created = STORE.with_db(cfg, lambda db: create_user(db, name, role, pin))
    console.print(_("Added %(name)s (%(role)s).") % {"name": created.name,
                                                      "role": _(created.role)})


@user.command("list", help="Staff with their role and last sign-in.")
@STORE.config_option
@STORE.with_config
@in_store_language
def user_list(cfg: StoreConfig) -> None:
    list_users(STORE, cfg)


@user.command("deactivate", help="Stop a user signing in (signed out at once).")
@STORE.config_option
@click.argument("name")
@STORE.with_config
@in_store_language
def user_deactivate(cfg: StoreConfig, name: str) -> None:
    set_active(STORE, cfg, name, False)


@user.command("activate", help="Let a deactivated user sign in again.")
@STORE.config_option
@click.argument("name")
@STORE.with_config
@in_store_language
def user_activate(cfg: StoreConfig, name: str) -> None:
    set_active(STORE, cfg, name, True)


@user.command("reset-pin", help="Give a user a new PIN (asked for when --pin is left out).")
@STORE.config_option
@click.argument("name")
@click.option("--pin", default=None, help="4 to 6 digits; prefer the prompt (not in history).")
@STORE.with_config
@in_store_language
def user_reset_pin(cfg: StoreConfig, name: str, pin: str | None) -> None:
    from app.core.credentials import reset_pin

    new_pin: str = pin or click.prompt(_("New PIN"), hide_input=True, confirmation_prompt=True)
    user = STORE.with_db(cfg, lambda db: reset_pin(db, new_pin, name=name))
    console.print(_("%(name)s has a new PIN.") % {"name": user.name})


# ---- the hub: kirana hub user, users, user-… , reset-… --------------------------------------

PASSWORD_STDIN = click.option("--password-stdin", is_flag=True,
                              help="Read the password from the first line of standard input.")


def _password(from_stdin: bool, prompt: str) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


@click.command("user", help="Add a hub user: kirana hub user --config F NAME ROLE (asks for "
               "the password; prints the authenticator key to enrol)")
@HUB.config_option
@click.argument("name")
@click.argument("role", type=click.Choice(["manager", "admin"]))
@PASSWORD_STDIN
@HUB.with_config
def hub_user(cfg: HubConfig, name: str, role: str, password_stdin: bool) -> None:
    from app.hub.accounts import create_hub_user, provisioning_uri

    password = _password(password_stdin, "Password (12 or more characters)")
    user, secret = HUB.with_db(cfg, lambda db: create_hub_user(db, name, role, password))
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


@click.command("users", help="Hub users with their role and last sign-in.")
@HUB.config_option
@HUB.with_config
def hub_users(cfg: HubConfig) -> None:
    list_users(HUB, cfg)


@click.command("user-deactivate", help="Stop a hub user signing in (signed out at once).")
@HUB.config_option
@click.argument("name")
@HUB.with_config
def hub_user_deactivate(cfg: HubConfig, name: str) -> None:
    set_active(HUB, cfg, name, False)


@click.command("user-activate", help="Let a deactivated hub user sign in again.")
@HUB.config_option
@click.argument("name")
@HUB.with_config
def hub_user_activate(cfg: HubConfig, name: str) -> None:
    set_active(HUB, cfg, name, True)


@click.command("reset-password", help="Give a hub user a new password.")
@HUB.config_option
@click.argument("name")
@PASSWORD_STDIN
@HUB.with_config
def hub_reset_password(cfg: HubConfig, name: str, password_stdin: bool) -> None:
    from app.hub.accounts import reset_password

    password = _password(password_stdin, "New password (12 or more characters)")
    user = HUB.with_db(cfg, lambda db: reset_password(db, name, password))
    console.print(f"{user.name} has a new password.")


@click.command("reset-totp", help="A new authenticator key for a hub user (a lost phone).")
@HUB.config_option
@click.argument("name")
@HUB.with_config
def hub_reset_totp(cfg: HubConfig, name: str) -> None:
    from app.hub.accounts import provisioning_uri, reset_totp

    user, secret = HUB.with_db(cfg, lambda db: reset_totp(db, name))
    click.echo(f"New authenticator key for {user.name} (the old one no longer works; the next "
               f"sign-in shows it as a QR code until a code confirms it):\nTOTP secret: "
               f"{secret}\n{provisioning_uri(user.name, secret, cfg.hub.name)}")


HUB_COMMANDS = (hub_user, hub_users, hub_user_deactivate, hub_user_activate,
                hub_reset_password, hub_reset_totp)
