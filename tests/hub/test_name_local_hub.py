"""The hub's catalogue master carries a product's local-language name (issue #22): the
product form saves it, product.upserted sends it to the stores."""

from __future__ import annotations

import html

from sqlalchemy import select

from app.catalog.models import Product
from app.hub import service as hub
from tests.hub.conftest import sign_in
from tests.hub.test_product_rules_hub import _form


async def test_the_product_form_saves_the_local_name_and_sends_it(hub_client, hub_db):
    await sign_in(hub_client)
    saved = await _form(hub_client, name_local="  आशीर्वाद   आटा ")
    assert saved.status_code == 200 and "आशीर्वाद आटा" in saved.text
    async with hub_db.read() as s:
        product = await s.scalar(select(Product).where(Product.sku == "ATTA-1"))
    assert product.name_local == "आशीर्वाद आटा"
    assert hub.product_payload(product, [])["name_local"] == "आशीर्वाद आटा"  # what stores get
    refused = await _form(hub_client, name_local="न" * 121)
    assert refused.status_code == 400
    assert "name_local is longer than 120 characters" in html.unescape(refused.text)
