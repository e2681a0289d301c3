"""Stock ledger on a real SQLite file: level == sum(ledger), always, and every move is an event."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from sqlalchemy import func, select

from app.catalog.barcodes import gtin_check_digit
from app.catalog.csv_io import parse_catalog
from app.catalog.service import import_catalog
from app.stock import service
from app.stock.models import StockLevel, StockMove
from app.sync.models import OutboxEvent

HEADER = "sku,name,barcodes,price,gst_rate,hsn,unit,pack_size,category,active,reorder_level\n"
BINS = "code,zone,aisle,shelf,pick_seq\nA-01-1,AMBIENT,A,1,10\nA-01-2,AMBIENT,A,2,20\nB-01-1,AMBIENT,B,1,30\n"


def ean(body12: str) -> str:
    return body12 + gtin_check_digit(body12)


@pytest.fixture
async def catalog(db, cfg):
    rows = "".join(
        f"P{i},Product {i},{ean(f'8901000000{i:02d}')},10,5,,piece,,,yes,5\n" for i in range(1, 6)
    )
    rows += f"ONION,Onion,{ean('210010100000')},40,0,,kg,,Fruits & Vegetables,yes,5000\n"
    await import_catalog(db, parse_catalog(HEADER + rows, cfg.measure_rules))
    await service.load_bins_csv(db, BINS)
    async with db.read() as s:
        from app.catalog.models import Product

        return {p.sku: p for p in await s.scalars(select(Product))}


async def ledger_matches_levels(db) -> None:
    """The invariant: each level is its ledger's sum, per product, bin and batch."""
    async with db.read() as s:
        batch = func.coalesce(StockMove.batch, "")
        sums = {
            (p, b, k): int(q)
            for p, b, k, q in (await s.execute(
                select(StockMove.product_id, StockMove.bin_id, batch, func.sum(StockMove.delta))
                .group_by(StockMove.product_id, StockMove.bin_id, batch))).all()
        }
        levels = {(r.product_id, r.bin_id, r.batch): r.on_hand
                  for r in await s.scalars(select(StockLevel))}
    assert sums == levels


async def test_receive_and_adjust_keep_level_equal_to_ledger(db, catalog):
    p = catalog["P1"]
    r = await service.receive(
        db,
        product_id=p.id,
        bin_code="a-01-1",
        quantity=12,
        user_id=None,
        batch="B7",
        reference="bill 42",
    )
    assert (r.on_hand_in_bin, r.on_hand_total) == (12, 12)
    r = await service.adjust(
        db, product_id=p.id, bin_code="A-01-1", reason="damaged", quantity=2, user_id=None
    )
    assert r.move.delta == -2 and r.on_hand_in_bin == 10
    r = await service.adjust(
        db, product_id=p.id, bin_code="A-01-1", reason="count", quantity=7, user_id=None
    )
    assert r.move.delta == -3 and r.on_hand_in_bin == 7
    r = await service.adjust(
        db, product_id=p.id, bin_code="A-01-2", reason="found", quantity=4, user_id=None
    )
    assert r.on_hand_total == 11
    await ledger_matches_levels(db)


async def test_every_move_writes_a_stock_moved_event_in_the_same_transaction(db, catalog):
    p = catalog["ONION"]
    await service.receive(db, product_id=p.id, bin_code="B-01-1", quantity=2500, user_id=None)
    async with db.read() as s:
        events = list(await s.scalars(select(OutboxEvent)))
        moves = list(await s.scalars(select(StockMove)))
    assert len(events) == len(moves) == 1
    data = json.loads(events[0].data)
    assert events[0].kind == "stock.moved"
    assert data == {
        **data,
        "sku": "ONION",
        "bin": "B-01-1",
        "delta": 2500,
        "reason": "receive",
        "move_id": moves[0].id,
    }


async def test_failed_move_leaves_no_trace(db, catalog):
    p = catalog["P1"]
    with pytest.raises(service.StockError, match="no bin 'Z-9'"):
        await service.receive(db, product_id=p.id, bin_code="Z-9", quantity=5, user_id=None)
    with pytest.raises(service.StockError, match="matches the book figure"):
        await service.adjust(
            db, product_id=p.id, bin_code="A-01-1", reason="count", quantity=0, user_id=None
        )
    with pytest.raises(service.StockError):
        await service.receive(db, product_id=p.id, bin_code="A-01-1", quantity=0, user_id=None)
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(StockMove)) == 0
        assert await s.scalar(select(func.count()).select_from(OutboxEvent)) == 0


async def test_concurrent_movements_keep_the_invariant(cfg, catalog):
    """Many writers on separate engines (like several requests/processes) hammer the same
    rows; SQLite's writer lock + BEGIN IMMEDIATE must serialise them without losing one."""
    from app.core.db import Database

    rng = random.Random(5)
    plan = [
        (
            rng.choice(list(catalog.values())),
            rng.choice(["A-01-1", "A-01-2", "B-01-1"]),
            rng.choice(["receive", "damaged", "found"]),
            rng.randint(1, 9),
        )
        for _ in range(120)
    ]
    dbs = [Database(cfg.database_path) for _ in range(4)]

    async def worker(k: int) -> None:
        for i, (p, bin_code, reason, qty) in enumerate(plan):
            if i % len(dbs) != k:
                continue
            if reason == "receive":
                await service.receive(
                    dbs[k], product_id=p.id, bin_code=bin_code, quantity=qty, user_id=None
                )
            else:
                await service.adjust(
                    dbs[k],
                    product_id=p.id,
                    bin_code=bin_code,
                    reason=reason,
                    quantity=qty,
                    user_id=None,
                )

    await asyncio.gather(*(worker(k) for k in range(len(dbs))))
    await ledger_matches_levels(dbs[0])
    async with dbs[0].read() as s:
        assert await s.scalar(select(func.count()).select_from(StockMove)) == len(plan)
        seqs = list(await s.scalars(select(OutboxEvent.seq).order_by(OutboxEvent.seq)))
    assert seqs == list(range(1, len(plan) + 1))  # consecutive: no gaps for the sync protocol
    expected: dict[tuple[str, str], int] = {}
    for p, bin_code, reason, qty in plan:
        sign = -1 if reason == "damaged" else 1
        expected[(p.sku, bin_code)] = expected.get((p.sku, bin_code), 0) + sign * qty
    for (sku, bin_code), qty in expected.items():
        levels = {
            lv.bin_code: lv.on_hand
            for lv in await service.levels_for_product(dbs[0], catalog[sku].id)
        }
        assert levels.get(bin_code, 0) == qty
    for d in dbs:
        await d.dispose()


async def test_low_stock_list(db, catalog):
    await service.receive(
        db, product_id=catalog["P1"].id, bin_code="A-01-1", quantity=50, user_id=None
    )
    await service.receive(
        db, product_id=catalog["P2"].id, bin_code="A-01-1", quantity=3, user_id=None
    )
    low = {r.product.sku for r in await service.stock_list(db, low_only=True)}
    assert "P2" in low and "P1" not in low and "ONION" in low  # 0 g <= 5000 g
    all_rows = {r.product.sku: r.on_hand for r in await service.stock_list(db)}
    assert all_rows["P1"] == 50
