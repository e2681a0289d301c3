"""The store CA's key need not sit unencrypted beside the server (issue #13 item 20, ASVS
4.0.3 V6.4.1, V6.4.2): it can be encrypted with a passphrase or moved off the machine,
renewal then needs it (and keeps the same CA, so devices stay paired), and `kirana
serve` keeps serving with a warning instead of failing or making a new CA."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app.cli import main
from app.core import tls
from tests.conftest import make_config

PASS = b"mango-pickle-on-the-top-shelf"


def ca_of(files: tls.TlsFiles) -> x509.Certificate:
    return x509.load_pem_x509_certificate(files.ca_cert.read_bytes())


def make_due(files: tls.TlsFiles, **kw) -> None:
    """Make the server certificate 17 days from expiry (renewal due)."""
    names, ips = tls.local_names()
    tls.make_server_cert(files, names, ips, now=datetime.now(UTC) - timedelta(days=380), **kw)
    assert tls.needs_renewal(files)


def test_a_passphrase_encrypts_the_ca_key_and_renewal_needs_it(tmp_path):
    files = tls.TlsFiles(tmp_path / "tls")
    tls.ensure(files, "Kirana Fresh", passphrase=PASS)
    pem = files.ca_key.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):  # useless without the passphrase
        serialization.load_pem_private_key(pem, password=None)
    ca = ca_of(files)
    make_due(files, passphrase=PASS)
    with pytest.raises(tls.CaKeyUnavailable, match="protected by a passphrase"):
        tls.ensure(files, "Kirana Fresh")
    with pytest.raises(tls.CaKeyUnavailable, match="wrong passphrase"):
        tls.ensure(files, "Kirana Fresh", passphrase=b"not-the-right-one")
    report = tls.ensure(files, "Kirana Fresh", passphrase=PASS)
    assert report.renewed and not report.created_ca and not tls.needs_renewal(files)
    tls.server_cert(files).verify_directly_issued_by(ca)  # the same CA: devices stay paired
    assert ca_of(files) == ca


def test_a_short_passphrase_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 12"):
        tls.ensure(tls.TlsFiles(tmp_path / "tls"), "Kirana Fresh", passphrase=b"short")


def test_the_ca_key_can_live_off_the_machine(tmp_path):
    files = tls.TlsFiles(tmp_path / "tls")
    tls.ensure(files, "Kirana Fresh")
    ca = ca_of(files)
    usb = tmp_path / "usb" / "kirana-ca"
    moved = tls.export_ca(files, usb)
    assert not files.ca_key.exists() and moved.exists()
    assert stat.S_IMODE(os.stat(moved).st_mode) == 0o600
    make_due(files, ca_dir=usb)
    # Without the stick: no renewal, and above all no new CA (paired devices would break).
    with pytest.raises(tls.CaKeyUnavailable, match="not in"):
        tls.ensure(files, "Kirana Fresh")
    assert ca_of(files) == ca and not files.ca_key.exists()
    report = tls.ensure(files, "Kirana Fresh", ca_dir=usb)
    assert report.renewed and not report.created_ca
    tls.server_cert(files).verify_directly_issued_by(ca)


def test_serve_keeps_serving_and_says_how_to_renew_when_the_key_is_locked(tmp_path):
    files = tls.TlsFiles(tmp_path / "tls")
    tls.ensure(files, "Kirana Fresh", passphrase=PASS)
    make_due(files, passphrase=PASS)
    said = tls.renew_at_start(files, "Kirana Fresh")
    assert said.startswith("Warning: the server certificate expires in 1")
    assert "kirana tls renew" in said
    later = datetime.now(UTC) + timedelta(days=30)
    assert "EXPIRED" in tls.renew_at_start(files, "Kirana Fresh", now=later)
    assert tls.needs_renewal(files)  # untouched
    plain = tls.TlsFiles(tmp_path / "plain")
    tls.ensure(plain, "Kirana Fresh")
    make_due(plain)
    assert tls.renew_at_start(plain, "Kirana Fresh").startswith("Renewed")


def test_the_tls_commands(tmp_path):
    cfg = make_config(tmp_path)
    config = str(tmp_path / "store.toml")
    secret = tmp_path / "ca-pass.txt"
    secret.write_text(PASS.decode() + "\n")
    runner = CliRunner()
    made = runner.invoke(main, ["tls", "init", "--config", config,
                                "--ca-passphrase-file", str(secret)])
    assert made.exit_code == 0, made.output
    files = tls.TlsFiles(cfg.data_dir / "tls")
    assert tls.ca_key_encrypted(files.ca_key)
    asked = runner.invoke(main, ["tls", "renew", "--config", config], input="wrong-one-here\n")
    assert asked.exit_code == 2 and "wrong passphrase" in asked.output
    renewed = runner.invoke(main, ["tls", "renew", "--config", config],
                            input=PASS.decode() + "\n")
    assert renewed.exit_code == 0 and "Made a server certificate" in renewed.output
    moved = runner.invoke(main, ["tls", "export-ca", "--config", config,
                                 "--to", str(tmp_path / "usb")])
    assert moved.exit_code == 0 and not files.ca_key.exists(), moved.output
    offline = runner.invoke(main, ["tls", "renew", "--config", config,
                                   "--ca-passphrase-file", str(secret)])
    assert offline.exit_code == 2 and "--ca-dir" in offline.output
    back = runner.invoke(main, ["tls", "renew", "--config", config, "--ca-dir",
                                str(tmp_path / "usb"), "--ca-passphrase-file", str(secret)])
    assert back.exit_code == 0, back.output


def test_protect_ca_encrypts_an_existing_plain_key(tmp_path):
    cfg = make_config(tmp_path)
    files = tls.TlsFiles(cfg.data_dir / "tls")
    tls.ensure(files, "Kirana Fresh")
    assert not tls.ca_key_encrypted(files.ca_key)
    secret = tmp_path / "ca-pass.txt"
    secret.write_text(PASS.decode() + "\n")
    done = CliRunner().invoke(main, ["tls", "protect-ca", "--config", str(tmp_path / "store.toml"),
                                     "--ca-passphrase-file", str(secret)])
    assert done.exit_code == 0, done.output
    assert tls.ca_key_encrypted(files.ca_key)
    assert tls.load_ca_key(files, PASS).public_key() == ca_of(files).public_key()
