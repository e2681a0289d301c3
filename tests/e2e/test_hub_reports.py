"""HQ's report pages at the hub in real Chromium (issue #18, app/hub/report_pages.py).

Two stores send their bills to a real hub process over the sync websocket, as their
sync clients do (S1: two bills at 18 % and 5 % GST, D2: one nil-rated bill). HQ signs in,
opens the chain overview: the chain's sales and bills, and each store's row, are the
seeded bills'; the CSV downloaded from the page says the same; a period the wrong way
round gets a plain message. Then S1's report for GST: its taxable value and tax on the
GSTR-1 page, and its return downloaded as JSON with the same figures.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import expect
from websockets.asyncio.client import connect

from app.core.money import format_amount
from tests.e2e import test_hub
from tests.e2e.conftest import DEVICES, SHOTS
from tests.e2e.test_hub import hub_login, no_sideways_scroll
from tests.sync.harness import Hub

# test_hub's hub (stores S1 and D2, HQ user Meena), a fresh one for this module
hub_server = test_hub.hub_server


def _line(sku: str, net: int, tax: int, rate: int) -> dict:
    half = tax // 2
    return {"sku": sku, "quantity": 1, "net": net, "tax": tax, "gst_rate_bp": rate,
            "hsn": "1006", "cgst": half, "sgst": tax - half, "igst": 0}


BILLS = {  # store -> (total, its lines)
    "S1": [(11800, [_line("RICE-5KG", 11800, 1800, 1800)]),
           (5250, [_line("ATTA-1KG", 5250, 250, 500)])],
    "D2": [(30000, [_line("MILK-1L", 30000, 0, 0)])],
}


@pytest.fixture
def device_options() -> dict:
    return dict(DEVICES["tablet"])


async def send_bills(hub: Hub, store_id: str) -> None:
    """Be the store's sync client for a moment: hello, its bills as sale.completed
    events, wait for the hub's ack, acknowledge what the hub sent, close."""
    with sqlite3.connect(hub.sqlite_path) as db:
        acked = db.execute("SELECT down_acked FROM hub_stores WHERE id = ?",
                           (store_id,)).fetchone()[0]
    async with connect(hub.ws_url, additional_headers={
            "Authorization": f"Bearer {hub.tokens[store_id]}"},
            user_agent_header="kirana-store/e2e", open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "hello", "proto": 1, "store_id": store_id,
                                  "epoch": f"e2e-rep-{store_id}", "applied_down": acked}))
        sent = applied = 0
        last = acked
        while not sent or applied < sent:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] == "welcome":
                now = datetime.now(UTC).isoformat()
                first = message["acked_up"] + 1
                events = [{"seq": first + i, "id": f"rep-{store_id}-{i}", "kind": "sale.completed",
                           "at": now, "data": {
                               "sale_id": f"rep-{store_id}-{i}", "number": f"{store_id}-{i:06d}",
                               "at": now, "total": total, "tax": sum(x["tax"] for x in lines),
                               "discount": 0, "rounding": 0, "lines": lines,
                               "tenders": [{"kind": "cash", "amount": total}], "doc": "b2c"}}
                          for i, (total, lines) in enumerate(BILLS[store_id])]
                await ws.send(json.dumps({"type": "events", "events": events}))
                sent = events[-1]["seq"]
            elif message["type"] == "ack":
                applied = message["upto"]
            elif message["type"] == "events":
                last = message["events"][-1]["seq"]
        await ws.send(json.dumps({"type": "ack", "upto": last}))
        await asyncio.sleep(0.3)


def _money(paise: int) -> str:
    return format_amount(paise)


async def test_hq_reads_the_chain_overview_and_a_stores_return(new_page, hub_server: Hub
                                                               ) -> None:
    report_hub = hub_server
    for store_id in BILLS:
        await send_bills(report_hub, store_id)
    s1 = sum(total for total, _ in BILLS["S1"])
    d2 = sum(total for total, _ in BILLS["D2"])
    page = await new_page(report_hub.proc.url)
    await hub_login(page, report_hub, "Meena")
    await expect(page.locator("#store-table")).to_be_visible()
    await page.goto("/hub/reports")
    await expect(page.get_by_role("heading", name="Chain overview")).to_be_visible()
    total = page.locator("#chain-total")
    await expect(total).to_contain_text(_money(s1 + d2))
    await expect(total.locator("p").nth(1)).to_contain_text("3")
    row = page.locator('#stores tr[data-store="S1"]')
    await expect(row.locator("td").nth(1)).to_have_text(_money(s1))
    await expect(row.locator("td").nth(2)).to_have_text("2")
    await expect(page.locator('#stores tr[data-store="D2"] td').nth(1)).to_have_text(_money(d2))
    # the stores sorted by sales, biggest first: D2 then S1
    assert await page.locator("#stores tbody tr").first.get_attribute("data-store") == "D2"
    await expect(page.locator('svg[data-chart="bars"]').first).to_be_visible()
    await no_sideways_scroll(page)
    await page.screenshot(path=str(SHOTS / "hub-reports-tablet.png"), full_page=True)

    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download CSV").click()
    download = await info.value
    text = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")
    rows = {r[0]: r for r in csv.reader(io.StringIO(text)) if r}
    header = rows["store"]
    sales_col, bills_col = header.index("sales_rupees"), header.index("bills")
    assert rows["S1"][bills_col] == "2" and rows["D2"][bills_col] == "1"
    assert re.sub(r"[^\d]", "", rows["S1"][sales_col]) == str(s1)
    assert re.sub(r"[^\d]", "", rows["D2"][sales_col]) == str(d2)

    wrong = await page.request.get("/hub/reports?start=2026-11-30&end=2026-11-01")
    assert wrong.status == 400 and "Swap the two dates" in await wrong.text()

    # S1's report for the accountant: its month's GSTR-1 figures and return
    await page.get_by_role("link", name=re.compile("GST returns")).click()
    store_row = page.locator('tr[data-store="S1"]')
    taxable = sum(x["net"] - x["tax"] for _, lines in BILLS["S1"] for x in lines)
    tax = sum(x["tax"] for _, lines in BILLS["S1"] for x in lines)
    await expect(store_row).to_contain_text(_money(taxable))
    await expect(store_row).to_contain_text(_money(tax))
    async with page.expect_download() as info:
        await store_row.get_by_role("link", name="JSON").click()
    download = await info.value
    body = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")
    filed = json.loads(body)
    b2cs = filed.get("b2cs", [])
    assert round(sum(x["txval"] for x in b2cs) * 100) == taxable
    assert round(sum(x.get("camt", 0) + x.get("samt", 0) + x.get("iamt", 0)
                     for x in b2cs) * 100) == tax
