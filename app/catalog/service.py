"""Catalogue use cases: scan lookup (the hot path), search, CSV import/export."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import selectinload

from app.catalog.barcodes import BarcodeError, MeasureRule, ScanResult, parse_scan
from app.catalog.csv_io import ParsedCatalog, ProductRow, RowError
from app.catalog.models import Barcode, Product
from app.catalog.rules import ProductError, check_within_mrp
from app.core.clock import utcnow
from app.core.db import AnyDatabase, Database, Session
from app.core.i18n import _
from app.core.ids import uuid7
from app.core.prepared import Prepared

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class ScanLookup:
    scan: ScanResult
    product: Product


class UnknownProduct(LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(_("No product has barcode %(code)s. Search by name to pick it.")
                         % {"code": code})
        self.code = code


async def lookup_scan(db: Database, code: str, rules: Sequence[MeasureRule]) -> ScanLookup:
    """Parse a scanned code and find its product in one indexed query (the API's scan,
    which also shows the barcodes, reads plain rows: lookup_scan_card).

    Raises BarcodeError (malformed code) or UnknownProduct (valid but not ours)."""
    scan = parse_scan(code, rules)
    async with db.read() as s:
        return await find_scanned(s, scan)


async def find_scanned(s: Session, scan: ScanResult) -> ScanLookup:
    """The product for a parsed scan, inside the caller's transaction."""
    product = await product_for_code(s, scan.lookup_code)
    if product is None and _by_sku(scan):
        product = await s.scalar(select(Product).where(Product.sku == _by_sku(scan)))
    if product is None:
        raise UnknownProduct(scan.lookup_code)
    return ScanLookup(scan, product)


def _by_sku(scan: ScanResult) -> str:
    """A typed text that is no barcode is tried as a SKU (the only other way a scan finds
    a product); "" when the scan is a barcode."""
    return scan.lookup_code.upper() if scan.symbology == "text" else ""


@dataclass(frozen=True, slots=True)
class ProductInfo:
    """What a till line needs of a product, read as a plain row: the scan hot path
    builds no ORM object (SQLAlchemy's per-object cost was most of a scan's CPU)."""

    id: str
    sku: str
    name: str
    unit: str
    price_minor: int
    gst_rate_bp: int
    active: bool
    mrp_minor: int | None = None  # written on the sale line (the receipt's MRP and saving)
    category: str = ""  # what promotions may target (issue #21)
    name_local: str = ""  # shown beside the name on the till's lines (issue #22)


_INFO = Product.__table__.c
PRODUCT_INFO_COLUMNS = (_INFO.id, _INFO.sku, _INFO.name, _INFO.unit, _INFO.price_minor,
                        _INFO.gst_rate_bp, _INFO.active, _INFO.mrp_minor, _INFO.category,
                        _INFO.name_local)


def _columns_by_code(*columns: Any) -> Prepared:
    """`columns` of the product a barcode (:code) names."""
    return Prepared(select(*columns)
                    .join(Barcode.__table__, Barcode.__table__.c.product_id == _INFO.id)
                    .where(Barcode.__table__.c.code == bindparam("code")))


def _columns_by_sku(*columns: Any) -> Prepared:
    """`columns` of the product with this SKU (:sku)."""
    return Prepared(select(*columns).where(_INFO.sku == bindparam("sku")))


# Prepared (core/prepared.py): every till scan runs one of these (issue #15).
_INFO_BY_CODE = _columns_by_code(*PRODUCT_INFO_COLUMNS)
_INFO_BY_SKU = _columns_by_sku(*PRODUCT_INFO_COLUMNS)


async def _scanned_row(s: Session, scan: ScanResult, by_code: Prepared, by_sku: Prepared
                       ) -> Any:
    """find_scanned's rule on plain rows: the barcode, then the SKU for typed text."""
    row = await by_code.first(s, {"code": scan.lookup_code})
    if row is None and _by_sku(scan):
        row = await by_sku.first(s, {"sku": _by_sku(scan)})
    if row is None:
        raise UnknownProduct(scan.lookup_code)
    return row


async def find_scanned_info(s: Session, scan: ScanResult) -> ProductInfo:
    """find_scanned as a plain row."""
    return ProductInfo(*await _scanned_row(s, scan, _INFO_BY_CODE, _INFO_BY_SKU))


async def local_name(db: AnyDatabase, product_id: str) -> str:
    """A product's name in the local language ("" = none), for the pick screen."""
    async with db.read() as s:
        return await s.scalar(select(Product.name_local).where(Product.id == product_id)) or ""


async def product_info_by_sku(s: Session, sku: str) -> ProductInfo | None:
    row = await _INFO_BY_SKU.first(s, {"sku": sku.upper()})
    return ProductInfo(*row) if row else None


@dataclass(frozen=True, slots=True)
class ProductCard:
    """What the API shows of a product (catalog.routes.product_json), read as plain rows:
    `GET /api/v1/scan` built an ORM Product and loaded its barcodes through the ORM, about
    two thirds of that request's CPU (issue #15: API scan within 4x of /healthz)."""

    id: str
    sku: str
    name: str
    price_minor: int
    mrp_minor: int | None
    gst_rate_bp: int
    hsn: str
    unit: str
    pack_size: str
    category: str
    active: bool
    tracks_expiry: bool
    barcodes: tuple[str, ...] = ()


_CARD_COLUMNS = (_INFO.id, _INFO.sku, _INFO.name, _INFO.price_minor, _INFO.mrp_minor,
                 _INFO.gst_rate_bp, _INFO.hsn, _INFO.unit, _INFO.pack_size, _INFO.category,
                 _INFO.active, _INFO.tracks_expiry)
_CARD_BY_CODE = _columns_by_code(*_CARD_COLUMNS)
_CARD_BY_SKU = _columns_by_sku(*_CARD_COLUMNS)
# In code order, as Product.barcodes gives them.
_CODES_OF = Prepared(select(Barcode.__table__.c.code)
                     .where(Barcode.__table__.c.product_id == bindparam("product_id"))
                     .order_by(Barcode.__table__.c.code))


@dataclass(frozen=True)
class ScanCard:
    scan: ScanResult
    product: ProductCard


async def lookup_scan_card(db: Database, code: str, rules: Sequence[MeasureRule]) -> ScanCard:
    """lookup_scan for the API: the same rule (barcode, then SKU for typed text), the
    product as a ProductCard with its barcodes. Raises BarcodeError or UnknownProduct."""
    scan = parse_scan(code, rules)
    async with db.read() as s:
        row = await _scanned_row(s, scan, _CARD_BY_CODE, _CARD_BY_SKU)
        codes = tuple(code for (code,) in await _CODES_OF.all(s, {"product_id": row.id}))
    return ScanCard(scan, ProductCard(**row._asdict(), barcodes=codes))


async def product_for_code(s: Session, code: str, options: Sequence = ()) -> Product | None:
    return await s.scalar(
        select(Product).options(*options)
        .join(Barcode, Barcode.product_id == Product.id).where(Barcode.code == code)
    )


async def get_by_sku(db: Database, sku: str, *, with_barcodes: bool = False) -> Product | None:
    options = [selectinload(Product.barcodes)] if with_barcodes else []
    async with db.read() as s:
        return await s.scalar(select(Product).options(*options).where(Product.sku == sku.upper()))


async def get_by_id(db: Database, product_id: str) -> Product | None:
    async with db.read() as s:
        return await s.get(Product, product_id)


async def search(db: Database, query: str, limit: int = 20) -> list[Product]:
    """Type-ahead: exact barcode or sku first, then sku prefix, then name words ranked by
    how they match (_name_rank: "toor" finds "Toor Dal" before "Santoor Soap")."""
    q = " ".join(query.split())[:60]
    if not q:
        return []
    async with db.read() as s:
        exact = await product_for_code(s, q)
        if exact is None:
            try:
                exact = await product_for_code(s, parse_scan(q).lookup_code)
            except BarcodeError:
                exact = None
        words = [w for w in q.split() if w]
        name_match = and_(
            *(Product.name.ilike(f"%{w}%", escape="\\") for w in map(_escape_like, words))
        )
        sku_prefix = Product.sku.startswith(q.upper(), autoescape=True)
        stmt = (
            select(Product)
            .where(or_(sku_prefix, name_match))
            .order_by(Product.active.desc(), case((sku_prefix, 0), else_=1),
                      _name_rank(words), Product.name)
            .limit(limit)
        )
        found = list(await s.scalars(stmt))
    if exact is not None:
        found = [exact] + [p for p in found if p.id != exact.id][: limit - 1]
    return found


# What separates words in a product name ("Toor Dal (Loose)", "Sandal & Turmeric",
# "Atta-5kg"): each becomes a space before names and query words are compared.
_WORD_SEPARATORS = "()[],.&+-/"


def _spaced(text: str) -> str:
    return "".join(" " if c in _WORD_SEPARATORS else c for c in text.lower())


def _name_rank(words: Sequence[str]) -> ColumnElement[int]:
    """How well a name matches the query words, lower first: per word 0 when it is a whole
    word of the name, 1 when a word of the name starts with it, 2 when it is inside a
    word. One SQL expression (SQLite and PostgreSQL) on the name padded with spaces and
    its separators turned into spaces, so the ranking happens before the LIMIT."""
    padded: ColumnElement[str] = func.lower(Product.name)
    for sep in _WORD_SEPARATORS:
        padded = func.replace(padded, sep, " ")
    padded = literal(" ") + padded + literal(" ")
    rank: ColumnElement[int] = literal(0)
    for word in words:
        parts = [_escape_like(w) for w in _spaced(word).split()]
        if not parts:
            continue
        word_like = " ".join(parts)
        rank = rank + case(
            (padded.like(f"% {word_like} %", escape="\\"), 0),
            (padded.like(f"% {word_like}%", escape="\\"), 1),
            else_=2,
        )
    return rank


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ---- CSV import / export --------------------------------------------------------


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[RowError] = field(default_factory=list)
    written: bool = False


class ImportRejected(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(_("%(num)s bad row(s); nothing was written") % {"num": len(errors)})
        self.errors = errors


def _fields(row: ProductRow, mrp_column: bool = True, name_local_column: bool = True) -> dict:
    """The columns a row writes; a file without the tracks_expiry column leaves the
    flag alone (None), so an export from before it existed turns no product's off."""
    fields = {
        "name": row.name,
        "price_minor": row.price_minor,
        "gst_rate_bp": row.gst_rate_bp,
        "hsn": row.hsn,
        "unit": row.unit,
        "pack_size": row.pack_size,
        "category": row.category,
        "active": row.active,
        "reorder_level": row.reorder_level,
    }
    if row.tracks_expiry is not None:
        fields["tracks_expiry"] = row.tracks_expiry
    if mrp_column:  # a file without the mrp column leaves each product's MRP alone
        fields["mrp_minor"] = row.mrp_minor
    if name_local_column:  # likewise the local-language name (issue #22)
        fields["name_local"] = row.name_local
    return fields


# The product columns import_catalog reads to tell an unchanged row (in this order).
_COMPARED = ("name", "price_minor", "gst_rate_bp", "hsn", "unit", "pack_size", "category",
             "active", "reorder_level", "tracks_expiry", "mrp_minor", "name_local")


def _above_kept_mrp(row: ProductRow, known: tuple[str, dict] | None, mrp_column: bool) -> str:
    """A file without the mrp column keeps each product's MRP: its new price must not be
    above that one ("" when it is not). A row with an mrp was checked by the rules."""
    if mrp_column or known is None:
        return ""
    try:
        check_within_mrp(row.sku, row.price_minor, known[1]["mrp_minor"])
    except ProductError as exc:
        return _("%(reason)s (the file has no mrp column; the product keeps its MRP)") % {"reason": exc}
    return ""


async def import_catalog(
    db: AnyDatabase,
    parsed: ParsedCatalog,
    *,
    skip_bad: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    chunk: int = 2000,
    after_write: Callable[[Session, list[str]], Awaitable[None]] | None = None,
) -> ImportReport:
    """Upsert products by sku in ONE transaction. Any bad row (from the file, or a
    barcode owned by a product this file does not mention) rejects the whole file
    unless skip_bad; a dry run checks everything and writes nothing."""
    report = ImportReport()
    errors = list(parsed.errors)
    now = utcnow()
    async with db.write() as s:
        existing = {
            sku: (pid, dict(zip(_COMPARED, fields, strict=True)))
            for sku, pid, *fields in (
                await s.execute(
                    select(
                        Product.sku,
                        Product.id,
                        Product.name,
                        Product.price_minor,
                        Product.gst_rate_bp,
                        Product.hsn,
                        Product.unit,
                        Product.pack_size,
                        Product.category,
                        Product.active,
                        Product.reorder_level,
                        Product.tracks_expiry,
                        Product.mrp_minor,
                        Product.name_local,
                    )
                )
            ).all()
        }
        owner = dict((await s.execute(select(Barcode.code, Barcode.product_id))).all())
        codes_by_pid: dict[str, set[str]] = {}
        for code, pid in owner.items():
            codes_by_pid.setdefault(pid, set()).add(code)
        file_skus = {r.sku for r in parsed.rows}
        sku_of = {pid: sku for sku, (pid, _f) in existing.items()}

        good: list[ProductRow] = []
        for row in parsed.rows:
            known = existing.get(row.sku, (None,))[0]
            if problem := _above_kept_mrp(row, existing.get(row.sku), parsed.mrp_column):
                errors.append(RowError(row.line, problem))
                continue
            clash = next(
                (
                    c
                    for c in row.barcodes
                    if c in owner and owner[c] != known and sku_of.get(owner[c]) not in file_skus
                ),
                None,
            )
            if clash:
                errors.append(
                    RowError(
                        row.line,
                        _("barcode %(code)s belongs to product %(sku)s")
                        % {"code": clash, "sku": sku_of.get(owner[clash], "?")},
                    )
                )
                continue
            good.append(row)
        errors.sort(key=lambda e: e.line)
        if errors and not skip_bad:
            raise ImportRejected(errors)
        report.skipped = errors

        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        barcode_rows: list[dict[str, str]] = []
        touched: list[str] = []
        for row in good:
            values = _fields(row, parsed.mrp_column, parsed.name_local_column)
            if row.sku in existing:
                pid, old = existing[row.sku]
                same = all(old[k] == v for k, v in values.items())
                if same and codes_by_pid.get(pid, set()) == set(row.barcodes):
                    report.unchanged += 1
                    continue
                updates.append({"pid": pid, **values, "updated_at": now})
                report.updated += 1
            else:
                pid = uuid7()
                inserts.append({"id": pid, "sku": row.sku, "tracks_expiry": False,
                                "mrp_minor": None, "name_local": "", **values,
                                "updated_at": now})
                report.created += 1
            touched.append(pid)
            barcode_rows.extend({"code": c, "product_id": pid} for c in row.barcodes)
        if dry_run:
            await s.rollback()
            return report
        total = len(inserts) + len(updates) + len(barcode_rows)
        done = 0
        for i in range(0, len(touched), chunk):
            await s.execute(delete(Barcode).where(Barcode.product_id.in_(touched[i : i + chunk])))
        # Codes moving between products in this file: free them before re-inserting.
        moving = [b["code"] for b in barcode_rows]
        for i in range(0, len(moving), chunk):
            await s.execute(delete(Barcode).where(Barcode.code.in_(moving[i : i + chunk])))
        for batch, stmt in ((inserts, insert(Product)), (updates, None)):
            for i in range(0, len(batch), chunk):
                part = batch[i : i + chunk]
                if stmt is not None:
                    await s.execute(stmt, part)
                else:
                    conn = await s.connection()
                    products = cast(Table, Product.__table__)
                    await conn.execute(
                        update(products).where(products.c.id == bindparam("pid")),
                        part,
                    )
                done += len(part)
                if progress:
                    progress(done, total)
        for i in range(0, len(barcode_rows), chunk):
            part = barcode_rows[i : i + chunk]
            await s.execute(insert(Barcode), part)
            done += len(part)
            if progress:
                progress(done, total)
        if after_write is not None:  # the hub announces the changes in this transaction
            await after_write(s, touched)
        report.written = True
    return report


async def export_rows(db: AnyDatabase) -> list[dict]:
    """Every product as write_catalog takes it (the store's export and the hub's)."""
    async with db.read() as s:
        products = list(await s.scalars(
            select(Product).options(selectinload(Product.barcodes))
            .order_by(Product.category, Product.name)))
        return [
            {
                "sku": p.sku,
                "name": p.name,
                "name_local": p.name_local,
                "barcodes": [b.code for b in p.barcodes],
                "price_minor": p.price_minor,
                "mrp_minor": p.mrp_minor,
                "gst_rate_bp": p.gst_rate_bp,
                "hsn": p.hsn,
                "unit": p.unit,
                "pack_size": p.pack_size,
                "category": p.category,
                "active": p.active,
                "reorder_level": p.reorder_level,
                "tracks_expiry": p.tracks_expiry,
            }
            for p in products
        ]
