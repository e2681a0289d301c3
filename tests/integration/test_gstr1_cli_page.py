"""`kirana report gstr1` and the /reports/gstr1 page on a real store (issue #18)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from app.cli import main
from app.cli import report as report_cli
from app.core import clock as core_clock
from app.pos import shifts
from app.pos.models import SaleLine
from app.reports import gstr1_routes
from tests.integration.test_gstr1_z import OTHER_STATE, sell, store  # noqa: F401 (fixture)

NOV_30 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def today(monkeypatch):
    """The command and the page think it is 30 November 2026 (the store's local day)."""
    monkeypatch.setattr(core_clock, "utcnow", lambda: NOV_30)
    monkeypatch.setattr(gstr1_routes, "utcnow", lambda: NOV_30)


async def a_day(cfg, db, s, odd: bool = False) -> None:
    s["clock"].now = datetime(2026, 11, 12, 10, 0, tzinfo=cfg.tz).astimezone(UTC)
    shift = await shifts.open_shift(db, cfg, "C1", s["users"]["cashier"], 0)
    await sell(db, cfg, s, ([(0, 2), (3, 1)], None, None, None, "", False))
    await sell(db, cfg, s, ([(1, 1)], None, None, None, OTHER_STATE, False))
    if odd:  # older data: a line with an odd GST
        async with db.write() as session:
            await session.execute(update(SaleLine).values(tax_minor=SaleLine.tax_minor + 1))
    s["clock"].tick()
    await shifts.close_shift(db, cfg, shift.id, s["users"]["manager"], {})


async def run(cfg, *args: str):
    """The command in a thread of its own: it runs its own event loop (asyncio.run)."""
    return await asyncio.to_thread(
        CliRunner().invoke, main, ["report", "gstr1", "--config", cfg.source, *args])


# ---- the command ------------------------------------------------------------------------


async def test_cli_prints_sections_writes_files_and_agrees(cfg, db, store, today, tmp_path):  # noqa: F811
    await a_day(cfg, db, store)
    out = tmp_path / "gstr1"
    result = await run(cfg, "--month", "2026-11", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "B2B invoices" in result.output and "Agrees with the Z reports" in result.output
    names = sorted(p.name for p in out.iterdir())
    assert "b2b.csv" in names and "hsn_b2c.csv" in names and "docs.csv" in names
    json_file = next(p for p in out.iterdir() if p.suffix == ".json")
    data = json.loads(json_file.read_text())
    assert data["fp"] == "112026" and data["b2b"][0]["ctin"] == OTHER_STATE
    assert data["b2b"][0]["inv"][0]["itms"][0]["itm_det"]["iamt"] > 0
    as_json = await run(cfg, "--month", "2026-11", "--json")
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout) == data


@pytest.mark.parametrize(("month", "words"), [
    ("2026-13", "not a month of GST"), ("abc", "YYYY-MM"), ("2026-12", "has not begun yet"),
    ("2999-01", "has not begun yet"), ("", "YYYY-MM"), ("=cmd|' /C calc'!A0", "YYYY-MM"),
    ("x" * 100_000, "YYYY-MM"),
])
async def test_cli_bad_month_is_one_line_and_exit_2(cfg, db, today, month, words):
    result = await run(cfg, "--month", month)
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert words in text and "Traceback" not in result.output and len(text) < 200


async def test_cli_empty_month_is_a_valid_empty_export(cfg, db, today, tmp_path):
    result = await run(cfg, "--month", "2026-10", "--out", str(tmp_path / "oct"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data == {"gstin": cfg.store.gstin, "fp": "102026", "version": "GST3.2.4",
                    "hash": "hash"}
    rows = list(csv.reader(io.StringIO((tmp_path / "oct" / "b2b.csv").read_text())))
    assert rows[0][0] == "GSTIN/UIN of Recipient" and len(rows) == 1


async def test_cli_a_difference_exits_1_with_the_figures(cfg, db, store, today):  # noqa: F811
    await a_day(cfg, db, store, odd=True)
    result = await run(cfg, "--month", "2026-11")
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "Does not agree with the Z reports" in text and "taxable ₹0.0" in text


async def test_cli_out_into_a_file_is_one_line(cfg, db, today, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = await run(cfg, "--month", "2026-10", "--out", str(blocker / "sub"))
    assert result.exit_code == 2 and "cannot write the files there" in result.output
    assert report_cli.report.name == "report"


# ---- the page ------------------------------------------------------------------------------


async def test_manager_sees_the_page_and_downloads(client, cfg, db, store, login_as, today):  # noqa: F811
    await a_day(cfg, db, store)
    await login_as("manager")
    r = await client.get("/reports/gstr1?month=2026-11")
    assert r.status_code == 200
    assert 'data-testid="gstr1-reconciled"' in r.text and "B2B invoices" in r.text
    assert "/reports/gstr1.json?month=2026-11" in r.text
    j = await client.get("/reports/gstr1.json?month=2026-11")
    assert j.status_code == 200 and j.json()["b2b"][0]["ctin"] == OTHER_STATE
    assert "attachment" in j.headers["content-disposition"]
    c = await client.get("/reports/gstr1.csv?month=2026-11&section=b2cs")
    assert c.status_code == 200 and c.text.startswith("Type,Place Of Supply")
    bad = await client.get("/reports/gstr1.csv?month=2026-11&section=../../etc")
    assert bad.status_code == 400
    default = await client.get("/reports/gstr1")  # last month: October, empty
    assert default.status_code == 200 and "No bills or credit notes" in default.text


async def test_a_difference_is_red_with_the_figures(client, cfg, db, store, login_as, today):  # noqa: F811
    await a_day(cfg, db, store, odd=True)
    await login_as("admin")
    r = await client.get("/reports/gstr1?month=2026-11")
    assert r.status_code == 200 and 'data-testid="gstr1-mismatch"' in r.text
    assert "Difference: taxable ₹0.0" in r.text


@pytest.mark.parametrize("month", ["2026-13", "abc", "2027-01", "<script>x</script>",
                                   "\x00", "9" * 5000])
async def test_a_bad_month_on_the_page_is_a_clear_400(client, login_as, today, month):
    await login_as("manager")
    r = await client.get("/reports/gstr1", params={"month": month})
    assert r.status_code == 400
    if len(month) < 500 and "\x00" not in month:  # else the app's input guard answers first
        assert 'data-testid="gstr1-error"' in r.text
    assert "<script>x" not in r.text
    j = await client.get("/reports/gstr1.json", params={"month": month})
    assert j.status_code == 400


@pytest.mark.parametrize("role", ["cashier", "picker"])
async def test_cashier_and_picker_may_not(client, login_as, role, today):
    await login_as(role)
    for path in ("/reports/gstr1?month=2026-11", "/reports/gstr1.json?month=2026-11",
                 "/reports/gstr1.csv?month=2026-11&section=b2b"):
        assert (await client.get(path)).status_code == 403
