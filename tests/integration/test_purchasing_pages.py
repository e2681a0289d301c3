"""The purchasing pages through the app: a manager adds a supplier and its products,
imports a CSV (a bad row changes nothing), turns the suggestion into a draft, edits it,
sends it, downloads it and prints it; other roles are kept out."""

from __future__ import annotations

import csv
import io
import re

from app.catalog.csv_io import parse_catalog
from app.catalog.service import import_catalog
from tests.conftest import csrf_of


async def catalogue(db, cfg) -> None:
    rows = "sku,name,price,gst_rate\nATTA5,Atta 5 kg,245,5\nDAL1,Toor Dal 1 kg,160,5\n"
    await import_catalog(db, parse_catalog(rows, cfg.measure_rules))


async def test_manager_builds_and_sends_an_order(client, login_as, db, cfg):
    await catalogue(db, cfg)
    await login_as("manager")
    home = await client.get("/purchasing")
    assert home.status_code == 200 and 'href="/purchasing"' in home.text  # in the nav
    form = {"_csrf_token": csrf_of(client)}
    bad = await client.post("/purchasing/suppliers", data={
        **form, "name": "Sharma Traders", "gstin": "27AAPFU0939F1ZX", "lead_time_days": "2"})
    assert bad.status_code == 400 and "GSTIN" in bad.text
    made = await client.post("/purchasing/suppliers", data={
        **form, "name": "Sharma Traders", "gstin": "27aapfu0939f1zv", "phone": "+91 98450 12345",
        "lead_time_days": "2"}, follow_redirects=False)
    assert made.status_code == 303
    supplier_url = made.headers["location"]
    added = await client.post(f"{supplier_url}/items", data={
        **form, "sku": "atta5", "pack_size": "6", "case_cost": "1,380"})
    assert added.status_code == 200 and "₹1,380.00" in added.text
    refused = await client.post(f"{supplier_url}/items", data={
        **form, "sku": "DAL1", "pack_size": "0", "case_cost": "10"})
    assert refused.status_code == 400 and "pack size" in refused.text
    suggest = await client.get(f"{supplier_url}/suggest?cover=10")
    assert suggest.status_code == 200 and 'data-sku="ATTA5"' in suggest.text
    for bad in ("500", "²", "١٢"):
        assert (await client.get(f"{supplier_url}/suggest?cover={bad}")).status_code == 400
    pid = re.search(r'name="qty_([0-9a-f-]+)"', suggest.text).group(1)
    empty = await client.post(f"{supplier_url}/orders", data={**form, f"qty_{pid}": "0"})
    assert empty.status_code == 400 and "Nothing to order" in empty.text
    for fields, words in (({f"qty_{pid}": "1e3"}, "quantity"),
                          ({f"qty_{pid}": "2", f"unit_{pid}": "box"}, "case or piece"),
                          ({"qty_not-a-product": "2"}, "does not sell us"),
                          ({f"qty_{pid}": "2", "expected_on": "31/12/2026"}, "not a date")):
        hostile = await client.post(f"{supplier_url}/orders", data={**form, **fields})
        assert hostile.status_code == 400 and words in hostile.text, fields
    assert "PO-0" not in (await client.get("/purchasing")).text  # none of them made an order
    made_po = await client.post(f"{supplier_url}/orders", data={
        **form, f"qty_{pid}": "3", f"unit_{pid}": "case", "expected_on": ""},
        follow_redirects=False)
    assert made_po.status_code == 303
    po_url = made_po.headers["location"]
    po = await client.get(po_url)
    assert "PO-000001" in po.text and "Draft" in po.text and "₹4,140.00" in po.text
    past = await client.post(po_url, data={**form, f"qty_{pid}": "4", "expected_on": "2020-01-01"})
    assert past.status_code == 400 and "in the past" in past.text
    edited = await client.post(po_url, data={**form, f"qty_{pid}": "4", f"unit_{pid}": "piece"})
    assert edited.status_code == 200 and "₹920.00" in edited.text  # 4 of 6 pieces of ₹1,380
    sent = await client.post(f"{po_url}/status", data={**form, "to": "sent"})
    assert sent.status_code == 200 and 'data-testid="po-status">Sent' in sent.text
    again = await client.post(f"{po_url}/status", data={**form, "to": "received"})
    assert again.status_code == 200  # sent -> received is allowed by the machine
    wrong = await client.post(f"{po_url}/status", data={**form, "to": "draft"})
    assert wrong.status_code == 400 and "nothing more can happen" in wrong.text
    text = (await client.get(f"{po_url}/csv")).text
    assert list(csv.reader(io.StringIO(text)))[1][:4] == ["ATTA5", "Atta 5 kg", "4", "piece"]
    printed = await client.get(f"{po_url}/print")
    assert printed.status_code == 200 and "Purchase order PO-000001" in printed.text
    assert "Sharma Traders" in printed.text and "GSTIN 27AAPFU0939F1ZV" in printed.text
    assert (await client.get("/purchasing/orders/nope")).status_code == 404
    slip = await client.post(f"{po_url}/print-slip", data=form)
    assert slip.status_code == 200 and "Sent to 1 printer." in slip.text
    from sqlalchemy import select

    from app.printing.models import PrintJob

    async with db.read() as s:
        jobs = list(await s.scalars(select(PrintJob).where(
            PrintJob.document == "purchase_order")))
    assert [j.printer for j in jobs] == ["packing-1"] and jobs[0].ref == "po PO-000001"
    layout = jobs[0].layout
    assert "PURCHASE ORDER" in layout and "PO-000001" in layout and "Atta 5 kg" in layout
    assert "4 pc = 4 pc||₹920.00" in layout and "Sharma Traders" in layout


async def test_import_page_names_the_bad_line_and_changes_nothing(client, login_as, db, cfg):
    await catalogue(db, cfg)
    await login_as("manager")
    good = ("supplier,gstin,phone,lead_time_days,sku,case_cost,pack_size\n"
            "Sharma Traders,,,2,ATTA5,1380,6\n")
    ok = await client.post("/purchasing/import", data={"_csrf_token": csrf_of(client)},
                           files={"file": ("s.csv", good.encode(), "text/csv")})
    assert ok.status_code == 200 and "1 product" in ok.text
    before = (await client.get("/purchasing/suppliers.csv")).text
    bad = good.replace("1380", "1500") + "Gupta,,,1,NOPE,10,1\n"
    refused = await client.post("/purchasing/import", data={"_csrf_token": csrf_of(client)},
                                files={"file": ("s.csv", bad.encode(), "text/csv")})
    assert refused.status_code == 400 and "no product has SKU NOPE" in refused.text
    assert "<td class=\"num\">3</td>" in refused.text  # the line
    assert (await client.get("/purchasing/suppliers.csv")).text == before
    assert "1380.00" in before


async def test_only_managers(client, login_as):
    await login_as("cashier")
    page = await client.get("/purchasing")
    assert page.status_code in (401, 403)
    assert 'href="/purchasing"' not in (await client.get("/help")).text


async def test_no_printer_for_purchase_orders_is_a_clear_refusal(tmp_path, migrated_template):
    """A store whose settings give no printer purchase orders is told what to change,
    and nothing is queued."""
    import shutil

    from sqlalchemy import func, select

    from app.core.db import Database
    from app.printing.models import PrintJob
    from app.purchasing import service
    from app.purchasing.csv_io import parse_suppliers
    from app.purchasing.rules import WantedLine
    from tests.conftest import make_config

    cfg = make_config(tmp_path, **{'"price_label", "purchase_order",': '"price_label",'})
    shutil.copy(migrated_template, cfg.database_path)
    db = Database(cfg.database_path)
    try:
        await catalogue(db, cfg)
        await service.import_suppliers(db, parse_suppliers(
            "supplier,gstin,phone,lead_time_days,sku,case_cost,pack_size\n"
            "Sharma Traders,,,2,ATTA5,1380.00,6\n"))
        supplier = (await service.list_suppliers(db))[0]
        item = (await service.get_supplier(db, supplier.id)).items[0]
        po = await service.create_order(db, supplier.id, [WantedLine(item.product_id, 1, "case")],
                                        None, None)
        import pytest

        with pytest.raises(service.PurchasingError, match="No printer prints purchase orders"):
            await service.print_order(db, cfg, po, None)
        async with db.read() as s:
            assert await s.scalar(select(func.count()).select_from(PrintJob)) == 0
    finally:
        await db.dispose()
