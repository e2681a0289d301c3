# ruff: noqa: F811  (the fixtures of test_pos_service are imported by name)
"""GST documents at the store (issue #18) on real SQLite files: a business bill at the till
is a tax invoice (CGST + SGST within the state, IGST to another state) numbered per
financial year without gaps; a composition dealer's bills are bills of supply; a refund of
a tax invoice is a GST credit note. Through the service functions and the till's routes,
checked against the rows stored, the outbox and the queued print jobs."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import msgspec
import pytest
from sqlalchemy import func, select

from app.core.clock import utcnow
from app.core.gst_invoice import financial_year_at
from app.pos import cart, payment, refunds, shifts
from app.pos.models import Cart, Refund, RefundLine, Sale, SaleLine
from app.pos.refunds import RefundRequest
from app.pos.till_rules import PosError
from app.printing.escpos_render import to_escpos
from app.printing.layout import parse_layout
from app.printing.models import PrintJob
from tests.conftest import csrf_of
from tests.integration.test_pos_service import (  # noqa: F401 (fixtures)
    ATTA,
    DAL,
    LOTION,
    barcode,
    cashier,
    catalog,
    databases,
    events,
    manager,
    new_cart,
    new_key,
    one,
    parsed,
    pay_cash,
    refund_line,
    rows,
    sequence,
    users,
)

OTHER_STATE = "27AAPFU0939F1ZV"  # Maharashtra; the demo store is in Karnataka (29)
SAME_STATE = "29AAPFU0939F1ZR"
BUYER = ("Sharma Traders", "14 MG Road, Pune 411001")


def fy_now(cfg) -> str:
    return financial_year_at(utcnow(), cfg.tz)


def short(fy: str) -> str:
    return fy[2:4] + fy[5:7]


async def b2b_sale(db, cfg, user, gstin, *skus, counter="C1", key=None, name=BUYER[0]):
    view = await new_cart(db, cfg, counter, user, *(barcode(CAT[0], s) for s in skus))
    if gstin:
        view = await cart.set_buyer(db, cfg, counter, view.cart.id, gstin, name, BUYER[1])
        assert view.cart.buyer_gstin == gstin.upper().replace(" ", "")
    await pay_cash(db, cfg, counter, view.cart.id)
    return await payment.complete_sale(db, cfg, counter, view.cart.id, key or new_key(), user)


CAT: list = []


@pytest.fixture(autouse=True)
def _catalog_ref(catalog):
    CAT[:] = [catalog]
    yield
    CAT.clear()


def paper_text(layout: str, columns: int = 48) -> str:
    """What the printer prints: the job rendered to ESC/POS bytes as a TM-T20II gets them,
    decoded back to text (commands dropped, images and codes cut out)."""
    data = to_escpos(parse_layout(layout), columns=columns, profile="TM-T20II")
    out, pos = bytearray(), 0
    while pos < len(data):
        if data.startswith(b"\x1dv0", pos):  # GS v 0: a raster image (QR code)
            width, rows = data[pos + 4] | data[pos + 5] << 8, data[pos + 6] | data[pos + 7] << 8
            pos += 8 + width * rows
        elif data.startswith(b"\x1dk", pos):  # GS k m n data: CODE128
            pos += 4 + data[pos + 3]
        elif data.startswith(b"\x1dV", pos):  # GS V m [n]: cut
            pos += 4 if data[pos + 2] in (65, 66) else 3
        elif data.startswith(b"\x1b@", pos):
            pos += 2
        elif data[pos] in (0x1B, 0x1D):  # ESC/GS x n: styles, alignment, code page
            pos += 3
        else:
            out.append(data[pos])
            pos += 1
    return out.decode("cp437")


async def printed(db, document: str, ref: str) -> str:
    """The queued job's text as the printer's 48 columns print it."""
    async with db.read() as s:
        job = await s.scalar(select(PrintJob).where(PrintJob.document == document,
                                                    PrintJob.ref == ref))
    assert job is not None, (document, ref)
    return paper_text(job.layout)


def widest(paper: str) -> int:
    return max(len(x) for x in paper.splitlines())


def words(text: str) -> str:
    return " ".join(text.split())


def screen(response) -> str:
    """A page's words, tags dropped."""
    assert response.status_code == 200, response.text
    return words(re.sub(r"<[^>]+>", " ", response.text))


# ---- tax invoices ------------------------------------------------------------------------


async def test_a_business_bill_within_the_state_is_a_tax_invoice_with_cgst_and_sgst(
        cfg, db, cashier):
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    sale = await b2b_sale(db, cfg, cashier, SAME_STATE.lower(), ATTA, LOTION)
    fy = fy_now(cfg)
    stored = await one(db, select(Sale).where(Sale.id == sale.id))
    assert (stored.doc_kind, stored.place_of_supply, stored.buyer_gstin) == ("b2b", "29", SAME_STATE)
    assert stored.invoice_number == f"S1/I{short(fy)}/00001"
    assert (stored.buyer_name, stored.buyer_address) == BUYER
    lines = await rows(db, select(SaleLine).where(SaleLine.sale_id == sale.id))
    assert all(ln.igst_minor == 0 and ln.cgst_minor == ln.sgst_minor > 0 for ln in lines)
    assert sum(ln.tax_minor for ln in lines) == stored.tax_minor > 0
    [event] = await events(db, "sale.completed")
    assert (event["doc"], event["invoice_number"], event["buyer_gstin"], event["buyer_name"],
            event["place_of_supply"]) == ("b2b", stored.invoice_number, SAME_STATE, BUYER[0], "29")
    for ev_line in event["lines"]:
        assert set(ev_line) >= {"hsn", "cgst", "sgst", "igst"} and ev_line["igst"] == 0
        assert ev_line["cgst"] + ev_line["sgst"] == ev_line["tax"] and ev_line["hsn"]
    paper = await printed(db, "receipt", sale.id)
    flat = words(paper)
    for expected in ("TAX INVOICE", f"Invoice No. S1/I{short(fy)}/00001", "Sharma Traders",
                     "14 MG Road, Pune 411001", f"GSTIN {SAME_STATE}", "GSTIN 29AAACK1234F1ZW",
                     "Place of supply 29-Karnataka", "CGST 2.5%", "SGST 2.5%", "CGST 9%",
                     "SGST 9%", "Tax payable on reverse charge No", "Authorised signatory",
                     "HSN "):
        assert expected in flat, expected
    assert "IGST" not in paper
    assert widest(paper) <= 48, paper
    async with db.read() as s:
        layout = (await s.scalar(select(PrintJob.layout).where(PrintJob.ref == sale.id)))
    narrow = paper_text(layout, 32)  # 58 mm paper: the same words, wrapped
    assert widest(narrow) <= 32, narrow
    for expected in ("TAX INVOICE", "Place of supply", "29-Karnataka", "CGST 9%", "reverse charge"):
        assert expected in words(narrow), expected


async def test_a_buyer_in_another_state_pays_igst_and_the_total_is_unchanged(
        cfg, db, cashier):
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    retail = await b2b_sale(db, cfg, cashier, "", ATTA, LOTION)
    sale = await b2b_sale(db, cfg, cashier, OTHER_STATE, ATTA, LOTION)
    assert (sale.doc_kind, sale.place_of_supply) == ("b2b", "27")
    assert (retail.doc_kind, retail.invoice_number, retail.place_of_supply) == ("b2c", None, "")
    assert sale.invoice_number.endswith("/00001")  # a retail bill takes no invoice number
    assert (sale.total_minor, sale.tax_minor) == (retail.total_minor, retail.tax_minor)
    lines = await rows(db, select(SaleLine).where(SaleLine.sale_id == sale.id))
    assert all(ln.cgst_minor == ln.sgst_minor == 0 and ln.igst_minor == ln.tax_minor > 0
               for ln in lines)
    event = (await events(db, "sale.completed"))[-1]
    assert event["place_of_supply"] == "27"
    assert all(x["igst"] == x["tax"] and x["cgst"] == x["sgst"] == 0 for x in event["lines"])
    flat = words(await printed(db, "receipt", sale.id))
    assert "Place of supply 27-Maharashtra" in flat
    assert "IGST 5%" in flat and "IGST 18%" in flat and "CGST" not in flat
    # the retail bill keeps today's form
    retail_paper = words(await printed(db, "receipt", retail.id))
    assert "TAX INVOICE" in retail_paper and "Invoice No." not in retail_paper
    assert "CGST + SGST" in retail_paper and "reverse charge" not in retail_paper


async def test_invoice_numbers_are_gapless_when_two_tills_race(cfg, db, users):
    cashier, manager = users["cashier"], users["manager"]
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    await shifts.open_shift(db, cfg, "C2", manager, 0)
    per_till = 8

    async with databases(cfg, 2) as tills:
        async def till(t, counter, user):
            done = []
            for i in range(per_till):  # retail and business bills mixed, both states
                gstin = "" if i % 3 == 2 else (OTHER_STATE if i % 2 else SAME_STATE)
                done.append(await b2b_sale(t, cfg, user, gstin, DAL, counter=counter))
            return done

        results = await asyncio.gather(till(tills[0], "C1", cashier),
                                       till(tills[1], "C2", manager))
    sales = [s for batch in results for s in batch]
    numbers = sorted(s.invoice_number for s in sales if s.invoice_number)
    fy = short(fy_now(cfg))
    assert len(numbers) == sum(1 for s in sales if s.doc_kind == "b2b") == 12
    assert numbers == [f"S1/I{fy}/{n:05d}" for n in range(1, len(numbers) + 1)]
    assert await sequence(db, f"invoice:S1:{fy_now(cfg)}") == len(numbers)


async def test_a_new_financial_year_starts_at_1_on_the_first_of_april_in_india(
        cfg, db, cashier, monkeypatch):
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    before = datetime(2027, 3, 31, 18, 29, 59, tzinfo=UTC)  # 23:59:59 IST, 31 March
    after = datetime(2027, 3, 31, 18, 30, tzinfo=UTC)  # 00:00 IST, 1 April
    monkeypatch.setattr(payment, "utcnow", lambda: before)
    first = await b2b_sale(db, cfg, cashier, OTHER_STATE, DAL)
    second = await b2b_sale(db, cfg, cashier, SAME_STATE, DAL)
    monkeypatch.setattr(payment, "utcnow", lambda: after)
    third = await b2b_sale(db, cfg, cashier, OTHER_STATE, DAL)
    assert [s.invoice_number for s in (first, second, third)] == [
        "S1/I2627/00001", "S1/I2627/00002", "S1/I2728/00001"]
    assert await sequence(db, "invoice:S1:2026-27") == 2
    assert await sequence(db, "invoice:S1:2027-28") == 1
    flat = words(await printed(db, "receipt", third.id))
    assert "Invoice date 01-04-2027" in flat


async def test_a_double_tapped_pay_makes_one_invoice_number(cfg, db, cashier):
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    view = await new_cart(db, cfg, "C1", cashier, barcode(CAT[0], LOTION))
    await cart.set_buyer(db, cfg, "C1", view.cart.id, OTHER_STATE, *BUYER)
    await pay_cash(db, cfg, "C1", view.cart.id)
    key = new_key()
    async with databases(cfg, 4) as tablets:
        results = await asyncio.gather(*(payment.complete_sale(
            t, cfg, "C1", view.cart.id, key, cashier) for t in tablets))
    assert len({(r.id, r.invoice_number) for r in results}) == 1
    assert await sequence(db, f"invoice:S1:{fy_now(cfg)}") == 1
    assert len(await events(db, "sale.completed")) == 1
    assert await one(db, select(func.count()).select_from(PrintJob).where(
        PrintJob.document == "receipt")) == 1


# ---- the buyer on the cart ----------------------------------------------------------------


@pytest.mark.parametrize(("gstin", "message"), [
    ("27AAPFU0939F1ZO", "check character"),
    ("27AAPFU0939F1Z", "has 14"),
    ("99AAPFU0939F1ZV", "99 is not a GST state code"),
    ("27AAPFU0939F1Z\x00", "cannot be typed"),
    ("27" * 50_000, "far too long"),
    ("", "Type the GSTIN"),
])
async def test_an_invalid_gstin_is_refused_and_changes_nothing(cfg, db, cashier, gstin,
                                                               message):
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    view = await new_cart(db, cfg, "C1", cashier, barcode(CAT[0], DAL))
    view = await cart.set_buyer(db, cfg, "C1", view.cart.id, SAME_STATE, *BUYER)
    version = view.cart.version
    with pytest.raises(PosError, match=message):
        await cart.set_buyer(db, cfg, "C1", view.cart.id, gstin, "Other Co", "Elsewhere")
    stored = await one(db, select(Cart).where(Cart.id == view.cart.id))
    assert (stored.version, stored.buyer_gstin, stored.buyer_name) == (version, SAME_STATE,
                                                                       BUYER[0])


@pytest.mark.parametrize(("name", "address", "message"), [
    ("", BUYER[1], "buyer's name"),
    ("   ", BUYER[1], "buyer's name"),
    (BUYER[0], "", "buyer's address"),
    ("A" * 100_000, BUYER[1], "too long"),
    (BUYER[0], "x" * 201, "too long"),
    ("Ab\x00c", BUYER[1], "cannot be typed"),
    (BUYER[0], "4111 1111 1111 1111", "card"),
])
async def test_a_buyer_needs_a_name_and_an_address(cfg, db, cashier, name, address,
                                                   message):
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    view = await new_cart(db, cfg, "C1", cashier, barcode(CAT[0], DAL))
    with pytest.raises(PosError, match=message):
        await cart.set_buyer(db, cfg, "C1", view.cart.id, SAME_STATE, name, address)
    stored = await one(db, select(Cart).where(Cart.id == view.cart.id))
    assert (stored.version, stored.buyer_gstin) == (view.cart.version, "")


async def test_the_buyer_can_be_removed_before_pay_and_not_after_payment_started(
        cfg, db, cashier):
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    view = await new_cart(db, cfg, "C1", cashier, barcode(CAT[0], DAL))
    await cart.set_buyer(db, cfg, "C1", view.cart.id, OTHER_STATE, *BUYER)
    view = await cart.remove_buyer(db, cfg, "C1", view.cart.id)
    assert (view.cart.buyer_gstin, view.cart.buyer_name, view.cart.buyer_address) == ("", "", "")
    await cart.set_buyer(db, cfg, "C1", view.cart.id, OTHER_STATE, *BUYER)
    await pay_cash(db, cfg, "C1", view.cart.id)
    with pytest.raises(PosError, match="payment has started"):
        await cart.remove_buyer(db, cfg, "C1", view.cart.id)
    with pytest.raises(PosError, match="payment has started"):
        await cart.set_buyer(db, cfg, "C1", view.cart.id, SAME_STATE, *BUYER)
    with pytest.raises(PosError, match="not on this counter"):
        await cart.set_buyer(db, cfg, "C2", view.cart.id, SAME_STATE, *BUYER)
    sale = await payment.complete_sale(db, cfg, "C1", view.cart.id, new_key(), cashier)
    assert sale.doc_kind == "b2b" and sale.place_of_supply == "27"


async def test_the_till_form_shows_the_specific_error_and_the_buyer(
        cfg, db, client, login_as, staff):
    c = await login_as("cashier")
    await c.post("/pos/shift/open", data={"counter": "C1", "float": "0",
                                          "_csrf_token": csrf_of(c)})
    page = await c.get("/pos")
    assert page.status_code == 200, page.text
    cart_id = re.search(r'id="cart-id" name="cart_id" value="([^"]+)"', page.text)[1]
    scanned = await c.post("/pos/scan", data={"cart_id": cart_id, "code": barcode(CAT[0], DAL),
                                              "_csrf_token": csrf_of(c)})
    assert "Business bill (GSTIN)" in scanned.text
    bad = await c.post("/pos/cart/buyer", data={
        "cart_id": cart_id, "gstin": "27AAPFU0939F1ZO", "name": BUYER[0], "address": BUYER[1],
        "_csrf_token": csrf_of(c)})
    assert bad.status_code == 200 and "check character" in bad.text
    # the form comes back open with what was typed, to correct the GSTIN only
    assert 'value="27AAPFU0939F1ZO"' in bad.text and f'value="{BUYER[0]}"' in bad.text
    hostile = await c.post("/pos/cart/buyer", data={
        "cart_id": cart_id, "gstin": '"><script>alert(1)</script>', "name": "<b>x</b>",
        "address": "A" * 5_000, "_csrf_token": csrf_of(c)})
    assert hostile.status_code == 200 and "<script>alert" not in hostile.text
    assert "<b>x</b>" not in hostile.text and "A" * 201 not in hostile.text
    async with db.read() as s:
        assert (await s.get(Cart, cart_id)).buyer_gstin == ""
    good = await c.post("/pos/cart/buyer", data={
        "cart_id": cart_id, "gstin": OTHER_STATE, "name": BUYER[0], "address": BUYER[1],
        "_csrf_token": csrf_of(c)})
    assert "Tax invoice to" in good.text and OTHER_STATE in good.text
    gone = await c.post("/pos/cart/buyer/remove", data={"cart_id": cart_id,
                                                        "_csrf_token": csrf_of(c)})
    assert "Tax invoice to" not in gone.text
    async with db.read() as s:
        assert (await s.get(Cart, cart_id)).buyer_gstin == ""


async def test_the_buyer_form_is_for_signed_in_till_staff_only(cfg, db, client, login_as,
                                                               staff):
    await client.get("/login")
    anon = await client.post("/pos/cart/buyer", data={"cart_id": "x", "gstin": OTHER_STATE,
                                                      "_csrf_token": csrf_of(client)})
    assert anon.status_code in (401, 403) or "/login" in str(anon.url)
    picker = await login_as("picker")
    response = await picker.post("/pos/cart/buyer", data={
        "cart_id": "x", "gstin": OTHER_STATE, "name": "A", "address": "B",
        "_csrf_token": csrf_of(picker)})
    assert response.status_code in (401, 403)


# ---- composition scheme ------------------------------------------------------------------


@pytest.fixture
def composition(cfg):
    return msgspec.structs.replace(
        cfg, store=msgspec.structs.replace(cfg.store, composition_scheme=True))


async def test_a_composition_dealer_issues_bills_of_supply_without_tax(
        composition, db, manager):
    cfg = composition
    await shifts.open_shift(db, cfg, "C1", manager, 0)
    retail = await b2b_sale(db, cfg, manager, "", ATTA, LOTION)
    business = await b2b_sale(db, cfg, manager, SAME_STATE, ATTA, LOTION)
    for sale in (retail, business):
        assert sale.doc_kind == "bos" and sale.invoice_number is None and sale.tax_minor == 0
        assert sale.total_minor == 2 * 0 + 6800 + 19500
        lines = await rows(db, select(SaleLine).where(SaleLine.sale_id == sale.id))
        assert all((ln.tax_minor, ln.cgst_minor, ln.sgst_minor, ln.igst_minor, ln.gst_rate_bp)
                   == (0, 0, 0, 0, 0) for ln in lines)
        flat = words(await printed(db, "receipt", sale.id))
        assert "BILL OF SUPPLY" in flat and "TAX INVOICE" not in flat
        assert ("Composition taxable person, not eligible to collect tax on supplies"
                in flat)
        assert "GST" not in flat.replace("GSTIN", "")
        # rule 49: HSN per line and the signatory, like a tax invoice
        assert "HSN " in flat and "Authorised signatory" in flat
    assert business.buyer_gstin == SAME_STATE and business.place_of_supply == "29"
    assert await sequence(db, f"invoice:S1:{fy_now(cfg)}") == 0
    assert [e["doc"] for e in await events(db, "sale.completed")] == ["bos", "bos"]
    assert all(e["tax"] == 0 for e in await events(db, "sale.completed"))
    refund = await refund_line(db, cfg, business.id, business.lines[0].id, 1, "resaleable",
                               manager)
    assert refund.credit_note_number is None and refund.tax_minor == 0


# ---- credit notes ----------------------------------------------------------------------------


async def test_a_refund_of_a_tax_invoice_is_a_credit_note_split_like_the_invoice(
        cfg, db, manager):
    await shifts.open_shift(db, cfg, "C1", manager, 0)
    view = await new_cart(db, cfg, "C1", manager, barcode(CAT[0], DAL), barcode(CAT[0], DAL),
                          barcode(CAT[0], DAL), barcode(CAT[0], LOTION))
    await cart.set_buyer(db, cfg, "C1", view.cart.id, OTHER_STATE, *BUYER)
    await pay_cash(db, cfg, "C1", view.cart.id)
    sale = await payment.complete_sale(db, cfg, "C1", view.cart.id, new_key(), manager)
    retail = await b2b_sale(db, cfg, manager, "", DAL)
    dal = next(ln for ln in sale.lines if ln.quantity == 3)
    first = await refund_line(db, cfg, sale.id, dal.id, 1, "resaleable", manager)
    fy = fy_now(cfg)
    assert first.credit_note_number == f"S1/C{short(fy)}/00001"
    assert first.tax_minor > 0  # an IGST line's share is taken in halves like any other
    plain = await refund_line(db, cfg, retail.id, retail.lines[0].id, 1, "resaleable", manager)
    assert plain.credit_note_number is None
    second = await refund_line(db, cfg, sale.id, dal.id, 2, "damaged", manager)
    assert second.credit_note_number == f"S1/C{short(fy)}/00002"
    assert first.tax_minor + second.tax_minor == dal.tax_minor
    assert await sequence(db, f"credit:S1:{fy}") == 2
    assert await sequence(db, f"invoice:S1:{fy}") == 1  # its own series

    paper = await printed(db, "refund", first.id)
    flat = words(paper)
    for expected in ("CREDIT NOTE", f"Credit note No. {first.credit_note_number}",
                     f"Against invoice {sale.invoice_number}", "Invoice date",
                     f"GSTIN {OTHER_STATE}", "Place of supply 27-Maharashtra", "IGST 5%",
                     "Tax payable on reverse charge No", "Authorised signatory", "HSN "):
        assert expected in flat, expected
    assert "CGST" not in flat
    assert widest(paper) <= 48, paper
    assert "CREDIT NOTE" not in words(await printed(db, "refund", plain.id))

    refunded = await events(db, "sale.refunded")
    gst_event = next(e for e in refunded if e["refund_id"] == first.id)
    assert (gst_event["credit_note_number"], gst_event["doc"], gst_event["place_of_supply"],
            gst_event["buyer_gstin"]) == (first.credit_note_number, "b2b", "27", OTHER_STATE)
    [ev_line] = gst_event["lines"]
    assert ev_line["hsn"] == dal.hsn and ev_line["gst_rate_bp"] == 500
    assert (ev_line["cgst"], ev_line["sgst"], ev_line["igst"]) == (0, 0, first.tax_minor)
    retail_event = next(e for e in refunded if e["refund_id"] == plain.id)
    assert retail_event["credit_note_number"] is None and retail_event["doc"] == "b2c"
    assert retail_event["lines"][0]["cgst"] * 2 == retail_event["lines"][0]["igst"] * 0 + (
        plain.tax_minor)


async def test_a_credit_note_within_the_state_has_cgst_and_sgst(cfg, db, manager):
    await shifts.open_shift(db, cfg, "C1", manager, 0)
    sale = await b2b_sale(db, cfg, manager, SAME_STATE, LOTION)
    note = await refund_line(db, cfg, sale.id, sale.lines[0].id, 1, "resaleable", manager)
    flat = words(await printed(db, "refund", note.id))
    assert "CGST 9%" in flat and "SGST 9%" in flat and "IGST" not in flat
    assert "Place of supply 29-Karnataka" in flat


async def test_a_credit_note_for_more_than_the_invoice_is_refused_and_writes_nothing(
        cfg, db, manager):
    await shifts.open_shift(db, cfg, "C1", manager, 0)
    sale = await b2b_sale(db, cfg, manager, OTHER_STATE, DAL)
    line = sale.lines[0]
    for quantity in (2, 2**63):
        with pytest.raises(PosError, match="at most 1 can be refunded"):
            await refund_line(db, cfg, sale.id, line.id, quantity, "resaleable", manager)
    await refund_line(db, cfg, sale.id, line.id, 1, "resaleable", manager)
    with pytest.raises(PosError, match="at most 0"):
        await refund_line(db, cfg, sale.id, line.id, 1, "resaleable", manager)
    with pytest.raises(PosError):
        await refunds.refund(db, cfg, "C1", sale.id, [RefundRequest(line.id, 1, "resaleable"),
                                                      RefundRequest(line.id, 1, "damaged")],
                             "cash", new_key(), manager)
    assert len(await rows(db, select(Refund))) == 1
    assert len(await rows(db, select(RefundLine))) == 1
    assert await sequence(db, f"credit:S1:{fy_now(cfg)}") == 1
    assert len(await events(db, "sale.refunded")) == 1


# ---- on screen: the receipt, the e-receipt, the refund page --------------------------------


async def test_the_screens_show_the_invoice_the_credit_note_and_the_bill_of_supply(
        cfg, db, client, login_as, staff, users):
    manager = users["manager"]
    await shifts.open_shift(db, cfg, "C2", manager, 0)
    sale = await b2b_sale(db, cfg, manager, OTHER_STATE, DAL, LOTION, counter="C2")
    retail = await b2b_sale(db, cfg, manager, "", DAL, counter="C2")
    note = await refunds.refund(db, cfg, "C2", sale.id, [RefundRequest(
        next(ln.id for ln in sale.lines if ln.gst_rate_bp == 500), 1, "resaleable")],
        "cash", new_key(), manager)
    c = await login_as("manager")
    shown = screen(await c.get(f"/pos/sales/{sale.id}"))
    for expected in ("TAX INVOICE", f"Invoice No. {sale.invoice_number}", BUYER[0], BUYER[1],
                     OTHER_STATE, "Place of supply: 27-Maharashtra", "IGST", "HSN 0713",
                     "Tax payable on reverse charge: No", "Authorised signatory"):
        assert expected in shown, expected
    assert "CGST" not in shown
    retail_shown = screen(await c.get(f"/pos/sales/{retail.id}"))
    assert "CGST" in retail_shown and "Invoice No." not in retail_shown
    assert "reverse charge" not in retail_shown
    public = screen(await client.get(f"/r/{sale.receipt_token}"))
    for expected in (f"Invoice No. {sale.invoice_number}", "Place of supply: 27-Maharashtra",
                     "IGST", "CREDIT NOTE", f"Credit note No. {note.credit_note_number}",
                     f"Against invoice {sale.invoice_number}"):
        assert expected in public, expected
    page = screen(await c.get(f"/pos/refunds/{note.id}"))
    for expected in ("CREDIT NOTE", note.credit_note_number,
                     f"Against invoice {sale.invoice_number}", "Issued to", OTHER_STATE,
                     "IGST", "Tax payable on reverse charge: No"):
        assert expected in page, expected


async def test_a_composition_till_shows_no_gst_on_the_cart(composition, db, staff):
    from litestar.testing import AsyncTestClient

    from app.server import create_store_app
    from tests.conftest import STAFF, login

    async with AsyncTestClient(app=create_store_app(composition)) as c:
        await login(c, staff["cashier"], STAFF["cashier"][1])
        await c.post("/pos/shift/open", data={"counter": "C1", "float": "0",
                                              "_csrf_token": csrf_of(c)})
        page = await c.get("/pos")
        cart_id = re.search(r'id="cart-id" name="cart_id" value="([^"]+)"', page.text)[1]
        scanned = await c.post("/pos/scan", data={"cart_id": cart_id,
                                                  "code": barcode(CAT[0], LOTION),
                                                  "_csrf_token": csrf_of(c)})
        assert "Added" in scanned.text and "incl. GST" not in scanned.text
        buyer = await c.post("/pos/cart/buyer", data={
            "cart_id": cart_id, "gstin": SAME_STATE, "name": BUYER[0], "address": BUYER[1],
            "_csrf_token": csrf_of(c)})
        assert "Bill of supply to" in buyer.text


async def test_a_bill_of_supply_on_screen_shows_no_tax(composition, db, client, login_as,
                                                       staff, users):
    cfg = composition
    manager = users["manager"]
    await shifts.open_shift(db, cfg, "C2", manager, 0)
    sale = await b2b_sale(db, cfg, manager, SAME_STATE, DAL, counter="C2")
    public = screen(await client.get(f"/r/{sale.receipt_token}"))
    assert "BILL OF SUPPLY" in public and "TAX INVOICE" not in public
    assert "Composition taxable person, not eligible to collect tax on supplies" in public
    assert "CGST" not in public and "GST 5%" not in public


async def test_a_cart_row_with_a_bad_gstin_is_refused_at_pay_and_writes_nothing(cfg, db,
                                                                                 cashier):
    """Only set_buyer writes the buyer, checked; a row changed behind its back is not
    trusted: Complete refuses it and no sale or number is written."""
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    view = await new_cart(db, cfg, "C1", cashier, barcode(CAT[0], DAL))
    await pay_cash(db, cfg, "C1", view.cart.id)
    async with db.write() as s:
        (await s.get(Cart, view.cart.id)).buyer_gstin = "27AAPFU0939F1ZO"
    with pytest.raises(PosError, match="check character"):
        await payment.complete_sale(db, cfg, "C1", view.cart.id, new_key(), cashier)
    assert await rows(db, select(Sale)) == []
    assert await sequence(db, "sale") == 0
    assert await sequence(db, f"invoice:S1:{fy_now(cfg)}") == 0


async def test_the_x_z_report_shows_an_inter_state_invoice_as_igst(cfg, db, manager):
    """The shift's GST table: the retail bill's GST in CGST + SGST halves, the invoice to
    Maharashtra's as IGST, a refund of it netted off the IGST; rows still add up to the
    net takings with the rounding line."""
    shift = await shifts.open_shift(db, cfg, "C1", manager, 0)
    inter = await b2b_sale(db, cfg, manager, OTHER_STATE, DAL, DAL)
    retail = await b2b_sale(db, cfg, manager, "", DAL)
    [line] = inter.lines if len(inter.lines) == 1 else [inter.lines[0]]
    back = await refund_line(db, cfg, inter.id, line.id, 1, "resaleable", manager)
    report = await shifts.shift_report(db, shift.id)
    [row] = [r for r in report.tax_rows if r.rate_bp == 500]
    sold_igst = sum(ln.igst_minor for ln in inter.lines if ln.gst_rate_bp == 500)
    retail_tax = sum(ln.tax_minor for ln in retail.lines)
    assert row.igst == sold_igst - back.tax_minor and row.igst > 0
    assert row.cgst == row.sgst == retail_tax // 2 and row.cgst > 0
    assert report.has_igst
    assert sum(r.total for r in report.tax_rows) + report.net_rounding == report.net_sales
    closed = await shifts.close_shift(db, cfg, shift.id, manager, {})
    paper = words(await printed(db, "report", shift.id))
    assert "IGST 5%" in paper and "CGST 2.5%" in paper, paper
    assert closed is not None



async def test_a_composition_dealer_may_not_bill_a_buyer_in_another_state(
        composition, db, manager):
    """CGST Act s.10(2)(c): no inter-state supplies under composition. Refused at the
    form, and at Pay for a buyer added before the store joined the scheme."""
    cfg = composition
    await shifts.open_shift(db, cfg, "C1", manager, 0)
    view = await new_cart(db, cfg, "C1", manager, barcode(CAT[0], ATTA))
    with pytest.raises(PosError, match="composition scheme .* another state "
                                       r"\(27-Maharashtra\)"):
        await cart.set_buyer(db, cfg, "C1", view.cart.id, OTHER_STATE, *BUYER)
    assert (await one(db, select(Cart).where(Cart.id == view.cart.id))).buyer_gstin == ""
    regular = msgspec.structs.replace(cfg, store=msgspec.structs.replace(
        cfg.store, composition_scheme=False))
    await cart.set_buyer(db, regular, "C1", view.cart.id, OTHER_STATE, *BUYER)
    await pay_cash(db, cfg, "C1", view.cart.id)
    with pytest.raises(PosError, match="Remove the payment and the buyer"):
        await payment.complete_sale(db, cfg, "C1", view.cart.id, new_key(), manager)
    assert await one(db, select(func.count()).select_from(Sale)) == 0


@pytest.fixture
def no_gstin(cfg):
    return msgspec.structs.replace(
        cfg, store=msgspec.structs.replace(cfg.store, gstin="", state_code="29"))


async def test_a_store_without_a_gstin_issues_no_tax_invoice(no_gstin, db, manager):
    """Rule 46 names the supplier's GSTIN: without one the till refuses a business bill
    (form and Pay) and takes no invoice number; retail bills go on."""
    cfg = no_gstin
    await shifts.open_shift(db, cfg, "C1", manager, 0)
    view = await new_cart(db, cfg, "C1", manager, barcode(CAT[0], ATTA))
    with pytest.raises(PosError, match="no GSTIN in its settings"):
        await cart.set_buyer(db, cfg, "C1", view.cart.id, SAME_STATE, *BUYER)
    assert (await one(db, select(Cart).where(Cart.id == view.cart.id))).buyer_gstin == ""
    async with db.write() as s:  # a buyer added while the store still had its GSTIN
        await s.execute(Cart.__table__.update().where(Cart.id == view.cart.id).values(
            buyer_gstin=SAME_STATE, buyer_name=BUYER[0], buyer_address=BUYER[1]))
    await pay_cash(db, cfg, "C1", view.cart.id)
    with pytest.raises(PosError, match="no GSTIN"):
        await payment.complete_sale(db, cfg, "C1", view.cart.id, new_key(), manager)
    assert await sequence(db, f"invoice:S1:{fy_now(cfg)}") == 0
    assert await one(db, select(func.count()).select_from(Sale)) == 0


async def test_a_credit_note_event_names_the_buyer_for_the_hubs_return(cfg, db, manager):
    await shifts.open_shift(db, cfg, "C1", manager, 0)
    sale = await b2b_sale(db, cfg, manager, OTHER_STATE, DAL)
    note = await refund_line(db, cfg, sale.id, sale.lines[0].id, 1, "resaleable", manager)
    [event] = [e for e in await events(db, "sale.refunded") if e["refund_id"] == note.id]
    assert event["buyer_name"] == BUYER[0]
