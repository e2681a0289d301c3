"""The sales report read from the rollup equals the report read from the raw rows (issue
#18, app/reports/sales_rollup.py), to the paisa, after random writes through every path
that writes bills and refunds: the till (app.pos.payment, pieces and loose items, line
and bill discounts, three tenders), refunds (app.pos.refunds), a bulk insert around the
app (as bench/report_data.py and a restored export do; inter-state IGST lines), and an
operator's SQL: a bill moved to another time, a bill's total corrected, a line's product
changed under its refund, a refund deleted. Times cross local midnights, and a second
test runs a zone with daylight saving across its change. The rollup must also equal a
build from scratch, row for row.
"""

from __future__ import annotations

import itertools
import sqlite3
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.pos import shifts
from app.reports import sales as sales_report
from app.reports import sales_rollup
from app.reports.sales_rules import DateRange
from tests.integration import test_sales_report_z as z

store = z.store  # the fixture: a catalogue, staff and a clock the services read
_sell, _refund, sale_st, refund_st = z._sell, z._refund, z.sale_st, z.refund_st

bulk_st = st.tuples(st.integers(0, 10**6), st.integers(1, 5), st.integers(1, 90_000),
                    st.booleans())  # product, quantity, net paise, inter-state
write_st = st.one_of(
    st.tuples(st.just("sale"), sale_st),
    st.tuples(st.just("refund"), refund_st),
    st.tuples(st.just("bulk"), bulk_st),
    st.tuples(st.just("move"), st.tuples(st.integers(0, 10**6), st.integers(-3000, 3000))),
    st.tuples(st.just("fix"), st.tuples(st.integers(0, 10**6), st.integers(-500, 500))),
    st.tuples(st.just("reline"), st.tuples(st.integers(0, 10**6), st.integers(0, 10**6))),
    st.tuples(st.just("unrefund"), st.integers(0, 10**6)),
)


_NUMBERS = itertools.count(10_000_000)  # keys and numbers never repeat within a run


def _sql(cfg) -> sqlite3.Connection:
    """An operator's connection (no foreign keys, as bench/report_data.py writes)."""
    return sqlite3.connect(cfg.database_path, isolation_level=None)


def _pick(con: sqlite3.Connection, query: str, n: int) -> tuple | None:
    rows = con.execute(query).fetchall()
    return rows[n % len(rows)] if rows else None


def _bulk(cfg, spec, at: datetime, n: int) -> None:
    pick, qty, net, inter = spec
    con = _sql(cfg)
    try:
        pid, rate = _pick(con, "SELECT id, gst_rate_bp FROM products ORDER BY id", pick)
        tax = net * rate // (10_000 + rate)
        sale_id = str(uuid.uuid4())
        stamp = at.astimezone(UTC).isoformat(timespec="microseconds")
        con.execute("BEGIN")
        con.execute("INSERT INTO sales (id, number, idempotency_key, cart_id, shift_id, counter,"
                    " cashier_id, at, customer_phone, gross_minor, discount_minor,"
                    " rounding_minor, total_minor, tax_minor, change_minor, receipt_token)"
                    " VALUES (?, ?, ?, ?, 'bulk-shift', 'C9', 'bulk-user', ?, '', ?, 0, 0, ?,"
                    " ?, 0, ?)", (sale_id, f"B-{n}", f"bulk-{n}", f"cart-{n}", stamp, net,
                                  net, tax, f"tok-{n}"))
        con.execute("INSERT INTO sale_lines (id, sale_id, position, product_id, sku, name, hsn,"
                    " unit, quantity, unit_price_minor, gross_minor, discount_minor, net_minor,"
                    " gst_rate_bp, tax_minor, cgst_minor, sgst_minor, igst_minor)"
                    " VALUES (?, ?, 0, ?, 'X', 'bulk', '', 'piece', ?, ?, ?, 0, ?, ?, ?, ?, ?,"
                    " ?)", (str(uuid.uuid4()), sale_id, pid, qty, net // qty, net, net, rate,
                            tax, 0 if inter else tax // 2, 0 if inter else tax - tax // 2,
                            tax if inter else 0))
        con.execute("INSERT INTO sale_tenders (id, sale_id, position, kind, amount_minor,"
                    " reference) VALUES (?, ?, 0, 'card', ?, 'bulk')",
                    (str(uuid.uuid4()), sale_id, net))
        con.execute("COMMIT")
    finally:
        con.close()


def _operator(cfg, kind: str, spec) -> None:
    con = _sql(cfg)
    try:
        if kind == "move":
            row = _pick(con, "SELECT id, at FROM sales ORDER BY id", spec[0])
            if row:
                at = datetime.fromisoformat(row[1]) + timedelta(minutes=spec[1])
                con.execute("UPDATE sales SET at = ? WHERE id = ?",
                            (at.isoformat(timespec="microseconds"), row[0]))
        elif kind == "fix":
            row = _pick(con, "SELECT id FROM sales ORDER BY id", spec[0])
            if row:
                con.execute("UPDATE sales SET total_minor = total_minor + ?, "
                            "rounding_minor = rounding_minor + ? WHERE id = ?",
                            (spec[1], spec[1], row[0]))
        elif kind == "reline":
            line = _pick(con, "SELECT id FROM sale_lines ORDER BY id", spec[0])
            product = _pick(con, "SELECT id, gst_rate_bp FROM products ORDER BY id", spec[1])
            if line and product:
                con.execute("UPDATE sale_lines SET product_id = ?, gst_rate_bp = ? WHERE id = ?",
                            (product[0], product[1], line[0]))
        elif kind == "unrefund":
            row = _pick(con, "SELECT id FROM refunds ORDER BY id", spec)
            if row:
                con.execute("BEGIN")
                con.execute("DELETE FROM refund_lines WHERE refund_id = ?", (row[0],))
                con.execute("DELETE FROM refunds WHERE id = ?", (row[0],))
                con.execute("COMMIT")
    finally:
        con.close()


def _tables(cfg) -> dict[str, set[tuple]]:
    """The rollup's rows, leaving out rows whose counts all went back to nothing."""
    con = _sql(cfg)
    try:
        return {
            "products": set(con.execute("SELECT * FROM sales_product_days "
                                        "WHERE lines <> 0 OR back_lines <> 0")),
            "hours": set(con.execute("SELECT * FROM sales_hour_days "
                                     "WHERE bills <> 0 OR refunds <> 0")),
            "people": set(con.execute("SELECT * FROM sales_people_days "
                                      "WHERE bills <> 0 OR refunds <> 0")),
            "tenders": set(con.execute("SELECT * FROM sales_tender_days "
                                       "WHERE taken_n <> 0 OR given_n <> 0")),
        }
    finally:
        con.close()


def _rebuilt(cfg, tz_name: str) -> dict[str, set[tuple]]:
    con = _sql(cfg)
    try:
        con.execute("BEGIN")
        sales_rollup.rebuild(con, tz_name, date(2026, 3, 1))
        con.execute("COMMIT")
    finally:
        con.close()
    return _tables(cfg)


async def _open(db, cfg, s) -> None:
    users = s["users"]
    for counter, who in (("C1", "cashier"), ("C2", "manager")):
        if await shifts.current_shift(db, counter) is None:
            await shifts.open_shift(db, cfg, counter, users[who], 10_000)


async def _run(db, cfg, s, writes, step_minutes, tz) -> tuple[date, date]:
    clock = s["clock"]
    first = clock.now.astimezone(tz).date()
    for (kind, spec), minutes in zip(writes, step_minutes, strict=False):
        n = next(_NUMBERS)
        clock.now += timedelta(minutes=minutes)
        await _open(db, cfg, s)
        if kind == "sale":
            await _sell(db, cfg, s, spec, n)
        elif kind == "refund":
            if s["sales"]:
                await _refund(db, cfg, s, spec, n)
        elif kind == "bulk":
            _bulk(cfg, spec, clock.now, n)
        else:
            _operator(cfg, kind, spec)
    return first, clock.now.astimezone(tz).date()


async def _same(db, tz, first: date, last: date) -> None:
    ranges = [DateRange(first, last)] + [DateRange(d, d) for d in DateRange(first, last).dates()]
    for r in ranges:
        rolled = await sales_report.sales_report(db, r, tz)
        raw = await sales_report.sales_report(db, r, tz, rolled=False)
        assert rolled == raw, r


SETTINGS = settings(max_examples=10, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@SETTINGS
@given(writes=st.lists(write_st, min_size=1, max_size=10),
       steps=st.lists(st.integers(1, 600), min_size=10, max_size=10))
async def test_rollup_report_equals_raw_report_after_random_writes(cfg, db, store, writes,
                                                                   steps):
    s = store
    s["clock"].now += timedelta(days=1)
    first, last = await _run(db, cfg, s, writes, steps, cfg.tz)
    await _same(db, cfg.tz, first - timedelta(days=3), last + timedelta(days=3))
    kept = _tables(cfg)
    assert kept == _rebuilt(cfg, str(cfg.tz))


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(writes=st.lists(write_st, min_size=1, max_size=8),
       steps=st.lists(st.integers(1, 300), min_size=8, max_size=8))
async def test_a_zone_with_daylight_saving_is_rebuilt_and_kept(cfg, db, store, writes, steps):
    """The report asked in another zone (New York changes its clocks on 2026-03-08)
    rebuilds the rollup for it; later writes keep it; both readings agree across the
    change."""
    tz = ZoneInfo("America/New_York")
    s = store
    s["clock"].now = datetime(2026, 3, 7, 20, 0, tzinfo=tz).astimezone(UTC)
    await sales_report.sales_report(db, DateRange(date(2026, 3, 7), date(2026, 3, 7)), tz)
    first, last = await _run(db, cfg, s, writes, steps, tz)
    await _same(db, tz, first - timedelta(days=1), last + timedelta(days=1))
    assert _tables(cfg) == _rebuilt(cfg, "America/New_York")


async def test_the_comparison_sees_a_write_the_rollup_missed(cfg, db, store):
    """Guard for the tests above: with one trigger dropped, a bill's tender is missed and
    the two readings differ."""
    s = store
    s["clock"].now += timedelta(days=40)
    con = _sql(cfg)
    con.execute("DROP TRIGGER trg_rollup_sale_tenders_ins")
    con.close()
    first, last = await _run(db, cfg, s, [("sale", ([(0, 1)], None, None, None, "upi", False))],
                             [5], cfg.tz)
    with pytest.raises(AssertionError):
        await _same(db, cfg.tz, first, last)


async def test_a_store_in_another_zone_is_rebuilt_once(cfg, db, store):
    s = store
    await _run(db, cfg, s, [("sale", ([(1, 2)], None, None, None, "cash", False))], [5],
               cfg.tz)
    con = _sql(cfg)
    con.execute("UPDATE sales_report_zone SET tz = 'Europe/London'")
    con.close()
    day = s["clock"].now.astimezone(cfg.tz).date()
    report = await sales_report.sales_report(db, DateRange(day, day), cfg.tz)
    assert report.totals.bills == 1 and len(report.products) == 1
    con = _sql(cfg)
    assert con.execute("SELECT tz FROM sales_report_zone").fetchone() == (str(cfg.tz),)
    con.close()


def test_the_migration_backfills_existing_bills_and_its_downgrade_drops_it(tmp_path):
    """Bills written before 0022 are in the rollup after the upgrade (for the default
    zone); the downgrade takes the tables and triggers away; upgrading again rebuilds."""
    from alembic import command

    from app.core import migrate

    path = tmp_path / "store.db"
    migrate.upgrade(path)
    cfg_alembic = migrate.alembic_config(path)
    command.downgrade(cfg_alembic, "0021")

    class Cfg:
        database_path = path

    con = _sql(Cfg)
    con.execute("INSERT INTO products (id, sku, name, price_minor, gst_rate_bp, hsn, unit,"
                " pack_size, category, active, reorder_level, updated_at, tracks_expiry)"
                " VALUES ('p1', 'P1', 'P', 100, 500, '', 'piece', '', '', 1, 0, '', 0)")
    left = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE name LIKE "
                                      "'trg_rollup%' OR name LIKE 'sales_%_days'")}
    con.close()
    assert left == set()
    # 23:30 UTC on 1 Dec is 05:00 on 2 Dec in India: the local day counts
    _bulk(Cfg, (0, 2, 11_800, True), datetime(2026, 12, 1, 23, 30, tzinfo=UTC), 1)
    command.upgrade(cfg_alembic, "head")
    con = _sql(Cfg)
    rows = con.execute("SELECT day, product_id, inter, qty, lines, net, tax "
                       "FROM sales_product_days").fetchall()
    hours = con.execute("SELECT day, hour, bills, total FROM sales_hour_days").fetchall()
    con.close()
    assert rows == [("2026-12-02", "p1", 1, 2, 1, 11_800, 11_800 * 500 // 10_500)]
    assert hours == [("2026-12-02", 5, 1, 11_800)]
