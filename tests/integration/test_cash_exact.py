"""The till's one-tap "Cash, exact" and the receipt inside the till (issue #16 till 1):
the cash tender and the sale are one transaction keyed like Complete (a double tap or a
retry makes one sale), a cart that changed after the button was drawn is refused, and
the receipt screen is the till, so the next scan goes into the next bill."""

from __future__ import annotations

import re

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from app.pos.models import Cart, CartTender, Sale, SaleTender
from tests.conftest import STAFF, login
from tests.integration.test_pos_pages import cart_id, hx, message, open_till, rows  # noqa: F401


def cash_exact_form(html: str) -> dict[str, str]:
    form = re.search(r'<form hx-post="/pos/pay/cash-exact".*?</form>', html, re.S).group(0)
    return dict(re.findall(r'name="(cart_id|key|version)" value="([^"]*)"', form))


async def scan(client, cart: str, code: str) -> str:
    r = await client.post("/pos/scan", data={"code": code, "cart_id": cart}, headers=hx(client))
    return r.text


async def count(db, what) -> int:
    async with db.read() as s:
        return await s.scalar(select(func.count()).select_from(what))


async def test_cash_exact_makes_one_sale_paid_in_cash(client, login_as, rows, db):  # noqa: F811
    await login_as("cashier")
    cart = await open_till(client)
    await scan(client, cart, rows[0].barcodes[0])
    html = await scan(client, cart, rows[1].barcodes[0])
    form = cash_exact_form(html)  # the summary comes with every cart redraw
    assert form["cart_id"] == cart and 'hx-swap-oob="true"' in html
    first = await client.post("/pos/pay/cash-exact", data=form, headers=hx(client))
    again = await client.post("/pos/pay/cash-exact", data=form, headers=hx(client))  # retry
    assert first.headers["hx-redirect"] == again.headers["hx-redirect"]
    async with db.read() as s:
        sale = (await s.scalars(select(Sale))).one()
        tenders = list(await s.scalars(select(SaleTender)))
    assert [(t.kind, t.amount_minor, t.given_minor) for t in tenders] == [
        ("cash", sale.total_minor, sale.total_minor)]
    assert sale.change_minor == 0 and first.headers["hx-redirect"] == f"/pos/sales/{sale.id}"

    # The receipt is shown in the till, with the next (empty) bill behind it.
    receipt = (await client.get(first.headers["hx-redirect"])).text
    assert 'data-testid="sale-done"' in receipt and sale.number in receipt
    assert "TAX INVOICE" in receipt and 'id="scan-code"' in receipt
    next_cart = cart_id(receipt)
    assert next_cart != cart
    assert 'data-testid="cash-exact" disabled' in receipt  # nothing to pay yet
    added = await scan(client, next_cart, rows[2].barcodes[0])
    assert message(added) == f"Added {rows[2].name}"
    # Once the next bill has lines, the same address shows the bill, not the old receipt.
    later = (await client.get(first.headers["hx-redirect"])).text
    assert 'data-testid="sale-done"' not in later and rows[2].name in later


async def test_a_cart_changed_after_the_button_was_drawn_is_refused(client, login_as, rows,  # noqa: F811
                                                                     db):
    await login_as("cashier")
    cart = await open_till(client)
    form = cash_exact_form(await scan(client, cart, rows[0].barcodes[0]))
    await scan(client, cart, rows[1].barcodes[0])  # scanned while the cashier tapped
    r = await client.post("/pos/pay/cash-exact", data=form, headers=hx(client))
    assert "hx-redirect" not in r.headers
    assert "the cart changed while paying" in message(r.text)
    assert 'data-testid="cart-line"' in r.text  # still on the bill, not the pay panel
    assert await count(db, Sale) == 0 and await count(db, CartTender) == 0
    # Tapped again on the fresh bill: paid.
    r = await client.post("/pos/pay/cash-exact", data=cash_exact_form(r.text),
                          headers=hx(client))
    assert "hx-redirect" in r.headers and await count(db, Sale) == 1


async def test_cash_exact_pays_what_is_left_after_part_by_upi(client, login_as, rows, db):  # noqa: F811
    await login_as("cashier")
    cart = await open_till(client)
    for _ in range(3):
        await scan(client, cart, rows[0].barcodes[0])
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "upi",
                                                   "amount": "10"}, headers=hx(client))
    assert "still due</small>" in r.text  # the pay panel's summary says what cash is left
    r = await client.post("/pos/pay/cash-exact", data=cash_exact_form(r.text),
                          headers=hx(client))
    assert "hx-redirect" in r.headers
    async with db.read() as s:
        sale = (await s.scalars(select(Sale))).one()
        tenders = [(t.kind, t.amount_minor) for t in await s.scalars(
            select(SaleTender).order_by(SaleTender.position))]
    assert tenders == [("upi", 1000), ("cash", sale.total_minor - 1000)]


async def test_an_empty_bill_and_another_counters_receipt(app, client, login_as, rows,  # noqa: F811
                                                          staff, db):
    await login_as("cashier")
    cart = await open_till(client)
    form = cash_exact_form((await client.get("/pos")).text)
    r = await client.post("/pos/pay/cash-exact", data=form, headers=hx(client))
    assert "the cart is empty" in r.text and await count(db, Sale) == 0
    await scan(client, cart, rows[0].barcodes[0])
    r = await client.post("/pos/pay/cash-exact", data=cash_exact_form(
        (await client.get("/pos")).text), headers=hx(client))
    url = r.headers["hx-redirect"]
    # Another counter (or a reprint from the sales list) sees the plain receipt page.
    async with AsyncTestClient(app=app) as other:
        await login(other, staff["manager"], STAFF["manager"][1])
        await open_till(other, "C2")
        page = (await other.get(url)).text
        assert 'data-testid="sale-done"' in page and 'id="scan-code"' not in page
        assert 'href="/pos" data-testid="new-sale"' in page
    async with db.read() as s:
        assert (await s.scalars(select(Cart).where(Cart.id == cart))).one().status == "paid"
