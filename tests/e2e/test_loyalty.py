"""Loyalty points in real Chromium against a real server (issue #21): the cashier joins a
customer (with the consent tick) on /loyalty, adds them to a bill on the pay panel by
number, completes it (the receipt shows the points earned and the number masked), and
on the next bill spends those points as a tender (the receipt shows them used)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import DEVICES, Server, login, scan, start_server

ATTA_10KG = "8907064947864"  # ATA-AASH-10KG, ₹545.00
PHONE = "9812345610"


@pytest.fixture
def device_options() -> dict:
    return dict(DEVICES["tablet"])


@pytest.fixture
def loyalty_server(demo_template: Path, tmp_path: Path) -> Iterator[Server]:
    """The demo store with loyalty on: 10 points per ₹100, spendable from 1 point."""
    template = tmp_path / "template"
    shutil.copytree(demo_template, template)
    toml = template / "store.toml"
    toml.write_text(toml.read_text() + "\n[loyalty]\nenabled = true\n"
                    "points_per_100_rupees = 10\nmin_balance_points = 1\n")
    server = start_server(template, tmp_path / "store")
    yield server
    server.stop()


async def bill_for_the_customer(till: Page) -> None:
    await till.goto("/pos")
    await scan(till, ATTA_10KG)
    await expect(till.get_by_test_id("cart-total")).to_have_text("₹545.00")
    await till.get_by_test_id("pay").tap()
    await till.get_by_test_id("loyalty-customer").fill(PHONE)
    await till.get_by_role("button", name="Add customer").tap()
    await expect(till.get_by_test_id("loyalty-phone")).to_have_text("98xxxxxx10")


async def test_points_earned_on_one_bill_are_spent_on_the_next(new_page, loyalty_server) -> None:
    till = await new_page(loyalty_server.url)
    await login(till, "Asha")
    await expect(till.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    await till.goto("/loyalty")
    await till.get_by_test_id("join-phone").fill(PHONE)
    await till.get_by_test_id("join-consent").check()
    await till.get_by_test_id("join-submit").tap()
    await expect(till.get_by_role("heading", name=re.compile("Customer 98xxxxxx10"))).to_be_visible()

    await till.goto("/pos")
    await till.locator("input[name=float]").fill("0")
    await till.get_by_role("button", name="Open shift").tap()
    await expect(till.locator("#scan-code")).to_be_visible()
    await bill_for_the_customer(till)
    await expect(till.get_by_test_id("points-none")).to_be_visible()  # nothing to spend yet
    await till.get_by_role("button", name=re.compile("^Exact")).tap()
    await till.get_by_test_id("complete").tap()
    await expect(till.get_by_test_id("points-earned")).to_have_text("54")
    await expect(till.get_by_test_id("receipt-points")).to_contain_text("98xxxxxx10")
    assert PHONE not in await till.get_by_test_id("sale-done").inner_text()

    await bill_for_the_customer(till)
    await expect(till.get_by_test_id("loyalty-balance")).to_have_text("54 points")
    await expect(till.get_by_test_id("points-input")).to_have_value("54")
    await till.get_by_test_id("use-points").tap()
    await expect(till.get_by_test_id("still-due")).to_have_text("₹491.00")
    await till.get_by_role("button", name=re.compile("^Exact")).tap()
    await till.get_by_test_id("complete").tap()
    await expect(till.get_by_test_id("points-used")).to_have_text("54")
    await expect(till.get_by_test_id("points-earned")).to_have_text("49")
    await expect(till.get_by_test_id("points-balance")).to_have_text("49")
    await expect(till.get_by_test_id("sale-done")).to_contain_text("Loyalty points")
