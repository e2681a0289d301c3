# ruff: noqa: F811  (pytest fixtures imported from test_pos_service)
"""The promotions report (issue #21) on a real SQLite file: offers made through the
service, sales rung up through the real till services with the clock pinned to days
before and during the offers, so the report's figures are what the till wrote; the page
and CSV over HTTP (who may open them, hostile names and query strings)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

import pytest

from app.catalog.service import import_catalog
from app.pos import cart, payment, priced_cart, refunds, shifts
from app.promotions import service as promos
from app.reports import promotions as report_queries
from app.reports import promotions_routes, sales
from app.reports.sales_rules import DateRange
from app.stock import service as stock_service
from tests.integration.test_pos_service import (  # noqa: F401  (fixtures)
    ATTA,
    DAL,
    LOTION,
    barcode,
    cashier,
    catalog,
    manager,
    parsed,
    users,
)

D0 = date(2026, 3, 10)  # the offers' first day
TODAY = D0 + timedelta(days=12)
HOSTILE_NAME = '=HYPERLINK("http://x","<script>alert(1)</script>")'
BOGO = {"kind": "buy_x_get_y", "name": "Atta: buy 2 get 1 free", "skus": ATTA,
        "buy": "2", "get": "1", "starts": D0.isoformat(),
        "ends": (D0 + timedelta(days=6)).isoformat()}
BILL = {"kind": "bill_amount_off", "name": HOSTILE_NAME, "amount": "50",
        "min_bill": "300", "starts": D0.isoformat()}
DAL_OFF = {"kind": "percent_off", "name": "Dal 10 % off", "skus": DAL, "percent": "10",
           "starts": D0.isoformat(), "ends": (D0 + timedelta(days=6)).isoformat()}


class Clock:
    def __init__(self, tz) -> None:
        self.tz = tz
        self.now = datetime(2026, 2, 20, 5, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def on(self, day: date, hour: int = 11) -> None:
        self.now = datetime.combine(day, time(hour, 0), self.tz).astimezone(UTC)


@pytest.fixture
def clock(cfg, monkeypatch) -> Clock:
    c = Clock(cfg.tz)
    for module in (cart, payment, refunds, shifts, priced_cart, stock_service, promos,
                   promotions_routes):
        monkeypatch.setattr(module, "utcnow", c)
    return c


async def ring(db, cfg, user, catalog, *skus: str) -> str:
    view = await cart.current_cart(db, cfg, "C1", user)
    for sku in skus:
        view, _ = await cart.add_scan(db, cfg, "C1", user, view.cart.id, barcode(catalog, sku),
                                      cfg.measure_rules)
    await payment.add_tender(db, cfg, "C1", view.cart.id, "cash", None,
                             given_minor=10_000_000)
    sale = await payment.complete_sale(db, cfg, "C1", view.cart.id,
                                       f"key-{view.cart.id}", user)
    return sale.id


@pytest.fixture
async def sold(cfg, db, catalog, cashier, manager, clock):
    """Offers made ten days ahead; before them: 2 atta + 1 lotion (D0-3), 1 atta (D0-1);
    during: 3 atta twice (one free each time: buy 2 get 1), 3 atta + 2 dal on D0+2, then
    the bill offer ended early on D0+2."""
    clock.on(D0 - timedelta(days=10))
    made = {f["name"]: await promos.create(db, cfg, f, manager) for f in (BOGO, BILL, DAL_OFF)}
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    bills = {}
    clock.on(D0 - timedelta(days=3))
    bills["before1"] = await ring(db, cfg, cashier, catalog, ATTA, ATTA, LOTION)
    clock.on(D0 - timedelta(days=1))
    bills["before2"] = await ring(db, cfg, cashier, catalog, ATTA)
    clock.on(D0)
    bills["during1"] = await ring(db, cfg, cashier, catalog, ATTA, ATTA, ATTA)
    clock.on(D0 + timedelta(days=1))
    bills["during2"] = await ring(db, cfg, cashier, catalog, ATTA, ATTA, ATTA)
    clock.on(D0 + timedelta(days=2))
    bills["during3"] = await ring(db, cfg, cashier, catalog, ATTA, ATTA, ATTA, DAL, DAL)
    clock.on(D0 + timedelta(days=2), 20)
    assert await promos.end(db, cfg, made[HOSTILE_NAME].id, manager)
    clock.on(TODAY)
    return made, bills


async def report_of(db, cfg, first=D0 - timedelta(days=20), last=TODAY):
    return await report_queries.promotions_report(db, DateRange(first, last), cfg.tz, TODAY)


async def test_figures_are_what_the_till_wrote(cfg, db, sold):
    made, bills = sold
    report = await report_of(db, cfg)
    by_name = {o.name: o for o in report.offers}
    assert set(by_name) == {BOGO["name"], HOSTILE_NAME, DAL_OFF["name"]}

    bogo = by_name[BOGO["name"]]
    u = bogo.result
    assert (bogo.offer.first, bogo.offer.last) == (D0, D0 + timedelta(days=6))
    assert (bogo.before.first, bogo.before.last) == (D0 - timedelta(days=7),
                                                     D0 - timedelta(days=1))
    # the bills the offer took something off, and what: one free atta on each of 3 bills
    stored = []
    for key in ("during1", "during2", "during3"):
        sale = await payment.get_sale(db, bills[key])
        stored += [x for x in sale.lines if x.sku == ATTA]
    assert u.bills == 3
    assert u.discount_minor == sum(o["off"] for x in stored for o in x.offers
                                   if o["id"] == bogo.id) == 3 * 6800
    # the lines' promotion discounts are this offer's and the bill offer's shares
    assert sum(x.promo_discount_minor for x in stored) > u.discount_minor
    # units and revenue of atta: 9 during (what the lines came to), 3 in the 7 days before
    assert u.during.units == 9 and u.before.units == 3
    assert u.during.revenue_minor == sum(x.net_minor for x in stored)
    assert u.unit_percent == 200
    assert bogo.during_units == (3, 3, 3, 0, 0, 0, 0)
    assert bogo.before_units == (0, 0, 0, 0, 2, 0, 1)
    assert bogo.verdict.startswith("Sold 200 % more units than the 7 days before")
    assert "₹204.00 off on 3 bills" in bogo.verdict

    # the bill offer covers the whole bill; ended early on D0+2: 3 days against 3 before
    bill = by_name[HOSTILE_NAME]
    assert bill.targets.everything
    assert (bill.during.first, bill.during.last) == (D0, D0 + timedelta(days=2))
    assert (bill.before.first, bill.before.last) == (D0 - timedelta(days=3),
                                                     D0 - timedelta(days=1))
    # equal to the sales report's products of the same days (the same rollup)
    for period, figures in ((bill.during, bill.result.during), (bill.before, bill.result.before)):
        rep = await sales.sales_report(db, DateRange(period.first, period.last), cfg.tz,
                                       compare=False)
        assert figures.units == sum(p.units for p in rep.products)
        assert figures.revenue_minor == sum(p.sold_net for p in rep.products)
    sale3 = await payment.get_sale(db, bills["during3"])
    assert bill.result.bills == 1  # only the third bill of the offer's days reached ₹300
    assert bill.result.discount_minor == 5000 == sum(
        o["off"] for x in sale3.lines for o in x.offers if o["id"] == bill.id)

    # dal sold only during its offer: no per cent, said in words
    dal = by_name[DAL_OFF["name"]]
    assert dal.result.before.units == 0 and dal.result.unit_percent is None
    assert dal.verdict.startswith("Sold 2 units; none in the 7 days before, so there is "
                                  "no percentage")


async def test_a_range_without_the_offers_lists_none_and_a_range_inside_clips(cfg, db, sold):
    assert (await report_of(db, cfg, D0 - timedelta(days=20),
                            D0 - timedelta(days=1))).offers == ()
    inside = await report_of(db, cfg, D0 + timedelta(days=1), D0 + timedelta(days=1))
    bogo = next(o for o in inside.offers if o.name == BOGO["name"])
    # one day measured, against the one day just before the offer began
    assert bogo.during.days == 1 and bogo.before.last == D0 - timedelta(days=1)
    assert bogo.result.during.units == 3 and bogo.result.before.units == 1
    assert bogo.result.bills == 1 and bogo.result.discount_minor == 6800


async def test_a_line_written_by_hand_with_a_broken_offer_list_changes_nothing(cfg, db, sold):
    from sqlalchemy import update

    from app.pos.models import SaleLine
    _made, bills = sold
    before = await report_of(db, cfg)
    async with db.write() as s:
        await s.execute(update(SaleLine).where(SaleLine.sale_id == bills["during1"])
                        .values(promotions='{"not": "a list"'))
    after = await report_of(db, cfg)
    bogo_before = next(o for o in before.offers if o.name == BOGO["name"])
    bogo_after = next(o for o in after.offers if o.name == BOGO["name"])
    assert bogo_after.result.bills == bogo_before.result.bills - 1


async def test_an_offer_on_one_day_of_the_week_is_measured_on_that_day(cfg, db, catalog,
                                                                      cashier, manager, clock):
    """A Tuesday offer against the Tuesdays before it: the other days' sales count on
    neither side."""
    clock.on(D0 - timedelta(days=30))
    form = {"kind": "percent_off", "name": "Lotion Tuesdays", "skus": LOTION, "percent": "10",
            "days": str(D0.weekday()), "starts": D0.isoformat(),
            "ends": (D0 + timedelta(days=13)).isoformat()}
    made = await promos.create(db, cfg, form, manager)
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    for offset, pieces in ((-7, 1), (-1, 5), (0, 2), (1, 4), (7, 2)):
        clock.on(D0 + timedelta(days=offset))
        await ring(db, cfg, cashier, catalog, *[LOTION] * pieces)
    report = await report_of(db, cfg)
    (lotion,) = report.offers
    assert lotion.id == made.id and lotion.result.weekdays_only
    assert lotion.dates == (D0, D0 + timedelta(days=7))
    assert (lotion.before.first, lotion.before.last) == (D0 - timedelta(days=14),
                                                         D0 - timedelta(days=7))
    assert lotion.result.during.units == 4 and lotion.result.before.units == 1
    assert lotion.result.bills == 2 and lotion.result.discount_minor == 4 * 1950
    assert lotion.verdict.startswith(
        "Sold 300 % more units than the 2 days before on the same days of the week")


async def test_a_row_written_by_hand_does_not_stop_the_report(client, login_as, cfg, db, sold):
    """A promotion row no form would make (a first day in year 1, junk target lists and
    days, a 100 KB name) is listed without breaking the page or the CSV."""
    from sqlalchemy import insert

    from app.promotions.models import PromotionRow
    async with db.write() as s:
        await s.execute(insert(PromotionRow).values(
            id="odd-row", name="n" * 100_000, kind="percent_off", target_skus="{oops",
            target_categories='[1, "Staples"]', get_skus="null", percent_bp=1000,
            starts=date(1, 1, 1), days="9,x,\x00", active=True, created_by="sql",
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            updated_at=datetime(2026, 1, 1, tzinfo=UTC)))
    report = await report_of(db, cfg)
    odd = next(o for o in report.offers if o.id == "odd-row")
    assert odd.offer.first == date(2000, 1, 1) and not odd.result.weekdays_only
    assert odd.targets.categories == frozenset({"Staples"}) and not odd.targets.skus
    await login_as("manager")
    q = {"from": (D0 - timedelta(days=20)).isoformat(), "to": TODAY.isoformat()}
    for path in ("/reports/promotions", "/reports/promotions.csv"):
        assert (await client.get(path, params=q)).status_code == 200


# ---- over HTTP ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["cashier", "picker"])
async def test_cashier_and_picker_may_not_open_it(client, login_as, role):
    await login_as(role)
    for path in ("/reports/promotions", "/reports/promotions.csv",
                 "/reports/promotions?from=2026-01-01&to=2026-01-31"):
        assert (await client.get(path)).status_code == 403, path


@pytest.mark.parametrize("role", ["manager", "admin"])
async def test_manager_and_admin_find_it_on_the_index(client, login_as, role):
    await login_as(role)
    assert 'href="/reports/promotions"' in (await client.get("/reports")).text
    response = await client.get("/reports/promotions")
    assert response.status_code == 200
    assert "same number of days just before it began" in response.text


async def test_the_page_and_csv_show_the_offers(client, login_as, cfg, sold):
    _made, _bills = sold
    await login_as("manager")
    q = {"from": (D0 - timedelta(days=20)).isoformat(), "to": TODAY.isoformat()}
    response = await client.get("/reports/promotions", params=q)
    assert response.status_code == 200
    text = response.text
    assert "Sold 200 % more units than the 7 days before" in text
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)" in text
    assert text.count("<svg") >= 3 and 'role="img"' in text
    response = await client.get("/reports/promotions.csv", params=q)
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    header = rows.index(report_queries.HEADER)
    offers = {r[0]: dict(zip(report_queries.HEADER, r, strict=True)) for r in rows[header + 1:]}
    hostile = [n for n in offers if "HYPERLINK" in n]
    assert hostile and not hostile[0].startswith(("=", "+", "-", "@"))
    bogo = offers[BOGO["name"]]
    assert bogo["Bills"] == "3" and bogo["Discount given"] == "204.00"
    assert bogo["Units during"] == "9" and bogo["Units change %"] == "200"
    assert offers[DAL_OFF["name"]]["Units change %"] == ""  # nothing before: no per cent


BAD = [
    ("2026-13-01", "2026-12-31", "does not exist"),
    ("2026-03-10", "2026-03-01", "wrong way round"),
    ("2024-01-01", "2025-06-01", "at most 366 days"),
    ("yesterday", "", "not a date"),
    ("<script>alert(1)</script>", "", "not a date"),
    ("2026-01-01\x00", "", "NUL character"),
    ("1" * 60_000, "", "longer than 500 characters"),
    ("1" * 400, "", "not a date"),
    ("=1+1", "", "not a date"),
    ("9999-12-31", "9999-12-31", "has not come yet"),
    ("NaN", "inf", "not a date"),
    (str(2**63), "", "not a date"),
    ("1999-12-31", "2000-01-02", "before any bill"),
]


@pytest.mark.parametrize(("start", "end", "message"), BAD)
async def test_a_bad_range_gets_a_message_and_nothing_is_computed(client, login_as,
                                                                  monkeypatch, start, end,
                                                                  message):
    await login_as("manager")

    async def never(*_a, **_k):
        raise AssertionError("computed a report for a bad range")

    monkeypatch.setattr(report_queries, "promotions_report", never)
    response = await client.get("/reports/promotions", params={"from": start, "to": end})
    assert response.status_code == 400
    assert message in response.text
    assert "<script>alert(1)" not in response.text
    csv_response = await client.get("/reports/promotions.csv",
                                    params={"from": start, "to": end})
    assert csv_response.status_code == 400 and message in csv_response.text


async def test_no_offers_is_a_valid_page(client, login_as):
    await login_as("manager")
    response = await client.get("/reports/promotions?from=2026-01-01&to=2026-01-31")
    assert response.status_code == 200 and "No offer ran in these days" in response.text
    csv_response = await client.get("/reports/promotions.csv?from=2026-01-01&to=2026-01-31")
    assert csv_response.status_code == 200


_ = import_catalog  # the catalogue comes through the catalog fixture
