"""A big order picked in parts by two pickers at once (issue #20: the planner's default
splits an order of more than ``BatchLimits.split_lines`` lines along the pick path). The
order stays "picking" until every part is back, "Start the next batch" offers the part
still waiting, and the packing bench shows both bags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.catalog.csv_io import parse_catalog
from app.catalog.service import get_by_sku, import_catalog
from app.core.auth import StaffUser, create_user
from app.orders import service as orders
from app.orders.models import Order
from app.picking import service
from app.stock.service import load_bins_csv, receive
from tests.conftest import STAFF

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def rows(db, cfg):
    parsed = parse_catalog((ROOT / "store_config" / "demo_catalog.csv").read_text(),
                           cfg.measure_rules)
    await import_catalog(db, parsed)
    await load_bins_csv(db, (ROOT / "store_config" / "demo_bins.csv").read_text())
    picked = [r for r in parsed.rows if r.unit == "piece" and r.active and r.barcodes][:10]
    codes = ["A-01-1", "A-03-2", "A-05-1", "B-08-1", "B-02-3", "C-04-1", "D-06-2",
             "E-02-1", "F-07-3", "F-01-1"]
    for row, bin_code in zip(picked, codes, strict=True):
        product = await get_by_sku(db, row.sku)
        await receive(db, product_id=product.id, bin_code=bin_code, quantity=20, user_id=None)
    return picked


@pytest.fixture
async def pickers(db, staff) -> tuple[StaffUser, StaffUser]:
    second = await create_user(db, "Sunil", "picker", "6174")
    return (StaffUser(staff["picker"], STAFF["picker"][0], "picker"),
            StaffUser(second.id, "Sunil", "picker"))


async def big_order(db, cfg, rows, ref: str) -> Order:
    incoming = orders.OrderIn(
        channel="app", external_id=ref, customer_name="Priya Sharma",
        customer_phone="9876543210", address="HSR Layout", pincode="560102",
        promised_by=datetime.now(UTC) + timedelta(minutes=10),
        lines=tuple(orders.LineIn(r.sku, 1) for r in rows), payment="prepaid",
        cod_amount_minor=0)
    return (await orders.receive_order(db, cfg, incoming, "test")).order


async def state_of(db, order_id: str) -> str:
    async with db.read() as s:
        order = await s.get(Order, order_id)
        assert order is not None
        return order.state


async def pick_all(db, cfg, picker, batch, rows) -> None:
    code = {r.sku: r.barcodes[0] for r in rows}
    for task in batch.tasks:
        await service.confirm_scan(db, picker, task.id, code[task.sku], cfg.measure_rules)


async def test_a_big_order_goes_to_two_pickers_and_is_picked_when_both_parts_are(
        db, cfg, rows, pickers):
    ravi, sunil = pickers
    order = await big_order(db, cfg, rows, "big-1")
    assert await service.waiting_count(db) == 1
    first = await service.claim_batch(db, cfg, ravi)
    assert first is not None and len(first.tasks) == 5  # 10 lines: two parts of 5
    assert await state_of(db, order.id) == "picking"
    assert await service.waiting_count(db) == 1  # the second part still waits
    second = await service.claim_batch(db, cfg, sunil)
    assert second is not None and len(second.tasks) == 5
    assert await service.waiting_count(db) == 0
    lines = {t.order_line_id for t in first.tasks} | {t.order_line_id for t in second.tasks}
    assert len(lines) == 10  # every line exactly once
    # the first part is the first half of the pick path, the second the rest
    assert {t.bin_code for t in first.tasks} == {"A-01-1", "A-03-2", "A-05-1", "B-08-1",
                                                 "B-02-3"}
    await pick_all(db, cfg, ravi, first, rows)
    assert await state_of(db, order.id) == "picking"  # Sunil is still picking
    assert await service.packing_bench(db) == []
    await pick_all(db, cfg, sunil, second, rows)
    assert await state_of(db, order.id) == "picked"
    (card,) = await service.packing_bench(db)
    assert card.bag == "A+A" and card.batch == f"{first.number}+{second.number}"
    for r in rows:
        await service.pack_scan(db, order.id, r.barcodes[0], cfg.measure_rules)
    packed = await service.pack(db, cfg, ravi, order.id, 2)
    assert packed.state == "ready"


async def test_the_second_part_is_picked_last_still_makes_the_order_picked(
        db, cfg, rows, pickers):
    ravi, sunil = pickers
    order = await big_order(db, cfg, rows, "big-2")
    first = await service.claim_batch(db, cfg, ravi)
    second = await service.claim_batch(db, cfg, sunil)
    assert first is not None and second is not None
    await pick_all(db, cfg, sunil, second, rows)
    assert await state_of(db, order.id) == "picking"
    await pick_all(db, cfg, ravi, first, rows)
    assert await state_of(db, order.id) == "picked"


async def test_a_part_never_claimed_keeps_the_order_from_being_picked(db, cfg, rows, pickers):
    ravi, _sunil = pickers
    order = await big_order(db, cfg, rows, "big-3")
    first = await service.claim_batch(db, cfg, ravi)
    assert first is not None
    await pick_all(db, cfg, ravi, first, rows)
    assert await state_of(db, order.id) == "picking"
    # the same picker's next batch is the rest of it
    rest = await service.claim_batch(db, cfg, ravi)
    assert rest is not None and rest.id != first.id and len(rest.tasks) == 5
    assert {t.order_line_id for t in rest.tasks}.isdisjoint(
        {t.order_line_id for t in first.tasks})
    await pick_all(db, cfg, ravi, rest, rows)
    assert await state_of(db, order.id) == "picked"
    assert await service.claim_batch(db, cfg, ravi) is None


async def test_cancelling_a_split_order_stops_both_parts(db, cfg, rows, pickers):
    ravi, sunil = pickers
    order = await big_order(db, cfg, rows, "big-4")
    first = await service.claim_batch(db, cfg, ravi)
    assert first is not None
    await orders.cancel_order(db, order.id, "test", "customer changed their mind")
    assert await state_of(db, order.id) == "cancelled"
    assert await service.waiting_count(db) == 0
    assert await service.claim_batch(db, cfg, sunil) is None
