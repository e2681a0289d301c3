"""The hub's Stock page shows weighed and poured goods in kg and L, as the store does
(issue #16 item 19): the hub keeps grams and millilitres, a manager reads 5 kg."""

from __future__ import annotations

import re

from app.hub import service as hub
from app.hub import views
from tests.hub.conftest import sign_in
from tests.hub.test_hub_service import apply, edit, ev


def cells(html: str, table_id: str) -> list[list[str]]:
    """The text of each body row's cells in the table with this id."""
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [[re.sub(r"<[^>]+>", "", c).split()[0] if c.strip() else ""
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in rows]


async def stocked(hub_db) -> None:
    await hub.save_product(hub_db, edit("ATTA-LOOSE", unit="kg", reorder_level=5000))
    await hub.save_product(hub_db, edit("OIL-LOOSE", unit="litre", reorder_level=50000))
    await hub.save_product(hub_db, edit("SOAP", reorder_level=12))
    await hub.add_store(hub_db, "S1", name="Store S1", kind="counter", lat=12.9, lon=77.6)
    await apply(hub_db, "S1", [
        ev(1, "stock.moved", {"sku": "ATTA-LOOSE", "delta": 3500}),
        ev(2, "stock.moved", {"sku": "OIL-LOOSE", "delta": 2000}),
        ev(3, "stock.moved", {"sku": "SOAP", "delta": 4})])


async def test_low_stock_carries_each_products_unit(hub_db):
    await stocked(hub_db)
    low = {r.sku: r for r in await views.low_stock(hub_db)}
    assert {sku: (r.available, r.reorder_level, r.unit) for sku, r in low.items()} == {
        "ATTA-LOOSE": (3500, 5000, "kg"), "OIL-LOOSE": (2000, 50000, "litre"),
        "SOAP": (4, 12, "piece")}


async def test_the_stock_page_shows_kilograms_and_litres(hub_client, hub_db):
    await stocked(hub_db)
    await sign_in(hub_client, "Omar")
    page = await hub_client.get("/hub/inventory")
    text = page.text
    # Store, product (its name's first word), available, reorder at
    assert sorted(map(tuple, cells(text, "low-stock"))) == [
        ("S1", "Product", "2", "50"), ("S1", "Product", "3.5", "5"), ("S1", "Product", "4", "12")]
    assert ">3.5 kg<" in text and ">5 kg<" in text  # 3500 g, reorder at 5000 g
    assert ">2 L<" in text and ">50 L<" in text  # 2000 ml, reorder at 50000 ml
    assert ">4<" in text and ">12<" in text  # pieces stay whole numbers
    assert "3500" not in text and "50000" not in text

    one = await hub_client.get("/hub/inventory", params={"sku": "atta-loose"})
    row = cells(one.text, "inventory")
    assert row == [["S1", "3.5", "0", "3.5"]]
    assert one.text.count(">3.5 kg<") >= 4  # the row's on hand and available, the totals
    assert ">0 kg<" in one.text
