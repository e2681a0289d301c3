"""Receiving goods (GRN, issue #17) on a real SQLite file: against a purchase order and
without one, cases and pieces, GS1 batch and expiry, differences, the manager's PIN,
stock entering at the sign-off with the order's new state and the moving-average cost;
and every refusal changes nothing."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.catalog.barcodes import gtin_check_digit
from app.catalog.csv_io import parse_catalog
from app.catalog.service import import_catalog
from app.core.clock import utcnow
from app.core.models import AuditLog
from app.purchasing import receiving, service
from app.purchasing.models import (
    GoodsReceipt,
    GoodsReceiptItem,
    PurchaseOrder,
    PurchaseOrderLine,
)
from app.purchasing.receiving import ItemInput, NeedsConfirm, SignOff
from app.purchasing.receiving_rules import ReceivingError
from app.purchasing.rules import SupplierFields, WantedLine
from app.stock import service as stock
from app.stock.models import StockLevel, StockMove
from app.sync.models import OutboxEvent
from tests.conftest import STAFF, csrf_of

TODAY = utcnow().date()
EXPIRY = TODAY + timedelta(days=200)


def ean(body12: str) -> str:
    return body12 + gtin_check_digit(body12)


def case_of(piece13: str, indicator: str = "1") -> str:
    body = indicator + piece13[:12]
    return body + gtin_check_digit(body)


ATTA, DAL, SOAP = ean("890100000001"), ean("890100000002"), ean("890100000003")
CATALOG = ("sku,name,price,gst_rate,barcodes,tracks_expiry\n"
           f"ATTA,Atta 5 kg,245,5,{ATTA},no\n"
           f"DAL,Toor Dal 1 kg,160,5,{DAL},yes\n"
           f"SOAP,Soap,30,18,{SOAP},no\n")


def gs1(gtin14: str, expiry: date, batch: str) -> str:
    """A DataMatrix as a scanner sends it: ]d2, AI 01, 17, then 10 (variable, last)."""
    return f"]d201{gtin14}17{expiry.strftime('%y%m%d')}10{batch}"


@pytest.fixture
async def shop(db, cfg, staff):
    await import_catalog(db, parse_catalog(CATALOG, cfg.measure_rules))
    await stock.load_bins_csv(db, "code,zone,aisle,shelf,pick_seq\nA-01,AMBIENT,A,1,10\n"
                                  "B-01,AMBIENT,B,1,20\n")
    sid = await service.save_supplier(db, SupplierFields("Sharma Traders", lead_time_days=2))
    await service.set_item(db, sid, "ATTA", 120000, 12)  # ₹1,200 a case of 12
    await service.set_item(db, sid, "DAL", 60000, 6)  # ₹600 a case of 6
    async with db.read() as s:
        from app.catalog.models import Product
        ids = {p.sku: p.id for p in await s.scalars(select(Product))}
    po = await service.create_order(db, sid, [WantedLine(ids["ATTA"], 2, "case"),
                                              WantedLine(ids["DAL"], 1, "case")], None, None)
    await service.move_order(db, po, "sent")
    return {"supplier": sid, "po": po, **ids, **staff}


def item(product_id: str, count: int = 1, unit: str = "piece", **kw) -> ItemInput:
    fields = {"request_id": receiving.uuid7(), "product_id": product_id, "unit": unit,
              "count": count, "bin_code": "", "batch": "", "expiry": None, "damaged": False}
    return ItemInput(**{**fields, **kw})


async def snapshot(db) -> tuple:
    async with db.read() as s:
        return tuple([int(await s.scalar(select(func.count()).select_from(t)) or 0)
                      for t in (GoodsReceipt, GoodsReceiptItem, StockMove, OutboxEvent)])


async def levels(db) -> dict:
    async with db.read() as s:
        rows = await s.execute(select(StockLevel.product_id, StockLevel.batch,
                                      StockLevel.expiry, StockLevel.on_hand))
        return {(p, b): (e, q) for p, b, e, q in rows.all()}


async def po_status(db, po_id) -> str:
    async with db.read() as s:
        return (await s.get(PurchaseOrder, po_id)).status


async def test_receive_an_order_by_scanning_and_sign_off(db, shop):
    grn = await receiving.start(db, po_id=shop["po"], supplier_id=None, supplier_ref="B-77",
                                user_id=shop["picker"])
    # A case GTIN-14 of the atta counts as the order line's pack size.
    step = await receiving.scan(db, grn, case_of(ATTA), today=TODAY)
    assert (step.product.sku, step.unit, step.pack_size, step.bin_code) == ("ATTA", "case", 12,
                                                                            "A-01")
    added = await receiving.add_item(db, grn, item(shop["ATTA"], 2, "case", bin_code="B-01"),
                                     today=TODAY, user_id=shop["picker"])
    assert added.quantity == 24 and added.bin_code == "B-01"
    # A GS1 DataMatrix fills batch and expiry (the century by GS1's rule).
    step = await receiving.scan(db, grn, gs1("0" + DAL, EXPIRY, "L42"), today=TODAY)
    assert (step.product.sku, step.unit, step.batch, step.expiry) == ("DAL", "piece", "L42",
                                                                      EXPIRY)
    await receiving.add_item(db, grn, item(shop["DAL"], 4, batch="L42", expiry=EXPIRY),
                             today=TODAY, user_id=shop["picker"])
    await receiving.add_item(db, grn, item(shop["DAL"], 1, batch="L42", expiry=EXPIRY,
                                           damaged=True), today=TODAY, user_id=shop["picker"])
    assert await levels(db) == {}  # nothing is in stock before the sign-off
    view = await receiving.get_receipt(db, grn)
    kinds = {r.sku: r.kinds for r in view.summary}
    assert kinds == {"ATTA": (), "DAL": ("short", "damaged")}
    before = await snapshot(db)
    with pytest.raises(ReceivingError, match="reason.*Toor Dal"):
        await receiving.sign_off(db, grn, SignOff({}, {}), signer_id=shop["manager"],
                                 user_id=shop["picker"])
    assert await snapshot(db) == before
    label = await receiving.sign_off(
        db, grn, SignOff({shop["DAL"]: "Broken in transit"}, {}), signer_id=shop["manager"],
        user_id=shop["picker"])
    assert label == "GRN-000001"
    assert await levels(db) == {(shop["ATTA"], ""): (None, 24), (shop["DAL"], "L42"): (EXPIRY, 4)}
    async with db.read() as s:
        moves = list(await s.scalars(select(StockMove)))
        events = int(await s.scalar(select(func.count()).select_from(OutboxEvent)
                                    .where(OutboxEvent.kind == "stock.moved")) or 0)
        line = await s.scalar(select(PurchaseOrderLine).where(
            PurchaseOrderLine.product_id == shop["DAL"]))
        signed = await s.scalar(select(AuditLog).where(AuditLog.action == "grn.signed"))
    assert {(m.reason, m.reference, m.delta, m.batch) for m in moves} == {
        ("receive", "GRN-000001", 24, None), ("receive", "GRN-000001", 4, "L42")}
    assert events == 2 and line.received == 4
    assert signed.approver_id == shop["manager"] and signed.user_id == shop["picker"]
    assert await po_status(db, shop["po"]) == "partly_received"
    cost = await receiving.product_cost(db, shop["ATTA"])
    assert (cost.avg_cost_minor, cost.quantity) == (10000, 24)  # ₹1,200 / 12
    # Signing again (a double tap, a replay) changes nothing.
    after = await snapshot(db)
    with pytest.raises(receiving.AlreadyClosed):
        await receiving.sign_off(db, grn, SignOff({shop["DAL"]: "x"}, {}),
                                 signer_id=shop["manager"], user_id=None)
    with pytest.raises(receiving.AlreadyClosed):
        await receiving.add_item(db, grn, item(shop["ATTA"]), today=TODAY, user_id=None)
    assert await snapshot(db) == after
    # The rest comes: a new receipt, and the order is received.
    grn2 = await receiving.start(db, po_id=shop["po"], supplier_id=None, supplier_ref="",
                                 user_id=None)
    assert grn2 != grn
    view = await receiving.get_receipt(db, grn2)
    assert {r.sku: r.diff.expected for r in view.summary} == {"ATTA": 0, "DAL": 2}
    # The put-away bin offered is now the atta's home (its fullest bin), not the first.
    assert (await receiving.scan(db, grn2, ATTA, today=TODAY)).bin_code == "B-01"
    await receiving.add_item(db, grn2, item(shop["DAL"], 2, batch="L43", expiry=EXPIRY),
                             today=TODAY, user_id=None)
    await receiving.sign_off(db, grn2, SignOff({}, {shop["DAL"]: 66000}),
                             signer_id=shop["manager"], user_id=None)
    assert await po_status(db, shop["po"]) == "received"
    cost = await receiving.product_cost(db, shop["DAL"])
    # 4 at ₹100 and 2 at ₹110: (40000 + 22000) / 6 paise
    assert (cost.quantity, cost.value_minor, cost.avg_cost_minor) == (6, 62000, 10333)
    with pytest.raises(ReceivingError, match="received"):
        await receiving.start(db, po_id=shop["po"], supplier_id=None, supplier_ref="",
                              user_id=None)


async def test_over_receipt_not_ordered_and_expired_need_a_confirm(db, shop):
    grn = await receiving.start(db, po_id=shop["po"], supplier_id=None, supplier_ref="",
                                user_id=None)
    # Ordered 2 cases of 12: 3 cases (ordered + one case) pass, a 4th needs a confirm.
    await receiving.add_item(db, grn, item(shop["ATTA"], 3, "case"), today=TODAY, user_id=None)
    before = await snapshot(db)
    extra = item(shop["ATTA"], 1, "case")
    with pytest.raises(NeedsConfirm) as exc:
        await receiving.add_item(db, grn, extra, today=TODAY, user_id=None)
    assert exc.value.kinds == ["over"] and "48 would be received against 24" in str(exc.value)
    assert await snapshot(db) == before
    await receiving.add_item(db, grn, extra, today=TODAY, user_id=None,
                             confirmed=frozenset({"over"}))
    # Soap is not on the order: a confirm, then a "wrong item" difference.
    with pytest.raises(NeedsConfirm, match="not on PO-000001"):
        await receiving.add_item(db, grn, item(shop["SOAP"], 5), today=TODAY, user_id=None)
    await receiving.add_item(db, grn, item(shop["SOAP"], 5), today=TODAY, user_id=None,
                             confirmed=frozenset({"not_ordered"}))
    # An expiry that has passed warns.
    old = item(shop["DAL"], 1, batch="OLD1", expiry=TODAY - timedelta(days=1))
    with pytest.raises(NeedsConfirm, match="already passed"):
        await receiving.add_item(db, grn, old, today=TODAY, user_id=None)
    view = await receiving.get_receipt(db, grn)
    assert {r.sku: r.kinds for r in view.summary} == {
        "ATTA": ("excess",), "DAL": ("short",), "SOAP": ("wrong_item",)}


async def test_refusals_change_nothing(db, shop):
    grn = await receiving.start(db, po_id=shop["po"], supplier_id=None, supplier_ref="",
                                user_id=None)
    before = await snapshot(db)
    refused = [
        (item(shop["ATTA"], 1, batch="B1"), "does not track expiry"),
        (item(shop["ATTA"], 1, expiry=EXPIRY), "does not track expiry"),
        (item(shop["DAL"], 1), "enter the batch and the expiry"),
        (item(shop["DAL"], 1, batch="B1"), "enter the batch and the expiry"),
        (item(shop["ATTA"], 1, bin_code="NOPE"), "no bin"),
        (item(shop["ATTA"], 0), "whole number"),
        (item(shop["ATTA"], 2**63), "whole number"),
        (item(shop["ATTA"], 1, unit="box"), "case or piece"),
        (item(shop["ATTA"], 1, request_id="x"), "out of date"),
        (item("no-such-product"), "no longer exists"),
    ]
    for it, words in refused:
        with pytest.raises(ReceivingError, match=words):
            await receiving.add_item(db, grn, it, today=TODAY, user_id=None)
    for code, words in [("x" * 100_000, "too long"), ("89010\x0000001", "control character"),
                        ("]d201" + "1" * 14, "check digit"), ("8901000000999", "check digit"),
                        (ean("890199999999"), "No product has barcode")]:
        with pytest.raises(ReceivingError, match=words):
            await receiving.scan(db, grn, code, today=TODAY)
    with pytest.raises(ReceivingError, match="Nothing has been received"):
        await receiving.sign_off(db, grn, SignOff({}, {}), signer_id=shop["manager"],
                                 user_id=None)
    assert await snapshot(db) == before
    # A case whose pack size nobody knows: no order, no supplier.
    loose = await receiving.start(db, po_id=None, supplier_id=None, supplier_ref="",
                                  user_id=None)
    with pytest.raises(ReceivingError, match="what a case holds is not known"):
        await receiving.scan(db, loose, case_of(SOAP), today=TODAY)
    with pytest.raises(ReceivingError, match="what a case holds is not known"):
        await receiving.add_item(db, loose, item(shop["SOAP"], 1, "case"), today=TODAY,
                                 user_id=None)
    # A draft order cannot be received against.
    draft = await service.create_order(db, shop["supplier"], [WantedLine(shop["ATTA"], 1)],
                                       None, None)
    with pytest.raises(ReceivingError, match="draft"):
        await receiving.start(db, po_id=draft, supplier_id=None, supplier_ref="", user_id=None)


async def test_without_an_order_and_damaged_stays_out(db, shop):
    grn = await receiving.start(db, po_id=None, supplier_id=shop["supplier"],
                                supplier_ref="", user_id=None)
    step = await receiving.scan(db, grn, case_of(ATTA, "3"), today=TODAY)
    assert step.unit == "case" and step.pack_size == 12  # the supplier's pack size
    # A GS1 code on a product that keeps no batches: its batch is dropped, with a note.
    step = await receiving.scan(db, grn, gs1("0" + SOAP, EXPIRY, "Z9"), today=TODAY)
    assert step.batch == "" and step.expiry is None and "not kept" in step.dropped
    await receiving.add_item(db, grn, item(shop["ATTA"], 1, "case"), today=TODAY, user_id=None)
    await receiving.add_item(db, grn, item(shop["SOAP"], 3, damaged=True), today=TODAY,
                             user_id=None)
    view = await receiving.get_receipt(db, grn)
    assert {r.sku: r.kinds for r in view.summary} == {"ATTA": (), "SOAP": ("damaged",)}
    await receiving.sign_off(db, grn, SignOff({shop["SOAP"]: "Crushed"}, {}),
                             signer_id=shop["manager"], user_id=None)
    assert await levels(db) == {(shop["ATTA"], ""): (None, 12)}
    assert await receiving.product_cost(db, shop["SOAP"]) is None  # no cost known, none made
    assert await po_status(db, shop["po"]) == "sent"  # another order: untouched


async def test_a_double_tap_adds_once_and_undo_before_sign_off(db, shop):
    grn = await receiving.start(db, po_id=shop["po"], supplier_id=None, supplier_ref="",
                                user_id=None)
    once = item(shop["ATTA"], 1, "case")
    first, second = await asyncio.gather(
        receiving.add_item(db, grn, once, today=TODAY, user_id=None),
        receiving.add_item(db, grn, once, today=TODAY, user_id=None))
    assert first.item_id == second.item_id and {first.repeated, second.repeated} == {False, True}
    view = await receiving.get_receipt(db, grn)
    assert len(view.items) == 1
    await receiving.remove_item(db, grn, view.items[0].id)
    assert (await receiving.get_receipt(db, grn)).items == []


async def test_two_phones_on_one_order_do_not_double_count(db, shop):
    grns = await asyncio.gather(*[receiving.start(db, po_id=shop["po"], supplier_id=None,
                                                  supplier_ref="", user_id=None)
                                  for _ in range(2)])
    assert grns[0] == grns[1]  # they share the order's one open receipt
    grn = grns[0]
    # Each phone scans 2 cases: the second add sees the first (48 > 24 + 12).
    results = await asyncio.gather(
        *[receiving.add_item(db, grn, item(shop["ATTA"], 2, "case"), today=TODAY, user_id=None)
          for _ in range(2)], return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["AddResult", "NeedsConfirm"]
    signs = await asyncio.gather(
        *[receiving.sign_off(db, grn, SignOff({shop["DAL"]: "Rest comes later"}, {}),
                             signer_id=shop["manager"], user_id=None) for _ in range(2)],
        return_exceptions=True)
    assert sorted(type(r).__name__ for r in signs) == ["AlreadyClosed", "str"]
    assert await levels(db) == {(shop["ATTA"], ""): (None, 24)}
    async with db.read() as s:
        ledger = int(await s.scalar(select(func.sum(StockMove.delta))) or 0)
    assert ledger == 24


async def test_moving_average_follows_stock_on_hand(db, shop):
    async def receive(count: int, cost: int) -> None:
        grn = await receiving.start(db, po_id=None, supplier_id=shop["supplier"],
                                    supplier_ref="", user_id=None)
        await receiving.add_item(db, grn, item(shop["ATTA"], count, "case"), today=TODAY,
                                 user_id=None)
        await receiving.sign_off(db, grn, SignOff({}, {shop["ATTA"]: cost}),
                                 signer_id=shop["manager"], user_id=None)

    await receive(1, 120000)  # 12 at ₹100
    await stock.adjust(db, product_id=shop["ATTA"], bin_code="A-01", reason="damaged",
                       quantity=6, user_id=None)  # 6 left, still at ₹100
    await receive(1, 180000)  # 12 at ₹150
    cost = await receiving.product_cost(db, shop["ATTA"])
    assert (cost.quantity, cost.value_minor) == (18, 6 * 10000 + 12 * 15000)
    assert cost.avg_cost_minor == 13333


# --- the pages ----------------------------------------------------------------------


async def test_pages_receive_sign_off_with_the_manager_pin(client, login_as, db, shop):
    await login_as("picker")
    home = await client.get("/purchasing/receive")
    assert home.status_code == 200 and "PO-000001" in home.text
    form = {"_csrf_token": csrf_of(client)}
    started = await client.post("/purchasing/receive", data={**form, "po_id": shop["po"]},
                                follow_redirects=False)
    assert started.status_code == 303
    url = started.headers["location"]
    page = await client.get(url)
    assert page.status_code == 200 and "GRN-000001" in page.text
    step = await client.post(f"{url}/scan", data={**form, "code": case_of(ATTA)})
    assert step.status_code == 200 and "a case of 12" in step.text
    fields = dict(re.findall(r'name="(request_id|product_id|unit|code)" value="([^"]*)"',
                             step.text))
    # Hostile quantities and texts: a clear message, nothing added.
    before = await snapshot(db)
    for bad, words in [({"count": "NaN"}, "whole number"), ({"count": "inf"}, "whole number"),
                       ({"count": str(2**63)}, "whole number"), ({"count": "1e3"}, "whole number"),
                       ({"count": "1", "batch": "A\x00B"}, "NUL character"),
                       ({"count": "1", "batch": "A\x07B"}, "control character"),
                       ({"count": "1", "bin": "A" * 100_000}, "longer than"),
                       ({"count": "1", "bin": "A" * 500}, "too long"),
                       ({"count": "1", "batch": "B1"}, "does not track expiry"),
                       ({"count": "1", "expiry": "2026-02-30"}, "not a date")]:
        got = await client.post(f"{url}/items", data={**form, **fields, "bin": "A-01", **bad})
        assert got.status_code == 400 and words in got.text, bad
    for code in ("9" * 100_000, "9" * 900):
        got = await client.post(f"{url}/scan", data={**form, "code": code})
        assert "longer than" in got.text or "too long" in got.text
    assert await snapshot(db) == before
    htmx = await client.post(f"{url}/items", headers={"HX-Request": "true"},
                             data={**form, **fields, "count": "NaN", "bin": "A-01"})
    assert htmx.status_code == 200 and "whole number" in htmx.text  # htmx swaps only 2xx
    added = await client.post(f"{url}/items", data={**form, **fields, "count": "2", "bin": "A-01"})
    assert added.status_code == 200 and "Added 24 pieces of Atta 5 kg to A-01" in added.text
    # The scanning screen lists what was scanned; the order's other lines are counted.
    assert "1 more product on the order, not scanned yet" in added.text
    assert "Toor Dal" not in added.text and "Toor Dal" in (await client.get(f"{url}/summary")).text
    again = await client.post(f"{url}/items", data={**form, **fields, "count": "2", "bin": "A-01"})
    assert "Already added" in again.text
    step = await client.post(f"{url}/scan", data={**form, "code": case_of(ATTA)})
    fields = dict(re.findall(r'name="(request_id|product_id|unit|code)" value="([^"]*)"',
                             step.text))
    over = await client.post(f"{url}/items", data={**form, **fields, "count": "2", "bin": "A-01"})
    assert over.status_code == 409 and "Yes, receive it" in over.text
    over = await client.post(f"{url}/items", headers={"HX-Request": "true"},
                             data={**form, **fields, "count": "2", "bin": "A-01"})
    assert over.status_code == 200 and 'name="confirm" value="over"' in over.text
    assert 'name="confirm" value="over"' in over.text
    summary = await client.get(f"{url}/summary")
    assert summary.status_code == 200 and "Short" in summary.text
    reason = {f"reason_{shop['DAL']}": "Rest comes later"}
    wrong = await client.post(f"{url}/sign", data={
        **form, **reason, "approver_id": shop["manager"], "approver_pin": "0000"})
    assert wrong.status_code == 400 and await po_status(db, shop["po"]) == "sent"
    cashier = await client.post(f"{url}/sign", data={
        **form, **reason, "approver_id": shop["cashier"], "approver_pin": STAFF["cashier"][1]})
    assert cashier.status_code == 400 and "not a manager" in cashier.text
    assert await levels(db) == {}
    signed = await client.post(f"{url}/sign", data={
        **form, **reason, "approver_id": shop["manager"], "approver_pin": STAFF["manager"][1]},
        follow_redirects=False)
    assert signed.status_code == 303
    done = await client.get(signed.headers["location"])
    assert "Signed off by Meena" in done.text
    assert await po_status(db, shop["po"]) == "partly_received"
    replay = await client.post(f"{url}/sign", data={
        **form, **reason, "approver_id": shop["manager"], "approver_pin": STAFF["manager"][1]},
        follow_redirects=False)
    assert replay.status_code == 303
    assert await levels(db) == {(shop["ATTA"], ""): (None, 24)}


async def test_who_may_receive(client, login_as, shop):
    await login_as("cashier")
    assert (await client.get("/purchasing/receive", follow_redirects=False)).status_code == 403
    await login_as("manager")
    order = await client.get(f"/purchasing/orders/{shop['po']}")
    assert "/purchasing/receive" in order.text


async def test_one_open_receipt_per_order_is_kept_by_the_database(db, shop):
    from sqlalchemy.exc import IntegrityError

    grn = await receiving.start(db, po_id=shop["po"], supplier_id=None, supplier_ref="",
                                user_id=None)
    with pytest.raises(IntegrityError):
        async with db.write() as s:
            s.add(GoodsReceipt(id=receiving.uuid7(), number=99, po_id=shop["po"],
                               status="open", supplier_ref="", created_at=utcnow()))
    await receiving.add_item(db, grn, item(shop["ATTA"], 2, "case"), today=TODAY, user_id=None)
    await receiving.sign_off(db, grn, SignOff({shop["DAL"]: "Rest comes later"}, {}),
                             signer_id=shop["manager"], user_id=None)
    async with db.write() as s:  # a closed one does not count
        s.add(GoodsReceipt(id=receiving.uuid7(), number=99, po_id=shop["po"], status="open",
                           supplier_ref="", created_at=utcnow()))


async def test_a_failed_sign_off_writes_nothing(db, shop, client, login_as):
    """The order was cancelled while its goods were scanned: the sign-off is refused
    after its ledger moves were written in the same transaction, and all of it goes."""
    grn = await receiving.start(db, po_id=shop["po"], supplier_id=None, supplier_ref="",
                                user_id=None)
    await receiving.add_item(db, grn, item(shop["ATTA"], 2, "case"), today=TODAY, user_id=None)
    await service.move_order(db, shop["po"], "cancelled")
    before = await snapshot(db)
    with pytest.raises(ReceivingError, match="cancelled"):
        await receiving.sign_off(db, grn, SignOff({shop["DAL"]: "Rest comes later"}, {}),
                                 signer_id=shop["manager"], user_id=None)
    assert await snapshot(db) == before and await levels(db) == {}
    assert await receiving.product_cost(db, shop["ATTA"]) is None
    assert (await receiving.get_receipt(db, grn)).open
    # Hostile sign-off fields through the page: a message, nothing signed.
    await login_as("manager")
    form = {"_csrf_token": csrf_of(client), "approver_id": shop["manager"],
            "approver_pin": STAFF["manager"][1]}
    url = f"/purchasing/receive/{grn}/sign"
    for bad, words in [({f"cost_{shop['ATTA']}": "NaN"}, "not an amount"),
                       ({f"cost_{shop['ATTA']}": "inf"}, "not an amount"),
                       ({f"cost_{shop['ATTA']}": str(2**63)}, "cost"),
                       ({f"reason_{shop['DAL']}": "x" * 500}, "too long"),
                       ({f"reason_{shop['DAL']}": "a\x07b"}, "control character"),
                       ({"approver_pin": ""}, "PIN")]:
        got = await client.post(url, data={**form, **bad})
        assert got.status_code == 400 and words in got.text, bad
    assert await snapshot(db) == before


async def test_a_manager_cancels_an_open_receipt(db, shop, client, login_as):
    grn = await receiving.start(db, po_id=shop["po"], supplier_id=None, supplier_ref="",
                                user_id=None)
    await receiving.add_item(db, grn, item(shop["ATTA"], 2, "case"), today=TODAY, user_id=None)
    await login_as("picker")
    form = {"_csrf_token": csrf_of(client)}
    url = f"/purchasing/receive/{grn}"
    assert "Cancel this receipt" not in (await client.get(url)).text
    refused = await client.post(f"{url}/cancel", data=form, follow_redirects=False)
    assert refused.status_code == 403
    await login_as("manager")
    form = {"_csrf_token": csrf_of(client)}
    assert "Cancel this receipt" in (await client.get(url)).text
    for _ in range(2):  # a double tap cancels once
        done = await client.post(f"{url}/cancel", data=form, follow_redirects=False)
        assert done.status_code == 303
    page = await client.get(url)
    assert "Cancelled: nothing from this receipt went into stock" in page.text
    assert "Atta 5 kg" in page.text  # its lines stay, for the record
    async with db.read() as s:
        cancels = int(await s.scalar(select(func.count()).select_from(AuditLog)
                                     .where(AuditLog.action == "grn.cancelled")) or 0)
    assert cancels == 1 and await levels(db) == {}
    with pytest.raises(receiving.AlreadyClosed, match="cancelled"):
        await receiving.sign_off(db, grn, SignOff({shop["DAL"]: "x"}, {}),
                                 signer_id=shop["manager"], user_id=None)
    with pytest.raises(receiving.AlreadyClosed):
        await receiving.add_item(db, grn, item(shop["ATTA"]), today=TODAY, user_id=None)
    # The order can be received again, on a new receipt.
    assert await receiving.start(db, po_id=shop["po"], supplier_id=None, supplier_ref="",
                                 user_id=None) != grn


async def test_two_server_processes_on_one_order_do_not_double_count(db, cfg, shop):
    """Two Database objects on one file (as two server processes would have): SQLite's
    writer lock, not the per-process one, keeps the over-receipt check and the sign-off
    honest."""
    from app.core.db import Database

    other = Database(cfg.database_path)
    try:
        grns = await asyncio.gather(
            receiving.start(db, po_id=shop["po"], supplier_id=None, supplier_ref="",
                            user_id=None),
            receiving.start(other, po_id=shop["po"], supplier_id=None, supplier_ref="",
                            user_id=None))
        assert grns[0] == grns[1]
        grn = grns[0]
        results = await asyncio.gather(
            *[receiving.add_item(d, grn, item(shop["ATTA"], 2, "case"), today=TODAY,
                                 user_id=None) for d in (db, other)],
            return_exceptions=True)
        assert sorted(type(r).__name__ for r in results) == ["AddResult", "NeedsConfirm"]
        form = SignOff({shop["DAL"]: "Rest comes later"}, {})
        signs = await asyncio.gather(
            *[receiving.sign_off(d, grn, form, signer_id=shop["manager"], user_id=None)
              for d in (db, other)], return_exceptions=True)
        assert sorted(type(r).__name__ for r in signs) == ["AlreadyClosed", "str"]
    finally:
        await other.dispose()
    assert await levels(db) == {(shop["ATTA"], ""): (None, 24)}
