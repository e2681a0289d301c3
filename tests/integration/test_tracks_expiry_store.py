"""'Tracks expiry' at the store (issue #17): the catalogue CSV, a `product.upserted` from
a newer or an older hub, the product API."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from app.catalog import rules
from app.catalog.csv_io import parse_catalog, write_catalog
from app.catalog.models import Product
from app.catalog.service import export_rows, import_catalog
from app.core.ids import uuid7
from app.sync.protocol import Event
from app.sync.store_apply import apply_hub_event

HEADER = "sku,name,price,gst_rate,tracks_expiry\n"


async def _flags(db) -> dict[str, bool]:
    async with db.read() as s:
        return dict((await s.execute(select(Product.sku, Product.tracks_expiry))).all())


async def _upsert(db, cfg, **data) -> None:
    event = {"sku": "MILK-500", "name": "Milk 500 ml", "price_minor": 3300,
             "gst_rate_bp": 0, "unit": "piece", "barcodes": [], **data}
    async with db.write() as s:
        await apply_hub_event(s, cfg, Event(seq=1, id=str(uuid7()), kind="product.upserted",
                                            at="2026-12-01T00:00:00Z", data=event))


@pytest.mark.parametrize(("cell", "flag"), [
    ("yes", True), ("Y", True), ("true", True), ("1", True),
    ("no", False), ("N", False), ("false", False), ("0", False), ("", False), ("  ", False)])
def test_the_cell_reads_yes_or_no_and_empty_is_no(cell, flag):
    parsed = parse_catalog(HEADER + f"A-1,Atta,10,5,{cell}\n")
    assert parsed.clean and parsed.rows[0].tracks_expiry is flag


@pytest.mark.parametrize("cell", ["maybe", "=1+1", "x" * 100_000, "yes\x00", "2"])
def test_anything_else_is_an_error_naming_the_column(cell):
    parsed = parse_catalog(HEADER + f"A-1,Atta,10,5,\"{cell}\"\n")
    assert not parsed.rows and len(parsed.errors) == 1
    assert "tracks_expiry" in str(parsed.errors[0]) and len(str(parsed.errors[0])) < 200


async def test_store_csv_import_and_export_round_trip(db, cfg):
    await import_catalog(db, parse_catalog(HEADER + "MILK-1L,Milk,66,0,yes\nOIL-1L,Oil,180,5,no\n"))
    assert await _flags(db) == {"MILK-1L": True, "OIL-1L": False}
    out = io.StringIO()
    write_catalog(await export_rows(db), out)
    assert "tracks_expiry" in out.getvalue().splitlines()[0]
    report = await import_catalog(db, parse_catalog(out.getvalue()))
    assert report.unchanged == 2
    # Changing only the flag is an update.
    report = await import_catalog(db, parse_catalog(HEADER + "MILK-1L,Milk,66,0,no\n"))
    assert report.updated == 1 and (await _flags(db))["MILK-1L"] is False


async def test_a_file_without_the_column_keeps_the_flag(db, cfg):
    await import_catalog(db, parse_catalog(HEADER + "MILK-1L,Milk,66,0,yes\n"))
    old_file = "sku,name,price,gst_rate\nMILK-1L,Milk,70,0\nNEW-1,New,10,5\n"
    report = await import_catalog(db, parse_catalog(old_file))
    assert (report.updated, report.created) == (1, 1)
    assert await _flags(db) == {"MILK-1L": True, "NEW-1": False}
    # ... and an unchanged row from such a file stays unchanged.
    assert (await import_catalog(db, parse_catalog(old_file))).unchanged == 2


async def test_a_newer_hub_s_event_sets_it(db, cfg):
    await _upsert(db, cfg, tracks_expiry=True)
    assert (await _flags(db))["MILK-500"] is True
    await _upsert(db, cfg, tracks_expiry=False)
    assert (await _flags(db))["MILK-500"] is False


async def test_an_older_hub_s_event_without_it_means_no(db, cfg):
    await _upsert(db, cfg, tracks_expiry=True)
    await _upsert(db, cfg)  # an older hub: no such field
    assert (await _flags(db))["MILK-500"] is False


@pytest.mark.parametrize("value", ["yes", "true", 1, None, [], {"a": 1}])
async def test_only_a_json_true_turns_it_on(db, cfg, value):
    await _upsert(db, cfg, tracks_expiry=value)
    assert (await _flags(db))["MILK-500"] is False


def test_the_rules_take_a_bool_or_a_yes_no_word():
    base = {"sku": "A-1", "name": "Atta", "price": "10", "gst_rate": "5"}
    assert rules.parse_product(**base, tracks_expiry=True).tracks_expiry is True
    assert rules.parse_product(**base, tracks_expiry="yes").tracks_expiry is True
    assert rules.parse_product(**base).tracks_expiry is False
    checked = rules.check_product(rules.parse_product(**base, tracks_expiry=True))
    assert checked.tracks_expiry is True


async def test_the_product_api_shows_it(db, cfg):
    from app.catalog.routes import product_json
    from app.catalog.service import get_by_sku

    await _upsert(db, cfg, tracks_expiry=True)
    product = await get_by_sku(db, "MILK-500", with_barcodes=True)
    assert product is not None and product_json(product)["tracks_expiry"] is True
