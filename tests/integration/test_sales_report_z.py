"""The daily sales report equals the sum of the day's Z reports, to the paisa (issue #18).

Random days of sales (pieces and loose items, line and bill discounts, cash, card and
UPI) and refunds (of today's bills and of earlier days' bills) go through the real
services (app.pos) on a real SQLite file, with the clock pinned to one local day per
example; each day's shifts are closed (the Z report), and the sales report for that day
(app/reports/sales.py) must equal the sum of its Z reports: bills, gross, discounts,
rounding, sales, refunds, net, every tender and the GST table row by row.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.catalog.barcodes import make_variable_barcode
from app.catalog.csv_io import parse_catalog
from app.catalog.service import import_catalog
from app.config import StoreConfig
from app.core.auth import StaffUser
from app.core.db import Database
from app.core.gst import TaxRow
from app.pos import cart, discounts, payment, priced_cart, refunds, shifts
from app.pos.pricing import Discount
from app.pos.refunds import RefundRequest
from app.pos.shifts import ShiftReport
from app.pos.till_rules import NeedsApproval, PosError
from app.reports import sales as sales_report
from app.reports.sales_rules import DateRange
from app.stock import service as stock_service
from tests.conftest import STAFF

CATALOG_CSV = (Path(__file__).resolve().parents[2] / "store_config" / "demo_catalog.csv"
               ).read_text()
FIRST_DAY = date(2026, 3, 2)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += timedelta(minutes=7)


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
    loose = [r for r in parsed.rows if r.unit == "kg" and r.active and r.barcodes
             and r.barcodes[0].startswith(rule.prefix)][:3]
    assert len(pieces) == 15 and loose
    weighed = [(r.barcodes[0][2:7]) for r in loose]
    return {"clock": clock, "users": users, "rule": rule, "pieces": pieces,
            "loose": weighed, "days": itertools.count(), "sales": []}


sale_st = st.tuples(
    st.lists(st.tuples(st.integers(0, 14), st.integers(1, 3)), min_size=1, max_size=5),
    st.one_of(st.none(), st.integers(50, 4000)),  # one loose item, grams
    st.one_of(st.none(), st.integers(1, 300)),  # a line discount, paise
    st.one_of(st.none(), st.tuples(st.sampled_from(["percent", "amount"]),
                                   st.integers(1, 500))),  # a bill discount
    st.sampled_from(["cash", "card", "upi"]),
    st.booleans(),  # counter C2 (the manager) instead of C1
)
refund_st = st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(1, 3),
                      st.booleans())  # paid back the way the bill was paid, or in cash


async def _sell(db, cfg, s, spec, n) -> None:
    items, grams, line_off, bill_off, tender, second = spec
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
            line = view.cart.lines[0]
            view = await discounts.set_line_discount(db, cfg, counter, view.cart.id, line.id,
                                                     Discount("amount", line_off), user,
                                                     manager)
        if bill_off:
            kind, value = bill_off
            view = await discounts.set_bill_discount(
                db, cfg, counter, view.cart.id,
                Discount(kind, value if kind == "amount" else value * 3), user, manager)
    except (PosError, NeedsApproval):
        view = await cart.current_cart(db, cfg, counter, user)  # a refused discount: none
    if tender == "cash":
        await payment.add_tender(db, cfg, counter, view.cart.id, "cash", None,
                                 given_minor=10_000_000)
    else:
        await payment.add_tender(db, cfg, counter, view.cart.id, tender, None,
                                 None, f"R{n}X")
    done = await payment.complete_sale(db, cfg, counter, view.cart.id, f"sale-key-{n:08d}",
                                       user)
    s["sales"].append((done.id, tender))


async def _refund(db, cfg, s, spec, n) -> None:
    pick_sale, pick_line, qty, same_way = spec
    sale_id, paid_by = s["sales"][pick_sale % len(s["sales"])]
    tender = paid_by if same_way else "cash"
    lines = [r for r in await refunds.refundable_lines(db, sale_id) if r.refundable_quantity > 0]
    if not lines:
        return
    line = lines[pick_line % len(lines)]
    manager = s["users"]["manager"]
    await refunds.refund(db, cfg, "C1", sale_id,
                         [RefundRequest(line.line.id, min(qty, line.refundable_quantity)
                                        if line.line.unit == "piece"
                                        else line.refundable_quantity,
                                        "resaleable")],
                         tender, f"refund-key-{n:08d}", manager, manager, "")


def _z_sum(zs: list[ShiftReport]) -> dict[str, object]:
    tender: dict[str, int] = {}
    for z in zs:
        for k, v in z.by_tender.items():
            tender[k] = tender.get(k, 0) + v
        for k, v in z.refunds_by_tender.items():
            tender[k] = tender.get(k, 0) - v
    rows: dict[int, list[int]] = {}
    for z in zs:
        for row in z.tax_rows:
            r = rows.setdefault(row.rate_bp, [0, 0, 0, 0])
            r[0] += row.taxable
            r[1] += row.cgst
            r[2] += row.sgst
            r[3] += row.igst
    return {
        "bills": sum(z.sales_count for z in zs), "gross": sum(z.gross for z in zs),
        "discounts": sum(z.discounts for z in zs), "rounding": sum(z.rounding for z in zs),
        "sales": sum(z.sales_total for z in zs), "refunds": sum(z.refunds_total for z in zs),
        "refund_count": sum(z.refunds_count for z in zs),
        "net": sum(z.net_sales for z in zs),
        "tenders": {k: v for k, v in tender.items() if v},
        "tax": {rate: tuple(v) for rate, v in rows.items() if any(v)},
    }


def _tax(rows: tuple[TaxRow, ...]) -> dict[int, tuple[int, ...]]:
    return {r.rate_bp: (r.taxable, r.cgst, r.sgst, r.igst) for r in rows
            if r.taxable or r.tax}


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sales=st.lists(sale_st, min_size=0, max_size=6),
       refunds_spec=st.lists(refund_st, min_size=0, max_size=4))
async def test_the_days_report_equals_the_sum_of_its_z_reports(cfg, db, store, sales,
                                                                refunds_spec):
    s = store
    day = FIRST_DAY + timedelta(days=next(s["days"]))
    clock: Clock = s["clock"]
    clock.now = datetime.combine(day, time(7, 30), cfg.tz).astimezone(UTC)
    users = s["users"]
    for counter in ("C1", "C2"):  # a failed example's shift
        left_open = await shifts.current_shift(db, counter)
        if left_open is not None:
            await shifts.close_shift(db, cfg, left_open.id, users["manager"], {})
    opened = [await shifts.open_shift(db, cfg, "C1", users["cashier"], 100_000),
              await shifts.open_shift(db, cfg, "C2", users["manager"], 50_000)]
    n = day.toordinal() * 100
    for spec in sales:
        n += 1
        clock.tick()
        await _sell(db, cfg, s, spec, n)
    for spec in refunds_spec:  # today's bills or an earlier day's
        n += 1
        clock.tick()
        if s["sales"]:
            await _refund(db, cfg, s, spec, n)
    clock.tick()
    zs = [await shifts.close_shift(db, cfg, shift.id, users["manager"], {})
          for shift in opened]
    report = await sales_report.sales_report(db, DateRange(day, day), cfg.tz)
    t = report.totals
    expected = _z_sum(zs)
    got = {
        "bills": t.bills, "gross": t.gross, "discounts": t.discounts, "rounding": t.rounding,
        "sales": t.sales, "refunds": t.refunds, "refund_count": t.refund_count, "net": t.net,
        "tenders": {x.kind: x.net for x in report.tenders if x.net},
        "tax": _tax(report.tax_rows),
    }
    assert got == expected
    assert t.tax == sum(sum(v[1:]) for v in expected["tax"].values())  # type: ignore[union-attr]
    # the parts add up to the whole
    assert sum(slot.net for slot in report.days) == t.net
    assert sum(slot.net for slot in report.hours) == t.net
    assert sum(p.net for p in report.products) == sum(r.taxable + r.tax
                                                      for r in report.tax_rows)
    assert sum(p.net for p in report.cashiers) == t.net
    assert t.sales == t.gross - t.discounts + t.rounding
