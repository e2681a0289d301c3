"""Receiving scans on plain rows (issue #17, bench): the order line, the supplier's pack
size, what this receipt already has and the put-away bin are read with prepared
statements. What the add form gets must be what the ORM version gave, for a receipt
with and without an order, and hostile codes or receipts change nothing."""

from __future__ import annotations

import pytest

from app.purchasing import receiving, service
from app.purchasing.receiving_rules import ReceivingError
from app.stock import service as stock
from tests.integration.test_receiving import (
    ATTA,
    DAL,
    SOAP,
    TODAY,
    case_of,
    item,
    shop,  # noqa: F401 - the fixture
    snapshot,
)


async def test_a_scan_reads_the_line_the_pack_the_receipt_and_the_bin(db, shop):  # noqa: F811
    grn = await receiving.start(db, po_id=shop["po"], supplier_id=None, supplier_ref="",
                                user_id=shop["picker"])
    step = await receiving.scan(db, grn, ATTA, today=TODAY)
    # On the order: 2 cases of 12 ordered, nothing in yet; no stock: the first bin.
    assert (step.product.sku, step.product.tracks_expiry, step.unit, step.pack_size,
            step.ordered, step.received, step.bin_code) == (
        "ATTA", False, "piece", 12, 24, 0, "A-01")
    assert [b.code for b in step.bins] == ["A-01", "B-01"]
    await receiving.add_item(db, grn, item(shop["ATTA"], 5, bin_code="B-01"), today=TODAY,
                             user_id=None)
    await receiving.add_item(db, grn, item(shop["ATTA"], 1, damaged=True), today=TODAY,
                             user_id=None)
    # This receipt's lines count, good and damaged.
    assert (await receiving.scan(db, grn, ATTA, today=TODAY)).received == 6
    # The fullest bin is offered once the product has stock somewhere.
    await stock.receive(db, product_id=shop["ATTA"], bin_code="B-01", quantity=3, user_id=None)
    assert (await receiving.scan(db, grn, ATTA, today=TODAY)).bin_code == "B-01"
    # Not on the order, not sold by this supplier: no pack size, a case is refused.
    step = await receiving.scan(db, grn, SOAP, today=TODAY)
    assert (step.ordered, step.pack_size, step.received) == (None, None, 0)
    with pytest.raises(ReceivingError, match="Soap"):
        await receiving.scan(db, grn, case_of(SOAP), today=TODAY)
    # The add form for a product again (after a refusal) reads the same.
    again = await receiving.step_for(db, grn, shop["ATTA"], "case")
    assert (again.unit, again.pack_size, again.received) == ("case", 12, 6)


async def test_without_an_order_the_suppliers_pack_size_counts(db, shop):  # noqa: F811
    grn = await receiving.start(db, po_id=None, supplier_id=shop["supplier"],
                                supplier_ref="", user_id=None)
    step = await receiving.scan(db, grn, case_of(DAL), today=TODAY)
    assert (step.product.sku, step.unit, step.pack_size, step.ordered) == ("DAL", "case", 6,
                                                                           None)
    loose = await receiving.start(db, po_id=None, supplier_id=None, supplier_ref="",
                                  user_id=None)
    assert (await receiving.scan(db, loose, DAL, today=TODAY)).pack_size is None


@pytest.mark.parametrize("code", ["\x00" * 12, "A" * 100_000, "' OR 1=1 --", "=HYPERLINK(1)",
                                  str(2**63), "", "nan", "inf"])
async def test_hostile_codes_are_refused_and_change_nothing(db, shop, code):  # noqa: F811
    grn = await receiving.start(db, po_id=shop["po"], supplier_id=None, supplier_ref="",
                                user_id=None)
    before = await snapshot(db)
    with pytest.raises(ReceivingError):
        await receiving.scan(db, grn, code, today=TODAY)
    assert await snapshot(db) == before


async def test_an_unknown_or_closed_receipt_is_refused(db, shop):  # noqa: F811
    with pytest.raises(receiving.NotFound):
        await receiving.scan(db, "x" * 100_000, ATTA, today=TODAY)
    with pytest.raises(receiving.NotFound):
        await receiving.step_for(db, "\x00", shop["ATTA"], "piece")
    grn = await receiving.start(db, po_id=shop["po"], supplier_id=None, supplier_ref="",
                                user_id=None)
    await receiving.cancel(db, grn, shop["manager"])
    with pytest.raises(receiving.AlreadyClosed):
        await receiving.scan(db, grn, ATTA, today=TODAY)
    with pytest.raises(ReceivingError, match="no longer exists"):
        other = await receiving.start(db, po_id=shop["po"], supplier_id=None,
                                      supplier_ref="", user_id=None)
        await receiving.step_for(db, other, "no-such-product", "piece")


async def test_a_cashier_may_not_scan(client, login_as, db, shop):  # noqa: F811
    grn = await receiving.start(db, po_id=shop["po"], supplier_id=None, supplier_ref="",
                                user_id=None)
    await login_as("cashier")
    refused = await client.post(f"/purchasing/receive/{grn}/scan", data={"code": ATTA},
                                headers={"HX-Request": "true",
                                         "x-csrftoken": client.cookies.get("csrftoken", "")},
                                follow_redirects=False)
    assert refused.status_code in (401, 403)
    await login_as("picker")
    allowed = await client.post(f"/purchasing/receive/{grn}/scan", data={"code": ATTA},
                                headers={"HX-Request": "true",
                                         "x-csrftoken": client.cookies.get("csrftoken", "")})
    assert allowed.status_code == 200 and "Atta 5 kg" in allowed.text
    assert service.po_label(1) in (await client.get(f"/purchasing/receive/{grn}")).text
