"""Issue #23's must-hold for restores, with real processes (hub on SQLite and on
PostgreSQL): `kirana backup` taken while the till is in a rush, more sales after it, the
store's disk dies and `kirana restore` puts the backup back. Every sale the hub had
acknowledged is still at the hub exactly once (none lost, none counted twice), the store's
next receipt number is past all of them, and the hub's stock equals the store's."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy import text

from app.config import load_config
from app.core.auth import StaffUser, create_user
from app.hub.db import open_hub_database
from app.pos import shifts
from app.stock import service as stock
from tests.sync.harness import Hub, kirana, make_store, wait_for
from tests.sync.test_end_to_end import close_all, ean13, hub_inventory, save_product
from tests.sync.test_restore import KORAMANGALA, alert, on_hand, restore_by_command, sell

pytestmark = pytest.mark.timeout(300)
RUSH = 24  # sales rung up while the backup runs
AFTER = 6  # sales after the backup, which the restored database will not have


async def hub_sales(hub: Hub) -> list[str]:
    db = open_hub_database(hub.database_url)
    try:
        async with db.read() as s:
            rows = (await s.execute(text("SELECT number FROM hub_sales WHERE store_id = 'S1' "
                                         "ORDER BY number"))).all()
        return [r[0] for r in rows]
    finally:
        await db.dispose()


async def wait_hub_sales(hub: Hub, expected: list[str], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + 60
    seen: list[str] = []
    while asyncio.get_running_loop().time() < deadline:
        seen = await hub_sales(hub)
        if seen == expected:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: the hub has {seen}")


async def test_a_backup_taken_in_a_rush_restores_without_losing_or_doubling_a_sale(
        hub: Hub, tmp_path: Path, migrated_template) -> None:
    client = hub.client()
    code = ean13("890100000001")
    save_product(hub, client, "P-1", "45.00", code)
    token = hub.add_store("S1", lat=KORAMANGALA[0], lon=KORAMANGALA[1], pincodes="560034")
    s1 = make_store(tmp_path / "S1", "S1", hub.ws_url, token, migrated_template)
    cfg = load_config(s1.config)
    db = s1.database()
    folder = tmp_path / "backups"
    folder.mkdir()
    try:
        s1.proc.start()
        wait_for(lambda: s1.sql("SELECT count(*) FROM products") == [(1,)],
                 what="S1 to have the catalogue")
        user = await create_user(db, "Asha", "manager", "3816")
        staff = StaffUser(user.id, user.name, user.role)
        await stock.load_bins_csv(db, "code,zone,aisle,shelf,pick_seq\nA-01,A,1,1,1\n")
        pid = s1.sql("SELECT id FROM products WHERE sku = 'P-1'")[0][0]
        await shifts.open_shift(db, cfg, "C1", staff, 0)
        await stock.receive(db, product_id=pid, bin_code="A-01", quantity=100, user_id=None)

        # The rush: sales one after another while `kirana backup` copies the live file.
        numbers: list[str] = []

        async def rush() -> None:
            for _ in range(RUSH):
                numbers.append(await sell(db, cfg, staff, code))

        backup = asyncio.to_thread(kirana, "backup", "--config", str(s1.config),
                                   "--to", str(folder))
        await asyncio.gather(rush(), backup)
        made = sorted(folder.glob("kirana-S1-*.db"))
        assert len(made) == 1, made
        for _ in range(AFTER):
            numbers.append(await sell(db, cfg, staff, code))
        assert len(set(numbers)) == RUSH + AFTER
        await wait_hub_sales(hub, sorted(numbers), "every sale at the hub")
        wait_for(lambda: hub_inventory(client, "P-1") == {"S1": 100 - RUSH - AFTER},
                 what="the hub's stock for S1")

        # The disk dies; the store comes back on the backup, which lacks the last sales.
        s1.proc.stop()
        await db.dispose()
        restore_by_command(s1, made[0])
        in_backup = s1.sql("SELECT count(*) FROM sales")[0][0]
        assert in_backup < RUSH + AFTER  # the backup is of a moment inside the rush
        s1.proc.start()
        wait_for(lambda: "a different database" in alert(client), what="the hub to refuse S1")
        accepted = hub.post(client, "/hub/stores/S1/accept-database")
        assert accepted.status_code in (200, 303), accepted.text[:300]
        s1.proc.stop()
        s1.proc.start()
        wait_for(lambda: alert(client) == "", what="S1 accepted and linked")
        wait_for(lambda: hub_inventory(client, "P-1") == {"S1": on_hand(s1, "P-1")},
                 timeout=30, what="the hub's stock to equal the store's")

        # Nothing the hub acknowledged is lost, nothing is counted twice.
        assert await hub_sales(hub) == sorted(numbers)
        # The next receipt is past every number the hub has from this store.
        last = max(int(re.sub(r"\D", "", n)) for n in numbers)
        nxt = await sell(db, cfg, staff, code)
        assert int(re.sub(r"\D", "", nxt)) == last + 1, (nxt, last)
        await wait_hub_sales(hub, sorted([*numbers, nxt]), "the new sale at the hub, once")
    finally:
        close_all(client)
        await db.dispose()
        s1.proc.stop()
