"""Transfers at the hub (issue #17), on SQLite and PostgreSQL: a store's request, HQ's
approval, the source's pick and dispatch (the destination hears what is on its way,
batch by batch), the destination's receipt; stock in transit; a transfer is bound to
its two stores (a store's token cannot report on another pair's transfer); replays
change nothing; HQ's bulk confirm is idempotent."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from sqlalchemy import func, select

from app.hub import service as hub
from app.hub import transfers
from app.hub.models import HubSkuDay, HubStockLevel, HubTransfer, HubTransferLine
from app.hub.service import HubError
from app.stock.transfer_rules import Line
from tests.hub.test_hub_service import IST, apply, edit, ev
from tests.hub.test_routing import sent_to

T1 = "0192aaaa-0000-7000-8000-0000000000t1"


async def setup(hub_db) -> None:
    for sku in ("MILK", "SALT"):
        await hub.save_product(hub_db, edit(sku))
    for sid in ("S1", "D2", "W3"):
        await hub.add_store(hub_db, sid, name=sid, kind="darkstore" if sid == "D2"
                            else "counter", lat=12.9, lon=77.6)


def requested(source="S1", dest="D2", tid=T1, number="S1-T00001", **kw) -> dict:
    return {"transfer_id": tid, "number": number, "source": source, "dest": dest,
            "lines": [{"sku": "MILK", "quantity": 8}, {"sku": "SALT", "quantity": 5}],
            "note": "", "at": "2026-11-27T06:00:00+00:00", **kw}


DISPATCHED = {"transfer_id": T1, "number": "S1-T00001", "lines": [
    {"sku": "MILK", "sent": 8, "parts": [
        {"batch": "B1", "expiry": "2026-12-06", "quantity": 6},
        {"batch": "B2", "expiry": "2026-12-31", "quantity": 2}]},
    {"sku": "SALT", "sent": 5, "parts": [{"batch": None, "expiry": None, "quantity": 5}]}]}
RECEIVED = {"transfer_id": T1, "number": "S1-T00001", "lines": [
    {"sku": "MILK", "sent": 8, "received": 7, "difference": "damaged"},
    {"sku": "SALT", "sent": 5, "received": 5, "difference": ""}]}


async def state(hub_db, tid=T1) -> str | None:
    async with hub_db.read() as s:
        row = await s.get(HubTransfer, tid)
    return row.state if row else None


async def test_a_store_request_goes_through_the_hub_to_the_other_store(hub_db):
    await setup(hub_db)
    await apply(hub_db, "S1", [ev(1, "transfer.requested", requested())])
    assert await state(hub_db) == "requested"
    assert await sent_to(hub_db, "D2", "transfer.approved") == []
    await transfers.approve(hub_db, T1, "Omar")
    for store in ("S1", "D2"):
        [approved] = await sent_to(hub_db, store, "transfer.approved")
        assert approved["lines"] == [{"sku": "MILK", "quantity": 8},
                                     {"sku": "SALT", "quantity": 5}]
        assert (approved["source"], approved["dest"]) == ("S1", "D2")
    assert await sent_to(hub_db, "W3", "transfer.approved") == []
    with pytest.raises(HubError, match="already approved"):
        await transfers.approve(hub_db, T1, "Omar")

    moved = [ev(3, "stock.moved", {"sku": "MILK", "delta": -6, "reason": "transfer"}),
             ev(4, "stock.moved", {"sku": "MILK", "delta": -2, "reason": "transfer"})]
    await apply(hub_db, "S1", [ev(2, "transfer.picked", {"transfer_id": T1}), *moved,
                               ev(5, "transfer.dispatched", DISPATCHED)])
    assert await state(hub_db) == "dispatched"
    [incoming] = await sent_to(hub_db, "D2", "transfer.incoming")
    milk = next(x for x in incoming["lines"] if x["sku"] == "MILK")
    assert milk["sent"] == 8 and milk["parts"][0] == {"batch": "B1", "expiry": "2026-12-06",
                                                      "quantity": 6}
    assert await sent_to(hub_db, "S1", "transfer.incoming") == []
    in_transit = await transfers.in_transit(hub_db)
    assert [(x.source, x.dest, x.sku, x.quantity) for x in in_transit] == [
        ("S1", "D2", "MILK", 8), ("S1", "D2", "SALT", 5)]
    async with hub_db.read() as s:
        assert (await s.get(HubStockLevel, ("S1", "MILK"))).on_hand == -8
    with pytest.raises(HubError, match="cannot become cancelled"):
        await transfers.cancel(hub_db, T1, "Omar")

    await apply(hub_db, "D2", [ev(1, "transfer.received", RECEIVED)])
    assert await state(hub_db) == "received"
    assert await transfers.in_transit(hub_db) == []
    view = await transfers.get_transfer(hub_db, T1)
    assert {x.sku: (x.sent, x.received) for x in view.lines} == {"MILK": (8, 7),
                                                                  "SALT": (5, 5)}


async def test_a_store_cannot_act_on_another_pairs_transfer(hub_db, caplog):
    await setup(hub_db)
    await apply(hub_db, "S1", [ev(1, "transfer.requested", requested())])
    await transfers.approve(hub_db, T1, "Omar")
    caplog.set_level(logging.WARNING)
    # W3 holds a valid token of its own and knows the transfer's id.
    await apply(hub_db, "W3", [ev(1, "transfer.picked", {"transfer_id": T1}),
                               ev(2, "transfer.dispatched", DISPATCHED),
                               ev(3, "transfer.withdrawn", {"transfer_id": T1}),
                               ev(4, "transfer.received", RECEIVED)])
    # The destination cannot dispatch it, the source cannot receive it.
    await apply(hub_db, "D2", [ev(1, "transfer.dispatched", DISPATCHED)])
    await apply(hub_db, "S1", [ev(2, "transfer.received", RECEIVED)])
    # Nor can a store raise one between two others, or take over another's request.
    await apply(hub_db, "W3", [
        ev(5, "transfer.requested", requested(tid="x-2", number="W3-T00001")),
        ev(6, "transfer.requested", requested(source="W3", number="W3-T00002"))])
    assert await state(hub_db) == "approved"
    assert await state(hub_db, "x-2") is None
    assert await sent_to(hub_db, "D2", "transfer.incoming") == []
    assert await sent_to(hub_db, "D2", "transfer.cancelled") == []
    assert "W3" in caplog.text and "ignored" in caplog.text


async def test_replays_and_a_refused_request(hub_db):
    await setup(hub_db)
    first = [ev(1, "transfer.requested", requested())]
    await apply(hub_db, "S1", first)
    await apply(hub_db, "S1", first)  # the same event again (a store resending)
    await apply(hub_db, "S1", [ev(9, "transfer.requested", requested())])  # a new id
    await transfers.approve(hub_db, T1, "Omar")
    await apply(hub_db, "S1", [ev(2, "transfer.dispatched", DISPATCHED)])
    await apply(hub_db, "S1", [ev(3, "transfer.dispatched", DISPATCHED)])
    assert len(await sent_to(hub_db, "D2", "transfer.incoming")) == 1
    async with hub_db.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubTransfer)) == 1
        assert await s.scalar(select(func.count()).select_from(HubTransferLine)) == 2
    # A request to a store the hub does not know, or with a bad line: told back, not kept.
    await apply(hub_db, "S1", [
        ev(4, "transfer.requested", requested(dest="Z9", tid="t-z9", number="S1-T00002")),
        ev(5, "transfer.requested", requested(tid="t-big", number="S1-T00003", lines=[
            {"sku": "MILK", "quantity": 2**63}])),
        ev(6, "transfer.requested", requested(tid="t-dup", number="S1-T00001"))])
    refused = await sent_to(hub_db, "S1", "transfer.cancelled")
    assert [r["transfer_id"] for r in refused] == ["t-z9", "t-big", "t-dup"]
    assert "no store Z9" in refused[0]["reason"]
    assert await state(hub_db, "t-z9") is None


@pytest.mark.parametrize("data", [
    {"transfer_id": "x" * 100_000},
    {"transfer_id": "bad\x00id"},
    {"transfer_id": 7},
    {"transfer_id": T1, "lines": [{"sku": "MILK", "sent": float("nan")}]},
    # Batches a destination could not apply are stopped here, not passed on to it.
    {"transfer_id": T1, "lines": [{"sku": "MILK", "sent": 8, "parts": [
        {"batch": "B1", "expiry": "2026-12-06", "quantity": 6}]}]},  # adds up to 6
    {"transfer_id": T1, "lines": [{"sku": "MILK", "sent": 8, "parts": [
        {"batch": "B1", "expiry": "someday", "quantity": 8}]}]},
    {"transfer_id": T1, "lines": [{"sku": "MILK", "sent": 8, "parts": [
        {"batch": "B" * 21, "quantity": 8}]}]},
    {"transfer_id": T1, "lines": [{"sku": "MILK", "sent": 8}]},
])
async def test_a_malformed_transfer_event_fails_its_frame(hub_db, data):
    await setup(hub_db)
    await apply(hub_db, "S1", [ev(1, "transfer.requested", requested())])
    await transfers.approve(hub_db, T1, "Omar")
    with pytest.raises(ValueError):
        await apply(hub_db, "S1", [ev(2, "transfer.dispatched", data)])
    assert await state(hub_db) == "approved"


async def test_a_store_cannot_move_goods_past_hq(hub_db, caplog):
    """The source's token alone cannot skip HQ: a dispatch of its own request before HQ
    approved it (or after HQ refused it) is ignored, and the destination cannot report
    a receipt of goods never dispatched."""
    await setup(hub_db)
    caplog.set_level(logging.WARNING)
    await apply(hub_db, "S1", [ev(1, "transfer.requested", requested()),
                               ev(2, "transfer.picked", {"transfer_id": T1}),
                               ev(3, "transfer.dispatched", DISPATCHED)])
    await apply(hub_db, "D2", [ev(1, "transfer.received", RECEIVED)])
    assert await state(hub_db) == "requested"
    assert await sent_to(hub_db, "D2", "transfer.incoming") == []
    assert "never approved" in caplog.text
    await transfers.cancel(hub_db, T1, "Omar", "no")  # HQ refuses the request
    await apply(hub_db, "S1", [ev(4, "transfer.dispatched", DISPATCHED)])
    assert await state(hub_db) == "cancelled"
    assert await sent_to(hub_db, "D2", "transfer.incoming") == []


async def test_a_dispatch_stands_over_hqs_cancel(hub_db):
    await setup(hub_db)
    await apply(hub_db, "S1", [ev(1, "transfer.requested", requested())])
    await transfers.approve(hub_db, T1, "Omar")
    await transfers.cancel(hub_db, T1, "Omar", "not needed")
    assert [x["reason"] for x in await sent_to(hub_db, "D2", "transfer.cancelled")] == [
        "not needed"]
    # S1 had already sent the van before it heard: the goods are on the road.
    await apply(hub_db, "S1", [ev(2, "transfer.dispatched", DISPATCHED)])
    assert await state(hub_db) == "dispatched"
    assert len(await sent_to(hub_db, "D2", "transfer.incoming")) == 1


async def test_hq_raises_transfers_in_bulk_once(hub_db):
    await setup(hub_db)
    items = [transfers.NewTransfer("S1", "D2", (Line("MILK", 3),)),
             transfers.NewTransfer("W3", "D2", (Line("SALT", 4), Line("MILK", 1)))]
    made = await transfers.create_many(hub_db, "k" * 16, items, "Omar")
    again = await transfers.create_many(hub_db, "k" * 16, items, "Omar")
    assert [t.id for t in made] == [t.id for t in again]
    assert [t.number for t in made] == ["HQ-T00001", "HQ-T00002"]
    assert {t.state for t in made} == {"approved"}
    assert len(await sent_to(hub_db, "D2", "transfer.approved")) == 2
    assert len(await sent_to(hub_db, "W3", "transfer.approved")) == 1
    for bad, message in [([transfers.NewTransfer("S1", "S1", (Line("MILK", 1),))],
                          "two different"),
                         ([transfers.NewTransfer("S1", "Q7", (Line("MILK", 1),))],
                          "no store Q7"),
                         ([transfers.NewTransfer("S1", "D2", (Line("NOPE", 1),))],
                          "no product"),
                         ([], "tick at least one")]:
        with pytest.raises(HubError, match=message):
            await transfers.create_many(hub_db, "z" * 16, bad, "Omar")
    with pytest.raises(HubError, match="out of date"):
        await transfers.create_many(hub_db, "<script>", items, "Omar")
    async with hub_db.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubTransfer)) == 2


async def test_sales_per_sku_and_day_feed_replenishment(hub_db):
    await setup(hub_db)
    sale = lambda n, d, at: ev(n, "stock.moved", {  # noqa: E731
        "sku": "MILK", "delta": d, "reason": "sale", "at": at})
    await apply(hub_db, "D2", [sale(1, -3, "2026-11-26T20:00:00+00:00"),  # 27th in India
                               sale(2, -2, "2026-11-27T06:00:00+00:00"),
                               ev(3, "stock.moved", {"sku": "MILK", "delta": 1,
                                                     "reason": "refund",
                                                     "at": "2026-11-27T07:00:00+00:00"}),
                               ev(4, "stock.moved", {"sku": "MILK", "delta": 50,
                                                     "reason": "receive"})])
    async with hub_db.read() as s:
        rows = [(r.store_id, r.sku, r.day, r.sold) for r in await s.scalars(select(HubSkuDay))]
    assert rows == [("D2", "MILK", "2026-11-27", 4)]
    facts = await transfers.replenish_facts(hub_db, date(2026, 11, 28), 14)
    assert facts.sold[("D2", "MILK")] == 4 and facts.on_hand[("D2", "MILK")] == 46
    assert IST  # (the hub's zone in these tests)


async def test_hq_pages_approve_raise_and_confirm_replenishment_once(hub_client, hub_db):
    from tests.conftest import csrf_of
    from tests.hub.conftest import sign_in

    await setup(hub_db)
    client = await sign_in(hub_client, "Omar")
    await apply(hub_db, "S1", [ev(1, "transfer.requested", requested())])
    listed = await client.get("/hub/transfers")
    assert listed.status_code == 200 and "S1-T00001" in listed.text
    assert "Nothing is on the road" in listed.text
    shown = await client.get(f"/hub/transfers/{T1}")
    assert "Waiting for HQ" in shown.text and "Approve" in shown.text
    approved = await client.post(f"/hub/transfers/{T1}/approve",
                                 data={"_csrf_token": csrf_of(client)})
    assert approved.status_code == 200 and "Approved: to pick" in approved.text
    again = await client.post(f"/hub/transfers/{T1}/approve",
                              data={"_csrf_token": csrf_of(client)})
    assert "already approved" in again.text
    assert len(await sent_to(hub_db, "D2", "transfer.approved")) == 1
    assert (await client.get("/hub/transfers/nope")).status_code == 404
    assert (await client.post("/hub/transfers/nope/approve",
                              data={"_csrf_token": csrf_of(client)})).status_code == 404
    for lines, message in [("MILK 1e9", "whole number"), ("MILK 3\nMILK 2", "listed twice"),
                           ("NOPE 3", "no product with SKU NOPE")]:
        refused = await client.post("/hub/transfers", data={
            "source": "W3", "dest": "D2", "lines": lines, "_csrf_token": csrf_of(client)})
        assert message in refused.text, refused.text[-2000:]
    made = await client.post("/hub/transfers", data={
        "source": "W3", "dest": "D2", "lines": "salt 4", "_csrf_token": csrf_of(client)})
    assert "HQ-T00001" in made.text

    # D2 (a dark store) sold 70 MILK in 14 days, has 1 and 8 coming (T1); W3 has plenty.
    await apply(hub_db, "D2", [ev(1, "stock.moved", {"sku": "MILK", "delta": 71,
                                                     "reason": "receive"}),
                               ev(2, "stock.moved", {"sku": "MILK", "delta": -70,
                                                     "reason": "sale",
                                                     "at": "2026-11-20T06:00:00+00:00"})])
    await apply(hub_db, "W3", [ev(1, "stock.moved", {"sku": "MILK", "delta": 50,
                                                     "reason": "receive"})])
    async with hub_db.write() as s:  # the sales fall in the page's last 14 days
        from sqlalchemy import update

        from app.core.clock import utcnow
        yesterday = (utcnow().astimezone(IST).date().toordinal() - 1)
        await s.execute(update(HubSkuDay).values(day=date.fromordinal(yesterday).isoformat()))
    page = await client.get("/hub/replenish?days=3&history=14")
    assert page.status_code == 200 and 'name="take:D2:MILK"' in page.text, page.text[-3000:]
    assert 'name="qty:D2:MILK" value="6"' in page.text  # 5 a day x 3 = 15, has 1 + 8
    key = "abcdefgh12345678"
    form = {"key": key, "days": "3", "take:D2:MILK": "on", "from:D2:MILK": "W3",
            "qty:D2:MILK": "6", "_csrf_token": csrf_of(client)}
    first = await client.post("/hub/replenish", data=form)
    second = await client.post("/hub/replenish", data=form)  # a double tap
    assert "HQ-T00002" in first.text and "HQ-T00002" in second.text
    assert "HQ-T00003" not in second.text
    assert "No dark store will run out" in second.text  # what is coming now counts
    for bad in ({**form, "qty:D2:MILK": "1e9", "key": "k" * 16},
                {**form, "qty:D2:MILK": "-1", "key": "k" * 16},
                {**form, "from:D2:MILK": "", "key": "k" * 16},
                {**form, "key": "x"}):
        refused = await client.post("/hub/replenish", data=bad)
        assert "alert-error" in refused.text
    async with hub_db.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubTransfer)) == 3


async def test_a_restored_store_is_told_its_highest_transfer_number(hub_db):
    from app.hub import reconcile

    await setup(hub_db)
    await apply(hub_db, "S1", [
        ev(1, "transfer.requested", requested(number="S1-T00009")),
        ev(2, "transfer.requested", requested(tid="t-2", number="S1-T00012"))])
    await transfers.create(hub_db, transfers.NewTransfer("S1", "D2", (Line("SALT", 1),)), "Omar")
    async with hub_db.read() as s:
        numbers = (await reconcile.resync_payload(s, "S1"))["numbers"]
        assert numbers["transfer"] == 12  # HQ-T00001 is the hub's own
        assert (await reconcile.resync_payload(s, "D2"))["numbers"]["transfer"] == 0


async def test_two_tabs_at_once_make_one_transfer_and_one_approval(hub_db):
    import asyncio

    await setup(hub_db)
    items = [transfers.NewTransfer("W3", "D2", (Line("SALT", 4),))]
    made = await asyncio.gather(*(transfers.create_many(hub_db, "t" * 16, items, "Omar")
                                  for _ in range(4)))
    assert len({m[0].id for m in made}) == 1
    await apply(hub_db, "S1", [ev(1, "transfer.requested", requested())])
    results = await asyncio.gather(*(transfers.approve(hub_db, T1, "Omar") for _ in range(3)),
                                   return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, HubError) for r in results if isinstance(r, Exception))
    assert len(await sent_to(hub_db, "D2", "transfer.approved")) == 2  # HQ-T00001 and T1
    async with hub_db.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubTransfer)) == 2
