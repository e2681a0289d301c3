"""Supplier CSV: pure parsing and validation, and the export writer.

One row per product a supplier sells us; a supplier with no products yet has one row
with the product columns empty. Header row required, order free, names case-insensitive:

| column         | required | example          | meaning                                       |
|----------------|----------|------------------|-----------------------------------------------|
| supplier       | yes      | Sharma Traders   | the supplier's name (rows with it belong together) |
| gstin          | no       | 27AAPFU0939F1ZV  | checked with its check character              |
| phone          | no       | +91 98450 12345  |                                               |
| lead_time_days | no       | 2                | days from sending an order to delivery (default 1) |
| sku            | no       | ATA-AASH-5KG     | a product of the catalogue                    |
| case_cost      | with sku | 1,380.00         | the supplier's price for one case, in rupees  |
| pack_size      | no       | 6                | pieces (grams/ml if loose) in one case (default 1) |

A supplier's rows must agree on gstin, phone and lead time. The whole file is checked
before anything is written (the service also checks that each SKU is in the catalogue);
errors name the line as a spreadsheet shows it (header = line 1). Importing a supplier
replaces the list of products it sells us with the file's rows.

Cells are read through app/core/csv_safe.unescape and written through its writer, so a
formula cell is never run by a spreadsheet and an exported file imports unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

from app.catalog.csv_io import CsvUnreadable, RowError, csv_rows, open_table
from app.catalog.rules import ProductError, check_sku
from app.core import csv_safe
from app.core.i18n import _
from app.core.money import to_decimal_string
from app.purchasing.rules import (
    SupplierError,
    SupplierFields,
    parse_case_cost,
    parse_pack_size,
    parse_supplier,
)

COLUMNS = ("supplier", "gstin", "phone", "lead_time_days", "sku", "case_cost", "pack_size")
REQUIRED = ("supplier",)


@dataclass(frozen=True)
class SupplierItemRow:
    line: int
    sku: str
    case_cost_minor: int
    pack_size: int


@dataclass
class SupplierBlock:
    """One supplier of the file with its product rows."""

    line: int
    fields: SupplierFields
    items: list[SupplierItemRow] = field(default_factory=list)


@dataclass
class ParsedSuppliers:
    suppliers: list[SupplierBlock] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.errors


def parse_suppliers(text: str) -> ParsedSuppliers:
    out = ParsedSuppliers()
    try:
        reader = open_table(text, COLUMNS, REQUIRED)
    except CsvUnreadable as exc:
        out.errors.append(RowError(exc.line, str(exc)))
        return out
    blocks: dict[str, SupplierBlock] = {}
    seen: dict[tuple[str, str], int] = {}
    try:
        for rec in csv_rows(reader):
            _take_row(out, reader.line_num, rec, blocks, seen)
    except CsvUnreadable as exc:
        out.errors.append(RowError(exc.line, str(exc)))
    out.suppliers = list(blocks.values())
    return out


def _take_row(out: ParsedSuppliers, line: int, rec: dict[str, str],
              blocks: dict[str, SupplierBlock], seen: dict[tuple[str, str], int]) -> None:
    if None in rec:
        out.errors.append(RowError(line, _("more fields than the header has columns")))
        return
    if not any((v or "").strip() for v in rec.values()):
        return
    get = lambda k: csv_safe.unescape(rec.get(k) or "")  # noqa: E731
    try:
        fields = parse_supplier(name=get("supplier"), gstin=get("gstin"), phone=get("phone"),
                                lead_time_days=get("lead_time_days") or "1")
        item = None
        if get("sku").strip():
            item = SupplierItemRow(line=line, sku=check_sku(get("sku")),
                                   case_cost_minor=parse_case_cost(get("case_cost")),
                                   pack_size=parse_pack_size(get("pack_size")))
        elif get("case_cost").strip() or get("pack_size").strip():
            raise SupplierError(_("case_cost or pack_size given without a sku"))
    except (SupplierError, ProductError) as exc:
        out.errors.append(RowError(line, str(exc)))
        return
    key = fields.name.casefold()
    block = blocks.get(key)
    if block is None:
        block = blocks[key] = SupplierBlock(line=line, fields=fields)
    elif block.fields != fields:
        out.errors.append(RowError(line, _("supplier %(name)s has other gstin, phone or lead "
                                           "time on line %(line)s")
                                   % {"name": fields.name, "line": block.line}))
        return
    if item is not None:
        if (key, item.sku) in seen:
            out.errors.append(RowError(line, _("%(name)s already has %(sku)s on line %(line)s")
                                       % {"name": fields.name, "sku": item.sku,
                                          "line": seen[key, item.sku]}))
            return
        seen[key, item.sku] = line
        block.items.append(item)


def write_suppliers(suppliers: Iterable[dict], stream: TextIO) -> int:
    """Suppliers as dicts (name, gstin, phone, lead_time_days, items: [{sku,
    case_cost_minor, pack_size}]) in the import format; returns the rows written."""
    writer = csv_safe.writer(stream)
    writer.writerow(COLUMNS)
    n = 0
    for s in suppliers:
        head = [s["name"], s["gstin"], s["phone"], s["lead_time_days"]]
        for item in s["items"] or [None]:
            tail = (["", "", ""] if item is None else
                    [item["sku"], to_decimal_string(item["case_cost_minor"]), item["pack_size"]])
            writer.writerow(head + tail)
            n += 1
    return n


PO_COLUMNS = ("sku", "name", "quantity", "unit", "pack_size", "pieces", "case_cost",
              "line_cost")


def write_purchase_order(lines: Iterable[dict], stream: TextIO) -> int:
    """A purchase order's lines for the supplier (dicts with the PO_COLUMNS keys; money
    in paise)."""
    writer = csv_safe.writer(stream)
    writer.writerow(PO_COLUMNS)
    n = 0
    for ln in lines:
        writer.writerow([ln["sku"], ln["name"], ln["quantity"], ln["unit"], ln["pack_size"],
                         ln["pieces"], to_decimal_string(ln["case_cost_minor"]),
                         to_decimal_string(ln["line_cost_minor"])])
        n += 1
    return n
