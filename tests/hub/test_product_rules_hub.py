"""The hub's product form and services follow the store's CSV rules (app/catalog/rules.py).
Each refusal here was taken by the hub's own copy of the rules before issue #14; the
non-money numbers of the hub's forms (radius, coordinates) refuse inf and NaN with a 400."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select

from app.catalog.barcodes import gtin_check_digit, make_variable_barcode
from app.catalog.models import Barcode, Product
from app.hub import service as hub
from tests.conftest import csrf_of
from tests.hub.conftest import sign_in


def edit(sku: str = "RICE-1", **kw) -> hub.ProductEdit:
    return hub.ProductEdit(**{"sku": sku, "name": f"Product {sku}", "price_minor": 4500,
                              "gst_rate_bp": 500, **kw})


async def products(db) -> int:
    async with db.read() as s:
        return await s.scalar(select(func.count()).select_from(Product))


@pytest.mark.parametrize(("bad", "says"), [
    (edit(name="x" * 121), "longer than 120"),        # was cut to 120 characters
    (edit(hsn="ABCD"), "must be 4, 6 or 8 digits"),   # was stored as typed
    (edit(hsn="123456789"), "must be 4, 6 or 8 digits"),  # was cut to 8 digits
    (edit(barcodes=("2100127000001",)), "unknown prefix 21"),  # no rule: no scan finds it
    (edit(barcodes=("8901234567890", "8901234567890")), "listed twice"),  # was merged
])
async def test_the_hub_refuses_what_the_csv_refuses(hub_db, bad, says):
    with pytest.raises(hub.HubError, match=says):
        await hub.save_product(hub_db, bad)
    assert await products(hub_db) == 0


async def test_set_price_keeps_the_product_price_bound(hub_db):
    """Was: any price above zero, ₹1 crore and more included."""
    await hub.save_product(hub_db, edit())
    with pytest.raises(hub.HubError, match="at most ₹1,00,00,000"):
        await hub.set_price(hub_db, "RICE-1", 1_00_00_000_01)
    await hub.set_price(hub_db, "RICE-1", 1_00_00_000_00)


async def _form(client, **over):
    form = {"sku": "ATTA-1", "name": "Atta", "price": "68", "gst": "5", "unit": "piece",
            "reorder_level": "0", "active": "on", "_csrf_token": csrf_of(client)}
    form.update(over)
    return await client.post("/hub/catalog/save", data=form)


async def test_the_product_form_reads_scale_labels_with_the_hubs_barcode_rules(
        hub_client, hub_db, hub_cfg):
    """Was: any 20-29 EAN-13 was stored as a GTIN, weight digits and all, so a scan of
    the label (looked up with zero value digits) never found the product."""
    rule = next(r for r in hub_cfg.measure_rules if r.kind == "weight")
    item = make_variable_barcode(rule, "0" * rule.item_length, 0)
    weighed = make_variable_barcode(rule, "0" * rule.item_length, 1250)
    await sign_in(hub_client)
    refused = await _form(hub_client, barcodes=weighed)
    assert refused.status_code == 400
    assert "variable-measure code must have zero value digits" in html.unescape(refused.text)
    assert await products(hub_db) == 0
    saved = await _form(hub_client, barcodes=item, name="  Loose   atta ", unit="kg")
    assert saved.status_code == 200 and "Saved" in saved.text
    async with hub_db.read() as s:
        product = await s.scalar(select(Product).where(Product.sku == "ATTA-1"))
        codes = list(await s.scalars(select(Barcode.code)))
    assert (product.name, product.unit, codes) == ("Loose atta", "kg", [item])


@pytest.mark.parametrize(("field", "value", "says"), [
    ("price", "12.345", "'12.345' is not an amount"),
    ("price", "1_000", "'1_000' is not an amount"),
    ("price", "1e3", "'1e3' is not an amount"),
    ("price", "NaN", "'NaN' is not an amount"),
    ("sku", "A/B", "SKU 'A/B' may only use"),
    ("barcodes", "ABC123", "not an EAN, UPC or GTIN"),
    ("barcodes", "8901234567891", "check digit wrong"),
])
async def test_the_product_form_says_what_is_wrong(hub_client, hub_db, field, value, says):
    await sign_in(hub_client)
    response = await _form(hub_client, **{field: value})
    assert response.status_code == 400 and says in html.unescape(response.text)
    assert await products(hub_db) == 0


@pytest.mark.parametrize("radius", ["inf", "-inf", "nan", "NaN", "1e309", "infinity", "abc"])
async def test_the_radius_refuses_non_finite_numbers_with_a_400(hub_client, radius):
    await sign_in(hub_client)
    response = await hub_client.post("/hub/rules", data={
        "criterion1": "priority", "criterion2": "distance", "radius_km": radius,
        "safety_stock": "1", "orders_per_picker": "3", "split_above_rupees": "0",
        "_csrf_token": csrf_of(hub_client)})
    assert response.status_code == 400 and "Not saved" in response.text


@pytest.mark.parametrize("where", ["lat", "lon"])
@pytest.mark.parametrize("value", ["inf", "-inf", "1e309", "nan"])
async def test_uploaded_coordinates_refuse_non_finite_numbers(hub_client, where, value):
    from datetime import timedelta

    from app.core.clock import utcnow

    when = (utcnow() + timedelta(hours=2)).isoformat()
    lat, lon = (value, "77.6") if where == "lat" else ("12.9", value)
    text = ("external_id,customer_name,phone,address,pincode,lat,lon,promised_by,sku,quantity\n"
            f"C-1,Cafe,9800000001,MG Road,560038,{lat},{lon},{when},RICE,1\n").encode()
    await sign_in(hub_client)
    response = await hub_client.post(
        "/hub/orders-upload", data={"channel": "b2b", "_csrf_token": csrf_of(hub_client)},
        files={"file": ("orders.csv", text, "text/csv")})
    assert response.status_code == 200, response.text[-500:]
    assert "order C-1: " in html.unescape(response.text)


def test_the_codes_used_here_are_what_they_say() -> None:
    assert gtin_check_digit("890123456789") == "0"  # 8901234567890 is a valid EAN-13
