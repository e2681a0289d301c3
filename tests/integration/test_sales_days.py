"""The daily sales rollup (app/stock/sales_days.py, issue #17) equals the ledger: after
random till sales (several lines, several batches), refunds, online order picks and moves
that are not sales (receipts, counts), in several time zones and around local midnights
and clock changes, sales_days holds exactly minus the sum of the sale, order and refund
moves per product and local day, and a rebuild from the ledger gives the same table."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

import app.stock.service as stock
from app.catalog.csv_io import parse_catalog
from app.catalog.models import Product
from app.catalog.service import import_catalog
from app.purchasing import service as purchasing
from app.stock import sales_days
from app.stock.models import Bin

ZONES = ("Asia/Kolkata", "Europe/London", "Asia/Kathmandu", "America/New_York")
# Days around London's and New York's clock changes (25 Oct, 1 Nov 2026).
DAYS = [date(2026, 10, 20) + timedelta(days=i) for i in range(16)]


@pytest.fixture
async def shop(db, cfg):
    rows = "".join(f"P{i},Product {i},10,5\n" for i in range(1, 5))
    await import_catalog(db, parse_catalog("sku,name,price,gst_rate\n" + rows,
                                           cfg.measure_rules))
    await stock.load_bins_csv(db, "code,zone,aisle,shelf,pick_seq\nA-01,AMBIENT,A,1,10\n"
                                  "B-01,AMBIENT,B,1,20\n")
    async with db.read() as s:
        products = list(await s.scalars(select(Product).order_by(Product.sku)))
        bins = list(await s.scalars(select(Bin).order_by(Bin.code)))
    return products, bins


def ledger_sales(raw, tz: ZoneInfo) -> dict[tuple[str, str], int]:
    """What the suggested order counted before the rollup: the ledger summed in Python."""
    out: dict[tuple[str, str], int] = defaultdict(int)
    for product_id, at, delta in raw.execute(
            "SELECT product_id, at, delta FROM stock_ledger WHERE reason IN (?, ?, ?)",
            sales_days.SALE_REASONS):
        day = datetime.fromisoformat(at).astimezone(tz).date().isoformat()
        out[(product_id, day)] -= delta
    return {k: v for k, v in out.items() if v}


def rollup(raw) -> dict[tuple[str, str], int]:
    return {(p, d): n for p, d, n in raw.execute(
        "SELECT product_id, day, sold FROM sales_days WHERE sold <> 0")}


op_st = st.tuples(
    st.sampled_from(["sale", "sale", "refund", "order", "receive", "count"]),
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1), st.integers(1, 5),
                       st.sampled_from(["", "", "B1", "B2"])), min_size=1, max_size=4),
    st.sampled_from(DAYS),
    # minutes from local midnight: right around it, or any time of the day
    st.one_of(st.integers(-3, 3), st.integers(0, 24 * 60 - 1)),
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(zone=st.sampled_from(ZONES), ops=st.lists(op_st, min_size=1, max_size=12))
async def test_the_rollup_equals_the_ledger(db, shop, monkeypatch, zone, ops):
    products, bins = shop
    tz = ZoneInfo(zone)
    # The zone asked for: built (or rebuilt from the ledger written by earlier examples).
    await sales_days.ensure(db, tz, DAYS[0], DAYS[-1])
    for reason, lines, day, minutes in ops:
        at = (datetime.combine(day, time(), tz) + timedelta(minutes=minutes)).astimezone(UTC)
        monkeypatch.setattr(stock, "utcnow", lambda at=at: at)
        async with db.write() as s:
            if reason == "sale":  # the till: record_moves, one call for the whole bill
                moves = [stock.SaleMove(products[p].id, products[p].sku, bins[b].id,
                                        bins[b].code, -q, batch)
                         for p, b, q, batch in lines]
                await stock.record_moves(s, moves, reason="sale", reference="S1-000001")
            else:  # refunds, pickers' orders, receipts and counts: record_move
                sign = -1 if reason == "order" else 1
                for p, b, q, batch in lines:
                    await stock.record_move(s, product=products[p], bin=bins[b],
                                            delta=sign * q, reason=reason, batch=batch or None)
    async with db.read() as s:
        raw = sales_days.raw_of(s)
        assert rollup(raw) == ledger_sales(raw, tz)
    async with db.write() as s:  # a rebuild from the ledger finds the same
        raw = sales_days.raw_of(s)
        before = rollup(raw)
        sales_days.rebuild(raw, zone, DAYS[-1])
        assert rollup(raw) == before


async def test_a_sale_outside_the_calendar_is_counted_once_asked_for(db, shop, monkeypatch):
    """The calendar spans a year back to five ahead: a sale made with the clock beyond it
    (a clock gone wrong) is not in the rollup until a suggested order asks for its days,
    which rebuilds from the ledger; a store set to another zone gets its days rebuilt."""
    products, bins = shop
    tz = ZoneInfo("Asia/Kolkata")
    far = datetime(2040, 3, 1, 12, tzinfo=UTC)
    monkeypatch.setattr(stock, "utcnow", lambda: far)
    async with db.write() as s:
        await stock.record_move(s, product=products[0], bin=bins[0], delta=-3, reason="sale")
    async with db.read() as s:
        assert rollup(sales_days.raw_of(s)) == {}
    await sales_days.ensure(db, tz, date(2040, 2, 1), date(2040, 3, 2))
    async with db.read() as s:
        raw = sales_days.raw_of(s)
        assert rollup(raw) == {(products[0].id, "2040-03-01"): 3} == ledger_sales(raw, tz)
    await sales_days.ensure(db, ZoneInfo("America/New_York"), date(2040, 2, 1),
                            date(2040, 3, 2))
    async with db.read() as s:
        raw = sales_days.raw_of(s)
        assert raw.execute("SELECT tz FROM sales_days_zone").fetchone() == (
            "America/New_York",)
        assert rollup(raw) == {(products[0].id, "2040-03-01"): 3}


async def test_the_suggested_order_reads_the_rollup(db, shop, monkeypatch):
    """A refund on a later day counts on the refund's day; an online order pick counts;
    a receipt does not; the suggested order sees the sales of the 28 days before today."""
    products, bins = shop
    tz = ZoneInfo("Asia/Kolkata")
    sid = await purchasing.save_supplier(db, purchasing.SupplierFields(
        name="Rollup Traders", gstin="", phone="", lead_time_days=2))
    await purchasing.set_item(db, sid, products[0].sku, 12000, 1)
    today = date(2026, 11, 30)
    for day, reason, delta in [(date(2026, 11, 2), "sale", -7),
                               (date(2026, 11, 29), "order", -2),
                               (date(2026, 11, 29), "refund", 1),
                               (date(2026, 11, 20), "receive", 50),
                               (date(2026, 11, 1), "sale", -100),  # before the window
                               (today, "sale", -40)]:  # today: not over yet
        at = datetime.combine(day, time(12), tz).astimezone(UTC)
        monkeypatch.setattr(stock, "utcnow", lambda at=at: at)
        async with db.write() as s:
            await stock.record_move(s, product=products[0], bin=bins[0], delta=delta,
                                    reason=reason)
    now = datetime.combine(today, time(15), tz).astimezone(UTC)
    result = await purchasing.suggested_order(db, sid, cover_days=7, tz=tz, now=now)
    (row,) = result.rows
    # 7 + 2 - 1 = 8 in the 28 days, 1 of them in the last 14: (2 * 1/14 + 8/28) / 3
    assert row.per_day == Fraction(1, 7)
    assert row.on_hand == -7 - 2 + 1 + 50 - 100 - 40
