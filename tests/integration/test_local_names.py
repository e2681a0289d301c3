"""Products' local names on staff screens (issue #22 review): a hub's hostile name is
stored without its control and invisible characters, and the till line and the pick
screen show the name in <bdi lang=...>, so a screen reader uses the language's voice and
a right-to-left character cannot reorder the English name beside it."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from app.catalog.models import Product
from app.core.auth import create_api_key
from app.sync.store_apply import _product_upserted
from tests.conftest import STAFF, login
from tests.integration.test_fulfilment import order_body, store
from tests.integration.test_pos_pages import hx, open_till, rows

__all__ = ["rows", "store"]  # fixtures, imported for pytest


def local_tag(html: str) -> str:
    found = re.search(r'<(\w+)[^>]*data-testid="name-local"[^>]*>([^<]*)</\1>', html)
    assert found, "no local name shown"
    return found.group(0)


async def test_a_hub_name_with_bidi_and_control_characters_is_stored_without_them(db, cfg):
    event = {"sku": "SALT-1", "name": "Tata Salt 1 kg", "price_minor": 2800,
             "gst_rate_bp": 0, "unit": "piece", "barcodes": [],
             "name_local": "\u202eटाटा\u200b नमक\x1b[31m\u2066\x00 क्\u200dष"}
    async with db.write() as s:
        await _product_upserted(s, cfg, event)  # not refused: the link goes on
    async with db.read() as s:
        product = await s.scalar(select(Product).where(Product.sku == "SALT-1"))
    assert product.name_local == "टाटा नमक[31m क्\u200dष"  # ZWJ kept: it is spelling
    assert product.name == "Tata Salt 1 kg" and product.price_minor == 2800


async def test_the_till_line_isolates_the_local_name(client, db, login_as, rows):
    product = rows[0]
    async with db.write() as s:
        await s.execute(update(Product).where(Product.sku == product.sku)
                        .values(name_local="नमक \u05d0"))  # a Hebrew letter: RTL
    await login_as("cashier")
    cart = await open_till(client)
    r = await client.post("/pos/scan", data={"code": product.barcodes[0], "cart_id": cart},
                          headers=hx(client))
    tag = local_tag(r.text)
    assert tag.startswith("<bdi ") and 'lang="hi"' in tag and "नमक \u05d0</bdi>" in tag


async def test_the_pick_screen_isolates_the_local_name(client, db, store, staff):
    key = {"Authorization": f"Bearer {(await create_api_key(db, 'app', 'all', channel='app'))[1]}"}
    async with db.write() as s:
        await s.execute(update(Product).values(name_local="आटा"))
    await client.post("/api/v1/orders", json=order_body("L-1", [(store[0].sku, 1)]), headers=key)
    await login(client, staff["picker"], STAFF["picker"][1])
    html = (await client.post("/pick/claim", headers=hx(client))).text
    tag = local_tag(html)
    assert tag.startswith("<bdi ") and 'lang="hi"' in tag and 'class="pick-local"' in tag


async def test_product_search_and_pages_show_the_local_name(client, db, login_as, rows):
    """The till's search, the catalogue's results and the product page show the local
    name beside the English one, isolated; a product without one shows none."""
    named, plain = rows[0], rows[1]
    async with db.write() as s:
        await s.execute(update(Product).where(Product.sku == named.sku)
                        .values(name_local="नमक"))
    await login_as("manager")
    for url in (f"/products/search?q={named.sku}", f"/products/{named.sku}"):
        html = (await client.get(url, headers=hx(client))).text
        tag = local_tag(html)
        assert tag.startswith("<bdi ") and 'lang="hi"' in tag and ">नमक</bdi>" in tag, url
    html = (await client.get(f"/products/{plain.sku}")).text
    assert 'data-testid="name-local"' not in html
    await login_as("cashier")
    await open_till(client)
    html = (await client.get(f"/pos/search?q={named.sku}", headers=hx(client))).text
    assert ">नमक</bdi>" in local_tag(html)


async def test_a_sale_keeps_the_local_name_it_was_sold_with(app, client, db, login_as, rows):
    """The customer display shows the local name; the sale line keeps it (migration 0034),
    so the receipt screen and the customer's e-receipt show what the paper showed even
    after the catalogue's local name changes."""
    from app.pos.models import Sale, SaleLine
    from tests.integration.test_customer_display import pair
    from tests.integration.test_pos_pages import pay_cash_and_complete

    product = rows[0]
    async with db.write() as s:
        await s.execute(update(Product).where(Product.sku == product.sku)
                        .values(name_local="नमक"))
    await login_as("manager")
    screen, _token, _code = await pair(app, client, "C1")
    try:
        await login_as("cashier")
        cart = await open_till(client)
        await client.post("/pos/scan", data={"code": product.barcodes[0], "cart_id": cart},
                          headers=hx(client))
        shown = (await screen.get("/display")).text
        assert ">नमक</bdi>" in local_tag(shown)
    finally:
        await screen.__aexit__(None, None, None)
    sale_id = await pay_cash_and_complete(client, cart)
    async with db.write() as s:
        await s.execute(update(Product).where(Product.sku == product.sku)
                        .values(name_local="बदला"))
    async with db.read() as s:
        line = await s.scalar(select(SaleLine).where(SaleLine.sale_id == sale_id))
        token = (await s.get(Sale, sale_id)).receipt_token
    assert line.name_local == "नमक"
    for url in (f"/pos/sales/{sale_id}", f"/r/{token}"):
        html = (await client.get(url)).text
        assert ">नमक</bdi>" in local_tag(html) and "बदला" not in html, url
