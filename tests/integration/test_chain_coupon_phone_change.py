# ruff: noqa: F811  (pytest fixtures imported from test_pos_service)
"""A chain coupon limited per customer, then the cashier changes the bill's mobile
number (issue #21 review): online the till asks the hub again about the new number, so
Complete goes by the chain's count for the customer actually on the bill, not the
store's own count. Real SQLite store."""

from __future__ import annotations

import asyncio

import pytest

from app.core import coupons as rules
from app.pos import coupons, shifts
from app.promotions import coupons as store_coupons
from tests.integration.test_chain_coupon_customers import KEY, cart_for, chain_offer
from tests.integration.test_coupons import sell
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

OTHER = "9123456789"
OTHER_KEY = rules.customer_key("HQ50", OTHER)


@pytest.fixture(autouse=True)
def _no_answers_left_over():
    store_coupons.CHAIN.forget()
    yield
    store_coupons.CHAIN.forget()


def hub_answers(db, key: str, used: int) -> asyncio.Task:
    """The hub, as the link delivers it: answers the till's look-up about `key`."""
    async def answer() -> None:
        for _ in range(500):
            if {"code": "HQ50", "customer": key} in await events(db, "coupon.lookup"):
                store_coupons.apply_hub_customer({"code": "HQ50", "customer": key,
                                                  "used": used, "per_customer_limit": 1})
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"the till never asked about {key}")
    return asyncio.create_task(answer())


async def test_a_changed_number_is_asked_of_the_hub_again(cfg, db, catalog, cashier):
    await chain_offer(db, cfg)
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    cart_id = await cart_for(db, cfg, cashier, catalog)
    hub = hub_answers(db, KEY, used=0)
    await coupons.add_coupon(db, cfg, "C1", cart_id, "HQ50", hub_online=True)
    await hub
    # The cashier corrects the number: the new customer used the coupon at another store.
    hub = hub_answers(db, OTHER_KEY, used=1)
    view = await coupons.set_customer_phone(db, cfg, "C1", cart_id, OTHER, hub_online=True)
    await hub
    assert view.cart.customer_phone == OTHER
    heard = store_coupons.CHAIN.used("HQ50", OTHER_KEY)
    assert heard is not None and heard[0] == 1
    with pytest.raises(Exception, match="already used by this customer across the chain"):
        await sell(db, cfg, "C1", cashier, cart_id)
    assert await events(db, "coupon.used") == []


async def test_no_question_offline_or_for_the_same_number(cfg, db, catalog, cashier):
    await chain_offer(db, cfg)
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    cart_id = await cart_for(db, cfg, cashier, catalog)
    await coupons.add_coupon(db, cfg, "C1", cart_id, "HQ50")  # offline
    await coupons.set_customer_phone(db, cfg, "C1", cart_id, OTHER)  # still offline
    assert await events(db, "coupon.lookup") == []
    asked = asyncio.get_running_loop().time()
    await coupons.set_customer_phone(db, cfg, "C1", cart_id, OTHER, hub_online=True)
    assert asyncio.get_running_loop().time() - asked < 1.0  # the same number: not asked
    assert await events(db, "coupon.lookup") == []
    # Online, no coupon on the bill: nothing to ask either.
    await coupons.remove_coupon(db, cfg, "C1", cart_id, "HQ50")
    await coupons.set_customer_phone(db, cfg, "C1", cart_id, "9000000001", hub_online=True)
    assert await events(db, "coupon.lookup") == []
