"""A store's database restored from last night's backup, with real processes (hub on
SQLite and on PostgreSQL): the hub refuses it (4409), an admin accepts it, and then the
hub's stock for the store equals the store's (routing uses the corrected figure) and the
store's next receipt number is past every number the hub already has from it."""

from __future__ import annotations

import re
import secrets
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.config import load_config
from app.core.auth import StaffUser, create_user
from app.core.db import Database
from app.pos import cart, payment, shifts
from app.stock import service as stock
from tests.sync.harness import Hub, Store, kirana, make_store, wait_for
from tests.sync.test_end_to_end import close_all, ean13, hub_inventory, save_product

pytestmark = pytest.mark.timeout(300)
KORAMANGALA = (12.9352, 77.6245)


def backup(src: Path, dst: Path) -> None:
    """What a nightly backup does: SQLite's online backup of the live file."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()


def restore(store: Store, copy: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store.db_path}{suffix}").unlink(missing_ok=True)
    shutil.copy(copy, store.db_path)


def backup_by_command(store: Store, folder: Path) -> Path:
    """`kirana backup` into `folder`: the file it made."""
    kirana("backup", "--config", str(store.config), "--to", str(folder))
    made = sorted(folder.glob("kirana-S1-*.db"))
    assert len(made) == 1, made
    return made[0]


def restore_by_command(store: Store, copy: Path) -> None:
    said = kirana("restore", "--config", str(store.config), str(copy), "--yes")
    assert "Accept the store's database" in said.stdout + said.stderr, said


# How the store's database is put back: by hand (files copied, the epoch is the old
# one: the hub sees the store "went back in time"), or with `kirana backup` / `kirana
# restore` (a new epoch: the hub sees "a different database").
WAYS = {"by hand": (lambda s, d: backup(s.db_path, d / "nightly.db") or d / "nightly.db",
                    restore, "went back in time"),
        "kirana commands": (backup_by_command, restore_by_command, "a different database")}


def on_hand(store: Store, sku: str) -> int:
    return store.sql("SELECT coalesce(sum(on_hand), 0) FROM stock_levels l JOIN products p "
                     "ON p.id = l.product_id WHERE p.sku = ?", (sku,))[0][0]


async def sell(db: Database, cfg, staff: StaffUser, code: str) -> str:
    view = await cart.current_cart(db, cfg, "C1", staff)
    await cart.add_scan(db, cfg, "C1", staff, view.cart.id, code, cfg.measure_rules)
    await payment.add_tender(db, cfg, "C1", view.cart.id, "upi", None)
    sale = await payment.complete_sale(db, cfg, "C1", view.cart.id, secrets.token_hex(8), staff)
    return sale.number


def place_order(channel: httpx.Client, sku: str, quantity: int) -> dict:
    return channel.post("/api/v1/orders", json={
        "channel": "webshop", "external_id": f"W-{secrets.token_hex(4)}",
        "customer": {"name": "Kavya R", "phone": "9800000000", "address": "5th Block",
                     "pincode": "560034", "lat": KORAMANGALA[0], "lon": KORAMANGALA[1]},
        "promised_by": (datetime.now(UTC) + timedelta(minutes=30)).isoformat(),
        "lines": [{"sku": sku, "quantity": quantity}]}).json()


def alert(client: httpx.Client) -> str:
    stores = {s["id"]: s for s in client.get("/api/v1/stores").json()["stores"]}
    return stores["S1"]["alert"] or ""


@pytest.mark.parametrize("way", list(WAYS))
async def test_a_restored_store_is_reconciled_after_accept(hub: Hub, tmp_path, migrated_template,
                                                           way):
    take, put_back, refused_because = WAYS[way]
    made = kirana("hub", "add-channel", "--config", str(hub.config), "webshop")
    key = re.search(r"API key.*: (\S+)", made.stdout).group(1)
    client = hub.client()
    codes = {"P-1": ean13("890100000001"), "P-2": ean13("890100000002")}
    for sku, code in codes.items():
        save_product(hub, client, sku, "45.00", code)
    token = hub.add_store("S1", lat=KORAMANGALA[0], lon=KORAMANGALA[1], pincodes="560034")
    s1 = make_store(tmp_path / "S1", "S1", hub.ws_url, token, migrated_template)
    cfg = load_config(s1.config)
    channel = httpx.Client(base_url=hub.proc.url, headers={"Authorization": f"Bearer {key}"},
                           timeout=10)
    db = s1.database()
    try:
        s1.proc.start()
        wait_for(lambda: s1.sql("SELECT count(*) FROM products") == [(2,)],
                 what="S1 to have the catalogue")
        user = await create_user(db, "Asha", "manager", "3816")
        staff = StaffUser(user.id, user.name, user.role)
        await stock.load_bins_csv(db, "code,zone,aisle,shelf,pick_seq\nA-01,A,1,1,1\n")
        pid = dict(s1.sql("SELECT sku, id FROM products"))
        await shifts.open_shift(db, cfg, "C1", staff, 0)
        await stock.receive(db, product_id=pid["P-1"], bin_code="A-01", quantity=12,
                            user_id=None)
        assert [await sell(db, cfg, staff, codes["P-1"]) for _ in range(2)] == [
            "S1-000001", "S1-000002"]
        wait_for(lambda: hub_inventory(client, "P-1") == {"S1": 10}, what="10 at the hub")

        # Last night's backup; then a day of work the hub hears about.
        (tmp_path / "backups").mkdir()
        nightly = take(s1, tmp_path / "backups")
        await stock.receive(db, product_id=pid["P-1"], bin_code="A-01", quantity=8,
                            user_id=None)
        await stock.receive(db, product_id=pid["P-2"], bin_code="A-01", quantity=5,
                            user_id=None)
        assert await sell(db, cfg, staff, codes["P-1"]) == "S1-000003"
        save_product(hub, client, "P-2", "47.00", codes["P-2"])
        wait_for(lambda: hub_inventory(client, "P-1") == {"S1": 17}
                 and hub_inventory(client, "P-2") == {"S1": 5}, what="17 and 5 at the hub")
        wait_for(lambda: s1.sql("SELECT price_minor FROM products WHERE sku='P-2'") == [(4700,)],
                 what="the new P-2 price at S1")

        # The store's disk dies; it comes back on last night's backup.
        s1.proc.stop()
        await db.dispose()
        put_back(s1, nightly)
        s1.proc.start()
        assert on_hand(s1, "P-1") == 10
        wait_for(lambda: refused_because in alert(client), what="the hub to refuse S1")
        # Still refused, the store keeps working: one more received.
        await stock.receive(db, product_id=pid["P-1"], bin_code="A-01", quantity=1,
                            user_id=None)
        assert hub_inventory(client, "P-1") == {"S1": 17}  # nothing applied while refused

        # An admin checks the store and accepts its database; the store reconnects.
        accepted = hub.post(client, "/hub/stores/S1/accept-database")
        assert accepted.status_code in (200, 303), accepted.text[:300]
        s1.proc.stop()
        s1.proc.start()
        wait_for(lambda: hub_inventory(client, "P-1") == {"S1": 11}
                 and hub_inventory(client, "P-2") == {"S1": 0}, timeout=30,
                 what="the hub's figures for S1 to equal the store's")
        assert on_hand(s1, "P-1") == 11 and on_hand(s1, "P-2") == 0
        assert alert(client) == ""
        assert s1.sql("SELECT price_minor FROM products WHERE sku='P-2'") == [(4700,)]

        # Routing uses the corrected figure: 12 is more than S1 has now (the hub thought 17).
        order = place_order(channel, "P-1", 12)
        assert order["store"] != "S1" and order["status"] != "assigned", order

        # The next receipt is past S1-000003, which the hub already has from this store.
        number = await sell(db, cfg, staff, codes["P-1"])
        assert number == "S1-000004"
        wait_for(lambda: hub_inventory(client, "P-1") == {"S1": 10}, what="the sale at the hub")
    finally:
        close_all(client, channel)
        await db.dispose()
        s1.proc.stop()
