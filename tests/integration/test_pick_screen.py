"""The picker's screen says at once how many orders wait, and after a batch it leads to
packing (issue #16 item 9)."""

from __future__ import annotations

import re

from app.core.auth import create_api_key
from tests.conftest import STAFF, login
from tests.integration.test_fulfilment import hx, order_body, store, task_of

__all__ = ["store"]  # the fixture, imported for pytest


def waiting_of(html: str) -> str:
    match = re.search(r'data-testid="waiting">(.*?)</p>', html, re.S)
    assert match, html
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


async def test_the_waiting_count_shows_at_once_and_a_picked_batch_leads_to_packing(
        client, db, store, staff):
    key = {"Authorization": f"Bearer {(await create_api_key(db, 'app', 'all', channel='app'))[1]}"}
    a, b, _c = store
    await login(client, staff["picker"], STAFF["picker"][1])
    assert waiting_of((await client.get("/pick")).text) == "No orders waiting to be picked."
    for n, sku in enumerate((a.sku, b.sku)):
        await client.post("/api/v1/orders", json=order_body(f"P-{n}", [(sku, 1)]), headers=key)

    page = (await client.get("/pick")).text  # a first visit: no order event has come yet
    assert waiting_of(page) == "2 orders waiting to be picked."
    assert 'data-testid="to-packing"' not in page  # nothing picked yet

    html = (await client.post("/pick/claim", headers=hx(client))).text
    # The answer brings the alerts out of band; during a batch no count takes room.
    assert 'id="pick-alerts" hx-swap-oob="innerHTML"' in html and 'data-testid="waiting"' \
        not in html
    while 'data-testid="task"' in html:
        task = task_of(html)
        product = next(p for p in (a, b) if p.name == task["name"])
        html = (await client.post(f"/pick/tasks/{task['id']}/scan",
                                  data={"code": product.barcodes[0]}, headers=hx(client))).text
    assert "Batch picked: take the bags to packing." in html
    link = re.search(r'<a [^>]*href="([^"]+)"[^>]*data-testid="to-packing"', html)
    assert link and link.group(1) == "/pack"
    assert waiting_of(html) == "No orders waiting to be picked."
    assert (await client.get(link.group(1))).status_code == 200  # the picker may pack

    # The live refresh (orders changed) says the same.
    alerts = (await client.get("/pick/alerts", headers=hx(client))).text
    assert waiting_of(alerts) == "No orders waiting to be picked."
