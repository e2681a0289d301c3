"""A hub and two real stores (processes on 127.0.0.1), hub on SQLite and on PostgreSQL:
catalogue push, a price change reaching the till, stock reaching the hub, the link badge,
and a store that keeps working while the hub is down."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from app.core.auth import create_api_key, create_user
from app.core.db import Database
from app.stock import service as stock
from tests.sync.harness import Hub, make_store, wait_for

pytestmark = pytest.mark.timeout(240)


def ean13(body: str) -> str:
    digits = [int(c) for c in body]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return body + str(check)


def hub_inventory(client: httpx.Client, sku: str) -> dict:
    response = client.get(f"/api/v1/inventory/{sku}")
    return {s["store"]: s["on_hand"] for s in response.json()["stores"]} if response.is_success else {}


def store_page(store, pin: str = "4726") -> str:
    client = httpx.Client(base_url=store.proc.url, timeout=10)
    try:
        page = client.get("/login").text
        user_id = re.search(r'name="user_id" value="([^"]+)"', page).group(1)
        client.post("/login", data={"user_id": user_id, "pin": pin, "next": "/",
                                    "_csrf_token": client.cookies.get("csrftoken", "")})
        return client.get("/").text
    finally:
        client.close()


def save_product(hub: Hub, client: httpx.Client, sku: str, price: str, code: str,
                 active: bool = True, mrp: str = "") -> None:
    data = {"sku": sku, "name": f"Item {sku}", "price": price, "gst": "5", "unit": "piece",
            "barcodes": code, "reorder_level": "2", "mrp": mrp}
    if active:
        data["active"] = "on"
    response = hub.post(client, "/hub/catalog/save", data)
    assert response.status_code in (200, 303), response.text[:500]


def close_all(*clients: httpx.Client | None) -> None:
    for c in clients:
        if c is not None:
            c.close()


async def test_hub_and_two_stores(hub: Hub, tmp_path, migrated_template) -> None:
    client = hub.client()
    codes = {f"P-{i}": ean13(f"890100000{i:03d}") for i in range(4)}
    for sku, code in codes.items():
        save_product(hub, client, sku, "45.00", code)
    stores = {}
    for store_id, kind in (("S1", "counter"), ("D2", "darkstore")):
        token = hub.add_store(store_id, kind=kind)
        stores[store_id] = make_store(tmp_path / store_id, store_id, hub.ws_url, token,
                                      migrated_template, kind)
    s1, d2 = stores["S1"], stores["D2"]
    till = None
    try:
        for store in stores.values():
            store.proc.start()
            wait_for(lambda st=store: st.sql("SELECT count(*) FROM products")[0][0] == 4,
                     what=f"{store.id} to receive the catalogue")
        db1 = s1.database()
        _key, api_key = await create_api_key(db1, "till-check", "catalog:read")
        await create_user(db1, "Meena", "manager", "4726")
        till = httpx.Client(base_url=s1.proc.url, headers={"Authorization": f"Bearer {api_key}"})

        # A price change at the hub reaches the till (scanned by barcode), its MRP too.
        started = time.monotonic()
        save_product(hub, client, "P-1", "52.50", codes["P-1"], mrp="55.00")
        wait_for(lambda: {k: till.get(f"/api/v1/scan/{codes['P-1']}").json()
                          .get("product", {}).get(k) for k in ("price_minor", "mrp_minor")}
                 == {"price_minor": 5250, "mrp_minor": 5500}, timeout=15,
                 what="the new price and MRP at the till")
        print(f"price change reached the till in {time.monotonic() - started:.2f} s")
        # Retiring a product retires it at every store.
        save_product(hub, client, "P-3", "45.00", codes["P-3"], active=False)
        wait_for(lambda: d2.sql("SELECT active FROM products WHERE sku='P-3'") == [(0,)],
                 what="P-3 retired at D2")

        # Stock received at the stores shows in the hub's central view.
        await stock.load_bins_csv(db1, "code,zone,aisle,shelf,pick_seq\nA-01,A,1,1,1\n")
        p1 = s1.sql("SELECT id FROM products WHERE sku='P-1'")[0][0]
        await stock.receive(db1, product_id=p1, bin_code="A-01", quantity=12, user_id=None)
        db2 = Database(d2.db_path)
        await stock.load_bins_csv(db2, "code,zone,aisle,shelf,pick_seq\nB-01,B,1,1,1\n")
        p1_d2 = d2.sql("SELECT id FROM products WHERE sku='P-1'")[0][0]
        await stock.receive(db2, product_id=p1_d2, bin_code="B-01", quantity=5, user_id=None)
        wait_for(lambda: hub_inventory(client, "P-1") == {"S1": 12, "D2": 5},
                 what="both stores' stock at the hub")
        assert "Hub: online" in store_page(s1)

        # The hub goes away: the store keeps working and says so; nothing is lost.
        hub.proc.kill9()
        await stock.receive(db1, product_id=p1, bin_code="A-01", quantity=3, user_id=None)
        await stock.adjust(db1, product_id=p1, bin_code="A-01", reason="damaged", quantity=1,
                           user_id=None)
        wait_for(lambda: re.search(r"Hub: offline since \d\d:\d\d · 2 to send", store_page(s1)),
                 what="the offline badge with the 2 events waiting")
        hub.proc.start()
        client.close()
        client = hub.client()
        expected = s1.sql("SELECT sum(on_hand) FROM stock_levels l JOIN products p "
                          "ON p.id = l.product_id WHERE p.sku = 'P-1'")[0][0]
        wait_for(lambda: hub_inventory(client, "P-1").get("S1") == expected,
                 what="the hub to catch up after its restart")
        health = {s["id"]: s for s in client.get("/api/v1/stores").json()["stores"]}
        wait_for(lambda: all(s["state"] in ("online", "syncing") for s in
                             client.get("/api/v1/stores").json()["stores"]),
                 what="both stores online again")
        assert health["S1"]["version"].startswith("kirana-store/")
    finally:
        close_all(client, till)
        for store in stores.values():
            store.proc.stop()
