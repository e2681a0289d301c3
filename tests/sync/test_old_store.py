"""The previous release's store against this hub (issue #23, "Upgrades": the hub is
upgraded first and must keep serving stores that are not upgraded yet).

The previous release is a commit from this repository's history (PREVIOUS_RELEASE, the
last commit before sync protocol 2), exported with `git archive` and run from its own
venv whose dependencies are this checkout's (a .pth line), as a real `kirana serve`
process on its own database, migrated by its own code. It speaks protocol 1 and refuses
any message field it does not know, so the link working at all shows the hub answered in
the v1 shape. Then: a sale rung on the old store reaches the hub exactly once (also after
a kill -9 and restart), a price change at the hub reaches the old store, and an event
kind the old store does not know, queued between two catalogue changes, is logged,
acknowledged and skipped without losing the known events around it. Beside it a store
of this release negotiates protocol 2 and reports its status.

The other way round (a store upgraded before its hub): this release's store against the
previous release's hub, which refuses the v2 hello; the store falls back to v1."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import sysconfig
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from app import __version__
from app.hub import service as hub_service
from app.hub.db import open_hub_database
from app.sync.protocol import HUB_TO_STORE
from tests.sync.harness import ROOT, Proc, free_port, make_hub, make_store, wait_for
from tests.sync.test_end_to_end import close_all, ean13, save_product

pytestmark = pytest.mark.timeout(180)
# "Sync protocol 2" (f43a7bb) is the first commit with it; this is the one before:
# history does not change, so the id is a constant (checked below with git rev-parse).
PREVIOUS_RELEASE = "838f1dd5a692dfeb9788a0de6147c0c2064cc849"

SELL = textwrap.dedent('''
    """Ring one sale with the OLD code (its models match its own schema)."""
    import asyncio, secrets, sys
    from app.config import load_config
    from app.core.auth import StaffUser, create_user
    from app.core.db import Database
    from app.core.secret_file import attach_pepper
    from app.pos import cart, payment, shifts
    from app.stock import service as stock

    async def main(config: str, sku: str, code: str) -> None:
        cfg = load_config(config)
        db = attach_pepper(Database(cfg.database_path), cfg.data_dir)
        user = await create_user(db, "Asha", "manager", "3816")
        staff = StaffUser(user.id, user.name, user.role)
        await stock.load_bins_csv(db, "code,zone,aisle,shelf,pick_seq\\nA-01,A,1,1,1\\n")
        async with db.read() as s:
            from sqlalchemy import select
            from app.catalog.models import Product
            pid = await s.scalar(select(Product.id).where(Product.sku == sku))
        await stock.receive(db, product_id=pid, bin_code="A-01", quantity=5, user_id=None)
        await shifts.open_shift(db, cfg, "C1", staff, 0)
        view = await cart.current_cart(db, cfg, "C1", staff)
        await cart.add_scan(db, cfg, "C1", staff, view.cart.id, code, cfg.measure_rules)
        await payment.add_tender(db, cfg, "C1", view.cart.id, "upi", None)
        sale = await payment.complete_sale(db, cfg, "C1", view.cart.id, secrets.token_hex(8),
                                           staff)
        print(sale.number)
        await db.dispose()

    asyncio.run(main(*sys.argv[1:]))
''')


class OldRelease:
    """The previous release's source and a venv to run it in."""

    def __init__(self, base: Path) -> None:
        self.src, self.venv = base / "src", base / "venv"
        self.python = self.venv / "bin" / "python"

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.src)}

    def run(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run([str(self.python), *args], cwd=cwd or self.src, env=self.env(),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start(self, proc: Proc, wait: float = 30.0) -> None:
        """Like Proc.start, but the old code from its own venv."""
        with proc.log.open("a") as fh:
            proc.popen = subprocess.Popen([str(self.python), "-m", "app.cli", *proc.args],
                                          cwd=self.src, env=self.env(), stdout=fh,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"old store exited: {proc.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{proc.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"old store did not start: {proc.log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def old_release(tmp_path_factory) -> OldRelease:
    found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet",
                            f"{PREVIOUS_RELEASE}^{{commit}}"], capture_output=True, text=True)
    if found.returncode != 0:
        shallow = subprocess.run(["git", "-C", str(ROOT), "rev-parse",
                                  "--is-shallow-repository"], capture_output=True, text=True)
        if shallow.stdout.strip() == "true":  # a CI clone without history
            pytest.skip(f"commit {PREVIOUS_RELEASE[:10]} is not in this shallow clone")
        raise AssertionError(f"commit {PREVIOUS_RELEASE} is not in this repository")
    old = OldRelease(tmp_path_factory.mktemp("previous-release"))
    old.src.mkdir()
    archive = subprocess.Popen(["git", "-C", str(ROOT), "archive", PREVIOUS_RELEASE],
                               stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(old.src)], stdin=archive.stdout, check=True)
    assert archive.wait() == 0
    assert 'PROTO = 1\n' in (old.src / "app/sync/protocol.py").read_text()  # really v1
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(old.venv)], check=True)
    site = Path(old.run("-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                        cwd=old.venv).strip())
    # Dependencies are this checkout's; the old `app` comes first from PYTHONPATH.
    (site / "kirana-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return old


def old_store(old: OldRelease, directory: Path, store_id: str, hub_ws_url: str,
              token: str) -> tuple[Proc, Path, Path]:
    """The old release's shipped config, pointed at the hub, and its own database made
    by its own migrations. Returns the process, its config and its database."""
    directory.mkdir(parents=True)
    port = free_port()
    (directory / "hub.token").write_text(token + "\n")
    text = (old.src / "store_config" / "store.toml").read_text()
    for before, after in [
            ('id = "S1"', f'id = "{store_id}"'),
            ('path = "../var/s1/store.db"', 'path = "store.db"'),
            ('data_dir = "../var/s1"', 'data_dir = "var"'),
            ('host = "0.0.0.0"', 'host = "127.0.0.1"'),
            ("port = 8000", f"port = {port}"),
            ('url = ""                       # e.g. wss://hub.example.in/sync/v1 ; '
             'empty = standalone', f'url = "{hub_ws_url}"\ntoken_file = "hub.token"')]:
        assert before in text, before
        text = text.replace(before, after)
    config = directory / "store.toml"
    config.write_text(text)
    old.run("-m", "app.cli", "db", "upgrade", "--config", str(config))
    proc = Proc(["serve", "--config", str(config)], port, directory / "store.log")
    return proc, config, directory / "store.db"


def sql(path: Path, query: str) -> list[tuple]:
    with sqlite3.connect(path, timeout=30) as conn:
        return conn.execute(query).fetchall()


async def queue_unknown_kind(hub_sqlite: str, store_id: str, monkeypatch) -> None:
    """What a newer hub would send: a kind this old store never heard of (this hub's
    enqueue allows only the kinds it knows, so the list is widened here, in-process)."""
    monkeypatch.setattr(hub_service, "HUB_TO_STORE", HUB_TO_STORE | {"store.future"})
    db = open_hub_database(hub_sqlite)
    try:
        async with db.write() as s:
            await hub_service.enqueue(s, [store_id], [("store.future", {"anything": [1, 2]})])
    finally:
        await db.dispose()


async def test_the_previous_release_store_against_this_hub(tmp_path, old_release,
                                                           migrated_template,
                                                           monkeypatch) -> None:
    hub = make_hub(tmp_path / "hub")  # SQLite: the hub's rows are read directly below
    hub.proc.start()
    client = None
    proc = new = None
    try:
        client = hub.client()
        codes = {"P-1": ean13("890100000001"), "P-2": ean13("890100000002")}
        for sku, code in codes.items():
            save_product(hub, client, sku, "45.00", code)
        token = hub.add_store("S1")
        new = make_store(tmp_path / "S2", "S2", hub.ws_url, hub.add_store("S2"),
                         migrated_template).proc
        new.start()
        proc, config, db_path = old_store(old_release, tmp_path / "S1", "S1", hub.ws_url,
                                          token)
        old_release.start(proc)
        wait_for(lambda: sql(db_path, "SELECT count(*) FROM products") == [(2,)],
                 what="the old store to receive the catalogue")
        hub_db = hub.sqlite_path
        status = "SELECT version, status_version, status_at FROM hub_stores WHERE id = 'S1'"
        assert sql(hub_db, status) == [("", None, None)]
        # This release's store beside it speaks v2 and reports its computer's status.
        wait_for(lambda: sql(hub_db, "SELECT status_version, status_clock_skew, "
                                     "status_disk_free > 0 FROM hub_stores WHERE id = 'S2'")
                 [0][:1] == (__version__,), what="S2's status at the hub")
        _v, skew, disk = sql(hub_db, "SELECT status_version, status_clock_skew, "
                                     "status_disk_free > 0 FROM hub_stores WHERE id = 'S2'")[0]
        assert abs(skew) < 5 and disk == 1

        # A sale on the old store reaches the hub once, also after a kill -9 and restart.
        number = old_release.run("-c", SELL, str(config), "P-1", codes["P-1"]).strip()
        assert number == "S1-000001"
        sales = "SELECT number FROM hub_sales WHERE store_id = 'S1'"
        wait_for(lambda: sql(hub_db, sales) == [("S1-000001",)], what="the sale at the hub")
        # Hostile: the store dies (kill -9) and the hub's cursor for it goes back to 0
        # (as after a hub restored from an older backup), so the old store resends its
        # whole outbox; the hub skips what it has by event id.
        acked = sql(hub_db, "SELECT acked_up FROM hub_stores WHERE id = 'S1'")[0][0]
        assert acked > 0
        proc.kill9()
        with sqlite3.connect(hub_db, timeout=30) as conn:
            conn.execute("UPDATE hub_stores SET acked_up = 0 WHERE id = 'S1'")
        old_release.start(proc)
        wait_for(lambda: sql(hub_db, "SELECT acked_up FROM hub_stores WHERE id = 'S1'") == [(acked,)],
                 what="the old store's resent outbox at the hub")
        assert sql(hub_db, sales) == [("S1-000001",)]
        assert sql(hub_db, "SELECT count(*) FROM hub_store_events WHERE kind = "
                           "'sale.completed'") == [(1,)]

        # A newer kind between two catalogue changes: the changes both arrive, the
        # unknown one is acknowledged and skipped (logged), nothing after it is lost.
        save_product(hub, client, "P-1", "47.00", codes["P-1"])
        await queue_unknown_kind(hub.database_url, "S1", monkeypatch)
        save_product(hub, client, "P-2", "52.50", codes["P-2"])
        wait_for(lambda: sql(db_path, "SELECT sku, price_minor FROM products ORDER BY sku")
                 == [("P-1", 4700), ("P-2", 5250)], what="both price changes at the old store")
        last = sql(hub_db, "SELECT down_seq FROM hub_stores WHERE id = 'S1'")[0][0]
        wait_for(lambda: sql(hub_db, "SELECT down_acked FROM hub_stores WHERE id = 'S1'") == [(last,)],
                 what="the old store to acknowledge everything")
        assert sql(db_path, "SELECT kind FROM sync_inbox ORDER BY seq")[-3:] == [
            ("product.upserted",), ("store.future",), ("product.upserted",)]
        assert "of kind 'store.future' is unknown here: skipped" in proc.log.read_text()

        # The hub shows the old store as linked, without a status (it speaks v1).
        board = client.get("/").text
        assert board.count("Disk, backup and clock not reported") == 1  # S1, not S2
        assert "No backup found" in board  # S2 reported: no backup taken yet
        assert "closed by the hub" not in "".join(
            r[0] for r in sql(hub_db, "SELECT detail FROM audit_log WHERE action LIKE "
                                      "'sync.down.%'"))
    finally:
        close_all(client)
        for server in (proc, new):
            if server is not None:
                server.stop()
        hub.proc.stop()


def test_this_store_against_the_previous_release_hub(tmp_path, old_release,
                                                      migrated_template) -> None:
    """A store upgraded before its hub: the old hub refuses the v2 hello (unknown field
    `proto_max`, 4400); the store says the v1 hello next and gets the catalogue."""
    hub_dir = tmp_path / "hub"
    hub_dir.mkdir()
    port = free_port()
    config = hub_dir / "hub.toml"
    config.write_text(old_release.run(
        "-c", f"from tests.sync.harness import HUB_TOML; print(HUB_TOML.format(url='', "
              f"port={port}))"))
    hub_cli = ["-m", "app.cli", "hub"]
    old_release.run(*hub_cli, "db-upgrade", "--config", str(config))
    csv = hub_dir / "catalog.csv"
    csv.write_text(f"sku,name,price,gst_rate,barcodes\nP-1,Item P-1,45.00,5,"
                   f"{ean13('890100000001')}\nP-2,Item P-2,46.00,5,{ean13('890100000002')}\n")
    old_release.run(*hub_cli, "catalog-import", "--config", str(config), str(csv))
    old_release.run(*hub_cli, "add-store", "--config", str(config), "S1", "--name", "Store S1",
                    "--kind", "counter", "--lat", "12.97", "--lon", "77.64",
                    "--token-file", str(hub_dir / "S1.token"))
    hub = Proc(["hub", "--config", str(config)], port, hub_dir / "hub.log")
    store = make_store(tmp_path / "S1", "S1", f"ws://127.0.0.1:{port}/sync/v1",
                       (hub_dir / "S1.token").read_text().strip(), migrated_template)
    try:
        old_release.start(hub)
        store.proc.start()
        wait_for(lambda: store.sql("SELECT sku, price_minor FROM products ORDER BY sku")
                 == [("P-1", 4500), ("P-2", 4600)], what="the old hub's catalogue at S1")
        said = store.proc.log.read_text()
        assert "the hub predates protocol 2" in said and "unknown field" in said
        assert said.count("the hub predates protocol 2") == 1  # v1 from then on
    finally:
        store.proc.stop()
        hub.stop()

