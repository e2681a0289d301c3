"""The totals the till shows after each cart step equal a full repricing from the database.

The scan path (cart.add_scan / add_product), the till page and pay panel
(cart.current_cart) and paying (payment.add_tender / remove_tender / complete_sale) read
the cart as plain rows, write with Core statements and price what their transaction
already has; the other steps use the ORM. Random sequences of scans (barcodes and scale
labels), quantity changes, voids, line/bill discounts, tenders taken and removed go
through the services on a real SQLite file; after every step the view's totals, lines
and tenders must equal, to the paisa, pricing.price_cart fed a cart reloaded whole from
the database in a separate read transaction. An example may end with the sale
completed: the sale's totals and lines must be that repricing's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.catalog.barcodes import make_variable_barcode
from app.catalog.csv_io import ParsedCatalog, parse_catalog
from app.catalog.service import import_catalog
from app.config import StoreConfig
from app.core.auth import StaffUser
from app.core.db import Database
from app.pos import cart, discounts, payment, shifts
from app.pos.models import Cart
from app.pos.priced_cart import CartView, products_for, totals_for
from app.pos.pricing import Discount, PricingError
from app.pos.till_rules import NeedsApproval, PosError
from tests.conftest import STAFF

CATALOG_CSV = (Path(__file__).resolve().parents[2] / "store_config" / "demo_catalog.csv").read_text()


@pytest.fixture
async def till(cfg: StoreConfig, db: Database, staff: dict[str, str]):
    parsed: ParsedCatalog = parse_catalog(CATALOG_CSV, cfg.measure_rules)
    await import_catalog(db, parsed)
    users = {role: StaffUser(uid, STAFF[role][0], role) for role, uid in staff.items()}
    await shifts.open_shift(db, cfg, "C1", users["cashier"], 100_000)
    rule = next(r for r in cfg.measure_rules if r.kind == "weight")
    pieces = [r for r in parsed.rows if r.unit == "piece" and r.active][:12]
    loose = [r for r in parsed.rows if r.unit == "kg" and r.active
             and r.barcodes and r.barcodes[0].startswith(rule.prefix)][:3]
    assert len(pieces) == 12 and loose
    codes = [r.barcodes[0] for r in pieces]
    return users, codes, [r.sku for r in pieces], loose, rule


async def full_repricing(db: Database, cfg: StoreConfig, cart_id: str):
    """The cart reloaded whole (ORM, its lines, tenders and all its products) and priced
    again."""
    async with db.read() as s:
        stored = await s.get(Cart, cart_id)
        assert stored is not None
        products = await products_for(s, stored)
        lines = [(ln.id, ln.product_id, ln.quantity, ln.label_price_minor, ln.discount_kind,
                  ln.discount_value) for ln in stored.lines]
        tenders = [(t.id, t.kind, t.amount_minor, t.given_minor) for t in stored.tenders]
        return totals_for(cfg, stored, products), lines, tenders


def shown(view: CartView):
    lines = [(ln.id, ln.product_id, ln.quantity, ln.label_price_minor, ln.discount_kind,
              ln.discount_value) for ln in view.cart.lines]
    tenders = [(t.id, t.kind, t.amount_minor, t.given_minor) for t in view.cart.tenders]
    return view.totals, lines, tenders


step = st.one_of(
    st.tuples(st.just("scan"), st.integers(0, 11), st.just(0)),
    st.tuples(st.just("weigh"), st.integers(0, 2), st.integers(5, 25_000)),
    st.tuples(st.just("add"), st.integers(0, 11), st.integers(1, 4)),
    st.tuples(st.just("qty"), st.integers(0, 9), st.integers(1, 12)),
    st.tuples(st.just("void"), st.integers(0, 9), st.just(0)),
    st.tuples(st.just("line_discount"), st.integers(0, 9), st.integers(0, 3_000)),
    st.tuples(st.just("bill_discount"), st.sampled_from(["percent", "amount", "none"]),
              st.integers(0, 3_000)),
    st.tuples(st.just("tender"), st.sampled_from(["cash", "card"]), st.integers(1, 50_000)),
    st.tuples(st.just("untender"), st.integers(0, 3), st.just(0)),
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=25), by_manager=st.booleans(),
       complete=st.booleans())
# Always: a scan refused while paying (the cart with its tender is shown again), a
# tender removed, and the sale completed.
@example(steps=[("scan", 0, 0), ("add", 1, 2), ("tender", "card", 100), ("scan", 2, 0),
                ("untender", 0, 0), ("tender", "cash", 50_000)],
         by_manager=False, complete=True)
async def test_every_cart_step_shows_the_totals_of_a_full_repricing(
    cfg, db, till, steps, by_manager, complete
):
    users, codes, skus, loose, rule = till
    user, manager = users["manager" if by_manager else "cashier"], users["manager"]
    view = await cart.current_cart(db, cfg, "C1", user)
    if view.cart.lines:  # the previous example's cart
        for tender in view.cart.tenders:
            await payment.remove_tender(db, cfg, "C1", view.cart.id, tender.id)
        await cart.void_cart(db, cfg, "C1", view.cart.id, manager)
        view = await cart.current_cart(db, cfg, "C1", user)
    cart_id = view.cart.id
    assert shown(view) == await full_repricing(db, cfg, cart_id)

    async def run(kind, a, b, approver=None) -> CartView | None:
        lines = view.cart.lines
        if kind == "scan":
            return (await cart.add_scan(db, cfg, "C1", user, cart_id, codes[a],
                                        cfg.measure_rules))[0]
        if kind == "weigh":
            code = make_variable_barcode(rule, loose[a].barcodes[0][2:7], b)
            return (await cart.add_scan(db, cfg, "C1", user, cart_id, code, cfg.measure_rules))[0]
        if kind == "add":
            return (await cart.add_product(db, cfg, "C1", cart_id, skus[a].lower(), b))[0]
        if kind == "bill_discount":
            discount = None if a == "none" else Discount(a, b if a == "amount" else b * 3)
            return await discounts.set_bill_discount(db, cfg, "C1", cart_id, discount, user,
                                                     approver)
        if kind == "tender":
            amount = None if a == "cash" else b
            return await payment.add_tender(db, cfg, "C1", cart_id, a, amount,
                                            b if a == "cash" else None, f"R{b}")
        if kind == "untender":
            tenders = view.cart.tenders
            if not tenders:
                return None
            return await payment.remove_tender(db, cfg, "C1", cart_id,
                                               tenders[a % len(tenders)].id)
        if not lines:
            return None
        line = lines[a % len(lines)]
        if kind == "qty":
            return await cart.set_quantity(db, cfg, "C1", cart_id, line.id, b, user, approver)
        if kind == "void":
            return await cart.void_line(db, cfg, "C1", cart_id, line.id, user, approver)
        discount = Discount("percent" if b % 2 else "amount", b) if b else None
        return await discounts.set_line_discount(db, cfg, "C1", cart_id, line.id, discount,
                                                 user, approver)

    for kind, a, b in steps:
        try:
            try:
                after = await run(kind, a, b)
            except NeedsApproval:
                after = await run(kind, a, b, approver=manager)
        except (PosError, PricingError):
            after = None  # refused (a discount over the line, a weighed line's quantity…)
        if after is None:
            after = await cart.current_cart(db, cfg, "C1", user)
        assert after.cart.id == cart_id
        assert shown(after) == await full_repricing(db, cfg, cart_id), (kind, a, b)
        view = after

    if complete and view.cart.lines:
        totals, lines, _ = await full_repricing(db, cfg, cart_id)
        try:
            if view.remaining:
                await payment.add_tender(db, cfg, "C1", cart_id, "cash", None, view.remaining)
            sale = await payment.complete_sale(db, cfg, "C1", cart_id, f"prop-{cart_id}",
                                               manager)
        except PosError:
            return  # an unapproved discount, say: refused, and the cart stays as it was
        assert (sale.gross_minor, sale.discount_minor, sale.rounding_minor, sale.total_minor,
                sale.tax_minor) == (totals.gross, totals.discount, totals.rounding,
                                    totals.total, totals.tax)
        assert [(ln.product_id, ln.quantity, ln.net_minor, ln.tax_minor) for ln in sale.lines] \
            == [(p, q, totals.line(i).net, totals.line(i).tax) for i, p, q, *_ in lines]
        assert sum(t.amount_minor for t in sale.tenders) == totals.total
        again = await payment.get_sale(db, sale.id)
        assert again is not None and [ln.id for ln in again.lines] == [
            ln.id for ln in sale.lines]
        fresh = await cart.current_cart(db, cfg, "C1", user)
        assert fresh.cart.id != cart_id and not fresh.cart.lines and not fresh.cart.tenders
