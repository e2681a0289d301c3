"""docs/nginx-hub.conf (docs/deploy.md, "A reverse proxy for the hub") is a config nginx
takes: `nginx -t` on it, wrapped as Debian's nginx.conf includes it, with a throwaway
certificate in place of the Let's Encrypt paths; a planted syntax error is reported. It
also runs: nginx started on free ports in front of a stand-in hub passes the client's
address, https, a request id and a websocket upgrade to /sync/v1, and refuses /metrics.

Without nginx these tests are skipped with a loud reason (`make system-deps` installs
nginx-light)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "docs" / "nginx-hub.conf"
CERT = "/etc/letsencrypt/live/hub.example.in/fullchain.pem"
KEY = "/etc/letsencrypt/live/hub.example.in/privkey.pem"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None)
NO_NGINX = ("\n" + "!" * 78 + "\n!! nginx is NOT installed: docs/nginx-hub.conf is NOT checked."
            "\n!! Install it (make system-deps, or apt-get install nginx-light).\n" + "!" * 78)
needs_nginx = pytest.mark.skipif(NGINX is None, reason=NO_NGINX)


def self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hub.example.in")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def wrapped(tmp: Path, site: str) -> Path:
    """An nginx.conf like Debian's (events, an http block including the site), with every
    file nginx writes inside `tmp`; the site's certificate paths point at a fresh one."""
    cert, key = self_signed(tmp)
    site_path = tmp / "kirana-hub.conf"
    site_path.write_text(site.replace(CERT, str(cert)).replace(KEY, str(key)))
    # As root nginx's workers would run as nobody, who cannot enter pytest's 0700 folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    main = tmp / "nginx.conf"
    main.write_text(
        f"{user}worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        f"  access_log {tmp}/access.log;\n"
        + "".join(f"  {kind}_temp_path {tmp}/{kind};\n"
                  for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + f"  include {site_path};\n}}\n")
    return main


def nginx_t(tmp: Path, site: str) -> subprocess.CompletedProcess:
    assert NGINX is not None
    main = wrapped(tmp, site)
    return subprocess.run([NGINX, "-t", "-q", "-p", f"{tmp}/", "-e", f"{tmp}/error.log",
                           "-c", str(main)], capture_output=True, text=True, timeout=30)


@needs_nginx
def test_nginx_takes_the_hub_config(tmp_path):
    done = nginx_t(tmp_path, CONF.read_text())
    assert done.returncode == 0, done.stderr


@needs_nginx
def test_a_broken_config_is_reported(tmp_path):
    site = CONF.read_text()
    broken = site.replace("keepalive 16;", "keepalive 16", 1)  # a lost semicolon
    assert broken != site
    done = nginx_t(tmp_path, broken)
    assert done.returncode != 0
    assert "kirana-hub.conf" in done.stderr and "emerg" in done.stderr, done.stderr
    unknown = site.replace("proxy_buffering off;", "proxy_bufering off;", 1)  # a typo
    done = nginx_t(tmp_path, unknown)
    assert done.returncode != 0 and "proxy_bufering" in done.stderr, done.stderr


# ---- what nginx -t cannot see -----------------------------------------------------------


def proxy_mistakes(site: str) -> list[str]:
    """Mistakes that leave a valid config that breaks the hub."""
    found = []
    server = site[site.index("listen 443"):]
    for header in ("Upgrade $http_upgrade", "Connection $kirana_connection",
                   "X-Forwarded-For $remote_addr", "X-Forwarded-Proto $scheme"):
        if f"proxy_set_header {header};" not in server:
            found.append(f"no proxy_set_header {header}")
    # A location setting a header of its own inherits none of the server's: the
    # websocket's Upgrade would silently go.
    for body in re.findall(r"location[^{]*\{([^}]*)\}", server):
        if "proxy_set_header" in body:
            found.append("a location sets its own proxy_set_header")
    sync = re.search(r"location /sync/ \{([^}]*)\}", server)
    if sync is None or not re.search(r"proxy_read_timeout (\d+)(h|m)", sync.group(1)):
        found.append("/sync/ keeps nginx's 60 s read timeout")
    return found


def test_the_config_has_what_websockets_and_the_throttle_need():
    site = CONF.read_text()
    assert proxy_mistakes(site) == []
    planted = site.replace("proxy_buffering off;",
                           "proxy_buffering off;\n        proxy_set_header X-Real-IP $remote_addr;")
    assert proxy_mistakes(planted) == ["a location sets its own proxy_set_header"]
    assert proxy_mistakes(site.replace("proxy_read_timeout 1h;", "", 1)) == [
        "/sync/ keeps nginx's 60 s read timeout"]


def test_deploy_md_shows_this_very_file():
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    shown = re.findall(r"```nginx\n(.*?)```", deploy, re.S)
    assert shown == [CONF.read_text()]


def test_the_upstream_ports_are_the_ones_service_install_starts():
    from app.config import parse_hub_config

    port = parse_hub_config((ROOT / "store_config" / "hub.toml").read_text()).server.port
    upstream = re.findall(r"server 127\.0\.0\.1:(\d+)", CONF.read_text())
    assert upstream == [str(port + 1), str(port + 2)]


# ---- nginx running in front of a stand-in hub ---------------------------------------------

STAND_IN = '''
import json, sys

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return
            await send({"type": "websocket.send", "text": "echo " + message["text"]})
    body = json.dumps({"path": scope["path"], "scheme": scope["scheme"],
                       "client": scope["client"][0],
                       "headers": {k.decode(): v.decode() for k, v in scope["headers"]}})
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body.encode()})

if __name__ == "__main__":
    import uvicorn
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                proxy_headers=True, forwarded_allow_ips="127.0.0.1")
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} ended: {proc.communicate()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port}")


@needs_nginx
def test_nginx_passes_the_client_https_and_websockets_to_the_hub(tmp_path):
    from websockets.sync.client import connect

    hub_port, http_port, https_port = free_port(), free_port(), free_port()
    site = CONF.read_text()
    site = re.sub(r"server 127\.0\.0\.1:\d+", f"server 127.0.0.1:{hub_port}", site)
    site = site.replace("listen [::]:80;", "").replace("listen [::]:443 ssl http2;", "")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    (tmp_path / "stand_in.py").write_text(STAND_IN)
    hub = subprocess.Popen([sys.executable, str(tmp_path / "stand_in.py"), str(hub_port)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    main = wrapped(tmp_path, site)
    assert NGINX is not None
    proxy = subprocess.Popen([NGINX, "-p", f"{tmp_path}/", "-e", f"{tmp_path}/error.log",
                              "-c", str(main), "-g", "daemon off;"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(hub_port, hub, "the stand-in hub")
        wait_for(https_port, proxy, "nginx")
        with httpx.Client(verify=False) as client:  # the throwaway certificate
            plain = client.get(f"http://127.0.0.1:{http_port}/hub/orders")
            assert plain.status_code == 301
            assert plain.headers["location"] == "https://127.0.0.1/hub/orders"
            seen = (client.get(f"https://127.0.0.1:{https_port}/hub/orders",
                                     headers={"X-Forwarded-For": "6.6.6.6"})).json()
            assert seen["path"] == "/hub/orders"
            assert seen["scheme"] == "https"  # the hub sends HSTS and secure cookies
            assert seen["client"] == "127.0.0.1"  # not the address the client claimed
            assert re.fullmatch(r"[0-9a-f]{32}", seen["headers"]["x-request-id"])
            assert "connection" not in seen["headers"]  # kept alive, not "close"
            for path in ("/metrics", "/metrics/", "/metrics//", "/metrics%2F"):
                metrics = client.get(f"https://127.0.0.1:{https_port}{path}")
                assert metrics.status_code == 403 and "path" not in metrics.text, path
        tls = ssl.create_default_context()
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
        with connect(f"wss://127.0.0.1:{https_port}/sync/v1", ssl=tls) as link:
            link.send("hello S1")
            assert link.recv(timeout=10) == "echo hello S1"
    finally:
        for proc in (proxy, hub):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    log = (tmp_path / "access.log").read_text()
    assert "GET /sync/v1" in log and " 101 " in log  # the upgrade, in nginx's own log
