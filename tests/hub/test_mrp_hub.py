"""MRP at the hub (issue #21), on SQLite and PostgreSQL: the product form, set_price and
the catalogue CSV refuse a price above the MRP (naming the product, both amounts and,
for the CSV, the line; nothing written, nothing sent), and the MRP the hub keeps reaches
a store in `product.upserted` and is stored there."""

from __future__ import annotations

import dataclasses
import html

import pytest
from sqlalchemy import func, select

from app.catalog.models import Product
from app.hub import catalog_log
from app.hub import service as hub
from app.sync.store_apply import apply_hub_event
from tests.conftest import csrf_of
from tests.hub.conftest import sign_in

REFUSAL = ("GHEE-500: price ₹330.00 is above its MRP ₹325.50; a product may not be sold "
           "above its MRP (lower the price or correct the MRP)")


def edit(sku: str = "GHEE-500", **kw) -> hub.ProductEdit:
    return hub.ProductEdit(**{"sku": sku, "name": "Amul Ghee 500 ml", "price_minor": 30000,
                              "gst_rate_bp": 500, "mrp_minor": 32550, **kw})


async def stored(db) -> dict[str, tuple[int, int | None]]:
    async with db.read() as s:
        return {sku: (price, mrp) for sku, price, mrp in (await s.execute(
            select(Product.sku, Product.price_minor, Product.mrp_minor))).all()}


async def test_the_service_refuses_a_price_above_the_mrp(hub_db):
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.97, lon=77.64)
    with pytest.raises(hub.HubError) as refused:
        await hub.save_product(hub_db, edit(price_minor=33000))
    assert str(refused.value) == REFUSAL
    assert await stored(hub_db) == {}
    await hub.save_product(hub_db, edit())
    sent = [e.data for e in await catalog_log.read(hub_db)]
    with pytest.raises(hub.HubError, match="GHEE-500: price ₹330.00 is above its MRP ₹325.50"):
        await hub.set_price(hub_db, "GHEE-500", 33000)
    assert await stored(hub_db) == {"GHEE-500": (30000, 32550)}  # rolled back
    assert [e.data for e in await catalog_log.read(hub_db)] == sent  # nothing sent
    await hub.set_price(hub_db, "GHEE-500", 32550)  # at the MRP is allowed
    sent += [e.data for e in await catalog_log.read(hub_db)]  # the log keeps the newest
    assert [(d["price_minor"], d["mrp_minor"]) for d in sent] == [(30000, 32550),
                                                                    (32550, 32550)]


async def _form(client, **over):
    form = {"sku": "GHEE-500", "name": "Amul Ghee 500 ml", "price": "330", "mrp": "325.50",
            "gst": "5", "unit": "piece", "reorder_level": "0", "active": "on",
            "_csrf_token": csrf_of(client)}
    form.update(over)
    return await client.post("/hub/catalog/save", data=form)


async def test_the_product_form_refuses_a_price_above_the_mrp(hub_client, hub_db):
    await sign_in(hub_client)
    refused = await _form(hub_client)
    assert refused.status_code == 400
    assert REFUSAL in html.unescape(refused.text)
    assert 'value="325.50"' in refused.text  # what was typed is kept
    assert await stored(hub_db) == {}
    saved = await _form(hub_client, price="300")
    assert saved.status_code == 200 and "Saved" in saved.text
    assert 'value="325.50"' in saved.text  # the form shows the MRP kept
    cleared = await _form(hub_client, price="330", mrp="")  # no MRP: any price
    assert cleared.status_code == 200
    assert await stored(hub_db) == {"GHEE-500": (33000, None)}


async def test_the_csv_import_checks_the_whole_file_first(hub_client, hub_db):
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.97, lon=77.64)
    await sign_in(hub_client)
    header = "sku,name,price,mrp,gst_rate,unit\n"
    bad = header + ("SALT-1KG,Tata Salt 1 kg,28,28,5,piece\n"
                    "GHEE-500,Amul Ghee 500 ml,330.00,325.50,5,piece\n")
    response = await hub_client.post(
        "/hub/catalog/import", files={"file": ("c.csv", bad.encode(), "text/csv")},
        data={"_csrf_token": csrf_of(hub_client)})
    assert response.status_code == 400 and "nothing was written" in response.text
    assert f'<td class="num">3</td><td>{REFUSAL}</td>' in html.unescape(response.text)
    assert await stored(hub_db) == {}
    assert await catalog_log.read(hub_db) == []
    good = bad.replace("330.00", "310.00")
    response = await hub_client.post(
        "/hub/catalog/import", files={"file": ("c.csv", good.encode(), "text/csv")},
        data={"_csrf_token": csrf_of(hub_client)})
    assert response.status_code == 200
    assert await stored(hub_db) == {"SALT-1KG": (2800, 2800), "GHEE-500": (31000, 32550)}
    exported = await hub_client.get("/hub/catalog.csv")
    assert "GHEE-500" in exported.text and ",310.00,325.50," in exported.text


async def test_the_hubs_mrp_reaches_the_store(hub_db, db, cfg):
    """The event the hub queues, applied by the store as its link would."""
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.97, lon=77.64)
    await hub.save_product(hub_db, edit())
    first = await catalog_log.read(hub_db)
    await hub.save_product(hub_db, dataclasses.replace(edit(), price_minor=29000,
                                                       mrp_minor=None))
    # The shared log keeps the product's newest state only (issue #24), under a new seq.
    second = await catalog_log.read(hub_db)
    assert [e.data["mrp_minor"] for e in first + second] == [32550, None]
    assert second[0].seq > first[0].seq
    events = first + second
    async with db.write() as s:
        await apply_hub_event(s, cfg, events[0])
    async with db.read() as s:
        assert (await s.execute(select(Product.price_minor, Product.mrp_minor)
                                .where(Product.sku == "GHEE-500"))).one() == (30000, 32550)
    async with db.write() as s:
        await apply_hub_event(s, cfg, events[1])
    async with db.read() as s:
        assert (await s.execute(select(Product.price_minor, Product.mrp_minor)
                                .where(Product.sku == "GHEE-500"))).one() == (29000, None)
        assert await s.scalar(select(func.count()).select_from(Product)) == 1
