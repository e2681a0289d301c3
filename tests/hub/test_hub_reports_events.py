"""The hub keeps each store document's GST (issue #18): sale.completed / sale.refunded
with and without the new fields, replays, and hostile values that must not stop the
store's link. SQLite and PostgreSQL (hub_db)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app.hub import service as hub
from app.hub.models import HubSale, HubSaleTax, HubStore
from app.sync.protocol import Event

IST = ZoneInfo("Asia/Kolkata")
AT = datetime(2026, 11, 27, 6, 0, tzinfo=UTC).isoformat()


def ev(seq: int, kind: str, data: dict, id_: str | None = None) -> Event:
    return Event(seq=seq, id=id_ or f"e{seq}", kind=kind, at=AT, data=data)


async def apply(hub_db, store_id: str, events: list[Event]) -> None:
    async with hub_db.write() as s:
        store = await s.get(HubStore, store_id)
        events = [Event(seq=e.seq, id=f"{store_id}-{e.id}", kind=e.kind, at=e.at, data=e.data)
                  for e in events]
        await hub.apply_store_events(s, store, tuple(events), IST)


async def taxes(hub_db, doc_id: str) -> list[tuple]:
    async with hub_db.read() as s:
        return [(r.hsn, r.rate_bp, r.quantity, r.taxable_minor, r.cgst_minor, r.sgst_minor,
                 r.igst_minor, r.doc_kind, r.doc_number, r.buyer_gstin, r.place_of_supply)
                for r in await s.scalars(select(HubSaleTax).where(HubSaleTax.doc_id == doc_id)
                                         .order_by(HubSaleTax.hsn, HubSaleTax.rate_bp))]


async def sale_row(hub_db, doc_id: str) -> HubSale:
    async with hub_db.read() as s:
        row = await s.get(HubSale, doc_id)
    assert row is not None
    return row


B2B = {"sale_id": "s1", "number": "S1-000001", "at": AT, "total": 23600, "tax": 3600,
       "doc": "b2b", "invoice_number": "INV/26-27/0001", "buyer_gstin": "29ABCDE1234F1Z5",
       "buyer_name": "Sri Traders", "place_of_supply": "27",
       "lines": [
           {"sku": "A", "quantity": 2, "net": 11800, "tax": 1800, "gst_rate_bp": 1800,
            "hsn": "1006", "cgst": 0, "sgst": 0, "igst": 1800},
           {"sku": "B", "quantity": 1, "net": 11800, "tax": 1800, "gst_rate_bp": 1800,
            "hsn": "1006", "cgst": 0, "sgst": 0, "igst": 1800}]}


async def _store(hub_db) -> None:
    await hub.add_store(hub_db, "S1", name="Store S1", kind="counter", lat=12.9, lon=77.6)


async def test_a_b2b_invoice_keeps_its_gst_rows(hub_db):
    await _store(hub_db)
    await apply(hub_db, "S1", [ev(1, "sale.completed", B2B)])
    assert await taxes(hub_db, "s1") == [
        ("1006", 1800, 3, 20000, 0, 0, 3600, "b2b", "INV/26-27/0001", "29ABCDE1234F1Z5", "27")]
    row = await sale_row(hub_db, "s1")
    assert (row.doc_kind, row.doc_number, row.buyer_name, row.place_of_supply) == (
        "b2b", "INV/26-27/0001", "Sri Traders", "27")


async def test_an_older_store_sale_is_b2c_without_hsn_split_by_the_one_rule(hub_db):
    await _store(hub_db)
    await apply(hub_db, "S1", [ev(1, "sale.completed", {
        "sale_id": "s2", "number": "S1-000002", "at": AT, "total": 1105, "tax": 105,
        "lines": [{"sku": "A", "quantity": 1, "net": 1050, "tax": 50, "gst_rate_bp": 500},
                  {"sku": "B", "quantity": 1, "net": 55, "tax": 55 - 50, "gst_rate_bp": 1000}]})])
    # 5 % line: 50 tax -> 25 + 25; 10 % line: 5 tax -> halves of 2, odd paisa in taxable
    assert await taxes(hub_db, "s2") == [
        ("", 500, 1, 1000, 25, 25, 0, "b2c", None, "", ""),
        ("", 1000, 1, 51, 2, 2, 0, "b2c", None, "", "")]
    assert (await sale_row(hub_db, "s2")).doc_kind == "b2c"


async def test_a_credit_note_is_negative_and_names_the_bill(hub_db):
    await _store(hub_db)
    await apply(hub_db, "S1", [ev(1, "sale.completed", B2B), ev(2, "sale.refunded", {
        "refund_id": "r1", "number": "S1-R00001", "sale": "S1-000001", "at": AT,
        "total": 11800, "tax": 1800, "credit_note_number": "CN/26-27/0001", "doc": "b2b",
        "place_of_supply": "27", "buyer_gstin": "29ABCDE1234F1Z5",
        "lines": [{"sku": "B", "quantity": 1, "amount": 11800, "restock": "resaleable",
                   "hsn": "1006", "gst_rate_bp": 1800, "cgst": 0, "sgst": 0,
                   "igst": 1800}]})])
    assert await taxes(hub_db, "r1") == [
        ("1006", 1800, -1, -10000, 0, 0, -1800, "b2b", "CN/26-27/0001", "29ABCDE1234F1Z5",
         "27")]
    row = await sale_row(hub_db, "r1")
    assert (row.kind, row.total_minor, row.sale_number) == ("refund", -11800, "S1-000001")


async def test_an_older_store_refund_gets_the_nearest_standard_rate(hub_db):
    await _store(hub_db)
    await apply(hub_db, "S1", [ev(1, "sale.refunded", {
        "refund_id": "r2", "number": "S1-R00002", "sale": "S1-000009", "at": AT,
        "total": 1050, "tax": 50, "tender": "cash",
        "lines": [{"sku": "A", "quantity": 1, "amount": 1050, "restock": "damaged"}]})])
    assert await taxes(hub_db, "r2") == [("", 500, -1, -1000, -25, -25, 0, "b2c", None, "",
                                          "")]


async def test_a_replayed_sale_adds_nothing(hub_db):
    await _store(hub_db)
    await apply(hub_db, "S1", [ev(1, "sale.completed", B2B)])
    await apply(hub_db, "S1", [ev(1, "sale.completed", B2B)])  # same event id: skipped
    changed = {**B2B, "lines": [{**B2B["lines"][0], "quantity": 99}]}
    await apply(hub_db, "S1", [ev(2, "sale.completed", changed, id_="other")])  # same sale
    assert await taxes(hub_db, "s1") == [
        ("1006", 1800, 3, 20000, 0, 0, 3600, "b2b", "INV/26-27/0001", "29ABCDE1234F1Z5", "27")]
    async with hub_db.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubSale)) == 1


NASTY = [float("nan"), "NaN", "inf", 2**63, -(2**63), 10**40, True, None, [], {}, "\x00",
         "x" * 100_000, "=HYPERLINK(\"http://evil\")", 1.5]


async def test_hostile_gst_fields_never_stop_the_link(hub_db):
    await _store(hub_db)
    events = []
    for i, bad in enumerate(NASTY, start=1):
        data = {"sale_id": f"h{i}", "number": f"S1-{i:06d}", "at": AT, "total": 1180,
                "tax": 180, "doc": bad, "invoice_number": bad, "buyer_gstin": bad,
                "buyer_name": bad, "place_of_supply": bad,
                "lines": [{"sku": "A", "quantity": 1, "net": 1180, "tax": 180,
                           "gst_rate_bp": 1800, "hsn": bad, "cgst": bad, "sgst": bad,
                           "igst": bad},
                          {"sku": "B", "quantity": bad, "net": bad, "tax": bad,
                           "gst_rate_bp": bad}, bad]}
        events.append(ev(i, "sale.completed", data))
    events.append(ev(99, "sale.completed", {"sale_id": "h99", "number": "S1-000099",
                                            "at": AT, "total": 0, "lines": "many"}))
    events.append(ev(100, "sale.completed", {**B2B, "sale_id": "h100", "doc": "b2b",
                                             "buyer_gstin": "not-a-gstin"}))
    await apply(hub_db, "S1", events)
    for i in range(1, len(NASTY) + 1):
        rows = await taxes(hub_db, f"h{i}")
        assert rows == [("", 1800, 1, 1000, 90, 90, 0, "b2c", None, "", "")], (NASTY[i - 1],
                                                                              rows)
        row = await sale_row(hub_db, f"h{i}")
        assert len(row.buyer_name) <= 80 and "\x00" not in row.buyer_name
    assert await taxes(hub_db, "h99") == []
    # A "B2B" document without a readable buyer GSTIN is reported as B2C.
    assert {r[7] for r in await taxes(hub_db, "h100")} == {"b2c"}


async def test_a_total_beyond_the_column_is_refused_cleanly(hub_db):
    import pytest

    await _store(hub_db)
    with pytest.raises(ValueError, match="total"):  # the link answers 4400, nothing written
        await apply(hub_db, "S1", [ev(1, "sale.completed", {**B2B, "total": 2**63})])
    async with hub_db.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubSale)) == 0


async def test_a_wholesale_bill_of_crores_is_recorded_and_the_link_goes_on(hub_db):
    """Rs 25 crore (2.5e9 paise, past a 32-bit column) is a real B2B bill: the hub keeps
    it, on PostgreSQL too, rather than refusing the frame the store will send again."""
    await _store(hub_db)
    big = 2_500_000_000
    await apply(hub_db, "S1", [ev(1, "sale.completed", {**B2B, "total": big})])
    async with hub_db.read() as s:
        assert await s.scalar(select(HubSale.total_minor)) == big
