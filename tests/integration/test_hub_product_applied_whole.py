"""A product the hub accepted (app/catalog/rules.py) is stored whole at the store: the
store's `product.upserted` handler cuts text with the same limits, not its own copies."""

from __future__ import annotations

from sqlalchemy import select

from app.catalog import rules
from app.catalog.models import Product
from app.core.ids import uuid7
from app.sync.protocol import Event
from app.sync.store_apply import apply_hub_event


async def _apply(db, cfg, data: dict) -> Product:
    async with db.write() as s:
        await apply_hub_event(s, cfg, Event(seq=1, id=str(uuid7()), kind="product.upserted",
                                            at="2026-12-01T00:00:00Z", data=data))
    async with db.read() as s:
        product = await s.scalar(select(Product).where(Product.sku == data["sku"]))
    assert product is not None
    return product


async def test_the_longest_fields_the_hub_accepts_arrive_whole(db, cfg):
    accepted = rules.parse_product(
        sku="L" * rules.SKU_MAX, name="N" * rules.NAME_MAX, price="10", gst_rate="5",
        hsn="12345678", pack_size="P" * rules.PACK_SIZE_MAX,
        category="C" * rules.CATEGORY_MAX)
    data = {"sku": accepted.sku, "name": accepted.name, "price_minor": accepted.price_minor,
            "gst_rate_bp": accepted.gst_rate_bp, "hsn": accepted.hsn, "unit": accepted.unit,
            "pack_size": accepted.pack_size, "category": accepted.category, "active": True,
            "barcodes": []}
    product = await _apply(db, cfg, data)
    assert (product.name, product.hsn, product.pack_size, product.category) == (
        accepted.name, accepted.hsn, accepted.pack_size, accepted.category)


async def test_an_older_hub_s_overlong_text_is_cut_to_the_rules_and_a_bad_hsn_left_off(
        db, cfg, caplog):
    data = {"sku": "OLD-1", "name": "N" * 300, "price_minor": 1000, "gst_rate_bp": 500,
            "hsn": "123456789", "unit": "piece", "pack_size": "P" * 50,
            "category": "C" * 90, "active": True, "barcodes": []}
    product = await _apply(db, cfg, data)
    assert len(product.name) == rules.NAME_MAX
    assert len(product.pack_size) == rules.PACK_SIZE_MAX
    assert len(product.category) == rules.CATEGORY_MAX
    assert product.hsn == "" and "OLD-1" in caplog.text
