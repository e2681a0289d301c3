"""GSTR-1 against the Z reports on a real SQLite file (issue #18, GST returns data).

Random days of sales (retail bills, tax invoices to buyers in the store's state and in
another state, loose items, line and bill discounts) and refunds go through the real
services (app.pos) with the clock pinned; some days' last shift runs past midnight, and
the days run from late November into December 2026, so shifts cross the month's end.
After every day the GSTR-1 of each month touched must agree with the Z reports to the
paisa (app/reports/gstr1_data.reconcile), and, with every shift closed, the two months'
returns together must equal the sum of every Z report with no adjustment at all.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from app.catalog.barcodes import make_variable_barcode
from app.catalog.csv_io import parse_catalog
from app.catalog.service import import_catalog
from app.config import StoreConfig
from app.core.auth import StaffUser
from app.core.db import Database
from app.core.gstr1 import Figures
from app.pos import cart, discounts, payment, priced_cart, refunds, shifts
from app.pos.models import SaleLine, Shift
from app.pos.pricing import Discount
from app.pos.refunds import RefundRequest
from app.pos.till_rules import NeedsApproval, PosError
from app.reports import gstr1_data
from app.stock import service as stock_service
from tests.conftest import STAFF

CATALOG_CSV = (Path(__file__).resolve().parents[2] / "store_config" / "demo_catalog.csv"
               ).read_text()
FIRST_DAY = date(2026, 11, 27)
OTHER_STATE = "27AAPFU0939F1ZV"  # Maharashtra; the test store is in Karnataka (29)
SAME_STATE = "29AAPFU0939F1ZR"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, minutes: int = 7) -> None:
        self.now += timedelta(minutes=minutes)


@pytest.fixture
async def store(cfg: StoreConfig, db: Database, staff: dict[str, str], monkeypatch):
    parsed = parse_catalog(CATALOG_CSV, cfg.measure_rules)
    await import_catalog(db, parsed)
    clock = Clock()
    for module in (cart, payment, refunds, shifts, priced_cart, stock_service):
        monkeypatch.setattr(module, "utcnow", clock)
    users = {role: StaffUser(uid, STAFF[role][0], role) for role, uid in staff.items()}
    rule = next(r for r in cfg.measure_rules if r.kind == "weight")
    pieces = [r.barcodes[0] for r in parsed.rows if r.unit == "piece" and r.active
              and r.barcodes][:15]
    loose = [r.barcodes[0][2:7] for r in parsed.rows if r.unit == "kg" and r.active
             and r.barcodes and r.barcodes[0].startswith(rule.prefix)][:3]
    assert len(pieces) == 15 and loose
    return {"clock": clock, "users": users, "rule": rule, "pieces": pieces, "loose": loose,
            "days": itertools.count(), "sales": [], "n": itertools.count(1)}


sale_st = st.tuples(
    st.lists(st.tuples(st.integers(0, 14), st.integers(1, 3)), min_size=1, max_size=4),
    st.one_of(st.none(), st.integers(50, 4000)),  # one loose item, grams
    st.one_of(st.none(), st.integers(1, 300)),  # a line discount, paise
    st.one_of(st.none(), st.tuples(st.sampled_from(["percent", "amount"]),
                                   st.integers(1, 500))),  # a bill discount
    st.sampled_from(["", "", SAME_STATE, OTHER_STATE]),  # the buyer: retail or registered
    st.booleans(),  # counter C2 (the manager) instead of C1
)
refund_st = st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(1, 3))


async def sell(db, cfg, s, spec) -> None:
    items, grams, line_off, bill_off, buyer, second = spec
    counter = "C2" if second else "C1"
    user = s["users"]["manager" if second else "cashier"]
    manager = s["users"]["manager"]
    view = await cart.current_cart(db, cfg, counter, user)
    for index, qty in items:
        for _ in range(qty):
            view, _line = await cart.add_scan(db, cfg, counter, user, view.cart.id,
                                              s["pieces"][index], cfg.measure_rules)
    if grams:
        code = make_variable_barcode(s["rule"], s["loose"][grams % len(s["loose"])], grams)
        view, _line = await cart.add_scan(db, cfg, counter, user, view.cart.id, code,
                                          cfg.measure_rules)
    try:
        if line_off:
            view = await discounts.set_line_discount(
                db, cfg, counter, view.cart.id, view.cart.lines[0].id,
                Discount("amount", line_off), user, manager)
        if bill_off:
            kind, value = bill_off
            view = await discounts.set_bill_discount(
                db, cfg, counter, view.cart.id,
                Discount(kind, value if kind == "amount" else value * 3), user, manager)
    except (PosError, NeedsApproval):
        view = await cart.current_cart(db, cfg, counter, user)
    if buyer:
        view = await cart.set_buyer(db, cfg, counter, view.cart.id, buyer, "Sharma Traders",
                                    "14 MG Road")
    await payment.add_tender(db, cfg, counter, view.cart.id, "cash", None,
                             given_minor=10_000_000)
    done = await payment.complete_sale(db, cfg, counter, view.cart.id,
                                       f"sale-{next(s['n']):08d}", user)
    s["sales"].append(done.id)


async def refund_some(db, cfg, s, spec) -> None:
    pick_sale, pick_line, qty = spec
    if not s["sales"]:
        return
    sale_id = s["sales"][pick_sale % len(s["sales"])]
    lines = [r for r in await refunds.refundable_lines(db, sale_id) if r.refundable_quantity > 0]
    if not lines:
        return
    line = lines[pick_line % len(lines)]
    manager = s["users"]["manager"]
    quantity = (min(qty, line.refundable_quantity) if line.line.unit == "piece"
                else line.refundable_quantity)
    await refunds.refund(db, cfg, "C1", sale_id,
                         [RefundRequest(line.line.id, quantity, "resaleable")],
                         "cash", f"refund-{next(s['n']):08d}", manager, manager, "")


async def all_z(db: Database, cfg: StoreConfig) -> Figures:
    async with db.read() as session:
        ids = list(await session.scalars(select(Shift.id).where(Shift.closed_at.is_not(None))))
    total = Figures()
    for sid in ids:
        z = await shifts.shift_report(db, sid, cfg)
        total = total + Figures(sum(r.taxable for r in z.tax_rows),
                                sum(r.tax for r in z.tax_rows))
    return total


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sales=st.lists(sale_st, min_size=0, max_size=5),
       late=st.lists(sale_st, max_size=2),  # sold around midnight, in a shift left open
       refunds_spec=st.lists(refund_st, max_size=3))
async def test_gstr1_agrees_with_the_z_reports_to_the_paisa(cfg, db, store, sales, late,
                                                             refunds_spec):
    s = store
    users = s["users"]
    clock: Clock = s["clock"]
    day = FIRST_DAY + timedelta(days=next(s["days"]))
    clock.now = datetime.combine(day, time(7, 30), cfg.tz).astimezone(UTC)
    for counter in ("C1", "C2"):  # last example's shift still open: close it this morning
        left_open = await shifts.current_shift(db, counter)
        if left_open is not None:
            await shifts.close_shift(db, cfg, left_open.id, users["manager"], {})
    opened = {"C1": await shifts.open_shift(db, cfg, "C1", users["cashier"], 100_000),
              "C2": await shifts.open_shift(db, cfg, "C2", users["manager"], 50_000)}
    for spec in sales:
        clock.tick()
        await sell(db, cfg, s, spec)
    for spec in refunds_spec:  # of today's bills or an earlier day's
        clock.tick()
        await refund_some(db, cfg, s, spec)
    clock.tick()
    await shifts.close_shift(db, cfg, opened["C2"].id, users["manager"], {})
    if late:  # C1 sells on past midnight; its shift closes the next morning
        clock.now = datetime.combine(day, time(23, 50), cfg.tz).astimezone(UTC)
        for spec in late:
            clock.tick(9)
            await sell(db, cfg, s, (*spec[:5], False))
    else:
        await shifts.close_shift(db, cfg, opened["C1"].id, users["manager"], {})
    for year, month in ((2026, 11), (2026, 12)):
        ret, rec = await gstr1_data.month_report(db, cfg, year, month)
        assert rec.difference == {"taxable": 0, "tax": 0, "total": 0}, (year, month, rec)
        assert ret.hsn_figures == ret.supplies
    if not late:  # every shift closed: the two months' returns are all the Z reports
        nov = await gstr1_data.load_month(db, cfg, 2026, 11)
        dec = await gstr1_data.load_month(db, cfg, 2026, 12)
        assert nov.documents + dec.documents == await all_z(db, cfg)


# ---- a shift open across midnight at the month's end ----------------------------------


async def test_a_shift_across_midnight_at_month_end_counts_each_bill_by_its_date(cfg, db, store):
    s = store
    clock: Clock = s["clock"]
    users = s["users"]
    clock.now = datetime(2026, 11, 30, 20, 0, tzinfo=cfg.tz).astimezone(UTC)
    shift = await shifts.open_shift(db, cfg, "C1", users["cashier"], 0)
    clock.now = datetime(2026, 11, 30, 23, 55, tzinfo=cfg.tz).astimezone(UTC)
    await sell(db, cfg, s, ([(0, 2)], None, None, None, "", False))
    clock.now = datetime(2026, 12, 1, 0, 5, tzinfo=cfg.tz).astimezone(UTC)
    await sell(db, cfg, s, ([(1, 1)], None, None, None, OTHER_STATE, False))
    nov = await gstr1_data.load_month(db, cfg, 2026, 11)
    dec = await gstr1_data.load_month(db, cfg, 2026, 12)
    assert [d.total for d in nov.docs] == [1] and len(dec.b2b) == 1 and not nov.b2b
    open_nov = await gstr1_data.reconcile(db, cfg, 2026, 11)
    assert open_nov.ok and open_nov.z_count == 0 and open_nov.later_shifts == (shift.number,)
    clock.now = datetime(2026, 12, 1, 0, 30, tzinfo=cfg.tz).astimezone(UTC)
    z = await shifts.close_shift(db, cfg, shift.id, users["manager"], {})
    rec_nov = await gstr1_data.reconcile(db, cfg, 2026, 11)
    rec_dec = await gstr1_data.reconcile(db, cfg, 2026, 12)
    assert rec_nov.ok and rec_nov.carried_out == nov.documents and rec_nov.z_count == 0
    assert rec_dec.ok and rec_dec.z_count == 1 and rec_dec.carried_in == nov.documents
    whole = Figures(sum(r.taxable for r in z.tax_rows), sum(r.tax for r in z.tax_rows))
    assert nov.documents + dec.documents == whole == rec_dec.z_reports


async def test_older_odd_gst_shows_as_a_difference(cfg, db, store):
    """Lines written before the equal-halves rule may hold an odd GST: the Z report
    halves the shift's sum, the return each bill's; the check shows the paisa."""
    s = store
    s["clock"].now = datetime(2026, 11, 10, 9, 0, tzinfo=cfg.tz).astimezone(UTC)
    shift = await shifts.open_shift(db, cfg, "C1", s["users"]["cashier"], 0)
    await sell(db, cfg, s, ([(0, 1)], None, None, None, "", False))
    await sell(db, cfg, s, ([(0, 1)], None, None, None, "", False))
    async with db.write() as session:
        await session.execute(update(SaleLine).values(tax_minor=SaleLine.tax_minor + 1))
    s["clock"].tick()
    await shifts.close_shift(db, cfg, shift.id, s["users"]["manager"], {})
    rec = await gstr1_data.reconcile(db, cfg, 2026, 11)
    assert not rec.ok and rec.difference["total"] == 0
    assert rec.difference["tax"] == -2 and rec.difference["taxable"] == 2


async def test_an_empty_month_is_valid_and_agrees(cfg, db, store):
    ret, rec = await gstr1_data.month_report(db, cfg, 2026, 10)
    assert ret.empty and rec.ok and rec.z_count == 0
