"""Purchasing, receiving and printing in Hindi (issue #22): every page a Hindi manager or
picker opens shows no English wording (tests/hindi.py), the printed X/Z report, labels,
pick list, packing slip and purchase order speak the store's language with the same
figures, a receipt's line prints its local name, and English stays as it was."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from types import SimpleNamespace

import jinja2
import pytest
from sqlalchemy import update

from app.catalog.models import Product
from app.core import i18n, resources
from app.core.auth import StaffUser
from app.core.models import User
from app.pos import receipts
from app.printing import service as printing
from app.printing import status as st
from app.printing.documents import PrintTemplates
from tests.conftest import STAFF, csrf_of, make_config
from tests.hindi import english_runs, untranslated
from tests.integration.test_pos_pages import (  # noqa: F401  (rows: a fixture)
    hx,
    open_till,
    pay_cash_and_complete,
    rows,
)
from tests.integration.test_receiving import ATTA, case_of, shop  # noqa: F401  (fixture)

# Data, not wording: the supplier, products, staff and store as the fixtures name them.
DATA = {"Sharma Traders", "Toor Dal", "Atta 5 kg", "Toor Dal 1 kg", "Meena", "Kirana Fresh",
        "100 Feet Road"}


def clean(html: str) -> None:
    assert english_runs(html, allow=DATA) == [], english_runs(html, allow=DATA)
    assert untranslated(html) == [], untranslated(html)


async def hindi(db, staff, role: str) -> None:
    async with db.write() as s:
        (await s.get(User, staff[role])).language = "hi"


async def test_purchasing_and_printer_pages_in_hindi(client, login_as, db, shop):  # noqa: F811
    await hindi(db, shop, "manager")
    await login_as("manager")
    form = {"_csrf_token": csrf_of(client)}
    sid, po = shop["supplier"], shop["po"]
    printed = await client.post(f"/purchasing/orders/{po}/print-slip", data=form)
    assert printed.status_code == 200 and "1 प्रिंटर पर भेजा गया।" in printed.text
    await client.post("/printers/packing-1/test", data=form)
    draft = await client.post(f"/purchasing/suppliers/{sid}/orders", data={
        **form, f"qty_{shop['ATTA']}": "1", f"unit_{shop['ATTA']}": "case"},
        follow_redirects=False)
    assert draft.status_code == 303
    pages = ["/purchasing", "/purchasing/suppliers/new", f"/purchasing/suppliers/{sid}",
             f"/purchasing/suppliers/{sid}/suggest", "/purchasing/import",
             f"/purchasing/orders/{po}", f"/purchasing/orders/{po}/print",
             draft.headers["location"], "/printers"]
    for path in pages:
        page = await client.get(path)
        assert page.status_code == 200, path
        clean(page.text)
    index = (await client.get("/purchasing")).text
    assert "सप्लायर और खरीद ऑर्डर" in index and "PO-000001" in index
    jobs = (await client.get("/printers")).text
    assert "टेस्ट पेज" in jobs and "हाल के प्रिंट" in jobs
    job = re.search(r'href="(/printers/jobs/[^"]+/preview)"', jobs).group(1)
    preview = await client.get(job)
    assert preview.status_code == 200 and "टेस्ट पेज" in preview.text
    # the paper itself is in the store's language (English here), not the reader's
    clean(re.sub(r'<div class="paper-wrap".*?</main>', "</main>", preview.text, flags=re.S))
    # errors a manager reads
    refused = await client.post(f"/purchasing/suppliers/{sid}/orders",
                                data={**form, f"qty_{shop['ATTA']}": "0"})
    assert refused.status_code == 400 and "ऑर्डर करने को कुछ नहीं" in refused.text
    clean(refused.text)
    bad = await client.post("/purchasing/suppliers", data={
        **form, "name": "X", "gstin": "27AAPFU0939F1ZX", "lead_time_days": "2"})
    assert bad.status_code == 400 and "सही नहीं है" in bad.text
    clean(bad.text)


async def test_receiving_pages_in_hindi(client, login_as, db, shop):  # noqa: F811
    await hindi(db, shop, "manager")
    await login_as("manager")
    form = {"_csrf_token": csrf_of(client)}
    clean((await client.get("/purchasing/receive")).text)
    started = await client.post("/purchasing/receive", data={**form, "po_id": shop["po"]},
                                follow_redirects=False)
    url = started.headers["location"]
    clean((await client.get(url)).text)
    step = await client.post(f"{url}/scan", data={**form, "code": case_of(ATTA)})
    assert "12 वाली पेटी" in step.text
    clean(step.text)
    fields = dict(re.findall(r'name="(request_id|product_id|unit|code)" value="([^"]*)"',
                             step.text))
    wrong = await client.post(f"{url}/items", data={**form, **fields, "count": "NaN",
                                                    "bin": "A-01"})
    assert wrong.status_code == 400 and "पूरी संख्या" in wrong.text
    clean(wrong.text)
    added = await client.post(f"{url}/items", data={**form, **fields, "count": "2",
                                                    "bin": "A-01"})
    assert "Atta 5 kg के 24 पीस A-01 में जोड़े।" in added.text
    clean(added.text)
    summary = await client.get(f"{url}/summary")
    assert "कम" in summary.text and "मैनेजर की मंज़ूरी" in summary.text
    clean(summary.text)
    unsigned = await client.post(f"{url}/sign", data=form)
    assert unsigned.status_code == 400
    clean(unsigned.text)
    signed = await client.post(f"{url}/sign", data={
        **form, f"reason_{shop['DAL']}": "बाकी बाद में आएगा", "approver_id": shop["manager"],
        "approver_pin": STAFF["manager"][1]}, follow_redirects=False)
    done = (await client.get(signed.headers["location"])).text
    assert "Meena ने मंज़ूर किया" in done
    clean(done)


async def test_english_pages_unchanged(client, login_as, db, shop):  # noqa: F811
    await login_as("manager")
    index = (await client.get("/purchasing")).text
    assert "Suppliers and purchase orders" in index and "<td>Sent</td>" in index
    order = (await client.get(f"/purchasing/orders/{shop['po']}")).text
    assert "Mark as sent" not in order and "Cancel this order" in order
    assert "2 cases" in order and "1 case" in order
    printers = (await client.get("/printers")).text
    assert "Recent jobs" in printers and "Test print" in printers


# --- paper ---------------------------------------------------------------------------


def _report():
    shift = SimpleNamespace(number=7, counter="C1", opened_at=datetime(2026, 12, 2, 3, 30,
                                                                        tzinfo=UTC),
                            closed_at=datetime(2026, 12, 2, 12, 30, tzinfo=UTC),
                            float_minor=200000, counted_cash_minor=1234500,
                            expected_cash_minor=1234000)
    tax = SimpleNamespace(rate_bp=500, taxable=10000000, cgst=250000, sgst=250000, igst=0)
    return SimpleNamespace(
        shift=shift, sales_count=42, sales_total=12345600, refunds_count=2,
        refunds_total=45600, net_sales=12300000, tenders=["cash", "upi"],
        by_tender={"cash": 1100000, "upi": 11245600}, refunds_by_tender={"cash": 45600},
        cash_in=10000, cash_out=5000, expected_cash=1234000, cash_out_warning="",
        tax_rows=[tax], net_rounding=-12, discounts=3300, voids_count=1, voids_total=2500,
        change_given=78900)


def _templates(tmp_path, language: str) -> PrintTemplates:
    return PrintTemplates(make_config(tmp_path, **{'language = "en"': f'language = "{language}"'}))


def test_printed_z_report_in_hindi_with_the_same_figures(tmp_path):
    english = _templates(tmp_path, "en").render("report", report=_report(), closed=True)
    hindi_paper = _templates(tmp_path, "hi").render("report", report=_report(), closed=True)
    assert "[c][b][w]Z REPORT" in english and "[row]Bills (42)||₹1,23,456.00" in english
    assert "[c][b][w]Z रिपोर्ट" in hindi_paper
    assert "[row]बिल (42)||₹1,23,456.00" in hindi_paper
    assert "[b][row]= शुद्ध कमाई||₹1,23,000.00" in hindi_paper
    assert "[row]गिना गया नकद||₹12,345.00" in hindi_paper
    assert "[b][row]फ़र्क (गिना - होना चाहिए)||₹5.00" in hindi_paper
    assert "[row]GST 5% कर योग्य||₹1,00,000.00" in hindi_paper
    assert "REPORT" not in hindi_paper and "Net takings" not in hindi_paper
    # every figure of the English paper is on the Hindi one, in the same order
    figures = re.compile(r"-?₹[0-9,.]+")
    assert figures.findall(english) == figures.findall(hindi_paper)
    x_report = _templates(tmp_path, "hi").render("report", report=_report(), closed=False)
    assert "X रिपोर्ट" in x_report


def test_price_label_and_other_paper_in_hindi(tmp_path):
    label = SimpleNamespace(name="Amul Butter 100 g", sku="BUT", batch="B7",
                            expiry=date(2026, 12, 31), was_minor=5600, now_minor=3900,
                            barcode="2200000039005", copies=2)
    english = _templates(tmp_path, "en").render("price_label", label=label)
    assert "[c]Use by 31 Dec 2026 · Batch B7" in english and "[c][b][w]NOW ₹39.00" in english
    paper = _templates(tmp_path, "hi").render("price_label", label=label)
    assert "[row]पहले||₹56.00" in paper and paper.count("[c][b][w]अब ₹39.00") == 2
    assert "बैच B7" in paper and "31 दिस॰ 2026 तक इस्तेमाल करें" in paper
    hi = _templates(tmp_path, "hi")
    at = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    order = SimpleNamespace(number="W-1001", customer_first_name="Asha", courier="Own",
                            promised_by=at, customer_name="Asha Rao", address="12 MG Road",
                            pincode="560001", lines=[SimpleNamespace(
                                name="Atta", quantity=2, unit="piece", substitute_for="")],
                            payment="cod", cod_amount_minor=49000, notes="", bag_count=2)
    assert "थैला 1 / 2" in hi.render("bag_label", order=order, bag_no=1, bag_count=2,
                                     bag_code="B-1")
    slip = hi.render("packing_slip", order=order)
    assert "ऑर्डर W-1001" in slip and "[b][w][row]नकद लेना है||₹490.00" in slip
    batch = SimpleNamespace(number="B-9", picker="Ravi", created_at=at,
                            orders=[SimpleNamespace(number="W-1001", bag="A", promised_by=at)],
                            tasks=[SimpleNamespace(bin="A-01", sku="ATTA", name="Atta",
                                                   quantity=2, unit="piece", bag="A")])
    assert "पिक सूची" in hi.render("pick_list", batch=batch)
    po = SimpleNamespace(
        label="PO-000001", po=SimpleNamespace(created_at=at, expected_on=None),
        supplier=SimpleNamespace(name="Sharma Traders", phone="", gstin=""),
        lines=[SimpleNamespace(sku="ATTA", name="Atta", quantity=2, unit="case", pack_size=6,
                               pieces=12, case_cost_minor=138000, line_cost_minor=276000)],
        total_minor=276000)
    english_po = _templates(tmp_path, "en").render("purchase_order", order=po)
    assert "[row]  2 cases x 6 = 12 pc||₹2,760.00" in english_po
    assert "[b][row]1 line||₹2,760.00" in english_po
    hindi_po = hi.render("purchase_order", order=po)
    assert "[row]  2 पेटियाँ x 6 = 12 पीस||₹2,760.00" in hindi_po and "खरीद ऑर्डर" in hindi_po
    assert "टेस्ट पेज" in hi.render("test", printer=SimpleNamespace(
        name="p", kind="preview", columns=48), at=at)


def test_bilingual_receipts_in_an_english_store_pair_hindi_with_english(tmp_path):
    cfg = make_config(tmp_path, **{
        "[security]": '[printing]\nreceipt_language = "bilingual"\n\n[security]'})
    assert cfg.store.language == "en"
    assert PrintTemplates(cfg).language("receipt") == ("hi", True)
    assert PrintTemplates(cfg).language("report") == ("en", False)


def test_printer_status_words_in_hindi():
    with i18n.use_language("hi"):
        assert st.banner("counter-1", st.PAPER_OUT, 2) == (
            "प्रिंटर counter-1: कागज़ ख़त्म — 2 रसीदें रुकी हैं।")
        assert st.next_step(st.PAPER_OUT).startswith("नया रोल डालें")
    assert st.banner("counter-1", st.PAPER_OUT, 1) == (
        "Printer counter-1: out of paper — 1 receipt waiting.")


@pytest.mark.parametrize("language", ["hi", "en"])
def test_loyalty_lines_on_a_receipt(language):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(resources.TEMPLATES),
                             autoescape=True)
    i18n.install(env)
    points = SimpleNamespace(phone="98xxxxxx10", redeemed=50, earned=12, balance=300)
    with i18n.use_language(language):
        html = env.get_template("loyalty/_receipt.html").render(loyalty_points=points)
    if language == "hi":
        clean(html)
        assert "मिले पॉइंट" in html and "लॉयल्टी 98xxxxxx10" in html
    else:
        assert "<td>Points earned</td>" in html and "<td>Loyalty 98xxxxxx10</td>" in html


async def test_a_printed_receipt_carries_the_local_names(client, db, cfg, staff, login_as,
                                                        rows):  # noqa: F811
    """Gap (a): the sale's lines had no name_local, so the receipt's branch never fired;
    the sale's receipt and a reprint print the local name beside the English one."""
    product = rows[0]
    async with db.write() as s:
        await s.execute(update(Product).where(Product.sku == product.sku)
                        .values(name_local="नमक"))
    await login_as("cashier")
    cart = await open_till(client)
    await client.post("/pos/scan", data={"code": product.barcodes[0], "cart_id": cart},
                      headers=hx(client))
    sale_id = await pay_cash_and_complete(client, cart)
    jobs = await printing.jobs_for(db, sale_id)
    assert jobs and f"[row]{product.name} नमक||" in jobs[0].layout
    user = StaffUser(staff["cashier"], "Asha", "cashier")
    assert await receipts.reprint_receipt(db, cfg, sale_id, user)
    copy = (await printing.jobs_for(db, sale_id))[-1]
    assert copy.duplicate and f"[row]{product.name} नमक||" in copy.layout


async def test_a_reprint_is_marked_in_the_document_language(db, cfg, tmp_path):
    async with db.write() as s:
        job = printing.enqueue(s, "packing-1", "pick_list", "[c]PICK LIST\n", title="Pick")
    english = await printing.reprint(db, job.id, cfg)
    assert english.layout == "[c][b]*** DUPLICATE ***\n[c]PICK LIST\n"
    (tmp_path / "hi").mkdir()
    hindi_store = make_config(tmp_path / "hi", **{'language = "en"': 'language = "hi"'})
    copy = await printing.reprint(db, job.id, hindi_store)
    assert copy.layout == "[c][b]*** डुप्लिकेट ***\n[c]PICK LIST\n"
    assert (await printing.reprint(db, copy.id, hindi_store)).layout == copy.layout
