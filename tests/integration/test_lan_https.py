"""A real `kirana serve` with the store's certificates (issue #16 item 16): on the HTTPS
port, plain HTTP hands out the CA certificate and a page saying what to do with it (with
its SHA-256 fingerprint), and redirects everything else to HTTPS instead of the empty
reply it used to get; the app itself is never reached over plain HTTP."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from app.config import StoreConfig
from app.core import tls

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def kirana_serve(cfg: StoreConfig, host: str = "127.0.0.1") -> Iterator[int]:
    """`kirana serve` in its own process until it answers /healthz over HTTPS."""
    files = tls.TlsFiles(cfg.data_dir / "tls")
    port = free_port()
    log = cfg.data_dir.parent / f"serve-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("kirana")), "serve", "--config", cfg.source,
             "--host", host, "--port", str(port)],
            env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        context = ssl.create_default_context(cafile=str(files.ca_cert))
        while True:
            try:
                if httpx.get(f"https://127.0.0.1:{port}/healthz", verify=context,
                             timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(log.read_text()) from None
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def raw_exchange(port: int, data: bytes, timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(data)
        answer = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := conn.recv(65536):
                answer += chunk
    return answer


def test_plain_http_gets_the_ca_the_trust_page_and_redirects(cfg):
    files = tls.TlsFiles(cfg.data_dir / "tls")
    tls.ensure(files, cfg.store.name)
    fingerprint = tls.ca_fingerprint(files)
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", fingerprint)
    with kirana_serve(cfg) as port:
        plain = f"http://127.0.0.1:{port}"
        ca = httpx.get(f"{plain}/pair/ca.crt")
        assert ca.status_code == 200 and ca.content == files.ca_cert.read_bytes()
        assert ca.headers["content-type"] == "application/x-x509-ca-cert"
        assert "kirana-store-ca.crt" in ca.headers["content-disposition"]

        page = httpx.get(f"{plain}/pair/trust")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        text = page.text.replace("<wbr>", "")
        assert fingerprint in text and 'href="/pair/ca.crt"' in text
        assert f'href="https://127.0.0.1:{port}/"' in text  # then open the app over HTTPS
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        assert "set-cookie" not in page.headers

        # Anything else: a redirect to the same address over HTTPS (it was an empty reply).
        for path in ("/", "/pos?x=1", "/login", "/pair", "/static/css/app.css", "/healthz"):
            moved = httpx.get(f"{plain}{path}")
            assert moved.status_code == 307, path
            assert moved.headers["location"] == f"https://127.0.0.1:{port}{path}"
            assert "set-cookie" not in moved.headers  # the app was not reached
        posted = httpx.post(f"{plain}/login", data={"user_id": "x", "pin": "1234"})
        assert posted.status_code == 307 and "set-cookie" not in posted.headers
        head = httpx.head(f"{plain}/pair/ca.crt")
        assert head.status_code == 200 and head.content == b""
        # A Host the certificate does not cover is not echoed: the store's own address.
        evil = raw_exchange(port, b"GET /pos HTTP/1.1\r\nHost: evil.example.com:80\r\n"
                                  b"Connection: close\r\n\r\n")
        assert evil.startswith(b"HTTP/1.1 307")
        assert re.search(rb"location: https://[^/\r]+:%d/pos\r\n" % port, evil, re.I)
        assert b"evil" not in evil.split(b"\r\n\r\n")[0]
        # HTTPS on the same port is the app, as before.
        context = ssl.create_default_context(cafile=str(files.ca_cert))
        secure = httpx.get(f"https://127.0.0.1:{port}/login", verify=context)
        assert secure.status_code == 200 and "strict-transport-security" in secure.headers


def test_silent_and_broken_clients_do_not_hold_up_others(cfg):
    files = tls.TlsFiles(cfg.data_dir / "tls")
    tls.ensure(files, cfg.store.name)
    context = ssl.create_default_context(cafile=str(files.ca_cert))
    with kirana_serve(cfg) as port:
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
        try:
            # A fake TLS start, a lone byte and a half request, then everything still works.
            assert raw_exchange(port, b"\x16\x03\x01\x00\x05hello", timeout=15) == b""
            raw_exchange(port, b"G", timeout=1)
            started = time.monotonic()
            assert httpx.get(f"https://127.0.0.1:{port}/healthz", verify=context,
                             timeout=5).status_code == 200
            assert httpx.get(f"http://127.0.0.1:{port}/pair/ca.crt", timeout=5
                             ).status_code == 200
            assert time.monotonic() - started < 5
        finally:
            for conn in silent:
                conn.close()
        # Keep-alive over TLS: several requests on one connection.
        with httpx.Client(verify=context) as client:
            for _ in range(3):
                assert client.get(f"https://127.0.0.1:{port}/healthz").status_code == 200
