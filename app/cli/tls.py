"""`kirana tls …`: the store's own certificate authority and server certificate, for HTTPS
on the store LAN (cameras and the installable app need it)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from app.cli.common import STORE, console, fail
from app.config import StoreConfig


@click.group(help="HTTPS on the store LAN (cameras and the installable app need it).")
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


NAME_OPTION = click.option(
    "--name", "names", multiple=True,
    help="Extra DNS name devices use (repeatable); kept for every renewal.")
IP_OPTION = click.option(
    "--ip", "ips", multiple=True,
    help="Extra private IP address devices use (repeatable); kept for every renewal.")
FORGET_OPTION = click.option(
    "--forget-names", is_flag=True,
    help="Drop the names and addresses given with --name/--ip before (keeps those given now).")


def _tls_ensure(cfg: StoreConfig, names: tuple[str, ...], ips: tuple[str, ...], force: bool,
                passphrase: bytes | None, ca_dir: str | None, *, ask: bool = False,
                forget: bool = False):
    from app.core import tls as tls_module
    from app.core.cert_names import NameRefused, host_of

    files = tls_module.TlsFiles(cfg.data_dir / "tls")
    key = tls_module.ca_key_path(files, Path(ca_dir) if ca_dir else None)
    if ask and passphrase is None and tls_module.ca_key_encrypted(key):
        passphrase = click.prompt("Passphrase of the store's CA key", hide_input=True).encode()
    try:
        return files, tls_module.ensure(files, cfg.store.name, force=force, extra_names=names,
                                        extra_ips=ips, passphrase=passphrase,
                                        public_host=host_of(cfg.server.public_url),
                                        forget_extras=forget,
                                        ca_dir=Path(ca_dir) if ca_dir else None)
    except (tls_module.CaKeyUnavailable, NameRefused) as exc:
        fail(escape(f"{exc}. Nothing was changed."))
    except ValueError as exc:
        fail(f"--ca-passphrase-file: {exc}")


@tls.command("init", help="Make the store's certificate authority and server certificate.")
@STORE.config_option
@NAME_OPTION
@IP_OPTION
@FORGET_OPTION
@click.option("--force", is_flag=True, help="Make a new server certificate now (keeps the CA).")
@CA_PASSPHRASE_OPTION
@CA_DIR_OPTION
@STORE.with_config
def tls_init(cfg: StoreConfig, names: tuple[str, ...], ips: tuple[str, ...], forget_names: bool,
             force: bool, ca_passphrase_file: str | None, ca_dir: str | None) -> None:
    files, report = _tls_ensure(cfg, names, ips, force, _passphrase(ca_passphrase_file),
                                ca_dir, ask=True, forget=forget_names)
    _tls_report(files, report)


@tls.command("renew", help="Make a new server certificate now with the CA's key (asks for "
                           "its passphrase if it has one; --ca-dir if it is kept offline).")
@STORE.config_option
@NAME_OPTION
@IP_OPTION
@FORGET_OPTION
@CA_PASSPHRASE_OPTION
@CA_DIR_OPTION
@STORE.with_config
def tls_renew(cfg: StoreConfig, names: tuple[str, ...], ips: tuple[str, ...],
              forget_names: bool, ca_passphrase_file: str | None, ca_dir: str | None) -> None:
    from app.core import tls as tls_module

    if not tls_module.TlsFiles(cfg.data_dir / "tls").ca_cert.exists():
        fail("this store has no certificate authority yet: run `kirana tls init` first")
    files, report = _tls_ensure(cfg, names, ips, True, _passphrase(ca_passphrase_file),
                                ca_dir, ask=True, forget=forget_names)
    _tls_report(files, report)


@tls.command("export-ca", help="Move the CA's key off this computer (to a USB stick or "
                               "another machine); renew later with --ca-dir.")
@STORE.config_option
@click.option("--to", "to", required=True, type=click.Path(file_okay=False))
@click.option("--keep", is_flag=True, help="Copy only; leave the key here too.")
@STORE.with_config
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
@STORE.config_option
@click.option("--ca-passphrase-file", type=click.Path(dir_okay=False, exists=True),
              required=True, help="File whose first line is the new passphrase (12+ characters).")
@CA_DIR_OPTION
@STORE.with_config
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
    if report.left_out:
        console.print("Left out (this store's certificate authority may not vouch for them; "
                      "see docs/devices.md): " + ", ".join(report.left_out),
                      highlight=False, soft_wrap=True)
    console.print("Restart `kirana serve`; then pair each device from the Pair devices page (/pair).")
