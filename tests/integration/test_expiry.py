"""Expiry (issue #17) on real SQLite files and through the app: the expiry page lists
what is past its date (on top) and what expires in the next days by bin; "write off as
expired" takes that very batch out of the ledger once however often it is tapped;
"mark down" prints a price label the till's prefix-22 rule reads back at the lower
price, and refuses a price that is not lower; the till refuses a GS1 code whose
expiry has passed until a manager approves, and asks nothing of a plain barcode."""

from __future__ import annotations

import re
import secrets
from datetime import date, timedelta

import pytest
from sqlalchemy import event, select, update

from app.catalog.barcodes import gtin_check_digit, parse_scan
from app.catalog.csv_io import parse_catalog
from app.catalog.models import Product
from app.catalog.service import import_catalog
from app.core.auth import StaffUser
from app.core.clock import utcnow
from app.core.models import AuditLog
from app.pos import cart, shifts
from app.printing.models import PrintJob
from app.stock import expiry, service
from app.stock.expiry_rules import ExpiryError
from app.stock.models import StockLevel, StockMove
from tests.conftest import STAFF, csrf_of

HEADER = "sku,name,barcodes,price,gst_rate,hsn,unit,pack_size,category,active,reorder_level\n"
BINS = ("code,zone,aisle,shelf,pick_seq\nA-01-1,CHILL,A,1,10\nA-01-2,CHILL,A,2,20\n"
        "B-01-1,AMBIENT,B,1,30\n")


def ean(body12: str) -> str:
    return body12 + gtin_check_digit(body12)


MILK = ean("890100000201")
CURD = ean("890100000202")
MILK_LABEL = ean("221234500000")  # the price rule's code for milk: item 12345, value 0


def today(cfg) -> date:
    return utcnow().astimezone(cfg.tz).date()


def gs1(code13: str, expiry_on: date, batch: str = "L1") -> str:
    """A GS1 DataMatrix as a scanner sends it: ]d2, GTIN, expiry, batch."""
    return f"]d201{code13.zfill(14)}17{expiry_on:%y%m%d}10{batch}"


@pytest.fixture
async def stock(db, cfg) -> dict[str, Product]:
    rows = (f"MILK,Milk 500 ml,{MILK}|{MILK_LABEL},30,5,,piece,,Dairy,yes,5\n"
            f"CURD,Curd 400 g,{CURD},50,5,,piece,,Dairy,yes,5\n"
            "PANEER,Paneer loose,,400,5,,kg,,Dairy,yes,500\n")
    await import_catalog(db, parse_catalog(HEADER + rows, cfg.measure_rules))
    await service.load_bins_csv(db, BINS)
    async with db.write() as s:
        await s.execute(update(Product).values(tracks_expiry=True))
    async with db.read() as s:
        products = {p.sku: p for p in await s.scalars(select(Product))}
    day = today(cfg)
    for sku, bin_code, qty, batch, expiry_on in [
        ("MILK", "A-01-1", 6, "OLD", day - timedelta(days=2)),
        ("MILK", "A-01-1", 10, "SOON", day + timedelta(days=1)),
        ("MILK", "A-01-2", 8, "LATER", day + timedelta(days=30)),
        ("CURD", "B-01-1", 4, "C1", day + timedelta(days=5)),
        ("CURD", "A-01-2", 3, "C0", day),
        ("PANEER", "A-01-2", 2000, "P1", day + timedelta(days=2)),
    ]:
        await service.receive(db, product_id=products[sku].id, bin_code=bin_code, quantity=qty,
                              user_id=None, batch=batch, expiry=expiry_on)
    return products


@pytest.fixture
def users(staff) -> dict[str, StaffUser]:
    return {role: StaffUser(uid, STAFF[role][0], role) for role, uid in staff.items()}


def key() -> str:
    return secrets.token_urlsafe(18)


async def level(db, product: Product, batch: str) -> int:
    async with db.read() as s:
        return sum(r.on_hand for r in await s.scalars(select(StockLevel).where(
            StockLevel.product_id == product.id, StockLevel.batch == batch)))


# ---- the list ---------------------------------------------------------------------------


async def test_the_list_has_expired_batches_on_top_then_the_next_days_by_bin(db, cfg, stock):
    listed = await expiry.expiring(db, cfg, days=7, today=today(cfg))
    assert [(b.sku, b.batch, b.bin_code, b.days_left) for b in listed.expired] == [
        ("MILK", "OLD", "A-01-1", -2)]
    assert [(bin_code, [(b.sku, b.batch) for b in items]) for bin_code, items in listed.by_bin] == [
        ("A-01-2", [("CURD", "C0"), ("PANEER", "P1")]),  # expires today: the first bin
        ("A-01-1", [("MILK", "SOON")]),
        ("B-01-1", [("CURD", "C1")]),
    ]
    # Milk has a price-label code; curd has none; paneer is weighed.
    marks = {b.batch: b.can_mark_down for _bin, items in listed.by_bin for b in items}
    assert marks == {"C0": False, "P1": False, "SOON": True, "C1": False}
    fewer = await expiry.expiring(db, cfg, days=0, today=today(cfg))
    assert [b.batch for _bin, items in fewer.by_bin for b in items] == ["C0"]


# ---- write off ---------------------------------------------------------------------------


async def test_write_off_takes_that_batch_once_however_often_it_is_tapped(db, cfg, stock, users):
    milk, manager = stock["MILK"], users["manager"]
    listed = await expiry.expiring(db, cfg, days=7, today=today(cfg))
    old = listed.expired[0]
    tap = key()
    done = await expiry.write_off(db, product_id=milk.id, bin_id=old.bin_id, batch="OLD",
                                  key=tap, user=manager)
    assert (done.quantity, done.already) == (6, False)
    again = await expiry.write_off(db, product_id=milk.id, bin_id=old.bin_id, batch="OLD",
                                   key=tap, user=manager)
    assert (again.quantity, again.already) == (6, True)
    with pytest.raises(ExpiryError, match="nothing left of Milk 500 ml batch OLD"):
        await expiry.write_off(db, product_id=milk.id, bin_id=old.bin_id, batch="OLD",
                               key=key(), user=manager)  # a second tab: its own key
    async with db.read() as s:
        moves = list(await s.scalars(select(StockMove).where(StockMove.reason == "expired")))
        logged = list(await s.scalars(select(AuditLog).where(
            AuditLog.action == "expiry_write_off")))
    assert [(m.batch, m.delta, m.expiry) for m in moves] == [
        ("OLD", -6, today(cfg) - timedelta(days=2))]
    assert len(logged) == 1 and "batch OLD" in logged[0].detail
    assert logged[0].user_id == manager.id
    assert await level(db, milk, "OLD") == 0 and await level(db, milk, "SOON") == 10
    after = await expiry.expiring(db, cfg, days=7, today=today(cfg))
    assert not after.expired


@pytest.mark.parametrize("field, value", [
    ("batch", "X" * 100_000), ("batch", "OLD\x00"), ("batch", ""), ("product_id", "1; drop"),
    ("bin_id", "ü" * 40), ("key", "short"), ("key", "k" * 65), ("batch", "NOPE")])
async def test_hostile_write_off_forms_change_nothing(db, cfg, stock, users, field, value):
    listed = await expiry.expiring(db, cfg, days=7, today=today(cfg))
    old = listed.expired[0]
    form = {"product_id": old.product_id, "bin_id": old.bin_id, "batch": "OLD", "key": key()}
    form[field] = value
    with pytest.raises(ExpiryError):
        await expiry.write_off(db, **form, user=users["manager"])
    assert await level(db, stock["MILK"], "OLD") == 6


# ---- mark down ---------------------------------------------------------------------------


async def test_a_mark_down_label_reads_back_at_the_till_at_the_lower_price(db, cfg, stock, users):
    milk = stock["MILK"]
    soon = next(b for _bin, items in (await expiry.expiring(db, cfg, days=7, today=today(cfg)))
                .by_bin for b in items if b.batch == "SOON")
    sent: list[expiry.MarkdownLabel] = []

    def print_labels(s, label) -> int:
        from app.printing import service as printing

        sent.append(label)
        return len(printing.print_document(s, cfg, "price_label", label=label))

    tap = key()
    done = await expiry.mark_down(db, cfg, product_id=milk.id, bin_id=soon.bin_id, batch="SOON",
                                  price="18.50", labels="3", key=tap, user=users["manager"],
                                  print_labels=print_labels)
    assert done.label is not None and done.jobs == 1 and not done.already
    scan = parse_scan(done.label.barcode, cfg.measure_rules)
    assert done.label.barcode.startswith("22")
    assert (scan.lookup_code, scan.price_minor) == (MILK_LABEL, 1850)
    again = await expiry.mark_down(db, cfg, product_id=milk.id, bin_id=soon.bin_id,
                                   batch="SOON", price="18.50", labels="3", key=tap,
                                   user=users["manager"], print_labels=print_labels)
    assert again.already and len(sent) == 1  # the double tap printed nothing more
    async with db.read() as s:
        jobs = list(await s.scalars(select(PrintJob).where(PrintJob.document == "price_label")))
        logged = list(await s.scalars(select(AuditLog).where(
            AuditLog.action == "expiry_mark_down")))
    assert len(jobs) == 1 and jobs[0].layout.count(done.label.barcode) == 3
    assert len(logged) == 1 and "₹30.00 -> ₹18.50" in logged[0].detail
    # The till sells it at the label's price.
    cashier = users["cashier"]
    await shifts.open_shift(db, cfg, "C1", cashier, 100_000)
    view = await cart.current_cart(db, cfg, "C1", cashier)
    view, line = await cart.add_scan(db, cfg, "C1", cashier, view.cart.id, done.label.barcode,
                                     cfg.measure_rules)
    assert view.products[line.product_id].sku == "MILK"
    assert view.totals.line(line.id).gross == 1850


@pytest.mark.parametrize("price, labels, refused", [
    ("30.00", "1", "not lower than today's ₹30.00"),
    ("45", "1", "not lower"),
    ("0", "1", "more than zero"),
    ("nan", "1", "not an amount"),
    ("inf", "1", "not an amount"),
    ("1e3", "1", "not an amount"),
    ("-5", "1", "cannot be negative"),
    ("9" * 30, "1", "is more than"),
    ("10", "0", "labels must be"),
    ("10", "11", "labels must be a whole number from 1 to 10"),
    ("10", "2**63", "labels must be"),
])
async def test_a_mark_down_not_lower_or_not_a_price_is_refused(db, cfg, stock, users, price,
                                                               labels, refused):
    milk = stock["MILK"]
    soon = next(b for _bin, items in (await expiry.expiring(db, cfg, days=7, today=today(cfg)))
                .by_bin for b in items if b.batch == "SOON")
    with pytest.raises(ExpiryError, match=re.escape(refused)):
        await expiry.mark_down(db, cfg, product_id=milk.id, bin_id=soon.bin_id, batch="SOON",
                               price=price, labels=labels, key=key(), user=users["manager"],
                               print_labels=lambda s, label: pytest.fail("printed"))
    async with db.read() as s:
        assert await s.scalar(select(AuditLog).where(
            AuditLog.action == "expiry_mark_down")) is None


async def test_a_product_without_a_label_code_or_sold_by_weight_cannot_be_marked_down(
        db, cfg, stock, users):
    listed = await expiry.expiring(db, cfg, days=7, today=today(cfg))
    by_batch = {b.batch: b for _bin, items in listed.by_bin for b in items}
    for batch, refused in (("C1", "no price-label code starting 22"), ("P1", "sold by kg")):
        b = by_batch[batch]
        with pytest.raises(ExpiryError, match=refused):
            await expiry.mark_down(db, cfg, product_id=b.product_id, bin_id=b.bin_id,
                                   batch=batch, price="1", labels="1", key=key(),
                                   user=users["manager"], print_labels=lambda s, label: 1)


# ---- the page ----------------------------------------------------------------------------


async def test_the_expiry_page_writes_off_and_marks_down(client, login_as, db, cfg, stock):
    await login_as("manager")
    page = await client.get("/stock/expiry")
    assert page.status_code == 200 and 'href="/stock/expiry"' in page.text  # in the menu
    html = page.text
    assert html.index('data-testid="expired"') < html.index("Bin A-01-2")
    form = dict(re.findall(r'name="(product_id|bin_id|batch|days|key)" value="([^"]*)"',
                           html.split('action="/stock/expiry/write-off"')[1])[:5])
    assert form["batch"] == "OLD"
    body = {**form, "_csrf_token": csrf_of(client)}
    done = await client.post("/stock/expiry/write-off", data=body)
    assert done.status_code == 200 and "Written off as expired: 6 × Milk 500 ml" in done.text
    twice = await client.post("/stock/expiry/write-off", data=body)
    assert "Already written off" in twice.text
    assert await level(db, stock["MILK"], "OLD") == 0
    mark = html.split('action="/stock/expiry/mark-down"')[1]
    fields = dict(re.findall(r'name="(product_id|bin_id|batch|days|key)" value="([^"]*)"',
                             mark)[:5])
    refused = await client.post("/stock/expiry/mark-down", data={
        **fields, "price": "31", "labels": "1", "_csrf_token": csrf_of(client)})
    assert refused.status_code == 400 and "not lower" in refused.text
    printed = await client.post("/stock/expiry/mark-down", data={
        **fields, "price": "20", "labels": "2", "_csrf_token": csrf_of(client)})
    assert printed.status_code == 200 and "2 labels for Milk 500 ml at ₹20.00" in printed.text
    for days in ("9" * 50, "-1", "1e3", "91", "NaN"):
        bad_days = await client.get(f"/stock/expiry?days={days}")
        assert bad_days.status_code == 400 and "days ahead must be" in bad_days.text


async def test_only_managers_open_the_expiry_page(client, login_as, stock):
    await login_as("cashier")
    assert (await client.get("/stock/expiry")).status_code in (401, 403)
    response = await client.post("/stock/expiry/write-off", data={
        "_csrf_token": csrf_of(client)})
    assert response.status_code in (401, 403)


# ---- the till ----------------------------------------------------------------------------


async def test_the_till_refuses_an_expired_gs1_scan_until_a_manager_approves(db, cfg, stock,
                                                                             users):
    cashier, manager = users["cashier"], users["manager"]
    await shifts.open_shift(db, cfg, "C1", cashier, 100_000)
    view = await cart.current_cart(db, cfg, "C1", cashier)
    expired_code = gs1(MILK, today(cfg) - timedelta(days=1))
    with pytest.raises(cart.ExpiredScan, match="expired on") as refused:
        await cart.add_scan(db, cfg, "C1", cashier, view.cart.id, expired_code,
                            cfg.measure_rules, request_id="scan-1")
    assert "Milk 500 ml" in refused.value.what
    assert not (await cart.current_cart(db, cfg, "C1", cashier)).cart.lines
    view, line = await cart.add_scan(db, cfg, "C1", cashier, view.cart.id, expired_code,
                                     cfg.measure_rules, request_id="scan-1", approver=manager)
    assert line.quantity == 1
    async with db.read() as s:
        (logged,) = await s.scalars(select(AuditLog).where(AuditLog.action == "sell_expired"))
    assert logged.approver_id == manager.id and logged.user_id == cashier.id
    # Its date today, a later date, or a plain barcode: added without a question. Scans
    # of one batch (L1) share a line; the plain one, which names none, has its own.
    for code in (gs1(CURD, today(cfg)), gs1(CURD, today(cfg) + timedelta(days=3)), CURD):
        view, line = await cart.add_scan(db, cfg, "C1", cashier, view.cart.id, code,
                                         cfg.measure_rules)
    assert [ln.quantity for ln in view.cart.lines] == [1, 2, 1]


async def test_a_manager_at_the_till_still_confirms_with_a_pin(db, cfg, stock, users):
    manager = users["manager"]
    await shifts.open_shift(db, cfg, "C1", manager, 100_000)
    view = await cart.current_cart(db, cfg, "C1", manager)
    with pytest.raises(cart.ExpiredScan):
        await cart.add_scan(db, cfg, "C1", manager, view.cart.id,
                            gs1(MILK, today(cfg) - timedelta(days=400)), cfg.measure_rules)


async def test_a_gs1_scan_asks_the_database_no_more_than_a_plain_one(db, cfg, stock, users):
    """The expiry check is a date comparison: a dated GS1 scan runs the same SQLAlchemy
    statements and ORM sessions as a plain barcode (test_till_hot_paths counts those)."""
    from sqlalchemy import orm

    cashier = users["cashier"]
    await shifts.open_shift(db, cfg, "C1", cashier, 100_000)
    cart_id = (await cart.current_cart(db, cfg, "C1", cashier)).cart.id
    seen: list[str] = []

    def on_execute(_conn, _cursor, statement: str, *_args) -> None:
        seen.append(statement.split()[0])

    def on_begin(*_args) -> None:
        seen.append("session")

    per_scan = []
    event.listen(db.write_engine, "before_cursor_execute", on_execute)
    event.listen(orm.Session, "after_begin", on_begin)
    try:
        for code in (MILK, CURD, gs1(CURD, today(cfg) + timedelta(days=3))):
            seen.clear()
            await cart.add_scan(db, cfg, "C1", cashier, cart_id, code, cfg.measure_rules)
            per_scan.append(list(seen))
    finally:
        event.remove(db.write_engine, "before_cursor_execute", on_execute)
        event.remove(orm.Session, "after_begin", on_begin)
    assert per_scan[2] == per_scan[1]  # CURD merged into its line both times
    assert "SELECT" not in per_scan[2]


async def test_the_till_page_asks_for_a_managers_pin_on_an_expired_scan(client, login_as, db,
                                                                         cfg, stock, staff):
    await login_as("cashier")
    hx = {"HX-Request": "true", "x-csrftoken": csrf_of(client)}
    await client.post("/pos/shift/open", data={"counter": "C1", "float": "500"}, headers=hx)
    cart_id = re.search(r'id="cart-id" name="cart_id" value="([^"]+)"',
                        (await client.get("/pos")).text).group(1)
    code = gs1(MILK, today(cfg) - timedelta(days=1))
    form = {"code": code, "cart_id": cart_id, "request_id": "r-expired-1"}
    asked = await client.post("/pos/scan", data=form, headers=hx)
    assert 'data-testid="approval"' in asked.text and "expired on" in asked.text
    assert "Sell Milk 500 ml, expired on" in asked.text
    wrong = await client.post("/pos/scan", headers=hx, data={
        **form, "approver_id": staff["manager"], "approver_pin": "0000"})
    assert 'data-testid="approval"' in wrong.text
    async with db.read() as s:
        assert await s.scalar(select(AuditLog).where(AuditLog.action == "sell_expired")) is None
    approved = await client.post("/pos/scan", headers=hx, data={
        **form, "approver_id": staff["manager"], "approver_pin": STAFF["manager"][1]})
    assert "Added Milk 500 ml" in approved.text


async def test_the_page_looks_as_far_ahead_as_the_store_setting_says(tmp_path, migrated_template):
    """stock.expiry_days_ahead = 30: the page looks 30 days ahead until the manager types."""
    import shutil

    from litestar.testing import AsyncTestClient

    from app.core.auth import create_user
    from app.core.db import Database
    from app.core.secret_file import attach_pepper
    from app.server import create_store_app
    from tests.conftest import login, make_config

    cfg = make_config(tmp_path, **{
        "[picking]": "[stock]\nexpiry_days_ahead = 30\n\n[picking]"})
    shutil.copy(migrated_template, cfg.database_path)
    assert cfg.stock.expiry_days_ahead == 30
    db = attach_pepper(Database(cfg.database_path), cfg.data_dir)
    try:
        manager = await create_user(db, *STAFF["manager"][:1], "manager", STAFF["manager"][1])
    finally:
        await db.dispose()
    async with AsyncTestClient(app=create_store_app(cfg)) as client:
        await login(client, manager.id, STAFF["manager"][1])
        html = (await client.get("/stock/expiry")).text
    assert 'name="days" value="30"' in html and "in the next 30 days" in html



async def test_the_expired_item_a_manager_lets_through_leaves_its_own_batch(db, cfg, stock,
                                                                            users):
    """FEFO never picks an expired batch, but the scanned item is from one: the sale
    takes it from the batch its code names (OLD), not from fresh stock, so a later
    write-off of OLD removes what is really left on the shelf. The rest of a line (more
    than the batch holds) goes FEFO as usual."""
    from app.pos import payment
    from app.stock.models import StockMove

    cashier, manager = users["cashier"], users["manager"]
    await shifts.open_shift(db, cfg, "C1", cashier, 100_000)
    view = await cart.current_cart(db, cfg, "C1", cashier)
    old = gs1(MILK, today(cfg) - timedelta(days=2), batch="OLD")
    for _ in range(2):
        view, line = await cart.add_scan(db, cfg, "C1", cashier, view.cart.id, old,
                                         cfg.measure_rules, approver=manager)
    view, _line = await cart.add_scan(db, cfg, "C1", cashier, view.cart.id, MILK,
                                      cfg.measure_rules)
    assert [ln.quantity for ln in view.cart.lines] == [2, 1]  # OLD's line, the plain one
    await payment.add_tender(db, cfg, "C1", view.cart.id, "cash", None, given_minor=100_000)
    sale = await payment.complete_sale(db, cfg, "C1", view.cart.id, "key-old-milk", cashier)
    async with db.read() as s:
        taken = sorted((m.batch, m.delta) for m in await s.scalars(select(StockMove).where(
            StockMove.reason == "sale", StockMove.reference == sale.number)))
    assert taken == [("OLD", -2), ("SOON", -1)]
