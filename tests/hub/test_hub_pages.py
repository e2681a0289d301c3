"""Hub pages and read API in-process (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io

from app.hub import catalog_log
from app.hub import service as hub
from tests.conftest import csrf_of
from tests.hub.conftest import sign_in
from tests.integration.test_security import test_every_route_declares_its_roles


async def test_every_hub_route_declares_its_roles(hub_app):
    await test_every_route_declares_its_roles(hub_app)


async def test_pages_need_a_hub_login(hub_client):
    response = await hub_client.get("/hub/catalog", follow_redirects=False)
    assert response.status_code in (302, 303)
    assert (await hub_client.get("/api/v1/stores")).status_code == 401


async def test_dashboard_api_and_catalogue_edit(hub_client, hub_db):
    await hub.add_store(hub_db, "S1", name="Indiranagar", kind="counter", lat=12.97, lon=77.64)
    await sign_in(hub_client, "Omar")  # a manager: HQ operations
    board = await hub_client.get("/")
    assert "Indiranagar" in board.text and "Offline" in board.text and "never connected" in board.text
    stores = (await hub_client.get("/api/v1/stores")).json()["stores"]
    assert stores[0]["id"] == "S1" and stores[0]["state"] == "offline"

    form = {"sku": "ghee-500", "name": "Desi Ghee 500 ml", "price": "325.50", "gst": "12",
            "unit": "piece", "barcodes": "8901234567890", "active": "on", "reorder_level": "4",
            "_csrf_token": csrf_of(hub_client)}
    saved = await hub_client.post("/hub/catalog/save", data=form)
    assert saved.status_code == 200 and "Saved" in saved.text and "GHEE-500" in saved.text
    found = await hub_client.get("/hub/catalog", params={"q": "ghee"})
    assert "Desi Ghee 500 ml" in found.text and "325.50" in found.text

    bad = await hub_client.post("/hub/catalog/save", data={**form, "price": "free"})
    assert bad.status_code == 400 and "is not an amount like 45 or 45.50" in bad.text
    assert 'value="free"' in bad.text  # what was typed is kept
    queued = await catalog_log.read(hub_db)
    assert [e.data["price_minor"] for e in queued if e.data.get("sku") == "GHEE-500"] == [32550]


async def test_catalogue_import_page_all_or_nothing(hub_client, hub_db):
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.97, lon=77.64)
    await sign_in(hub_client)
    header = "sku,name,price,gst_rate,unit,barcodes\n"
    bad = header + "A-1,Atta 5 kg,250.00,5,piece,\nB-1,,10,5,piece,\n"
    response = await hub_client.post(
        "/hub/catalog/import", files={"file": ("c.csv", bad.encode(), "text/csv")},
        data={"_csrf_token": csrf_of(hub_client)})
    assert response.status_code == 400 and "nothing was written" in response.text
    assert await catalog_log.read(hub_db) == []
    good = header + "A-1,Atta 5 kg,250.00,5,piece,\nB-1,Besan 1 kg,90,5,piece,\n"
    response = await hub_client.post(
        "/hub/catalog/import", files={"file": ("c.csv", good.encode(), "text/csv")},
        data={"_csrf_token": csrf_of(hub_client)})
    assert response.status_code == 200 and "<strong>2</strong> new" in response.text
    assert sorted(e.data["sku"] for e in await catalog_log.read(hub_db)) == [
        "A-1", "B-1"]


async def test_inventory_page_api_csv_and_sales(hub_client, hub_db):
    from tests.hub.test_hub_service import apply, edit, ev

    await hub.save_product(hub_db, edit("RICE-1KG", reorder_level=10))
    for sid in ("S1", "D2"):
        await hub.add_store(hub_db, sid, name=f"Store {sid}", kind="counter", lat=12.9, lon=77.6)
    await apply(hub_db, "S1", [ev(1, "stock.moved", {"sku": "RICE-1KG", "delta": 25})])
    await apply(hub_db, "D2", [ev(1, "stock.moved", {"sku": "RICE-1KG", "delta": 6})])
    await sign_in(hub_client)
    api = (await hub_client.get("/api/v1/inventory/rice-1kg")).json()
    assert api["total"] == {"on_hand": 31, "reserved": 0, "available": 31}
    assert [(s["store"], s["available"]) for s in api["stores"]] == [("D2", 6), ("S1", 25)]
    assert (await hub_client.get("/api/v1/inventory/NOPE")).status_code == 404
    page = await hub_client.get("/hub/inventory", params={"sku": "RICE-1KG"})
    assert "Store S1" in page.text and "Low stock" in page.text
    assert 'id="low-stock"' in page.text  # D2 has 6, reorder at 10
    exported = await hub_client.get("/hub/inventory.csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {(r["store"], r["on_hand"]) for r in rows} == {("S1", "25"), ("D2", "6")}
    assert "attachment" in exported.headers["content-disposition"]
    sales = await hub_client.get("/hub/sales", params={"day": "not-a-day"})
    assert sales.status_code == 200 and "Store D2" in sales.text
