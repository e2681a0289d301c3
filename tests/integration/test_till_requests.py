"""A till request sent again after a lost answer is done once (issue #16 till 2): the
tablet's id for a scan or a quick-key add is written in the transaction that added the
line, so a retry once the store server answers again adds nothing."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from app.core.clock import utcnow
from app.pos import till_requests
from app.pos.models import TillRequest
from tests.integration.test_pos_pages import hx, message, open_till, rows  # noqa: F401


def quantities(html: str) -> list[str]:
    return re.findall(r'data-testid="line-qty">(\d+)<', html)


async def test_a_scan_sent_twice_counts_once(client, login_as, rows):  # noqa: F811
    await login_as("cashier")
    cart = await open_till(client)
    code = rows[0].barcodes[0]
    form = {"code": code, "cart_id": cart, "request_id": "a" * 32}
    first = await client.post("/pos/scan", data=form, headers=hx(client))
    again = await client.post("/pos/scan", data=form, headers=hx(client))
    assert message(first.text) == f"Added {rows[0].name}" and quantities(first.text) == ["1"]
    assert message(again.text) == f"Already on the bill: {code}"
    assert quantities(again.text) == ["1"] and 'id="cart-summary"' in again.text
    # Another id is another scan of the same packet.
    r = await client.post("/pos/scan", data={**form, "request_id": "b" * 32},
                          headers=hx(client))
    assert quantities(r.text) == ["2"]
    # No id (a page from before), or one that is not ours: done as before, every time.
    for bad in ("", "short", "x" * 65, "a" * 31 + "!"):
        r = await client.post("/pos/scan", data={**form, "request_id": bad}, headers=hx(client))
    assert quantities(r.text) == ["6"]


async def test_a_refused_scan_is_not_remembered(client, login_as, rows):  # noqa: F811
    await login_as("cashier")
    cart = await open_till(client)
    form = {"code": "8900000000005", "cart_id": cart, "request_id": "c" * 32}
    r = await client.post("/pos/scan", data=form, headers=hx(client))
    assert "No product has barcode" in message(r.text)
    # The same id for a code that now scans (the cashier corrected the field): it counts.
    r = await client.post("/pos/scan", data={**form, "code": rows[1].barcodes[0]},
                          headers=hx(client))
    assert message(r.text) == f"Added {rows[1].name}"


async def test_a_quick_key_add_sent_twice_counts_once(client, login_as, rows):  # noqa: F811
    await login_as("cashier")
    cart = await open_till(client)
    form = {"sku": rows[2].sku, "quantity": "1", "cart_id": cart, "request_id": "d" * 32}
    first = await client.post("/pos/add", data=form, headers=hx(client))
    again = await client.post("/pos/add", data=form, headers=hx(client))
    assert quantities(first.text) == ["1"] and quantities(again.text) == ["1"]
    assert again.headers["hx-trigger"] == "kirana-added"  # the quick key's panel closes


async def test_old_ids_are_pruned(db, monkeypatch):
    async with db.write() as s:
        s.add(TillRequest(id="old" * 8, at=utcnow() - timedelta(days=2)))
        s.add(TillRequest(id="new" * 8, at=utcnow() - timedelta(hours=2)))
    monkeypatch.setattr(till_requests, "_pruned_at", None)
    async with db.write() as s:
        await till_requests.claim(s, "e" * 32)
    async with db.read() as s:
        ids = set(await s.scalars(select(TillRequest.id)))
        assert ids == {"new" * 8, "e" * 32}
        assert await s.scalar(select(func.count()).select_from(TillRequest)) == 2
