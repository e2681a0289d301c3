"""A server that runs for a year renews its certificate without a restart (issue #16 item
17): `kirana serve`'s own wiring (the command run with uvicorn.run captured, then served
for real in a thread) with the hourly check shortened, a certificate that expired while
the server was up, and new connections that get the renewed one. A certificate renewed
by hand (`kirana tls renew`, the CA's key kept locked) is picked up the same way."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import uvicorn
from click.testing import CliRunner
from cryptography import x509

from app.cli import main
from app.core import lan_https, tls

PASS = b"mango-pickle-on-the-top-shelf"


def served_certificate(port: int) -> x509.Certificate:
    """The certificate a new connection gets (not verified: it may have expired)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as conn:
        der = conn.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def verifies(port: int, files: tls.TlsFiles) -> bool:
    context = ssl.create_default_context(cafile=str(files.ca_cert))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname="localhost"):
            return True
    except ssl.SSLCertVerificationError:
        return False


@contextlib.contextmanager
def kirana_serve_in_thread(cfg, monkeypatch, every: float) -> Iterator[int]:
    """`kirana serve` as the command wires it, served in this process: as if it had been
    started long ago (no renewal at start), checking the certificate every `every` s."""
    monkeypatch.setattr(tls, "renew_at_start", lambda *args, **kwargs: "")
    monkeypatch.setattr(lan_https, "RENEW_CHECK_SECONDS", every)
    captured: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: captured.update(app=app, **kw))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = CliRunner().invoke(main, ["serve", "--config", cfg.source, "--host", "127.0.0.1",
                                     "--port", str(port)])
    assert done.exit_code == 0, done.output
    server = uvicorn.Server(uvicorn.Config(captured.pop("app"), **captured))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.05)
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def wait_for(condition, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_a_certificate_that_expires_while_the_server_runs_is_renewed_and_served(
        cfg, monkeypatch):
    files = tls.TlsFiles(cfg.data_dir / "tls")
    tls.ensure(files, cfg.store.name, extra_names=("till.local",))
    names, ips = tls.local_names()
    # Made 398 days ago (the server started then): it expired yesterday.
    tls.make_server_cert(files, names, ips, now=datetime.now(UTC) - timedelta(days=398))
    with kirana_serve_in_thread(cfg, monkeypatch, every=4) as port:
        first = served_certificate(port)
        assert first.not_valid_after_utc < datetime.now(UTC) and not verifies(port, files)
        assert wait_for(lambda: verifies(port, files)), "still serving the expired certificate"
        renewed = served_certificate(port)
        assert renewed.not_valid_after_utc > datetime.now(UTC) + timedelta(days=390)
        assert "till.local" in tls.san_of(renewed)[0]  # the kept name came back too
        assert renewed.public_bytes(tls.serialization.Encoding.PEM) in files.cert.read_bytes()


def test_a_certificate_renewed_by_hand_is_served_without_a_restart(cfg, monkeypatch):
    files = tls.TlsFiles(cfg.data_dir / "tls")
    tls.ensure(files, cfg.store.name, passphrase=PASS)
    names, ips = tls.local_names()
    tls.make_server_cert(files, names, ips, now=datetime.now(UTC) - timedelta(days=380),
                         passphrase=PASS)  # 17 days left; the server cannot renew it alone
    with kirana_serve_in_thread(cfg, monkeypatch, every=0.3) as port:
        before = served_certificate(port)
        time.sleep(1)  # a few checks: the key is locked, nothing changes
        assert served_certificate(port).serial_number == before.serial_number
        tls.ensure(files, cfg.store.name, force=True, passphrase=PASS)  # kirana tls renew
        new = tls.server_cert(files)
        assert wait_for(lambda: served_certificate(port).serial_number == new.serial_number)
        assert verifies(port, files)
