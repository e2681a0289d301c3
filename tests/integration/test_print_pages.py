"""The printer's problem in plain words on the till and the printers page, and gone by
itself when the printer is ready again (a stand-in TCP printer runs out of paper)."""

from __future__ import annotations

import asyncio
import shutil
import time

import pytest

from app.printing import service
from tests.conftest import csrf_of
from tests.integration.test_print_confirm import network_config, receipt
from tests.integration.test_print_queue import FakePrinter


@pytest.fixture
def printer():
    p = FakePrinter()
    yield p
    p.close()


@pytest.fixture
def cfg(tmp_path, printer, migrated_template):  # overrides tests/conftest.py's cfg
    config = network_config(tmp_path, printer.port)
    shutil.copy(migrated_template, config.database_path)
    return config


async def poll(client, path: str, text: str, seconds: float = 8) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = (await client.get(path, headers={"HX-Request": "true"})).text
        if text in body:
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"{text!r} never showed on {path}: {body[:2000]}")


async def test_paper_out_shows_on_the_till_and_printers_page_and_clears(client, login_as, db,
                                                                        printer):
    printer.mode = "paper_out"
    await login_as("cashier")
    await client.post("/pos/shift/open", data={"counter": "C1", "float": "500"},
                      headers={"HX-Request": "true", "x-csrftoken": csrf_of(client)})
    for n in (1, 2):
        async with db.write() as s:
            service.enqueue(s, "counter-1", "receipt", receipt(n), title=f"S1-{n:06d}")
    client.app.state.print_queue.wake()
    banner = await poll(client, "/pos/printer-alerts", "out of paper")
    assert "Printer counter-1: out of paper — 2 receipts waiting." in banner
    assert "Load a new roll; the receipts will print by themselves." in banner
    till = (await client.get("/pos")).text
    assert "out of paper — 2 receipts waiting" in till

    await login_as("manager")
    page = (await client.get("/printers")).text
    assert "Out of paper</strong> — 2 waiting. Load a new roll" in page
    checked = (await client.post("/printers/counter-1/check", headers={
        "HX-Request": "true", "x-csrftoken": csrf_of(client)})).text
    assert "counter-1: out of paper: Load a new roll" in checked

    printer.mode = "normal"
    await poll(client, "/printers", "Online")
    await login_as("cashier")
    banner = (await client.get("/pos/printer-alerts", headers={"HX-Request": "true"})).text
    assert "out of paper" not in banner
    assert printer.receipt_numbers() == ["S1-000001", "S1-000002"]
