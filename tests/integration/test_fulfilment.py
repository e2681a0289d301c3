"""Dark-store fulfilment over HTTP: orders in, batch picked by bin with a wrong scan and
a short pick, packed with labels printed, handed to the rider bag by bag."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.catalog.csv_io import parse_catalog
from app.catalog.service import get_by_sku, import_catalog
from app.core.auth import create_api_key
from app.orders.models import Order, StockReservation
from app.printing.models import PrintJob
from app.stock.models import StockMove
from app.stock.service import load_bins_csv, receive, total_on_hand
from tests.conftest import STAFF, csrf_of, login
from tests.integration.test_handover import printed_bag_codes

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def store(db, cfg):
    parsed = parse_catalog((ROOT / "store_config" / "demo_catalog.csv").read_text(),
                           cfg.measure_rules)
    await import_catalog(db, parsed)
    await load_bins_csv(db, (ROOT / "store_config" / "demo_bins.csv").read_text())
    rows = [r for r in parsed.rows if r.unit == "piece" and r.active and r.barcodes][:3]
    for row, bin_code in zip(rows, ("C-02-1", "A-01-1", "B-03-2"), strict=True):
        product = await get_by_sku(db, row.sku)
        await receive(db, product_id=product.id, bin_code=bin_code, quantity=10, user_id=None)
    return rows


def order_body(external_id, lines, minutes=15, cod=0):
    return {"channel": "app", "external_id": external_id,
            "customer": {"name": "Priya Sharma", "phone": "9876543210", "address": "HSR",
                         "pincode": "560102"},
            "promised_by": (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat(),
            "lines": [{"sku": sku, "quantity": q} for sku, q in lines],
            "payment": "cod" if cod else "prepaid", "cod_amount_minor": cod}


def hx(client):
    return {"HX-Request": "true", "x-csrftoken": csrf_of(client)}


def task_of(html: str) -> dict:
    return {k: re.search(rf'data-testid="task-{k}">([^<]*)<', html).group(1).strip()
            for k in ("bin", "name", "qty", "bag")} | {
        "id": re.search(r'/pick/tasks/([^/]+)/scan', html).group(1)}


async def test_a_batch_from_api_to_rider(client, app, db, cfg, store, staff):
    assert [p.name for p in cfg.printers if "bag_label" in p.documents] == ["packing-1"]
    key = {"Authorization": f"Bearer {(await create_api_key(db, 'app', 'all', channel='app'))[1]}"}
    a, b, c = store
    first = (await client.post("/api/v1/orders", json=order_body(
        "O-1", [(a.sku, 2), (b.sku, 1)], minutes=10, cod=25000), headers=key)).json()
    second = (await client.post("/api/v1/orders", json=order_body(
        "O-2", [(b.sku, 1), (c.sku, 1)], minutes=20), headers=key)).json()
    assert first["status"] == second["status"] == "accepted"

    await login(client, staff["picker"], STAFF["picker"][1])
    page = await client.post("/pick/claim", headers=hx(client))
    task = task_of(page.text)
    # Bin order: A-01-1 (b, both orders) comes before B-03-2 (c) and C-02-1 (a).
    assert task["bin"] == "A-01-1" and task["name"] == b.name and task["bag"] == "A"
    # A wrong scan is refused, loudly.
    wrong = await client.post(f"/pick/tasks/{task['id']}/scan", data={"code": c.barcodes[0]},
                              headers=hx(client))
    assert "Wrong item" in wrong.text and "wrong-scan" in wrong.text
    picked_tasks = 0
    html = (await client.post(f"/pick/tasks/{task['id']}/scan", data={"code": b.barcodes[0]},
                              headers=hx(client))).text
    picked_tasks += 1
    seen_bins = ["A-01-1"]
    while 'data-testid="task"' in html:
        task = task_of(html)
        seen_bins.append(task["bin"])
        if task["name"] == c.name:  # can't find it: short, with a substitute
            html = (await client.post(f"/pick/tasks/{task['id']}/short", data={
                "reason": "Not in the bin", "substitute": a.barcodes[0]}, headers=hx(client))).text
            assert "marked for a count" in html and f"Substitute {a.sku}" in html
            continue
        product = next(r for r in store if r.name == task["name"])
        for _ in range(int(task["qty"])):
            html = (await client.post(f"/pick/tasks/{task['id']}/scan",
                                      data={"code": product.barcodes[0]}, headers=hx(client))).text
    assert seen_bins == sorted(seen_bins, key=lambda code: ["A-01-1", "B-03-2", "C-02-1"].index(
        code)), "the walk follows the bins' pick sequence"
    assert "picked" in html
    async with db.read() as s:
        states = dict((await s.execute(select(Order.number, Order.state))).all())
    assert set(states.values()) == {"picked"}

    # Packing: every picked item is scanned into the order, then two bags are labelled.
    early = await client.post(f"/pack/{first['id']}", data={"bags": "2",
                                                             "_csrf_token": csrf_of(client)})
    assert "scan every item into the order first" in early.text
    wrong = await client.post(f"/pack/{first['id']}/scan", data={"code": c.barcodes[0]},
                              headers=hx(client))
    assert "is not in order" in wrong.text
    for code in (a.barcodes[0], a.barcodes[0], b.barcodes[0]):
        r = await client.post(f"/pack/{first['id']}/scan", data={"code": code},
                              headers=hx(client))
        assert "alert-ok" in r.text, r.text
    extra = await client.post(f"/pack/{first['id']}/scan", data={"code": b.barcodes[0]},
                              headers=hx(client))
    assert "already packed" in extra.text
    r = await client.post(f"/pack/{first['id']}", data={"bags": "2",
                                                         "_csrf_token": csrf_of(client)})
    assert "packed" in r.text and "2 labels printed" in r.text.replace("+", " ")
    async with db.read() as s:
        jobs = [j.document for j in await s.scalars(select(PrintJob).where(
            PrintJob.ref == first["id"]))]
        order = await s.get(Order, first["id"])
    assert sorted(jobs) == ["bag_label", "bag_label", "packing_slip"]
    assert order.state == "ready"

    # Rider desk: both bag labels scanned (their QR codes as printed); the stock leaves
    # then, and only then.
    bag_1, bag_2 = await printed_bag_codes(db, cfg, order)
    product_a = await get_by_sku(db, a.sku)
    before = await total_on_hand(db, product_a.id)
    r = await client.post("/handover/scan", data={"code": bag_1}, headers=hx(client))
    assert "1 more bag to scan" in r.text
    assert await total_on_hand(db, product_a.id) == before
    r = await client.post("/handover/scan", data={"code": bag_2}, headers=hx(client))
    assert "handed over" in r.text and "Collect ₹250.00 cash" in r.text
    assert await total_on_hand(db, product_a.id) == before - 2
    again = await client.post("/handover/scan", data={"code": bag_2}, headers=hx(client))
    assert "already handed over" in again.text
    forged = await client.post("/handover/scan", data={"code": f"{order.number}/1/XXXXXXXX"},
                               headers=hx(client))
    assert "not one of the bags of" in forged.text
    async with db.read() as s:
        left = await s.scalar(select(func.count()).select_from(StockReservation).where(
            StockReservation.order_line_id.in_([line.id for line in order.lines])))
        moves = list(await s.scalars(select(StockMove).where(StockMove.reason == "order")))
    assert left == 0 and {m.reference for m in moves} == {order.number}

    # The manager's fulfilment report has the order's minutes, and its CSV too.
    await client.post("/logout", headers=hx(client))
    await login(client, staff["manager"], STAFF["manager"][1])
    stock = await client.get("/stock")  # the short pick asked for a count of c's bin
    assert 'data-testid="count-requests"' in stock.text and "B-03-2" in stock.text
    product_c = await get_by_sku(db, c.sku)
    from app.stock.service import adjust
    await adjust(db, product_id=product_c.id, bin_code="B-03-2", reason="count", quantity=0,
                 user_id=None)
    assert "count-requests" not in (await client.get("/stock")).text  # counted: off the list
    report = await client.get("/reports/fulfilment")
    assert 'data-testid="stage-chart"' in report.text and "Ravi" in report.text
    csv_rows = (await client.get("/reports/fulfilment.csv")).text.splitlines()
    row = next(r for r in csv_rows if r.startswith(order.number + ","))
    assert row.split(",")[1] == "handed_over" and row.endswith(",yes")


async def test_cancel_while_picking_tells_the_picker_what_to_put_back(client, db, store, staff):
    key = {"Authorization": f"Bearer {(await create_api_key(db, 'app', 'all', channel='app'))[1]}"}
    a, b, _c = store
    order = (await client.post("/api/v1/orders", json=order_body("O-9", [(b.sku, 2), (a.sku, 1)]),
                               headers=key)).json()
    await login(client, staff["picker"], STAFF["picker"][1])
    html = (await client.post("/pick/claim", headers=hx(client))).text
    task = task_of(html)
    await client.post(f"/pick/tasks/{task['id']}/scan", data={"code": b.barcodes[0]},
                      headers=hx(client))
    r = await client.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "customer"},
                          headers=key)
    assert r.json()["status"] == "cancelled"
    page = await client.get("/pick", headers=hx(client))
    assert "put these back" in page.text and "A-01-1" in page.text
    alerts = await client.get("/pick/alerts", headers=hx(client))  # what the live push loads
    assert "put these back" in alerts.text and "A-01-1" in alerts.text
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(StockReservation)) == 0


async def test_quantity_stepper_needs_one_scan_first(client, db, store, staff):
    key = {"Authorization": f"Bearer {(await create_api_key(db, 'app', 'all', channel='app'))[1]}"}
    _a, b, _c = store
    await client.post("/api/v1/orders", json=order_body("O-5", [(b.sku, 3)]), headers=key)
    await login(client, staff["picker"], STAFF["picker"][1])
    task = task_of((await client.post("/pick/claim", headers=hx(client))).text)
    early = await client.post(f"/pick/tasks/{task['id']}/more", data={"all": "1"},
                              headers=hx(client))
    assert "scan one first" in early.text
    html = (await client.post(f"/pick/tasks/{task['id']}/scan", data={"code": b.barcodes[0]},
                              headers=hx(client))).text
    assert f"{b.name}: 1 of 3" in html and 'data-testid="take-all"' in html
    html = (await client.post(f"/pick/tasks/{task['id']}/more", data={}, headers=hx(client))).text
    assert f"{b.name}: 2 of 3" in html
    html = (await client.post(f"/pick/tasks/{task['id']}/more", data={"all": "1"},
                              headers=hx(client))).text
    assert f"Done: {b.name}" in html and "Batch picked" in html


async def test_a_zone_picker_gets_only_orders_stocked_in_that_zone(client, db, store, staff):
    from sqlalchemy import update

    from app.stock.models import Bin

    key = {"Authorization": f"Bearer {(await create_api_key(db, 'app', 'all', channel='app'))[1]}"}
    a, b, _c = store
    async with db.write() as s:  # a's bin becomes a chilled bin
        await s.execute(update(Bin).where(Bin.code == "C-02-1").values(zone="CHILLED"))
    await client.post("/api/v1/orders", json=order_body("Z-1", [(b.sku, 1)], minutes=5),
                      headers=key)
    chilled = (await client.post("/api/v1/orders", json=order_body("Z-2", [(a.sku, 1)],
                                                                  minutes=30),
                                 headers=key)).json()
    await login(client, staff["picker"], STAFF["picker"][1])
    page = await client.get("/pick")
    assert 'data-testid="zone"' in page.text and "Chilled" in page.text
    html = (await client.post("/pick/claim", data={"zone": "CHILLED"}, headers=hx(client))).text
    task = task_of(html)
    assert task["bin"] == "C-02-1" and task["name"] == a.name  # the more urgent Z-1 is ambient
    assert chilled["number"] in html
