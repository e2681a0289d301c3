"""The hub's HQ pages in Hindi (issue #22): a hub user whose own language is Hindi reads
every page with no English wording left (tests/hindi.py: no catalogued English shown, no
run of English words nobody wrapped), the menu included; the data on them (store,
product, customer and courier names, the order's decision log written when it happened)
stays as it was typed. An English hub user's pages are unchanged. The hub honours the
person's own language (the users table's `language`, set from the hub's My password
page) and, before sign-in, this device's choice from the sign-in page's toggle."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from app.core.models import User
from app.hub import placement, transfers
from app.hub import promotions as chain
from app.hub import service as hub
from app.hub.models import HubOrder
from app.stock.transfer_rules import Line
from tests.conftest import csrf_of
from tests.hindi import english_runs, untranslated
from tests.hub.conftest import ENROLLED, sign_in
from tests.hub.test_hub_service import apply, edit, ev
from tests.hub.test_routing import incoming, setup_stores

pytestmark = pytest.mark.parametrize("hub_cfg", ["sqlite"], indirect=True)

OFFER = {"kind": "bill_amount_off", "name": "HQ: Rs 50 off on Rs 500", "amount": "50",
         "min_bill": "500", "coupon": "hq50", "coupon_total": "5", "coupon_per_store": "2"}

# Data, not wording: what the fixtures typed (names of stores, products, people,
# couriers, the hub, the offer) and the order's decision log (kept as written).
DATA = {"Store S1", "Store D2", "Store W3", "Kirana HQ", "Kavya R", "4th Cross", "Priya",
        "Omar", "Own riders", "Porter", "Shadowfax", "Bengaluru East", OFFER["name"],
        "webshop", "Kirana", "HQ50", "kirana-store/test",
        # commands to type, in <code>
        "kirana catalog import", "kirana hub add-channel", "kirana hub reset-password",
        "kirana hub user", "kirana hub add-store"}
# The order's decision log: sentences placement wrote when it happened, stored as text.
DECISION_LOG = re.compile(r'<ol class="list" id="decision-log">.*?</ol>', re.S)


async def _language(hub_db, name: str, code: str) -> None:
    async with hub_db.write() as s:
        await s.execute(update(User).where(User.name == name).values(language=code))


async def _chain_with_a_bit_of_everything(hub_db, hub_cfg) -> dict[str, str]:
    """Three online dark stores with stock, products, an order that needs a person, a
    transfer, a chain offer: enough for every page to show its tables."""
    await setup_stores(hub_db, {"S1": 3, "D2": 20})
    await apply(hub_db, "S1", [ev(2, "sale.completed", {
        "sale_id": "x2", "number": "S1-000002", "at": "2026-11-27T05:20:00+00:00",
        "total": 10000})])
    await hub.save_product(hub_db, edit("RICE", reorder_level=50))
    placed = await placement.take_order(hub_db, hub_cfg, incoming("W-9", qty=9))
    made = await transfers.create_many(
        hub_db, "k" * 16, [transfers.NewTransfer("D2", "S1", (Line("RICE", 3),))], "Omar")
    async with hub_db.read() as s:
        user = (await s.scalars(select(User).where(User.name == "Omar"))).one()
    created = await chain.create(hub_db, OFFER, user.id)
    return {"order": placed.order.id, "transfer": made[0].id if made else "",
            "promotion": created.promotion.id}


PAGES = ["/", "/hub/stores/S1", "/hub/stores/D2", "/hub/catalog", "/hub/catalog?q=ric",
         "/hub/catalog?q=zzzz", "/hub/catalog/new", "/hub/catalog/item/RICE",
         "/hub/catalog/import", "/hub/inventory", "/hub/inventory?sku=RICE", "/hub/orders",
         "/hub/orders?status=", "/hub/orders/{order}", "/hub/orders-upload", "/hub/rules",
         "/hub/transfers", "/hub/transfers?state=", "/hub/transfers/{transfer}",
         "/hub/replenish", "/hub/sales", "/hub/promotions",
         "/hub/promotions/{promotion}/edit", "/hub/loyalty", "/hub/loyalty?q=9800000000",
         "/hub/reports", "/hub/reports/gst", "/hub/reports/returns",
         "/hub/reports/promotions", "/hub/people", "/account/password"]


async def test_every_hub_page_in_hindi(hub_client, hub_db, hub_cfg):
    ids = await _chain_with_a_bit_of_everything(hub_db, hub_cfg)
    allow = set(DATA)
    async with hub_db.read() as s:
        allow |= {o.number for o in await s.scalars(select(HubOrder))}
    await _language(hub_db, "Priya", "hi")
    await sign_in(hub_client, "Priya")  # an admin: every page and the admin menu
    problems = {}
    for url in PAGES:
        response = await hub_client.get(url.format(**ids))
        assert response.status_code == 200, (url, response.text[:500])
        assert '<html lang="hi">' in response.text, url
        page = DECISION_LOG.sub("", response.text)
        left = english_runs(page, allow=allow), untranslated(page)
        if left != ([], []):
            problems[url] = left
    assert problems == {}, "\n".join(f"{u}: {p}" for u, p in problems.items())


async def test_hindi_hub_forms_answer_in_hindi(hub_client, hub_db, hub_cfg):
    """What a form sends back: a saved product with its delivery to the stores, an import
    checked, the rules saved, a wrong password change, a channel-less people page."""
    await setup_stores(hub_db, {"S1": 3})
    await _language(hub_db, "Priya", "hi")
    await sign_in(hub_client, "Priya")
    form = {"sku": "ghee-500", "name": "Desi Ghee 500 ml", "price": "325.50", "gst": "12",
            "unit": "piece", "barcodes": "8901234567890", "active": "on",
            "reorder_level": "4", "_csrf_token": csrf_of(hub_client)}
    saved = await hub_client.post("/hub/catalog/save", data=form)
    page = (await hub_client.get("/hub/catalog/item/GHEE-500?saved=1")).text
    assert saved.status_code == 200
    allow = DATA | {"Desi Ghee 500 ml", "GHEE-500"}
    assert english_runs(page, allow=allow) == [] and untranslated(page) == []
    header = "sku,name,price,gst_rate,unit,barcodes\n"
    checked = await hub_client.post(
        "/hub/catalog/import", data={"dry_run": "on", "_csrf_token": csrf_of(hub_client)},
        files={"file": ("c.csv", (header + "A-1,Atta 5 kg,250.00,5,piece,\n").encode(),
                        "text/csv")})
    assert checked.status_code == 200
    assert english_runs(checked.text, allow=allow | {"Atta 5 kg"}) == []
    assert untranslated(checked.text) == []
    rules = await hub_client.post("/hub/rules", data={
        "criterion1": "priority", "criterion2": "distance", "radius_km": "5",
        "safety_stock": "1", "orders_per_picker": "3", "split_above_rupees": "0",
        "_csrf_token": csrf_of(hub_client)})
    assert rules.status_code == 200
    assert english_runs(rules.text, allow=allow) == [] and untranslated(rules.text) == []
    wrong = await hub_client.post("/account/password", data={
        "old": "not it at all", "new": "a brand new passphrase", "_csrf_token":
        csrf_of(hub_client)})
    assert wrong.status_code == 400 and untranslated(wrong.text) == []


async def test_the_sign_in_pages_follow_the_device_choice(hub_client, hub_db):
    """Before sign-in nobody is known: the sign-in page's toggle sets this device's
    language, and the code page after the password follows it."""
    await hub_client.get("/login")
    chosen = await hub_client.post("/language", data={
        "lang": "hi", "next": "/login", "_csrf_token": csrf_of(hub_client)})
    assert chosen.status_code in (200, 303)
    page = (await hub_client.get("/login")).text
    assert '<html lang="hi">' in page
    assert english_runs(page, allow=DATA) == [] and untranslated(page) == []
    wrong = await hub_client.post("/login", data={
        "name": "Omar", "password": "not his password", "next": "/",
        "_csrf_token": csrf_of(hub_client)})
    assert wrong.status_code == 401 and "नाम या पासवर्ड गलत है" in wrong.text
    assert untranslated(wrong.text) == []
    user = ENROLLED["Omar"]
    code = await hub_client.post("/login", data={
        "name": "Omar", "password": user.password, "next": "/",
        "_csrf_token": csrf_of(hub_client)})
    assert code.status_code == 200 and 'name="code"' in code.text
    apps = {"Google Authenticator", "Microsoft Authenticator", "FreeOTP", "Aegis"}
    assert english_runs(code.text, allow=DATA | apps) == [] and untranslated(code.text) == []


async def test_a_hub_user_chooses_their_language_on_my_password(hub_client, hub_db):
    await sign_in(hub_client, "Omar")
    assert '<html lang="en">' in (await hub_client.get("/hub/catalog")).text
    chosen = await hub_client.post("/language", data={
        "lang": "hi", "next": "/account/password", "_csrf_token": csrf_of(hub_client)})
    assert chosen.status_code in (200, 303)
    async with hub_db.read() as s:
        assert (await s.scalars(select(User.language).where(User.name == "Omar"))).one() == "hi"
    page = (await hub_client.get("/hub/catalog")).text
    assert '<html lang="hi">' in page and "कैटलॉग" in page


async def test_english_hub_pages_are_unchanged(hub_client, hub_db, hub_cfg):
    ids = await _chain_with_a_bit_of_everything(hub_db, hub_cfg)
    await sign_in(hub_client, "Priya")
    expect = {"/": ["<h1>Stores</h1>", "Each store's link to the hub", "Store and link"],
              "/hub/catalog": ["<h1>Catalogue</h1>", "Download as CSV", ">Stores</a>"],
              "/hub/orders": ["<h1>Online orders</h1>", "Upload a CSV", "Sent to store"],
              "/hub/orders/{order}": ["What happened, and why", "Send to a store by hand"],
              "/hub/rules": ["How orders are placed", "nearest first"],
              "/hub/transfers": ["Transfers between stores", "Raise it (approved)"],
              "/hub/promotions": ["Chain promotions", ">Change</a>", "coupon HQ50"],
              "/hub/reports": ["Chain overview", "Sales, all stores"],
              "/hub/people": ["People and keys", "Change my own password"],
              "/account/password": ["Change my password", "language-toggle"],
              "/hub/stores/S1": ["Link to the hub", "events received from the store"]}
    for url, texts in expect.items():
        page = (await hub_client.get(url.format(**ids))).text
        assert '<html lang="en">' in page, url
        for text in texts:
            assert text in page, (url, text)


async def test_a_loyalty_customer_in_hindi(hub_client, hub_db):
    """The customer's movements: their kinds in Hindi, the masked number as it is."""
    from tests.hub.test_loyalty_hub import PHONE, joined, move, stores

    await stores(hub_db)
    await apply(hub_db, "S1", [joined(1), move(2, "E1", "earned", 100),
                               move(3, "E2", "redeemed", -50, reference="S1-000002")])
    await _language(hub_db, "Omar", "hi")
    await sign_in(hub_client, "Omar")
    page = (await hub_client.get("/hub/loyalty", params={"q": PHONE})).text
    assert 'data-testid="loyalty-customer"' in page and "खर्च किए" in page
    assert english_runs(page, allow=DATA) == [] and untranslated(page) == []
