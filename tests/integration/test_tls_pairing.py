"""HTTPS on the LAN: the store's own CA, its server certificate, renewal, and pairing."""

from __future__ import annotations

import os
import socket
import ssl
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from app.core import tls
from tests.conftest import csrf_of

ROOT = Path(__file__).resolve().parents[2]


def test_ca_and_server_certificate(tmp_path):
    files = tls.TlsFiles(tmp_path / "tls")
    report = tls.ensure(files, "Kirana Fresh", extra_ips=("192.168.77.7",), extra_names=("till",))
    assert report.created_ca and report.renewed
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    server = tls.server_cert(files)
    server.verify_directly_issued_by(ca)  # raises if the chain is wrong
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = san.get_values_for_type(x509.DNSName)
    ips = [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    host = socket.gethostname()
    assert {host, f"{host}.local", "localhost", "till"} <= set(names)
    assert {"127.0.0.1", "192.168.77.7"} <= set(ips)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    permitted = {str(g.value) for g in constraints.value.permitted_subtrees}
    assert {"local", "localhost", "till", "192.168.0.0/16", "10.0.0.0/8"} <= permitted
    assert "com" not in permitted  # a leaked store key cannot vouch for a bank
    assert (server.not_valid_after_utc - server.not_valid_before_utc).days <= 398
    for key in (files.ca_key, files.key):
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600  # private keys: owner only


def test_renewal_keeps_the_ca(tmp_path):
    files = tls.TlsFiles(tmp_path / "tls")
    tls.ensure(files, "Kirana Fresh")
    ca_before = files.ca_cert.read_bytes()
    again = tls.ensure(files, "Kirana Fresh")
    assert not again.renewed and not tls.needs_renewal(files)
    names, ips = tls.local_names()
    tls.make_server_cert(files, names, ips, now=datetime.now(UTC) - timedelta(days=380))
    assert tls.needs_renewal(files)  # 17 days left
    renewed = tls.ensure(files, "Kirana Fresh")
    assert renewed.renewed and not renewed.created_ca
    assert files.ca_cert.read_bytes() == ca_before  # paired devices stay paired
    assert not tls.needs_renewal(files)


def test_kirana_serve_speaks_https_with_the_store_certificate(cfg):
    files = tls.TlsFiles(cfg.data_dir / "tls")
    tls.ensure(files, cfg.store.name)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("kirana")), "serve", "--config", cfg.source,
         "--host", "127.0.0.1", "--port", str(port)],
        env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        context = ssl.create_default_context(cafile=str(files.ca_cert))
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as raw, \
                        context.wrap_socket(raw, server_hostname="localhost") as conn:
                    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                                 b"Connection: close\r\n\r\n")
                    answer = b""
                    while chunk := conn.recv(4096):
                        answer += chunk
                break
            except (ConnectionRefusedError, ssl.SSLEOFError, ConnectionResetError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert answer.startswith(b"HTTP/1.1 200") and b'"status":"ok"' in answer
        # A client that does not trust the store's CA is refused: the certificate is real.
        strict = ssl.create_default_context()
        with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
            try:
                strict.wrap_socket(raw, server_hostname="localhost")
            except ssl.SSLCertVerificationError:
                pass
            else:
                raise AssertionError("a stranger's certificate must not verify")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_pair_page_and_public_ca_download(client, login_as, cfg):
    missing = await client.get("/pair/ca.crt")
    assert missing.status_code == 404 and "kirana tls init" in missing.text
    tls.ensure(tls.TlsFiles(cfg.data_dir / "tls"), cfg.store.name)
    download = await client.get("/pair/ca.crt")  # no sign-in: a new device has none
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/x-x509-ca-cert")
    assert download.content == (cfg.data_dir / "tls" / "ca.crt").read_bytes()
    assert (await client.get("/pair", follow_redirects=False)).status_code == 302
    await login_as("cashier")
    assert (await client.get("/pair")).status_code == 403
    await client.post("/logout", headers={"x-csrftoken": csrf_of(client)})
    await login_as("manager")
    page = await client.get("/pair")
    assert 'data-testid="ca-qr"' in page.text and 'data-testid="app-qr"' in page.text
    assert "/pair/ca.crt" in page.text


async def test_pair_page_shows_the_ca_fingerprint_and_the_plain_http_trust_page(
        client, login_as, cfg, app):
    """Under `kirana serve` with TLS (app.state.plain_http_ca), QR 1 opens the plain-HTTP
    trust page on the same address and port: a phone that does not trust the store yet
    gets no "not private" warning (issue #16 item 16)."""
    files = tls.TlsFiles(cfg.data_dir / "tls")
    tls.ensure(files, cfg.store.name)
    cfg.server.public_url = "https://192.168.1.20:8000"
    await login_as("manager")
    text = (await client.get("/pair")).text.replace("<wbr>", "")
    assert tls.ca_fingerprint(files) in text
    assert "https://192.168.1.20:8000/pair/ca.crt" in text  # no plain listener: HTTPS
    app.state.plain_http_ca = True
    text = (await client.get("/pair")).text.replace("<wbr>", "")
    assert "http://192.168.1.20:8000/pair/trust" in text and "/pair/ca.crt" not in text


async def test_pair_page_warns_when_the_qr_codes_cannot_work_on_a_phone(client, login_as, cfg):
    """Issue #16 item 15: loopback, a bare computer name, or a name the certificate lacks."""
    files = tls.TlsFiles(cfg.data_dir / "tls")
    tls.ensure(files, cfg.store.name)
    await login_as("manager")
    cases = {
        "https://127.0.0.1:8000": "this computer itself",
        f"https://{socket.gethostname()}:8000": "cannot look up",
        "https://kirana.example.in:8000": "does not cover",
        "https://192.168.201.7:8000": "does not cover",
    }
    for url, says in cases.items():
        cfg.server.public_url = url
        page = (await client.get("/pair")).text
        assert 'data-testid="pair-problem"' in page and says in page, url
    cfg.server.public_url = f"https://{socket.gethostname()}.local:8000"
    assert 'data-testid="pair-problem"' not in (await client.get("/pair")).text
