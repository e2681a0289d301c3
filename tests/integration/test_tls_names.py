"""What the server certificate carries (issue #16 item 17): renewal keeps the names and
addresses given to `kirana tls init --name/--ip`, a name the store's CA may not vouch for is
refused before anything is written, server.public_url's host goes in, and the certificate
always verifies under the CA's name constraints (checked with a real path validator, as a
phone would)."""

from __future__ import annotations

import ipaddress
import socket
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from app.cli import main
from app.core import tls
from app.core.cert_names import NameRefused
from tests.conftest import make_config


def verifies_for(files: tls.TlsFiles, host: str) -> bool:
    """Whether a device that trusts the store's CA accepts the server certificate for
    `host` (name constraints, SAN, dates: cryptography's verifier, like a browser's)."""
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    try:
        subject: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        subject = x509.DNSName(host)
    verifier = PolicyBuilder().store(Store([ca])).build_server_verifier(subject)
    try:
        verifier.verify(tls.server_cert(files), [])
    except VerificationError:
        return False
    return True


def make_due(files: tls.TlsFiles) -> None:
    """A certificate of this computer's own names only, 17 days from expiry (as one made
    by the old renewal, which dropped the extra names)."""
    names, ips = tls.local_names()
    tls.make_server_cert(files, names, ips, now=datetime.now(UTC) - timedelta(days=380))
    assert tls.needs_renewal(files)


def test_renewal_keeps_the_names_and_addresses_given_to_tls_init(tmp_path):
    files = tls.TlsFiles(tmp_path / "tls")
    tls.ensure(files, "Kirana Fresh", extra_names=("kirana.example.in",),
               extra_ips=("192.168.5.20",))
    make_due(files)
    renewal = tls.renew_if_needed(files, "Kirana Fresh")
    assert renewal.renewed and renewal.message.startswith("Renewed")
    names, ips = tls.san_of(tls.server_cert(files))
    assert "kirana.example.in" in names and "192.168.5.20" in ips
    assert verifies_for(files, "kirana.example.in") and verifies_for(files, "192.168.5.20")
    # --force without the options keeps them too, and so does `kirana tls renew`.
    again = tls.ensure(files, "Kirana Fresh", force=True)
    assert "kirana.example.in" in again.names and "192.168.5.20" in again.ips
    # --forget-names drops them.
    forgot = tls.ensure(files, "Kirana Fresh", force=True, forget_extras=True)
    assert "kirana.example.in" not in forgot.names and "192.168.5.20" not in forgot.ips
    assert not tls.renew_if_needed(files, "Kirana Fresh").renewed


def test_a_kept_name_missing_from_the_certificate_is_put_back_at_start(tmp_path):
    files = tls.TlsFiles(tmp_path / "tls")
    tls.ensure(files, "Kirana Fresh", extra_names=("till.local",))
    names, ips = tls.local_names()
    tls.make_server_cert(files, names, ips)  # valid for a year, but without till.local
    assert not tls.needs_renewal(files)
    said = tls.renew_at_start(files, "Kirana Fresh")
    assert said.startswith("Renewed") and "till.local" in tls.san_of(tls.server_cert(files))[0]
    assert tls.renew_at_start(files, "Kirana Fresh") == ""  # nothing more to do


@pytest.mark.parametrize("names, ips, says", [
    (("bank.example.com",), (), "may not vouch for it"),
    (("*.local",), (), "wildcard"),
    (("a" * 300,), (), "longer than 253"),
    (("till\x00.local",), (), "control character"),
    ((), ("8.8.8.8",), "public address"),
    ((), ("192.0.2.99",), "public address"),
    ((), ("10.20.30.40",), "may not vouch for it"),  # private, but this CA was not made for it
])
def test_a_name_the_ca_cannot_vouch_for_is_refused_and_nothing_changes(tmp_path, names, ips,
                                                                       says):
    files = tls.TlsFiles(tmp_path / "tls")
    tls.ensure(files, "Kirana Fresh")
    _narrow_ca(files)  # 10/8 is not among its networks
    tls.ensure(files, "Kirana Fresh", force=True)
    before = [p.read_bytes() for p in (files.cert, files.key, files.ca_cert)]
    with pytest.raises(NameRefused, match=says):
        tls.ensure(files, "Kirana Fresh", force=True, extra_names=names, extra_ips=ips)
    assert [p.read_bytes() for p in (files.cert, files.key, files.ca_cert)] == before
    assert not files.extras.exists()


def _narrow_ca(files: tls.TlsFiles) -> None:
    """Replace the CA by one whose constraints hold no 10/8 (only 192.168/16 and the
    store's names), as a CA could have been made before the list of private networks grew."""
    from cryptography.hazmat.primitives import hashes, serialization

    key = tls.load_ca_key(files)
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    narrow = x509.NameConstraints(permitted_subtrees=[
        x509.DNSName("local"), x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_network("192.168.0.0/16")),
        x509.IPAddress(ipaddress.ip_network("127.0.0.0/8"))],
        excluded_subtrees=None)
    builder = (x509.CertificateBuilder().subject_name(ca.subject).issuer_name(ca.subject)
               .public_key(ca.public_key()).serial_number(ca.serial_number)
               .not_valid_before(ca.not_valid_before_utc).not_valid_after(ca.not_valid_after_utc))
    for ext in ca.extensions:
        if not isinstance(ext.value, x509.NameConstraints):
            builder = builder.add_extension(ext.value, critical=ext.critical)
    builder = builder.add_extension(narrow, critical=True)
    files.ca_cert.write_bytes(builder.sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM))


def test_this_computers_own_names_the_ca_cannot_vouch_for_are_left_out(tmp_path):
    """A renamed computer or a new address outside the CA's networks must not make a
    certificate every device rejects: renewal leaves those names out."""
    files = tls.TlsFiles(tmp_path / "tls")
    tls.ensure(files, "Kirana Fresh")
    _narrow_ca(files)
    report = tls.ensure(files, "Kirana Fresh", force=True)
    host = socket.gethostname()
    assert host in report.left_out and host not in report.names
    assert f"{host}.local" in report.names and "127.0.0.1" in report.ips
    assert verifies_for(files, f"{host}.local") and verifies_for(files, "127.0.0.1")


def test_names_under_local_need_no_new_ca(tmp_path):
    files = tls.TlsFiles(tmp_path / "tls")
    tls.ensure(files, "Kirana Fresh")
    report = tls.ensure(files, "Kirana Fresh", extra_names=("Till-2.local",),
                        extra_ips=("192.168.44.5",))
    assert report.renewed  # without --force: the certificate lacked a name asked for
    assert "till-2.local" in report.names and verifies_for(files, "till-2.local")
    assert verifies_for(files, "192.168.44.5")


def test_public_url_host_goes_into_the_certificate(tmp_path):
    files = tls.TlsFiles(tmp_path / "tls")
    tls.ensure(files, "Kirana Fresh")
    said = tls.renew_at_start(files, "Kirana Fresh", public_host="kirana-store.local")
    assert said.startswith("Renewed") and verifies_for(files, "kirana-store.local")
    # A host the CA cannot vouch for: a warning, the certificate stays as it was.
    before = files.cert.read_bytes()
    said = tls.renew_at_start(files, "Kirana Fresh", public_host="shop.example.com")
    assert said.startswith("Warning: server.public_url: shop.example.com: this store's")
    assert files.cert.read_bytes() == before
    said = tls.renew_at_start(files, "Kirana Fresh", public_host="203.0.113.9")
    assert "public address" in said and files.cert.read_bytes() == before


def test_a_new_ca_is_made_for_the_public_url_host(tmp_path):
    make_config(tmp_path, **{'[server]': '[server]\npublic_url = "https://kirana.example.in:8000"'})
    made = CliRunner().invoke(main, ["tls", "init", "--config", str(tmp_path / "store.toml")])
    assert made.exit_code == 0, made.output
    files = tls.TlsFiles(tmp_path / "var" / "tls")
    assert "kirana.example.in" in made.output and verifies_for(files, "kirana.example.in")


def test_the_cli_refuses_in_one_line_and_changes_nothing(tmp_path):
    make_config(tmp_path)
    config = str(tmp_path / "store.toml")
    runner = CliRunner()
    assert runner.invoke(main, ["tls", "init", "--config", config]).exit_code == 0
    files = tls.TlsFiles(tmp_path / "var" / "tls")
    before = files.cert.read_bytes()
    refused = runner.invoke(main, ["tls", "init", "--config", config, "--force",
                                   "--name", "bank.example.com"])
    assert refused.exit_code == 2
    assert "Error: bank.example.com: this store's certificate authority may not vouch" in (
        " ".join(refused.output.split()))
    assert "Nothing was changed" in refused.output and files.cert.read_bytes() == before
    wild = runner.invoke(main, ["tls", "init", "--config", config, "--force", "--name", "*.local"])
    assert wild.exit_code == 2 and "--name *.local: a wildcard" in wild.output
    public = runner.invoke(main, ["tls", "renew", "--config", config, "--ip", "8.8.8.8"])
    assert public.exit_code == 2 and "--ip 8.8.8.8: a public address" in public.output
    kept = runner.invoke(main, ["tls", "init", "--config", config, "--ip", "192.168.3.3"])
    assert kept.exit_code == 0 and "192.168.3.3" in kept.output
    assert "192.168.3.3" in files.extras.read_text()
