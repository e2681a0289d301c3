"""Stock per batch and expiry (issue #17) on real SQLite files: receiving batches, the
till and a picked order leaving take the earliest-expiring batch first and never an
expired one, a refund goes back to the batch it was sold from, counts and write-offs
take from the bin's batches, and migration 0013 rebuilds the levels from a ledger that
already held batches. After every step each level is its ledger's sum per batch."""

from __future__ import annotations

import secrets
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import func, select, update

from app.catalog.barcodes import gtin_check_digit
from app.catalog.csv_io import parse_catalog
from app.catalog.models import Product
from app.catalog.service import import_catalog
from app.core import migrate
from app.core.auth import StaffUser
from app.core.clock import utcnow
from app.orders import service as orders
from app.picking import handover
from app.picking import service as picking
from app.pos import cart, payment, refunds, shifts
from app.pos.refunds import RefundRequest
from app.stock import service
from app.stock.models import StockLevel, StockMove
from tests.conftest import STAFF

HEADER = "sku,name,barcodes,price,gst_rate,hsn,unit,pack_size,category,active,reorder_level\n"
BINS = ("code,zone,aisle,shelf,pick_seq\nA-01-1,AMBIENT,A,1,10\nA-01-2,AMBIENT,A,2,20\n"
        "B-01-1,AMBIENT,B,1,30\n")
# The store's local date (the test config's time zone): a batch expires at the end of
# its local day, which is what the till and the pickers go by.
TODAY = utcnow().astimezone(ZoneInfo("Asia/Kolkata")).date()


def ean(body12: str) -> str:
    return body12 + gtin_check_digit(body12)


MILK_CODE, BREAD_CODE, SALT_CODE = ean("890100000101"), ean("890100000102"), ean("890100000103")


@pytest.fixture
async def products(db, cfg) -> dict[str, Product]:
    rows = (f"MILK,Milk 500 ml,{MILK_CODE},30,5,,piece,,Dairy,yes,5\n"
            f"BREAD,Bread,{BREAD_CODE},45,5,,piece,,Bakery,yes,5\n"
            f"SALT,Salt 1 kg,{SALT_CODE},28,5,,piece,,Staples,yes,5\n")
    await import_catalog(db, parse_catalog(HEADER + rows, cfg.measure_rules))
    await service.load_bins_csv(db, BINS)
    async with db.write() as s:
        await s.execute(update(Product).where(Product.sku.in_(["MILK", "BREAD"]))
                        .values(tracks_expiry=True))
    async with db.read() as s:
        return {p.sku: p for p in await s.scalars(select(Product))}


@pytest.fixture
def users(staff) -> dict[str, StaffUser]:
    return {role: StaffUser(uid, STAFF[role][0], role) for role, uid in staff.items()}


async def receive(db, product: Product, bin_code: str, quantity: int, batch: str | None,
                  expiry: date | None) -> None:
    await service.receive(db, product_id=product.id, bin_code=bin_code, quantity=quantity,
                          user_id=None, batch=batch, expiry=expiry)


async def levels(db, product: Product) -> dict[tuple[str, str], int]:
    """(bin code, batch) -> on hand, zero levels left out."""
    async with db.read() as s:
        return {(bin_.code, level.batch or ""): level.available
                for bin_, level in await service.batch_levels(s, product.id)
                if level.available}


async def ledger_matches_levels(db) -> None:
    async with db.read() as s:
        batch = func.coalesce(StockMove.batch, "")
        sums = {(p, b, k): int(q) for p, b, k, q in (await s.execute(
            select(StockMove.product_id, StockMove.bin_id, batch, func.sum(StockMove.delta))
            .group_by(StockMove.product_id, StockMove.bin_id, batch))).all()}
        stored = {(r.product_id, r.bin_id, r.batch): r.on_hand
                  for r in await s.scalars(select(StockLevel))}
    assert sums == stored


async def moves(db, reason: str) -> list[StockMove]:
    async with db.read() as s:
        return list(await s.scalars(select(StockMove).where(StockMove.reason == reason)
                                    .order_by(StockMove.at, StockMove.id)))


async def sell(db, cfg, user: StaffUser, *codes: str):
    """One paid sale at counter C1 (the shift opened if needed)."""
    if await shifts.current_shift(db, "C1") is None:
        await shifts.open_shift(db, cfg, "C1", user, 100_000)
    view = await cart.current_cart(db, cfg, "C1", user)
    for code in codes:
        view, _line = await cart.add_scan(db, cfg, "C1", user, view.cart.id, code,
                                          cfg.measure_rules)
    await payment.add_tender(db, cfg, "C1", view.cart.id, "cash", None, given_minor=1_000_000)
    return await payment.complete_sale(db, cfg, "C1", view.cart.id, secrets.token_urlsafe(12),
                                       user)


# ---- receiving ------------------------------------------------------------------------


async def test_two_batches_received_are_two_levels_with_their_expiry(db, products):
    milk = products["MILK"]
    await receive(db, milk, "A-01-1", 10, "L2", TODAY + timedelta(days=9))
    await receive(db, milk, "A-01-1", 6, "L1", TODAY + timedelta(days=2))
    await receive(db, milk, "A-01-1", 4, "L1", None)  # more of L1: keeps its date
    async with db.read() as s:
        stored = {r.batch: (r.expiry, r.on_hand) for r in await s.scalars(
            select(StockLevel).where(StockLevel.product_id == milk.id))}
    assert stored == {"L1": (TODAY + timedelta(days=2), 10), "L2": (TODAY + timedelta(days=9), 10)}
    assert await service.total_on_hand(db, milk.id) == 20
    await ledger_matches_levels(db)


# ---- the till -------------------------------------------------------------------------


async def test_a_sale_takes_the_earliest_expiring_batch_and_never_an_expired_one(
        db, cfg, products, users):
    milk = products["MILK"]
    await receive(db, milk, "A-01-1", 5, "OLD", TODAY - timedelta(days=1))  # expired
    await receive(db, milk, "A-01-2", 2, "SOON", TODAY + timedelta(days=1))
    await receive(db, milk, "A-01-1", 10, "LATER", TODAY + timedelta(days=20))
    await receive(db, milk, "B-01-1", 10, "TODAY", TODAY)  # sellable through today
    await sell(db, cfg, users["cashier"], *[MILK_CODE] * 13)
    taken = {(m.batch, m.delta) for m in await moves(db, "sale")}
    assert taken == {("TODAY", -10), ("SOON", -2), ("LATER", -1)}
    assert await levels(db, milk) == {("A-01-1", "OLD"): 5, ("A-01-1", "LATER"): 9}
    await ledger_matches_levels(db)


async def test_the_till_judges_expiry_by_the_stores_local_date(
        db, cfg, products, users, monkeypatch):
    """At 01:30 in India on 2 December it is still 1 December in UTC: milk that expired
    on 1 December is not sold (the UTC date would still call it sellable)."""
    late = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)  # 2 Dec 01:30 IST
    monkeypatch.setattr(payment, "utcnow", lambda: late)
    monkeypatch.setattr(service, "utcnow", lambda: late)
    milk = products["MILK"]
    await receive(db, milk, "A-01-1", 5, "DEC01", date(2026, 12, 1))
    await receive(db, milk, "A-01-2", 5, "DEC05", date(2026, 12, 5))
    await sell(db, cfg, users["cashier"], MILK_CODE)
    assert {(m.batch, m.delta) for m in await moves(db, "sale")} == {("DEC05", -1)}
    await ledger_matches_levels(db)


async def test_a_sale_beyond_the_sellable_batches_goes_below_zero_without_a_batch(
        db, cfg, products, users):
    """Only expired stock left: the sale is not refused (the goods are in the customer's
    hand) but no expired batch is touched; the shortfall shows up for a count."""
    milk = products["MILK"]
    await receive(db, milk, "A-01-1", 3, "OLD", TODAY - timedelta(days=3))
    await receive(db, milk, "A-01-2", 1, "NEW", TODAY + timedelta(days=3))
    await sell(db, cfg, users["cashier"], MILK_CODE, MILK_CODE)
    assert await levels(db, milk) == {("A-01-1", "OLD"): 3, ("A-01-2", ""): -1}
    await ledger_matches_levels(db)


async def test_a_product_without_batches_sells_from_its_fullest_bin(db, cfg, products, users):
    salt = products["SALT"]
    await receive(db, salt, "A-01-1", 2, None, None)
    await receive(db, salt, "B-01-1", 7, None, None)
    await sell(db, cfg, users["cashier"], SALT_CODE, SALT_CODE)
    assert await levels(db, salt) == {("A-01-1", ""): 2, ("B-01-1", ""): 5}
    await ledger_matches_levels(db)


async def test_a_refund_goes_back_to_the_batch_it_was_sold_from(db, cfg, products, users):
    milk = products["MILK"]
    await receive(db, milk, "A-01-1", 2, "SOON", TODAY + timedelta(days=2))
    await receive(db, milk, "A-01-1", 5, "LATER", TODAY + timedelta(days=30))
    sale = await sell(db, cfg, users["cashier"], MILK_CODE)
    assert await levels(db, milk) == {("A-01-1", "SOON"): 1, ("A-01-1", "LATER"): 5}
    async with db.read() as s:
        from app.pos.models import SaleLine
        line = await s.scalar(select(SaleLine).where(SaleLine.sale_id == sale.id))
    await refunds.refund(db, cfg, "C1", sale.id, [RefundRequest(line.id, 1, "resaleable")],
                         "cash", secrets.token_urlsafe(12), users["manager"])
    (back,) = await moves(db, "refund")
    assert (back.batch, back.expiry, back.delta) == ("SOON", TODAY + timedelta(days=2), 1)
    assert await levels(db, milk) == {("A-01-1", "SOON"): 2, ("A-01-1", "LATER"): 5}
    await ledger_matches_levels(db)


async def test_refunds_of_a_line_that_took_two_batches_give_each_back_what_it_gave(
        db, cfg, products, users):
    """A line of 3 took 2 from SOON and 1 from LATER: a refund gives each batch back at
    most what it gave, the freshest first, so once everything is refunded each batch is
    where it started (before, every piece went into LATER: 6 of a batch of 5)."""
    milk = products["MILK"]
    await receive(db, milk, "A-01-1", 2, "SOON", TODAY + timedelta(days=2))
    await receive(db, milk, "A-01-1", 5, "LATER", TODAY + timedelta(days=30))
    sale = await sell(db, cfg, users["cashier"], MILK_CODE, MILK_CODE, MILK_CODE)
    assert await levels(db, milk) == {("A-01-1", "LATER"): 4}
    async with db.read() as s:
        from app.pos.models import SaleLine
        line = await s.scalar(select(SaleLine).where(SaleLine.sale_id == sale.id))
    for quantity in (2, 1):  # two refunds of the same line
        await refunds.refund(db, cfg, "C1", sale.id,
                             [RefundRequest(line.id, quantity, "resaleable")], "cash",
                             secrets.token_urlsafe(12), users["manager"])
        if quantity == 2:  # the freshest first: LATER's one, then one of SOON's two
            assert await levels(db, milk) == {("A-01-1", "LATER"): 5, ("A-01-1", "SOON"): 1}
    assert await levels(db, milk) == {("A-01-1", "LATER"): 5, ("A-01-1", "SOON"): 2}
    await ledger_matches_levels(db)


# ---- a picked order leaving -------------------------------------------------------------


async def test_a_picked_order_leaving_takes_fefo_in_the_bin_it_was_picked_from(
        db, cfg, products, users):
    bread = products["BREAD"]
    await receive(db, bread, "A-01-1", 3, "B-SOON", TODAY + timedelta(days=1))
    await receive(db, bread, "A-01-1", 5, "B-LATER", TODAY + timedelta(days=5))
    await receive(db, bread, "A-01-1", 4, "B-OLD", TODAY - timedelta(days=1))  # expired
    await receive(db, bread, "B-01-1", 9, "B-OTHER", TODAY + timedelta(days=2))
    picker = users["picker"]
    incoming = orders.OrderIn(
        channel="app", external_id="fefo-1", customer_name="Priya", customer_phone="9876543210",
        address="HSR Layout", pincode="560102",
        promised_by=datetime.now(UTC) + timedelta(minutes=30),
        lines=(orders.LineIn("BREAD", 4),), payment="prepaid", cod_amount_minor=0)
    order = (await orders.receive_order(db, cfg, incoming, "test")).order
    batch = await picking.claim_batch(db, cfg, picker)
    assert batch is not None
    # The planner sends the picker to the bin whose stock expires first: A-01-1 (B-SOON).
    assert [(t.bin_code, t.quantity) for t in batch.tasks] == [("A-01-1", 4)]
    for task in batch.tasks:
        for _ in range(task.quantity):
            await picking.confirm_scan(db, picker, task.id, BREAD_CODE, cfg.measure_rules)
    for _ in range(4):
        await picking.pack_scan(db, order.id, BREAD_CODE, cfg.measure_rules)
    order = await picking.pack(db, cfg, picker, order.id, 1)
    await handover.handover_scan(db, cfg, picker, order.handover_code, confirm=order.number)
    left = {(m.batch, m.delta) for m in await moves(db, "order")}
    assert left == {("B-SOON", -3), ("B-LATER", -1)}
    assert await levels(db, bread) == {("A-01-1", "B-LATER"): 4, ("A-01-1", "B-OLD"): 4,
                                       ("B-01-1", "B-OTHER"): 9}
    await ledger_matches_levels(db)


# ---- counts and write-offs --------------------------------------------------------------


async def test_damaged_and_a_lower_count_take_from_the_bins_batches(db, products, users):
    milk = products["MILK"]
    await receive(db, milk, "A-01-1", 4, "OLD", TODAY - timedelta(days=2))
    await receive(db, milk, "A-01-1", 6, "NEW", TODAY + timedelta(days=6))
    await receive(db, milk, "A-01-2", 6, "ELSEWHERE", TODAY + timedelta(days=1))
    # Damaged: whatever is physically there, expired first (it is the earliest).
    result = await service.adjust(db, product_id=milk.id, bin_code="A-01-1", reason="damaged",
                                  quantity=5, user_id=users["manager"].id)
    assert result.on_hand_in_bin == 5
    assert await levels(db, milk) == {("A-01-1", "NEW"): 5, ("A-01-2", "ELSEWHERE"): 6}
    # A count of 2 in A-01-1 takes 3 from its batches, not from another bin.
    result = await service.adjust(db, product_id=milk.id, bin_code="A-01-1", reason="count",
                                  quantity=2, user_id=users["manager"].id)
    assert result.on_hand_in_bin == 2
    assert await levels(db, milk) == {("A-01-1", "NEW"): 2, ("A-01-2", "ELSEWHERE"): 6}
    # A count above the book figure adds stock without a batch (its date is unknown).
    await service.adjust(db, product_id=milk.id, bin_code="A-01-1", reason="count",
                         quantity=3, user_id=users["manager"].id)
    assert await levels(db, milk) == {("A-01-1", "NEW"): 2, ("A-01-1", ""): 1,
                                      ("A-01-2", "ELSEWHERE"): 6}
    # Counted down to nothing: every batch of the bin goes to zero.
    await service.adjust(db, product_id=milk.id, bin_code="A-01-1", reason="count",
                         quantity=0, user_id=users["manager"].id)
    assert await levels(db, milk) == {("A-01-2", "ELSEWHERE"): 6}
    await ledger_matches_levels(db)


async def test_a_write_off_beyond_the_batches_goes_below_zero_in_that_bin(db, products, users):
    milk = products["MILK"]
    await receive(db, milk, "A-01-1", 2, "NEW", TODAY + timedelta(days=6))
    result = await service.adjust(db, product_id=milk.id, bin_code="A-01-1", reason="damaged",
                                  quantity=3, user_id=users["manager"].id)
    assert result.on_hand_in_bin == -1
    assert await levels(db, milk) == {("A-01-1", ""): -1}
    await ledger_matches_levels(db)


# ---- migration 0013 ---------------------------------------------------------------------


def test_migration_0013_rebuilds_levels_per_batch_from_the_ledger(tmp_path: Path):
    path = tmp_path / "store.db"
    cfg = migrate.alembic_config(path)
    command.upgrade(cfg, "0012")
    con = sqlite3.connect(path)
    con.execute("PRAGMA foreign_keys=ON")
    now = "2026-11-20 10:00:00.000000"
    con.execute("INSERT INTO products (id, sku, name, price_minor, gst_rate_bp, hsn, unit, "
                "pack_size, category, active, reorder_level, updated_at) VALUES "
                "('p1', 'MILK', 'Milk', 3000, 500, '', 'piece', '', '', 1, 0, ?), "
                "('p2', 'SALT', 'Salt', 2800, 500, '', 'piece', '', '', 1, 0, ?)", (now, now))
    con.execute("INSERT INTO bins (id, code, zone, aisle, shelf, pick_seq) VALUES "
                "('b1', 'A-01-1', 'AMBIENT', 'A', '1', 10), ('b2', 'B-01-1', 'AMBIENT', 'B', '1', 20)")
    ledger = [  # product, bin, delta, batch, expiry
        ("p1", "b1", 10, "L1", "2026-12-05"),
        ("p1", "b1", 6, "L2", "2026-12-20"),
        ("p1", "b1", -3, "L1", None),  # a sale that named the batch without its date
        ("p1", "b2", 4, "L1", "2026-12-05"),
        ("p1", "b1", 2, None, None),  # stock without a batch
        ("p2", "b1", 8, None, None),
        ("p2", "b1", -8, None, None),  # sold out: a level of zero
    ]
    for i, (product, bin_, delta, batch, expiry) in enumerate(ledger):
        con.execute("INSERT INTO stock_ledger (id, product_id, bin_id, delta, reason, reference, "
                    "batch, expiry, user_id, at) VALUES (?, ?, ?, ?, 'receive', '', ?, ?, NULL, ?)",
                    (f"m{i}", product, bin_, delta, batch, expiry, now))
    # The old levels: one per product and bin (what 0012 kept), plus one the ledger
    # does not explain (a bin whose moves are gone): it is kept, without a batch.
    con.executemany("INSERT INTO stock_levels (product_id, bin_id, on_hand) VALUES (?, ?, ?)",
                    [("p1", "b1", 15), ("p1", "b2", 4), ("p2", "b1", 0), ("p2", "b2", 5)])
    con.commit()
    con.close()
    migrate.upgrade(path)  # to head, through 0013
    con = sqlite3.connect(path)
    rebuilt = {(p, b, k): (e, q) for p, b, k, e, q in con.execute(
        "SELECT product_id, bin_id, batch, expiry, on_hand FROM stock_levels")}
    tracks = dict(con.execute("SELECT sku, tracks_expiry FROM products"))
    con.close()
    assert rebuilt == {
        ("p1", "b1", "L1"): ("2026-12-05", 7),
        ("p1", "b1", "L2"): ("2026-12-20", 6),
        ("p1", "b1", ""): (None, 2),
        ("p1", "b2", "L1"): ("2026-12-05", 4),
        ("p2", "b1", ""): (None, 0),
        ("p2", "b2", ""): (None, 5),
    }
    assert tracks == {"MILK": 0, "SALT": 0}


# ---- the put-back list ------------------------------------------------------------------


async def test_the_put_back_list_leads_with_the_bin_whose_stock_expires_first(
        db, cfg, products, users):
    """An order cancelled mid-batch: what was picked goes back, products kept by batch
    first, the bin expiring soonest leading, then the rest on the pick path."""
    milk, bread, salt = products["MILK"], products["BREAD"], products["SALT"]
    await receive(db, salt, "A-01-1", 5, None, None)  # first on the path, no dates
    await receive(db, milk, "A-01-2", 5, "M1", TODAY + timedelta(days=9))
    await receive(db, bread, "B-01-1", 5, "B1", TODAY + timedelta(days=1))  # last on the path
    picker = users["picker"]
    incoming = orders.OrderIn(
        channel="app", external_id="put-back-1", customer_name="Priya",
        customer_phone="9876543210", address="HSR Layout", pincode="560102",
        promised_by=datetime.now(UTC) + timedelta(minutes=30),
        lines=(orders.LineIn("SALT", 2), orders.LineIn("MILK", 2), orders.LineIn("BREAD", 2)),
        payment="prepaid", cod_amount_minor=0)
    order = (await orders.receive_order(db, cfg, incoming, "test")).order
    batch = await picking.claim_batch(db, cfg, picker)
    assert batch is not None
    codes = {"SALT": SALT_CODE, "MILK": MILK_CODE, "BREAD": BREAD_CODE}
    for task in batch.tasks:
        await picking.confirm_scan(db, picker, task.id, codes[task.sku], cfg.measure_rules)
    await orders.cancel_order(db, order.id, "test", "customer")
    put_back = await picking.put_back_list(db, picker, cfg.tz)
    assert [(t.sku, t.bin_code) for t in put_back] == [
        ("BREAD", "B-01-1"), ("MILK", "A-01-2"), ("SALT", "A-01-1")]
