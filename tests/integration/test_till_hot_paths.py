"""A whole sale at the till loads no ORM object (issue #15): the till page (its shift and
quick keys), scans, quantity changes, line and bill discounts, the customer's phone, a
removed line, the pay panel, tenders taken and removed, completing the sale and the next
sale's empty cart all read plain rows. Loading ORM objects (the cart with its lines
and tenders, every product, the shift) was most of a till request's CPU. Real services
on a real SQLite file; the totals themselves are checked by test_cart_totals_property.py."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event, orm, select

from app.catalog.csv_io import parse_catalog
from app.catalog.service import import_catalog
from app.core.auth import StaffUser
from app.core.db import Base
from app.core.prepared import Prepared
from app.pos import cart, discounts, payment, shifts
from app.pos.models import Cart, Sale
from app.pos.pricing import Discount
from tests.conftest import STAFF

CATALOG_CSV = (Path(__file__).resolve().parents[2] / "store_config" / "demo_catalog.csv").read_text()


async def test_a_sale_loads_no_orm_object(cfg, db, staff):
    parsed = parse_catalog(CATALOG_CSV, cfg.measure_rules)
    await import_catalog(db, parsed)
    cashier = StaffUser(staff["cashier"], STAFF["cashier"][0], "cashier")
    await shifts.open_shift(db, cfg, "C1", cashier, 100_000)
    codes = [r.barcodes[0] for r in parsed.rows if r.unit == "piece" and r.active][:3]
    loaded: list[str] = []

    def on_load(target, _context) -> None:
        loaded.append(type(target).__name__)

    event.listen(Base, "load", on_load, propagate=True)
    try:
        view = await cart.current_cart(db, cfg, "C1", cashier)  # makes the first cart
        cart_id = view.cart.id
        for code in [*codes, codes[0]]:  # the last one merges into its line
            await cart.add_scan(db, cfg, "C1", cashier, cart_id, code, cfg.measure_rules)
        view = await cart.current_cart(db, cfg, "C1", cashier)  # the pay panel's read
        assert [line.quantity for line in view.cart.lines] == [2, 1, 1]
        first, second, third = (line.id for line in view.cart.lines)
        await cart.set_quantity(db, cfg, "C1", cart_id, first, 3, cashier)
        await cart.set_quantity(db, cfg, "C1", cart_id, first, 2, cashier)  # a partial void
        await discounts.set_line_discount(db, cfg, "C1", cart_id, second,
                                          Discount("percent", 500), cashier)
        await discounts.set_bill_discount(db, cfg, "C1", cart_id, Discount("amount", 100),
                                          cashier)
        await cart.set_customer_phone(db, cfg, "C1", cart_id, "9876543210")
        view = await cart.void_line(db, cfg, "C1", cart_id, third, cashier)
        assert [line.quantity for line in view.cart.lines] == [2, 1]
        assert view.cart.lines[1].discount_kind == "percent"
        assert view.cart.bill_discount_value == 100 and view.cart.customer_phone == "9876543210"
        view = await payment.add_tender(db, cfg, "C1", cart_id, "card", 100, None, "A1")
        view = await payment.remove_tender(db, cfg, "C1", cart_id, view.cart.tenders[0].id)
        assert not view.cart.tenders
        view = await payment.add_tender(db, cfg, "C1", cart_id, "cash", None,
                                        view.remaining + 5_000)
        sale = await payment.complete_sale(db, cfg, "C1", cart_id, "hot-path-key-1", cashier)
        assert sale.total_minor == view.totals.total and sale.change_minor == 5_000
        assert len(sale.lines) == 2 and len(sale.tenders) == 1
        assert sale.customer_phone == "9876543210" and sale.discount_minor > 100
        after = await cart.current_cart(db, cfg, "C1", cashier)  # "New sale"
        assert after.cart.id != cart_id and not after.cart.lines
        shift, quick = await shifts.shift_and_quick_keys(db, cfg, "C1")  # the till page
        assert shift is not None and shift.number == "S1-SH0001"
        assert [p.sku for p in quick] == [k.upper() for k in cfg.pos.quick_keys]
    finally:
        event.remove(Base, "load", on_load)
    assert loaded == []
    # A repeat of the same key returns the stored sale (read with the ORM: a rare path).
    again = await payment.complete_sale(db, cfg, "C1", cart_id, "hot-path-key-1", cashier)
    assert isinstance(again, Sale) and again.id == sale.id
    assert [ln.id for ln in again.lines] == [ln.id for ln in sale.lines]


async def test_a_plain_bill_makes_no_orm_session(cfg, db, staff):
    """The bill bench/pos.py rings up (the till page, scans, the pay panel, cash, complete,
    the next sale) makes no ORM Session in any of its transactions: core/db.Tx makes one
    only when a service uses the ORM, and the Session with SQLAlchemy's connection and
    transaction around the sqlite3 one cost more CPU than a scan's statements (issue
    #15). Completing makes none either: its bins are one prepared read
    (stock.service.bins_for_sale), its receipt's print job a prepared insert
    (printing.service.enqueue) and the Sale it returns is built without the ORM's
    constructor (core/db.written). Only the store's very first sale, in a store with no
    bin yet, makes one: it creates the store's first bin (stock.service._first_bin)."""
    parsed = parse_catalog(CATALOG_CSV, cfg.measure_rules)
    await import_catalog(db, parsed)
    cashier = StaffUser(staff["cashier"], STAFF["cashier"][0], "cashier")
    await shifts.open_shift(db, cfg, "C1", cashier, 100_000)
    codes = [r.barcodes[0] for r in parsed.rows if r.unit == "piece" and r.active][:4]
    step = ["start"]
    sessions: list[str] = []

    def on_begin(_session, _transaction, _connection) -> None:
        sessions.append(step[0])

    event.listen(orm.Session, "after_begin", on_begin)
    try:
        for bill in range(2):
            step[0] = "till page"
            await shifts.shift_and_quick_keys(db, cfg, "C1")
            view = await cart.current_cart(db, cfg, "C1", cashier)
            step[0] = "scan"
            for code in [*codes, codes[0]]:
                view, _line = await cart.add_scan(db, cfg, "C1", cashier, view.cart.id, code,
                                                  cfg.measure_rules)
            step[0] = "pay panel"
            view = await cart.current_cart(db, cfg, "C1", cashier)
            step[0] = "tender"
            view = await payment.add_tender(db, cfg, "C1", view.cart.id, "cash", None,
                                            view.remaining)
            step[0] = f"complete {bill}"
            await payment.complete_sale(db, cfg, "C1", view.cart.id, f"plain-bill-{bill}", cashier)
    finally:
        event.remove(orm.Session, "after_begin", on_begin)
    assert sessions == ["complete 0"]


async def test_a_prepared_read_sees_what_the_orm_session_holds_pending(cfg, db, staff):
    """A prepared statement runs on the transaction's sqlite3 connection, bypassing the
    ORM session: what the session holds pending is flushed first, as autoflush would."""
    from sqlalchemy import bindparam, select

    from app.pos.models import Shift

    by_counter = Prepared(select(Shift.__table__.c.number)
                          .where(Shift.__table__.c.counter == bindparam("counter")))
    cashier = StaffUser(staff["cashier"], STAFF["cashier"][0], "cashier")
    async with db.write() as s:
        from app.core.clock import utcnow
        from app.core.ids import uuid7

        s.add(Shift(id=uuid7(), number="C9-0001", counter="C9", opened_by=cashier.id,
                    opened_at=utcnow(), float_minor=0))
        assert [r.number for r in await by_counter.all(s, {"counter": "C9"})] == ["C9-0001"]


async def test_a_scan_runs_its_statements_prepared(cfg, db, staff):
    """Every statement of a scan (product, cart, lines, the new line, the cart's version,
    parked bills) is a Prepared one on the transaction's sqlite3 connection, and so is
    the write transaction's BEGIN IMMEDIATE and COMMIT (core/db.Database.write):
    SQLAlchemy's own execution (~60 us each) sees nothing."""
    parsed = parse_catalog(CATALOG_CSV, cfg.measure_rules)
    await import_catalog(db, parsed)
    cashier = StaffUser(staff["cashier"], STAFF["cashier"][0], "cashier")
    await shifts.open_shift(db, cfg, "C1", cashier, 100_000)
    code = next(r.barcodes[0] for r in parsed.rows if r.unit == "piece" and r.active)
    cart_id = (await cart.current_cart(db, cfg, "C1", cashier)).cart.id
    seen: list[str] = []

    def on_execute(_conn, _cursor, statement: str, *_args) -> None:
        seen.append(statement.split()[0])

    event.listen(db.write_engine, "before_cursor_execute", on_execute)
    try:
        for _ in range(2):  # a new line, then the same code merged into it
            view, _line = await cart.add_scan(db, cfg, "C1", cashier, cart_id, code,
                                              cfg.measure_rules)
    finally:
        event.remove(db.write_engine, "before_cursor_execute", on_execute)
    assert [line.quantity for line in view.cart.lines] == [2]
    assert seen == []


def test_pages_are_not_checked_on_disk_on_every_render(cfg, monkeypatch):
    """Jinja's auto_reload stats every template and include per render (issue #15); a
    shipped server has it off, someone editing pages turns it on by the environment."""
    from app.server import create_store_app

    def engine_of(app):
        return app.template_engine.engine

    monkeypatch.delenv("KIRANA_RELOAD_TEMPLATES", raising=False)
    assert engine_of(create_store_app(cfg)).auto_reload is False
    monkeypatch.setenv("KIRANA_RELOAD_TEMPLATES", "1")
    assert engine_of(create_store_app(cfg)).auto_reload is True


async def test_a_print_job_written_by_a_prepared_insert_is_the_row_the_orm_wrote(cfg, db):
    """printing.enqueue in a store transaction inserts on sqlite3 (issue #15): the job it
    returns carries the row's seq (in queue order), and the row reads back through the
    ORM with every field as given, defaults included; inside a transaction whose ORM
    session holds a pending job, that one is written first (seq order kept)."""
    from sqlalchemy import select

    from app.printing import service as printing
    from app.printing.models import PrintJob

    hostile = "x\x00" + "é" * 50_000
    async with db.write() as s:
        first = printing.enqueue(s, "front", "receipt", "LAYOUT 1", ref="r1", title=hostile)
        s.add(PrintJob(id="orm-job", printer="front", document="test", layout="ORM",
                       created_at=first.created_at))
        second = printing.enqueue(s, "front", "receipt", hostile, duplicate=True)
    assert second.seq > first.seq
    async with db.read() as s:
        rows = list(await s.scalars(select(PrintJob).order_by(PrintJob.seq)))
    assert [r.id for r in rows] == [first.id, "orm-job", second.id]
    got = rows[0]
    assert (got.seq, got.printer, got.document, got.ref, got.title, got.layout) == (
        first.seq, "front", "receipt", "r1", hostile[:80], "LAYOUT 1")
    assert (got.duplicate, got.status, got.attempts, got.last_error, got.sent_at) == (
        False, "queued", 0, "", None)
    assert got.created_at == first.created_at
    assert rows[2].layout == hostile and rows[2].duplicate is True
    assert (first.status, first.attempts, first.sent_at) == ("queued", 0, None)


async def test_kept_cart_lines_draw_what_a_fresh_drawing_draws(cfg, db, staff, monkeypatch):
    """The cart fragment keeps each line's markup for the values it shows (issue #15,
    till_web.cart_line): after every step of a bill (scans, a quantity change, line
    discounts, the latest line moving, a removed line, a product whose name needs
    escaping) the fragment is exactly what drawing every line afresh gives."""
    from markupsafe import Markup

    from app.pos.receipts import quantity_and_rate
    from app.pos.till_web import cart_line
    from app.server import create_store_app

    monkeypatch.delenv("KIRANA_RELOAD_TEMPLATES", raising=False)
    kept_env = create_store_app(cfg).template_engine.engine
    monkeypatch.setenv("KIRANA_RELOAD_TEMPLATES", "1")
    fresh_env = create_store_app(cfg).template_engine.engine
    assert not kept_env.auto_reload and fresh_env.auto_reload
    parsed = parse_catalog(CATALOG_CSV, cfg.measure_rules)
    await import_catalog(db, parsed)
    cashier = StaffUser(staff["cashier"], STAFF["cashier"][0], "cashier")
    await shifts.open_shift(db, cfg, "C1", cashier, 100_000)
    codes = [r.barcodes[0] for r in parsed.rows if r.unit == "piece" and r.active][:4]

    class _Request:
        scope: dict = {"state": {}}

    def draw(env, view, latest: str) -> str:
        return env.get_template("pos/_cart.html").render(
            view=view, message="", kind="ok", suggestions=[], pay_key="k", oob_summary=True,
            latest=latest, pos=cfg.pos, store=cfg.store, qty_rate=quantity_and_rate,
            cart_line=cart_line, request=_Request(), csrf_input="", csrf_token="")

    seen: list[str] = []

    def same(view, latest: str = "") -> None:
        kept = draw(kept_env, view, latest)
        assert kept == draw(kept_env, view, latest) == draw(fresh_env, view, latest)
        seen.append(kept)

    view = await cart.current_cart(db, cfg, "C1", cashier)
    cart_id = view.cart.id
    for code in [*codes, codes[0]]:
        view, line = await cart.add_scan(db, cfg, "C1", cashier, cart_id, code,
                                         cfg.measure_rules)
        same(view, line.id)
    first, second, third, _fourth = (ln.id for ln in view.cart.lines)
    view = await cart.set_quantity(db, cfg, "C1", cart_id, first, 5, cashier)
    same(view, first)
    view = await discounts.set_line_discount(db, cfg, "C1", cart_id, second,
                                             Discount("percent", 750), cashier)
    same(view)
    view = await discounts.set_line_discount(db, cfg, "C1", cart_id, third,
                                             Discount("amount", 25), cashier)
    same(view)
    view = await cart.void_line(db, cfg, "C1", cart_id, third, cashier)
    same(view)
    assert len(set(seen)) == len(seen)  # every step showed something new
    # A name that needs escaping comes out escaped, kept or not.
    product = view.products[view.cart.lines[0].product_id]
    hostile = type("P", (), {"name": "<script>x</script>\x00", "unit": product.unit,
                             "price_minor": product.price_minor})()
    context = kept_env.get_template("pos/_cart.html").new_context({})
    for _ in range(2):
        drawn = cart_line(context, cart_id, view.cart.lines[0], hostile,
                          view.totals.line(view.cart.lines[0].id), False)
        assert isinstance(drawn, Markup) and "<script>" not in drawn
        assert "&lt;script&gt;x&lt;/script&gt;" in drawn


async def test_the_next_sale_after_complete_is_read_not_written(cfg, db, staff, monkeypatch):
    """Complete makes the counter's next, empty cart in the sale's own transaction (issue
    #15), so the "New sale" page (or the receipt shown in the till) only reads: no write
    transaction, no commit of its own. A repeat of Complete (same key) makes no other."""
    parsed = parse_catalog(CATALOG_CSV, cfg.measure_rules)
    await import_catalog(db, parsed)
    cashier = StaffUser(staff["cashier"], STAFF["cashier"][0], "cashier")
    await shifts.open_shift(db, cfg, "C1", cashier, 100_000)
    code = next(r.barcodes[0] for r in parsed.rows if r.unit == "piece" and r.active)
    view = await cart.current_cart(db, cfg, "C1", cashier)
    view, _line = await cart.add_scan(db, cfg, "C1", cashier, view.cart.id, code,
                                      cfg.measure_rules)
    paid_id = view.cart.id
    view = await payment.add_tender(db, cfg, "C1", paid_id, "cash", None, view.remaining)
    sale = await payment.complete_sale(db, cfg, "C1", paid_id, "next-sale-key-1", cashier)
    writes: list[str] = []
    real_write = db.write

    def counted_write():
        writes.append("write")
        return real_write()

    monkeypatch.setattr(db, "write", counted_write)
    after = await cart.current_cart(db, cfg, "C1", cashier)
    assert writes == []
    assert after.cart.id != paid_id and not after.cart.lines and after.cart.status == "active"
    monkeypatch.setattr(db, "write", real_write)
    again = await payment.complete_sale(db, cfg, "C1", paid_id, "next-sale-key-1", cashier)
    assert again.id == sale.id
    async with db.read() as s:
        active = (await s.execute(select(Cart.id).where(Cart.counter == "C1",
                                                        Cart.status == "active"))).all()
    assert [r.id for r in active] == [after.cart.id]
    # The next bill goes on that cart.
    view, _line = await cart.add_scan(db, cfg, "C1", cashier, after.cart.id, code,
                                      cfg.measure_rules)
    assert view.cart.id == after.cart.id and len(view.cart.lines) == 1
