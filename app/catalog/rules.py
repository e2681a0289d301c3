"""The product rules: one pure validator for every way a product enters a catalogue.

The store's catalogue CSV (csv_io), the hub's product form and CSV import, and the CLI's
imports all check a product here, so what one of them takes the others take too, in the
same stored form. No I/O: text in, checked values (or a ProductError naming the field) out.

- SKU: A-Z, 0-9 and ``. _ -``, starting with a letter or digit, at most 40 (upper-cased).
  No ``/``: a SKU is a part of page and API addresses (``/products/{sku}``).
- name: spaces collapsed, 1 to 120 characters (refused, not cut, when longer).
- price: rupees by money.parse_amount, more than zero and at most ₹1 crore.
- MRP (maximum retail price, tax inclusive): empty (unknown, none shown) or a price like
  the price; the selling price may not be above it (Legal Metrology (Packaged
  Commodities) Rules: no sale above the MRP), checked by `check_within_mrp`.
- GST: one of the slabs (money.GST_SLABS_BP); HSN: empty or 4, 6 or 8 digits.
- unit: piece, kg or litre; reorder level: a whole number up to 1,00,00,000.
- tracks expiry: yes/no (empty is no): the stores keep its stock per batch and expiry.
- barcodes: what a scan of the code would look up (barcodes.parse_scan): GTINs in their
  canonical form, and in-store variable-measure codes (scale labels) only when a barcode
  rule matches them and their value digits are zero. GS1 element strings and free text are
  refused: a product barcode is an EAN/UPC/GTIN or a scale label's item code.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.catalog.barcodes import BarcodeError, MeasureRule, parse_scan
from app.core.i18n import _
from app.core.money import GST_SLABS_BP, MoneyError, format_amount, parse_amount, parse_gst_rate

UNITS = ("piece", "kg", "litre")
SKU_MAX = 40
SKU_RE = re.compile(rf"[A-Z0-9][A-Z0-9._-]{{0,{SKU_MAX - 1}}}", re.ASCII)
NAME_MAX = 120
HSN_RE = re.compile(r"[0-9]{4}|[0-9]{6}|[0-9]{8}", re.ASCII)
PACK_SIZE_MAX = 20
CATEGORY_MAX = 60
MAX_PRICE_MINOR = 1_00_00_000_00  # ₹1 crore: anything above is a typo, not a grocery item
MAX_REORDER_LEVEL = 1_00_00_000
_REORDER_RE = re.compile(r"[0-9]{1,8}", re.ASCII)
TRUE_WORDS = frozenset({"yes", "y", "true", "1", ""})
FALSE_WORDS = frozenset({"no", "n", "false", "0"})
PRICE_RULE = f"price must be more than zero and at most {format_amount(MAX_PRICE_MINOR)[:-3]}"
MRP_RULE = ("mrp must be empty (not known) or more than zero and at most "
            f"{format_amount(MAX_PRICE_MINOR)[:-3]}")


class ProductError(ValueError):
    """A product field that breaks a rule; ``str(e)`` names the field and is shown to staff."""


@dataclass(frozen=True)
class ProductFields:
    """One product as every catalogue stores it (the output of `check_product`)."""

    sku: str
    name: str
    price_minor: int
    gst_rate_bp: int
    barcodes: tuple[str, ...] = ()
    hsn: str = ""
    unit: str = "piece"
    pack_size: str = ""
    category: str = ""
    active: bool = True
    reorder_level: int = 0
    tracks_expiry: bool = False
    mrp_minor: int | None = None  # None: no MRP known (none shown, no saving counted)
    name_local: str = ""  # the name in the local language (issue #22); "" = none


def _shown(text: str) -> str:
    return repr(text if len(text) <= 20 else text[:20] + "…")


def _text(value: object) -> str:
    """Fields arrive as text; anything else (a test's None) is read as its text."""
    return value if isinstance(value, str) else ("" if value is None else str(value))


# --- one field at a time ------------------------------------------------------------


def check_sku(text: str) -> str:
    """'ata-aash-5kg' -> 'ATA-AASH-5KG'."""
    sku = _text(text).strip().upper()
    if not sku:
        raise ProductError(_("sku is empty"))
    if not SKU_RE.fullmatch(sku):
        raise ProductError(_("SKU %(sku)s may only use A-Z, 0-9 and . _ -, start with a letter"
                             " or digit, at most %(most)s characters")
                           % {"sku": _shown(_text(text).strip()), "most": SKU_MAX})
    return sku


# ZWNJ and ZWJ choose a conjunct's or a half form's shape in Devanagari and the other
# Indian scripts (and ZWNJ is common in Urdu and Persian): they are part of a name.
_JOINERS = frozenset("\u200c\u200d")


def hidden_characters(text: str) -> list[str]:
    """The characters of `text` a name may not hold: controls (C0 and C1: NUL, ESC, ...)
    and invisible format characters (bidi embeddings, overrides and isolates U+202A-U+202E
    and U+2066-U+2069, zero-width space, LRM/RLM, BOM, soft hyphen), which hide text from
    staff or reorder what is shown around them, and lone surrogates. ZWNJ/ZWJ are kept."""
    return [c for c in text
            if unicodedata.category(c) in ("Cc", "Cf", "Cs") and c not in _JOINERS]


def strip_hidden(text: str) -> str:
    """`text` without its `hidden_characters` (for names that cannot be refused)."""
    hidden = set(hidden_characters(text))
    return "".join(c for c in text if c not in hidden) if hidden else text


def check_name_local(text: str) -> str:
    """The local-language name (issue #22): one line, at most NAME_MAX characters, with
    no control or invisible formatting character (`hidden_characters`); empty is allowed
    (the English name alone shows)."""
    return _one_line_name("name_local", text)


def _one_line_name(field: str, text: object) -> str:
    """A name on one line (runs of spaces collapsed), refused when it holds a control or
    invisible formatting character (`hidden_characters`) or is longer than NAME_MAX."""
    name = " ".join(_text(text).split())
    hidden = hidden_characters(name)
    if hidden:
        raise ProductError(_("%(field)s has a control or invisible character (U+%(code)s):"
                             " type the name again without it")
                           % {"field": field, "code": f"{ord(hidden[0]):04X}"})
    if len(name) > NAME_MAX:
        raise ProductError(_("%(field)s is longer than %(most)s characters")
                           % {"field": field, "most": NAME_MAX})
    return name


def check_name(text: str) -> str:
    """The name with its runs of spaces collapsed; 1 to NAME_MAX characters, and, as the
    local name (`check_name_local`), no control or invisible formatting character: a bidi
    override or a zero-width space would show staff and customers one name while the
    catalogue, search and receipts hold another (issue #22)."""
    if not " ".join(_text(text).split()):
        raise ProductError(_("name is empty"))
    return _one_line_name("name", text)


def check_price_minor(price_minor: int) -> int:
    """A product's price in paise: more than zero and at most ₹1 crore."""
    if (not isinstance(price_minor, int) or isinstance(price_minor, bool)
            or not 0 < price_minor <= MAX_PRICE_MINOR):
        raise ProductError(_("price must be more than zero and at most %(most)s")
                           % {"most": format_amount(MAX_PRICE_MINOR)[:-3]})
    return price_minor


def parse_price(text: str) -> int:
    """A product's price typed in rupees -> paise (money.parse_amount, then the bounds)."""
    cleaned = _text(text)
    if not cleaned.strip():
        raise ProductError(_("price is empty"))
    try:
        price = parse_amount(cleaned)
    except MoneyError as exc:
        raise ProductError(_("price: %(reason)s") % {"reason": exc}) from None
    return check_price_minor(price)


def check_mrp_minor(mrp_minor: int | None) -> int | None:
    """An MRP in paise (None: unknown): more than zero and at most ₹1 crore."""
    if mrp_minor is None:
        return None
    if (not isinstance(mrp_minor, int) or isinstance(mrp_minor, bool)
            or not 0 < mrp_minor <= MAX_PRICE_MINOR):
        raise ProductError(_("mrp must be empty (not known) or more than zero and at most "
                             "%(most)s") % {"most": format_amount(MAX_PRICE_MINOR)[:-3]})
    return mrp_minor


def parse_mrp(text: str) -> int | None:
    """An MRP typed in rupees -> paise; empty is None (no MRP known)."""
    cleaned = _text(text)
    if not cleaned.strip():
        return None
    try:
        mrp = parse_amount(cleaned)
    except MoneyError as exc:
        raise ProductError(_("mrp: %(reason)s") % {"reason": exc}) from None
    return check_mrp_minor(mrp)


def above_mrp(price_minor: int, mrp_minor: int | None) -> bool:
    """Whether a selling price breaks the MRP rule (no MRP known: it cannot)."""
    return mrp_minor is not None and price_minor > mrp_minor


def check_within_mrp(sku: str, price_minor: int, mrp_minor: int | None) -> None:
    """The Legal Metrology rule: nothing is sold above its MRP. The message names the
    product and both amounts, so whoever typed it sees which one to correct."""
    if mrp_minor is not None and price_minor > mrp_minor:
        raise ProductError(_("%(sku)s: price %(price)s is above its MRP %(mrp)s; a product "
                             "may not be sold above its MRP (lower the price or correct "
                             "the MRP)") % {"sku": sku, "price": format_amount(price_minor),
                                            "mrp": format_amount(mrp_minor)})


def check_gst_bp(rate_bp: int) -> int:
    if isinstance(rate_bp, bool) or rate_bp not in GST_SLABS_BP:
        slabs = ", ".join(f"{s / 100:g}" for s in sorted(GST_SLABS_BP))
        raise ProductError(_("GST rate must be one of %(slabs)s %%") % {"slabs": slabs})
    return rate_bp


def parse_gst(text: str) -> int:
    """'5' / '5%' -> 500 basis points (money.parse_gst_rate: the slabs only)."""
    cleaned = _text(text)
    if not cleaned.strip():
        raise ProductError(_("gst_rate is empty"))
    try:
        return parse_gst_rate(cleaned)
    except MoneyError as exc:
        raise ProductError(str(exc)) from None


def check_hsn(text: str) -> str:
    hsn = _text(text).strip()
    if hsn and not HSN_RE.fullmatch(hsn):
        raise ProductError(_("hsn %(hsn)s must be 4, 6 or 8 digits") % {"hsn": _shown(hsn)})
    return hsn


def check_unit(text: str) -> str:
    """'KG' -> 'kg'; empty is 'piece'."""
    unit = _text(text).strip().lower() or "piece"
    if unit not in UNITS:
        raise ProductError(_("unit %(unit)s must be one of %(units)s")
                           % {"unit": _shown(unit), "units": ", ".join(UNITS)})
    return unit


def check_reorder_level(level: int) -> int:
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= MAX_REORDER_LEVEL:
        raise ProductError(_("reorder level must be a whole number up to 1,00,00,000"))
    return level


def parse_reorder_level(text: str) -> int:
    """The low-stock mark: a whole number from 0 to 1,00,00,000 (empty is 0)."""
    cleaned = _text(text).strip() or "0"
    if not _REORDER_RE.fullmatch(cleaned) or int(cleaned) > MAX_REORDER_LEVEL:
        raise ProductError(_("reorder_level %(value)s must be a whole number up to 1,00,00,000")
                           % {"value": _shown(cleaned)})
    return int(cleaned)


def parse_active(text: str) -> bool:
    """yes/no, y/n, true/false, 1/0; empty is yes."""
    word = _text(text).strip().lower()
    if word not in TRUE_WORDS | FALSE_WORDS:
        raise ProductError(_("active %(value)s must be yes or no")
                           % {"value": _shown(_text(text).strip())})
    return word in TRUE_WORDS


def parse_tracks_expiry(text: str) -> bool:
    """yes/no, y/n, true/false, 1/0; empty is no (most products carry no expiry)."""
    word = _text(text).strip().lower()
    if word not in TRUE_WORDS | FALSE_WORDS:
        raise ProductError(_("tracks_expiry %(value)s must be yes or no")
                           % {"value": _shown(_text(text).strip())})
    return bool(word) and word in TRUE_WORDS


def clip(text: str, limit: int) -> str:
    """Free text (pack size, category): trimmed and cut to its column's width."""
    return _text(text).strip()[:limit]


def canonical_barcode(code: str, measure_rules: Sequence[MeasureRule] = ()) -> str:
    """The form a product's code is stored in: what a scan of it looks up."""
    raw = _text(code).strip()
    shown = raw if len(raw) <= 20 else raw[:20] + "…"
    try:
        result = parse_scan(raw, measure_rules)
    except BarcodeError as exc:
        raise ProductError(_("barcode %(code)s: %(reason)s") % {"code": shown, "reason": exc}) from None
    if result.symbology == "gs1":
        raise ProductError(_("barcode %(code)s: a GS1 element string is not a product "
                             "barcode; use the GTIN") % {"code": shown})
    if result.symbology == "text":
        raise ProductError(_("barcode %(code)s: not an EAN, UPC or GTIN (8, 12, 13 or 14 digits)")
                           % {"code": shown})
    if result.symbology == "variable" and result.lookup_code != result.raw:
        raise ProductError(_("barcode %(code)s: variable-measure code must have zero value "
                             "digits: %(lookup)s") % {"code": shown, "lookup": result.lookup_code})
    return result.lookup_code


def canonical_barcodes(codes: Iterable[str], measure_rules: Sequence[MeasureRule] = ()
                       ) -> tuple[str, ...]:
    """Every code in its stored form; empty entries are dropped, a code twice is refused."""
    out: list[str] = []
    for raw in codes:
        if not _text(raw).strip():
            continue
        code = canonical_barcode(raw, measure_rules)
        if code in out:
            raise ProductError(_("barcode %(code)s is listed twice") % {"code": _text(raw).strip()})
        out.append(code)
    return tuple(out)


def split_codes(text: str) -> list[str]:
    """The hub form's barcode box: codes separated by spaces, commas or new lines."""
    return _text(text).replace(",", " ").split()


# --- a whole product ------------------------------------------------------------------


def parse_product(*, sku: str, name: str, price: str, gst_rate: str,
                  barcodes: Iterable[str] = (), hsn: str = "", unit: str = "",
                  pack_size: str = "", category: str = "", active: bool | str = True,
                  reorder_level: str = "", tracks_expiry: bool | str = False,
                  mrp: str = "", name_local: str = "",
                  measure_rules: Sequence[MeasureRule] = ()) -> ProductFields:
    """A product typed as text (a CSV row, the hub's form), checked field by field in the
    order a person reads them; the first broken rule raises ProductError."""
    fields = ProductFields(
        sku=check_sku(sku),
        name=check_name(name),
        name_local=check_name_local(name_local),
        price_minor=parse_price(price),
        mrp_minor=parse_mrp(mrp),
        gst_rate_bp=parse_gst(gst_rate),
        unit=check_unit(unit),
        hsn=check_hsn(hsn),
        barcodes=canonical_barcodes(barcodes, measure_rules),
        active=parse_active(active) if isinstance(active, str) else bool(active),
        reorder_level=parse_reorder_level(reorder_level),
        pack_size=clip(pack_size, PACK_SIZE_MAX),
        category=clip(category, CATEGORY_MAX),
        tracks_expiry=(parse_tracks_expiry(tracks_expiry) if isinstance(tracks_expiry, str)
                       else bool(tracks_expiry)),
    )
    check_within_mrp(fields.sku, fields.price_minor, fields.mrp_minor)
    return fields


def check_product(p: ProductFields, measure_rules: Sequence[MeasureRule] = ()
                  ) -> ProductFields:
    """A product given as values (a service call, a parsed form), put in its stored form;
    the same rules as `parse_product`, so re-checking a checked product changes nothing."""
    fields = ProductFields(
        sku=check_sku(p.sku),
        name=check_name(p.name),
        name_local=check_name_local(p.name_local),
        price_minor=check_price_minor(p.price_minor),
        mrp_minor=check_mrp_minor(p.mrp_minor),
        gst_rate_bp=check_gst_bp(p.gst_rate_bp),
        unit=check_unit(p.unit),
        hsn=check_hsn(p.hsn),
        barcodes=canonical_barcodes(p.barcodes, measure_rules),
        active=bool(p.active),
        reorder_level=check_reorder_level(p.reorder_level),
        pack_size=clip(p.pack_size, PACK_SIZE_MAX),
        category=clip(p.category, CATEGORY_MAX),
        tracks_expiry=bool(p.tracks_expiry),
    )
    check_within_mrp(fields.sku, fields.price_minor, fields.mrp_minor)
    return fields
