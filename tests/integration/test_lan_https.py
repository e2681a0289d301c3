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
import pytest

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
    silent: list[socket.socket] = []
    try:
        with kirana_serve(cfg) as port:
            silent += [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
            # A fake TLS start, a lone byte and a half request, then everything still works.
            assert raw_exchange(port, b"\x16\x03\x01\x00\x05hello", timeout=15) == b""
            raw_exchange(port, b"G", timeout=1)
            started = time.monotonic()
            assert httpx.get(f"https://127.0.0.1:{port}/healthz", verify=context,
                             timeout=5).status_code == 200
            assert httpx.get(f"http://127.0.0.1:{port}/pair/ca.crt", timeout=5
                             ).status_code == 200
            assert time.monotonic() - started < 5
            # Keep-alive over TLS: several requests on one connection.
            with httpx.Client(verify=context) as client:
                for _ in range(3):
                    assert client.get(f"https://127.0.0.1:{port}/healthz").status_code == 200
            # A connection that never says anything is dropped (after FIRST_BYTE_SECONDS).
            silent[0].settimeout(20)
            assert silent[0].recv(1) == b""
        # kirana_serve's exit waited for the server to stop with silent connections open.
    finally:
        for conn in silent:
            conn.close()


# ---- /pair's QR codes on a real server listening on every address (issue #16 item 15) ----


def decode_qr(data_uri: str) -> str:
    """Draw the page's SVG QR code (one path of unit squares) and read it with zbar."""
    import base64

    from PIL import Image, ImageDraw
    from pyzbar import pyzbar

    svg = base64.b64decode(data_uri.split(",", 1)[1]).decode()
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))
    squares = re.findall(r"M(\d+),(\d+)H(\d+)V(\d+)H\d+z", svg)
    assert len(squares) > 100, svg[:300]
    scale = 8
    image = Image.new("L", (size * scale, size * scale), 255)
    draw = ImageDraw.Draw(image)
    for x1, y1, x2, y2 in squares:
        draw.rectangle([int(x1) * scale, int(y1) * scale, int(x2) * scale - 1,
                        int(y2) * scale - 1], fill=0)
    found = [d.data.decode() for d in pyzbar.decode(image) if d.type == "QRCODE"]
    assert len(found) == 1, found
    return found[0]


async def test_pair_qr_codes_point_at_an_address_the_served_certificate_covers(cfg, staff):
    pytest.importorskip("pyzbar.pyzbar", reason="pyzbar and Debian's libzbar0 (make test)")
    from cryptography import x509

    from app.core.cert_names import host_of
    from tests.conftest import STAFF

    files = tls.TlsFiles(cfg.data_dir / "tls")
    tls.ensure(files, cfg.store.name)
    context = ssl.create_default_context(cafile=str(files.ca_cert))
    with kirana_serve(cfg, host="0.0.0.0") as port:
        with socket.create_connection(("127.0.0.1", port)) as raw, \
                context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
            served = x509.load_der_x509_certificate(conn.getpeercert(binary_form=True))
        names, ips = tls.san_of(served)
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}",
                                     verify=context) as client:
            await client.get("/login")
            signed_in = await client.post("/login", data={
                "user_id": staff["manager"], "pin": STAFF["manager"][1], "next": "/",
                "_csrf_token": client.cookies.get("csrftoken", "")})
            assert signed_in.status_code in (200, 303), signed_in.text
            page = await client.get("/pair")
        assert page.status_code == 200
        qr = dict((testid, uri) for uri, testid in re.findall(
            r'src="(data:image/svg\+xml;base64,[^"]+)"[^>]*data-testid="(ca-qr|app-qr)"',
            page.text))
        app_url, ca_url = decode_qr(qr["app-qr"]), decode_qr(qr["ca-qr"])
        assert 'data-testid="pair-problem"' not in page.text, page.text
        assert ca_url.startswith("http://") and ca_url.endswith("/pair/trust")
        assert app_url.startswith("https://") and app_url.endswith(f":{port}/")
        for url in (app_url, ca_url):
            host = host_of(url)
            assert host in names or host in ips, (url, names, ips)  # covered by the certificate
            assert host not in ("127.0.0.1", "localhost", socket.gethostname()), url
        # And a device on the LAN can open both as they are (the host is this machine).
        host = host_of(app_url)
        if host in ips:
            async with httpx.AsyncClient(verify=context) as device:
                assert (await device.get(app_url + "healthz")).status_code == 200
                trust = await device.get(ca_url)
            assert trust.status_code == 200
            assert tls.ca_fingerprint(files) in trust.text.replace("<wbr>", "")
