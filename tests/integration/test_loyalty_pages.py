# ruff: noqa: F811  (pytest fixtures imported from test_pos_pages)
"""Loyalty over HTTP (issue #21): a cashier joins a customer with consent, finds them
by the whole number or card (masked; not by its last digits), adds them to a bill by
card on the pay panel, earns on one bill and spends on the next; only a manager may
erase; hostile search, join and points input answers in words and changes nothing."""

from __future__ import annotations

import re
import shutil

import msgspec
import pytest
from sqlalchemy import func, select

from app.config import LoyaltySection
from app.loyalty.models import Customer, LoyaltyEntry
from tests.conftest import make_config
from tests.integration.test_pos_pages import hx, message, open_till, rows  # noqa: F401

PHONE = "9812345610"
LOTION = "BLT-HMBL-200ML"  # ₹195.00


@pytest.fixture
def cfg(tmp_path, migrated_template):
    config = msgspec.structs.replace(make_config(tmp_path), loyalty=LoyaltySection(
        enabled=True, points_per_100_rupees=10, min_balance_points=10))
    shutil.copy(migrated_template, config.database_path)
    return config


async def count(db, model) -> int:
    async with db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(model)))


async def join(client, **form: str):
    await client.get("/loyalty")
    data = {"phone": PHONE, "card": "KC-000123", "name": "Asha", "consent": "yes", **form}
    return await client.post("/loyalty/join", data={**data,
                                                     "_csrf_token": hx(client)["x-csrftoken"]},
                             follow_redirects=False)


async def sell(client, rows, cart: str, n: int, customer: str = "", points: str = ""):
    lotion = next(r for r in rows if r.sku == LOTION)
    for _ in range(n):
        await client.post("/pos/scan", data={"code": lotion.barcodes[0], "cart_id": cart},
                          headers=hx(client))
    panel = await client.get("/pos/pay", headers=hx(client))
    if customer:
        panel = await client.post("/pos/pay/customer", data={"customer": customer,
                                                              "cart_id": cart},
                                  headers=hx(client))
    if points:
        panel = await client.post("/pos/pay/tender", data={"kind": "points", "points": points,
                                                            "cart_id": cart}, headers=hx(client))
    return panel


async def test_join_find_earn_and_spend_through_the_pages(client, login_as, rows, db):
    await login_as("cashier")
    joined = await join(client)
    assert joined.status_code == 303
    customer_url = joined.headers["location"]
    page = await client.get(customer_url)
    assert "98xxxxxx10" in page.text and PHONE not in page.text
    assert "Erase customer" not in page.text  # a cashier does not erase
    found = await client.get("/loyalty", params={"q": PHONE})
    assert "98xxxxxx10" in found.text and PHONE not in found.text
    # not by its last digits: enough searches by endings would give the number back
    for q in ("5610", "45610", "812345610"):
        ends = await client.get("/loyalty", params={"q": q})
        assert ends.status_code == 400 and "whole 10-digit" in ends.text
        assert "98xxxxxx10" not in ends.text
    assert "98xxxxxx10" in (await client.get("/loyalty", params={"q": "kc-000123"})).text

    cart = await open_till(client)
    panel = await sell(client, rows, cart, 5, customer="kc-000123")  # by card
    assert 'data-testid="loyalty-phone">98xxxxxx10' in panel.text
    # the card put its holder's number on the cart: the pay panel shows it masked only
    assert PHONE not in panel.text and PHONE not in (await client.get("/pos")).text
    key = re.search(r'name="key" value="([^"]+)"', panel.text)
    done = await client.post("/pos/pay/cash-exact", data={
        "cart_id": cart, "key": key.group(1) if key else "k" * 20}, headers=hx(client))
    assert done.status_code in (200, 201), done.text[:300]
    sale_url = done.headers.get("hx-redirect", "")
    receipt = await client.get(sale_url)
    assert 'data-testid="points-earned">97' in receipt.text
    assert "98xxxxxx10" in receipt.text and PHONE not in receipt.text

    nxt = re.search(r'id="cart-id" name="cart_id" value="([^"]+)"',
                    (await client.get("/pos")).text).group(1)
    panel = await sell(client, rows, nxt, 2, customer=PHONE)
    assert 'data-testid="loyalty-balance">97 points' in panel.text
    panel = await client.post("/pos/pay/tender", data={"kind": "points", "points": "98",
                                                        "cart_id": nxt}, headers=hx(client))
    assert message(panel.text) .startswith("at most 97 points")
    panel = await client.post("/pos/pay/tender", data={"kind": "points", "points": "97",
                                                        "cart_id": nxt}, headers=hx(client))
    assert "Loyalty points" in panel.text and "₹97.00" in panel.text


@pytest.mark.parametrize("points", ["inf", "NaN", "-1", "1e3", str(2**63), "9" * 100_000,
                                    "5\x00", ""])
async def test_hostile_points_are_refused_in_words(client, login_as, rows, db, points):
    await login_as("cashier")
    await join(client)
    cart = await open_till(client)
    await sell(client, rows, cart, 1, customer=PHONE)
    panel = await client.post("/pos/pay/tender", data={"kind": "points", "points": points,
                                                        "cart_id": cart}, headers=hx(client))
    if "\x00" in points or len(points) > 10_000:  # refused before the route, in words
        assert panel.status_code == 400 and ("NUL" in panel.text or "longer than" in panel.text)
    else:
        assert panel.status_code == 200
        assert "points are a whole number" in message(panel.text) or "at least 1" in message(
            panel.text)
    assert await count(db, LoyaltyEntry) == 0
    assert "Loyalty points ·" not in (await client.get("/pos/pay", headers=hx(client))).text


@pytest.mark.parametrize("q", ["\x00", "x" * 5_000, "inf", str(2**63), "<script>"])
async def test_hostile_searches_answer_in_words(client, login_as, rows, q):
    await login_as("cashier")
    page = await client.get("/loyalty", params={"q": q})
    assert page.status_code in (200, 400) and "<script>" not in page.text.split("<main")[-1]\
        .replace("&lt;script&gt;", "")


@pytest.mark.parametrize("form", [{"consent": ""}, {"phone": "98123\x0045610"},
                                  {"phone": "9" * 100_000}, {"card": "KC\x00000123"},
                                  {"name": "n" * 100_000}, {"phone": str(2**63)}])
async def test_hostile_or_unconsented_joins_save_nothing(client, login_as, db, form):
    await login_as("cashier")
    r = await join(client, **form)
    assert r.status_code == 400
    # the store's input bounds refuse NUL and 10,000+ characters before the route
    assert 'data-testid="join-error"' in r.text or "NUL" in r.text or "longer than" in r.text
    assert await count(db, Customer) == 0


async def test_only_a_manager_erases(client, login_as, db):
    await login_as("cashier")
    url = (await join(client)).headers["location"]
    cid = url.rsplit("/", 1)[1]
    refused = await client.post(f"{url}/erase", data={"confirm": "erase",
                                                      "_csrf_token": hx(client)["x-csrftoken"]})
    assert refused.status_code == 403
    await login_as("manager")
    page = await client.get(url)
    assert "Erase customer" in page.text
    unconfirmed = await client.post(f"{url}/erase", data={
        "confirm": "", "_csrf_token": hx(client)["x-csrftoken"]})
    assert unconfirmed.status_code == 400 and "Type erase" in unconfirmed.text
    done = await client.post(f"{url}/erase", data={"confirm": "erase",
                                                   "_csrf_token": hx(client)["x-csrftoken"]})
    assert done.status_code == 200 and "erased" in done.text
    async with db.read() as s:
        row = await s.get(Customer, cid)
    assert row.phone is None and row.erased_at is not None
    assert (await client.get(url)).status_code == 404
