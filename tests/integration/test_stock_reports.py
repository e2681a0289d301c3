"""Stock reports (issue #18) on a real SQLite file: stock received with a cost through
the receiving service (goods received note, manager's sign-off), sold at the till, the
clock pinned so the ledger's times are known; then the page /reports/stock and its
CSVs: value at cost and at selling price, ageing, dead stock, minutes out of stock and
days of cover; who may open it; hostile inputs refused with a clear message."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from app.catalog.barcodes import gtin_check_digit
from app.catalog.csv_io import parse_catalog
from app.catalog.models import Product
from app.catalog.service import import_catalog
from app.core.auth import StaffUser
from app.pos import cart, payment, shifts
from app.purchasing import receiving
from app.purchasing.receiving import ItemInput, SignOff
from app.reports import stock as report
from app.reports import stock_routes
from app.stock import service as stock_service
from tests.conftest import STAFF

HEADER = "sku,name,barcodes,price,gst_rate,hsn,unit,pack_size,category,active,reorder_level\n"


def ean(body12: str) -> str:
    return body12 + gtin_check_digit(body12)


MILK, BREAD, SALT = ean("890100000201"), ean("890100000202"), ean("890100000203")
EVIL = "=SUM(A1:A9)*10 Bread"  # a formula as a product name
# 20 Nov 2026, 10:00 in India (the test store's time zone, +05:30).
T0 = datetime(2026, 11, 20, 4, 30, tzinfo=UTC)
NOW = datetime(2026, 11, 21, 6, 30, tzinfo=UTC)  # 21 Nov, 12:00 in India


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    for module in (stock_service, payment, receiving):
        monkeypatch.setattr(module, "utcnow", c)
    monkeypatch.setattr(stock_routes, "utcnow", lambda: NOW)
    return c


@pytest.fixture
async def shop(db, cfg, staff, clock) -> dict[str, str]:
    rows = (f"MILK,Milk 500 ml,{MILK},30,5,,piece,,Dairy,yes,5\n"
            f"BREAD,{EVIL},{BREAD},45,5,,piece,,Bakery,yes,5\n"
            f"SALT,Salt 1 kg,{SALT},28,5,,piece,,,yes,5\n")
    await import_catalog(db, parse_catalog(HEADER + rows, cfg.measure_rules))
    await stock_service.load_bins_csv(db, "code,zone,aisle,shelf,pick_seq\n"
                                          "A-01,AMBIENT,A,1,10\nB-01,AMBIENT,B,1,20\n")
    async with db.read() as s:
        ids = {p.sku: p.id for p in await s.scalars(select(Product))}
    return {**ids, **staff}


async def receive_with_cost(db, shop, sku: str, count: int, cost_minor: int) -> None:
    """A goods received note without an order, pieces, signed off with a cost."""
    grn = await receiving.start(db, po_id=None, supplier_id=None, supplier_ref="",
                                user_id=None)
    item = ItemInput(request_id=receiving.uuid7(), product_id=shop[sku], unit="piece",
                     count=count, bin_code="A-01", batch="", expiry=None, damaged=False)
    await receiving.add_item(db, grn, item, today=date(2026, 11, 20), user_id=None)
    await receiving.sign_off(db, grn, SignOff({}, {shop[sku]: cost_minor}),
                             signer_id=shop["manager"], user_id=None)


async def sell(db, cfg, shop, *codes: str) -> None:
    user = StaffUser(shop["cashier"], STAFF["cashier"][0], "cashier")
    if await shifts.current_shift(db, "C1") is None:
        await shifts.open_shift(db, cfg, "C1", user, 100_000)
    view = await cart.current_cart(db, cfg, "C1", user)
    for code in codes:
        view, _line = await cart.add_scan(db, cfg, "C1", user, view.cart.id, code,
                                          cfg.measure_rules)
    await payment.add_tender(db, cfg, "C1", view.cart.id, "cash", None, given_minor=1_000_000)
    await payment.complete_sale(db, cfg, "C1", view.cart.id, secrets.token_urlsafe(12), user)


@pytest.fixture
async def history(db, cfg, shop, clock) -> dict[str, str]:
    """The day before (19 Nov, 10:00): milk 2 in (₹20 each), bread 3 in (₹30 each, never
    sold), salt 4 in without a cost (the quick receive). On 20 Nov both milks sold at
    11:00 and 5 more came in at 13:00 (₹26 each): out for two hours."""
    clock.now = T0 - timedelta(days=1)
    await receive_with_cost(db, shop, "MILK", 2, 2000)
    await receive_with_cost(db, shop, "BREAD", 3, 3000)
    await stock_service.receive(db, product_id=shop["SALT"], bin_code="B-01", quantity=4,
                                user_id=None)
    clock.now = T0 + timedelta(hours=1)
    await sell(db, cfg, shop, MILK, MILK)
    clock.now = T0 + timedelta(hours=3)
    await receive_with_cost(db, shop, "MILK", 5, 2600)
    return shop


def table(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# ---- the reads and figures, straight from the service --------------------------------


async def test_figures_from_the_ledger(db, cfg, history):
    rows = {r.sku: r for r in await report.stock_rows(db, NOW)}
    assert {k: r.on_hand for k, r in rows.items()} == {"MILK": 5, "BREAD": 3, "SALT": 4}
    assert rows["MILK"].last_sale == T0 + timedelta(hours=1)
    assert rows["BREAD"].last_sale is None
    assert rows["BREAD"].first_move == T0 - timedelta(days=1)
    assert rows["MILK"].sold_recent == 2

    from app.reports import stock_rules as rules
    value = rules.valuation(rows.values())
    # Milk ran out before the second delivery, so its average is that delivery's cost.
    assert value.cost_total_minor == 5 * 2600 + 3 * 3000
    assert value.selling_total_minor == 5 * 3000 + 3 * 4500 + 4 * 2800
    assert value.no_cost == 1 and value.no_cost_selling_minor == 4 * 2800
    cats = {c.category: (c.cost_minor, c.no_cost) for c in rules.by_category(value)}
    assert cats == {"Dairy": (13000, 0), "Bakery": (9000, 0), "Uncategorised": (0, 1)}

    outs = await report.stock_outs(db, date(2026, 11, 20), date(2026, 11, 21), cfg.tz, NOW)
    assert outs.selling == 1  # only milk sold in the last 28 days
    assert [(o.row.sku, o.out.minutes, o.out.times, o.out.out_now) for o in outs.rows] == [
        ("MILK", 120, 1, False)]
    # A period that starts while milk was out counts from the period's start.
    later = await report.stock_outs(db, date(2026, 11, 21), date(2026, 11, 21), cfg.tz, NOW)
    assert later.rows == []


async def test_a_period_ending_while_out_counts_to_its_end(db, cfg, shop, clock):
    clock.now = T0 - timedelta(days=1)
    await receive_with_cost(db, shop, "MILK", 1, 2000)
    clock.now = T0 + timedelta(minutes=30)
    await sell(db, cfg, shop, MILK)  # out from 10:30 on 20 Nov, never back
    outs = await report.stock_outs(db, date(2026, 11, 20), date(2026, 11, 20), cfg.tz, NOW)
    # 10:30 to midnight in India: 13.5 hours.
    assert [(o.out.minutes, o.out.out_now) for o in outs.rows] == [(13 * 60 + 30, True)]
    today = await report.stock_outs(db, date(2026, 11, 21), date(2026, 11, 21), cfg.tz, NOW)
    assert [o.out.minutes for o in today.rows] == [12 * 60]  # midnight to now (12:00)


# ---- the page ---------------------------------------------------------------------------


async def test_the_manager_sees_every_section(client, login_as, history):
    await login_as("manager")
    r = await client.get("/reports/stock?from=2026-11-20&to=2026-11-21&days=1")
    assert r.status_code == 200, r.text
    html = r.text
    assert 'data-testid="value-cost">₹220.00<' in html
    assert 'data-testid="value-selling">₹397.00<' in html
    assert 'data-testid="category-chart"' in html and 'data-chart="hbars"' in html
    assert 'data-testid="ageing-chart"' in html
    assert "2 h 0 min" in html and "Milk 500 ml" in html
    assert "1 product of the 1 product that sell ran out" in html
    assert "no opening hours set" in html
    assert "70.0" in html  # milk: 5 on hand at 2 sold in 28 days
    # dead stock for 1 day or more: all three (milk last sold yesterday)
    assert "3 products in stock with no sale for 1 day or more" in html
    # product names are escaped, never markup
    assert "<script" not in html.split("</head>", 1)[1].replace(
        '<script src=', '')
    r2 = await client.get("/reports/stock?days=2")
    assert "2 products in stock with no sale for 2 days or more" in r2.text


@pytest.mark.parametrize("role", ["cashier", "picker"])
async def test_other_roles_may_not_open_it(client, login_as, history, role):
    await login_as(role)
    assert (await client.get("/reports/stock")).status_code == 403
    assert (await client.get("/reports/stock.csv?section=valuation")).status_code == 403


async def test_signed_out_is_sent_to_sign_in(client, history):
    r = await client.get("/reports/stock", follow_redirects=False)
    assert r.status_code in (302, 303, 401)


async def test_the_admin_may_open_it(client, login_as, history):
    await login_as("admin")
    assert (await client.get("/reports/stock")).status_code == 200


@pytest.mark.parametrize(("query", "message"), [
    ("from=2026-11-21&to=2026-11-20", "wrong way round"),
    ("from=2025-01-01&to=2026-11-21", "at most 366 days"),
    ("from=2026-11-20&to=2026-12-31", "has not come yet"),
    ("from=%3Cscript%3Ealert(1)%3C/script%3E", "is not a date"),
    ("from=2026-02-30", "is not a date"),
    ("from=" + "9" * 400, "is not a date"),
    ("from=" + "9" * 60_000, "longer than 500 characters"),  # bounded before the page
    ("days=NaN", "whole number"),
    ("days=inf", "whole number"),
    ("days=-5", "whole number"),
    ("days=0", "whole number"),
    ("days=9223372036854775808", "whole number"),
    ("days=1e3", "whole number"),
])
async def test_hostile_inputs_are_refused_with_a_clear_message(client, login_as, clock,
                                                               query, message):
    await login_as("manager")
    r = await client.get(f"/reports/stock?{query}")
    assert r.status_code == 400
    assert message in r.text
    assert 'data-testid="report-error"' in r.text or "longer than" in message
    assert "<script>alert" not in r.text
    csv_r = await client.get(f"/reports/stock.csv?section=stockouts&{query}")
    assert csv_r.status_code == 400 and message in csv_r.text


@pytest.mark.parametrize("section", ["", "nope", "valuation ", "=1+1", "x" * 400])
async def test_an_unknown_csv_section_is_refused(client, login_as, section):
    await login_as("manager")
    r = await client.get("/reports/stock.csv", params={"section": section})
    assert r.status_code == 400 and "Pick a section" in r.text


async def test_a_nul_byte_is_refused_before_the_report(client, login_as):
    await login_as("manager")
    for url in ("/reports/stock?to=2026-11-2%00", "/reports/stock.csv?section=valuation%00"):
        r = await client.get(url)
        assert r.status_code == 400 and "NUL" in r.text


async def test_every_csv_and_its_formula_cells(client, login_as, history):
    await login_as("manager")
    got = {}
    for section in report.SECTIONS:
        r = await client.get(f"/reports/stock.csv?section={section}&from=2026-11-20"
                             "&to=2026-11-21&days=1")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert f"kirana-stock-{section}-20261121.csv" in r.headers["content-disposition"]
        got[section] = table(r.text)
    valuation = {row[0]: row for row in got["valuation"][1:]}
    assert valuation["MILK"][4:7] == ["5", "130.00", "150.00"]
    assert valuation["SALT"][5:8] == ["", "112.00", "no cost"]
    assert valuation["BREAD"][1] == "'" + EVIL  # text in a spreadsheet, never a formula
    assert got["valuation"][-1][5:7] == ["220.00", "397.00"]
    assert got["ageing"][1] == ["0-7 days", "1", "130.00", "150.00", "0"]
    assert got["ageing"][5][:2] == ["never sold", "2"]
    assert {row[0] for row in got["dead"][1:]} == {"MILK", "BREAD", "SALT"}
    assert got["stockouts"][1][:6] == ["MILK", "Milk 500 ml", "Dairy", "120", "1", "no"]
    assert got["cover"][1] == ["MILK", "Milk 500 ml", "Dairy", "5", "0.07", "70.0"]
    assert got["cover"][2][5] == "no sales"
    for rows in got.values():
        for row in rows:
            for cell in row:
                assert not cell.startswith(("=", "+", "@")), cell


async def test_an_online_order_handed_over_is_a_sale_and_a_refund_comes_back(db, cfg, shop,
                                                                            clock):
    """A dark store sells through orders (ledger reason 'order'): they count as sales for
    the last sale and the stock-out's 'sells'; a refund comes off the units sold."""
    from app.stock.models import Bin

    clock.now = T0 - timedelta(days=1)
    await stock_service.receive(db, product_id=shop["SALT"], bin_code="B-01", quantity=3,
                                user_id=None)
    async with db.write() as s:
        salt = await s.get(Product, shop["SALT"])
        bin_ = (await s.scalars(select(Bin).where(Bin.code == "B-01"))).one()
        clock.now = T0
        await stock_service.record_move(s, product=salt, bin=bin_, delta=-3, reason="order",
                                        reference="D2-1")
        clock.now = T0 + timedelta(hours=2)
        await stock_service.record_move(s, product=salt, bin=bin_, delta=1, reason="refund",
                                        reference="D2-1")
    rows = {r.sku: r for r in await report.stock_rows(db, NOW)}
    assert rows["SALT"].last_sale == T0 and rows["SALT"].sold_recent == 2
    outs = await report.stock_outs(db, date(2026, 11, 20), date(2026, 11, 20), cfg.tz, NOW)
    assert [(o.row.sku, o.out.minutes) for o in outs.rows] == [("SALT", 120)]
