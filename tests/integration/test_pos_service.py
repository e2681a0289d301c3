"""Counter sales (app.pos.service) on real SQLite files with the demo catalogue.

No mocks: every step goes through the service functions, concurrent steps use
separate ``Database`` instances on the same file (like two tablets or two
server workers), and the results are checked against the rows actually stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.catalog.barcodes import BarcodeError, make_variable_barcode
from app.catalog.csv_io import ParsedCatalog, ProductRow, parse_catalog
from app.catalog.service import UnknownProduct, import_catalog
from app.config import StoreConfig
from app.core.auth import StaffUser
from app.core.db import Database
from app.core.models import NumberSequence
from app.pos import service as pos
from app.pos.models import Cart, Refund, RefundLine, Sale, SaleLine, SaleTender, Shift, Void
from app.pos.pricing import Discount, PricingError
from app.pos.service import NeedsApproval, PosError, RefundRequest
from app.stock.models import StockMove
from app.stock.service import load_bins_csv, total_on_hand
from app.sync.models import OutboxEvent
from tests.conftest import STAFF

ROOT = Path(__file__).resolve().parents[2]
CATALOG_CSV = (ROOT / "store_config" / "demo_catalog.csv").read_text()
BINS_CSV = (ROOT / "store_config" / "demo_bins.csv").read_text()

ATTA = "ATA-AASH-1KG"  # ₹68.00 a piece, GST 5 %
DAL = "DAL-24RJ-500G"  # ₹115.00 a piece, GST 5 %
LOTION = "BLT-HMBL-200ML"  # ₹195.00 a piece, GST 18 %
BIG = "ATA-AASH-10KG"  # ₹545.00 a piece: removing it is above the ₹500 void limit
APPLE = "FV-00127"  # ₹180.00 per kg, sold loose by weight, GST 0 %


# ---- fixtures and helpers ----------------------------------------------------------


@pytest.fixture
def parsed(cfg: StoreConfig) -> ParsedCatalog:
    result = parse_catalog(CATALOG_CSV, cfg.measure_rules)
    assert result.clean, result.errors[:3]
    return result


@pytest.fixture
async def catalog(db: Database, parsed: ParsedCatalog) -> dict[str, ProductRow]:
    """The demo catalogue and bins, as in test_pages_and_api.py; sku -> row."""
    await import_catalog(db, parsed)
    await load_bins_csv(db, BINS_CSV)
    rows = {r.sku: r for r in parsed.rows}
    assert rows[ATTA].price_minor == 6800 and rows[DAL].price_minor == 11500
    assert rows[LOTION].price_minor == 19500 and rows[BIG].price_minor == 54500
    assert rows[APPLE].unit == "kg" and rows[APPLE].price_minor == 18000
    return rows


@pytest.fixture
def users(staff: dict[str, str]) -> dict[str, StaffUser]:
    return {role: StaffUser(uid, STAFF[role][0], role) for role, uid in staff.items()}


@pytest.fixture
def cashier(users) -> StaffUser:
    return users["cashier"]


@pytest.fixture
def manager(users) -> StaffUser:
    return users["manager"]


@asynccontextmanager
async def databases(cfg: StoreConfig, n: int) -> AsyncIterator[list[Database]]:
    """n independent Database instances (own engines, own connections) on the store file."""
    dbs = [Database(cfg.database_path) for _ in range(n)]
    try:
        yield dbs
    finally:
        for d in dbs:
            await d.dispose()


def new_key() -> str:
    return secrets.token_urlsafe(18)


def barcode(catalog: dict[str, ProductRow], sku: str) -> str:
    return catalog[sku].barcodes[0]


def weight_label(cfg: StoreConfig, catalog: dict[str, ProductRow], sku: str, grams: int) -> str:
    rule = next(r for r in cfg.measure_rules if r.kind == "weight")
    assert rule.prefix == "21"
    return make_variable_barcode(rule, catalog[sku].barcodes[0][2:7], grams)


async def scan(db, cfg, counter, user, cart_id, code) -> pos.CartView:
    view, _line = await pos.add_scan(db, cfg, counter, user, cart_id, code, cfg.measure_rules)
    return view


async def new_cart(db, cfg, counter, user, *codes: str) -> pos.CartView:
    view = await pos.current_cart(db, cfg, counter, user)
    assert view.cart.status == "active" and not view.cart.lines
    for code in codes:
        view = await scan(db, cfg, counter, user, view.cart.id, code)
    return view


def line_for(view: pos.CartView, sku: str):
    return next(line for line in view.cart.lines if view.products[line.product_id].sku == sku)


async def rows(db: Database, stmt) -> list:
    async with db.read() as s:
        return list(await s.scalars(stmt))


async def one(db: Database, stmt):
    async with db.read() as s:
        return await s.scalar(stmt)


async def events(db: Database, kind: str) -> list[dict]:
    found = await rows(db, select(OutboxEvent).where(OutboxEvent.kind == kind))
    return [json.loads(e.data) for e in found]


async def sequence(db: Database, name: str) -> int:
    return int(
        await one(db, select(NumberSequence.last).where(NumberSequence.name == name)) or 0
    )


async def sale_moves(db: Database, reason: str = "sale") -> list[StockMove]:
    return await rows(db, select(StockMove).where(StockMove.reason == reason))


async def set_price(db: Database, catalog, sku: str, price_minor: int) -> None:
    """A back-office price change, through the catalogue import (the real path)."""
    row = dataclasses.replace(catalog[sku], price_minor=price_minor)
    report = await import_catalog(db, ParsedCatalog(rows=[row]))
    assert report.updated == 1 and report.written


async def pay_cash(db, cfg, counter, cart_id, given: int = 1_000_000) -> pos.CartView:
    """Cash for everything still due (₹10,000 handed over unless told: change is given)."""
    return await pos.add_tender(db, cfg, counter, cart_id, "cash", None, given_minor=given)


# ---- 1. idempotent completion --------------------------------------------------------


async def test_concurrent_double_submits_complete_one_sale(cfg, db, catalog, cashier):
    await pos.open_shift(db, cfg, "C1", cashier, 100_000)
    view = await new_cart(
        db, cfg, "C1", cashier, barcode(catalog, ATTA), barcode(catalog, LOTION),
        barcode(catalog, ATTA),
    )
    assert [(view.products[ln.product_id].sku, ln.quantity) for ln in view.cart.lines] == [
        (ATTA, 2),
        (LOTION, 1),
    ]
    cart_id = view.cart.id
    view = await pay_cash(db, cfg, "C1", cart_id, given=50_000)
    assert view.totals.total == 6800 * 2 + 19500 and view.remaining == 0

    key = new_key()
    async with databases(cfg, 5) as tablets:
        results = await asyncio.gather(
            *(pos.complete_sale(t, cfg, "C1", cart_id, key, cashier) for t in tablets)
        )
    assert len({r.id for r in results}) == 1
    assert {r.number for r in results} == {"S1-000001"}
    sale = results[0]
    assert sale.total_minor == 33100 and sale.change_minor == 50_000 - 33100

    stored = await rows(db, select(Sale))
    assert [s.id for s in stored] == [sale.id]
    assert await sequence(db, "sale") == 1
    moves = await sale_moves(db)
    assert sorted((m.delta, m.reference) for m in moves) == [(-2, "S1-000001"), (-1, "S1-000001")]
    completed = await events(db, "sale.completed")
    assert len(completed) == 1 and completed[0]["number"] == "S1-000001"
    assert len(await events(db, "stock.moved")) == 2
    assert len(await rows(db, select(SaleTender))) == 1
    assert len(await rows(db, select(SaleLine))) == 2

    # A retry with another key (e.g. the pay form reloaded) finds the same sale.
    again = await pos.complete_sale(db, cfg, "C1", cart_id, new_key(), cashier)
    assert (again.id, again.number) == (sale.id, sale.number)
    assert len(await rows(db, select(Sale))) == 1
    assert len(await sale_moves(db)) == 2
    assert len(await events(db, "sale.completed")) == 1
    assert await sequence(db, "sale") == 1
    product_id = next(ln.product_id for ln in view.cart.lines if ln.quantity == 2)
    assert await total_on_hand(db, product_id) == -2
    cart = await one(db, select(Cart).where(Cart.id == cart_id))
    assert cart.status == "paid"


# ---- 2. gapless numbers ----------------------------------------------------------------


PER_COUNTER = 20


async def test_receipt_numbers_are_gapless_across_two_counters(cfg, db, catalog, users):
    cashier, manager = users["cashier"], users["manager"]
    await pos.open_shift(db, cfg, "C1", cashier, 0)
    await pos.open_shift(db, cfg, "C2", manager, 0)
    codes = [barcode(catalog, sku) for sku in (ATTA, DAL, LOTION, BIG)]
    refused: list[str] = []

    async with databases(cfg, 6) as pool:

        async def till(counter: str, user: StaffUser, offset: int) -> list[str]:
            numbers = []
            for i in range(PER_COUNTER):
                a, b, c = (pool[(offset + i + j) % len(pool)] for j in range(3))
                view = await new_cart(a, cfg, counter, user, codes[i % len(codes)])
                cart_id = view.cart.id
                if i % 5 == 2:
                    # Part payment, then Complete: refused, and no number is used up.
                    await pos.add_tender(c, cfg, counter, cart_id, "upi", 500)
                    with pytest.raises(PosError, match="still due"):
                        await pos.complete_sale(b, cfg, counter, cart_id, new_key(), user)
                    refused.append(cart_id)
                await pay_cash(c, cfg, counter, cart_id)
                key = new_key()
                first, second = await asyncio.gather(
                    pos.complete_sale(a, cfg, counter, cart_id, key, user),
                    pos.complete_sale(b, cfg, counter, cart_id, key, user),
                )
                assert first.id == second.id and first.counter == counter
                numbers.append(first.number)
            return numbers

        c1, c2 = await asyncio.gather(till("C1", cashier, 0), till("C2", manager, 3))

    expected = [f"S1-{n:06d}" for n in range(1, 2 * PER_COUNTER + 1)]
    assert sorted(c1 + c2) == expected
    assert c1 == sorted(c1) and c2 == sorted(c2)  # each till sees its numbers ascend
    assert len(refused) == 8
    stored = await rows(db, select(Sale).order_by(Sale.number))
    assert [s.number for s in stored] == expected
    assert sorted(s.number for s in stored if s.counter == "C1") == sorted(c1)
    assert await sequence(db, "sale") == 2 * PER_COUNTER
    completed = await events(db, "sale.completed")
    assert sorted(e["number"] for e in completed) == expected
    assert len(await sale_moves(db)) == 2 * PER_COUNTER
    # Every sale's tenders pay exactly its total (the part UPI payments included).
    tenders = await rows(db, select(SaleTender))
    paid = {}
    for t in tenders:
        paid[t.sale_id] = paid.get(t.sale_id, 0) + t.amount_minor
    assert paid == {s.id: s.total_minor for s in stored}

    # And a refused completion after all that still burns nothing.
    view = await new_cart(db, cfg, "C1", cashier, codes[0])
    with pytest.raises(PosError, match="still due"):
        await pos.complete_sale(db, cfg, "C1", view.cart.id, new_key(), cashier)
    assert await sequence(db, "sale") == 2 * PER_COUNTER
    await pay_cash(db, cfg, "C1", view.cart.id)
    sale = await pos.complete_sale(db, cfg, "C1", view.cart.id, new_key(), cashier)
    assert sale.number == f"S1-{2 * PER_COUNTER + 1:06d}"
