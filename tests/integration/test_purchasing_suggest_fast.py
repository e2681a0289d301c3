"""The suggested order's one-statement read (issue #17 speed work) gives exactly what the
plain reads gave: on random stores (products of this supplier and of others, stock in
several bins and batches, negative book stock, purchase orders in every state with case
and piece lines partly received, daily sales with refunds and days outside the window),
`service.suggested_order` equals the rule run on the histories read the simple way (the
products one query, on order one correlated sum per product, the sales one row per
product and day, put in place in Python), field for field, in the same order."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.catalog.csv_io import parse_catalog
from app.catalog.service import import_catalog
from app.core.ids import uuid7
from app.purchasing import service as purchasing
from app.purchasing import states
from app.purchasing.suggest import HISTORY_DAYS, ProductHistory, suggest
from app.stock import sales_days
from app.stock import service as stock

TZ = ZoneInfo("Asia/Kolkata")
STATUSES = ("draft", "sent", "partly_received", "received", "cancelled")

# The read before the one-statement version (kept here as the reference).
_SIMPLE_ITEMS = (
    "SELECT p.id, p.sku, p.name, sp.pack_size, "
    "(SELECT coalesce(sum(l.on_hand), 0) FROM stock_levels AS l WHERE l.product_id = p.id), "
    "(SELECT coalesce(sum(max(0, CASE WHEN ol.unit = 'case' THEN ol.quantity * ol.pack_size "
    "ELSE ol.quantity END - ol.received)), 0) FROM purchase_order_lines AS ol "
    "JOIN purchase_orders AS po ON po.id = ol.po_id "
    "WHERE ol.product_id = p.id AND po.status IN ({on_order})) "
    "FROM supplier_products AS sp JOIN products AS p ON p.id = sp.product_id "
    "WHERE sp.supplier_id = ? ORDER BY p.name")


def simple_histories(raw, supplier_id: str, today: date) -> list[ProductHistory]:
    first = today - timedelta(days=HISTORY_DAYS)
    index = {(first + timedelta(days=i)).isoformat(): i for i in range(HISTORY_DAYS)}
    on_order = ", ".join(f"'{status}'" for status in sorted(states.ON_ORDER))
    items = raw.execute(_SIMPLE_ITEMS.format(on_order=on_order), (supplier_id,)).fetchall()
    sold: dict[str, list[int]] = {}
    for product_id, day, qty in sales_days.read(raw, supplier_id, first, today):
        sold.setdefault(product_id, [0] * HISTORY_DAYS)[index[day]] += qty
    return [ProductHistory(pid, sku, name, pack, int(hand), int(due),
                           tuple(sold.get(pid, [0] * HISTORY_DAYS)))
            for pid, sku, name, pack, hand, due in items]


async def random_store(db, cfg, rng: random.Random, today: date) -> str:
    n = rng.randint(1, 40)
    # Names with ties in case ("apple" / "Apple") and in full, to pin the order too.
    names = [rng.choice(["Atta", "atta", "Besan", "Dal", "dal", "Ghee", "Zeera"])
             + (f" {rng.randint(1, 5)}" if rng.random() < 0.7 else "") for _ in range(n)]
    await import_catalog(db, parse_catalog(
        "sku,name,price,gst_rate\n" + "".join(f"R{i},{name},10,5\n"
                                              for i, name in enumerate(names)),
        cfg.measure_rules))
    await stock.load_bins_csv(db, "code,zone,aisle,shelf,pick_seq\nA-01,AMBIENT,A,1,10\n"
                                  "B-01,AMBIENT,B,1,20\nC-01,COLD,C,1,30\n")
    sid = await purchasing.save_supplier(db, purchasing.SupplierFields(
        name="Random Traders", gstin="", phone="", lead_time_days=rng.randint(0, 9)))
    ours = [i for i in range(n) if rng.random() < 0.8] or [0]
    for i in ours:
        await purchasing.set_item(db, sid, f"R{i}", rng.randint(100, 90000),
                                  rng.choice((1, 6, 12, 24)))
    first = today - timedelta(days=HISTORY_DAYS)
    await sales_days.ensure(db, TZ, first - timedelta(days=5), today)
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    async with db.write() as s:
        raw = sales_days.raw_of(s)
        products = dict(raw.execute("SELECT sku, id FROM products WHERE sku LIKE 'R%'"))
        bins = [b for (b,) in raw.execute("SELECT id FROM bins ORDER BY code")]
        for i in range(n):
            pid = products[f"R{i}"]
            for bin_id in rng.sample(bins, k=rng.randint(0, len(bins))):
                for batch in rng.sample(["", "B1", "B2"], k=rng.randint(1, 2)):
                    raw.execute("INSERT INTO stock_levels (product_id, bin_id, batch, expiry, "
                                "on_hand) VALUES (?, ?, ?, NULL, ?)",
                                (pid, bin_id, batch, rng.randint(-20, 300)))
            # Sales on random days: before the window, in it, today (not counted), and
            # refunds outweighing sales on some days; a 0 row (never written by the
            # till, but harmless) on some.
            for d in rng.sample(range(-3, HISTORY_DAYS + 1), k=rng.randint(0, 20)):
                raw.execute("INSERT INTO sales_days (product_id, day, sold) VALUES (?, ?, ?)",
                            (pid, (first + timedelta(days=d)).isoformat(),
                             rng.choice((0, -2, 1, 1, 3, 7, 40, 2**31))))
        for number in range(1, rng.randint(1, 6)):
            po_id = uuid7()
            raw.execute("INSERT INTO purchase_orders (id, number, supplier_id, status, "
                        "expected_on, created_by, created_at, updated_at) "
                        "VALUES (?, ?, ?, ?, NULL, NULL, ?, ?)",
                        (po_id, number + 1000, sid, rng.choice(STATUSES), now, now))
            for i in rng.sample(range(n), k=rng.randint(0, n)):
                unit, pack = rng.choice((("case", rng.choice((6, 12))), ("piece", 1)))
                quantity = rng.randint(1, 9)
                raw.execute("INSERT INTO purchase_order_lines (id, po_id, product_id, "
                            "quantity, unit, pack_size, case_cost_minor, received) "
                            "VALUES (?, ?, ?, ?, ?, ?, 1000, ?)",
                            (uuid7(), po_id, products[f"R{i}"], quantity, unit, pack,
                             rng.randint(0, quantity * pack + 5)))
    return sid


@pytest.mark.parametrize("seed", range(8))
async def test_one_statement_read_equals_the_simple_reads(db, cfg, seed):
    rng = random.Random(seed)
    today = datetime.now(UTC).astimezone(TZ).date()
    sid = await random_store(db, cfg, rng, today)
    now = datetime.combine(today, time(15), TZ).astimezone(UTC)
    for cover in (1, 7, 45):
        got = await purchasing.suggested_order(db, sid, cover_days=cover, tz=TZ, now=now)
        async with db.read() as s:
            histories = simple_histories(sales_days.raw_of(s), sid, today)
        want = suggest(histories, today=today, lead_time_days=got.supplier.lead_time_days,
                       cover_days=cover)
        assert got.rows == want
        assert len(got.rows) == len(histories) > 0


@given(st.dictionaries(st.integers(0, HISTORY_DAYS - 1),
                       st.integers(-(2**62), 2**62).filter(bool)))
def test_unpack_puts_each_day_in_its_place(sold):
    first = date(2026, 2, 10)
    index = {(first + timedelta(days=i)).isoformat(): i for i in range(HISTORY_DAYS)}
    packed = ",".join(f"{(first + timedelta(days=d)).isoformat()},{q}"
                      for d, q in sold.items()) or None
    want = [sold.get(i, 0) for i in range(HISTORY_DAYS)]
    assert sales_days.unpack(packed, index, HISTORY_DAYS) == want
