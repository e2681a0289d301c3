"""complete_sale writes its lines, tenders, ledger moves, levels and outbox events with
one executemany per table (issue #15). These are the rows the per-row path wrote for
a sale with several lines, bins and two lines of one product, as expected values."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from sqlalchemy import select

from app.catalog.barcodes import make_variable_barcode
from app.catalog.csv_io import parse_catalog
from app.catalog.models import Product
from app.catalog.service import import_catalog
from app.core.auth import StaffUser
from app.pos import cart, payment, shifts
from app.pos.models import SaleLine, SaleTender
from app.stock.models import Bin, StockLevel, StockMove
from app.stock.service import load_bins_csv, receive
from app.sync.models import OutboxEvent
from tests.conftest import STAFF

ROOT = Path(__file__).resolve().parents[2]
ATTA = "ATA-AASH-1KG"  # ₹68.00 a piece
DAL = "DAL-24RJ-500G"  # ₹115.00 a piece, never received: the store's first bin
APPLE = "FV-00127"  # ₹180.00 per kg, weighed: one line per label


async def test_a_sale_writes_the_rows_the_per_row_path_wrote(cfg, db, staff):
    parsed = parse_catalog((ROOT / "store_config" / "demo_catalog.csv").read_text(),
                           cfg.measure_rules)
    await import_catalog(db, parsed)
    await load_bins_csv(db, (ROOT / "store_config" / "demo_bins.csv").read_text())
    rows = {r.sku: r for r in parsed.rows}
    ids = {sku: await _product_id(db, sku) for sku in (ATTA, DAL, APPLE)}
    cashier = StaffUser(staff["cashier"], STAFF["cashier"][0], "cashier")
    async with db.read() as s:
        bins = {b.code: b.id for b in await s.scalars(select(Bin))}
    for sku, code, quantity in ((ATTA, "A-01-3", 5), (ATTA, "A-02-1", 3),
                                (APPLE, "A-01-2", 1000), (APPLE, "A-02-2", 900)):
        await receive(db, product_id=ids[sku], bin_code=code, quantity=quantity, user_id=None)
    async with db.read() as s:
        seq_before = await s.scalar(select(OutboxEvent.seq).order_by(OutboxEvent.seq.desc()))

    await shifts.open_shift(db, cfg, "C1", cashier, 100_000)
    rule = next(r for r in cfg.measure_rules if r.kind == "weight")
    plu = rows[APPLE].barcodes[0][2:7]
    view = await cart.current_cart(db, cfg, "C1", cashier)
    for code in (rows[ATTA].barcodes[0], make_variable_barcode(rule, plu, 300),
                 rows[ATTA].barcodes[0], make_variable_barcode(rule, plu, 250),
                 rows[DAL].barcodes[0]):
        view, _line = await cart.add_scan(db, cfg, "C1", cashier, view.cart.id, code,
                                          cfg.measure_rules)
    await payment.add_tender(db, cfg, "C1", view.cart.id, "upi", 10_000, reference="UPI77")
    await payment.add_tender(db, cfg, "C1", view.cart.id, "cash", None, given_minor=50_000)
    sale = await payment.complete_sale(db, cfg, "C1", view.cart.id,
                                       secrets.token_urlsafe(18), cashier)
    # 2 atta 136.00 + 300 g 54.00 + 250 g 45.00 + dal 115.00 = 350.00
    assert sale.total_minor == 35_000 and sale.number == "S1-000001"

    async with db.read() as s:
        lines = list(await s.scalars(select(SaleLine).where(SaleLine.sale_id == sale.id)
                                     .order_by(SaleLine.position)))
        tenders = list(await s.scalars(select(SaleTender).where(SaleTender.sale_id == sale.id)
                                       .order_by(SaleTender.position)))
        moves = list(await s.scalars(select(StockMove).where(StockMove.reason == "sale")))
        levels = {(p, b): q for p, b, q in (await s.execute(
            select(StockLevel.product_id, StockLevel.bin_id, StockLevel.on_hand))).all()}
        events = list(await s.scalars(select(OutboxEvent).where(OutboxEvent.seq > seq_before)
                                      .order_by(OutboxEvent.seq)))
    code_of = {v: k for k, v in bins.items()}
    # the fullest bin, counting the lines before: the second apple line goes to A-02-2
    assert [(x.position, x.sku, x.quantity, x.net_minor, code_of[x.bin_id]) for x in lines] == [
        (1, ATTA, 2, 13_600, "A-01-3"), (2, APPLE, 300, 5_400, "A-01-2"),
        (3, APPLE, 250, 4_500, "A-02-2"), (4, DAL, 1, 11_500, "A-01-1")]
    assert [(x.sku, x.gst_rate_bp, x.tax_minor, x.cgst_minor + x.sgst_minor, x.unit_price_minor,
             x.name == rows[x.sku].name, x.hsn == rows[x.sku].hsn) for x in lines] == [
        (ATTA, 500, 648, 648, 6_800, True, True), (APPLE, 0, 0, 0, 18_000, True, True),
        (APPLE, 0, 0, 0, 18_000, True, True), (DAL, 500, 548, 548, 11_500, True, True)]
    assert [(t.position, t.kind, t.amount_minor, t.given_minor, t.reference)
            for t in tenders] == [(1, "upi", 10_000, None, "UPI77"),
                                  (2, "cash", 25_000, 50_000, "")]
    assert sorted((code_of[m.bin_id], m.delta, m.reference, m.user_id, m.batch, m.expiry)
                  for m in moves) == [
        ("A-01-1", -1, "S1-000001", cashier.id, None, None),
        ("A-01-2", -300, "S1-000001", cashier.id, None, None),
        ("A-01-3", -2, "S1-000001", cashier.id, None, None),
        ("A-02-2", -250, "S1-000001", cashier.id, None, None)]
    assert levels == {
        (ids[ATTA], bins["A-01-3"]): 3, (ids[ATTA], bins["A-02-1"]): 3,
        (ids[APPLE], bins["A-01-2"]): 700, (ids[APPLE], bins["A-02-2"]): 650,
        (ids[DAL], bins["A-01-1"]): -1}

    # the outbox: one stock.moved per line in line order, then sale.completed; gapless
    assert [e.seq for e in events] == list(range(seq_before + 1, seq_before + 6))
    assert [e.kind for e in events] == ["stock.moved"] * 4 + ["sale.completed"]
    by_id = {m.id: m for m in moves}
    moved = [json.loads(e.data) for e in events[:4]]
    for data in moved:
        move = by_id[data["move_id"]]
        assert data["at"] == move.at.isoformat()
    assert [{k: v for k, v in d.items() if k not in ("move_id", "at")} for d in moved] == [
        {"sku": sku, "bin": code, "delta": delta, "reason": "sale", "reference": "S1-000001",
         "batch": None, "expiry": None}
        for sku, code, delta in ((ATTA, "A-01-3", -2), (APPLE, "A-01-2", -300),
                                 (APPLE, "A-02-2", -250), (DAL, "A-01-1", -1))]
    assert list(moved[0]) == ["move_id", "sku", "bin", "delta", "reason", "reference",
                              "batch", "expiry", "at"]
    completed = json.loads(events[4].data)
    assert completed == {
        "sale_id": sale.id, "number": "S1-000001", "at": sale.at.isoformat(),
        "counter": "C1", "shift": completed["shift"], "total": 35_000, "tax": 1_196,
        "discount": 0, "rounding": 0,
        "lines": [{"sku": sku, "quantity": q, "net": net, "tax": tax, "gst_rate_bp": rate,
                   "hsn": line.hsn, "cgst": tax // 2, "sgst": tax // 2, "igst": 0}
                  for (sku, q, net, tax, rate), line in zip(
                      [(ATTA, 2, 13_600, 648, 500), (APPLE, 300, 5_400, 0, 0),
                       (APPLE, 250, 4_500, 0, 0), (DAL, 1, 11_500, 548, 500)],
                      sale.lines, strict=True)],
        "tenders": [{"kind": "upi", "amount": 10_000}, {"kind": "cash", "amount": 25_000}],
        # a retail bill (issue #18): no invoice, no buyer
        "doc": "b2c", "invoice_number": None, "buyer_gstin": "", "buyer_name": "",
        "place_of_supply": ""}
    assert isinstance(completed["shift"], str | int)
    assert [x.sku for x in sale.lines] == [ATTA, APPLE, APPLE, DAL]  # the returned sale
    assert [t.kind for t in sale.tenders] == ["upi", "cash"]


async def _product_id(db, sku: str) -> str:
    async with db.read() as s:
        return await s.scalar(select(Product.id).where(Product.sku == sku))
