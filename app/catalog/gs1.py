"""GS1 element strings for receiving and expiry: what a GS1-128 or GS1 DataMatrix carries.

Receiving (issue #17) scans a case label or a DataMatrix and wants the product, the
batch and the expiry filled in. The field-by-field parsing (fixed and variable lengths,
FNC1 as GS, the ``]d2``/``]C1``/``]Q3`` prefixes, the typed "(01)...(17)..." form, check
digits) is ``barcodes.parse_gs1``, the one parser every scan screen shares; this module
adds what receiving needs on top, still without I/O and without a clock:

* the expiry year by GS1's century rule (General Specifications 7.12: the two-digit
  year is the one within -49/+50 years of today), so ``today`` is a parameter;
* a typed result (:class:`GS1Data`): GTIN, batch, expiry, serial, count, net grams;
* :func:`piece_gtin`: a case's GTIN-14 (indicator digit 1-8, a packaging level) to the
  GTIN-13 of the piece it was made from, which is how the case maps to its pack product.

Every refusal is a :class:`GS1Error` (a ``BarcodeError``, so a ``ValueError``) whose text
is shown to staff as is. Input is capped at ``MAX_SCAN_LENGTH`` before any parsing, so a
hostile 100 KB string costs nothing.
"""

import calendar
import datetime
import re
from dataclasses import dataclass

from app.catalog.barcodes import (
    MAX_SCAN_LENGTH,
    BarcodeError,
    gtin_check_digit,
    normalize_gtin,
    parse_gs1,
)
from app.core.i18n import _, ngettext

__all__ = [
    "GS1Data",
    "GS1Error",
    "expiry_date",
    "gs1_year",
    "parse_element_string",
    "piece_gtin",
]

_EDGE_SPACE = re.compile(r"^[^\S\x1d]+|[^\S\x1d]+$")  # whitespace, but GS (FNC1) is data
_CONTROL = re.compile(r"[\x00-\x1c\x1e\x1f\x7f-\x9f]")  # every control character except GS
_DIGITS = re.compile(r"[0-9]+")
_MAX_RAW = 4 * MAX_SCAN_LENGTH  # room for a scanner's trailing CR/LF and padding, no more

PACKAGING_LEVELS = frozenset("12345678")
"""GTIN-14 indicator digits that mean "a case/pack of a trade item" (9 = variable measure)."""


class GS1Error(BarcodeError):
    """A GS1 element string we cannot use; ``str(e)`` is shown to staff as is."""


@dataclass(frozen=True, slots=True)
class GS1Data:
    """The fields receiving uses from one element string; absent fields are None.

    ``gtin`` is the code as scanned (AI 01 or 02, 14 digits, check digit verified);
    ``lookup_gtin`` is its canonical form for the barcodes table (``normalize_gtin``).
    ``net_weight_g`` is AI 310n rounded half-up to the gram. ``fields`` keeps every raw
    AI value, for AIs this class does not name (best before 15, production date 11 ...).
    """

    gtin: str | None
    lookup_gtin: str | None
    contained: bool  # True when the GTIN came from AI 02 (the trade items inside a logistic unit)
    batch: str | None
    expiry: datetime.date | None
    serial: str | None
    count: int | None
    net_weight_g: int | None
    fields: dict[str, str]


def gs1_year(yy: int, today: datetime.date) -> int:
    """The full year of a two-digit GS1 year: within -49/+50 years of ``today``'s year.

    GS1 General Specifications 7.12: difference = YY - (current year mod 100); 51..99
    means the previous century, -99..-50 the next one, anything else this century.
    """
    if isinstance(yy, bool) or not isinstance(yy, int) or not 0 <= yy <= 99:
        raise GS1Error(_("GS1: year %(year)s must be two digits") % {"year": yy})
    century, current = divmod(today.year, 100)
    difference = yy - current
    if difference >= 51:
        century -= 1
    elif difference <= -50:
        century += 1
    return century * 100 + yy


def expiry_date(yymmdd: str, today: datetime.date) -> datetime.date:
    """YYMMDD of AI 17 (or 15, 11, 13) as a date; day 00 is the last day of the month."""
    if not isinstance(yymmdd, str) or len(yymmdd) != 6 or _DIGITS.fullmatch(yymmdd) is None:
        raise GS1Error(_("GS1: date must be 6 digits YYMMDD, got %(got)r") % {"got": yymmdd})
    year = gs1_year(int(yymmdd[:2]), today)
    month, day = int(yymmdd[2:4]), int(yymmdd[4:6])
    if not 1 <= month <= 12:
        raise GS1Error(_("GS1: date %(date)s has month %(month)02d; expected 01 to 12")
                       % {"date": yymmdd, "month": month})
    last = calendar.monthrange(year, month)[1]
    if day == 0:
        day = last
    if day > last:
        raise GS1Error(ngettext("GS1: date %(date)s has day %(day)02d; %(year)s-%(month)02d "
                                "has %(num)s day",
                                "GS1: date %(date)s has day %(day)02d; %(year)s-%(month)02d "
                                "has %(num)s days", last)
                       % {"date": yymmdd, "day": day, "year": year, "month": month, "num": last})
    return datetime.date(year, month, day)


def piece_gtin(gtin14: str) -> str | None:
    """The GTIN-13 of the piece a case GTIN-14 was built from, or None if it is not a case.

    A case GTIN-14 is the piece's GTIN-13 without its check digit, behind an indicator
    digit 1-8, with a new check digit. Indicator 0 is the piece itself and 9 a
    variable-measure item: neither is a packaging level, so None. The result is in the
    canonical form of ``normalize_gtin`` (a zero-padded GTIN-8 piece comes back as 8 digits).
    """
    if not isinstance(gtin14, str) or _DIGITS.fullmatch(gtin14) is None or len(gtin14) != 14:
        raise GS1Error(_("GS1: a case GTIN must be 14 digits, got %(got)r")
                       % {"got": str(gtin14)[:20]})
    if gtin_check_digit(gtin14[:-1]) != gtin14[-1]:
        raise GS1Error(
            _("GS1: GTIN %(gtin)s check digit wrong: expected %(expected)s")
            % {"gtin": gtin14, "expected": gtin_check_digit(gtin14[:-1])}
        )
    if gtin14[0] not in PACKAGING_LEVELS:
        return None
    body = gtin14[1:13]
    return normalize_gtin(body + gtin_check_digit(body))


def _round_div(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def _too_long(n: int) -> str:
    return ngettext("GS1: too long (%(num)s character, at most %(most)s)",
                    "GS1: too long (%(num)s characters, at most %(most)s)", n) % {
        "num": n, "most": MAX_SCAN_LENGTH}


def parse_element_string(raw: str, today: datetime.date) -> GS1Data:
    """Parse one GS1 element string as a scanner or camera delivers it.

    Accepts FNC1 as GS (``\\x1d``), an AIM prefix ``]d2``/``]C1``/``]Q3``/``]e0``, or the
    bracketed form typed by hand. Unknown AIs, bad check digits, impossible dates,
    truncated fixed-length fields, control characters and over-long input raise GS1Error.
    """
    if not isinstance(raw, str):
        raise GS1Error(_("GS1: expected text"))
    # Refuse before any regex walks it: stripping edge spaces is quadratic on hostile input.
    if len(raw) > _MAX_RAW:
        raise GS1Error(_too_long(len(raw)))
    data = _EDGE_SPACE.sub("", raw)
    if not data:
        raise GS1Error(_("GS1: empty"))
    if len(data) > MAX_SCAN_LENGTH:
        raise GS1Error(_too_long(len(data)))
    control = _CONTROL.search(data)
    if control is not None:
        raise GS1Error(
            _("GS1: control character U+%(code)s at position %(pos)s")
            % {"code": f"{ord(control.group()):04X}", "pos": control.start() + 1}
        )
    try:
        fields = parse_gs1(data)
    except BarcodeError as e:
        raise GS1Error(str(e)) from None
    if "01" in fields and "02" in fields:
        raise GS1Error(_("GS1: both GTIN 01 and contained GTIN 02 given; expected one"))
    if "30" in fields and "37" in fields:
        raise GS1Error(_("GS1: both count 30 and count 37 given; expected one"))
    gtin = fields.get("01") or fields.get("02")
    count = fields.get("30") or fields.get("37")
    weight_ai = next((ai for ai in fields if ai.startswith("310")), None)
    weight_g = None
    if weight_ai is not None:
        weight_g = _round_div(int(fields[weight_ai]) * 1000, 10 ** int(weight_ai[3]))
    return GS1Data(
        gtin=gtin,
        lookup_gtin=normalize_gtin(gtin) if gtin is not None else None,
        contained="02" in fields,
        batch=fields.get("10"),
        expiry=expiry_date(fields["17"], today) if "17" in fields else None,
        serial=fields.get("21"),
        count=int(count) if count is not None else None,
        net_weight_g=weight_g,
        fields=fields,
    )
