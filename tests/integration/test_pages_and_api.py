"""HTTP level: the pages and JSON routes on a real SQLite store with the demo catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.catalog.barcodes import MeasureRule, make_variable_barcode
from app.catalog.csv_io import parse_catalog
from app.catalog.service import import_catalog
from app.core.auth import create_api_key
from app.stock.service import load_bins_csv
from tests.conftest import csrf_of

ROOT = Path(__file__).resolve().parents[2]
ATTA = "ATTA"


@pytest.fixture
async def demo_catalog(db, cfg):
    parsed = parse_catalog(
        (ROOT / "store_config" / "demo_catalog.csv").read_text(), cfg.measure_rules
    )
    await import_catalog(db, parsed)
    await load_bins_csv(db, (ROOT / "store_config" / "demo_bins.csv").read_text())
    packaged = next(
        r
        for r in parsed.rows
        if r.unit == "piece" and r.active and r.barcodes and len(r.barcodes[0]) == 13
    )
    loose = next(r for r in parsed.rows if r.unit == "kg")
    return {"packaged": packaged, "loose": loose}


@pytest.fixture
async def api_key(db):
    return (await create_api_key(db, "webshop", "all", channel="webshop"))[1]


async def test_scan_api_returns_product_and_measure(client, demo_catalog, api_key, cfg):
    auth = {"Authorization": f"Bearer {api_key}"}
    row = demo_catalog["packaged"]
    data = (await client.get(f"/api/v1/scan/{row.barcodes[0]}", headers=auth)).json()
    assert data["product"]["sku"] == row.sku and data["symbology"] == "ean13"
    assert data["product"]["price_minor"] == row.price_minor
    loose = demo_catalog["loose"]
    rule = next(r for r in cfg.measure_rules if r.kind == "weight")
    label = make_variable_barcode(rule, loose.barcodes[0][2:7], 1250)
    data = (await client.get(f"/api/v1/scan/{label}", headers=auth)).json()
    assert data["product"]["sku"] == loose.sku and data["weight_g"] == 1250


async def test_scan_api_shows_a_product_as_the_product_api_does(client, db, cfg, api_key):
    """The scan API reads plain rows (issue #15), the product API the ORM: the same JSON,
    barcodes in code order, and a typed SKU found as the till finds it."""
    csv = ("sku,name,price,mrp,gst_rate,unit,category,barcodes,tracks_expiry\n"
           "MULTI-1,Three Codes Soap,40.00,45.00,18,piece,Soap,"
           "8901030000010|4006381333931|0012345678905,yes\n")
    await import_catalog(db, parse_catalog(csv, cfg.measure_rules))
    auth = {"Authorization": f"Bearer {api_key}"}
    by_sku = (await client.get("/api/v1/products/MULTI-1", headers=auth)).json()
    assert by_sku["barcodes"] == ["0012345678905", "4006381333931", "8901030000010"]
    for code in ("4006381333931", "multi-1"):
        scanned = await client.get(f"/api/v1/scan/{code}", headers=auth)
        assert scanned.status_code == 200, scanned.text
        assert scanned.json()["product"] == by_sku
    assert by_sku["mrp_minor"] == 4500 and by_sku["tracks_expiry"] is True


async def test_scan_api_errors_are_specific(client, demo_catalog, api_key):
    auth = {"Authorization": f"Bearer {api_key}"}
    code = demo_catalog["packaged"].barcodes[0]
    wrong = code[:-1] + str((int(code[-1]) + 1) % 10)
    response = await client.get(f"/api/v1/scan/{wrong}", headers=auth)
    assert response.status_code == 422 and "check digit wrong" in response.json()["detail"]
    unknown = "8900000000005"
    response = await client.get(f"/api/v1/scan/{unknown}", headers=auth)
    assert response.status_code == 404 and "No product has barcode" in response.json()["detail"]
    response = await client.get("/api/v1/scan/2412345000009", headers=auth)
    assert response.status_code in (404, 422)


async def test_product_api_and_schema(client, demo_catalog, api_key, login_as):
    auth = {"Authorization": f"Bearer {api_key}"}
    row = demo_catalog["packaged"]
    data = (await client.get(f"/api/v1/products/{row.sku}", headers=auth)).json()
    assert data["name"] == row.name and data["barcodes"][0] == row.barcodes[0]
    stock = (await client.get(f"/api/v1/stock/{row.sku}", headers=auth)).json()
    assert stock["on_hand"] == 0 and stock["bins"] == []
    await login_as("manager")
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/scan/{code}" in schema["paths"]


async def test_search_page_and_fragment(client, demo_catalog, login_as):
    await login_as("cashier")
    row = demo_catalog["packaged"]
    word = row.name.split()[0]
    full = await client.get(f"/products?q={word}")
    assert "<html" in full.text and row.name in full.text
    fragment = await client.get(f"/products/search?q={word}", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and row.name in fragment.text
    assert fragment.headers["vary"] == "HX-Request"
    by_code = await client.get(f"/products/search?q={row.barcodes[0]}")
    assert row.name in by_code.text
    nothing = await client.get("/products/search?q=zzzzqqq")
    assert "Nothing matches" in nothing.text


async def test_receive_flow_over_http(client, demo_catalog, login_as):
    await login_as("manager")
    row = demo_catalog["packaged"]
    hx = {"HX-Request": "true", "x-csrftoken": csrf_of(client)}
    step = await client.post("/stock/receive/scan", data={"code": row.barcodes[0]}, headers=hx)
    assert row.name in step.text and 'name="product_id"' in step.text
    import re

    product_id = re.search(r'name="product_id" value="([^"]+)"', step.text).group(1)
    # A batch on a product the catalogue does not keep by expiry is refused (it would
    # put the product on the expiry page and make the till sell it batch by batch).
    dated = await client.post("/stock/receive", headers=hx, data={
        "product_id": product_id, "quantity": "12", "bin": "A-01-1", "batch": "B1",
        "expiry": "2027-03-31", "reference": "bill 9"})
    assert "not kept by batch and expiry date" in dated.text
    done = await client.post(
        "/stock/receive",
        headers=hx,
        data={
            "product_id": product_id,
            "quantity": "12",
            "bin": "A-01-1",
            "reference": "bill 9",
        },
    )
    assert 'data-testid="store-total">12<' in done.text
    page = await client.get(f"/products/{row.sku}")
    assert 'data-testid="stock-total">12<' in page.text and "A-01-1" in page.text
    # Bad input: nothing is written and the message says why.
    for qty, message in (
        ("0", "more than zero"),
        ("-3", "not a quantity"),
        ("1.5", "whole number"),
        ("99999999", "too large"),
    ):
        bad = await client.post(
            "/stock/receive",
            headers=hx,
            data={"product_id": product_id, "quantity": qty, "bin": "A-01-1"},
        )
        assert message in bad.text, qty
    bad_bin = await client.post(
        "/stock/receive",
        headers=hx,
        data={"product_id": product_id, "quantity": "1", "bin": "NOPE"},
    )
    assert "no bin" in bad_bin.text
    bad_date = await client.post(
        "/stock/receive",
        headers=hx,
        data={"product_id": product_id, "quantity": "1", "bin": "A-01-1", "expiry": "31/12/26"},
    )
    assert "not a date" in bad_date.text
    # The form comes back filled in, so the manager fixes one field, not the whole entry.
    assert 'name="product_id"' in bad_date.text and 'value="31/12/26"' in bad_date.text
    assert "Nothing was saved" in bad_date.text
    page = await client.get(f"/products/{row.sku}")
    assert 'data-testid="stock-total">12<' in page.text


async def test_receive_scan_of_unknown_code_offers_search(client, demo_catalog, login_as):
    await login_as("manager")
    hx = {"HX-Request": "true", "x-csrftoken": csrf_of(client)}
    step = await client.post("/stock/receive/scan", data={"code": "8900000000005"}, headers=hx)
    assert "No product has barcode 8900000000005" in step.text
    word = demo_catalog["packaged"].name.split()[0]
    step = await client.post("/stock/receive/scan", data={"code": word}, headers=hx)
    assert "Did you mean" in step.text


async def test_weighed_item_receive_uses_kg(client, demo_catalog, login_as, cfg):
    await login_as("manager")
    loose = demo_catalog["loose"]
    rule = next(r for r in cfg.measure_rules if r.kind == "weight")
    label = make_variable_barcode(rule, loose.barcodes[0][2:7], 2500)
    hx = {"HX-Request": "true", "x-csrftoken": csrf_of(client)}
    step = await client.post("/stock/receive/scan", data={"code": label}, headers=hx)
    assert 'value="2.5"' in step.text  # quantity prefilled from the label, in kg
    assert isinstance(rule, MeasureRule)


async def test_adjust_count_and_stock_list(client, demo_catalog, login_as):
    await login_as("manager")
    hx = {"HX-Request": "true", "x-csrftoken": csrf_of(client)}
    row = demo_catalog["packaged"]
    step = await client.post("/stock/adjust/scan", data={"code": row.sku}, headers=hx)
    import re

    pid = re.search(r'name="product_id" value="([^"]+)"', step.text).group(1)
    done = await client.post(
        "/stock/adjust",
        headers=hx,
        data={"product_id": pid, "reason": "found", "quantity": "3", "bin": "A-01-2"},
    )
    assert 'data-testid="store-total">3<' in done.text
    done = await client.post(
        "/stock/adjust",
        headers=hx,
        data={"product_id": pid, "reason": "count", "quantity": "0", "bin": "A-01-2"},
    )
    assert 'data-testid="store-total">0<' in done.text
    listing = await client.get("/stock?low=true")
    assert row.name in listing.text


async def test_health_endpoints(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = (await client.get("/readyz")).json()
    assert ready["status"] == "ready" and ready["migrations"] == "current"


async def test_errors_are_readable_not_tracebacks(client, login_as):
    await login_as("cashier")
    response = await client.get("/products/NO-SUCH-SKU")
    assert response.status_code == 404 and "No product with SKU" in response.text
    assert "Traceback" not in response.text


async def test_readyz_reports_a_database_behind_the_code(client, db):
    from sqlalchemy import text

    async with db.write() as s:
        await s.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert "kirana db upgrade" in response.json()["migrations"]
