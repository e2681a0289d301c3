"""Bad input at the store is refused with a clear 4xx before it reaches the database
(issue #13 items 12 and 13): strict JSON types, empty and non-JSON bodies, deep nesting,
money over the bounds, NUL bytes, over-long CSV fields, a NUL in a static path."""

from __future__ import annotations

import json

import pytest

from tests.integration.test_orders import body, key, stocked  # noqa: F401 (fixtures)

JSON = {"content-type": "application/json"}


async def _post(client, auth, content: str | bytes, headers: dict | None = None):
    return await client.post("/api/v1/orders", content=content,
                             headers={**auth, **(JSON if headers is None else headers)})


@pytest.mark.parametrize(("change", "field"), [
    (lambda b: b["lines"][0].update(quantity="2"), "lines[0].quantity: expected int, got str"),
    (lambda b: b["customer"].update(lat="12.93"), "customer.lat: expected float | null, got str"),
    (lambda b: b.update(cod_amount_minor=True), "cod_amount_minor: expected int, got bool"),
    (lambda b: b["lines"][0].update(price_minor=2**63), "lines[0].price_minor: expected int <="),
    (lambda b: b["lines"][0].update(price_minor=90000000000000000),
     "lines[0].price_minor: expected int <= 10000000000"),
    (lambda b: b["customer"].update(lat=91.0), "customer.lat: expected float <= 90"),
])
async def test_wrong_types_and_out_of_bounds_numbers_are_refused_naming_the_field(
        client, stocked, key, change, field):  # noqa: F811
    data = body(stocked)
    change(data)
    response = await _post(client, key, json.dumps(data))
    assert response.status_code == 400, response.text
    assert response.json() == {"error": "bad request", "detail": response.json()["detail"]}
    assert response.json()["detail"].startswith(field), response.text
    assert (await _post(client, key, json.dumps(body(stocked)))).status_code == 201


async def test_an_empty_body_says_what_to_send(client, stocked, key):  # noqa: F811
    for headers in (JSON, {}):
        response = await _post(client, key, b"", headers)
        assert response.status_code == 400
        detail = response.json()["detail"]
        assert detail.startswith("request body is empty: send a JSON object like {\"channel\"")
        assert "data: 'data'" not in detail


async def test_a_text_plain_body_is_refused_with_415(client, stocked, key):  # noqa: F811
    response = await _post(client, key, json.dumps(body(stocked)), {"content-type": "text/plain"})
    assert response.status_code == 415, response.text
    assert "Content-Type: application/json" in response.json()["detail"]


@pytest.mark.parametrize("deep", ["[" * 1000 + "]" * 1000, '{"a":' * 1000 + "1" + "}" * 1000,
                                  "[" * 100_000])
async def test_json_nested_1000_deep_is_a_400_not_a_500(client, stocked, key, deep):  # noqa: F811
    response = await _post(client, key, deep)
    assert response.status_code == 400, response.text[:300]
    assert "deeper than" in response.json()["detail"]


async def test_a_huge_body_is_refused(client, stocked, key):  # noqa: F811
    data = body(stocked, notes="x" * 300_000)
    response = await _post(client, key, json.dumps(data))
    assert response.status_code == 413


async def test_a_nul_byte_in_any_text_is_refused_before_the_database(client, stocked, key,  # noqa: F811
                                                                     login_as):
    data = body(stocked, external_id="W\x00-1")
    response = await _post(client, key, json.dumps(data))
    assert response.status_code == 400 and "external_id: contains a NUL" in response.text
    await login_as("manager")
    assert (await client.get("/orders?q=a%00b")).status_code == 400
    assert (await client.get("/orders/abc%00")).status_code == 404
    assert (await client.get("/orders", params={"q": "x" * 500})).status_code == 200
    too_long = await client.get("/orders", params={"q": "x" * 501})
    assert too_long.status_code == 400 and "q: longer than 500 characters" in too_long.text
    assert (await client.get("/orders/" + "x" * 201)).status_code == 404


async def test_a_nul_in_a_static_path_is_a_404(client):
    assert (await client.get("/static/css/app.css")).status_code == 200
    response = await client.get("/static/css/app.css%00.js")
    assert response.status_code == 404


def test_a_csv_field_over_128_kib_names_its_line():
    from app.catalog.csv_io import parse_catalog

    text = ("sku,name,price,gst_rate\nA1,Atta,10,5\n"
            f'A2,"{"x" * 140_000}",10,5\nA3,Rice,10,5\n')
    parsed = parse_catalog(text)
    assert [str(e) for e in parsed.errors] == [
        "line 3: a field is longer than 128 KiB; the file was not read past this line"]
    assert [r.sku for r in parsed.rows] == ["A1"]


async def test_a_long_device_cookie_does_not_stop_sign_in(client, staff):
    from tests.conftest import STAFF, login

    client.cookies.set("kirana_device", "d" * 500)
    response = await login(client, staff["cashier"], STAFF["cashier"][1])
    assert response.status_code == 200 and "Hello, Asha" in response.text


async def test_openapi_lists_the_refusals_the_order_api_really_gives(client, stocked, key,  # noqa: F811
                                                                     login_as):
    await login_as("manager")
    document = (await client.get("/schema/openapi.json")).json()
    post = document["paths"]["/api/v1/orders"]["post"]["responses"]
    assert set(post) == {"200", "201", "400", "401", "403", "413", "415", "422"}
    cancel = document["paths"]["/api/v1/orders/{order_id}/cancel"]["post"]["responses"]
    assert {"404", "409"} <= set(cancel)
    body = document["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"error", "detail"}
    for code, response in post.items():
        if code.startswith("4"):
            assert response["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorBody"}
    # and the API answers in that shape
    refused = await _post(client, key, "x", {"content-type": "text/plain"})
    assert refused.status_code == 415 and set(refused.json()) == {"error", "detail"}


async def test_a_price_past_the_bound_from_a_hub_is_kept_off_the_till(db, cfg, caplog):
    """An older hub (or one whose database already holds it) sends 90000000000000000 paise:
    the store applies the event (the link goes on) but will not sell the product, so no
    sale can overflow 64-bit totals at payment."""
    from sqlalchemy import select

    from app.catalog.models import Product
    from app.core.ids import uuid7
    from app.sync.protocol import Event
    from app.sync.store_apply import apply_hub_event

    data = {"sku": "HUGE-1", "name": "Typo", "price_minor": 90000000000000000,
            "gst_rate_bp": 500, "unit": "piece", "active": True, "barcodes": []}
    async with db.write() as s:
        await apply_hub_event(s, cfg, Event(seq=1, id=str(uuid7()), kind="product.upserted",
                                            at="2026-12-01T00:00:00Z", data=data))
    async with db.read() as s:
        product = await s.scalar(select(Product).where(Product.sku == "HUGE-1"))
    assert product is not None and product.active is False
    assert "HUGE-1" in caplog.text and "not for sale" in caplog.text
