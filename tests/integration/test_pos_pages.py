"""The till over HTTP: the bad inputs a busy counter produces, and the whole-sale path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.catalog.csv_io import parse_catalog
from app.catalog.service import import_catalog
from app.pos.models import Sale
from app.stock.service import load_bins_csv
from tests.conftest import csrf_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def rows(db, cfg):
    parsed = parse_catalog((ROOT / "store_config" / "demo_catalog.csv").read_text(),
                           cfg.measure_rules)
    await import_catalog(db, parsed)
    await load_bins_csv(db, (ROOT / "store_config" / "demo_bins.csv").read_text())
    return [r for r in parsed.rows if r.unit == "piece" and r.active and r.barcodes]


def hx(client) -> dict[str, str]:
    return {"HX-Request": "true", "x-csrftoken": csrf_of(client)}


def cart_id(html: str) -> str:
    return re.search(r'id="cart-id" name="cart_id" value="([^"]+)"', html).group(1)


def message(html: str) -> str:
    """The till's one-line answer as the cashier reads it (an error's icon left out)."""
    found = re.search(r'data-testid="(?:pos|pay)-message">(.*?)</div>', html, re.S)
    return re.sub(r"<svg.*?</svg>", "", found.group(1), flags=re.S).strip() if found else ""


async def open_till(client, counter: str = "C1") -> str:
    await client.post("/pos/shift/open", data={"counter": counter, "float": "500"},
                      headers=hx(client))
    return cart_id((await client.get("/pos")).text)


async def test_till_needs_a_shift_first(client, login_as, rows):
    await login_as("cashier")
    page = await client.get("/pos")
    assert "Start selling" in page.text
    response = await client.post("/pos/scan", data={"code": rows[0].barcodes[0]},
                                 headers=hx(client))
    assert "Open a shift first" in response.text


async def test_scan_errors_are_specific_and_change_nothing(client, login_as, rows):
    await login_as("cashier")
    cart = await open_till(client)
    good = rows[0].barcodes[0]
    bad_check = good[:-1] + str((int(good[-1]) + 3) % 10)
    r = await client.post("/pos/scan", data={"code": bad_check, "cart_id": cart},
                          headers=hx(client))
    assert "check digit wrong" in message(r.text)
    assert "did not read right" in message(r.text) and "Scan it again" in message(r.text)
    r = await client.post("/pos/scan", data={"code": "8900000000005", "cart_id": cart},
                          headers=hx(client))
    assert "No product has barcode 8900000000005" in message(r.text)
    r = await client.post("/pos/scan", data={"code": "2412345000009", "cart_id": cart},
                          headers=hx(client))
    assert "prefix 24" in message(r.text) or "check digit" in message(r.text)
    r = await client.post("/pos/scan", data={"code": rows[0].name.split()[0], "cart_id": cart},
                          headers=hx(client))
    assert "Pick the product" in r.text  # a typed name offers the search
    assert "Scan a product to start a bill" in r.text


async def test_quantities_zero_negative_absurd(client, login_as, rows):
    await login_as("cashier")
    cart = await open_till(client)
    r = await client.post("/pos/scan", data={"code": rows[0].barcodes[0], "cart_id": cart},
                          headers=hx(client))
    line = re.search(r'/pos/lines/([^/]+)/qty', r.text).group(1)
    for qty, expected in (("0", "use Remove"), ("-2", "not a whole number"),
                          ("100000", "more than 999"), ("1.5", "not a whole number")):
        r = await client.post(f"/pos/lines/{line}/qty",
                              data={"cart_id": cart, "quantity": qty}, headers=hx(client))
        assert expected in message(r.text), qty
    assert re.search(r'data-testid="line-qty">1<', r.text)
    for qty in ("0", "-1", "abc", "1000"):
        r = await client.post("/pos/add", data={"cart_id": cart, "sku": rows[1].sku,
                                                "quantity": qty}, headers=hx(client))
        assert message(r.text), qty
        assert rows[1].name not in r.text.split("cart-lines")[-1] or qty == "1000"


async def test_client_sent_price_is_ignored(client, login_as, rows):
    await login_as("cashier")
    cart = await open_till(client)
    row = rows[0]
    r = await client.post("/pos/scan", data={"code": row.barcodes[0], "cart_id": cart,
                                             "price": "0.01", "price_minor": "1"},
                          headers=hx(client))
    r = await client.post("/pos/add", data={"cart_id": cart, "sku": row.sku, "quantity": "1",
                                            "price": "0.01"}, headers=hx(client))
    from app.core.money import format_amount
    from app.pos.pricing import round_bill
    assert format_amount(round_bill(2 * row.price_minor, 100)) in r.text


async def test_tampered_cart_from_another_counter_is_refused(app, client, login_as, rows,
                                                             staff):
    from litestar.testing import AsyncTestClient

    from tests.conftest import STAFF, login

    await login_as("cashier")
    cart_c1 = await open_till(client, "C1")
    async with AsyncTestClient(app=app) as other:
        await login(other, staff["manager"], STAFF["manager"][1])
        cart_c2 = await open_till(other, "C2")
        r = await other.post("/pos/scan", data={"code": rows[0].barcodes[0],
                                                "cart_id": cart_c1}, headers=hx(other))
        assert "not on this counter" in message(r.text)
        assert cart_c2 != cart_c1
    r = await client.post("/pos/scan", data={"code": rows[0].barcodes[0], "cart_id": cart_c2},
                          headers=hx(client))
    assert "not on this counter" in message(r.text)


async def test_paying_less_than_due_and_double_tap(client, login_as, rows, db):
    await login_as("cashier")
    cart = await open_till(client)
    await client.post("/pos/scan", data={"code": rows[0].barcodes[0], "cart_id": cart},
                      headers=hx(client))
    r = await client.get("/pos/pay", headers=hx(client))
    assert 'data-testid="complete"' not in r.text  # no Complete button until it is paid
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "card",
                                                   "amount": "1.00", "reference": "A1"},
                          headers=hx(client))
    r = await client.post("/pos/pay/complete", data={"cart_id": cart, "key": "k" * 20},
                          headers=hx(client))
    assert "still due" in message(r.text)
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "card",
                                                   "amount": "99999", "reference": "A2"},
                          headers=hx(client))
    assert "more than" in message(r.text)
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "card",
                                                   "reference": "4111 1111 1111 1111"},
                          headers=hx(client))
    assert "looks like a card number" in message(r.text)
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "cash",
                                                   "given": "2000"}, headers=hx(client))
    key = re.search(r'name="key" value="([^"]+)"', r.text).group(1)
    version = re.search(r'name="version" value="([^"]+)"', r.text).group(1)
    form = {"cart_id": cart, "key": key, "version": version}
    first = await client.post("/pos/pay/complete", data=form, headers=hx(client))
    second = await client.post("/pos/pay/complete", data=form, headers=hx(client))
    assert first.headers["hx-redirect"] == second.headers["hx-redirect"]
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Sale)) == 1
    receipt = await client.get(first.headers["hx-redirect"])
    assert "S1-000001" in receipt.text and "TAX INVOICE" in receipt.text


async def test_discount_over_limit_asks_for_manager_pin(client, login_as, rows, staff):
    await login_as("cashier")
    cart = await open_till(client)
    r = await client.post("/pos/scan", data={"code": rows[0].barcodes[0], "cart_id": cart},
                          headers=hx(client))
    line = re.search(r'/pos/lines/([^/]+)/discount', r.text).group(1)
    url = f"/pos/lines/{line}/discount"
    r = await client.post(url, data={"cart_id": cart, "kind": "percent", "value": "25"},
                          headers=hx(client))
    assert 'data-testid="approval"' in r.text and "needs a manager" in r.text
    r = await client.post(url, data={"cart_id": cart, "kind": "percent", "value": "25",
                                     "approver_id": staff["manager"], "approver_pin": "0000"},
                          headers=hx(client))
    assert "Wrong PIN" in r.text
    r = await client.post(url, data={"cart_id": cart, "kind": "percent", "value": "25",
                                     "approver_id": staff["cashier"], "approver_pin": "3816"},
                          headers=hx(client))
    assert "not a manager" in r.text
    r = await client.post(url, data={"cart_id": cart, "kind": "percent", "value": "25",
                                     "approver_id": staff["manager"], "approver_pin": "4726"},
                          headers=hx(client))
    assert "discount −" in r.text
    audit = await client.get("/pos/audit")
    assert audit.status_code == 403  # cashiers don't see the overrides page


async def test_upi_qr_carries_the_amount(client, login_as, rows):
    await login_as("cashier")
    cart = await open_till(client)
    await client.post("/pos/scan", data={"code": rows[0].barcodes[0], "cart_id": cart},
                      headers=hx(client))
    r = await client.get("/pos/pay", headers=hx(client))
    uri = re.search(r'data-upi="([^"]+)"', r.text).group(1).replace("&amp;", "&")
    from app.pos.pricing import round_bill
    amount = round_bill(rows[0].price_minor, 100)
    assert uri.startswith("upi://pay?pa=kiranafresh%40okaxis") or "pa=kiranafresh@okaxis" in uri
    assert f"am={amount / 100:.2f}" in uri and "cu=INR" in uri


async def pay_cash_and_complete(client, cart: str) -> str:
    r = await client.get("/pos/pay", headers=hx(client))
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "cash",
                                                   "given": "5000"}, headers=hx(client))
    key = re.search(r'name="key" value="([^"]+)"', r.text).group(1)
    r = await client.post("/pos/pay/complete", data={"cart_id": cart, "key": key},
                          headers=hx(client))
    return r.headers["hx-redirect"].rsplit("/", 1)[-1]


async def test_exchange_is_a_refund_and_a_sale_in_one_visit(client, login_as, rows, db):
    from app.pos.models import SaleTender

    await login_as("manager")  # managers refund without a second PIN
    cart = await open_till(client)
    first = min(rows[:30], key=lambda r: r.price_minor)  # swapped for a dearer item
    second = max(rows[:30], key=lambda r: r.price_minor)
    await client.post("/pos/scan", data={"code": first.barcodes[0], "cart_id": cart},
                      headers=hx(client))
    sale_id = await pay_cash_and_complete(client, cart)
    form = await client.get(f"/pos/refund/{sale_id}")
    line_id = re.search(r'name="qty-([^"]+)"', form.text).group(1)
    key = re.search(r'name="key" value="([^"]+)"', form.text).group(1)
    done = await client.post(f"/pos/refund/{sale_id}", data={
        f"qty-{line_id}": "1", "tender": "exchange", "key": key,
        "_csrf_token": csrf_of(client)})
    assert "Exchange credit" in done.text and "Start the exchange sale" in done.text
    assert 'data-testid="credit-code"' in done.text  # shown in this visit only
    credit = first.price_minor
    # The new sale: the swapped item, paid with the credit and the difference in cash.
    cart = cart_id((await client.get("/pos")).text)
    await client.post("/pos/scan", data={"code": second.barcodes[0], "cart_id": cart},
                      headers=hx(client))
    panel = await client.get("/pos/pay", headers=hx(client))
    assert 'data-testid="use-exchange"' in panel.text
    number = re.search(r"Use credit from (S1-R\d+)", panel.text).group(1)
    code = re.search(r'name="reference" value="(CN-[0-9A-Z-]+)"', panel.text).group(1)
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "exchange",
                                                   "reference": code}, headers=hx(client))
    assert 'data-testid="complete"' not in r.text  # the new item costs more: pay the rest
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "cash",
                                                   "given": "5000"}, headers=hx(client))
    key = re.search(r'name="key" value="([^"]+)"', r.text).group(1)
    r = await client.post("/pos/pay/complete", data={"cart_id": cart, "key": key},
                          headers=hx(client))
    assert "hx-redirect" in r.headers
    async with db.read() as s:
        used = await s.scalar(select(func.sum(SaleTender.amount_minor)).where(
            SaleTender.kind == "exchange"))
    from app.pos.pricing import round_bill

    assert credit < round_bill(second.price_minor, 100)
    assert used == credit
    # The credit cannot be spent twice.
    cart = cart_id((await client.get("/pos")).text)
    await client.post("/pos/scan", data={"code": second.barcodes[0], "cart_id": cart},
                      headers=hx(client))
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "exchange",
                                                   "reference": code}, headers=hx(client))
    assert f"no exchange credit left on {number}" in message(r.text)
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "exchange",
                                                   "reference": number}, headers=hx(client))
    assert "code printed on the credit note" in message(r.text)  # the number spends nothing


async def test_the_pay_screen_offers_the_credit_the_service_would_take(client, login_as, rows):
    """The pay screen's offer was computed again in the route, counting every tender whose
    reference equals the refund number: a card approval code typed as 'S1-R00001' cut the
    offered credit (fails on the old code: ₹1.00 less offered). It now asks credit_notes."""
    from app.core.money import format_amount

    await login_as("manager")
    cart = await open_till(client)
    first = min(rows[:30], key=lambda r: r.price_minor)
    second = max(rows[:30], key=lambda r: r.price_minor)
    await client.post("/pos/scan", data={"code": first.barcodes[0], "cart_id": cart},
                      headers=hx(client))
    sale_id = await pay_cash_and_complete(client, cart)
    form = await client.get(f"/pos/refund/{sale_id}")
    line_id = re.search(r'name="qty-([^"]+)"', form.text).group(1)
    key = re.search(r'name="key" value="([^"]+)"', form.text).group(1)
    await client.post(f"/pos/refund/{sale_id}", data={
        f"qty-{line_id}": "1", "tender": "exchange", "key": key,
        "_csrf_token": csrf_of(client)})
    cart = cart_id((await client.get("/pos")).text)
    await client.post("/pos/scan", data={"code": second.barcodes[0], "cart_id": cart},
                      headers=hx(client))
    panel = await client.get("/pos/pay", headers=hx(client))
    number = re.search(r"Use credit from (S1-R\d+)", panel.text).group(1)
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "card",
                                                   "amount": "1.00", "reference": number},
                          headers=hx(client))
    assert not message(r.text)
    offer = re.search(r"Use credit from S1-R\d+ \((.+?) left\)", r.text).group(1)
    assert offer == format_amount(first.price_minor)


async def test_odd_numbers_and_a_shift_closed_elsewhere_are_not_server_errors(
        client, login_as, rows, db, cfg, staff):
    await login_as("cashier")
    cart = await open_till(client)
    r = await client.post("/pos/scan", data={"code": rows[0].barcodes[0], "cart_id": cart},
                          headers=hx(client))
    line = re.search(r'/pos/lines/([^/]+)/qty', r.text).group(1)
    for odd in ("²", "9" * 5000, "１２"):
        r = await client.post(f"/pos/lines/{line}/qty", data={"cart_id": cart, "quantity": odd},
                              headers=hx(client))
        assert r.status_code == 200 and "not a whole number" in message(r.text)
    # Card payment recorded twice with the same terminal reference: refused.
    await client.get("/pos/pay", headers=hx(client))
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "card",
                                                   "amount": "1.00", "reference": "APP1"},
                          headers=hx(client))
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "card",
                                                   "amount": "1.00", "reference": "APP1"},
                          headers=hx(client))
    assert "already on this bill" in message(r.text)
    # A manager closes this counter's shift from another tablet...
    from app.core.auth import StaffUser
    from app.pos import shifts

    shift = await shifts.current_shift(db, "C1")
    async with db.write() as s:  # (the open cart would block a normal close)
        from sqlalchemy import update

        from app.pos.models import Cart
        await s.execute(update(Cart).values(status="voided"))
    await shifts.close_shift(db, cfg, shift.id, StaffUser(staff["manager"], "Meena", "manager"), {})
    # ...the cashier's next scan takes them back to "Start selling", not to an error page.
    r = await client.post("/pos/scan", data={"code": rows[0].barcodes[0], "cart_id": cart},
                          headers=hx(client))
    assert r.status_code < 500 and r.headers.get("hx-redirect") == "/pos"
    assert "Start selling" in (await client.get("/pos")).text
