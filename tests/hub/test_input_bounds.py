"""Bad input at the hub is refused with a clear 4xx before it reaches the database, on
SQLite and on PostgreSQL (issue #13 items 12 and 13). Each case was a 500 before."""

from __future__ import annotations

import html
import json

import pytest
from sqlalchemy import select

from app.catalog.models import Product
from app.hub import order_reads, webhooks
from tests.conftest import csrf_of
from tests.hub.conftest import sign_in
from tests.hub.test_order_pages import body
from tests.hub.test_routing import setup_stores


async def _product_form(client, **over):
    form = {"sku": "BIG-1", "name": "Basmati", "price": "120", "gst": "5", "unit": "piece",
            "reorder_level": "0", "_csrf_token": csrf_of(client)}
    form.update(over)
    return await client.post("/hub/catalog/save", data=form)


@pytest.mark.parametrize(("field", "value", "says"), [
    ("price", "inf", "'inf' is not an amount"),
    ("price", "1e30", "'1e30' is not an amount"),
    ("price", "90000000000000000", "is more than ₹10,00,00,000"),
    ("price", "20000000", "more than zero and at most ₹1,00,00,000"),
    ("gst", "inf", "GST rate 'inf' is not a number"),
    ("gst", "nan", "GST rate 'nan' is not a number"),
    ("reorder_level", "99999999999999999999999", "must be a whole number up to 1,00,00,000"),
    ("name", "Bas\x00mati", "name: contains a NUL character"),
    ("hsn", "1" * 20_000, "hsn: longer than 10000 characters"),
])
async def test_product_form_refuses_what_would_overflow_or_poison_the_database(
        hub_client, hub_db, field, value, says):
    await sign_in(hub_client)
    response = await _product_form(hub_client, **{field: value})
    assert response.status_code == 400, response.text[-500:]
    assert says in html.unescape(response.text)
    async with hub_db.read() as s:
        assert await s.scalar(select(Product).where(Product.sku == "BIG-1")) is None
    assert (await _product_form(hub_client)).status_code == 200  # followed to the saved page


@pytest.fixture
async def channel(hub_client, hub_db) -> dict:
    await setup_stores(hub_db, {"S1": 5})
    key, _secret = await webhooks.add_channel(hub_db, "webshop")
    return {"Authorization": f"Bearer {key}"}


async def test_order_api_is_strict_and_bounded(hub_client, channel):
    cases = [
        (body("W-1", lines=[{"sku": "RICE", "quantity": 1, "price_minor": 2**63}]), 400,
         "lines[0].price_minor: expected int <= 10000000000"),
        (body("W-2", lines=[{"sku": "RICE", "quantity": "2"}]), 400,
         "lines[0].quantity: expected int, got str"),
        (body("W-3", notes="a\x00b"), 400, "notes: contains a NUL character"),
        (body("W-4", customer={"name": "K", "phone": "9800000000", "address": "x",
                               "pincode": "560038", "lat": "12.93"}), 400,
         "customer.lat: expected float | null, got str"),
    ]
    for data, status, says in cases:
        response = await hub_client.post("/api/v1/orders", content=json.dumps(data),
                                         headers={**channel, "content-type": "application/json"})
        assert (response.status_code, response.json()["detail"][:len(says)]) == (status, says)
    for content, ctype, status, says in [
            ("[" * 1000 + "]" * 1000, "application/json", 400, "request body nests deeper"),
            ("", "application/json", 400, "request body is empty: send a JSON object like {"),
            (json.dumps(body("W-5")), "text/plain", 415, "send the body as JSON")]:
        response = await hub_client.post("/api/v1/orders", content=content,
                                         headers={**channel, "content-type": ctype})
        assert (response.status_code, response.json()["detail"][:len(says)]) == (status, says)
    made = await hub_client.post("/api/v1/orders", json=body("W-6"), headers=channel)
    assert made.status_code == 201 and made.json()["number"].endswith("1")  # nothing before


def _upload_csv(rows: str) -> bytes:
    return ("external_id,customer_name,phone,address,pincode,lat,lon,promised_by,sku,quantity,"
            "price\n" + rows).encode()


async def test_order_upload_refuses_inf_prices_and_huge_fields(hub_client, channel):
    from datetime import timedelta

    from app.core.clock import utcnow

    when = (utcnow() + timedelta(hours=2)).isoformat()
    await sign_in(hub_client)
    text = _upload_csv(
        f"U-1,Cafe,9800000001,MG Road,560038,12.97,77.64,{when},RICE,1,inf\n"
        f"U-2,Cafe,9800000001,MG Road,560038,12.97,77.64,{when},RICE,1,1e400\n"
        f"U-3,Cafe,9800000001,MG Road,560038,nan,77.64,{when},RICE,1,10\n"
        f"U-4,{'x' * 200},9800000001,MG Road,560038,12.97,77.64,{when},RICE,1,10\n"
        f"U-5,Cafe,9800000001,MG Road,560038,12.97,77.64,{when},RICE,99999999999,10\n"
        f"U-6,Cafe,9800000001,MG Road,560038,12.97,77.64,{when},RICE,1,10\n"
        f'U-7,"{"y" * 140_000}",9800000001,MG Road,560038,,,{when},RICE,1,10\n')
    response = await hub_client.post(
        "/hub/orders-upload", data={"channel": "b2b", "_csrf_token": csrf_of(hub_client)},
        files={"file": ("orders.csv", text, "text/csv")})
    assert response.status_code == 200, response.text[-800:]
    page = html.unescape(response.text)
    assert "order U-1: price: 'inf' is not an amount" in page
    assert "order U-2: price: '1e400' is not an amount" in page
    assert "order U-3: 'nan' is not a map coordinate" in page
    assert "order U-4: customer.name: Expected str of length <= 80" in page
    assert "order U-5: quantity '99999999999' must be a whole number" in page
    assert '"num">8</td><td>a field is longer than 128 KiB' in page
    assert page.count("at S1") == 1  # U-6 only


async def test_catalogue_import_names_the_line_of_a_huge_field(hub_client):
    await sign_in(hub_client)
    text = f'sku,name,price,gst_rate\nA1,Atta,10,5\nA2,"{"x" * 140_000}",10,5\n'.encode()
    response = await hub_client.post("/hub/catalog/import",
                                     data={"_csrf_token": csrf_of(hub_client)},
                                     files={"file": ("c.csv", text, "text/csv")})
    assert response.status_code == 400, response.text[-500:]
    assert '"num">3</td><td>a field is longer than 128 KiB' in response.text


@pytest.mark.parametrize("radius", ["nan", "inf", "-inf", "1e400", "1000"])
async def test_routing_radius_must_be_a_finite_distance(hub_client, hub_db, hub_cfg, radius):
    await sign_in(hub_client)
    response = await hub_client.post("/hub/rules", data={
        "criterion1": "distance", "radius_km": radius, "safety_stock": "0",
        "orders_per_picker": "3", "_csrf_token": csrf_of(hub_client)})
    assert response.status_code == 400 and "Not saved" in response.text
    async with hub_db.read() as s:
        assert (await order_reads.current_rules(s, hub_cfg)).radius_km == hub_cfg.routing.radius_km


async def test_accept_database_for_an_unknown_store_is_a_404(hub_client):
    await sign_in(hub_client)
    response = await hub_client.post("/hub/stores/NOPE/accept-database",
                                      data={"_csrf_token": csrf_of(hub_client)})
    assert response.status_code == 404 and "no store NOPE" in response.text
    long = await hub_client.post("/hub/stores/" + "S" * 300 + "/accept-database",
                                 data={"_csrf_token": csrf_of(hub_client)})
    assert long.status_code == 404


async def test_nul_bytes_in_paths_and_queries_are_refused(hub_client):
    await sign_in(hub_client)
    assert (await hub_client.get("/hub/orders/abc%00")).status_code == 404
    assert (await hub_client.get("/hub/orders?store=S1%00")).status_code == 400
    assert (await hub_client.get("/static/css/app.css%00.js")).status_code == 404


async def test_a_long_device_cookie_does_not_stop_sign_in(hub_client):
    hub_client.cookies.set("kirana_device", "d" * 500)
    await sign_in(hub_client)
    assert (await hub_client.get("/hub/orders")).status_code == 200


async def test_a_nul_byte_in_an_uploaded_csv_is_refused(hub_client, hub_db):
    await sign_in(hub_client)
    text = b"sku,name,price,gst_rate\nA1,At\x00ta,10,5\n"
    response = await hub_client.post("/hub/catalog/import",
                                     data={"_csrf_token": csrf_of(hub_client)},
                                     files={"file": ("c.csv", text, "text/csv")})
    assert response.status_code == 400, response.text[-300:]
    assert "NUL character" in response.text
    async with hub_db.read() as s:
        assert await s.scalar(select(Product).where(Product.sku == "A1")) is None
