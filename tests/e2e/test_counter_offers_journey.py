"""Issue #21's combined journey in real Chromium: two browser contexts, the cashier's
tablet and a customer display paired to counter C1, on a store with loyalty on.

Set-up: "Buy 2 get 1 free" on Coca-Cola 750 ml and "₹5 off each from 3" on Monaco are
made through the promotions service before the server starts (the /promotions page is
covered by test_coupons.py and test_promotions_report.py); the coupon offer is made by
the manager on /promotions, and the display is paired on /pair, through the pages.

Sale 1: the cashier scans 3 Coke, 3 Monaco and a 5 kg atta (the BOGO and the slab
apply), scans the coupon's code, adds the customer's number on the pay panel, joins
them on /loyalty with the consent tick (the bill waits) and is paid; the display
follows live (lines, offers, savings, total) and thanks the customer. Sale 2: the same
customer spends the points earned. Each printed receipt is decoded from the ESC/POS
bytes of its print job and checked against the pure engine's prices for the same
basket (app/pos/pricing.price_cart with app/core/promotions), to the paisa.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from app.catalog.models import Product
from app.config import load_config
from app.core import loyalty as loyalty_rules
from app.core.auth import StaffUser
from app.core.clock import utcnow
from app.core.db import Database
from app.core.models import User
from app.core.money import format_amount
from app.pos.pricing import CartTotals, LineInput, SavingLine, mrp_savings, price_cart
from app.promotions import service as promotions
from app.promotions.models import PromotionRow
from tests.e2e.conftest import (
    DEVICES,
    Server,
    demo_products,
    login,
    run_beside_the_loop,
    scan,
    start_server,
)
from tests.integration.test_gst_documents import paper_text

PHONE = "9845012377"
COKE, MONACO, ATTA = "SFT-COKE-750ML", "BIS-PRMN-200G", "ATA-AASH-5KG"
BOGO = "Coke: buy 2 get 1 free"
SLAB = "Monaco: ₹5 off each from 3"
COUPON_OFFER, COUPON = "Welcome ₹50 off on ₹500", "WELCOME50"
SALE_1 = {COKE: 3, MONACO: 3, ATTA: 1}
SALE_2 = {ATTA: 1}
SEEDED = (  # the promotions service's form, as the manager's page posts it
    {"kind": "buy_x_get_y", "name": BOGO, "skus": COKE, "buy": "2", "get": "1"},
    {"kind": "qty_slab", "name": SLAB, "skus": MONACO, "size": "3", "amount": "5"},
)
LOYALTY = ("\n[loyalty]\nenabled = true\npoints_per_100_rupees = 10\n"
           "min_balance_points = 1\n")


@pytest.fixture
def device_options() -> dict:
    return dict(DEVICES["tablet"])


async def _seed(cfg_path: Path) -> None:
    cfg = load_config(cfg_path)
    db = Database(cfg.database_path)
    try:
        async with db.read() as s:
            meena = await s.scalar(select(User).where(User.name == "Meena"))
        assert meena is not None
        for form in SEEDED:
            await promotions.create(db, cfg, form, StaffUser(meena.id, meena.name, meena.role))
    finally:
        await db.dispose()




@pytest.fixture
def offers_server(demo_template: Path, tmp_path: Path) -> Iterator[Server]:
    """The demo store with loyalty on (10 points per ₹100, spendable from 1 point) and
    the BOGO and the slab running."""
    template = tmp_path / "template"
    shutil.copytree(demo_template, template)
    toml = template / "store.toml"
    toml.write_text(toml.read_text() + LOYALTY)
    run_beside_the_loop(lambda: _seed(toml))
    server = start_server(template, tmp_path / "store")
    yield server
    server.stop()


async def engine_prices(server: Server, basket: dict[str, int]) -> tuple[CartTotals, int, dict]:
    """The pure engine's totals for `basket` with the store's stored promotions (now,
    with the coupon shown), its "You saved" (MRP savings plus offers) and the products."""
    cfg = load_config(server.directory / "store.toml")
    db = Database(cfg.database_path)
    try:
        async with db.read() as s:
            offers = promotions.load(list(await s.scalars(
                select(PromotionRow).where(PromotionRow.active.is_(True)))))
            products = {p.sku: p for p in await s.scalars(
                select(Product).where(Product.sku.in_(list(basket))))}
    finally:
        await db.dispose()
    lines = [LineInput(key=sku, unit_price=products[sku].price_minor, quantity=qty,
                       gst_rate_bp=products[sku].gst_rate_bp, sku=sku,
                       category=products[sku].category) for sku, qty in basket.items()]
    totals = price_cart(lines, None, cfg.pos.rounding_step_paise, offers,
                        utcnow().astimezone(cfg.tz), [COUPON])
    saved = mrp_savings(SavingLine(products[sku].price_minor, qty, products[sku].mrp_minor)
                        for sku, qty in basket.items()) + totals.discount
    return totals, saved, products


def printed_receipts(server: Server) -> list[str]:
    """The receipts the counter's printer was sent, oldest first, as printed text."""
    with sqlite3.connect(server.directory / "store.db") as conn:
        layouts = [r[0] for r in conn.execute(
            "SELECT layout FROM print_jobs WHERE document = 'receipt' ORDER BY seq")]
    return [" ".join(paper_text(layout).split()) for layout in layouts]


def paper_money(paise: int) -> str:
    """An amount as the 48-column paper prints it (no rupee sign in its code page)."""
    return on_paper(format_amount(paise))


def on_paper(text: str) -> str:
    return text.replace("₹", "Rs.")


async def scan_basket(till: Page, basket: dict[str, int]) -> None:
    by_sku = {p.sku: p for p in demo_products()}
    for sku, qty in basket.items():
        for n in range(1, qty + 1):
            await scan(till, by_sku[sku].barcode)
            await expect(till.get_by_test_id("cart-line").filter(
                has_text=by_sku[sku].name).get_by_test_id("line-qty")).to_have_text(str(n))


async def test_offers_coupon_and_points_at_the_counter_and_on_the_customer_display(
        offers_server: Server, new_page, guard) -> None:
    # offers_server first: it stops after the pages are closed.
    guard.allow(r"/loyalty/join")  # the join without the consent tick is a 400
    server = offers_server
    till = await new_page(server.url)
    shown = await new_page(server.url)
    await shown.set_viewport_size({"width": 800, "height": 1280})

    # The manager makes the coupon offer on /promotions and pairs the display to C1.
    await login(till, "Meena")
    await expect(till.get_by_role("heading", name="Hello, Meena")).to_be_visible()
    await till.goto("/promotions")
    offer = till.get_by_test_id("new-bill_amount_off")
    await offer.locator("summary").first.tap()
    await offer.get_by_label("Name on the bill").fill(COUPON_OFFER)
    await offer.get_by_label("₹ off the bill").fill("50")
    await offer.get_by_label("On bills of ₹ or more").fill("500")
    await offer.get_by_text("More", exact=True).tap()
    await offer.get_by_label(re.compile("^Coupon code")).fill(COUPON.lower())
    await offer.get_by_role("button", name="Save the offer").tap()
    await expect(till.get_by_test_id("promotion-saved")).to_contain_text("Welcome")
    for name in (BOGO, SLAB):  # the seeded ones are listed as running
        await expect(till.locator("body")).to_contain_text(name)

    await till.goto("/pair")
    await till.get_by_test_id("customer-displays").tap()
    await till.get_by_test_id("pair-counter").select_option("C1")
    await till.get_by_test_id("pair-name").fill("Counter 1 screen")
    await till.get_by_test_id("pair-start").tap()
    link = await till.get_by_test_id("pairing-link").get_attribute("href")
    code = re.search(r"code=([A-Za-z0-9_-]+)", link or "").group(1)
    await shown.goto(f"/display/join?code={code}")
    await shown.get_by_test_id("join").tap()
    await expect(shown.get_by_test_id("display-idle")).to_be_visible()

    await till.locator("form.who-wide").get_by_role("button", name="Sign out").tap()
    await till.wait_for_url(re.compile(r"/login"))
    await login(till, "Asha")
    await expect(till.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    await till.goto("/pos")
    await till.locator("input[name=float]").fill("0")
    await till.get_by_role("button", name="Open shift").tap()
    await expect(till.locator("#scan-code")).to_be_focused()

    # ---- sale 1: BOGO + slab + coupon, the customer joins -------------------------------
    expected, saved, products = await engine_prices(server, SALE_1)
    applied = {a.name: a.discount for a in expected.applied}
    assert set(applied) == {BOGO, SLAB, COUPON_OFFER}, applied  # the basket is what it claims
    await scan_basket(till, SALE_1)
    # The display follows while scanning: each line, the offers on them, the savings.
    lines = shown.get_by_test_id("display-line")
    await expect(lines).to_have_count(3)
    # Lines, as the paper counts them ("Items 3"), not pieces.
    await expect(shown.get_by_test_id("display-items")).to_have_text("3 items")
    coke_line = lines.filter(has_text=products[COKE].name)
    await expect(coke_line.get_by_test_id("display-offer")).to_contain_text(
        f"{BOGO} −{format_amount(applied[BOGO])}")
    await expect(lines.filter(has_text=products[MONACO].name).get_by_test_id(
        "display-offer")).to_contain_text(f"{SLAB} −{format_amount(applied[SLAB])}")
    before_coupon = (await till.get_by_test_id("cart-total").text_content() or "").strip()
    await expect(shown.get_by_test_id("display-total")).to_have_text(before_coupon)
    assert before_coupon == format_amount(expected.total + applied[COUPON_OFFER])

    await scan(till, COUPON)
    await expect(till.get_by_test_id("pos-message")).to_have_text(
        f"Coupon {COUPON} applied: {format_amount(applied[COUPON_OFFER])} off")
    total_1 = format_amount(expected.total)
    await expect(till.get_by_test_id("cart-total")).to_have_text(total_1)
    await expect(shown.get_by_test_id("display-total")).to_have_text(total_1)
    await expect(shown.get_by_test_id("display-saved")).to_contain_text(format_amount(saved))

    # Pay: the customer's number; they have not joined, so the cashier joins them on
    # /loyalty with their consent, and the bill waits.
    await till.get_by_test_id("pay").tap()
    await expect(shown.get_by_test_id("display-due")).to_have_text(total_1)
    await till.get_by_test_id("loyalty-customer").fill(PHONE)
    await till.get_by_role("button", name="Add customer").tap()
    await expect(till.get_by_test_id("loyalty-box")).to_contain_text("has not joined")
    await till.get_by_test_id("loyalty-box").get_by_role("link", name="Loyalty").tap()
    await till.get_by_test_id("join-phone").fill(PHONE)
    await till.get_by_test_id("join-submit").tap()  # without the tick: refused
    await expect(till.get_by_test_id("join-error")).to_be_visible()
    await till.get_by_test_id("join-phone").fill(PHONE)
    await till.get_by_test_id("join-consent").check()
    await till.get_by_test_id("join-submit").tap()
    await expect(till.get_by_role("heading", name=re.compile("Customer 98xxxxxx77"))).to_be_visible()
    await till.goto("/pos")
    await expect(till.get_by_test_id("cart-total")).to_have_text(total_1)  # the bill waited
    await till.get_by_test_id("pay").tap()
    await expect(till.get_by_test_id("loyalty-phone")).to_have_text("98xxxxxx77")
    await expect(till.get_by_test_id("points-none")).to_be_visible()
    await till.get_by_role("button", name=re.compile("^Exact")).tap()
    await till.get_by_test_id("complete").tap()
    rules = loyalty_rules.Rules(points_per_100_rupees=10, min_balance_points=1)
    earned_1 = loyalty_rules.points_earned(expected.total, rules)
    await expect(till.get_by_test_id("points-earned")).to_have_text(str(earned_1))
    await expect(till.get_by_test_id("receipt-print-counter-1")).to_have_text("Printed")
    await expect(shown.get_by_test_id("display-thanks")).to_be_visible()
    await expect(shown.get_by_test_id("display-thanks-saved")).to_have_text(
        f"you saved {format_amount(saved)}")
    await expect(shown.get_by_test_id("display-receipt-qr")).to_be_visible()

    [paper_1] = printed_receipts(server)
    for product in (products[COKE], products[MONACO], products[ATTA]):
        if product.mrp_minor != product.price_minor:  # MRP where it differs
            assert f"MRP {paper_money(product.mrp_minor)}" in paper_1, (product.sku, paper_1)
    for text in (f"Offer: {BOGO}", f"Offer: {SLAB}",
                 f"Offer: {COUPON_OFFER} -{paper_money(applied[COUPON_OFFER])}",
                 f"You saved {paper_money(saved)}", f"TOTAL {paper_money(expected.total)}",
                 "Loyalty 98xxxxxx77", f"Points earned {earned_1}",
                 f"Points balance {earned_1}"):
        assert on_paper(text) in paper_1, (text, paper_1)
    assert "Points used" not in paper_1 and PHONE not in paper_1

    # ---- sale 2: the same customer spends the points ------------------------------------
    expected_2, _saved_2, _ = await engine_prices(server, SALE_2)
    await till.goto("/pos")
    await scan_basket(till, SALE_2)
    await expect(till.get_by_test_id("cart-total")).to_have_text(format_amount(expected_2.total))
    await expect(shown.get_by_test_id("display-total")).to_have_text(
        format_amount(expected_2.total))
    await till.get_by_test_id("pay").tap()
    await till.get_by_test_id("loyalty-customer").fill(PHONE)
    await till.get_by_role("button", name="Add customer").tap()
    await expect(till.get_by_test_id("loyalty-balance")).to_have_text(f"{earned_1} points")
    limit = loyalty_rules.redeemable(hub_balance=0, pending=earned_1, confirmed=True,
                                     bill_total_minor=expected_2.total, on_bill_minor=0,
                                     remaining_minor=expected_2.total, rules=rules)
    used = limit.points
    assert 0 < used <= earned_1
    await expect(till.get_by_test_id("points-input")).to_have_value(str(used))
    await till.get_by_test_id("use-points").tap()
    cash = expected_2.total - loyalty_rules.points_value(used, rules)
    await expect(till.get_by_test_id("still-due")).to_have_text(format_amount(cash))
    await expect(shown.get_by_test_id("display-due")).to_have_text(format_amount(cash))
    await till.get_by_role("button", name=re.compile("^Exact")).tap()
    await till.get_by_test_id("complete").tap()
    earned_2 = loyalty_rules.points_earned(cash, rules)
    balance = earned_1 - used + earned_2
    await expect(till.get_by_test_id("points-used")).to_have_text(str(used))
    await expect(till.get_by_test_id("points-balance")).to_have_text(str(balance))
    await expect(till.get_by_test_id("receipt-print-counter-1")).to_have_text("Printed")
    await expect(shown.get_by_test_id("display-thanks")).to_be_visible()

    paper_2 = printed_receipts(server)[1]
    for text in (f"TOTAL {paper_money(expected_2.total)}", f"Points used {used}",
                 f"Points earned {earned_2}", f"Points balance {balance}",
                 f"Loyalty points {paper_money(loyalty_rules.points_value(used, rules))}"):
        assert text in paper_2, (text, paper_2)
