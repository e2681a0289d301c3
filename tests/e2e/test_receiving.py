"""Receiving a purchase order on a phone (360x740) in real Chromium (issue #17): the
picker scans one case GTIN-14 and one GS1 DataMatrix typed as a keyboard-wedge scanner
sends it (AIM prefix, AI 01, batch, FNC1 as GS, expiry, Enter), marks a damaged pack,
gives the reason for the differences, and a manager signs off with her PIN; the stock,
batch and the order's state are read back from the store's database."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import date, timedelta

import pytest
from playwright.async_api import expect

from app.catalog.barcodes import gtin_check_digit
from tests.e2e.conftest import LOGINS, ROOT, SHOTS, _env, demo_products, login


@pytest.fixture
def device() -> str:
    return "phone"


SETUP = """
import asyncio, json, sys
from sqlalchemy import select, update
from app.catalog.models import Product
from app.core.db import Database
from app.purchasing import service
from app.purchasing.rules import SupplierFields, WantedLine

async def main(path, case_sku, dal_sku):
    db = Database(path)
    try:
        async with db.write() as s:
            await s.execute(update(Product).where(Product.sku == dal_sku)
                            .values(tracks_expiry=True))
            ids = {p.sku: p.id for p in await s.scalars(
                select(Product).where(Product.sku.in_([case_sku, dal_sku])))}
        sid = await service.save_supplier(db, SupplierFields("E2E Receiving Traders"))
        await service.set_item(db, sid, case_sku, 120000, 12)
        await service.set_item(db, sid, dal_sku, 60000, 6)
        po = await service.create_order(db, sid, [WantedLine(ids[case_sku], 1, "case"),
                                                  WantedLine(ids[dal_sku], 1, "case")],
                                        None, None)
        await service.move_order(db, po, "sent")
        view = await service.get_order(db, po)
        print(json.dumps({"po": po, "label": view.label, **ids}))
    finally:
        await db.dispose()

asyncio.run(main(*sys.argv[1:]))
"""


def _setup(directory, case_sku: str, dal_sku: str) -> dict:
    done = subprocess.run([sys.executable, "-c", SETUP, str(directory / "store.db"), case_sku,
                           dal_sku], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def case_gtin14(piece13: str) -> str:
    """The case's GTIN-14: indicator 1, the piece's first 12 digits, a new check digit."""
    body = "1" + piece13[:12]
    return body + gtin_check_digit(body)


async def test_receive_an_order_on_a_phone(own_server, new_page, guard) -> None:
    guard.allow(r"status of 400 .*/sign\)")  # the wrong PIN we type is refused with a 400
    case_item, dal = demo_products()[0], demo_products()[1]
    made = _setup(own_server.directory, case_item.sku, dal.sku)
    page = await new_page(own_server.url)
    await login(page, "Ravi")
    await expect(page.get_by_role("heading", name="Hello, Ravi")).to_be_visible()
    await page.goto("/purchasing/receive")
    await page.locator(f'[data-order="{made["label"]}"]').get_by_role(
        "button", name="Receive").tap()
    await expect(page.get_by_test_id("grn-status")).to_have_text("Open")
    scan = page.get_by_label("Scan a case or piece")

    # 1. A case GTIN-14, typed by the scanner, counts as the order line's pack size.
    await scan.focus()
    await page.keyboard.type(case_gtin14(case_item.barcode))
    await page.keyboard.press("Enter")
    step = page.get_by_test_id("grn-step")
    await expect(step.get_by_test_id("grn-product")).to_have_text(case_item.name)
    await expect(step).to_contain_text("a case of 12")
    await step.get_by_role("button", name="Add").tap()
    await expect(page.get_by_test_id("grn-added")).to_contain_text(
        f"Added 12 pieces of {case_item.name}")
    await expect(page.get_by_test_id(f"good-{case_item.sku}")).to_have_text("12")

    # 2. A GS1 DataMatrix as a keyboard wedge sends it: ]d2, GTIN, batch, GS, expiry.
    expiry = date.today() + timedelta(days=180)
    datamatrix = f"]d2010{dal.barcode}10B-E2E\x1d17{expiry.strftime('%y%m%d')}"
    await scan.focus()
    await page.keyboard.type(datamatrix)
    await page.keyboard.press("Enter")
    await expect(step.get_by_test_id("grn-product")).to_have_text(dal.name)
    await expect(step.get_by_test_id("grn-batch")).to_have_value("B-E2E")
    await expect(step.get_by_test_id("grn-expiry")).to_have_value(expiry.isoformat())
    await step.get_by_test_id("grn-count").fill("4")
    await page.screenshot(path=SHOTS / "receiving-datamatrix.png", full_page=True)
    await step.get_by_role("button", name="Add").tap()
    await expect(page.get_by_test_id("grn-added")).to_contain_text(f"Added 4 pieces of {dal.name}")

    # 3. One more pack of it, damaged: recorded, kept out of stock.
    await scan.focus()
    await page.keyboard.type(datamatrix)
    await page.keyboard.press("Enter")
    await expect(step.get_by_test_id("grn-batch")).to_have_value("B-E2E")
    await step.get_by_test_id("grn-damaged").check()
    await step.get_by_role("button", name="Add").tap()
    await expect(page.get_by_test_id("grn-added")).to_contain_text("damaged: kept out of stock")
    # Its plain barcode carries no batch: the form asks for it, the cursor waits there.
    await scan.focus()
    await page.keyboard.type(dal.barcode)
    await page.keyboard.press("Enter")
    await expect(step.get_by_test_id("grn-batch")).to_have_value("")
    await expect(step.get_by_test_id("grn-batch")).to_be_focused()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the receiving screen is {width} px wide on a 360 px phone"

    # 4. The differences, their reason, and the manager's PIN.
    await page.get_by_role("link", name="Finish: check and sign off").tap()
    await expect(page.get_by_test_id(f"kinds-{dal.sku}")).to_have_text("Short, Damaged")
    await page.get_by_test_id(f"reason-{dal.sku}").fill("Broken in transit")
    await page.screenshot(path=SHOTS / "receiving-sign-off.png", full_page=True)
    await page.get_by_test_id("grn-approver").select_option(label="Meena")
    await page.get_by_test_id("grn-pin").fill("0000")
    await page.get_by_test_id("grn-sign-button").tap()
    await expect(page.get_by_test_id("grn-error")).to_be_visible()
    await page.get_by_test_id("grn-approver").select_option(label="Meena")
    await page.get_by_test_id("grn-pin").fill(LOGINS["Meena"])
    await page.get_by_test_id("grn-sign-button").tap()
    await expect(page.get_by_test_id("grn-done")).to_contain_text("Signed off by Meena")
    await expect(page.get_by_test_id("grn-status")).to_have_text("Signed off")

    with sqlite3.connect(own_server.directory / "store.db") as conn:
        moves = conn.execute(
            "SELECT product_id, delta, batch, expiry, reference FROM stock_ledger "
            "WHERE reason = 'receive' AND reference LIKE 'GRN-%' ORDER BY delta").fetchall()
        status = conn.execute("SELECT status FROM purchase_orders WHERE id = ?",
                              (made["po"],)).fetchone()[0]
    assert [(m[0], m[1], m[2], m[3]) for m in moves] == [
        (made[dal.sku], 4, "B-E2E", expiry.isoformat()), (made[case_item.sku], 12, None, None)]
    assert status == "partly_received"
