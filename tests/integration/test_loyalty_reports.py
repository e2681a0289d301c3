# ruff: noqa: F811  (pytest fixtures imported from test_pos_service / test_loyalty)
"""Loyalty points in the store's sales report (issue #21) on real SQLite: a refund of a
bill partly paid with points counts only its money part under its tender and the
points part on the `points` row, read from the rollup and from the raw rows alike, so
the payments table adds up to the refunds and equals the shift's X/Z report; the
rollup's migration (0031) rebuilds what 0022 built."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from app.loyalty import service as loyalty
from app.loyalty.models import RefundPart
from app.pos import shifts
from app.pos.models import Refund
from app.reports import sales as sales_report
from app.reports import sales_rollup
from app.reports.sales_rules import DateRange
from tests.integration.test_loyalty import (  # noqa: F401  (fixtures)
    _keep_catalog,
    joined,
    lcfg,
    sell,
)
from tests.integration.test_pos_service import (  # noqa: F401  (fixtures)
    cashier,
    catalog,
    manager,
    parsed,
    refund_line,
    rows,
    users,
)


async def test_the_points_part_of_a_refund_has_its_own_row(db, lcfg, cashier, manager):
    await joined(db, lcfg, cashier)
    await shifts.open_shift(db, lcfg, "C1", cashier, 0)
    await sell(db, lcfg, cashier, 5)  # ₹975 cash: 97 points
    sale = await sell(db, lcfg, cashier, 2, points=97)  # ₹390: ₹97 points + ₹293 cash
    half = await refund_line(db, lcfg, sale.id, sale.lines[0].id, 1, "resaleable", manager)
    assert (half.total_minor, half.points_minor) == (19_500, 4_850)
    tz = lcfg.tz
    today = datetime.now(UTC).astimezone(tz).date()
    r = DateRange(today, today)
    rolled = await sales_report.sales_report(db, r, tz, compare=False)
    raw = await sales_report.sales_report(db, r, tz, compare=False, rolled=False)
    for report in (rolled, raw):
        tenders = {t.kind: (t.taken, t.refunded) for t in report.tenders}
        assert tenders == {"cash": (97_500 + 29_300, 19_500 - 4_850), "points": (9_700, 4_850)}
        assert sum(t.refunded for t in report.tenders) == report.totals.refunds == 19_500
        assert sum(t.net for t in report.tenders) == report.totals.net
    shift = await shifts.current_shift(db, "C1")
    assert shift is not None
    z = await shifts.shift_report(db, shift.id, lcfg)
    assert {t.kind: t.refunded for t in rolled.tenders} == z.refunds_by_tender
    # The CSV's payments block carries the points row too.
    text = sales_report.report_csv(rolled, {"points": "Loyalty points"})
    assert "Loyalty points,97.00,48.50,48.50" in text.replace("\r", "")
    # A refund's points part changed afterwards (an operator's fix) moves the rows too.
    async with db.write() as s:
        row = await s.get(Refund, half.id)
        row.points_minor = 0
    again = await sales_report.sales_report(db, r, tz, compare=False)
    assert {t.kind: t.refunded for t in again.tenders} == {"cash": 19_500, "points": 0}
    assert again == await sales_report.sales_report(db, r, tz, compare=False, rolled=False)


def test_the_triggers_before_and_after_the_points_row():
    new = dict(sales_rollup.triggers(split=True))
    old = dict(sales_rollup.triggers(split=False))
    assert new.keys() == old.keys()
    assert "points_minor" in new["trg_rollup_refunds_ins"]
    assert "points_minor" not in old["trg_rollup_refunds_ins"]


async def test_the_x_report_shows_forfeited_and_kept_back_points_on_their_own_rows(
        db, lcfg, cashier, manager, client, login_as):
    customer = await joined(db, lcfg, cashier)
    shift = await shifts.open_shift(db, lcfg, "C1", cashier, 0)
    first = await sell(db, lcfg, cashier, 5)  # ₹975, 97 points
    second = await sell(db, lcfg, cashier, 2, points=97)  # spent them all, earns 29
    # earned points already spent: 68 points' value kept back from the money
    kept = await refund_line(db, lcfg, first.id, first.lines[0].id, 5, "resaleable", manager)
    assert kept.points_minor == 6_800
    # an erased customer's points share: forfeited
    assert await loyalty.erase(db, lcfg, customer.id, manager)
    gone = await refund_line(db, lcfg, second.id, second.lines[0].id, 2, "resaleable",
                             manager)
    assert gone.points_minor == 9_700
    report = await shifts.shift_report(db, shift.id, lcfg)
    assert report.refunds_by_tender["points"] == 6_800 + 9_700
    assert (report.points_forfeited, report.points_kept) == (9_700, 6_800)
    assert report.refunds_total == sum(report.refunds_by_tender.values())
    await login_as("manager")
    page = (await client.get(f"/pos/shifts/{shift.id}")).text
    assert 'data-testid="refunds-points-forfeited">₹97.00' in page
    assert 'data-testid="refunds-points-kept">₹68.00' in page


async def test_no_parts_rows_without_forfeits(db, lcfg, cashier, manager):
    await joined(db, lcfg, cashier)
    shift = await shifts.open_shift(db, lcfg, "C1", cashier, 0)
    sale = await sell(db, lcfg, cashier, 2, points=0)
    await refund_line(db, lcfg, sale.id, sale.lines[0].id, 1, "resaleable", manager)
    report = await shifts.shift_report(db, shift.id, lcfg)
    assert (report.points_forfeited, report.points_kept) == (0, 0)
    assert await rows(db, select(RefundPart)) == []
