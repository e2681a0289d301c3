"""The sales report page, its CSV and the reports index on a real SQLite file (issue #18):
who may open them, what a bad range gets (a message, nothing computed), hostile names
and query strings, the local day's edges, and the page's figures against the sales."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from app.catalog.csv_io import parse_catalog
from app.catalog.service import import_catalog
from app.config import StoreConfig
from app.core.auth import StaffUser
from app.core.clock import utcnow
from app.core.db import Database
from app.pos import cart, payment, refunds, shifts
from app.pos.refunds import RefundRequest
from app.reports import sales as sales_queries
from app.reports import sales_routes
from app.reports.sales_rules import DateRange
from tests.conftest import STAFF

ROOT = Path(__file__).resolve().parents[2]
CATALOG_CSV = (ROOT / "store_config" / "demo_catalog.csv").read_text()
HOSTILE_NAME = '=HYPERLINK("http://x","<script>alert(1)</script>")'


@pytest.fixture
async def sold(cfg: StoreConfig, db: Database, staff: dict[str, str]):
    """Two bills today (one partly refunded); one product renamed to hostile text."""
    parsed = parse_catalog(CATALOG_CSV, cfg.measure_rules)
    rows = [r for r in parsed.rows if r.unit == "piece" and r.active and r.barcodes][:3]
    renamed = parse_catalog(CATALOG_CSV, cfg.measure_rules)
    import dataclasses
    hostile = dataclasses.replace(rows[0], name=HOSTILE_NAME)
    from app.catalog.csv_io import ParsedCatalog
    await import_catalog(db, renamed)
    await import_catalog(db, ParsedCatalog(rows=[hostile]))
    users = {role: StaffUser(uid, STAFF[role][0], role) for role, uid in staff.items()}
    cashier, manager = users["cashier"], users["manager"]
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    done = []
    for codes in ([rows[0].barcodes[0], rows[1].barcodes[0]], [rows[2].barcodes[0]]):
        view = await cart.current_cart(db, cfg, "C1", cashier)
        for code in codes:
            view, _ = await cart.add_scan(db, cfg, "C1", cashier, view.cart.id, code,
                                          cfg.measure_rules)
        await payment.add_tender(db, cfg, "C1", view.cart.id, "cash", None,
                                 given_minor=10_000_000)
        done.append(await payment.complete_sale(db, cfg, "C1", view.cart.id,
                                                f"key-{len(done)}-abcdefgh", cashier))
    sale = await payment.get_sale(db, done[0].id)
    await refunds.refund(db, cfg, "C1", sale.id,
                         [RefundRequest(sale.lines[0].id, 1, "resaleable")], "cash",
                         "refund-key-0001", manager, manager, "")
    return done, rows


def today(cfg: StoreConfig) -> date:
    return utcnow().astimezone(cfg.tz).date()


@pytest.mark.parametrize("role", ["cashier", "picker"])
async def test_cashier_and_picker_may_not_open_reports(client, login_as, role):
    await login_as(role)
    for path in ("/reports", "/reports/sales", "/reports/sales.csv",
                 "/reports/sales?from=2026-01-01&to=2026-01-31"):
        response = await client.get(path)
        assert response.status_code == 403, path


async def test_not_signed_in_goes_to_the_login(client):
    response = await client.get("/reports/sales", follow_redirects=False)
    assert response.status_code in (302, 303, 401)


@pytest.mark.parametrize("role", ["manager", "admin"])
async def test_manager_and_admin_see_the_index_and_the_menu_entry(client, login_as, role):
    await login_as(role)
    page = (await client.get("/reports")).text
    for link in ('href="/reports/sales"', 'href="/reports/stock"', 'href="/reports/gstr1"',
                 'href="/reports/fulfilment"'):
        assert link in page
    assert '<a href="/reports"' in page  # the menu


async def test_the_page_shows_the_days_figures_and_escapes_names(client, login_as, cfg, db,
                                                                sold):
    done, _rows = sold
    await login_as("manager")
    response = await client.get("/reports/sales")
    assert response.status_code == 200
    page = response.text
    report = await sales_queries.sales_report(db, DateRange(today(cfg), today(cfg)), cfg.tz)
    t = report.totals
    assert t.bills == 2 and t.sales == sum(s.total_minor for s in done) and t.refunds > 0
    assert t.refund_count == 1
    assert t.net == t.sales - t.refunds
    from app.core.money import format_amount
    assert f'data-testid="net">{format_amount(t.net)}<' in page
    assert 'data-testid="bills">2<' in page
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert page.count("<svg") >= 5 and 'role="img"' in page


async def test_the_csv_has_the_tables_and_no_formula(client, login_as, cfg, sold):
    await login_as("manager")
    d = today(cfg).isoformat()
    response = await client.get(f"/reports/sales.csv?from={d}&to={d}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f"kirana-sales-{d}-to-{d}.csv" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    names = [r[1] for r in rows if len(r) == 7 and r[0] and r[0] != "SKU"]
    hostile = [n for n in names if "HYPERLINK" in n]
    assert hostile and all(not n.startswith(("=", "+", "-", "@")) for n in hostile)
    figures = {r[0]: r[1] for r in rows if len(r) == 2}
    assert figures["Bills"] == "2" and figures["Number of refunds"] == "1"


BAD = [
    ("2026-13-01", "2026-12-31", "does not exist"),
    ("2026-02-30", "2026-03-01", "does not exist"),
    ("2026-03-10", "2026-03-01", "wrong way round"),
    ("2024-01-01", "2025-06-01", "at most 366 days"),
    ("yesterday", "", "not a date"),
    ("<script>alert(1)</script>", "", "not a date"),
    ("2026-01-01\x00", "", "NUL character"),  # the app-wide input guard
    ("1" * 60_000, "", "longer than 500 characters"),  # ditto
    ("1" * 400, "", "not a date"),
    ("=1+1", "", "not a date"),
    ("9999-12-31", "9999-12-31", "has not come yet"),
    ("NaN", "inf", "not a date"),
]


@pytest.mark.parametrize(("start", "end", "message"), BAD)
async def test_a_bad_range_gets_a_message_and_nothing_is_computed(client, login_as,
                                                                  monkeypatch, start, end,
                                                                  message):
    await login_as("manager")

    async def never(*_a, **_k):
        raise AssertionError("computed a report for a bad range")

    monkeypatch.setattr(sales_queries, "sales_report", never)
    response = await client.get("/reports/sales", params={"from": start, "to": end})
    assert response.status_code == 400
    assert message in response.text
    assert "<script>alert(1)" not in response.text
    assert len(response.text) < 200_000
    csv_response = await client.get("/reports/sales.csv", params={"from": start, "to": end})
    assert csv_response.status_code == 400 and message in csv_response.text


async def test_the_local_days_edges(cfg, db, staff):
    """A bill at 23:59 local and one at 00:01 the next local day (18:29 and 18:31 UTC in
    IST) fall on their own local days and hours."""
    parsed = parse_catalog(CATALOG_CSV, cfg.measure_rules)
    await import_catalog(db, parsed)
    code = next(r.barcodes[0] for r in parsed.rows if r.unit == "piece" and r.barcodes)
    cashier = StaffUser(staff["cashier"], "Asha", "cashier")
    day = date(2026, 6, 15)
    late = datetime(2026, 6, 15, 23, 59, tzinfo=cfg.tz).astimezone(UTC)
    times = iter([late, late + timedelta(minutes=2)])
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    for i in range(2):
        at = next(times)
        view = await cart.current_cart(db, cfg, "C1", cashier)
        view, _ = await cart.add_scan(db, cfg, "C1", cashier, view.cart.id, code,
                                      cfg.measure_rules)
        await payment.add_tender(db, cfg, "C1", view.cart.id, "cash", None,
                                 given_minor=10_000_000)
        sale = await payment.complete_sale(db, cfg, "C1", view.cart.id, f"edge-key-{i}-xyz",
                                           cashier)
        async with db.write() as s:  # the bill's time, as if made then
            from app.pos.models import Sale
            (await s.get(Sale, sale.id)).at = at
    first = await sales_queries.sales_report(db, DateRange(day, day), cfg.tz)
    second = await sales_queries.sales_report(db, DateRange(day + timedelta(days=1),
                                                            day + timedelta(days=1)), cfg.tz)
    assert first.totals.bills == 1 and second.totals.bills == 1
    assert first.hours[23].bills == 1 and second.hours[0].bills == 1
    both = await sales_queries.sales_report(db, DateRange(day, day + timedelta(days=1)),
                                            cfg.tz)
    assert [d.bills for d in both.days] == [1, 1]
    assert second.previous is not None and second.previous.totals.bills == 1
    assert second.change("bills").percent_tenths == 0


async def test_an_empty_period_is_a_valid_page(client, login_as):
    await login_as("manager")
    response = await client.get("/reports/sales?from=2026-01-01&to=2026-01-31")
    assert response.status_code == 200
    assert "Nothing sold in this period" in response.text
    csv_response = await client.get("/reports/sales.csv?from=2026-01-01&to=2026-01-31")
    assert csv_response.status_code == 200 and "Net sales,0.00" in csv_response.text


def test_reports_list_names_every_report():
    titles = [t for t, _l, _w in sales_routes.reports_list("darkstore")]
    assert titles == ["Sales", "Stock", "GSTR-1", "Fulfilment and pickers", "Promotions",
                      "Returns"]


async def test_a_bill_moved_to_another_day_moves_in_the_report(cfg, db, sold):
    """The report reads the rollup (app/reports/sales_rollup.py); a bill whose time is
    changed later (a fixed clock, an operator's SQL) leaves its old day and counts on the
    new one, lines and all: the rollup's triggers follow an update of sales.at."""
    from app.pos.models import Sale
    done, _rows = sold
    past = date(2026, 6, 10)
    r = DateRange(past, past)
    before = await sales_queries.sales_report(db, r, cfg.tz)
    assert before.totals.bills == 0 and before.products == []
    async with db.write() as s:
        (await s.get(Sale, done[1].id)).at = datetime(2026, 6, 10, 6, 0, tzinfo=UTC)
    after = await sales_queries.sales_report(db, r, cfg.tz)
    assert after.totals.bills == 1 and after.totals.sales == done[1].total_minor
    assert sum(p.net for p in after.products) == done[1].total_minor - done[1].rounding_minor
    whole_month = await sales_queries.sales_report(db, DateRange(date(2026, 6, 1),
                                                                 date(2026, 6, 30)), cfg.tz)
    again = await sales_queries.sales_report(db, DateRange(date(2026, 6, 1),
                                                           date(2026, 6, 30)), cfg.tz)
    assert whole_month.products == again.products and again.totals.bills == 1
    async with db.write() as s:  # and moved away again: the kept month is read again
        (await s.get(Sale, done[1].id)).at = utcnow()
    gone = await sales_queries.sales_report(db, DateRange(date(2026, 6, 1),
                                                          date(2026, 6, 30)), cfg.tz)
    assert gone.totals.bills == 0 and gone.products == []
