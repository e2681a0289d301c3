"""Catalogue CSV: pure parsing and validation, and the export writer.

Columns (header row required, order free, names case-insensitive):

| column        | required | example                | meaning                                        |
|---------------|----------|------------------------|------------------------------------------------|
| sku           | yes      | ATA-AASH-5KG           | your product code, unique, A-Z 0-9 - _ .       |
| name          | yes      | Aashirvaad Atta 5 kg   | shown on screens and receipts                  |
| name_local    | no       | आशीर्वाद आटा 5 kg       | the local-language name, shown beside `name`   |
| price         | yes      | 245.00                 | selling price in rupees incl. GST (per kg/L)   |
| mrp           | no       | 260.00                 | MRP in rupees incl. GST; empty: not known      |
| gst_rate      | yes      | 5                      | GST percent: 0, 0.25, 3, 5, 12, 18, 28, 40      |
| barcodes      | no       | 8901234567895|890…     | EAN/UPC/GTIN codes separated by `|`            |
| hsn           | no       | 1101                   | HSN code, 4, 6 or 8 digits                     |
| unit          | no       | piece                  | piece, kg or litre (default piece)             |
| pack_size     | no       | 5 kg                   | free text                                      |
| category      | no       | Atta, Rice & Dals      | free text                                      |
| active        | no       | yes                    | yes/no, true/false, 1/0 (default yes)          |
| reorder_level | no       | 10                     | low-stock mark in pieces, grams or ml          |
| tracks_expiry | no       | no                     | yes: stock per batch and expiry (default no)    |

A file without the tracks_expiry column (one written before it existed) leaves every
product's flag as it is; new products from it do not track expiry. Likewise a file
without the mrp column leaves every product's MRP as it is (new products have none);
with it, an empty cell means no MRP. The same holds for name_local (issue #22).
A price above the product's MRP (the row's, or the one kept) refuses the file: nothing
is sold above its MRP (Legal Metrology).

Every row is checked before anything is written, by the product rules every other
way in uses too (app/catalog/rules.py); errors name the line number (as a spreadsheet
shows it, header = line 1) and the reason.

The export writes text cells that a spreadsheet would run as a formula (``=``, ``+``,
``-``, ``@`` …) with a single quote in front (app/core/csv_safe.py); the import drops
that quote again, so an exported catalogue imports unchanged.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from app.catalog.barcodes import MeasureRule
from app.catalog.rules import parse_product
from app.core import csv_safe
from app.core.i18n import _
from app.core.money import MAX_QUANTITY, to_decimal_string

COLUMNS = (
    "sku",
    "name",
    "name_local",
    "barcodes",
    "price",
    "mrp",
    "gst_rate",
    "hsn",
    "unit",
    "pack_size",
    "category",
    "active",
    "reorder_level",
    "tracks_expiry",
)
REQUIRED = ("sku", "name", "price", "gst_rate")


@dataclass(frozen=True)
class ProductRow:
    line: int
    sku: str
    name: str
    price_minor: int
    gst_rate_bp: int
    barcodes: tuple[str, ...]
    hsn: str = ""
    unit: str = "piece"
    pack_size: str = ""
    category: str = ""
    active: bool = True
    reorder_level: int = 0
    tracks_expiry: bool | None = False  # None: the file has no such column (keep the flag)
    mrp_minor: int | None = None  # None: no MRP (a file without the column: keep the MRP)
    name_local: str = ""


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return _("line %(line)s: %(message)s") % {"line": self.line, "message": self.message}


@dataclass
class ParsedCatalog:
    rows: list[ProductRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    mrp_column: bool = True  # False: the file has no mrp column (each product keeps its MRP)
    name_local_column: bool = True  # False: no name_local column (each keeps its own)

    @property
    def clean(self) -> bool:
        return not self.errors


def _row(line: int, rec: dict[str, str], rules: Sequence[MeasureRule]) -> ProductRow:
    """One row through the product rules (app/catalog/rules.py), like every other input."""
    get = lambda k: csv_safe.unescape(rec.get(k) or "")  # noqa: E731
    p = parse_product(
        sku=get("sku"), name=get("name"), price=get("price"), gst_rate=get("gst_rate"),
        barcodes=get("barcodes").split("|"), hsn=get("hsn"), unit=get("unit"),
        pack_size=get("pack_size"), category=get("category"), active=get("active"),
        reorder_level=get("reorder_level"), tracks_expiry=get("tracks_expiry"),
        mrp=get("mrp"), name_local=get("name_local"), measure_rules=rules)
    row = ProductRow(line=line, **vars(p))
    return row if "tracks_expiry" in rec else dataclasses.replace(row, tracks_expiry=None)


def parse_line_quantity(text: str) -> int:
    """An order line's quantity typed in a file: a whole number from 1 to MAX_QUANTITY."""
    cleaned = text.strip()
    if not re.fullmatch(r"[0-9]{1,7}", cleaned) or not 0 < int(cleaned) <= MAX_QUANTITY:
        shown = cleaned if len(cleaned) <= 20 else cleaned[:20] + "…"
        raise ValueError(_("quantity %(qty)r must be a whole number from 1 to %(most)s")
                         % {"qty": shown, "most": f"{MAX_QUANTITY:,}"})
    return int(cleaned)


class CsvUnreadable(ValueError):
    """An uploaded CSV that cannot be read past `line` (or whose header is wrong)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def csv_rows(reader: csv.DictReader) -> Iterator[dict[str, str]]:
    """The rows of an uploaded CSV (both uploads read through this). A field over the csv
    module's limit (128 KiB) or a broken quote raises CsvUnreadable naming the line, so
    the upload says where the file is wrong instead of failing with a 500."""
    try:
        yield from reader
    except csv.Error as exc:
        if "field limit" in str(exc):
            message = (_("a field is longer than %(kib)s KiB; the file was not read past this "
                         "line") % {"kib": csv.field_size_limit() // 1024})
        else:
            message = _("the file cannot be read past this line (%(reason)s)") % {"reason": exc}
        raise CsvUnreadable(reader.line_num + 1, message) from None  # the line it failed on


def csv_header(reader: csv.DictReader) -> list[str]:
    """The header row of an uploaded CSV (CsvUnreadable on line 1 if it cannot be read)."""
    try:
        return list(reader.fieldnames or [])
    except csv.Error as exc:
        raise CsvUnreadable(1, _("the header row cannot be read (%(reason)s)")
                             % {"reason": str(exc)[:80]}) from None


def open_table(text: str, columns: Sequence[str], required: Sequence[str]) -> csv.DictReader:
    """An uploaded CSV's reader with its header checked (Excel's BOM dropped, column
    names stripped and lower-cased). CsvUnreadable when the whole file must be refused:
    the header cannot be read, there is none, or columns are missing or unknown."""
    if text.startswith("\ufeff"):
        text = text[1:]  # Excel's UTF-8 BOM
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in csv_header(reader)]
    if not header:
        raise CsvUnreadable(1, _("the file is empty (a header row is needed)"))
    reader.fieldnames = header
    unknown = [h for h in header if h not in columns]
    missing = [c for c in required if c not in header]
    if unknown or missing:
        parts = []
        if missing:
            parts.append(_("missing column(s): %(columns)s") % {"columns": ", ".join(missing)})
        if unknown:
            parts.append(_("unknown column(s): %(columns)s") % {"columns": ", ".join(unknown)})
        raise CsvUnreadable(1, "; ".join(parts))
    return reader


def parse_catalog(text: str, rules: Sequence[MeasureRule] = ()) -> ParsedCatalog:
    """Validate a whole file; duplicates inside the file are errors too."""
    out = ParsedCatalog()
    try:
        reader = open_table(text, COLUMNS, REQUIRED)
    except CsvUnreadable as exc:
        out.errors.append(RowError(exc.line, str(exc)))
        return out
    out.mrp_column = "mrp" in (reader.fieldnames or ())
    out.name_local_column = "name_local" in (reader.fieldnames or ())
    seen_sku: dict[str, int] = {}
    seen_code: dict[str, int] = {}
    try:
        for line, rec in _numbered(reader):
            _take_row(out, line, rec, rules, seen_sku, seen_code)
    except CsvUnreadable as exc:
        out.errors.append(RowError(exc.line, str(exc)))
    return out


def _numbered(reader: csv.DictReader) -> Iterator[tuple[int, dict[str, str]]]:
    for rec in csv_rows(reader):
        yield reader.line_num, rec


def _take_row(out: ParsedCatalog, line: int, rec: dict[str, str], rules: Sequence[MeasureRule],
              seen_sku: dict[str, int], seen_code: dict[str, int]) -> None:
    """Check one row of the catalogue file and add it (or its error) to `out`."""
    if None in rec:
        out.errors.append(RowError(line, _("more fields than the header has columns")))
        return
    if not any((v or "").strip() for v in rec.values()):
        return  # blank line
    try:
        row = _row(line, rec, rules)
    except ValueError as exc:
        out.errors.append(RowError(line, str(exc)))
        return
    if row.sku in seen_sku:
        out.errors.append(RowError(line, _("sku %(sku)s already on line %(line)s")
                                   % {"sku": row.sku, "line": seen_sku[row.sku]}))
        return
    clash = next((c for c in row.barcodes if c in seen_code), None)
    if clash:
        out.errors.append(RowError(line, _("barcode %(code)s already on line %(line)s")
                                   % {"code": clash, "line": seen_code[clash]}))
        return
    seen_sku[row.sku] = line
    seen_code.update(dict.fromkeys(row.barcodes, line))
    out.rows.append(row)


def write_catalog(products: Iterable[dict], stream: TextIO) -> int:
    """Write products (dicts with the model's fields) in the import format."""
    writer = csv_safe.writer(stream)
    writer.writerow(COLUMNS)
    n = 0
    for p in products:
        writer.writerow(
            [
                p["sku"],
                p["name"],
                p.get("name_local", ""),
                "|".join(p["barcodes"]),
                to_decimal_string(p["price_minor"]),
                "" if p.get("mrp_minor") is None else to_decimal_string(p["mrp_minor"]),
                f"{p['gst_rate_bp'] / 100:g}",
                p["hsn"],
                p["unit"],
                p["pack_size"],
                p["category"],
                "yes" if p["active"] else "no",
                p["reorder_level"],
                "yes" if p.get("tracks_expiry") else "no",
            ]
        )
        n += 1
    return n
