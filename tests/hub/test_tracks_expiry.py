"""'Tracks expiry' through the hub's catalogue (issue #17): the product form, the CSV
import and export, the `product.upserted` event and a store applying it. Hub on SQLite
and PostgreSQL, store on its own SQLite file."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from app.catalog.models import Product
from app.hub import catalog_log
from app.hub import service as hub
from tests.conftest import csrf_of
from tests.hub.conftest import sign_in
from tests.hub.test_catalog_events import deliver, edit


async def _hub_flag(hub_db, sku: str) -> bool:
    async with hub_db.read() as s:
        return (await s.scalar(select(Product.tracks_expiry).where(Product.sku == sku))) is True


async def _store_flag(db, sku: str) -> bool | None:
    async with db.read() as s:
        return await s.scalar(select(Product.tracks_expiry).where(Product.sku == sku))


async def test_the_event_carries_it_and_the_store_applies_it(hub_db, db, cfg):
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.9, lon=77.6)
    await hub.save_product(hub_db, edit("MILK-500", tracks_expiry=True))
    await hub.save_product(hub_db, edit("SALT-1KG"))
    queued = {e.data["sku"]: e.data for e in await catalog_log.read(hub_db)
              if e.kind == "product.upserted"}
    assert queued["MILK-500"]["tracks_expiry"] is True
    assert queued["SALT-1KG"]["tracks_expiry"] is False
    await deliver(hub_db, db, cfg)
    assert (await _store_flag(db, "MILK-500"), await _store_flag(db, "SALT-1KG")) == (True, False)

    # Turned off at the hub: the store follows.
    await hub.save_product(hub_db, edit("MILK-500", tracks_expiry=False))
    await deliver(hub_db, db, cfg)
    assert await _store_flag(db, "MILK-500") is False


async def test_a_store_added_later_gets_the_flag(hub_db, db, cfg):
    await hub.save_product(hub_db, edit("CURD-400", tracks_expiry=True))
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.9, lon=77.6)
    await deliver(hub_db, db, cfg)
    assert await _store_flag(db, "CURD-400") is True


async def test_the_product_form_sets_and_clears_it(hub_client, hub_db):
    await sign_in(hub_client, "Omar")
    form = {"sku": "bread-400", "name": "Bread 400 g", "price": "45", "gst": "0",
            "unit": "piece", "active": "on", "tracks_expiry": "on",
            "_csrf_token": csrf_of(hub_client)}
    saved = await hub_client.post("/hub/catalog/save", data=form)
    assert saved.status_code == 200 and "Saved" in saved.text
    assert await _hub_flag(hub_db, "BREAD-400")
    assert 'name="tracks_expiry" checked' in saved.text  # the page shows it ticked

    # A refused form keeps the tick as typed, and changes nothing.
    bad = await hub_client.post("/hub/catalog/save", data={**form, "price": "free",
                                                            "tracks_expiry": ""})
    assert bad.status_code == 400 and 'name="tracks_expiry" checked' not in bad.text
    assert await _hub_flag(hub_db, "BREAD-400")

    form.pop("tracks_expiry")  # an unticked box is not sent
    cleared = await hub_client.post("/hub/catalog/save", data=form)
    assert cleared.status_code == 200 and not await _hub_flag(hub_db, "BREAD-400")
    assert 'name="tracks_expiry" checked' not in cleared.text


async def test_the_catalogue_csv_round_trips_it(hub_client, hub_db):
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.97, lon=77.64)
    await sign_in(hub_client)
    upload = ("sku,name,price,gst_rate,tracks_expiry\n"
              "MILK-1L,Milk 1 l,66,0,yes\nOIL-1L,Oil 1 l,180,5,\nPANEER-200,Paneer,90,5,no\n")
    response = await hub_client.post(
        "/hub/catalog/import", files={"file": ("c.csv", upload.encode(), "text/csv")},
        data={"_csrf_token": csrf_of(hub_client)})
    assert response.status_code == 200, response.text[:2000]
    flags = {sku: await _hub_flag(hub_db, sku) for sku in ("MILK-1L", "OIL-1L", "PANEER-200")}
    assert flags == {"MILK-1L": True, "OIL-1L": False, "PANEER-200": False}
    queued = {e.data["sku"]: e.data["tracks_expiry"]
              for e in await catalog_log.read(hub_db)}
    assert queued == flags  # the import announces it to the stores

    exported = await hub_client.get("/hub/catalog.csv")
    assert exported.status_code == 200 and "catalogue-" in exported.headers[
        "content-disposition"]
    rows = {r["sku"]: r for r in csv.DictReader(io.StringIO(exported.text, newline=""))}
    assert {sku: r["tracks_expiry"] for sku, r in rows.items()} == {
        "MILK-1L": "yes", "OIL-1L": "no", "PANEER-200": "no"}

    # The downloaded file imports back unchanged.
    again = await hub_client.post(
        "/hub/catalog/import", files={"file": ("c.csv", exported.content, "text/csv")},
        data={"_csrf_token": csrf_of(hub_client)})
    assert again.status_code == 200
    assert len(await catalog_log.read(hub_db)) == 3  # nothing new announced


async def test_a_bad_tracks_expiry_cell_refuses_the_file(hub_client, hub_db):
    await sign_in(hub_client)
    await hub.save_product(hub_db, edit("MILK-1L", tracks_expiry=True))
    upload = "sku,name,price,gst_rate,tracks_expiry\nMILK-1L,Milk 1 l,66,0,=1+1\n"
    response = await hub_client.post(
        "/hub/catalog/import", files={"file": ("c.csv", upload.encode(), "text/csv")},
        data={"_csrf_token": csrf_of(hub_client)})
    assert response.status_code == 400 and "tracks_expiry" in response.text
    assert "must be yes or no" in response.text
    assert await _hub_flag(hub_db, "MILK-1L")


async def test_the_catalogue_download_needs_a_manager(hub_client):
    response = await hub_client.get("/hub/catalog.csv", follow_redirects=False)
    assert response.status_code in (302, 303, 401)
