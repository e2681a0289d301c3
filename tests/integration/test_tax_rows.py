"""Issue #14, "One rule in one place": one GST table (app.core.gst.tax_rows) for every view.

The on-screen receipt, the paper receipt, the e-receipt, the X report (screen and paper)
and a refund's screen, slip and e-receipt part are read back over HTTP for one sale with
several GST rates, and must show the same rows as the function. A sale recorded before
the equal-halves rule (odd GST on a line) shows equal halves everywhere too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.catalog.csv_io import parse_catalog
from app.catalog.service import import_catalog
from app.core.gst import tax_rows
from app.core.money import format_rate, parse_amount
from app.pos import receipts
from app.pos.models import Refund, RefundLine, Sale, SaleLine, Shift
from app.printing import service as printing
from app.stock.service import load_bins_csv
from tests.conftest import csrf_of

ROOT = Path(__file__).resolve().parents[2]
LOTION = "BLT-HMBL-200ML"  # ₹195.00, GST 18 %
ATTA = "ATA-AASH-1KG"  # ₹68.00, GST 5 %
BREAD = "BRD-BRWW-400G"  # ₹55.00, GST 0 %
COKE = "SFT-COKE-750ML"  # ₹40.00, GST 40 %

Row = tuple[str, int, int, int]  # rate as printed, taxable, CGST, SGST (paise)


@pytest.fixture
async def catalog(db, cfg):
    parsed = parse_catalog((ROOT / "store_config" / "demo_catalog.csv").read_text(),
                           cfg.measure_rules)
    await import_catalog(db, parsed)
    await load_bins_csv(db, (ROOT / "store_config" / "demo_bins.csv").read_text())
    return {r.sku: r.barcodes[0] for r in parsed.rows if r.barcodes}


def hx(client) -> dict[str, str]:
    return {"HX-Request": "true", "x-csrftoken": csrf_of(client)}


def paise(text: str) -> int:
    text = text.strip().replace("&#8377;", "₹")
    return -parse_amount(text[1:]) if text.startswith("-") else parse_amount(text)


def html_rows(html: str, testid: str) -> list[Row]:
    """The rate rows of the table marked data-testid=`testid` (other rows skipped)."""
    table = re.search(rf'data-testid="{testid}">(.*?)</table>', html, re.S)
    assert table, testid
    rows = []
    for rate, cells in re.findall(r"<tr><td>([0-9.]+%)</td>(.*?)</tr>", table.group(1)):
        taxable, cgst, sgst = (paise(v) for v in re.findall(r'class="num">([^<]+)<', cells))
        rows.append((rate, taxable, cgst, sgst))
    return rows


def first_table_rows(html: str, css_class: str) -> list[Row]:
    """The rate rows of the first table of class `css_class` (found the same way on the
    old templates, which had no test id on the e-receipt's table)."""
    table = re.search(rf'<table class="{css_class}"[^>]*>(.*?)</table>', html, re.S)
    assert table, css_class
    return [(rate, *(paise(v) for v in re.findall(r'class="num">([^<]+)<', cells)))
            for rate, cells in re.findall(r"<tr><td>([0-9.]+%)</td>(.*?)</tr>", table.group(1))]


def receipt_paper_rows(layout: str) -> list[Row]:
    return [(rate, paise(t), paise(c), paise(s)) for rate, t, c, s in re.findall(
        r"^\[row\]([0-9.]+%)  (\S+)\|\|(\S+) \+ (\S+)$", layout, re.M)]


def refund_paper_rows(layout: str) -> list[Row]:
    return [(rate, paise(t), paise(c), paise(s)) for rate, t, c, s in re.findall(
        r"^\[row\]  GST ([0-9.]+%) on (\S+)\|\|(\S+) \+ (\S+)$", layout, re.M)]


def report_paper_rows(layout: str) -> list[Row]:
    found = re.findall(r"^\[row\]GST ([0-9.]+%) taxable\|\|(\S+)\n\[row\]  CGST [0-9.]+%\|\|(\S+)"
                       r"\n\[row\]  SGST [0-9.]+%\|\|(\S+)$", layout, re.M)
    return [(rate, paise(t), paise(c), paise(s)) for rate, t, c, s in found]


def as_rows(rows) -> list[Row]:
    return [(format_rate(r.rate_bp), r.taxable, r.cgst, r.sgst) for r in rows]


async def sell(client, *codes: str) -> str:
    page = (await client.get("/pos")).text
    cart = re.search(r'id="cart-id" name="cart_id" value="([^"]+)"', page).group(1)
    for code in codes:
        r = await client.post("/pos/scan", data={"code": code, "cart_id": cart},
                              headers=hx(client))
        assert r.status_code == 200
    await client.get("/pos/pay", headers=hx(client))
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "cash",
                                                   "given": "5000"}, headers=hx(client))
    key = re.search(r'name="key" value="([^"]+)"', r.text).group(1)
    r = await client.post("/pos/pay/complete", data={"cart_id": cart, "key": key},
                          headers=hx(client))
    return r.headers["hx-redirect"].rsplit("/", 1)[-1]


async def refund(client, sale_id: str, quantities: dict[str, str]) -> str:
    """quantities: line name (start) -> quantity typed; returns the refund page's HTML."""
    form = (await client.get(f"/pos/refund/{sale_id}")).text
    key = re.search(r'name="key" value="([^"]+)"', form).group(1)
    data = {"key": key, "tender": "cash", "_csrf_token": csrf_of(client)}
    for name, text in quantities.items():
        line_id = re.search(r'name="qty-([^"]+)"', form[form.index(name):]).group(1)
        data[f"qty-{line_id}"] = text
    r = await client.post(f"/pos/refund/{sale_id}", data=data)
    assert "Refund done" in r.text, r.text[-500:]
    return r.text


async def layouts(db, ref: str, document: str) -> list[str]:
    return [j.layout for j in await printing.jobs_for(db, ref) if j.document == document]


async def x_report(client, db) -> tuple[list[Row], list[Row]]:
    """The open shift's X report: (screen rows, paper rows)."""
    async with db.read() as s:
        shift = await s.scalar(select(Shift))
    screen = html_rows((await client.get(f"/pos/shifts/{shift.id}")).text, "report-gst")
    r = await client.post("/pos/shift/print", headers=hx(client))
    assert "X report sent" in r.text
    return screen, report_paper_rows((await layouts(db, shift.id, "report"))[-1])


async def test_screen_paper_e_receipt_and_x_report_show_the_same_gst_rows(
        client, login_as, catalog, db):
    await login_as("manager")
    await client.post("/pos/shift/open", data={"counter": "C1", "float": "500"},
                      headers=hx(client))
    sale_id = await sell(client, catalog[LOTION], catalog[ATTA], catalog[ATTA],
                         catalog[BREAD], catalog[COKE], catalog[LOTION])
    async with db.read() as s:
        sale = await s.get(Sale, sale_id)
        lines = list(sale.lines)
    expected = as_rows(receipts.tax_rows(lines))
    assert [r[0] for r in expected] == ["0%", "5%", "18%", "40%"]
    for rate, taxable, cgst, sgst in expected:
        assert cgst == sgst
        net = sum(ln.net_minor for ln in lines if format_rate(ln.gst_rate_bp) == rate)
        assert taxable + cgst + sgst == net
    screen = (await client.get(f"/pos/sales/{sale_id}")).text
    [paper] = await layouts(db, sale_id, "receipt")
    e_receipt = (await client.get(f"/r/{sale.receipt_token}")).text
    report_screen, report_paper = await x_report(client, db)
    assert html_rows(screen, "tax-breakdown") == expected
    assert receipt_paper_rows(paper) == expected
    assert html_rows(e_receipt, "e-receipt-tax") == expected
    assert report_screen == expected
    assert report_paper == expected

    # A refund of some of it: its screen, slip and e-receipt part agree, and the X report
    # shows the sale's rows less the refund's.
    page = await refund(client, sale_id, {"Himalaya": "1", "Aashirvaad": "1", "Coca": "1"})
    async with db.read() as s:
        rf = await s.scalar(select(Refund))
        refund_rows = as_rows(receipts.refund_tax_rows(rf, {ln.id: ln for ln in lines}))
    assert [r[0] for r in refund_rows] == ["5%", "18%", "40%"]
    assert all(c == s for _r, _t, c, s in refund_rows)
    assert html_rows(page, "refund-tax") == refund_rows
    [slip] = await layouts(db, rf.id, "refund")
    assert refund_paper_rows(slip) == refund_rows
    e_receipt = (await client.get(f"/r/{sale.receipt_token}")).text
    assert html_rows(e_receipt, "e-receipt-refund-tax") == refund_rows
    assert html_rows(e_receipt, "e-receipt-tax") == expected
    net = as_rows(tax_rows([(ln.gst_rate_bp, ln.net_minor, ln.tax_minor) for ln in lines]
                           + [(line_rate, -a, -t) for line_rate, a, t in
                              [(next(ln.gst_rate_bp for ln in lines if ln.id == rl.sale_line_id),
                                rl.amount_minor, rl.tax_minor) for rl in rf.lines]]))
    report_screen, report_paper = await x_report(client, db)
    assert report_screen == report_paper == net
    by_rate = {r[0]: r for r in expected}
    for rate, taxable, cgst, sgst in refund_rows:
        assert net[[r[0] for r in net].index(rate)] == (
            rate, by_rate[rate][1] - taxable, by_rate[rate][2] - cgst, by_rate[rate][3] - sgst)


async def test_a_sale_recorded_before_equal_halves_shows_equal_halves_everywhere(
        client, login_as, catalog, db):
    """Sales and refunds written before 7a93b6a carry an odd GST on a line (₹195 at 18 %:
    29.75 of GST, shown as 14.88 + 14.87). Fails on the old code: the rows split the odd
    paisa between CGST and SGST (the e-receipt's refund part by tax - tax // 2)."""
    await login_as("manager")
    await client.post("/pos/shift/open", data={"counter": "C1", "float": "500"},
                      headers=hx(client))
    sale_id = await sell(client, catalog[LOTION], catalog[ATTA], catalog[LOTION])
    async with db.write() as s:  # as the old rule stored them
        await s.execute(update(SaleLine).where(SaleLine.sku == LOTION).values(
            tax_minor=2975, cgst_minor=1488, sgst_minor=1487))
        await s.execute(update(SaleLine).where(SaleLine.sku == ATTA).values(
            tax_minor=323, cgst_minor=162, sgst_minor=161))
    await refund(client, sale_id, {"Himalaya": "1"})
    async with db.write() as s:
        await s.execute(update(RefundLine).values(tax_minor=2975))
        sale = await s.get(Sale, sale_id)
        token = sale.receipt_token
    r = await client.post(f"/pos/sales/{sale_id}/reprint", headers=hx(client))
    assert r.status_code == 200
    paper = (await layouts(db, sale_id, "receipt"))[-1]
    e_receipt = (await client.get(f"/r/{token}")).text
    views = {
        "screen": html_rows((await client.get(f"/pos/sales/{sale_id}")).text, "tax-breakdown"),
        "paper": receipt_paper_rows(paper),
        "e-receipt": first_table_rows(e_receipt, "paper-tax"),
    }
    for name, rows in views.items():
        assert [r[0] for r in rows] == ["5%", "18%"], name
        for rate, _taxable, cgst, sgst in rows:
            assert cgst == sgst, (name, rate, cgst, sgst)
        assert sum(t + c + s for _r, t, c, s in rows) == 2 * 19500 + 6800, name
    assert views["screen"] == views["paper"] == views["e-receipt"]
    # The refund's GST on the e-receipt: equal halves of the refunded 29.75, not 14.88 + 14.87.
    refund_part = e_receipt[e_receipt.index('data-testid="e-receipt-refund"'):]
    assert "14.87" in refund_part and "14.88" not in refund_part
    # The X report nets the refund out, also with equal halves.
    report_screen, report_paper = await x_report(client, db)
    assert report_screen == report_paper
    assert all(c == s for _r, _t, c, s in report_screen)
