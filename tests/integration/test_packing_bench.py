"""The packing bench (issue #16 item 8): one scan field for every picked order; an item
finds its order by itself when only one order still needs it, and the packer is asked
when several do; each order shows the bag letter the picker put its items in."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.core.auth import create_api_key
from app.orders.models import Order, OrderLine
from app.picking.models import PickTaskRow
from tests.conftest import STAFF, login
from tests.integration.test_fulfilment import hx, order_body, store, task_of

__all__ = ["store"]  # the fixture, imported for pytest


async def pick_everything(client, products) -> None:
    html = (await client.post("/pick/claim", headers=hx(client))).text
    while 'data-testid="task"' in html:
        task = task_of(html)
        product = next(p for p in products if p.name == task["name"])
        html = (await client.post(f"/pick/tasks/{task['id']}/scan",
                                  data={"code": product.barcodes[0]}, headers=hx(client))).text
    assert "Batch picked" in html


async def packed(db) -> dict[tuple[str, str], int]:
    async with db.read() as s:
        rows = (await s.execute(select(Order.external_id, OrderLine.sku,
                                       OrderLine.packed_quantity)
                                .join(OrderLine, OrderLine.order_id == Order.id))).all()
    return {(ext, sku): n for ext, sku, n in rows}


def message_of(html: str) -> str:
    match = re.search(r'data-testid="pack-scan-message"[^>]*>([^<]*)<', html)
    return match.group(1) if match else ""


async def test_a_scan_finds_its_order_and_asks_when_several_need_it(client, db, store, staff):
    key = {"Authorization": f"Bearer {(await create_api_key(db, 'app', 'all', channel='app'))[1]}"}
    a, b, c = store
    made = {}
    for ext, lines, minutes in (("O-1", [(a.sku, 1), (b.sku, 1)], 10),
                                ("O-2", [(b.sku, 1), (c.sku, 1)], 20),
                                ("O-3", [(c.sku, 2)], 30)):
        made[ext] = (await client.post("/api/v1/orders", json=order_body(ext, lines, minutes),
                                       headers=key)).json()
    await login(client, staff["picker"], STAFF["picker"][1])
    await pick_everything(client, store)
    async with db.read() as s:
        bag_of = dict((await s.execute(select(PickTaskRow.order_number, PickTaskRow.bag)
                                       .distinct())).all())
    assert sorted(bag_of.values()) == ["A", "B", "C"]

    # The bench: one scan field, each order with the bag letter the picker saw.
    page = (await client.get("/pack")).text
    assert page.count("data-scan-field") == 1
    for order in made.values():
        card = page[page.index(f'data-testid="pack-{order["number"]}"'):]
        letter = re.search(r'data-testid="pack-bag"[^>]*>([^<]*)<', card).group(1)
        assert letter == bag_of[order["number"]]

    async def scan(code: str, into: str | None = None) -> str:
        url = f"/pack/{made[into]['id']}/scan" if into else "/pack/scan"
        return (await client.post(url, data={"code": code}, headers=hx(client))).text

    # a is only in O-1: it goes there by itself, and O-1's card comes back out of band.
    html = await scan(a.barcodes[0])
    one = made["O-1"]["number"]
    assert message_of(html) == f"{a.name}: 1 of 1 → bag {bag_of[one]} ({one})"
    assert f'id="pack-{made["O-1"]["id"]}"' in html and 'hx-swap-oob="outerHTML"' in html
    assert (await packed(db))[("O-1", a.sku)] == 1

    # c is in O-2 and O-3: nothing is packed, the packer is asked, naming both bags.
    before = await packed(db)
    html = await scan(c.barcodes[0])
    assert 'data-testid="pack-ask"' in html and f"{c.name} is in 2 orders" in html
    for ext in ("O-2", "O-3"):
        number = made[ext]["number"]
        assert f"Bag {bag_of[number]} · {number}" in html
        assert f'hx-post="/pack/{made[ext]["id"]}/scan"' in html
    assert "hx-swap-oob" not in html and await packed(db) == before
    html = await scan(c.barcodes[0], into="O-3")  # the packer taps O-3's bag
    assert message_of(html).startswith(f"{c.name}: 1 of 2 → bag")
    html = await scan(c.barcodes[0], into="O-2")
    assert "All packed" not in message_of(html)  # O-2 still needs b
    # Now only O-3 needs c: the next one goes there by itself.
    html = await scan(c.barcodes[0])
    three = made["O-3"]["number"]
    assert message_of(html) == (f"{c.name}: 2 of 2 → bag {bag_of[three]} ({three}). "
                                "All packed: print its labels.")
    assert "pack-done" in html

    # b is wanted by O-1 and O-2: asked again.
    assert 'data-testid="pack-ask"' in await scan(b.barcodes[0])
    await scan(b.barcodes[0], into="O-1")
    html = await scan(b.barcodes[0])  # only O-2 is left
    assert message_of(html).startswith(f"{b.name}: 1 of 1 → bag")

    # One more than was picked, an unknown code, junk: refused, nothing changes.
    before = await packed(db)
    extra = await scan(c.barcodes[0])
    assert "are already packed" in extra and "Put it aside" in extra and "alert-error" in extra
    unknown = await scan("4006381333931")
    assert "not one of our products" in unknown and "alert-error" in unknown
    junk = await scan("8901234567891")  # an EAN-13 with a wrong check digit
    assert "not a barcode we can read" in junk
    assert await packed(db) == before
    assert all(n for n in before.values())
