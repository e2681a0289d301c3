"""Returns of online orders at the store (issue #19) on a real SQLite file: the hub's
`return.requested` through the sync apply path (idempotent, malformed -> the frame
fails), grading at the desk, finishing in one transaction (ledger moves, outbox rows,
audit), manager approval, and two desks finishing the same return at once."""

from __future__ import annotations

import asyncio
import json
import math
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.catalog.barcodes import make_variable_barcode
from app.catalog.csv_io import parse_catalog
from app.catalog.models import Product
from app.catalog.service import import_catalog
from app.core.auth import StaffUser
from app.core.db import Database
from app.core.models import AuditLog
from app.returns import service as returns
from app.returns.models import OnlineReturn
from app.stock import service as stock
from app.stock.models import StockLevel, StockMove
from app.sync.models import OutboxEvent
from app.sync.protocol import Event
from app.sync.store_apply import BadHubEvent, apply_hub_event

HEADER = "sku,name,barcodes,price,gst_rate,hsn,unit,pack_size,category,active,reorder_level\n"
ROWS = ("MILK,Milk 500 ml,8901234567890,30,5,,piece,,Dairy,yes,5\n"
        "SALT,Salt 1 kg,8901234567807,28,5,,piece,,Staples,yes,5\n")
BINS = "code,zone,aisle,shelf,pick_seq\nA-01-1,AMBIENT,A,1,10\nB-01-1,AMBIENT,B,1,30\n"
RAVI = StaffUser(id="", name="Ravi", role="picker")
MEENA = StaffUser(id="", name="Meena", role="manager")


def requested(return_id: str = "0190aaaa-0000-7000-8000-000000000001", **over) -> dict:
    data = {
        "return_id": return_id, "number": "RET-000012", "kind": "customer", "mode": "pickup",
        "hub_order_id": "0190bbbb-0000-7000-8000-000000000001", "order_number": "H-000042",
        "channel": "webshop", "external_id": "WEB-42", "channel_return_id": "CR-1",
        "reason": "damaged at delivery", "exchange": False, "at": "2026-12-01T10:00:00+00:00",
        "lines": [
            {"sku": "MILK", "quantity": 2, "unit_price_minor": 3000, "refundable_minor": 6000},
            {"sku": "SALT", "quantity": 1, "unit_price_minor": 2800, "refundable_minor": 2800},
        ],
    }
    data.update(over)
    return data


async def feed(db: Database, cfg, data: dict, seq: int = 1) -> None:
    async with db.write() as s:
        await apply_hub_event(s, cfg, Event(seq=seq, id=f"e{seq}", kind="return.requested",
                                            at="2026-12-01T10:00:00+00:00", data=data))


@pytest.fixture
async def store(db, cfg):
    await import_catalog(db, parse_catalog(HEADER + ROWS, cfg.measure_rules))
    await stock.load_bins_csv(db, BINS)
    async with db.read() as s:
        pid = await s.scalar(select(Product.id).where(Product.sku == "MILK"))
    await stock.receive(db, product_id=pid, bin_code="B-01-1", quantity=5, user_id=None)
    return db


async def on_hand(db: Database, sku: str) -> dict[str, int]:
    async with db.read() as s:
        rows = await s.execute(
            select(StockMove.reason, func.sum(StockMove.delta))
            .join(Product, Product.id == StockMove.product_id)
            .where(Product.sku == sku).group_by(StockMove.reason))
        level = await s.scalar(select(func.sum(StockLevel.on_hand))
                               .join(Product, Product.id == StockLevel.product_id)
                               .where(Product.sku == sku))
    moves = dict(rows.all())
    assert (level or 0) == sum(moves.values())  # the level is the ledger's sum
    return {"level": level or 0, **moves}


async def outbox(db: Database, kind: str) -> list[dict]:
    async with db.read() as s:
        return [json.loads(d) for d in await s.scalars(
            select(OutboxEvent.data).where(OutboxEvent.kind == kind).order_by(OutboxEvent.seq))]


async def test_a_requested_return_is_expected_once(store, cfg):
    await feed(store, cfg, requested())
    await feed(store, cfg, requested(), seq=2)  # the hub resends: nothing changes
    expected = await returns.expected_returns(store)
    assert [r.number for r in expected] == ["RET-000012"]
    assert [(line.sku, line.expected) for line in expected[0].lines] == [("MILK", 2),
                                                                         ("SALT", 1)]
    found = await returns.find_open(store, cfg, "ret-000012")
    assert found.id == expected[0].id
    assert (await returns.find_open(store, cfg, "WEB-42")).id == found.id


@pytest.mark.parametrize("bad", [
    {"lines": [{"sku": "MILK", "quantity": math.nan, "unit_price_minor": 1,
                "refundable_minor": 1}]},
    {"lines": [{"sku": "MILK", "quantity": 2**63, "unit_price_minor": 1,
                "refundable_minor": 1}]},
    {"lines": [{"sku": "MILK", "quantity": 0, "unit_price_minor": 1, "refundable_minor": 1}]},
    {"lines": [{"sku": "MILK", "quantity": True, "unit_price_minor": 1,
                "refundable_minor": 1}]},
    {"lines": [{"sku": "MILK", "quantity": 1, "unit_price_minor": 1,
                "refundable_minor": -1}]},
    {"lines": []},
    {"lines": "MILK"},
    {"reason": "x" * 100_000},
    {"reason": "broken\x00"},
    {"return_id": ""},
    {"kind": "gift"},
    {"exchange": "yes"},
    {"at": "yesterday"},
    {"lines": [{"sku": "MILK", "quantity": 1, "unit_price_minor": 1, "refundable_minor": 1},
               {"sku": "milk", "quantity": 1, "unit_price_minor": 1, "refundable_minor": 1}]},
])
async def test_a_malformed_request_fails_the_frame_and_changes_nothing(store, cfg, bad):
    with pytest.raises(BadHubEvent):
        await feed(store, cfg, requested(**bad))
    async with store.read() as s:
        assert await s.scalar(select(func.count()).select_from(OnlineReturn)) == 0


async def test_an_unknown_sku_is_expected_but_cannot_go_back_on_a_shelf(store, cfg):
    data = requested(lines=[{"sku": "GHEE", "quantity": 1, "unit_price_minor": 50000,
                             "refundable_minor": 50000}])
    await feed(store, cfg, data)
    ret = (await returns.expected_returns(store))[0]
    with pytest.raises(returns.ReturnError, match="catalogue"):
        await returns.grade(store, ret.id, "GHEE", "resellable", RAVI)
    await returns.grade(store, ret.id, "GHEE", "damaged", MEENA)


async def test_a_wrong_barcode_is_refused_and_nothing_changes(store, cfg):
    await feed(store, cfg, requested(lines=[{"sku": "MILK", "quantity": 1,
                                             "unit_price_minor": 3000,
                                             "refundable_minor": 3000}]))
    ret = (await returns.expected_returns(store))[0]
    with pytest.raises(returns.ReturnError, match="not in return RET-000012"):
        await returns.scan_item(store, ret.id, "8901234567807")  # salt, not on the return
    line = await returns.scan_item(store, ret.id, "8901234567890")
    assert line.sku == "MILK"
    with pytest.raises(returns.ReturnError):
        await returns.grade(store, ret.id, "SALT", "resellable", RAVI)
    await returns.grade(store, ret.id, "MILK", "resellable", RAVI)
    with pytest.raises(returns.ReturnError, match="graded already"):
        await returns.grade(store, ret.id, "MILK", "resellable", RAVI)
    assert (await returns.view(store, ret.id)).ret.state == "receiving"


async def test_finish_moves_stock_writes_the_outbox_and_the_audit_in_one_go(store, cfg):
    await feed(store, cfg, requested())
    ret = (await returns.expected_returns(store))[0]
    before = await on_hand(store, "MILK")
    await returns.grade(store, ret.id, "MILK", "resellable", RAVI)
    await returns.grade(store, ret.id, "MILK", "damaged", RAVI)
    await returns.grade(store, ret.id, "SALT", "customer_damaged", RAVI)
    done = await returns.finish(store, cfg, ret.id, RAVI)
    assert done.state == "completed"
    assert done.refund_total_minor == 6000  # two milks (one resellable, one arrived broken)
    milk = await on_hand(store, "MILK")
    assert milk["level"] == before["level"] + 1          # the resellable one is back
    assert milk["return"] == 2 and milk["damaged"] == -1  # the broken one written off
    salt = await on_hand(store, "SALT")
    assert salt == {"level": 0, "return": 1, "damaged": -1}
    moved = [e for e in await outbox(store, "stock.moved") if e["reason"] != "receive"]
    assert {(e["sku"], e["delta"], e["reason"]) for e in moved} == {
        ("MILK", 2, "return"), ("MILK", -1, "damaged"), ("SALT", 1, "return"),
        ("SALT", -1, "damaged")}
    assert all(e["reference"] == "RET-000012 order H-000042" for e in moved)
    assert all(e["bin"] == "B-01-1" for e in moved if e["sku"] == "MILK")  # put-away rule
    [event] = await outbox(store, "return.completed")
    assert event["decision"] == "refund" and event["approved_by"] is None
    assert event["refund_total_minor"] == 6000
    assert event["lines"] == [
        {"sku": "MILK", "expected": 2, "received": 2, "resellable": 1, "damaged": 1,
         "expired": 0, "wrong_item": 0, "refund_minor": 6000},
        {"sku": "SALT", "expected": 1, "received": 1, "resellable": 0, "damaged": 1,
         "expired": 0, "wrong_item": 0, "refund_minor": 0}]
    async with store.read() as s:
        assert await s.scalar(select(func.count()).select_from(AuditLog)
                              .where(AuditLog.action == "return_completed")) == 1
    with pytest.raises(returns.AlreadyFinished):
        await returns.finish(store, cfg, ret.id, RAVI)  # a double tap: nothing twice
    assert await on_hand(store, "MILK") == milk
    assert len(await outbox(store, "return.completed")) == 1


async def test_a_refund_above_the_limit_waits_for_a_manager(store, cfg):
    big = requested(lines=[{"sku": "MILK", "quantity": 1, "unit_price_minor": 60000,
                            "refundable_minor": 60000}])  # Rs 600 > Rs 500
    await feed(store, cfg, big)
    ret = (await returns.expected_returns(store))[0]
    await returns.grade(store, ret.id, "MILK", "resellable", RAVI)
    waiting = await returns.finish(store, cfg, ret.id, RAVI)
    assert waiting.state == "awaiting_approval" and "limit" in waiting.why
    assert (await returns.view(store, ret.id)).ret.state == "awaiting_approval"
    assert await outbox(store, "return.completed") == []
    assert "return" not in await on_hand(store, "MILK")
    done = await returns.finish(store, cfg, ret.id, RAVI, approver=MEENA)
    assert done.state == "completed"
    [event] = await outbox(store, "return.completed")
    assert event["approved_by"] == "Meena" and event["refund_total_minor"] == 60000


async def test_a_rejected_return_refunds_nothing_and_moves_nothing(store, cfg):
    await feed(store, cfg, requested())
    ret = (await returns.expected_returns(store))[0]
    await returns.grade(store, ret.id, "MILK", "wrong_item", RAVI)
    assert (await returns.finish(store, cfg, ret.id, RAVI)).state == "awaiting_approval"
    done = await returns.finish(store, cfg, ret.id, RAVI, approver=MEENA, reject=True)
    assert done.state == "rejected"
    [event] = await outbox(store, "return.completed")
    assert event["decision"] == "rejected" and event["refund_total_minor"] == 0
    assert "return" not in await on_hand(store, "MILK")


async def test_two_desks_finishing_at_once_one_wins(store, cfg):
    """Two Database objects on one file (two connection pools, as two processes would
    have): both finish the same return at the same moment; one wins, the other is told,
    the stock comes back once."""
    await feed(store, cfg, requested())
    ret = (await returns.expected_returns(store))[0]
    await returns.grade(store, ret.id, "MILK", "resellable", RAVI)
    other = Database(cfg.database_path)
    try:
        results = await asyncio.gather(
            returns.finish(store, cfg, ret.id, RAVI),
            returns.finish(other, cfg, ret.id, MEENA), return_exceptions=True)
    finally:
        await other.dispose()
    wins = [r for r in results if isinstance(r, returns.Finished)]
    losses = [r for r in results if isinstance(r, returns.AlreadyFinished)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert "finished already" in str(losses[0])
    assert len(await outbox(store, "return.completed")) == 1
    assert (await on_hand(store, "MILK"))["return"] == 1


async def test_two_desks_in_two_threads_finishing_at_once_one_wins(store, cfg):
    """The same race from two threads, each with its own event loop and connections."""
    await feed(store, cfg, requested())
    ret = (await returns.expected_returns(store))[0]
    await returns.grade(store, ret.id, "MILK", "resellable", RAVI)
    start = threading.Barrier(2)

    def desk(who: StaffUser) -> object:
        async def run() -> object:
            database = Database(cfg.database_path)
            try:
                start.wait()
                return await returns.finish(database, cfg, ret.id, who)
            except returns.ReturnError as exc:
                return exc
            finally:
                await database.dispose()
        return asyncio.run(run())

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(desk, (RAVI, MEENA)))
    assert sorted(type(r).__name__ for r in results) == ["AlreadyFinished", "Finished"]
    assert len(await outbox(store, "return.completed")) == 1
    assert (await on_hand(store, "MILK"))["return"] == 1


async def test_returns_figures_rate_reasons_grades_and_time(store, cfg):
    from app.returns import metrics

    await feed(store, cfg, requested())
    await feed(store, cfg, requested("0190aaaa-0000-7000-8000-000000000002", number="RET-2",
                                     kind="rto", mode="rto", reason="",
                                     channel_return_id=None,
                                     lines=[{"sku": "MILK", "quantity": 1,
                                             "unit_price_minor": 3000,
                                             "refundable_minor": 3000}]), seq=2)
    first, second = await returns.expected_returns(store)
    await returns.grade(store, first.id, "MILK", "resellable", RAVI)
    await returns.grade(store, first.id, "MILK", "expired", RAVI)
    await returns.finish(store, cfg, first.id, RAVI)
    await returns.grade(store, second.id, "MILK", "damaged", RAVI)
    await returns.finish(store, cfg, second.id, RAVI)
    f = await metrics.figures(store, 30)
    assert f.finished == 2 and f.open == 0 and f.refund_minor == 9000
    assert f.grades["resellable"] == 1 and f.grades["expired"] == 1 and f.grades["damaged"] == 1
    assert dict(f.reasons) == {"damaged at delivery": 1, "failed delivery": 1}
    [milk] = f.products
    assert (milk.sku, milk.returned, milk.refund_minor) == ("MILK", 3, 9000)
    assert milk.rate_percent is None  # nothing left on online orders in these days
    assert f.minutes_median is not None and f.minutes_median >= 0
    assert (await metrics.figures(store, 2**63)).days == metrics.MAX_DAYS


async def test_a_retried_grade_counts_once(store, cfg):
    await feed(store, cfg, requested())
    ret = (await returns.expected_returns(store))[0]
    await returns.grade(store, ret.id, "MILK", "resellable", RAVI, request_id="r1")
    with pytest.raises(returns.AlreadyGraded):
        await returns.grade(store, ret.id, "MILK", "resellable", RAVI, request_id="r1")
    await returns.grade(store, ret.id, "MILK", "damaged", RAVI, request_id="r2")
    line = (await returns.view(store, ret.id)).lines[0]
    assert (line.resellable, line.damaged) == (1, 1)


# ---- weighed goods: grams graded by weight (issue #19 defect: 1 g per tap) ---------------

DAL_ITEM = "00123"


def weight_rule(cfg):
    return next(r for r in cfg.measure_rules if r.kind == "weight")


def dal_label(cfg, grams: int) -> str:
    return make_variable_barcode(weight_rule(cfg), DAL_ITEM, grams)


@pytest.fixture
async def weighed(store, cfg):
    """Loose toor dal at Rs 120/kg; the hub sends its line in grams."""
    row = (f"DAL,Toor dal loose,{dal_label(cfg, 0)},120,5,,kg,,Staples,yes,5000\n")
    await import_catalog(store, parse_catalog(HEADER + ROWS + row, cfg.measure_rules))
    await feed(store, cfg, requested(lines=[{"sku": "DAL", "quantity": 500,
                                             "unit_price_minor": 12,
                                             "refundable_minor": 6000}]))
    return (await returns.expected_returns(store))[0]


async def test_a_weighed_line_graded_by_typed_weight_refunds_the_prorated_price(
        store, cfg, weighed):
    before = await on_hand(store, "DAL")
    line = await returns.grade(store, weighed.id, "DAL", "resellable", RAVI, quantity="0.500")
    assert (line.received, line.resellable) == (500, 500)  # grams, not one tap = 1 g
    done = await returns.finish(store, cfg, weighed.id, RAVI)
    assert done.refund_total_minor == 6000  # Rs 60 for 500 g at Rs 120/kg, not Rs 0.12
    after = await on_hand(store, "DAL")
    assert after["level"] == before["level"] + 500 and after["return"] == 500
    [event] = await outbox(store, "return.completed")
    assert event["lines"][0]["received"] == 500 and event["lines"][0]["refund_minor"] == 6000


async def test_a_weighed_line_graded_in_parts_grams_and_the_whole_rest(store, cfg, weighed):
    await returns.grade(store, weighed.id, "DAL", "resellable", RAVI, quantity="300 g")
    with pytest.raises(returns.ReturnError, match="Only 0.2 kg of DAL is left"):
        await returns.grade(store, weighed.id, "DAL", "damaged", RAVI, quantity="0.250")
    with pytest.raises(returns.ReturnError, match="Type the weight"):
        await returns.grade(store, weighed.id, "DAL", "damaged", RAVI, quantity="")
    line = await returns.grade(store, weighed.id, "DAL", "damaged", RAVI, whole=True)
    assert (line.resellable, line.damaged, line.received) == (300, 200, 500)
    with pytest.raises(returns.ReturnError, match="graded already"):
        await returns.grade(store, weighed.id, "DAL", "damaged", RAVI, whole=True)
    done = await returns.finish(store, cfg, weighed.id, RAVI)
    assert done.refund_total_minor == 6000  # arrived damaged is refunded too
    dal = await on_hand(store, "DAL")
    assert dal["return"] == 500 and dal["damaged"] == -200


async def test_a_scale_label_gives_the_weight_to_grade(store, cfg, weighed):
    rules = cfg.measure_rules
    found = await returns.scan_for_grading(store, weighed.id, dal_label(cfg, 500), rules)
    assert (found.line.sku, found.unit, found.weight) == ("DAL", "kg", 500)
    with pytest.raises(returns.ReturnError, match="label says 0.6 kg"):
        await returns.scan_for_grading(store, weighed.id, dal_label(cfg, 600), rules)
    await returns.grade(store, weighed.id, "DAL", "resellable", RAVI, quantity=found.weight)
    with pytest.raises(returns.ReturnError, match="graded already"):
        await returns.scan_for_grading(store, weighed.id, dal_label(cfg, 1), rules)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 2**63, -500, 0, True, 1.5,
                                 "nan", "inf", "1e3", "-500 g", "0", "0.0001", "abc",
                                 "500\x00", "5" * 100_000, str(2**63), "500.5 g", None])
async def test_hostile_quantities_are_refused_and_nothing_changes(store, cfg, weighed, bad):
    with pytest.raises(returns.ReturnError) as refused:
        await returns.grade(store, weighed.id, "DAL", "resellable", RAVI, quantity=bad,
                            request_id="h1")
    assert "Nothing changed" in str(refused.value) or "whole number" in str(refused.value)
    view = await returns.view(store, weighed.id)
    assert view.lines[0].received == 0 and view.ret.state == "expected"
    assert view.steps == [] or all(step.request_id != "h1" for step in view.steps)
    # the same request id is still free: a good retry counts once
    await returns.grade(store, weighed.id, "DAL", "resellable", RAVI, quantity="500 g",
                        request_id="h1")
    with pytest.raises(returns.AlreadyGraded):
        await returns.grade(store, weighed.id, "DAL", "resellable", RAVI, quantity="500 g",
                            request_id="h1")
    assert (await returns.view(store, weighed.id)).lines[0].received == 500


async def test_pieces_still_grade_one_per_tap_or_a_typed_count(store, cfg):
    await feed(store, cfg, requested())
    ret = (await returns.expected_returns(store))[0]
    line = await returns.grade(store, ret.id, "MILK", "resellable", RAVI, quantity="")
    assert line.received == 1
    with pytest.raises(returns.ReturnError, match="whole number"):
        await returns.grade(store, ret.id, "MILK", "resellable", RAVI, quantity="0.5")
    with pytest.raises(returns.ReturnError, match="Only 1 of MILK"):
        await returns.grade(store, ret.id, "MILK", "resellable", RAVI, quantity="2")
    line = await returns.grade(store, ret.id, "MILK", "damaged", RAVI, quantity="1")
    assert (line.resellable, line.damaged) == (1, 1)
