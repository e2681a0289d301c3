"""Transfers at the store (issue #17) on real SQLite files: two store databases, S1 (the
source) and D2 (the destination), with the hub's part played by handing each the
events the hub would send. Stock leaves S1 at dispatch batch by batch (earliest expiry
first, never an expired batch), enters D2 at receipt in the same batches, each level
stays its ledger's sum; refused steps and hostile input change nothing."""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.catalog.csv_io import parse_catalog
from app.catalog.models import Product
from app.catalog.service import import_catalog
from app.core.auth import StaffUser
from app.core.clock import utcnow
from app.core.db import Database
from app.stock import service
from app.stock import transfers as tr
from app.stock.models import StockLevel, StockMove, Transfer, TransferLine
from app.stock.transfer_rules import Line
from app.sync.models import OutboxEvent
from app.sync.protocol import Event
from app.sync.store_apply import apply_hub_event
from tests.conftest import make_config

HEADER = "sku,name,barcodes,price,gst_rate,hsn,unit,pack_size,category,active,reorder_level\n"
ROWS = ("MILK,Milk 500 ml,,30,5,,piece,,Dairy,yes,5\n"
        "SALT,Salt 1 kg,,28,5,,piece,,Staples,yes,5\n")
BINS = "code,zone,aisle,shelf,pick_seq\nA-01-1,AMBIENT,A,1,10\nB-01-1,AMBIENT,B,1,30\n"
TODAY = utcnow().date()
MEENA = StaffUser(id="", name="Meena", role="manager")


async def _setup(db, cfg) -> None:
    await import_catalog(db, parse_catalog(HEADER + ROWS, cfg.measure_rules))
    await service.load_bins_csv(db, BINS)
    async with db.write() as s:
        await s.execute(update(Product).where(Product.sku == "MILK").values(tracks_expiry=True))


@pytest.fixture
async def s1(db, cfg):
    await _setup(db, cfg)
    return db


@pytest.fixture
async def d2(tmp_path, migrated_template):
    folder = tmp_path / "d2"
    folder.mkdir()
    cfg = make_config(folder, **{'id = "S1"': 'id = "D2"'})
    shutil.copy(migrated_template, cfg.database_path)
    database = Database(cfg.database_path)
    await _setup(database, cfg)
    yield database, cfg
    await database.dispose()


async def receive(db, sku, qty, bin_="A-01-1", batch=None, expiry=None):
    async with db.read() as s:
        pid = await s.scalar(select(Product.id).where(Product.sku == sku))
    await service.receive(db, product_id=pid, bin_code=bin_, quantity=qty, user_id=None,
                          batch=batch, expiry=expiry)


async def events(db, kind: str) -> list[dict]:
    async with db.read() as s:
        return [json.loads(d) for d in await s.scalars(
            select(OutboxEvent.data).where(OutboxEvent.kind == kind).order_by(OutboxEvent.seq))]


async def levels(db) -> dict[tuple[str, str], int]:
    """On hand per SKU and batch (all bins), after checking each level is its ledger's
    sum per product, bin and batch."""
    async with db.read() as s:
        rows = (await s.execute(select(StockLevel.product_id, StockLevel.bin_id,
                                       StockLevel.batch, StockLevel.on_hand))).all()
        ledger = {(p, b, bt or ""): int(n) for p, b, bt, n in (await s.execute(
            select(StockMove.product_id, StockMove.bin_id, StockMove.batch,
                   func.sum(StockMove.delta))
            .group_by(StockMove.product_id, StockMove.bin_id, StockMove.batch))).all()}
        skus = dict((await s.execute(select(Product.id, Product.sku))).all())
    assert {(p, b, bt): n for p, b, bt, n in rows} == ledger
    out: dict[tuple[str, str], int] = {}
    for p, _b, batch, n in rows:
        out[(skus[p], batch)] = out.get((skus[p], batch), 0) + n
    return {key: n for key, n in out.items() if n}


async def hub_says(db, cfg, kind: str, data: dict, seq: int = 1) -> None:
    async with db.write() as s:
        await apply_hub_event(s, cfg, Event(seq=seq, id=f"h{seq}", kind=kind,
                                            at=utcnow().isoformat(), data=data))


def approved(t: Transfer, lines: list[tuple[str, int]]) -> dict:
    return {"transfer_id": t.id, "number": t.number, "source": t.source, "dest": t.dest,
            "note": t.note, "lines": [{"sku": s, "quantity": q} for s, q in lines]}


async def test_s1_to_d2_batches_leave_fefo_and_arrive_the_same(s1, cfg, d2):
    d2db, d2cfg = d2
    soon, later = TODAY + timedelta(days=5), TODAY + timedelta(days=30)
    await receive(s1, "MILK", 4, batch="OLD", expiry=TODAY - timedelta(days=1))  # expired
    await receive(s1, "MILK", 6, batch="B1", expiry=soon)
    await receive(s1, "MILK", 10, batch="B2", expiry=later, bin_="B-01-1")
    await receive(s1, "SALT", 20)
    t = await tr.request_transfer(s1, "S1", source="S1", dest="D2", user=MEENA,
                                  lines=[Line("milk", 8), Line("SALT", 5)], note="weekend")
    assert t.number == "S1-T00001" and t.state == "requested"
    [req] = await events(s1, "transfer.requested")
    assert req["lines"] == [{"sku": "MILK", "quantity": 8}, {"sku": "SALT", "quantity": 5}]
    assert (req["source"], req["dest"], req["number"]) == ("S1", "D2", "S1-T00001")
    with pytest.raises(tr.TransferError, match="cannot become picked"):
        await tr.pick(s1, "S1", t.id, {"MILK": 8, "SALT": 5})

    await hub_says(s1, cfg, "transfer.approved", approved(t, [("MILK", 8), ("SALT", 5)]))
    await hub_says(d2db, d2cfg, "transfer.approved", approved(t, [("MILK", 8), ("SALT", 5)]))
    assert (await tr.get_transfer(d2db, t.id)).transfer.state == "approved"
    with pytest.raises(tr.TransferError, match="not sent from this store"):
        await tr.pick(d2db, "D2", t.id, {"MILK": 8})
    before = await levels(s1)
    await tr.pick(s1, "S1", t.id, {"MILK": 8, "SALT": 5})
    assert await levels(s1) == before  # picking moves nothing on the books
    view = await tr.dispatch(s1, "S1", t.id, MEENA, today=TODAY)
    assert view.transfer.state == "dispatched"
    assert await levels(s1) == {("MILK", "OLD"): 4, ("MILK", "B2"): 8, ("SALT", ""): 15}
    async with s1.read() as s:
        moves = list(await s.scalars(select(StockMove).where(StockMove.reason == "transfer")))
    assert {m.reference for m in moves} == {"S1-T00001"} and all(m.delta < 0 for m in moves)
    [sent] = await events(s1, "transfer.dispatched")
    milk = next(x for x in sent["lines"] if x["sku"] == "MILK")
    assert milk["sent"] == 8 and milk["parts"] == [
        {"batch": "B1", "expiry": soon.isoformat(), "quantity": 6},
        {"batch": "B2", "expiry": later.isoformat(), "quantity": 2}]
    with pytest.raises(tr.TransferError, match="already on its way"):
        await tr.dispatch(s1, "S1", t.id, MEENA)
    assert await levels(s1) == {("MILK", "OLD"): 4, ("MILK", "B2"): 8, ("SALT", ""): 15}

    incoming = {**approved(t, [("MILK", 8), ("SALT", 5)]), "at": utcnow().isoformat(),
                "lines": [{"sku": x["sku"], "quantity": 1, "sent": x["sent"],
                           "parts": x["parts"]} for x in sent["lines"]]}
    await hub_says(d2db, d2cfg, "transfer.incoming", incoming)
    await hub_says(d2db, d2cfg, "transfer.incoming", incoming, seq=2)  # a replay: no change
    got = await tr.get_transfer(d2db, t.id)
    assert got.transfer.state == "dispatched" and len(got.parts) == 3
    with pytest.raises(tr.TransferError, match="not coming to this store"):
        await tr.receive(s1, "S1", t.id, {"MILK": 8})
    # One milk short, salt as sent: the shortage falls on the later batch.
    done = await tr.receive(d2db, "D2", t.id, {"MILK": 7, "SALT": 5}, {"MILK": "damaged"},
                            user=MEENA)
    assert done.transfer.state == "received"
    assert await levels(d2db) == {("MILK", "B1"): 6, ("MILK", "B2"): 1, ("SALT", ""): 5}
    async with d2db.read() as s:
        expiry = dict((await s.execute(select(StockLevel.batch, StockLevel.expiry))).all())
    assert expiry["B1"] == soon and expiry["B2"] == later
    [rec] = await events(d2db, "transfer.received")
    assert {x["sku"]: (x["sent"], x["received"], x["difference"]) for x in rec["lines"]} == {
        "MILK": (8, 7, "damaged"), "SALT": (5, 5, "")}
    with pytest.raises(tr.TransferError, match="received"):
        await tr.receive(d2db, "D2", t.id, {"MILK": 8, "SALT": 5})  # a double submit
    assert await levels(d2db) == {("MILK", "B1"): 6, ("MILK", "B2"): 1, ("SALT", ""): 5}
    await hub_says(d2db, d2cfg, "transfer.cancelled", {"transfer_id": t.id}, seq=3)
    assert (await tr.get_transfer(d2db, t.id)).transfer.state == "received"


@pytest.mark.parametrize(("source", "dest", "lines", "message"), [
    ("S1", "S1", [Line("SALT", 1)], "two different stores"),
    ("D2", "D3", [Line("SALT", 1)], "must be the one sending or the one receiving"),
    ("S1", "D2", [], "at least one product"),
    ("S1", "D2", [Line("SALT", 0)], "from 1 to"),
    ("S1", "D2", [Line("SALT", 2**63)], "from 1 to"),
    ("S1", "D2", [Line("SALT", 1), Line("salt", 2)], "listed twice"),
    ("S1", "D2", [Line("NOPE", 1)], "no product with SKU NOPE"),
    ("S1", "D2", [Line("=cmd|' /C calc'!A0", 1)], "is not a SKU"),
    ("S1", "d2; drop", [Line("SALT", 1)], "a store id is"),
])
async def test_a_bad_request_is_refused_and_writes_nothing(s1, source, dest, lines, message):
    with pytest.raises(tr.TransferError, match=message):
        await tr.request_transfer(s1, "S1", source=source, dest=dest, lines=lines)
    async with s1.read() as s:
        assert await s.scalar(select(func.count()).select_from(Transfer)) == 0
        assert await s.scalar(select(func.count()).select_from(OutboxEvent)) == 0


async def test_pick_refuses_bad_quantities_and_cancel_stops_what_has_not_left(s1, cfg):
    await receive(s1, "SALT", 10)
    t = await tr.request_transfer(s1, "S1", source="S1", dest="D2", lines=[Line("SALT", 4)])
    await hub_says(s1, cfg, "transfer.approved", approved(t, [("SALT", 4)]))
    for bad in (-1, 2**63, True, 1.5):
        with pytest.raises(tr.TransferError):
            await tr.pick(s1, "S1", t.id, {"SALT": bad})  # type: ignore[dict-item]
    with pytest.raises(tr.TransferError, match="nothing was picked"):
        await tr.pick(s1, "S1", t.id, {"SALT": 0})
    assert (await tr.get_transfer(s1, t.id)).transfer.state == "approved"
    await tr.cancel(s1, "S1", t.id, "van broke down\x00")
    got = await tr.get_transfer(s1, t.id)
    assert got.transfer.state == "cancelled" and got.transfer.reason == "van broke down"
    [withdrawn] = await events(s1, "transfer.withdrawn")
    assert withdrawn["transfer_id"] == t.id
    with pytest.raises(tr.TransferError, match="cancelled"):
        await tr.pick(s1, "S1", t.id, {"SALT": 4})
    assert await levels(s1) == {("SALT", ""): 10}


async def test_a_cancel_never_undoes_a_dispatch_and_a_dispatch_beats_a_cancel(s1, cfg, d2):
    d2db, d2cfg = d2
    await receive(s1, "SALT", 10)
    t = await tr.request_transfer(s1, "S1", source="S1", dest="D2", lines=[Line("SALT", 4)])
    await hub_says(s1, cfg, "transfer.approved", approved(t, [("SALT", 4)]))
    await hub_says(d2db, d2cfg, "transfer.approved", approved(t, [("SALT", 4)]))
    await tr.pick(s1, "S1", t.id, {"SALT": 4})
    await tr.dispatch(s1, "S1", t.id)
    # HQ cancelled while S1 was offline: S1 keeps what it did, D2 hears the dispatch after.
    await hub_says(s1, cfg, "transfer.cancelled", {"transfer_id": t.id}, seq=2)
    await hub_says(d2db, d2cfg, "transfer.cancelled", {"transfer_id": t.id}, seq=2)
    assert (await tr.get_transfer(s1, t.id)).transfer.state == "dispatched"
    assert (await tr.get_transfer(d2db, t.id)).transfer.state == "cancelled"
    [sent] = await events(s1, "transfer.dispatched")
    await hub_says(d2db, d2cfg, "transfer.incoming", {**sent, "lines": [
        {**x, "quantity": 4} for x in sent["lines"]]}, seq=3)
    assert (await tr.get_transfer(d2db, t.id)).transfer.state == "dispatched"
    await tr.receive(d2db, "D2", t.id, {"SALT": 4})
    assert await levels(d2db) == {("SALT", ""): 4}


async def test_hub_events_for_other_stores_or_malformed_are_skipped_or_refused(s1, cfg):
    from app.sync.store_apply import BadHubEvent

    other = {"transfer_id": "0192aaaa-0000-7000-8000-000000000001", "number": "D3-T00001",
             "source": "D3", "dest": "D4", "lines": [{"sku": "SALT", "quantity": 1}]}
    await hub_says(s1, cfg, "transfer.approved", other)
    await hub_says(s1, cfg, "transfer.incoming", {**other, "lines": [
        {"sku": "SALT", "sent": 1, "parts": [{"quantity": 1}]}]})
    async with s1.read() as s:
        assert await s.scalar(select(func.count()).select_from(Transfer)) == 0
    mine = {**other, "source": "S1", "dest": "D2"}
    for bad in ({**mine, "lines": "x" * 100_000}, {**mine, "lines": []},
                {**mine, "transfer_id": "x" * 37},
                {**mine, "lines": [{"sku": "SALT", "quantity": 2**63}]},
                {**mine, "lines": [{"sku": "SALT", "quantity": 1}, {"sku": "salt",
                                                                    "quantity": 1}]}):
        with pytest.raises(BadHubEvent):
            await hub_says(s1, cfg, "transfer.approved", bad)
    async with s1.read() as s:
        assert await s.scalar(select(func.count()).select_from(Transfer)) == 0
        assert await s.scalar(select(func.count()).select_from(TransferLine)) == 0


async def test_store_pages_request_pick_send_and_refuse_hostile_input(client, login_as, db,
                                                                      cfg):
    from tests.conftest import csrf_of

    await _setup(db, cfg)
    await receive(db, "SALT", 10)
    await login_as("manager")
    page = await client.get("/stock/transfers")
    assert page.status_code == 200 and "Ask for a transfer" in page.text
    for bad, message in [("SALT 1e9", "whole number"), ("SALT", "the SKU, then the quantity"),
                         ("SALT -3", "whole number"), ("x" * 100_000, "longer than 10000"),
                         ("SALT 1\x00", "NUL character")]:
        refused = await client.post("/stock/transfers", data={
            "direction": "send", "other": "D2", "lines": bad, "_csrf_token": csrf_of(client)})
        assert message in refused.text, (bad, refused.text[:300])
    no_csrf = await client.post("/stock/transfers", data={"direction": "send", "other": "D2",
                                                          "lines": "SALT 4"})
    assert no_csrf.status_code == 403
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Transfer)) == 0
    made = await client.post("/stock/transfers", data={
        "direction": "send", "other": "d2", "lines": "salt 4", "note": "for the weekend",
        "_csrf_token": csrf_of(client)})
    assert made.status_code == 200 and "S1-T00001" in made.text and "Waiting for HQ" in made.text
    async with db.read() as s:
        t = await s.scalar(select(Transfer))
    await hub_says(db, cfg, "transfer.approved", approved(t, [("SALT", 4)]))
    shown = await client.get(f"/stock/transfers/{t.id}")
    assert 'name="pick:SALT"' in shown.text, re.sub(r"\s+", " ", shown.text)[-3000:]
    picked = await client.post(f"/stock/transfers/{t.id}/pick", data={
        "pick:SALT": "4", "_csrf_token": csrf_of(client)})
    assert "Send to D2" in picked.text
    sent = await client.post(f"/stock/transfers/{t.id}/dispatch",
                             data={"_csrf_token": csrf_of(client)})
    assert "On its way" in sent.text
    twice = await client.post(f"/stock/transfers/{t.id}/dispatch",
                              data={"_csrf_token": csrf_of(client)})
    assert "already on its way" in twice.text
    assert await levels(db) == {("SALT", ""): 6}
    assert (await client.get("/stock/transfers/nope")).status_code == 404


async def test_a_cashier_cannot_see_transfers_and_a_picker_cannot_send(client, login_as, db,
                                                                      cfg):
    from tests.conftest import csrf_of

    await _setup(db, cfg)
    await login_as("cashier")
    assert (await client.get("/stock/transfers")).status_code in (401, 403)
    await login_as("picker")
    assert (await client.get("/stock/transfers")).status_code == 200
    refused = await client.post("/stock/transfers", data={
        "direction": "send", "other": "D2", "lines": "SALT 4", "_csrf_token": csrf_of(client)})
    assert refused.status_code in (401, 403)


async def test_store_resync_moves_transfer_numbers_past_the_hubs(s1, cfg):
    await hub_says(s1, cfg, "store.resync", {"numbers": {"transfer": 7}})
    t = await tr.request_transfer(s1, "S1", source="S1", dest="D2", lines=[Line("SALT", 1)])
    assert t.number == "S1-T00008"


async def test_a_request_the_hub_refuses_is_cancelled_here_with_its_reason(s1, cfg):
    t = await tr.request_transfer(s1, "S1", source="S1", dest="Z9", lines=[Line("SALT", 1)])
    await hub_says(s1, cfg, "transfer.cancelled", {
        "transfer_id": t.id, "number": t.number, "source": "S1", "dest": "Z9",
        "reason": "refused by the hub: there is no store Z9"})
    got = (await tr.get_transfer(s1, t.id)).transfer
    assert (got.state, got.reason) == ("cancelled", "refused by the hub: there is no store Z9")


async def test_more_than_asked_or_sent_is_booked_only_once_confirmed(s1, cfg, d2):
    """A thumb slip (40 for 4) is the usual reason for more than asked: the pick and the
    receipt refuse it with the figures and write nothing until the person confirms."""
    d2db, d2cfg = d2
    await receive(s1, "SALT", 50)
    t = await tr.request_transfer(s1, "S1", source="S1", dest="D2", lines=[Line("SALT", 4)])
    await hub_says(s1, cfg, "transfer.approved", approved(t, [("SALT", 4)]))
    await hub_says(d2db, d2cfg, "transfer.approved", approved(t, [("SALT", 4)]))
    with pytest.raises(tr.MoreThanExpected, match="SALT: 40 typed, 4 asked"):
        await tr.pick(s1, "S1", t.id, {"SALT": 40})
    got = await tr.get_transfer(s1, t.id)
    assert got.transfer.state == "approved" and got.lines[0].picked is None
    assert not await events(s1, "transfer.picked")
    await tr.pick(s1, "S1", t.id, {"SALT": 6}, more_ok=True)  # a case of 6: right
    [picked] = await events(s1, "transfer.picked")
    assert picked["lines"] == [{"sku": "SALT", "picked": 6}]
    await tr.dispatch(s1, "S1", t.id, MEENA, today=TODAY)
    [dispatched] = await events(s1, "transfer.dispatched")
    incoming = {**approved(t, [("SALT", 4)]), "at": utcnow().isoformat(),
                "lines": [{"sku": x["sku"], "quantity": 4, "sent": x["sent"],
                           "parts": x["parts"]} for x in dispatched["lines"]]}
    await hub_says(d2db, d2cfg, "transfer.incoming", incoming)
    before = await levels(d2db)
    with pytest.raises(tr.MoreThanExpected, match="SALT: 60 typed, 6 sent"):
        await tr.receive(d2db, "D2", t.id, {"SALT": 60}, user=MEENA)
    assert await levels(d2db) == before
    assert (await tr.get_transfer(d2db, t.id)).transfer.state == "dispatched"
    await tr.receive(d2db, "D2", t.id, {"SALT": 7}, {"SALT": "excess"}, user=MEENA,
                     more_ok=True)
    assert await levels(d2db) == {**before, ("SALT", ""): before.get(("SALT", ""), 0) + 7}


async def test_the_pick_page_asks_again_with_the_numbers_typed(client, login_as, db, cfg):
    from tests.conftest import csrf_of

    await _setup(db, cfg)
    await receive(db, "SALT", 50)
    await login_as("manager")
    t = await tr.request_transfer(db, "S1", source="S1", dest="D2", lines=[Line("SALT", 4)])
    await hub_says(db, cfg, "transfer.approved", approved(t, [("SALT", 4)]))
    asked = await client.post(f"/stock/transfers/{t.id}/pick", data={
        "pick:SALT": "40", "_csrf_token": csrf_of(client)})
    assert asked.status_code == 200
    assert "40 typed, 4 asked" in asked.text and 'data-testid="more-ok"' in asked.text
    assert 'name="pick:SALT" value="40"' in asked.text  # what they typed, to check
    assert (await tr.get_transfer(db, t.id)).transfer.state == "approved"
    confirmed = await client.post(f"/stock/transfers/{t.id}/pick", data={
        "pick:SALT": "40", "more_ok": "yes", "_csrf_token": csrf_of(client)})
    assert "Send to D2" in confirmed.text
    assert (await tr.get_transfer(db, t.id)).lines[0].picked == 40
