"""MRP and savings on a real SQLite file (issue #21): the catalogue CSV's mrp column,
the price-within-MRP rule on import (nothing written), the store applying the hub's
MRP, and a sale's receipt (printed bytes, screen, e-receipt) showing the MRP as sold
and "You saved"."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.catalog.csv_io import parse_catalog, write_catalog
from app.catalog.models import Product
from app.catalog.service import ImportRejected, export_rows, import_catalog
from app.core.auth import StaffUser, create_user
from app.core.ids import uuid7
from app.pos import cart, payment, receipts, shifts
from app.pos.models import SaleLine
from app.printing.models import PrintJob
from app.stock.service import load_bins_csv
from app.sync.protocol import Event
from app.sync.store_apply import apply_hub_event
from tests.conftest import login
from tests.integration.test_gst_documents import paper_text, words

ROOT = Path(__file__).resolve().parents[2]
HEADER = "sku,name,barcodes,price,mrp,gst_rate,hsn,unit,pack_size,category,active,reorder_level\n"
GOOD = HEADER + (
    "GHEE-500,Amul Ghee 500 ml,,300.00,325.50,5,0405,piece,500 ml,Dairy,yes,0\n"
    "SALT-1KG,Tata Salt 1 kg,,28.00,28.00,5,2501,piece,1 kg,Staples,yes,0\n"
    "DAL-LOOSE,Toor Dal (loose),,150.00,160.00,5,0713,kg,,Staples,yes,0\n"
    "SOAP,Soap,,40.00,,18,3401,piece,,Home,yes,0\n"
)


async def mrp_of(db, sku: str) -> int | None:
    async with db.read() as s:
        return await s.scalar(select(Product.mrp_minor).where(Product.sku == sku))


async def products(db) -> dict[str, tuple[int, int | None]]:
    async with db.read() as s:
        return {sku: (price, mrp) for sku, price, mrp in (await s.execute(
            select(Product.sku, Product.price_minor, Product.mrp_minor))).all()}


async def test_the_csv_carries_the_mrp_and_exports_it_back(db, cfg):
    report = await import_catalog(db, parse_catalog(GOOD, cfg.measure_rules))
    assert report.created == 4
    assert await products(db) == {"GHEE-500": (30000, 32550), "SALT-1KG": (2800, 2800),
                                  "DAL-LOOSE": (15000, 16000), "SOAP": (4000, None)}
    out = io.StringIO()
    write_catalog(await export_rows(db), out)
    exported = {r.sku: r.mrp_minor for r in parse_catalog(out.getvalue()).rows}
    assert exported == {"GHEE-500": 32550, "SALT-1KG": 2800, "DAL-LOOSE": 16000, "SOAP": None}
    again = await import_catalog(db, parse_catalog(out.getvalue(), cfg.measure_rules))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)


async def test_a_price_above_the_mrp_refuses_the_whole_file(db, cfg):
    await import_catalog(db, parse_catalog(GOOD, cfg.measure_rules))
    bad = HEADER + (
        "GHEE-500,Amul Ghee 500 ml,,310.00,325.50,5,0405,piece,500 ml,Dairy,yes,0\n"  # good
        "NEW-1,New thing,,99.00,,5,,piece,,,yes,0\n"  # good
        "SALT-1KG,Tata Salt 1 kg,,30.00,28.00,5,2501,piece,1 kg,Staples,yes,0\n"  # above
    )
    parsed = parse_catalog(bad, cfg.measure_rules)
    assert [str(e) for e in parsed.errors] == [
        "line 4: SALT-1KG: price ₹30.00 is above its MRP ₹28.00; a product may not be sold "
        "above its MRP (lower the price or correct the MRP)"]
    with pytest.raises(ImportRejected):
        await import_catalog(db, parsed)
    # nothing written: not the good rows before it either
    assert (await products(db))["GHEE-500"] == (30000, 32550)
    assert "NEW-1" not in await products(db)


async def test_a_file_without_the_mrp_column_keeps_each_mrp_and_its_rule(db, cfg):
    await import_catalog(db, parse_catalog(GOOD, cfg.measure_rules))
    old = "sku,name,price,gst_rate,unit\n"
    raised = parse_catalog(old + "GHEE-500,Amul Ghee 500 ml,320.00,5,piece\n"
                           "SOAP,Soap,45,18,piece\n", cfg.measure_rules)
    assert raised.clean and not raised.mrp_column
    report = await import_catalog(db, raised)
    assert report.updated == 2
    assert (await products(db))["GHEE-500"] == (32000, 32550)  # the MRP was kept
    above = parse_catalog(old + "SOAP,Soap,50,18,piece\n"
                          "GHEE-500,Amul Ghee 500 ml,330.00,5,piece\n", cfg.measure_rules)
    with pytest.raises(ImportRejected) as refused:
        await import_catalog(db, above)
    assert [str(e) for e in refused.value.errors] == [
        "line 3: GHEE-500: price ₹330.00 is above its MRP ₹325.50; a product may not be "
        "sold above its MRP (lower the price or correct the MRP) (the file has no mrp "
        "column; the product keeps its MRP)"]
    assert await products(db) == {"GHEE-500": (32000, 32550), "SALT-1KG": (2800, 2800),
                                  "DAL-LOOSE": (15000, 16000), "SOAP": (4500, None)}
    # an empty mrp cell, with the column, is "no MRP"
    await import_catalog(db, parse_catalog(
        "sku,name,price,mrp,gst_rate\nGHEE-500,Amul Ghee 500 ml,330.00,,5\n", cfg.measure_rules))
    assert (await products(db))["GHEE-500"] == (33000, None)


async def _upserted(db, cfg, **data) -> Product:
    payload = {"sku": "GHEE-500", "name": "Ghee", "price_minor": 30000, "gst_rate_bp": 500,
               "unit": "piece", "active": True, "barcodes": [], **data}
    payload = {k: v for k, v in payload.items() if v is not ...}
    async with db.write() as s:
        await apply_hub_event(s, cfg, Event(seq=1, id=str(uuid7()), kind="product.upserted",
                                            at="2026-12-01T00:00:00Z", data=payload))
    async with db.read() as s:
        product = await s.scalar(select(Product).where(Product.sku == "GHEE-500"))
    assert product is not None
    return product


async def test_the_store_applies_the_hubs_mrp_and_tolerates_an_older_or_a_bad_one(
        db, cfg, caplog):
    assert (await _upserted(db, cfg, mrp_minor=32550)).mrp_minor == 32550
    # an older hub sends no mrp_minor: the product shows none (the hub is the master)
    older = await _upserted(db, cfg, mrp_minor=...)
    assert (older.mrp_minor, older.price_minor, older.active) == (None, 30000, True)
    # below the price, or not a number: stored without one, the event still applies
    for bad in (29999, "325.50", True, -1, 0):
        product = await _upserted(db, cfg, mrp_minor=bad, name="Ghee 2")
        assert (product.mrp_minor, product.name, product.active) == (None, "Ghee 2", True)
    assert "GHEE-500 has mrp_minor" in caplog.text


# ---- the receipt ------------------------------------------------------------------------


async def _sale(db, cfg, key: str):
    await import_catalog(db, parse_catalog(GOOD, cfg.measure_rules))
    await load_bins_csv(db, (ROOT / "store_config" / "demo_bins.csv").read_text())
    user = await create_user(db, "Asha", "cashier", "3816")
    staff = StaffUser(user.id, user.name, user.role)
    await shifts.open_shift(db, cfg, "C1", staff, 0)
    view = await cart.current_cart(db, cfg, "C1", staff)
    for sku, quantity in (("GHEE-500", 2), ("SALT-1KG", 1), ("DAL-LOOSE", 1255), ("SOAP", 1)):
        await cart.add_product(db, cfg, "C1", view.cart.id, sku, quantity)
    await payment.add_tender(db, cfg, "C1", view.cart.id, "upi", None)
    return await payment.complete_sale(db, cfg, "C1", view.cart.id, key, staff), staff


async def test_the_receipt_shows_the_mrp_as_sold_and_what_was_saved(client, db, cfg):
    sale, staff = await _sale(db, cfg, "mrp-receipt-key-1")
    # ghee 2 x (325.50 - 300) = 51.00; dal 1.255 kg x 10.00/kg = 12.55; salt at MRP, soap none
    assert receipts.sale_saved(sale) == 5100 + 1255
    async with db.read() as s:
        job = await s.scalar(select(PrintJob).where(PrintJob.ref == sale.id))
        sold = {line.sku: line.mrp_minor for line in await s.scalars(
            select(SaleLine).where(SaleLine.sale_id == sale.id))}
    assert sold == {"GHEE-500": 32550, "SALT-1KG": 2800, "DAL-LOOSE": 16000, "SOAP": None}
    assert job is not None and job.document == "receipt"
    paper = words(paper_text(job.layout))
    assert "2 x Rs.300.00 MRP Rs.325.50" in paper
    assert "1.255 kg x Rs.150.00/kg MRP Rs.160.00/kg" in paper
    assert "1 x Rs.28.00 GST" in paper and "1 x Rs.40.00 GST" in paper  # no MRP line there
    assert paper.count("MRP") == 2
    assert "You saved Rs.63.55" in paper

    # a later MRP change leaves the old bill as it was (the sale line keeps its MRP)
    async with db.write() as s:
        await s.execute(update(Product).values(mrp_minor=None))
    page = await client.get(f"/r/{sale.receipt_token}")
    assert page.status_code == 200
    shown = words(re.sub(r"<[^>]+>", " ", page.text))
    assert "MRP ₹325.50" in shown and "MRP ₹160.00/kg" in shown
    assert "You saved ₹63.55" in shown
    again = await payment.get_sale(db, sale.id)
    assert again is not None
    layout = receipts.receipt_layout(cfg, again, "Asha")
    assert "You saved" in layout and "MRP" in layout
    # the on-screen receipt (the cashier's)
    assert (await login(client, staff.id, "3816")).status_code in (200, 303)
    on_screen = await client.get(f"/pos/sales/{sale.id}")
    assert on_screen.status_code == 200, on_screen.text[-300:]
    shown = words(re.sub(r"<[^>]+>", " ", on_screen.text))
    assert "MRP ₹325.50" in shown and "You saved ₹63.55" in shown


async def test_no_mrp_above_the_price_no_saving_line(client, db, cfg):
    await import_catalog(db, parse_catalog(GOOD, cfg.measure_rules))
    await load_bins_csv(db, (ROOT / "store_config" / "demo_bins.csv").read_text())
    user = await create_user(db, "Asha", "cashier", "3816")
    staff = StaffUser(user.id, user.name, user.role)
    await shifts.open_shift(db, cfg, "C1", staff, 0)
    view = await cart.current_cart(db, cfg, "C1", staff)
    await cart.add_product(db, cfg, "C1", view.cart.id, "SALT-1KG", 3)
    await cart.add_product(db, cfg, "C1", view.cart.id, "SOAP", 1)
    await payment.add_tender(db, cfg, "C1", view.cart.id, "upi", None)
    sale = await payment.complete_sale(db, cfg, "C1", view.cart.id, "mrp-none-key-1", staff)
    assert receipts.sale_saved(sale) == 0
    async with db.read() as s:
        job = await s.scalar(select(PrintJob).where(PrintJob.ref == sale.id))
    paper = paper_text(job.layout)
    assert "You saved" not in paper and "MRP" not in paper
    page = await client.get(f"/r/{sale.receipt_token}")
    assert "You saved" not in page.text and "MRP" not in page.text
