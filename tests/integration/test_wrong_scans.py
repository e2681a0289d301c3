"""A wrong scan at the picker is refused and counted, and the fulfilment report shows it
(issue #16 item 14: the count was made inside the transaction the refusal rolled back)."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.core.auth import StaffUser, create_api_key
from app.picking import service
from app.picking.models import PickTaskRow
from tests.conftest import STAFF, login
from tests.integration.test_fulfilment import hx, order_body, store, task_of

__all__ = ["store"]  # the fixture, imported for pytest


async def test_a_wrong_scan_is_counted_and_shown_in_the_fulfilment_report(
        client, db, cfg, store, staff):
    key = {"Authorization": f"Bearer {(await create_api_key(db, 'app', 'all', channel='app'))[1]}"}
    _a, b, c = store
    await client.post("/api/v1/orders", json=order_body("W-1", [(b.sku, 1)]), headers=key)
    await login(client, staff["picker"], STAFF["picker"][1])
    task = task_of((await client.post("/pick/claim", headers=hx(client))).text)
    picker = StaffUser(staff["picker"], STAFF["picker"][0], "picker")

    # Two wrong items (one we sell, one code nobody knows), refused through the service...
    for code in (c.barcodes[0], "4006381333931"):
        try:
            await service.confirm_scan(db, picker, task["id"], code, cfg.measure_rules)
        except service.WrongProduct as exc:
            assert "Wrong item" in str(exc)
        else:
            raise AssertionError("a wrong item was accepted")
    # ...and one through the picker's page, which still says so loudly.
    page = await client.post(f"/pick/tasks/{task['id']}/scan", data={"code": c.barcodes[0]},
                             headers=hx(client))
    assert "Wrong item" in page.text and "wrong-scan" in page.text
    async with db.read() as s:
        row = await s.get(PickTaskRow, task["id"])
        assert row is not None and (row.wrong_scans, row.picked, row.status) == (3, 0, "open")

    # The right item finishes the task; a refusal did not count anything as picked.
    await client.post(f"/pick/tasks/{task['id']}/scan", data={"code": b.barcodes[0]},
                      headers=hx(client))
    async with db.read() as s:
        done = list(await s.scalars(select(PickTaskRow)))
    assert [(t.status, t.picked, t.wrong_scans) for t in done] == [("done", 1, 3)]

    await client.post("/logout", headers=hx(client))
    await login(client, staff["manager"], STAFF["manager"][1])
    report = (await client.get("/reports/fulfilment")).text
    pickers = report[report.index('data-testid="pickers"'):]
    row_html = re.search(r"<tr><td>Ravi</td>(.*?)</tr>", pickers)
    assert row_html, pickers
    cells = re.findall(r'<td class="num">([^<]*)</td>', row_html.group(1))
    assert cells[3] == "3", cells  # Batches, Lines/hour, Items/hour, Wrong scans, Short
