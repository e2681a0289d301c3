# ruff: noqa: F811  (pytest fixtures imported from test_pos_service)
"""Promotions at the counter (issue #21) on real SQLite files with the demo catalogue:
a manager's offers through the service, the till's scans and Complete, the receipt as
printed, a refund of one piece of a "buy 2 get 1", an ended offer, hostile forms, and
the till's cache (no table read per scan while nothing changed)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, insert, select

from app.core.models import AuditLog
from app.core.promotions import PromotionError
from app.core.return_rules import prorated_share
from app.pos import payment, receipts, shifts
from app.pos.models import Sale
from app.pos.priced_cart import line_input
from app.pos.pricing import price_cart
from app.promotions import service as promos
from app.promotions.models import PromotionRow
from app.promotions.service import FormError
from tests.integration.test_gst_documents import paper_text
from tests.integration.test_pos_service import (  # noqa: F401  (fixtures)
    ATTA,
    DAL,
    LOTION,
    barcode,
    cashier,
    catalog,
    manager,
    new_cart,
    new_key,
    one,
    parsed,
    pay_cash,
    refund_line,
    scan,
    users,
)

BOGO = {"kind": "buy_x_get_y", "name": "Atta: buy 2 get 1 free", "skus": ATTA,
        "buy": "2", "get": "1"}
BUNDLE = {"kind": "bundle_price", "name": "Dal: 2 for Rs 200", "skus": DAL, "size": "2",
          "bundle_price": "200"}
BILL = {"kind": "bill_amount_off", "name": "Rs 50 off on Rs 500", "amount": "50",
        "min_bill": "500"}


async def offers(db, cfg, manager) -> dict[str, PromotionRow]:
    return {f["kind"]: await promos.create(db, cfg, f, manager) for f in (BOGO, BUNDLE, BILL)}


async def count_rows(db) -> int:
    return int(await one(db, select(func.count()).select_from(PromotionRow)))


async def basket(db, cfg, cashier, catalog):
    """3 atta (one free), 2 dal (2 for ₹200), 1 lotion: ₹629 before offers."""
    codes = [barcode(catalog, ATTA)] * 3 + [barcode(catalog, DAL)] * 2 + [
        barcode(catalog, LOTION)]
    return await new_cart(db, cfg, "C1", cashier, *codes)


async def test_offers_through_scans_complete_receipt_and_refund(cfg, db, catalog, cashier,
                                                                manager):
    made = await offers(db, cfg, manager)
    await shifts.open_shift(db, cfg, "C1", cashier, 100_000)
    view = await basket(db, cfg, cashier, catalog)
    t = view.totals
    assert t.gross == 3 * 6800 + 2 * 11500 + 19500
    assert t.promotions == 6800 + 3000 + 5000  # the free atta, the bundle, the bill offer
    assert t.discount == t.promotions and t.net == t.gross - t.promotions
    # every line's promotion discount comes off before GST: GST is on what is charged
    for price in t.lines:
        assert price.net == price.gross - price.promo_discount
        assert price.taxable + price.tax == price.net
    by_sku = {view.products[x.product_id].sku: t.line(x.id) for x in view.cart.lines}
    assert by_sku[ATTA].item_offers == ("Atta: buy 2 get 1 free",)
    assert by_sku[DAL].item_offers == ("Dal: 2 for Rs 200",)
    assert by_sku[LOTION].item_offers == ()  # the bill offer is shown with the totals
    # the same as a fresh price_cart of the stored cart with the loaded promotions
    loaded = promos.load([made[k] for k in sorted(made)])
    fresh = price_cart([line_input(x, view.products[x.product_id]) for x in view.cart.lines],
                       None, cfg.pos.rounding_step_paise, loaded,
                       promos.utcnow().astimezone(cfg.tz))
    assert fresh.total == t.total and fresh.lines == t.lines

    await pay_cash(db, cfg, "C1", view.cart.id)
    sale = await payment.complete_sale(db, cfg, "C1", view.cart.id, new_key(), cashier)
    assert sale.total_minor == t.total and sale.discount_minor == t.discount
    lines = {x.sku: x for x in sale.lines}
    assert sum(x.promo_discount_minor for x in sale.lines) == t.promotions
    assert lines[ATTA].item_offers == ["Atta: buy 2 get 1 free"]
    assert sale.bill_offers == [("Rs 50 off on Rs 500", 5000)]
    assert receipts.sale_saved(sale) >= t.promotions
    text = paper_text(receipts.receipt_layout(cfg, sale, cashier.name))
    assert "Offer: Atta: buy 2 get 1 free" in text
    assert "Offer: Dal: 2 for Rs 200" in text
    assert "Offer: Rs 50 off on Rs 500" in text and "You saved" in text

    # Returning one atta gives back what was paid for it, not its full price.
    atta = lines[ATTA]
    refund = await refund_line(db, cfg, sale.id, atta.id, 1, "resaleable", manager)
    assert refund.total_minor == prorated_share(atta.net_minor, 3, 1) < 6800
    rest = await refund_line(db, cfg, sale.id, atta.id, 2, "resaleable", manager)
    assert refund.total_minor + rest.total_minor == atta.net_minor


async def test_an_ended_offer_no_longer_applies(cfg, db, catalog, cashier, manager):
    made = await offers(db, cfg, manager)
    await shifts.open_shift(db, cfg, "C1", cashier, 100_000)
    view = await new_cart(db, cfg, "C1", cashier, *[barcode(catalog, ATTA)] * 3)
    assert view.totals.promotions == 6800
    assert await promos.end(db, cfg, made["buy_x_get_y"].id, manager)
    assert not await promos.end(db, cfg, made["buy_x_get_y"].id, manager)  # already ended
    view = await scan(db, cfg, "C1", cashier, view.cart.id, barcode(catalog, DAL))
    assert view.totals.promotions == 0
    listing = await promos.listing(db, cfg)
    assert [x.row.id for x in listing.ended] == [made["buy_x_get_y"].id]


HOSTILE = [
    {**BILL, "amount": "1e309"},
    {**BILL, "amount": "9223372036854775808"},  # 2**63 paise
    {**BILL, "min_bill": "NaN"},
    {"kind": "percent_off", "name": "x", "skus": ATTA, "percent": "1e309"},
    {"kind": "percent_off", "name": "x", "skus": ATTA, "percent": "NaN"},
    {"kind": "percent_off", "name": "x", "skus": ATTA, "percent": "100.01"},
    {"kind": "percent_off", "name": "x", "skus": ATTA, "percent": str(2**63)},
    {**BOGO, "buy": str(2**63)},
    {**BOGO, "name": "n" * 100_000},
    {**BOGO, "skus": "A," * 50_000},
    {**BOGO, "name": ""},
    {**BILL, "kind": "free_money"},
    {**BILL, "amount": "600"},  # more off than the minimum bill: the engine refuses it
    {**BOGO, "skus": ""},  # on nothing
    {**BOGO, "ends": "2026-01-01", "starts": "2026-02-01"},
    {**BOGO, "since": "25:00", "until": "26:00"},
]


@pytest.mark.parametrize("form", HOSTILE, ids=range(len(HOSTILE)))
async def test_a_hostile_form_is_refused_and_nothing_saved(cfg, db, manager, form):
    with pytest.raises((FormError, PromotionError)):
        await promos.create(db, cfg, form, manager)
    assert await count_rows(db) == 0


async def test_the_till_reads_the_table_only_when_it_changed(cfg, db, catalog, cashier,
                                                             manager, monkeypatch, caplog):
    await offers(db, cfg, manager)
    await shifts.open_shift(db, cfg, "C1", cashier, 100_000)
    view = await new_cart(db, cfg, "C1", cashier, barcode(catalog, ATTA))
    entry = promos.cache_info(cfg)
    loads, checked = entry.loads, entry.checked
    stamps = []
    real = promos._STAMP.first

    async def counted(s, params):
        stamps.append(1)
        return await real(s, params)

    monkeypatch.setattr(promos._STAMP, "first", counted)
    for _ in range(5):
        view = await scan(db, cfg, "C1", cashier, view.cart.id, barcode(catalog, ATTA))
    assert view.totals.promotions == 6800 * 2  # 6 atta: two free
    assert (entry.loads, entry.checked, stamps) == (loads, checked, [])
    # Another process writes a row the engine cannot use: seen at the next look (here
    # at once), skipped with a log line, and the till keeps selling with the others.
    monkeypatch.setattr(promos, "RECHECK_SECONDS", 0.0)
    now = promos.utcnow()
    async with db.write() as s:
        await s.execute(insert(PromotionRow).values(
            id="bad", name="broken", kind="bogus", target_skus="not json",
            target_categories="[]", get_skus="[]", get_categories="[]", percent_bp=0,
            amount_minor=0, buy=0, get=0, size=0, bundle_price_minor=0, min_bill_minor=0,
            free_sku="", days="", exclusive=False, priority=0, active=True, created_by="",
            created_at=now, updated_at=now))
    with caplog.at_level(logging.WARNING):
        view = await scan(db, cfg, "C1", cashier, view.cart.id, barcode(catalog, DAL))
    assert entry.loads == loads + 1 and stamps
    assert "promotion bad skipped" in caplog.text
    assert view.totals.promotions == 6800 * 2 + 5000  # ₹523: the bill offer too
    listed = await promos.listing(db, cfg)
    assert [x.problem != "" for x in listed.running if x.row.id == "bad"] == [True]


async def test_preview_on_a_sample_basket(cfg, db, catalog, manager):
    await offers(db, cfg, manager)
    shown = await promos.preview(db, cfg, f"{ATTA} 3\n{DAL} x 2\nNOSUCH 1\n{LOTION}")
    assert shown.result.total == 6800 + 3000 + 5000
    assert shown.unknown == ["NOSUCH"]
    with pytest.raises(FormError):
        await promos.preview(db, cfg, f"{ATTA} 1e309")


async def test_the_manager_page(client, login_as, db, catalog):
    from tests.conftest import csrf_of

    await login_as("cashier")
    assert (await client.get("/promotions")).status_code in (401, 403)
    await client.post("/logout", data={"_csrf_token": csrf_of(client)})
    await login_as("manager")
    page = await client.get("/promotions")
    assert page.status_code == 200 and "Buy 2 get 1 free" in page.text
    bad = await client.post("/promotions", data={**BILL, "amount": "1e309",
                                                 "_csrf_token": csrf_of(client)})
    assert bad.status_code == 400 and 'data-testid="promotion-error"' in bad.text
    assert await count_rows(db) == 0
    no_csrf = await client.post("/promotions", data=BOGO)
    assert no_csrf.status_code == 403 and await count_rows(db) == 0
    ok = await client.post("/promotions", data={**BOGO, "day5": "1", "day6": "1",
                                                "_csrf_token": csrf_of(client)})
    assert ok.status_code == 200 and "Saved: Atta: buy 2 get 1 free" in ok.text
    row = await one(db, select(PromotionRow))
    assert row.days == "5,6" and row.percent_bp == 10_000
    shown = await client.post("/promotions/preview", data={"basket": f"{ATTA} 3",
                                                           "_csrf_token": csrf_of(client)})
    assert shown.status_code == 200 and 'data-testid="preview-result"' in shown.text
    ended = await client.post(f"/promotions/{row.id}/end",
                              data={"_csrf_token": csrf_of(client)})
    assert ended.status_code == 200 and "The offer has ended." in ended.text
    async with db.read() as s:
        actions = set(await s.scalars(select(AuditLog.action)))
    assert {"promotion_create", "promotion_end"} <= actions


async def test_the_till_screen_and_receipts_show_the_offer(client, login_as, db, catalog):
    """Through the web: the cart fragment shows the offer under its line and the offers'
    total; the on-screen receipt and the customer's e-receipt show it too."""
    from tests.conftest import csrf_of
    from tests.integration.test_pos_pages import hx, open_till, pay_cash_and_complete

    await login_as("manager")
    made = await client.post("/promotions", data={**BOGO, "_csrf_token": csrf_of(client)})
    assert made.status_code == 200
    cart = await open_till(client)
    for _ in range(3):
        r = await client.post("/pos/scan", data={"code": barcode(catalog, ATTA),
                                                 "cart_id": cart}, headers=hx(client))
    assert 'data-testid="line-offer">Atta: buy 2 get 1 free' in r.text
    assert 'data-testid="cart-offers">offers −₹68.00' in r.text
    sale_id = await pay_cash_and_complete(client, cart)
    shown = await client.get(f"/pos/sales/{sale_id}")
    assert shown.status_code == 200 and "Offer: Atta: buy 2 get 1 free" in shown.text
    token = await one(db, select(Sale.receipt_token).where(Sale.id == sale_id))
    e_receipt = await client.get(f"/r/{token}")
    assert e_receipt.status_code == 200 and "Offer: Atta: buy 2 get 1 free" in e_receipt.text
    assert 'data-testid="you-saved">₹68.00' in e_receipt.text
