"""The rider desk on a busy evening: each bag label's QR hands over that bag only, the
order's code hands over the rest after a confirmation, and staff find an order by its
number or the customer's phone. The bag codes are read from the printed labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from app.catalog.csv_io import parse_catalog
from app.catalog.service import get_by_sku, import_catalog
from app.core.auth import StaffUser
from app.orders import service as orders
from app.orders.models import Order
from app.picking import service
from app.printing.models import PrintJob
from app.printing.worker import render_job
from app.stock.service import load_bins_csv, receive, total_on_hand
from tests.conftest import STAFF, csrf_of, login
from tests.unit.test_escpos_render import rasters

ROOT = Path(__file__).resolve().parents[2]


def hx(client):
    return {"HX-Request": "true", "x-csrftoken": csrf_of(client)}


@pytest.fixture
async def rows(db, cfg):
    parsed = parse_catalog((ROOT / "store_config" / "demo_catalog.csv").read_text(),
                           cfg.measure_rules)
    await import_catalog(db, parsed)
    await load_bins_csv(db, (ROOT / "store_config" / "demo_bins.csv").read_text())
    picked = [r for r in parsed.rows if r.unit == "piece" and r.active and r.barcodes][:2]
    for row, bin_code in zip(picked, ("A-01-1", "B-03-2"), strict=True):
        product = await get_by_sku(db, row.sku)
        await receive(db, product_id=product.id, bin_code=bin_code, quantity=50, user_id=None)
    return picked


async def ready_order(db, cfg, staff, rows, ref: str, *, bags: int = 3,
                      phone: str = "9876543210", cod: int = 0) -> Order:
    """An order taken through picking and packing with `bags` labels printed."""
    picker = StaffUser(staff["picker"], STAFF["picker"][0], "picker")
    incoming = orders.OrderIn(
        channel="app", external_id=ref, customer_name="Priya Sharma", customer_phone=phone,
        address="HSR Layout", pincode="560102",
        promised_by=datetime.now(UTC) + timedelta(minutes=20),
        lines=tuple(orders.LineIn(r.sku, 1) for r in rows),
        payment="cod" if cod else "prepaid", cod_amount_minor=cod)
    order = (await orders.receive_order(db, cfg, incoming, "test")).order
    batch = await service.claim_batch(db, cfg, picker)
    by_sku = {r.sku: r for r in rows}
    for task in batch.tasks:
        await service.confirm_scan(db, picker, task.id, by_sku[task.sku].barcodes[0],
                                   cfg.measure_rules)
    for r in rows:
        await service.pack_scan(db, order.id, r.barcodes[0], cfg.measure_rules)
    return await service.pack(db, cfg, picker, order.id, bags)


async def printed_bag_codes(db, cfg, order: Order) -> list[str]:
    """The payload of each printed bag label's QR, decoded from the ESC/POS bytes."""
    zbar = pytest.importorskip("pyzbar.pyzbar", reason="pyzbar and Debian's libzbar0")
    printer = next(p for p in cfg.printers if "bag_label" in p.documents)
    async with db.read() as s:
        jobs = list(await s.scalars(select(PrintJob).where(
            PrintJob.ref == order.id, PrintJob.document == "bag_label")))
    codes = []
    for job in sorted(jobs, key=lambda j: j.title):
        decoded = []
        for img in rasters(render_job(printer, job.layout)):
            big = img.convert("L").resize((img.width * 2, img.height * 2), Image.NEAREST)
            canvas = Image.new("L", (big.width + 80, big.height + 80), 255)
            canvas.paste(big, (40, 40))
            decoded += [d.data.decode() for d in zbar.decode(canvas) if d.type == "QRCODE"]
        assert len(decoded) == 1, job.title
        codes.append(decoded[0])
    return codes


async def scan(client, code: str, confirm: str = "") -> str:
    data = {"code": code} | ({"confirm": confirm} if confirm else {})
    r = await client.post("/handover/scan", data=data, headers=hx(client))
    assert r.status_code == 200
    return r.text


async def state_of(db, order: Order) -> tuple[str, str]:
    async with db.read() as s:
        o = await s.get(Order, order.id)
        return o.state, o.bags_handed


async def test_each_bag_label_hands_over_that_bag_only(client, db, cfg, staff, rows):
    order = await ready_order(db, cfg, staff, rows, "BAG-1", bags=3, cod=25000)
    codes = await printed_bag_codes(db, cfg, order)
    assert len(codes) == 3 and len(set(codes)) == 3, codes
    async with db.read() as s:
        layouts = [j.layout for j in await s.scalars(select(PrintJob).where(
            PrintJob.ref == order.id, PrintJob.document == "bag_label"))]
    assert not any(order.handover_code in text for text in layouts + codes), \
        "a bag label must not carry the order's code"
    assert all(any(c in text for text in layouts) for c in codes)  # printed under the QR
    product = await get_by_sku(db, rows[0].sku)
    before = await total_on_hand(db, product.id)

    await login(client, staff["picker"], STAFF["picker"][1])
    html = await scan(client, codes[0])
    assert "Bag 1 of 3" in html and "2 more bags to scan" in html
    assert await state_of(db, order) == ("ready", "1")
    assert await total_on_hand(db, product.id) == before
    # The same bag again: said plainly, nothing changes.
    html = await scan(client, codes[0])
    assert "already handed over" in html and "2 more bags to scan" in html
    assert await state_of(db, order) == ("ready", "1")
    html = await scan(client, codes[2])
    assert "1 more bag to scan" in html
    assert await state_of(db, order) == ("ready", "1,3")
    html = await scan(client, codes[1])
    assert f"{order.number} handed over" in html and "Collect ₹250.00 cash" in html
    assert await state_of(db, order) == ("handed_over", "1,2,3")
    assert await total_on_hand(db, product.id) == before - 1
    html = await scan(client, codes[1])
    assert "already handed over" in html
    assert await total_on_hand(db, product.id) == before - 1


async def test_bag_labels_of_other_orders_stores_and_forgeries_are_refused(
        client, db, cfg, staff, rows):
    first = await ready_order(db, cfg, staff, rows, "BAG-2", bags=2)
    second = await ready_order(db, cfg, staff, rows, "BAG-3", bags=2)
    one, two = await printed_bag_codes(db, cfg, first)
    other = (await printed_bag_codes(db, cfg, second))[0]
    await login(client, staff["picker"], STAFF["picker"][1])
    number, bag, tag = one.split("/")
    store = cfg.store.id
    refused = {
        f"{number}/2/{tag}": "not one of the bags of",  # bag 1's tag with bag 2's number
        f"{number}/3/{tag}": "has 2 bags",
        f"{second.number}/1/{tag}": "not one of the bags of",  # another order's number
        f"{number}/1/{first.handover_code}": "not a bag label",  # the old format
        f"{number}/1/AAAAAAAA": "not one of the bags of",
        one.replace(f"{store}-", "X9-", 1): "from store X9",
        f"{store}-999999/1/{tag}": "No order",
        "hello/world": "not a bag label",
    }
    for code, says in refused.items():
        html = await scan(client, code)
        assert says in html and "alert-error" in html, (code, html)
    assert await state_of(db, first) == ("ready", "")
    assert await state_of(db, second) == ("ready", "")
    # Another order's genuine label hands over that order's bag, not this one's.
    assert "Bag 1 of 2" in await scan(client, other)
    assert await state_of(db, first) == ("ready", "")
    assert await state_of(db, second) == ("ready", "1")
    # A cancelled order's bag is refused clearly.
    await orders.cancel_order(db, first.id, "test", "customer")
    html = await scan(client, two)
    assert "was cancelled" in html and "alert-error" in html
    assert await state_of(db, first) == ("cancelled", "")


async def test_the_order_code_hands_over_the_rest_only_after_a_confirmation(
        client, db, cfg, staff, rows):
    order = await ready_order(db, cfg, staff, rows, "BAG-4", bags=3, cod=12000)
    bag_1 = (await printed_bag_codes(db, cfg, order))[0]
    await login(client, staff["picker"], STAFF["picker"][1])
    await scan(client, bag_1)  # the rider came with 2 of 3 bags; one scanned
    html = await scan(client, order.handover_code.lower())
    assert 'data-testid="handover-confirm"' in html and "1 of 3 bags scanned" in html
    assert "the other 2 bags" in html and "₹120.00" in html
    assert await state_of(db, order) == ("ready", "1")  # asking changes nothing
    html = await scan(client, order.handover_code, confirm="S1-999999")  # not this order
    assert 'data-testid="handover-confirm"' in html
    assert await state_of(db, order) == ("ready", "1")
    html = await scan(client, order.handover_code, confirm=order.number)
    assert f"{order.number} handed over" in html and "Collect ₹120.00 cash" in html
    assert await state_of(db, order) == ("handed_over", "1,2,3")
    async with db.read() as s:
        o = await s.get(Order, order.id)
        assert "1 of 3 bags scanned, 2 by the order code (confirmed)" in o.transitions[-1].reason
    again = await scan(client, order.handover_code, confirm=order.number)
    assert "already handed over" in again and "alert-error" in again
    assert "No order has that code" in await scan(client, "QQQQQQ")

    cancelled = await ready_order(db, cfg, staff, rows, "BAG-5", bags=1)
    await orders.cancel_order(db, cancelled.id, "test", "customer")
    html = await scan(client, cancelled.handover_code, confirm=cancelled.number)
    assert "was cancelled" in html and "alert-error" in html
    assert await state_of(db, cancelled) == ("cancelled", "")


async def find(client, q: str) -> str:
    r = await client.get("/handover/find", params={"q": q}, headers=hx(client))
    assert r.status_code == 200
    return r.text


async def test_find_an_order_by_number_or_phone(client, db, cfg, staff, rows):
    first = await ready_order(db, cfg, staff, rows, "F-1", bags=2, phone="+91 98450 11111")
    second = await ready_order(db, cfg, staff, rows, "F-2", bags=1, phone="9845022222")
    third = await ready_order(db, cfg, staff, rows, "F-3", bags=1, phone="98450-22222")
    bag_2 = (await printed_bag_codes(db, cfg, first))[1]
    await login(client, staff["picker"], STAFF["picker"][1])
    await scan(client, bag_2)
    n = int(first.number.split("-")[1])
    for q in (first.number, first.number.lower(), str(n), f"{cfg.store.id}-{n}", "11111",
              "+91 98450 11111"):
        html = await find(client, q)
        assert f'data-testid="found-{first.number}"' in html, q
        assert f'data-testid="handover-code">{first.handover_code}<' in html
        assert "Bag 1 of 2" in html and "Bag 2 of 2" in html
        assert html.count("waiting") == 1 and html.count("handed over") == 1
    # The last digits of two customers' phones: both listed, each one tap away.
    html = await find(client, "22222")
    assert 'data-testid="found-list"' in html
    assert second.number in html and third.number in html and first.number not in html
    assert second.handover_code not in html and third.handover_code not in html
    for q, says in (("X9-000001", "Type an order number"), ("ab", "Type an order number"),
                    ("123", "No order matches"), (f"{cfg.store.id}-999999", "No order matches")):
        assert says in await find(client, q), q
    full = await client.get("/handover/find", params={"q": str(n)})  # no htmx: a whole page
    assert "Rider desk" in full.text and first.handover_code in full.text


async def test_only_roles_that_may_hand_over_see_the_code(client, db, cfg, staff, rows):
    order = await ready_order(db, cfg, staff, rows, "R-1", bags=1)
    bag_1 = (await printed_bag_codes(db, cfg, order))[0]
    await login(client, staff["cashier"], STAFF["cashier"][1])
    for r in (await client.get("/handover"),
              await client.get("/handover/find", params={"q": order.number}, headers=hx(client)),
              await client.post("/handover/scan", data={"code": bag_1}, headers=hx(client)),
              await client.get(f"/api/v1/orders/{order.id}"),
              await client.get("/")):
        assert order.handover_code not in r.text
    assert (await client.get("/handover/find", params={"q": order.number})).status_code == 403
    assert await state_of(db, order) == ("ready", "")
    await client.post("/logout", headers=hx(client))
    await login(client, staff["manager"], STAFF["manager"][1])
    assert order.handover_code in await find(client, order.number)
    assert f"{order.number} handed over" in await scan(client, bag_1)
