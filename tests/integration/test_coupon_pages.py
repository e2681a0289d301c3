# ruff: noqa: F811  (pytest fixtures imported from test_pos_pages)
"""Coupons at the till over HTTP (issue #21): a scanned code that is no product but an
offer's coupon applies it (the scan's not-found branch), the typed box and Remove, the
refusals shown in words, hostile codes changing nothing; a cashier cannot make offers."""

from __future__ import annotations

from sqlalchemy import func, select

from app.promotions.models import PromotionRow
from tests.integration.test_pos_pages import hx, message, open_till, rows  # noqa: F401

BIG = "ATA-AASH-10KG"  # ₹545.00


async def make_offer(client, login_as, coupon_total: str = "") -> None:
    await login_as("manager")
    await client.get("/promotions")
    made = await client.post("/promotions", data={
        "kind": "bill_amount_off", "name": "Diwali Rs 50 off", "amount": "50",
        "min_bill": "500", "coupon": "DIWALI50", "coupon_total": coupon_total,
        "_csrf_token": hx(client)["x-csrftoken"]})
    assert made.status_code == 200 and "Saved" in made.text, made.text[:300]
    assert "coupon DIWALI50" in made.text


async def test_a_scanned_coupon_applies_and_can_be_removed(client, login_as, rows, cfg, db):
    await make_offer(client, login_as, "1")
    await login_as("cashier")
    cart = await open_till(client)
    big = next(r for r in rows if r.sku == BIG)
    await client.post("/pos/scan", data={"code": big.barcodes[0], "cart_id": cart},
                      headers=hx(client))
    r = await client.post("/pos/scan", data={"code": "diwali50", "cart_id": cart},
                          headers=hx(client))
    assert message(r.text) == "Coupon DIWALI50 applied: ₹50.00 off"
    assert 'data-testid="coupon-remove"' in r.text and "Remove DIWALI50" in r.text
    r = await client.post("/pos/scan", data={"code": "DIWALI50", "cart_id": cart},
                          headers=hx(client))
    assert message(r.text) == "Coupon DIWALI50 is already on this bill"
    r = await client.post("/pos/cart/coupon/remove", data={"code": "DIWALI50", "cart_id": cart},
                          headers=hx(client))
    assert message(r.text) == "Coupon removed" and "Remove DIWALI50" not in r.text
    r = await client.post("/pos/cart/coupon", data={"code": " Diwali 50", "cart_id": cart},
                          headers=hx(client))
    assert message(r.text) == "Coupon DIWALI50 applied: ₹50.00 off"


async def test_a_scan_that_is_neither_says_no_product(client, login_as, rows):
    await make_offer(client, login_as)
    await login_as("cashier")
    cart = await open_till(client)
    r = await client.post("/pos/scan", data={"code": "8900000000005", "cart_id": cart},
                          headers=hx(client))
    assert "No product has barcode 8900000000005" in message(r.text)


async def test_hostile_typed_codes_change_nothing(client, login_as, rows, cfg, db):
    await make_offer(client, login_as)
    await login_as("cashier")
    cart = await open_till(client)
    for code in ("\x00DIWALI50", "D" * 100_000, "=1+1", "<script>x</script>"):
        r = await client.post("/pos/cart/coupon", data={"code": code, "cart_id": cart},
                              headers=hx(client))
        assert r.status_code in (200, 400, 413), r.status_code
        if r.status_code == 200:
            assert message(r.text) == "that is not a coupon code"
            assert "<script>x" not in r.text
    async with db.read() as s:
        from app.pos.models import Cart

        assert (await s.get(Cart, cart)).coupons == ""


async def test_a_cashier_cannot_make_offers(client, login_as, db):
    await login_as("cashier")
    page = await client.get("/promotions", follow_redirects=False)
    assert page.status_code in (302, 303, 403)
    made = await client.post("/promotions", data={
        "kind": "bill_amount_off", "name": "Mine", "amount": "50", "min_bill": "500",
        "_csrf_token": hx(client)["x-csrftoken"]}, follow_redirects=False)
    assert made.status_code in (302, 303, 403)
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(PromotionRow)) == 0



async def test_a_chain_offer_shows_from_hq_without_end(client, login_as, cfg, db):
    from app.promotions import service as promos
    from tests.integration.test_coupons import chain_promotion

    async with db.write() as s:
        await promos.apply_hub_promotion(s, cfg, chain_promotion(1))
    await login_as("manager")
    page = await client.get("/promotions")
    assert 'data-testid="from-hq"' in page.text and "HQ's offer: changed at the hub" in page.text
    assert 'data-testid="end-promotion"' not in page.text
    refused = await client.post("/promotions/01hq-promo-0001/end",
                                data={"_csrf_token": hx(client)["x-csrftoken"]})
    assert refused.status_code == 404
    async with db.read() as s:
        assert (await s.get(PromotionRow, "01hq-promo-0001")).active
