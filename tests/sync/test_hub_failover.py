"""Failover behind the reverse proxy (issue #24): two real hub processes on one fresh
PostgreSQL database, nginx in front of them with docs/nginx-hub.conf (its ports
rewritten to free ones, as tests/integration/test_proxy_config.py does), and a real dark
store whose hub.url is nginx's `wss://` address.

TLS: the store speaks wss to nginx with a throwaway certificate (subjectAltName
127.0.0.1); the store has no setting of its own for a CA, but its link uses Python's
default TLS context, which trusts the file in SSL_CERT_FILE, so the store process is
started with SSL_CERT_FILE pointing at that certificate (no plain-http variant).

While the store moves stock and the hub gets price changes and orders, the hub process
holding the store's link (hub_store_links.process, "host:pid") is killed with kill -9;
the store must link again through nginx to the other process within LINK_BOUND seconds,
an order taken by the survivor must reach the store, and the killed process is started
again. After quiet: every store event applied exactly once at the hub, every hub event
exactly once at the store, the shared catalogue log applied up to its head, the prices
and stock the same on both sides.

Without nginx it is skipped with a loud reason (`make system-deps` installs nginx-light);
without PostgreSQL likewise.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import re
import shutil
import ssl
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.core.db import Database
from app.hub import service as hubsvc
from app.hub.db import HubDatabase, open_hub_database
from app.stock import service as stock
from tests.integration.test_proxy_config import CERT, CONF, KEY, NGINX, needs_nginx, wrapped
from tests.integration.test_proxy_config import wait_for as wait_listening
from tests.sync.harness import HUB_TOML, Proc, free_port, kirana, make_hub, make_store, wait_for
from tests.sync.test_faults import hub_rows, is_quiet
from tests.sync.test_routing_end_to_end import KORAMANGALA, order_body

pytestmark = [pytest.mark.timeout(300), needs_nginx]

SKUS = [f"FOV-{i:02d}" for i in range(12)]
BINS = ["A-01", "A-02"]
LOAD_SECONDS = 20.0  # stock moves and price changes are spread over this long
KILL_AFTER = 6.0  # seconds into the load
LINK_BOUND = 30.0  # the store links again through nginx within this
QUIET_TIMEOUT = 60.0


def certificate_for_127(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate a TLS client checking the name accepts for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hub.example.in")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("hub.example.in"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def proxy_site(upstreams: tuple[int, int], http_port: int, https_port: int,
               cert: Path, key: Path) -> str:
    """docs/nginx-hub.conf on free ports, in front of the two hub processes."""
    site = CONF.read_text()
    ports = re.findall(r"server 127\.0\.0\.1:(\d+)", site)
    assert len(ports) == 2, ports
    for old, new in zip(ports, upstreams, strict=True):
        site = site.replace(f"server 127.0.0.1:{old} ", f"server 127.0.0.1:{new} ", 1)
    site = site.replace("listen [::]:80;", "").replace("listen [::]:443 ssl http2;", "")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    site = site.replace(CERT, str(cert)).replace(KEY, str(key))
    assert f"127.0.0.1:{upstreams[0]} " in site and f"127.0.0.1:{upstreams[1]} " in site
    return site


def start_nginx(folder: Path, main: Path) -> subprocess.Popen:
    assert NGINX is not None
    return subprocess.Popen([NGINX, "-p", f"{folder}/", "-e", f"{folder}/error.log",
                             "-c", str(main), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def tail(path: Path, chars: int = 2500) -> str:
    text = path.read_text(errors="replace") if path.exists() else "(none)"
    return f"--- {path} (last {chars} chars) ---\n{text[-chars:]}"


async def link_processes(db: HubDatabase, store_id: str) -> list[str]:
    """The processes ("host:pid") of the store's link rows, newest first (a row is
    deleted when its link closes; a killed process's row stays, gone stale)."""
    rows = await hub_rows(db, "SELECT process FROM hub_store_links WHERE store_id = :id "
                              "ORDER BY connected_at DESC", id=store_id)
    return [process for (process,) in rows]


async def figures(db: HubDatabase, store) -> dict[str, tuple]:
    """(outbox last, store acked_up, hub acked_up, hub down_seq, store applied_down,
    hub down_acked, store applied_catalog, hub catalogue-log head), as test_faults."""
    head = (await hub_rows(db, "SELECT seq FROM hub_catalog_head"))[0][0]
    last = store.sql("SELECT COALESCE(MAX(seq), 0) FROM outbox")[0][0]
    acked_up, applied_down, applied_catalog = store.sql(
        "SELECT acked_up, applied_down, applied_catalog FROM sync_state WHERE id = 1")[0]
    hub_up, down_seq, down_acked = (await hub_rows(
        db, "SELECT acked_up, down_seq, down_acked FROM hub_stores WHERE id = :id",
        id=store.id))[0]
    return {store.id: (last, acked_up, hub_up, down_seq, applied_down, down_acked,
                       applied_catalog, head)}


async def test_a_killed_hub_process_loses_nothing_and_its_store_moves_over(
        pg_url, tmp_path, migrated_template, monkeypatch) -> None:
    t0 = time.monotonic()
    notes: list[str] = []

    def note(what: str) -> None:
        line = f"{time.monotonic() - t0:6.1f}s {what}"
        notes.append(line)
        print(line, flush=True)

    # --- two hub processes on one database, run as behind a proxy -----------------------
    hub_a = make_hub(tmp_path / "a", pg_url)
    b_dir = tmp_path / "b"
    (b_dir / "var").mkdir(parents=True)
    shutil.copy(tmp_path / "a" / "var" / "secret.key", b_dir / "var" / "secret.key")
    b_port = free_port()
    (b_dir / "hub.toml").write_text(HUB_TOML.format(url=pg_url, port=b_port))
    forwarded = ["--forwarded-allow-ips", "127.0.0.1"]
    hub_a.proc.args += forwarded
    hub_b = Proc(["hub", "--config", str(b_dir / "hub.toml"), *forwarded], b_port,
                 b_dir / "hub.log")
    procs = {"a": hub_a.proc, "b": hub_b}

    # --- nginx with the shipped config in front of them ------------------------------
    http_port, https_port = free_port(), free_port()
    cert, key = certificate_for_127(tmp_path / "tls")
    nginx_dir = tmp_path / "nginx"
    nginx_dir.mkdir()
    main = wrapped(nginx_dir, proxy_site((hub_a.proc.port, b_port), http_port, https_port,
                                         cert, key))
    # The store (and this test's https client) trust the throwaway certificate.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    proxy = None
    store = None
    hub_db = open_hub_database(pg_url)
    channel = None

    def why() -> str:
        logs = [tail(p.log) for p in procs.values()]
        if store is not None:
            logs.append(tail(store.proc.log))
        logs.append(tail(nginx_dir / "error.log", 1500))
        return "\n".join(notes[-30:]) + "\n" + "\n".join(logs)

    try:
        await asyncio.gather(asyncio.to_thread(hub_a.proc.start, 60),
                             asyncio.to_thread(hub_b.start, 60))
        proxy = start_nginx(nginx_dir, main)
        await asyncio.to_thread(wait_listening, https_port, proxy, "nginx")
        pids = {name: proc.popen.pid for name, proc in procs.items() if proc.popen}
        note(f"hubs a :{hub_a.proc.port}, b :{b_port} (pids {pids}); nginx https :{https_port}")

        for i, sku in enumerate(SKUS):
            await hubsvc.save_product(hub_db, hubsvc.ProductEdit(
                sku=sku, name=f"Failover item {i}", price_minor=1000 + i, gst_rate_bp=500))
        made, token = await asyncio.gather(
            asyncio.to_thread(kirana, "hub", "add-channel", "--config", str(hub_a.config),
                              "webshop"),
            asyncio.to_thread(hub_a.add_store, "D2", kind="darkstore", lat=KORAMANGALA[0],
                              lon=KORAMANGALA[1], pincodes="560034"))
        found_key = re.search(r"API key.*: (\S+)", made.stdout)
        assert found_key, made.stdout
        api_key = found_key.group(1)
        store = make_store(tmp_path / "D2", "D2", f"wss://127.0.0.1:{https_port}/sync/v1",
                           token, migrated_template, "darkstore")
        db = Database(store.db_path)
        try:
            await stock.load_bins_csv(db, "code,zone,aisle,shelf,pick_seq\n" + "".join(
                f"{code},{code[0]},1,{n},{n}\n" for n, code in enumerate(BINS, 1)))
            await asyncio.to_thread(store.proc.start, 60)
            await asyncio.to_thread(
                wait_for, lambda: store.sql("SELECT COUNT(*) FROM products")[0][0] == len(SKUS),
                60, 0.2, "the catalogue at the store through nginx")
            ids = dict(store.sql("SELECT sku, id FROM products"))
            for sku in SKUS:  # stock for the orders to be routed to D2
                await stock.receive(db, product_id=ids[sku], bin_code=BINS[0], quantity=200,
                                    user_id=None)
        except BaseException:
            await db.dispose()
            raise
        deadline = time.monotonic() + 60
        while len(await hub_rows(hub_db, "SELECT sku FROM hub_stock_levels WHERE store_id = "
                                         "'D2' AND on_hand > 0")) < len(SKUS):
            assert time.monotonic() < deadline, f"D2's stock not at the hub\n{why()}"
            await asyncio.sleep(0.3)
        channel = httpx.Client(base_url=f"https://127.0.0.1:{https_port}", timeout=20,
                               verify=ssl.create_default_context(cafile=str(cert)),
                               headers={"Authorization": f"Bearer {api_key}"})

        async def link_now() -> str | None:
            """Which running hub process ("a"/"b") holds the store's link."""
            for process in await link_processes(hub_db, "D2"):
                pid = int(process.rsplit(":", 1)[1])
                for name, proc in procs.items():
                    if proc.popen is not None and proc.popen.pid == pid and \
                            proc.popen.poll() is None:
                        return name
            return None

        deadline = time.monotonic() + 30
        while (victim := await link_now()) is None:
            assert time.monotonic() < deadline, f"no link row for D2\n{why()}"
            await asyncio.sleep(0.2)
        survivor = "b" if victim == "a" else "a"
        note(f"D2's link is held by hub {victim}; it will be killed")

        def post_order(base: str, ext: str) -> dict:
            response = channel.post(f"{base}/api/v1/orders",
                                    json=order_body(ext, random.choice(SKUS)))
            assert response.status_code == 201, f"{ext}: {response.text}\n{why()}"
            return response.json()

        # An order through nginx before the kill (either process may take it).
        first = await asyncio.to_thread(post_order, "", "F-1")
        assert first["store"] == "D2", first

        rng = random.Random(24)
        made_moves = [0]
        made_prices = [0]
        reconnect: dict[str, float] = {}
        order_after: dict[str, dict] = {}

        async def stock_moves(count: int = 240) -> None:
            start = time.monotonic()
            for done in range(count):
                product_id, bin_code = ids[rng.choice(SKUS)], rng.choice(BINS)
                if rng.random() < 0.6:
                    await stock.receive(db, product_id=product_id, bin_code=bin_code,
                                        quantity=rng.randint(1, 12), user_id=None)
                else:
                    await stock.adjust(db, product_id=product_id, bin_code=bin_code,
                                       reason=rng.choice(["damaged", "found"]),
                                       quantity=rng.randint(1, 3), user_id=None)
                made_moves[0] += 1
                await asyncio.sleep(max(0.0, start + (done + 1) * LOAD_SECONDS / count
                                        - time.monotonic()))

        async def price_changes(count: int = 80) -> None:
            start = time.monotonic()
            for done in range(count):
                await hubsvc.set_price(hub_db, rng.choice(SKUS), rng.randint(500, 9_999))
                made_prices[0] += 1
                await asyncio.sleep(max(0.0, start + (done + 1) * LOAD_SECONDS / count
                                        - time.monotonic()))

        async def kill_and_restart() -> None:
            await asyncio.sleep(KILL_AFTER)
            started = time.monotonic()
            await asyncio.to_thread(procs[victim].kill9)
            note(f"kill -9 hub {victim} (moves {made_moves[0]}, prices {made_prices[0]})")
            while await link_now() != survivor:
                assert time.monotonic() - started < LINK_BOUND, (
                    f"D2 did not link again through nginx to hub {survivor} within "
                    f"{LINK_BOUND} s\n{why()}")
                await asyncio.sleep(0.1)
            reconnect["seconds"] = time.monotonic() - started
            note(f"D2 linked to hub {survivor} after {reconnect['seconds']:.1f} s")
            # An order taken by the process that survived, while the other is down.
            order_after["order"] = await asyncio.to_thread(
                post_order, procs[survivor].url, "F-2")
            note(f"order F-2 taken by hub {survivor}: {order_after['order']['store']}")
            await asyncio.to_thread(procs[victim].start, 60)
            note(f"hub {victim} started again")

        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(stock_moves())
                tasks.create_task(price_changes())
                tasks.create_task(kill_and_restart())
        except BaseExceptionGroup as group:
            raise group.exceptions[0] from None
        finally:
            await db.dispose()
        note(f"load done: {made_moves[0]} stock moves, {made_prices[0]} price changes")
        assert reconnect["seconds"] < LINK_BOUND
        assert order_after["order"]["store"] == "D2", order_after

        # An order through nginx after the restart, whichever process takes it.
        last = await asyncio.to_thread(post_order, "", "F-3")
        assert last["store"] == "D2", last

        # --- after quiet ---------------------------------------------------------------
        deadline = time.monotonic() + QUIET_TIMEOUT
        while not is_quiet(seen := await figures(hub_db, store)):
            assert time.monotonic() < deadline, (
                f"no quiet after {QUIET_TIMEOUT} s: (outbox last, store acked_up, hub "
                f"acked_up, hub down_seq, store applied_down, hub down_acked, store "
                f"applied_catalog, hub catalogue head) = {seen}\n{why()}")
            await asyncio.sleep(0.5)
        note(f"quiet: {seen}")

        # Every store event applied exactly once at the hub (same seqs, same ids).
        sent = store.sql("SELECT seq, id FROM outbox ORDER BY seq")
        applied = await hub_rows(hub_db, "SELECT seq, id FROM hub_store_events "
                                         "WHERE store_id = 'D2' ORDER BY seq")
        assert len(sent) >= made_moves[0] + 12, (len(sent), made_moves[0])
        assert len(applied) == len(sent), (
            f"the store wrote {len(sent)} events, the hub applied {len(applied)}\n{why()}")
        assert applied == sent, f"seqs or ids differ\n{why()}"
        # Every hub event exactly once at the store.
        hub_made = await hub_rows(hub_db, "SELECT seq, id FROM hub_outbox "
                                          "WHERE store_id = 'D2' ORDER BY seq")
        inbox = store.sql("SELECT seq, id FROM sync_inbox ORDER BY seq")
        assert inbox == hub_made, (
            f"the hub made {len(hub_made)} events for D2, it applied {len(inbox)}\n{why()}")
        # The catalogue log up to its head, the prices and stock the same.
        head = (await hub_rows(hub_db, "SELECT seq FROM hub_catalog_head"))[0][0]
        assert store.sql("SELECT applied_catalog FROM sync_state")[0][0] == head
        hub_prices = dict(await hub_rows(hub_db, "SELECT sku, price_minor FROM products"))
        assert dict(store.sql("SELECT sku, price_minor FROM products")) == hub_prices, why()
        at_hub = dict(await hub_rows(hub_db, "SELECT sku, on_hand FROM hub_stock_levels "
                                             "WHERE store_id = 'D2'"))
        at_store = dict(store.sql(
            "SELECT p.sku, SUM(l.on_hand) FROM stock_levels l JOIN products p "
            "ON p.id = l.product_id GROUP BY p.sku"))
        assert at_hub == at_store, f"(hub, store) on hand differ\n{why()}"
        # The orders reached the store once each, the survivor's among them.
        for ext in ("F-1", "F-2", "F-3"):
            await asyncio.to_thread(
                wait_for, lambda e=ext: store.sql(
                    "SELECT COUNT(*) FROM orders WHERE external_id = ?", (e,)) == [(1,)],
                20, 0.2, f"order {ext} at D2")
        wait_for(lambda: channel.get(f"/api/v1/orders/{order_after['order']['id']}")
                 .json()["status"] == "accepted", 20, 0.2, "D2's accept of F-2 at the hub")
        note(f"passed in {time.monotonic() - t0:.0f} s")
    finally:
        if channel is not None:
            channel.close()
        if store is not None:
            store.proc.stop()
        for proc in procs.values():
            proc.stop()
        if proxy is not None:
            proxy.terminate()
            try:
                proxy.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proxy.kill()
                proxy.wait()
        with contextlib.suppress(Exception):
            await hub_db.dispose()
