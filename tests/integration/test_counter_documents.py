"""Issue #12, "At the counter": what the till, the paper, the e-receipt and the X/Z say.

Over HTTP with the demo catalogue and the preview printer of store_config/store.toml
(jobs are kept with their layout, so the test reads exactly what would be printed).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.catalog.barcodes import make_variable_barcode
from app.catalog.csv_io import parse_catalog
from app.catalog.service import import_catalog
from app.core.money import parse_amount
from app.pos.models import (
    CartTender,
    CashMovement,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    Shift,
)
from app.printing import service as printing
from app.printing.layout import parse_layout, plain_text
from app.stock.service import load_bins_csv
from tests.conftest import STAFF, csrf_of
from tests.integration.test_pos_pages import message

ROOT = Path(__file__).resolve().parents[2]
LOTION = "BLT-HMBL-200ML"  # ₹195.00 a piece, GST 18 %: 14.88 + 14.87 before the fix
APPLE = "FV-00127"  # ₹180.00 per kg, sold loose
ATTA = "ATA-AASH-1KG"  # ₹68.00, GST 5 %


@pytest.fixture
async def catalog(db, cfg):
    parsed = parse_catalog((ROOT / "store_config" / "demo_catalog.csv").read_text(),
                           cfg.measure_rules)
    await import_catalog(db, parsed)
    await load_bins_csv(db, (ROOT / "store_config" / "demo_bins.csv").read_text())
    return {r.sku: r for r in parsed.rows}


def hx(client) -> dict[str, str]:
    return {"HX-Request": "true", "x-csrftoken": csrf_of(client)}



def weight_label(cfg, catalog, sku: str, grams: int) -> str:
    rule = next(r for r in cfg.measure_rules if r.kind == "weight")
    return make_variable_barcode(rule, catalog[sku].barcodes[0][2:7], grams)


async def open_till(client, float_text: str = "500") -> str:
    r = await client.post("/pos/shift/open", data={"counter": "C1", "float": float_text},
                          headers=hx(client))
    assert r.status_code < 400, r.text
    page = (await client.get("/pos")).text
    return re.search(r'id="cart-id" name="cart_id" value="([^"]+)"', page).group(1)


async def sell(client, *codes: str, given: str = "5,000") -> str:
    """Scan, pay cash, complete; returns the sale id."""
    cart = re.search(r'id="cart-id" name="cart_id" value="([^"]+)"',
                     (await client.get("/pos")).text).group(1)
    for code in codes:
        r = await client.post("/pos/scan", data={"code": code, "cart_id": cart},
                              headers=hx(client))
        assert "Added" in message(r.text), message(r.text)
    await client.get("/pos/pay", headers=hx(client))
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "cash",
                                                   "given": given}, headers=hx(client))
    key = re.search(r'name="key" value="([^"]+)"', r.text).group(1)
    r = await client.post("/pos/pay/complete", data={"cart_id": cart, "key": key},
                          headers=hx(client))
    return r.headers["hx-redirect"].rsplit("/", 1)[-1]


async def refund(client, sale_id: str, quantities: dict[str, str], tender: str = "cash"):
    """quantities: line name (start) -> text typed in its field."""
    form = (await client.get(f"/pos/refund/{sale_id}")).text
    key = re.search(r'name="key" value="([^"]+)"', form).group(1)
    data = {"key": key, "tender": tender, "_csrf_token": csrf_of(client)}
    for name, text in quantities.items():
        row = form[form.index(name):]
        line_id = re.search(r'name="qty-([^"]+)"', row).group(1)
        data[f"qty-{line_id}"] = text
    return await client.post(f"/pos/refund/{sale_id}", data=data)


async def layouts(db, ref: str, document: str) -> list[str]:
    return [j.layout for j in await printing.jobs_for(db, ref) if j.document == document]


def printed(layout: str) -> list[str]:
    return plain_text(parse_layout(layout), 48).splitlines()


AMOUNT_LINE = re.compile(r"^(.*?)\s+(-?(?:₹|Rs\.)[0-9,]+\.[0-9]{2})$")


def printed_amounts(layout: str) -> list[tuple[str, int]]:
    """Every 'label .... ₹1,234.50' line of the paper, read back as (label, paise)."""
    found = []
    for line in printed(layout):
        m = AMOUNT_LINE.match(line.strip())
        if m:
            text = m.group(2)
            sign = -1 if text.startswith("-") else 1
            found.append((m.group(1).strip(), sign * parse_amount(text.lstrip("-"))))
    return found


# ---- 16. CGST == SGST on every document --------------------------------------------


async def test_gst_halves_are_equal_on_paper_screen_and_e_receipt(client, login_as, catalog,
                                                                  db):
    await login_as("manager")
    await open_till(client)
    sale_id = await sell(client, catalog[LOTION].barcodes[0], catalog[ATTA].barcodes[0])
    async with db.read() as s:
        sale = await s.get(Sale, sale_id)
        lines = list(sale.lines)
    for line in lines:
        assert line.cgst_minor == line.sgst_minor and line.tax_minor == 2 * line.cgst_minor
    lotion = next(ln for ln in lines if ln.sku == LOTION)
    assert (lotion.net_minor - lotion.tax_minor, lotion.cgst_minor) == (16526, 1487)
    [paper] = await layouts(db, sale_id, "receipt")
    assert "₹14.87 + ₹14.87" in paper and "14.88" not in paper
    screen = (await client.get(f"/pos/sales/{sale_id}")).text
    ereceipt = (await client.get(f"/r/{sale.receipt_token}")).text
    for html in (screen, ereceipt):
        row = re.search(r"<td>18%</td>(.*?)</tr>", html).group(1)
        assert re.findall(r'class="num">([0-9,.]+)<', row) == ["165.26", "14.87", "14.87"]


# ---- 17. amounts: commas only between thousands --------------------------------------


async def test_cash_received_50_comma_00_is_refused_and_changes_nothing(client, login_as,
                                                                       catalog, db, staff):
    await login_as("cashier")
    cart = await open_till(client)
    await client.post("/pos/scan", data={"code": catalog[ATTA].barcodes[0], "cart_id": cart},
                      headers=hx(client))
    await client.get("/pos/pay", headers=hx(client))
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "cash",
                                                   "given": "50,00"}, headers=hx(client))
    assert r.status_code == 200
    assert message(r.text) == ("&#39;50,00&#39; is not an amount: use 50.00 (commas only "
                               "between thousands, like 1,00,000 or 100,000)")
    hostile = ["NaN", "inf", "1e30", "-50", "\x00", "9" * 100_000, "1,0000", ",5", "5,",
               "1,,000", "1.000,50", "१००"]
    for text in hostile:
        r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "cash",
                                                       "given": text}, headers=hx(client))
        if "\x00" in text or len(text) > 10_000:  # refused before any route (app/core/inputs.py)
            assert r.status_code == 400 and ("NUL character" in r.text
                                             or "longer than 10000" in r.text), text[:10]
            continue
        assert r.status_code == 200 and "not an amount" in message(r.text) or (
            "negative" in message(r.text) or "too long" in message(r.text)), text[:10]
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(CartTender)) == 0
    # Well-formed grouping is fine: Indian and international.
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "cash",
                                                   "given": "1,000"}, headers=hx(client))
    assert not message(r.text) and "₹932.00" in r.text  # change from ₹1,000 for ₹68
    # Every other amount field uses the same parser: cash in/out, discounts, the count.
    for text in ("5,00", "1.000,50"):
        r = await client.post("/pos/shift/cash", data={"amount": text, "direction": "in",
                                                       "reason": "bank"}, headers=hx(client))
        assert "commas only between thousands" in r.text
    r = await client.post("/pos/shift/cash", data={"amount": "1,00,000", "direction": "out",
                                                   "reason": "bank"}, headers=hx(client))
    assert 'data-testid="approval"' in r.text  # over the cash-out limit: a manager's PIN
    r = await client.post("/pos/shift/cash", data={
        "amount": "1,00,000", "direction": "out", "reason": "bank",
        "approver_id": staff["manager"], "approver_pin": STAFF["manager"][1]}, headers=hx(client))
    assert r.status_code < 400 and 'data-testid="approval"' not in r.text
    async with db.read() as s:
        moves = list(await s.scalars(select(CashMovement)))
    assert [m.amount_minor for m in moves] == [-10_000_000]
    r = await client.post("/pos/shift/close", data={"d500": "1,0"}, headers=hx(client))
    assert "commas only between thousands" in r.text
    async with db.read() as s:
        assert (await s.scalar(select(Shift))).closed_at is None


async def test_bill_discount_and_float_use_the_same_rule(client, login_as, catalog):
    await login_as("cashier")
    r = await client.post("/pos/shift/open", data={"counter": "C1", "float": "5,00"},
                          headers=hx(client))
    assert "use 5.00" in r.text
    cart = await open_till(client, "1,000")
    await client.post("/pos/scan", data={"code": catalog[ATTA].barcodes[0], "cart_id": cart},
                      headers=hx(client))
    r = await client.post("/pos/cart/discount", data={"cart_id": cart, "kind": "amount",
                                                      "value": "1,0"}, headers=hx(client))
    assert "commas only between thousands" in message(r.text)
    r = (await client.get("/pos/shift")).text
    assert "₹1,000.00" in r  # the float as typed with a comma


# ---- 18. weighed lines: the rate on every document, refunds in kg ----------------------


async def test_weighed_line_shows_its_rate_and_refunds_in_kg(client, login_as, catalog, db,
                                                             cfg):
    await login_as("manager")
    await open_till(client)
    label = weight_label(cfg, catalog, APPLE, 1250)
    sale_id = await sell(client, label)
    async with db.read() as s:
        sale = await s.get(Sale, sale_id)
        [apple] = sale.lines
    assert apple.quantity == 1250 and apple.net_minor == 22500
    want = "1.250 kg x ₹180.00/kg"
    [paper] = await layouts(db, sale_id, "receipt")
    assert want in paper
    assert "1.250 kg x Rs.180.00/kg" in plain_text(parse_layout(paper), 48).replace("₹", "Rs.")
    assert want in (await client.get(f"/pos/sales/{sale_id}")).text
    assert want in (await client.get(f"/r/{sale.receipt_token}")).text

    form = (await client.get(f"/pos/refund/{sale_id}")).text
    assert 'inputmode="decimal"' in form and "in kg, like 0.500" in form
    # The old form took grams: "1250" now means 1,250 kg and is refused, naming the unit.
    r = await refund(client, sale_id, {"Apple": "1250"})
    assert "Apple (Shimla): at most 1.250 kg can be refunded (1.250 kg sold, 0.000 kg " \
           "refunded)" in r.text
    for bad in ("abc", "0.0005", "-1", "1,5", "\x00"):
        r = await refund(client, sale_id, {"Apple": bad})
        assert ("is not a quantity in kg like 0.500" in r.text
                or bad == "\x00" and "NUL character" in r.text), bad
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Refund)) == 0
    r = await refund(client, sale_id, {"Apple": "0.5"})
    assert r.status_code == 200 and "Refund done" in r.text
    async with db.read() as s:
        [line] = list(await s.scalars(select(RefundLine)))
    assert line.quantity == 500 and line.amount_minor == 9000
    assert "0.500 kg" in r.text
    r = await refund(client, sale_id, {"Apple": "0.751"})
    assert "at most 0.750 kg can be refunded" in r.text


# ---- 19. X and Z on paper add up with a pen ---------------------------------------------


def check_report_adds_up(layout: str, closed: bool) -> dict[str, int]:
    amounts = printed_amounts(layout)
    got = dict(amounts)
    tenders = [label[:-6] for label, _ in amounts if label.endswith(" sales")
               and label not in ("All sales", "+ Cash sales")]
    assert {"Cash", "Card", "UPI"} <= set(tenders)
    assert sum(got[f"{t} sales"] for t in tenders) == got["All sales"] == got[
        f"Bills ({re.search(r'Bills [(]([0-9]+)', layout).group(1)})"]
    assert sum(got[f"{t} refunds"] for t in tenders) == got["All refunds"]
    assert got["All sales"] - got["All refunds"] == got["= Net takings"]
    drawer = (got["Opening float"] + got["+ Cash sales"] - got["- Cash refunds"]
              + got["+ Cash in"] - got["- Cash out"])
    assert drawer == got["= Cash expected"]
    assert got["+ Cash sales"] == got["Cash sales"]
    assert got["- Cash refunds"] == got["Cash refunds"]
    if closed:
        assert got["Cash counted"] - got["= Cash expected"] == got[
            "Difference (counted - expected)"]
    else:
        assert "Cash counted" not in got
    rows = [(label, value) for label, value in amounts
            if label.startswith(("GST ", "CGST ", "SGST "))]
    assert rows, layout
    cgst = [v for label, v in rows if label.startswith("CGST")]
    sgst = [v for label, v in rows if label.startswith("SGST")]
    assert cgst == sgst
    assert sum(v for _l, v in rows) + got["Rounding"] == got["= Net takings"]
    return got


async def test_x_report_prints_and_x_z_add_up_with_a_pen(client, login_as, catalog, db, cfg):
    await login_as("cashier")
    await open_till(client, "1,000")
    a = await sell(client, catalog[LOTION].barcodes[0], catalog[ATTA].barcodes[0])
    b = await sell(client, weight_label(cfg, catalog, APPLE, 1237), catalog[ATTA].barcodes[0])
    await client.post("/pos/shift/cash", data={"amount": "50", "direction": "in",
                                               "reason": "change from bank"},
                      headers=hx(client))
    await client.post("/pos/shift/cash", data={"amount": "120.50", "direction": "out",
                                               "reason": "milk vendor"}, headers=hx(client))
    await login_as("manager")  # refunds without a second PIN; the session keeps the counter
    await client.post("/pos/shift/open", data={"counter": "C1"}, headers=hx(client))
    r = await refund(client, a, {"Himalaya": "1"})
    assert "Refund done" in r.text
    r = await refund(client, b, {"Apple": "0.237"}, tender="exchange")
    assert "Exchange credit" in r.text

    page = (await client.get("/pos/shift")).text
    assert 'hx-post="/pos/shift/print"' in page
    r = await client.post("/pos/shift/print", headers=hx(client))
    assert r.status_code == 200 and "X report sent to counter-1" in r.text
    async with db.read() as s:
        shift = await s.scalar(select(Shift))
        refund_lines = list(await s.scalars(select(RefundLine)))
        sale_lines = {ln.id: ln for ln in await s.scalars(select(SaleLine))}
    [x] = await layouts(db, shift.id, "report")
    assert "X REPORT" in x
    got = check_report_adds_up(x, closed=False)
    assert got["Opening float"] == 100_000
    assert got["Cash refunds"] == 19500 and got["Exchange credit refunds"] == 4266
    assert got["+ Cash in"] == 5000 and got["- Cash out"] == 12050
    # The GST table is net of refunds: the lotion was sold once and refunded once.
    assert "GST 18%" not in x or "GST 18% taxable" in x and (
        dict(printed_amounts(x))["GST 18% taxable"] == 0)
    refunded_0 = sum(rl.amount_minor for rl in refund_lines
                     if sale_lines[rl.sale_line_id].gst_rate_bp == 0)
    sold_0 = sum(ln.net_minor for ln in sale_lines.values() if ln.gst_rate_bp == 0)
    assert got["GST 0% taxable"] == sold_0 - refunded_0

    # Close with a count and read the Z off the paper.
    r = await client.post("/pos/shift/close", data={"d500": "2", "d100": "10,00"},
                          headers=hx(client))
    assert "₹100: &#39;10,00&#39; is not a whole number (commas only" in r.text
    r = await client.post("/pos/shift/close", data={"d500": "2", "d100": "3"},
                          headers=hx(client))
    assert r.headers.get("hx-redirect") == f"/pos/shifts/{shift.id}"
    x_again, z = await layouts(db, shift.id, "report")
    assert x_again == x and "Z REPORT" in z
    got = check_report_adds_up(z, closed=True)
    assert got["Cash counted"] == 130_000
    # A copy of the Z can be printed again, marked as such.
    r = await client.post(f"/pos/shifts/{shift.id}/print", headers=hx(client))
    assert "Z report (copy) sent" in r.text
    assert "DUPLICATE" in (await layouts(db, shift.id, "report"))[-1]


async def test_printing_an_x_report_without_a_report_printer_says_so(client, login_as,
                                                                     catalog, cfg):
    cfg.printers[:] = [p for p in cfg.printers if "report" not in p.documents]
    await login_as("cashier")
    await open_till(client)
    r = await client.post("/pos/shift/print", headers=hx(client))
    assert "no printer prints reports for counter C1" in r.text


async def test_another_counters_report_is_for_managers(client, login_as, catalog, db, app,
                                                       staff):
    from litestar.testing import AsyncTestClient

    from tests.conftest import STAFF, login

    await login_as("manager")
    await open_till(client)
    async with db.read() as s:
        shift = await s.scalar(select(Shift))
    async with AsyncTestClient(app=app) as other:
        await login(other, staff["cashier"], STAFF["cashier"][1])
        r = await other.post(f"/pos/shifts/{shift.id}/print", headers=hx(other))
        assert r.status_code == 403
    assert await layouts(db, shift.id, "report") == []


# ---- 20. the e-receipt shows the refunds against the bill ------------------------------


async def test_e_receipt_shows_refunds_and_credit_notes(client, login_as, catalog, db):
    await login_as("manager")
    await open_till(client)
    sale_id = await sell(client, catalog[LOTION].barcodes[0], catalog[ATTA].barcodes[0],
                         catalog[ATTA].barcodes[0])
    async with db.read() as s:
        token = (await s.get(Sale, sale_id)).receipt_token
    before = (await client.get(f"/r/{token}")).text
    assert "e-receipt-refund" not in before
    await refund(client, sale_id, {"Aashirvaad": "1"})
    await refund(client, sale_id, {"Himalaya": "1"}, tender="exchange")
    async with db.read() as s:
        refunds = list(await s.scalars(select(Refund).order_by(Refund.number)))
    page = (await client.get(f"/r/{token}")).text
    assert len(refunds) == 2 and page.count('data-testid="e-receipt-refund"') == 2
    assert "Part of this bill was refunded" in page
    for rf in refunds:
        assert rf.number in page
    assert "REFUND / CREDIT NOTE" in page and "CREDIT NOTE (exchange credit)" in page
    totals = re.findall(r'data-testid="e-receipt-refund-total">([^<]+)<', page)
    assert [parse_amount(t) for t in totals] == [rf.total_minor for rf in refunds]
    assert "1 returned" in page
    async with db.read() as s:
        lines = list(await s.scalars(select(RefundLine)))
    assert len(lines) == 2 and all(rl.tax_minor % 2 == 0 for rl in lines)  # CGST == SGST
    # A stranger with a wrong token still gets nothing.
    assert (await client.get("/r/" + "x" * 32)).status_code == 404
