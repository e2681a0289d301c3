"""Suppliers, purchase orders and the suggested order on a real SQLite file."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.catalog.csv_io import parse_catalog
from app.catalog.models import Product
from app.catalog.service import import_catalog
from app.core import audit
from app.core.clock import utcnow
from app.purchasing import service
from app.purchasing.csv_io import parse_suppliers
from app.purchasing.models import PurchaseOrder, Supplier, SupplierProduct
from app.purchasing.rules import parse_supplier
from app.purchasing.service import ImportRejected, PurchasingError, WantedLine
from app.stock import service as stock

HEADER = "sku,name,price,gst_rate\n"
TZ = ZoneInfo("Asia/Kolkata")
SUPPLIERS = ("supplier,gstin,phone,lead_time_days,sku,case_cost,pack_size\n"
             "Sharma Traders,27AAPFU0939F1ZV,+91 98450 12345,2,P1,120.00,12\n"
             "Sharma Traders,27AAPFU0939F1ZV,+91 98450 12345,2,P2,50,1\n"
             "Gupta Dairy,,,1,,,\n")


@pytest.fixture
async def products(db, cfg):
    rows = "".join(f"P{i},Product {i},10,5\n" for i in range(1, 4))
    await import_catalog(db, parse_catalog(HEADER + rows, cfg.measure_rules))
    await stock.load_bins_csv(db, "code,zone,aisle,shelf,pick_seq\nA-01,AMBIENT,A,1,10\n")
    async with db.read() as s:
        return {p.sku: p.id for p in await s.scalars(select(Product))}


async def sharma(db) -> str:
    return next(r.id for r in await service.list_suppliers(db) if r.name == "Sharma Traders")


async def counts(db) -> tuple:
    async with db.read() as s:
        return tuple([int(await s.scalar(select(func.count()).select_from(t)) or 0)
                      for t in (Supplier, SupplierProduct, PurchaseOrder)])


async def test_import_export_round_trip(db, products):
    report = await service.import_suppliers(db, parse_suppliers(SUPPLIERS))
    assert (report.created, report.updated, report.items) == (2, 0, 2)
    view = await service.get_supplier(db, await sharma(db))
    assert view.supplier.gstin == "27AAPFU0939F1ZV" and view.supplier.lead_time_days == 2
    assert [(i.sku, i.case_cost_minor, i.pack_size) for i in view.items] == [
        ("P1", 12000, 12), ("P2", 5000, 1)]
    text = await service.export_suppliers(db)
    before = await counts(db)
    again = await service.import_suppliers(db, parse_suppliers(text))
    assert (again.created, again.updated, again.items) == (0, 2, 2)
    assert await counts(db) == before
    assert await service.export_suppliers(db) == text


@pytest.mark.parametrize(("bad_row", "words"), [
    ("Sharma Traders,27AAPFU0939F1ZV,+91 98450 12345,2,NOPE,10,1\n", "no product has SKU NOPE"),
    ("Patel,27AAPFU0939F1ZX,,2,P3,10,1\n", "GSTIN"),
    ("Patel,,,2,P3,=HYPERLINK(1),1\n", "cost"),
])
async def test_a_bad_row_names_its_line_and_changes_nothing(db, products, bad_row, words):
    await service.import_suppliers(db, parse_suppliers(SUPPLIERS))
    before = await service.export_suppliers(db)
    changed = SUPPLIERS.replace("P2,50,1", "P2,60,1").replace("P1,120.00,12", "P3,1,1")
    parsed = parse_suppliers(changed + bad_row)
    with pytest.raises(ImportRejected) as exc:
        if not parsed.clean:
            raise ImportRejected(parsed.errors)
        await service.import_suppliers(db, parsed)
    assert exc.value.errors[0].line == 5 and words in exc.value.errors[0].message
    assert await service.export_suppliers(db) == before


async def test_supplier_form_rules(db, products):
    sid = await service.save_supplier(db, parse_supplier(name="Sharma Traders"))
    with pytest.raises(PurchasingError, match="already a supplier"):
        await service.save_supplier(db, parse_supplier(name="sharma traders"))
    await service.set_item(db, sid, "p1", 1200, 12)
    await service.set_item(db, sid, "P1", 1300, 6)  # changes, does not duplicate
    with pytest.raises(PurchasingError, match="No product has SKU"):
        await service.set_item(db, sid, "ZZZ", 100, 1)
    view = await service.get_supplier(db, sid)
    assert [(i.sku, i.case_cost_minor, i.pack_size) for i in view.items] == [("P1", 1300, 6)]
    await service.remove_item(db, sid, products["P1"])
    assert (await service.get_supplier(db, sid)).items == []


async def test_purchase_order_life(db, products, staff):
    await service.import_suppliers(db, parse_suppliers(SUPPLIERS))
    sid = await sharma(db)
    po = await service.create_order(db, sid, [WantedLine(products["P1"], 3, "case"),
                                              WantedLine(products["P2"], 5, "piece"),
                                              WantedLine(products["P3"], 0)],
                                    date(2026, 12, 5), staff["manager"])
    view = await service.get_order(db, po)
    assert view.label == "PO-000001" and view.po.status == "draft"
    assert [(ln.sku, ln.pieces, ln.line_cost_minor) for ln in view.lines] == [
        ("P1", 36, 36000), ("P2", 5, 25000)]
    assert view.total_minor == 61000
    with pytest.raises(PurchasingError, match="does not sell us"):
        await service.edit_order(db, po, [WantedLine(products["P3"], 1)], None)
    with pytest.raises(PurchasingError, match="every quantity is 0"):
        await service.edit_order(db, po, [WantedLine(products["P1"], 0)], None)
    assert len((await service.get_order(db, po)).lines) == 2  # refused edits changed nothing
    await service.edit_order(db, po, [WantedLine(products["P1"], 2, "case")], None)
    name, text = await service.order_csv(db, po)
    assert name == "PO-000001.csv"
    assert list(csv.reader(io.StringIO(text)))[1] == [
        "P1", "Product 1", "2", "case", "12", "24", "120.00", "240.00"]
    with pytest.raises(PurchasingError, match="next can be"):
        await service.move_order(db, po, "received")
    await service.move_order(db, po, "sent", staff["manager"])
    async with db.read() as s:
        rows = await audit.entries(s, actions=["po.sent"])
    assert [(r.detail, r.user_id) for r in rows] == [("PO-000001", staff["manager"])]
    with pytest.raises(PurchasingError, match="only a draft can change"):
        await service.edit_order(db, po, [WantedLine(products["P1"], 9)], None)
    with pytest.raises(PurchasingError, match="already sent"):
        await service.move_order(db, po, "sent")
    second = await service.create_order(db, sid, [WantedLine(products["P2"], 1, "piece")],
                                        None, None)
    assert (await service.get_order(db, second)).label == "PO-000002"
    assert [r.label for r in await service.list_orders(db)] == ["PO-000002", "PO-000001"]


async def test_suggested_order_from_the_ledger(db, products, staff):
    await service.import_suppliers(db, parse_suppliers(SUPPLIERS))
    sid = await sharma(db)
    await stock.receive(db, product_id=products["P1"], bin_code="A-01", quantity=10,
                        user_id=None)
    async with db.write() as s:
        product = await s.get(Product, products["P1"])
        bin_ = (await stock.list_bins(db))[0]
        await stock.record_move(s, product=product, bin=bin_, delta=-56, reason="sale")
        await stock.record_move(s, product=product, bin=bin_, delta=-2, reason="damaged")
    tomorrow = utcnow() + timedelta(days=1)  # today's sales are yesterday's then
    got = await service.suggested_order(db, sid, cover_days=7, tz=TZ, now=tomorrow)
    p1 = next(r for r in got.rows if r.sku == "P1")
    # 56 sold in the window (damaged is no sale); 2-day lead + 7 days cover.
    assert p1.on_hand == -48 and p1.on_order == 0 and p1.need > 0
    assert p1.cases > 0 and p1.units >= p1.need
    before = p1.cases
    po = await service.create_order(db, sid, [WantedLine(products["P1"], 2, "case")], None, None)
    draft = await service.suggested_order(db, sid, cover_days=7, tz=TZ, now=tomorrow)
    assert next(r for r in draft.rows if r.sku == "P1").cases == before  # a draft is not sent
    await service.move_order(db, po, "sent")
    sent = await service.suggested_order(db, sid, cover_days=7, tz=TZ, now=tomorrow)
    after = next(r for r in sent.rows if r.sku == "P1")
    assert after.on_order == 24 and after.cases == max(0, before - 2)
    old = await service.suggested_order(db, sid, cover_days=7, tz=TZ,
                                        now=utcnow() + timedelta(days=40))
    assert next(r for r in old.rows if r.sku == "P1").need == 0  # sales out of the window


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "Europe/London"])
async def test_sales_fall_on_the_stores_local_day(db, products, zone, monkeypatch):
    """Sales are kept per local day (app/stock/sales_days.py): a sale at 23:59 local time
    is that day's, one at 00:01 the next day's, also across a clock change (London, 25
    Oct). The migration built the calendar for Asia/Kolkata: London's sales were written
    by Kolkata's days and the first read for London rebuilds them from the ledger."""
    from datetime import UTC, datetime, time

    import app.stock.service as stock_service
    from app.stock import sales_days

    tz = ZoneInfo(zone)
    today = date(2026, 11, 1)
    moments = [(date(2026, 10, 31), time(23, 59)),
               (date(2026, 11, 1), time(0, 1)),  # today: not in the window
               (date(2026, 10, 25), time(0, 30)),
               (date(2026, 10, 24), time(23, 30)),
               (date(2026, 10, 4), time(0, 0)),  # the window's first day
               (date(2026, 10, 3), time(23, 59))]  # before the window
    async with db.write() as s:
        bin_ = (await s.scalars(select(stock.Bin))).first()
        product = await s.get(Product, products["P1"])
        for local_day, clock in moments:
            at = datetime.combine(local_day, clock, tz).astimezone(UTC)
            monkeypatch.setattr(stock_service, "utcnow", lambda at=at: at)
            await stock_service.record_move(s, product=product, bin=bin_, delta=-1,
                                            reason="sale")
    first = today - timedelta(days=28)
    await sales_days.ensure(db, tz, first, today)
    async with db.read() as s:
        raw = sales_days.raw_of(s)
        got = dict(raw.execute("SELECT day, sold FROM sales_days WHERE product_id = ?",
                               (products["P1"],)).fetchall())
        zone_row = raw.execute("SELECT tz FROM sales_days_zone").fetchone()
    assert got == {d.isoformat(): 1 for d, _clock in moments}
    assert zone_row == (zone,)
    assert first == date(2026, 10, 4)  # the window: 4 Oct .. 31 Oct (today left out)
