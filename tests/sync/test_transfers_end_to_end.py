"""A transfer from S1 to D2 through a real hub (SQLite and PostgreSQL) and two real
store processes (issue #17), over a proxy that doubles every events frame and cuts the
links mid-way: S1 asks, HQ approves on its page, S1 picks and sends (stock leaves S1
batch by batch), the hub shows it in transit, D2 hears what is on its way and receives
it into the same batches. Exactly once: nothing is applied twice, however often the
frames came or the links were cut."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.core.clock import utcnow
from app.core.db import Database
from app.hub import service as hubsvc
from app.hub.db import open_hub_database
from app.hub.models import HubOutbox, HubStockLevel, HubTransfer
from app.stock import service as stock
from app.stock import transfers
from app.stock.transfer_rules import Line
from tests.sync.fault_proxy import FaultProxy
from tests.sync.harness import Hub, make_store

pytestmark = pytest.mark.timeout(300)
SOON = utcnow().date() + timedelta(days=5)
LATER = utcnow().date() + timedelta(days=40)


async def until(predicate, what: str, within: float = 45.0):
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        last = await predicate()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"waited {within} s for {what} (last: {last!r})")


async def test_s1_to_d2_through_the_hub_with_doubled_frames_and_cut_links(
        hub: Hub, tmp_path, migrated_template) -> None:
    hub_db = open_hub_database(hub.database_url)
    proxy = FaultProxy(hub.proc.port, seed=17).start()
    stores = {}
    dbs: dict[str, Database] = {}
    client = None
    try:
        for sku in ("MILK", "SALT"):
            await hubsvc.save_product(hub_db, hubsvc.ProductEdit(
                sku=sku, name=f"Item {sku}", price_minor=3000, gst_rate_bp=500))
        for sid, kind in (("S1", "counter"), ("D2", "darkstore")):
            token = await asyncio.to_thread(hub.add_store, sid, kind)
            store = make_store(tmp_path / sid, sid, proxy.ws_url, token, migrated_template,
                               kind)
            stores[sid] = store
            dbs[sid] = Database(store.db_path)
            await stock.load_bins_csv(dbs[sid], "code,zone,aisle,shelf,pick_seq\n"
                                                "A-01,A,1,1,1\nB-01,B,1,2,2\n")
            await asyncio.to_thread(store.proc.start, 60)
        s1, d2 = dbs["S1"], dbs["D2"]
        for sid, store in stores.items():
            await until(lambda st=store: asyncio.sleep(0, st.sql(
                "SELECT count(*) FROM products")[0][0] == 2), f"{sid}'s catalogue")
        pid = stores["S1"].sql("SELECT id FROM products WHERE sku = 'MILK'")[0][0]
        salt = stores["S1"].sql("SELECT id FROM products WHERE sku = 'SALT'")[0][0]
        await stock.receive(s1, product_id=pid, bin_code="A-01", quantity=6, user_id=None,
                            batch="B1", expiry=SOON)
        await stock.receive(s1, product_id=pid, bin_code="B-01", quantity=10, user_id=None,
                            batch="B2", expiry=LATER)
        await stock.receive(s1, product_id=salt, bin_code="A-01", quantity=20, user_id=None)

        proxy.set_faults(duplicate=1.0)  # every events, ack and resend frame twice
        t = await transfers.request_transfer(s1, "S1", source="S1", dest="D2",
                                             lines=[Line("MILK", 8), Line("SALT", 5)])

        async def hub_state() -> str | None:
            async with hub_db.read() as s:
                row = await s.get(HubTransfer, t.id, populate_existing=True)
            return row.state if row else None

        await until(lambda: _is(hub_state(), "requested"), "the request at the hub")
        client = hub.client()
        approved = hub.post(client, f"/hub/transfers/{t.id}/approve")
        assert approved.status_code in (200, 303), approved.text[:500]

        async def local_state(db: Database) -> str | None:
            try:
                return (await transfers.get_transfer(db, t.id)).transfer.state
            except transfers.NotFound:
                return None

        await until(lambda: _is(local_state(s1), "approved"), "S1 to hear the approval")
        await until(lambda: _is(local_state(d2), "approved"), "D2 to see it coming")

        await transfers.pick(s1, "S1", t.id, {"MILK": 8, "SALT": 5})
        await transfers.dispatch(s1, "S1", t.id)
        assert proxy.cut_all() >= 1  # both links cut as the van leaves
        await until(lambda: _is(hub_state(), "dispatched"), "the dispatch at the hub")
        page = client.get("/hub/transfers")
        assert 'id="in-transit"' in page.text and "S1-T00001" in page.text
        await until(lambda: _is(local_state(d2), "dispatched"), "D2 to hear what is coming")
        view = await transfers.get_transfer(d2, t.id)
        assert sorted((p.sku, p.batch, p.expiry, p.quantity) for p in view.parts) == [
            ("MILK", "B1", SOON, 6), ("MILK", "B2", LATER, 2), ("SALT", "", None, 5)]

        proxy.cut_all()
        await transfers.receive(d2, "D2", t.id, {"MILK": 8, "SALT": 4}, {"SALT": "damaged"})
        await until(lambda: _is(hub_state(), "received"), "the receipt at the hub")
        assert "Nothing is on the road" in client.get("/hub/transfers").text

        # Exactly once, at every node, however often the frames came.
        d2_batches = stores["D2"].sql(
            "SELECT p.sku, l.batch, l.on_hand FROM stock_levels l JOIN products p "
            "ON p.id = l.product_id WHERE l.on_hand <> 0 ORDER BY 1, 2")
        assert d2_batches == [("MILK", "B1", 6), ("MILK", "B2", 2), ("SALT", "", 4)]
        assert stores["D2"].sql("SELECT count(*) FROM sync_inbox "
                                "WHERE kind = 'transfer.incoming'") == [(1,)]
        async with hub_db.read() as s:
            incoming = list(await s.scalars(select(HubOutbox.seq).where(
                HubOutbox.store_id == "D2", HubOutbox.kind == "transfer.incoming")))
            assert len(incoming) == 1

        async def hub_levels() -> dict:
            async with hub_db.read() as s:
                rows = await s.scalars(select(HubStockLevel).execution_options(
                    populate_existing=True))
                return {(r.store_id, r.sku): r.on_hand for r in rows}

        want = {("S1", "MILK"): 8, ("S1", "SALT"): 15, ("D2", "MILK"): 8, ("D2", "SALT"): 4}
        await until(lambda: _is(hub_levels(), want), "the hub's stock to equal the stores'")
        assert proxy.stats.duplicates > 0 and proxy.stats.connections >= 4  # reconnected
    finally:
        if client is not None:
            client.close()
        for store in stores.values():
            store.proc.stop()
        for db in dbs.values():
            await db.dispose()
        proxy.stop()
        await hub_db.dispose()


async def _is(awaitable, want) -> bool:
    return (await awaitable) == want
