"""A card number never enters the till (issue #13 item 15): references, reasons and notes
that hold 13-19 digits passing Luhn are refused with a plain message and nothing is
stored; approval codes, RRNs and UPI references still go through."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select, text
from stdnum import luhn

from app.core.card_data import CARD_NUMBER_MESSAGE
from app.pos import cart, payment, shifts
from app.pos.models import CartTender, SaleTender
from app.pos.till_rules import PosError
from tests.integration.test_pos_pages import hx, message, open_till
from tests.integration.test_pos_pages import rows as rows
from tests.integration.test_pos_service import (  # noqa: F401 - fixtures
    ATTA,
    barcode,
    cashier,
    catalog,
    manager,
    new_cart,
    new_key,
    parsed,
    refund_line,
    users,
)

PAN_13 = "4222222222222"
PAN_19 = "6221260000000000001"
assert luhn.is_valid(PAN_13) and luhn.is_valid(PAN_19)
CARD_NUMBERS = ["4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", PAN_13,
                PAN_19]
ACCEPTED = ["123456", "A1B2C3", "000123456789", "412345678901"]  # approval, RRNs (12 digits)


async def stored_text(db) -> str:
    """Every text the till keeps about payments, cash, drawers and parked carts."""
    async with db.read() as s:
        parts = [*(await s.scalars(select(CartTender.reference))),
                 *(await s.scalars(select(SaleTender.reference)))]
        for sql in ("SELECT reason FROM cash_movements", "SELECT detail FROM audit_log",
                    "SELECT note FROM carts", "SELECT reason FROM refunds"):
            parts += [str(v) for v in (await s.execute(text(sql))).scalars()]
    return "\n".join(parts)


def digits_of(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


async def test_card_tender_refuses_a_card_number(cfg, db, catalog, cashier):  # noqa: F811
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    view = await new_cart(db, cfg, "C1", cashier, barcode(catalog, ATTA))
    for kind in ("card", "upi"):
        for pan in CARD_NUMBERS:
            with pytest.raises(PosError) as refused:
                await payment.add_tender(db, cfg, "C1", view.cart.id, kind, 100, reference=pan)
            assert str(refused.value) == CARD_NUMBER_MESSAGE
    stored = digits_of(await stored_text(db))
    assert not any(digits_of(pan) in stored for pan in CARD_NUMBERS)
    for ref in ACCEPTED:
        view = await payment.add_tender(db, cfg, "C1", view.cart.id, "card", 100, reference=ref)
    assert [t.reference for t in view.cart.tenders] == ACCEPTED


async def test_free_text_at_the_till_refuses_a_card_number(cfg, db, catalog, cashier,  # noqa: F811
                                                           manager):  # noqa: F811
    await shifts.open_shift(db, cfg, "C1", cashier, 100_000)
    hidden = "customer card 4111 1111 1111 1111 declined"
    with pytest.raises(PosError, match="looks like a card number"):
        await shifts.cash_movement(db, "C1", cashier, -5_000, hidden)
    with pytest.raises(PosError, match="looks like a card number"):
        await shifts.no_sale(db, "C1", cashier, hidden)
    view = await new_cart(db, cfg, "C1", cashier, barcode(catalog, ATTA))
    with pytest.raises(PosError, match="looks like a card number"):
        await cart.park_cart(db, cfg, "C1", view.cart.id, cashier, PAN_13)
    await payment.add_tender(db, cfg, "C1", view.cart.id, "cash", None, given_minor=10_000)
    sale = await payment.complete_sale(db, cfg, "C1", view.cart.id, new_key(), cashier)
    with pytest.raises(PosError, match="looks like a card number"):
        await refund_line(db, cfg, sale.id, sale.lines[0].id, 1, "resaleable", manager,
                          reason=PAN_19)
    assert "4111111111111111" not in digits_of(await stored_text(db))
    assert PAN_13 not in digits_of(await stored_text(db))
    assert PAN_19 not in digits_of(await stored_text(db))
    # Ordinary reasons with numbers in them still go through.
    await shifts.cash_movement(db, "C1", cashier, -5_000, "milk vendor bill 000123456789")
    await shifts.no_sale(db, "C1", cashier, "change for 2000 note")


async def test_the_till_page_says_why(client, login_as, rows):
    await login_as("cashier")
    cart = await open_till(client)
    await client.post("/pos/scan", data={"code": rows[0].barcodes[0], "cart_id": cart},
                      headers=hx(client))
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "card",
                                                   "reference": "4111111111111111"},
                          headers=hx(client))
    assert html.unescape(message(r.text)) == CARD_NUMBER_MESSAGE
    assert "4111111111111111" not in r.text  # not even echoed back into the form
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "card",
                                                   "reference": "123456"}, headers=hx(client))
    assert "123456" in r.text and message(r.text) == ""
