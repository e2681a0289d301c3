# ruff: noqa: F811  (pytest fixtures imported from test_pos_service)
"""A chain coupon's per-customer limit at the till (issue #21), on a real SQLite store:
online the till asks the hub (`coupon.lookup`, the customer's key) and goes by its
answer, Complete checks it again; offline (or no answer in time) the store's own count
is the rule, as before; the key, never the number, goes to the hub on a use and a
release."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.core import coupons as rules
from app.pos import cart, coupons, refunds, shifts
from app.pos.refunds import RefundRequest
from app.pos.till_rules import PosError
from app.promotions import coupons as store_coupons
from tests.integration.test_coupons import apply, big_cart, chain_coupon, chain_promotion, sell
from tests.integration.test_pos_service import (  # noqa: F401  (fixtures)
    cashier,
    catalog,
    databases,
    events,
    manager,
    new_key,
    parsed,
    users,
)

PHONE = "9876543210"
KEY = rules.customer_key("HQ50", PHONE)


@pytest.fixture(autouse=True)
def _no_answers_left_over():
    store_coupons.CHAIN.forget()
    yield
    store_coupons.CHAIN.forget()


async def chain_offer(db, cfg, per_customer: int = 1) -> None:
    await apply(db, cfg, coupon=chain_coupon(1, 10, per_customer_limit=per_customer))
    await apply(db, cfg, chain_promotion(1))


async def cart_for(db, cfg, cashier, catalog, phone: str = PHONE) -> str:
    view = await big_cart(db, cfg, "C1", cashier, catalog)
    await cart.set_customer_phone(db, cfg, "C1", view.cart.id, phone)
    return view.cart.id


def hub_answers(db, used: int) -> asyncio.Task:
    """The hub, as the link delivers it: waits for the till's look-up in the outbox and
    answers it (`coupon.customer`)."""
    async def answer() -> None:
        for _ in range(500):  # the till's look-up, committed before it waits
            if await events(db, "coupon.lookup"):
                break
            await asyncio.sleep(0.01)
        asked = (await events(db, "coupon.lookup"))[-1]
        assert asked == {"code": "HQ50", "customer": KEY}
        store_coupons.apply_hub_customer({"code": "HQ50", "customer": KEY, "used": used,
                                          "per_customer_limit": 1})
    return asyncio.create_task(answer())


async def test_online_the_till_goes_by_the_chains_count(cfg, db, catalog, cashier):
    await chain_offer(db, cfg)
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    cart_id = await cart_for(db, cfg, cashier, catalog)
    hub = hub_answers(db, used=1)  # used once at another store
    with pytest.raises(PosError, match="^Coupon HQ50 already used by this customer "
                                       "across the chain$"):
        await coupons.add_coupon(db, cfg, "C1", cart_id, "HQ50", hub_online=True)
    await hub
    # Another customer on the same bill, not used anywhere: applied.
    await cart.set_customer_phone(db, cfg, "C1", cart_id, "9123456789")
    store_coupons.apply_hub_customer({"code": "HQ50", "used": 0,
                                      "customer": rules.customer_key("HQ50", "9123456789")})
    view, said = await coupons.add_coupon(db, cfg, "C1", cart_id, "HQ50", hub_online=True)
    assert said == "Coupon HQ50 applied: ₹50.00 off"


async def test_complete_checks_the_chain_again(cfg, db, catalog, cashier):
    """Applied while the hub said 0; before Complete the hub says the customer used it
    at another store: the sale is refused (the cashier takes the coupon off)."""
    await chain_offer(db, cfg)
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    cart_id = await cart_for(db, cfg, cashier, catalog)
    hub = hub_answers(db, used=0)
    await coupons.add_coupon(db, cfg, "C1", cart_id, "HQ50", hub_online=True)
    await hub
    store_coupons.apply_hub_customer({"code": "HQ50", "customer": KEY, "used": 1})
    with pytest.raises(Exception, match="already used by this customer across the chain"):
        await sell(db, cfg, "C1", cashier, cart_id)
    assert await events(db, "coupon.used") == []


async def test_this_stores_uses_after_the_answer_count_too(cfg, db, catalog, cashier):
    """The hub's answer covers this store's uses up to the look-up; a sale here after it
    is added, so a second bill for the customer is refused before the hub hears."""
    await chain_offer(db, cfg, per_customer=2)
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    cart_id = await cart_for(db, cfg, cashier, catalog)
    hub = hub_answers(db, used=1)
    await coupons.add_coupon(db, cfg, "C1", cart_id, "HQ50", hub_online=True)
    await hub
    await sell(db, cfg, "C1", cashier, cart_id)
    second = await cart_for(db, cfg, cashier, catalog)
    with pytest.raises(PosError, match="already used 2 times by this customer across"):
        await coupons.add_coupon(db, cfg, "C1", second, "HQ50", hub_online=True)


async def test_offline_the_stores_own_count_is_the_rule(cfg, db, catalog, cashier,
                                                        manager, monkeypatch):
    await chain_offer(db, cfg)
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    cart_id = await cart_for(db, cfg, cashier, catalog)
    started = time.monotonic()
    view, said = await coupons.add_coupon(db, cfg, "C1", cart_id, "HQ50")  # offline
    assert time.monotonic() - started < 1.0  # the till never waited
    assert said.startswith("Coupon HQ50 applied")
    assert await events(db, "coupon.lookup") == []  # not asked
    sale = await sell(db, cfg, "C1", cashier, cart_id)
    sent = await events(db, "coupon.used")
    assert [e["customer"] for e in sent] == [KEY]
    assert PHONE not in repr(sent)
    # Online, but the hub does not answer in time: asked, not held past ASK_SECONDS,
    # and the store's count (1 here) refuses the second use.
    monkeypatch.setattr(store_coupons, "ASK_SECONDS", 0.2)
    second = await cart_for(db, cfg, cashier, catalog)
    started = time.monotonic()
    with pytest.raises(PosError, match="^Coupon HQ50 already used by this customer$"):
        await coupons.add_coupon(db, cfg, "C1", second, "HQ50", hub_online=True)
    assert time.monotonic() - started < 2.0
    assert await events(db, "coupon.lookup") == [{"code": "HQ50", "customer": KEY}]
    # A whole refund gives the use back, with the key.
    await refunds.refund(db, cfg, "C1", sale.id,
                         [RefundRequest(sale.lines[0].id, 1, "resaleable")], "cash",
                         new_key(), manager)
    released = await events(db, "coupon.released")
    assert [(e["use_id"], e["customer"]) for e in released] == [(sent[0]["use_id"], KEY)]


async def test_a_chain_coupon_without_a_per_customer_limit_sends_no_key(cfg, db, catalog,
                                                                      cashier):
    await apply(db, cfg, coupon=chain_coupon(1, 10))
    await apply(db, cfg, chain_promotion(1))
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    cart_id = await cart_for(db, cfg, cashier, catalog)
    await coupons.add_coupon(db, cfg, "C1", cart_id, "HQ50", hub_online=True)
    await sell(db, cfg, "C1", cashier, cart_id)
    assert await events(db, "coupon.lookup") == []
    assert "customer" not in (await events(db, "coupon.used"))[0]


@pytest.mark.parametrize("data", [
    {"code": "HQ50", "customer": PHONE, "used": 1},
    {"code": "HQ50", "customer": KEY, "used": -1},
    {"code": "HQ50", "customer": KEY, "used": True},
    {"code": "=1+1", "customer": KEY, "used": 1},
    {"code": "HQ50", "used": 1},
])
def test_a_malformed_answer_is_refused(data):
    with pytest.raises(store_coupons.BadCustomerEvent):
        store_coupons.apply_hub_customer(data)
    assert store_coupons.CHAIN.used("HQ50", KEY) is None
