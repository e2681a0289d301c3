"""The one barcode parser shared by every scanning screen (POS, receiving, picking).

Keeping this in one pure module means the POS, receiving and picking screens agree on
what a scan means: which code to look up, and which weight, price, count, batch or
expiry it carries. No I/O, no database and no clock, so it is cheap to test exhaustively.

Decisions worth knowing:

* ``lookup_code`` is canonical so one product matches however it was scanned: UPC-A and
  UPC-E become their 13-digit EAN form, GTIN-14 with a leading 0 drops it, and a GTIN-8
  padded with zeros (GS1 prefixes 000001-000009, e.g. AI 01 ``00000096385074``) becomes the
  plain 8 digits. Restricted-circulation EAN-8s starting with 0 stay 13 digits when padded,
  because GS1 prefix ``000000`` is also a real UPC range.
* GS1 dates (AI 11, 13, 15, 17) take their century by GS1's rule, the one
  ``gs1.expiry_date`` uses (the year within -49/+50 years of ``today``): ``parse_scan``
  takes ``today`` and, only when a caller leaves it out, reads the machine's date for it
  (the one clock read here). Day ``00`` means the last day of the month.
* Weights are kept in whole grams: 310n with 4-5 decimals and 320n (pounds, converted at
  453.59237 g/lb) are rounded half-up to the gram. When both 310n and 320n are present the
  metric one wins. Prices must convert to paise exactly, otherwise the scan is refused.
* 393n prices are accepted only in INR (ISO 4217 ``356``): ``price_minor`` is paise.
* Without GS separators, AIM identifier or parentheses a long numeric string is "text":
  guessing field boundaries could silently produce a wrong batch or expiry.
"""

import calendar
import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from app.core.i18n import N_, _, ngettext
from app.core.words import count_of

__all__ = [
    "BarcodeError",
    "MeasureKind",
    "MeasureRule",
    "ScanResult",
    "Symbology",
    "expand_upce",
    "gtin_check_digit",
    "is_valid_gtin",
    "make_variable_barcode",
    "normalize_gtin",
    "parse_gs1",
    "parse_scan",
]

GS = "\x1d"
"""GS1 group separator: how scanners transmit FNC1 between GS1 fields."""

MAX_SCAN_LENGTH = 200
HOME_CURRENCY = "356"  # ISO 4217 numeric code of the rupee; price_minor is always paise.

MeasureKind = Literal["weight", "price", "count"]
Symbology = Literal["ean13", "ean8", "upca", "upce", "gtin14", "gs1", "variable", "text"]


class BarcodeError(ValueError):
    """A scan or barcode rule we cannot use; ``str(e)`` is shown to staff as is."""


class CheckDigitError(BarcodeError):
    """The last digit is not the code's check digit: usually a misread or a smudged label
    (screens may say "scan it again" without reading the message, which is translated)."""


def _check_digit_wrong(expected: str, got: str, context: str = "") -> CheckDigitError:
    return CheckDigitError(context + _("check digit wrong: expected %(expected)s, got %(got)s")
                           % {"expected": expected, "got": got})


# ASCII only on purpose: str.isdigit() also accepts Devanagari and superscript digits.
_DIGITS = re.compile(r"[0-9]+")
_EDGE_SPACE = re.compile(r"^[^\S\x1d]+|[^\S\x1d]+$")  # whitespace, but GS (FNC1) is data
_CONTROL = re.compile(r"[\x00-\x1c\x1e\x1f\x7f-\x9f]")  # every control character except GS
_AIM = re.compile(r"\][A-Za-z][0-9A-Za-z]")
_GS1_AIMS = frozenset({"]C1", "]d2", "]Q3", "]e0"})  # GS1-128, DataMatrix, QR, DataBar
_PAREN_AI = re.compile(r"\(([0-9]{2,4})\)")
# GS1 AI encodable character set 82, the only characters allowed in batch and serial.
_CSET82 = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+")

_GTIN_SYMBOLOGY: dict[int, Symbology] = {12: "upca", 13: "ean13", 14: "gtin14"}
_UNIT_DECIMALS = {"weight": 3, "price": 2, "count": 0}  # grams, paise, pieces
_UNIT_NAME = {"weight": "g", "price": "paise", "count": "pieces"}


def _is_digits(text: str) -> bool:
    return _DIGITS.fullmatch(text) is not None


# --------------------------------------------------------------------------- GTIN


def gtin_check_digit(body: str) -> str:
    """Return the GS1 mod-10 check digit for ``body``, the code without its check digit.

    Weights 3,1,3,... run from the rightmost digit, so one function serves GTIN-8/12/13/14,
    SSCC and the EAN-13s we print for weighed goods.
    """
    if not isinstance(body, str) or not _is_digits(body) or not 7 <= len(body) <= 17:
        raise BarcodeError(f"check digit needs 7 to 17 digits, got {body!r}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str(-total % 10)


def _require_check(code: str, context: str = "") -> None:
    """Raise the staff-facing message when the last digit of ``code`` is not its check digit."""
    expected = gtin_check_digit(code[:-1])
    if expected != code[-1]:
        raise _check_digit_wrong(expected, code[-1], context)


def is_valid_gtin(code: str) -> bool:
    """True for 8, 12, 13 or 14 digits whose last digit is the mod-10 check digit.

    An 8-digit code is checked as EAN-8 (GTIN-8); a UPC-E is not a GTIN until expanded.
    """
    return (
        isinstance(code, str)
        and _is_digits(code)
        and len(code) in (8, 12, 13, 14)
        and gtin_check_digit(code[:-1]) == code[-1]
    )


def expand_upce(code: str) -> str:
    """Expand an 8-digit UPC-E (number system 0 or 1) to its 12-digit UPC-A.

    Products carry UPC-E on small packs but are listed under the UPC-A, and the UPC-E
    check digit is that of the expanded UPC-A, so it can only be verified after expanding.
    """
    if not isinstance(code, str) or not _is_digits(code) or len(code) != 8:
        raise BarcodeError(f"UPC-E: must be 8 digits, got {code!r}")
    system, data, check = code[0], code[1:7], code[7]
    if system not in ("0", "1"):
        raise BarcodeError(f"UPC-E: number system must be 0 or 1, got {system}")
    last = data[5]
    if last in "012":
        body = system + data[0:2] + last + "0000" + data[2:5]
    elif last == "3":
        body = system + data[0:3] + "00000" + data[3:5]
    elif last == "4":
        body = system + data[0:4] + "00000" + data[4]
    else:
        body = system + data[0:5] + "0000" + last
    _require_check(body + check)
    return body + check


def _read_8(code: str) -> tuple[Symbology, str]:
    """Decide between EAN-8 and UPC-E for 8 digits: EAN-8 wins when both are valid."""
    expected = gtin_check_digit(code[:-1])
    if expected == code[-1]:
        return "ean8", code
    if code[0] in "01":
        try:
            return "upce", "0" + expand_upce(code)
        except BarcodeError:
            pass
    raise _check_digit_wrong(expected, code[-1])


def normalize_gtin(code: str) -> str:
    """Validate a GTIN and return the one form the barcodes table stores.

    EAN-8 stays 8 digits, UPC-A/UPC-E become EAN-13 ("0" + UPC-A), GTIN-14 with a leading
    0 becomes EAN-13, a zero-padded GTIN-8 becomes EAN-8, other GTIN-14 stay 14 digits.
    """
    if not isinstance(code, str) or not _is_digits(code):
        raise BarcodeError(f"not a GTIN: {code!r} must be digits only")
    if len(code) == 8:
        return _read_8(code)[1]
    if len(code) not in (12, 13, 14):
        raise BarcodeError(f"not a GTIN: {count_of(len(code), 'digit')}; expected 8, 12, 13 or 14")
    _require_check(code)
    padded = code.zfill(14)
    if padded.startswith("000000") and padded[6] != "0":
        return padded[6:]
    return padded[1:] if padded[0] == "0" else padded


# --------------------------------------------------------------------------- variable measure


@dataclass(frozen=True, slots=True)
class MeasureRule:
    """In-store variable-measure EAN-13 rule, like Odoo's barcode nomenclature.

    ``pattern`` is the EAN-13 without its check digit (12 symbols once braces are
    removed): literal leading digits are the prefix (20-29), '.' is an item-code digit and
    ``{N..D..}`` holds the value, 'N' integer and 'D' decimal digits. Weight is kg (up to
    3 decimals), price is rupees (up to 2), count is pieces (no decimals). The pattern is
    validated on construction, so a rule that exists is always usable by the parser.
    """

    name: str
    pattern: str
    kind: MeasureKind
    _prefix: str = field(init=False, repr=False, compare=False)
    _item_positions: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _value_start: int = field(init=False, repr=False, compare=False)
    _value_length: int = field(init=False, repr=False, compare=False)
    _decimals: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        prefix, items, start, length, decimals = _compile_pattern(
            self.name, self.pattern, self.kind
        )
        object.__setattr__(self, "_prefix", prefix)
        object.__setattr__(self, "_item_positions", items)
        object.__setattr__(self, "_value_start", start)
        object.__setattr__(self, "_value_length", length)
        object.__setattr__(self, "_decimals", decimals)

    @classmethod
    def compile(cls, name: str, pattern: str, kind: MeasureKind) -> "MeasureRule":
        """Build a rule from settings, raising BarcodeError that says what is wrong."""
        return cls(name, pattern, kind)

    @property
    def prefix(self) -> str:
        """The literal leading digits that select this rule (longest prefix wins)."""
        return self._prefix

    @property
    def item_length(self) -> int:
        """How many item-code digits a label carries, for screens that print labels."""
        return len(self._item_positions)

    @property
    def value_length(self) -> int:
        """How many digits the value group has."""
        return self._value_length

    @property
    def decimals(self) -> int:
        """How many of the value digits are decimals (kg or rupees)."""
        return self._decimals

    def _step(self) -> int:
        """Smallest encodable value in grams / paise / pieces."""
        return 10 ** (_UNIT_DECIMALS[self.kind] - self._decimals)


def _compile_pattern(
    name: str, pattern: str, kind: str
) -> tuple[str, tuple[int, ...], int, int, int]:
    """Validate a rule pattern; return prefix, item positions, value start/length, decimals."""
    if not isinstance(name, str) or not name.strip():
        raise BarcodeError("barcode rule needs a name")
    where = f"rule {name!r}"
    if kind not in _UNIT_DECIMALS:
        raise BarcodeError(f"{where}: unknown kind {kind!r}; use weight, price or count")
    if not isinstance(pattern, str):
        raise BarcodeError(f"{where}: pattern must be text, got {pattern!r}")
    symbols = pattern.replace("{", "").replace("}", "")
    if len(symbols) != 12:
        raise BarcodeError(
            f"{where}: pattern must have 12 symbols without braces "
            f"(the EAN-13 minus its check digit), got {len(symbols)}"
        )
    opens, closes = pattern.count("{"), pattern.count("}")
    if opens == 0 and closes == 0:
        raise BarcodeError(
            f"{where}: no value group; put the value in braces, e.g. 21.....{{NNDDD}}"
        )
    if opens != 1 or closes != 1:
        raise BarcodeError(f"{where}: pattern needs exactly one value group {{...}}")
    start, end = pattern.index("{"), pattern.index("}")
    if end < start:
        raise BarcodeError(f"{where}: '}}' comes before '{{'")
    group = pattern[start + 1 : end]
    if not group:
        raise BarcodeError(f"{where}: value group {{}} is empty")
    if re.fullmatch(r"N*D*", group) is None:
        raise BarcodeError(
            f"{where}: value group {{{group}}} may only hold N digits followed by D digits"
        )
    outside = pattern[:start] + pattern[end + 1 :]
    for char in outside:
        if char not in "0123456789.":
            raise BarcodeError(
                f"{where}: invalid symbol {char!r} outside the value group; "
                "use digits for the prefix and '.' for item-code digits"
            )
    prefix = pattern[: len(pattern) - len(pattern.lstrip("0123456789"))]
    if not prefix.startswith("2"):
        raise BarcodeError(
            f"{where}: pattern must start with 2 (prefixes 20-29 are for in-store barcodes), "
            f"got {pattern[:2]!r}"
        )
    if len(prefix) < 2:
        raise BarcodeError(f"{where}: prefix must be at least 2 digits (20-29), got {prefix!r}")
    if any(char != "." for char in outside[len(prefix) :]):
        raise BarcodeError(f"{where}: literal digits are only allowed at the start (the prefix)")
    decimals = group.count("D")
    if kind == "count" and decimals:
        raise BarcodeError(f"{where}: count cannot have decimals (D)")
    limit = _UNIT_DECIMALS[kind]
    if decimals > limit:
        unit = "grams" if kind == "weight" else "paise"
        raise BarcodeError(
            f"{where}: {kind} allows at most {limit} decimals ({unit}), got {decimals}"
        )
    items = tuple(i for i, char in enumerate(symbols) if char == ".")
    return prefix, items, start, len(group), decimals


def make_variable_barcode(rule: MeasureRule, item_code: str, value: int) -> str:
    """Build the 13-digit EAN for a label: value in grams, paise or pieces.

    Refuses values that would be silently rounded or truncated on the label.
    """
    where = f"rule {rule.name!r}"
    if not isinstance(item_code, str) or (item_code and not _is_digits(item_code)):
        raise BarcodeError(f"{where}: item code must be digits, got {item_code!r}")
    if len(item_code) != rule.item_length:
        raise BarcodeError(
            f"{where}: item code must be {count_of(rule.item_length, 'digit')}, got {item_code!r}"
        )
    unit = _UNIT_NAME[rule.kind]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BarcodeError(f"{where}: value must be a whole number of {unit} >= 0, got {value!r}")
    step = rule._step()
    if value % step:
        raise BarcodeError(
            f"{where}: {value} {unit} is not a multiple of {step} {unit}, "
            "the smallest step this rule can encode"
        )
    digits = value // step
    if digits >= 10**rule.value_length:
        largest = (10**rule.value_length - 1) * step
        raise BarcodeError(f"{where}: {value} {unit} does not fit; at most {largest} {unit}")
    return _fill(rule, item_code, str(digits).zfill(rule.value_length))


def _fill(rule: MeasureRule, item_code: str, value_digits: str) -> str:
    """Lay out prefix, item code and value digits per the rule and append the check digit."""
    body = list(rule.prefix.ljust(12, "0"))
    for position, digit in zip(rule._item_positions, item_code, strict=True):
        body[position] = digit
    body[rule._value_start : rule._value_start + rule.value_length] = value_digits
    text = "".join(body)
    return text + gtin_check_digit(text)


def _match_variable(raw: str, code: str, rules: Sequence[MeasureRule]) -> "ScanResult":
    """Decode a 20-29 EAN-13 with the longest-prefix rule (first listed wins a tie)."""
    for rule in sorted(rules, key=lambda r: -len(r.prefix)):
        if code.startswith(rule.prefix):
            start, end = rule._value_start, rule._value_start + rule.value_length
            value = int(code[start:end]) * rule._step()
            item_code = "".join(code[i] for i in rule._item_positions)
            amounts = {rule.kind: value}
            return ScanResult(
                raw=raw,
                symbology="variable",
                lookup_code=_fill(rule, item_code, "0" * rule.value_length),
                quantity=amounts.get("count"),
                weight_g=amounts.get("weight"),
                price_minor=amounts.get("price"),
                rule_name=rule.name,
            )
    head = code[:2]
    near = sorted({r.prefix for r in rules if r.prefix.startswith(head)})
    if near:
        raise BarcodeError(
            _("unknown prefix %(head)s: no in-store barcode rule matches %(code)s (rules for "
              "%(head)s start with %(near)s)") % {"head": head, "code": code,
                                                  "near": ", ".join(near)}
        )
    raise BarcodeError(_("unknown prefix %(head)s: no in-store barcode rule starts with "
                         "%(head)s") % {"head": head})


# --------------------------------------------------------------------------- GS1


@dataclass(frozen=True, slots=True)
class _AI:
    """How one GS1 application identifier is laid out, and its staff-facing name."""

    label: str
    length: int  # exact length if fixed, else maximum
    fixed: bool = False
    numeric: bool = True
    min_length: int = 1


_FIXED_AIS = {
    "00": _AI("SSCC", 18, fixed=True),
    "01": _AI("GTIN", 14, fixed=True),
    "02": _AI(N_("contained GTIN"), 14, fixed=True),
    "11": _AI(N_("production date"), 6, fixed=True),
    "13": _AI(N_("packaging date"), 6, fixed=True),
    "15": _AI(N_("best before"), 6, fixed=True),
    "17": _AI(N_("expiry"), 6, fixed=True),
}
_TWO_DIGIT_AIS = {
    **_FIXED_AIS,
    "10": _AI(N_("batch"), 20, numeric=False),
    "21": _AI(N_("serial"), 20, numeric=False),
    "30": _AI(N_("count"), 8),
    "37": _AI(N_("count"), 8),
}
_FAMILY_AIS = {  # 4-digit AIs whose last digit is the decimal-point position
    "310": (_AI(N_("net weight (kg)"), 6, fixed=True), 5),
    "320": (_AI(N_("net weight (lb)"), 6, fixed=True), 5),
    "392": (_AI(N_("price"), 15), 9),
    "393": (_AI(N_("price with currency"), 18, min_length=4), 9),
}
_DATE_AIS = ("11", "13", "15", "17")
_CHECKED_AIS = ("00", "01", "02")


def _ai_spec(ai: str) -> _AI | None:
    if ai in _TWO_DIGIT_AIS:
        return _TWO_DIGIT_AIS[ai]
    family = _FAMILY_AIS.get(ai[:3]) if len(ai) == 4 else None
    if family is not None and int(ai[3]) <= family[1]:
        return family[0]
    return None


def _ai_length(head: str) -> int:
    """AI length from its first two digits (GS1 table), so an unknown AI is named right."""
    n = int(head)
    if 23 <= n <= 29 or 40 <= n <= 42 or n == 71:
        return 3
    if 31 <= n <= 36 or n in (39, 43, 70, 72, 80, 81, 82):
        return 4
    return 2


def _gs1_date(value: str, today: datetime.date | None = None) -> datetime.date | None:
    """YYMMDD as a date; day 00 is the last day of the month (GS1); None if invalid.
    With ``today`` the century is GS1's (``gs1.gs1_year``); without it (checking a
    field's digits only) 20YY, which is a valid date exactly when GS1's year is."""
    if today is None:
        year = 2000 + int(value[:2])
    else:
        from app.catalog.gs1 import gs1_year  # gs1 builds on this module: imported late

        year = gs1_year(int(value[:2]), today)
    month, day = int(value[2:4]), int(value[4:6])
    if not 1 <= month <= 12:
        return None
    last = calendar.monthrange(year, month)[1]
    if day == 0:
        day = last
    if day > last:
        return None
    return datetime.date(year, month, day)


def _check_value(ai: str, spec: _AI, value: str) -> None:
    """Validate one field so every dict parse_gs1 returns is safe to interpret."""
    name = _("GS1: %(label)s %(ai)s") % {"label": _(spec.label), "ai": ai}
    if spec.fixed:
        if len(value) != spec.length or not _is_digits(value):
            raise BarcodeError(ngettext("%(name)s must be %(num)s digit, got %(got)r",
                                        "%(name)s must be %(num)s digits, got %(got)r",
                                        spec.length)
                               % {"name": name, "num": spec.length, "got": value})
    else:
        if not value:
            raise BarcodeError(_("%(name)s is empty") % {"name": name})
        if len(value) > spec.length:
            raise BarcodeError(
                _("%(name)s is too long (%(num)s characters, at most %(most)s)")
                % {"name": name, "num": len(value), "most": spec.length}
            )
        if spec.numeric and not _is_digits(value):
            raise BarcodeError(_("%(name)s must be digits, got %(got)r")
                               % {"name": name, "got": value})
        if len(value) < spec.min_length:
            raise BarcodeError(_("%(name)s must be a 3-digit currency code followed by the "
                                 "price") % {"name": name})
        if not spec.numeric:
            bad = next((c for c in value if _CSET82.fullmatch(c) is None), None)
            if bad is not None:
                raise BarcodeError(_("%(name)s has character %(bad)r, which GS1 does not allow")
                                   % {"name": name, "bad": bad})
    if ai in _CHECKED_AIS:
        _require_check(value, f"{name} ")
    if ai in _DATE_AIS and _gs1_date(value) is None:
        raise BarcodeError(_("%(name)s has an invalid date %(date)s")
                           % {"name": name, "date": value})


def _store(fields: dict[str, str], ai: str, spec: _AI, value: str) -> None:
    if ai in fields:
        raise BarcodeError(_("GS1: application identifier %(ai)s appears twice") % {"ai": ai})
    if len(ai) == 4:
        other = next((k for k in fields if len(k) == 4 and k[:3] == ai[:3]), None)
        if other is not None:
            raise BarcodeError(_("GS1: %(label)s given twice (%(other)s and %(ai)s)")
                               % {"label": _(spec.label), "other": other, "ai": ai})
    _check_value(ai, spec, value)
    fields[ai] = value


def _parse_fnc1(data: str, fields: dict[str, str]) -> None:
    """Concatenated form: fixed fields by length, variable ones end at GS or the end."""
    pos = 0
    while pos < len(data):
        if data[pos] == GS:
            pos += 1
            continue
        head = data[pos : pos + 2]
        if not _is_digits(head) or len(head) < 2:
            raise BarcodeError(
                _("GS1: expected an application identifier at position %(pos)s, got %(got)r")
                % {"pos": pos + 1, "got": data[pos : pos + 4]}
            )
        length = _ai_length(head)
        ai = data[pos : pos + length]
        if len(ai) < length or not _is_digits(ai):
            raise BarcodeError(
                _("GS1: incomplete application identifier %(ai)r at position %(pos)s")
                % {"ai": ai, "pos": pos + 1}
            )
        spec = _ai_spec(ai)
        if spec is None:
            raise BarcodeError(_("GS1: unsupported application identifier %(ai)s") % {"ai": ai})
        pos += len(ai)
        if spec.fixed:
            end = pos + spec.length
            value = data[pos:end].split(GS, 1)[0]
        else:
            end = data.find(GS, pos)
            end = len(data) if end < 0 else end
            value = data[pos:end]
        _store(fields, ai, spec, value)
        pos = end


def _parse_parenthesised(data: str, fields: dict[str, str]) -> None:
    """Human-readable form "(01)...(17)...": a value runs to the next "(nn)" or the end.

    A batch or serial that itself contains "(" followed by digits and ")" is ambiguous in
    this form; scanners send the GS form, this one is for typed-in codes.
    """
    marks = list(_PAREN_AI.finditer(data))
    if not marks or marks[0].start() != 0:
        raise BarcodeError(_("GS1: expected '(' application identifier ')' at the start"))
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        ai = mark.group(1)
        spec = _ai_spec(ai)
        if spec is None:
            raise BarcodeError(_("GS1: unsupported application identifier %(ai)s") % {"ai": ai})
        end = following.start() if following is not None else len(data)
        _store(fields, ai, spec, data[mark.end() : end].strip(" "))


def _strip_aim(data: str) -> tuple[str, str]:
    """Split off an AIM symbology identifier like ]C1 or ]E0 (transport, not data)."""
    if _AIM.match(data):
        return data[:3], data[3:]
    return "", data


def parse_gs1(element_string: str) -> dict[str, str]:
    """Parse a GS1 element string into AI -> raw value, validating every field.

    Accepts the GS-separated form (optionally behind ]C1, ]d2, ]Q3 or ]e0 and a leading
    GS) and the parenthesised form. Raw values are kept as printed (393n keeps its currency).
    """
    aim, data = _strip_aim(element_string)
    if aim and aim not in _GS1_AIMS:
        raise BarcodeError(_("GS1: symbology %(aim)s does not carry GS1 data") % {"aim": aim})
    fields: dict[str, str] = {}
    if data.startswith("("):
        _parse_parenthesised(data, fields)
    else:
        _parse_fnc1(data, fields)
    if not fields:
        raise BarcodeError(_("GS1: empty element string"))
    return fields


def _decimal_text(digits: str, decimals: int) -> str:
    if not decimals:
        return digits
    padded = digits.zfill(decimals + 1)
    return f"{padded[:-decimals]}.{padded[-decimals:]}"


def _round_div(numerator: int, denominator: int) -> int:
    """Round half up for non-negative integers, without floats."""
    return (2 * numerator + denominator) // (2 * denominator)


def _price_paise(ai: str, digits: str) -> int:
    decimals = int(ai[3])
    amount = int(digits)
    if decimals <= 2:
        return amount * 10 ** (2 - decimals)
    excess = 10 ** (decimals - 2)
    if amount % excess:
        raise BarcodeError(
            _("GS1: price %(ai)s has %(decimals)s decimals; %(amount)s is not a whole number "
              "of paise") % {"ai": ai, "decimals": decimals,
                             "amount": _decimal_text(digits, decimals)}
        )
    return amount // excess


def _scan_from_gs1(raw: str, fields: dict[str, str], today: datetime.date) -> "ScanResult":
    """Turn validated GS1 fields into a ScanResult in grams, paise and dates."""
    if "01" in fields and "02" in fields:
        raise BarcodeError(_("GS1: both GTIN 01 and contained GTIN 02 given; expected one"))
    gtin = fields.get("01") or fields.get("02")
    if gtin is not None:
        lookup = normalize_gtin(gtin)
    elif "00" in fields:
        lookup = fields["00"]  # pallet/case label: receiving looks the SSCC up itself
    else:
        raise BarcodeError(_("GS1: no product code; expected GTIN 01, 02 or SSCC 00"))

    if "30" in fields and "37" in fields:
        raise BarcodeError(_("GS1: both count 30 and count 37 given; expected one"))
    count = fields.get("30") or fields.get("37")

    weight_g = None
    by_ai = {ai[:3]: ai for ai in fields if len(ai) == 4}
    if "310" in by_ai:
        ai = by_ai["310"]
        weight_g = _round_div(int(fields[ai]) * 1000, 10 ** int(ai[3]))
    elif "320" in by_ai:
        ai = by_ai["320"]
        weight_g = _round_div(int(fields[ai]) * 45_359_237, 10 ** (int(ai[3]) + 5))

    if "392" in by_ai and "393" in by_ai:
        raise BarcodeError(_("GS1: price given twice (%(first)s and %(second)s)")
                           % {"first": by_ai["392"], "second": by_ai["393"]})
    price = None
    if "392" in by_ai:
        price = _price_paise(by_ai["392"], fields[by_ai["392"]])
    elif "393" in by_ai:
        ai = by_ai["393"]
        currency, digits = fields[ai][:3], fields[ai][3:]
        if currency != HOME_CURRENCY:
            raise BarcodeError(
                _("GS1: price %(ai)s is in currency %(currency)s; only INR (%(home)s) is "
                  "accepted") % {"ai": ai, "currency": currency, "home": HOME_CURRENCY}
            )
        price = _price_paise(ai, digits)

    return ScanResult(
        raw=raw,
        symbology="gs1",
        lookup_code=lookup,
        quantity=int(count) if count is not None else None,
        weight_g=weight_g,
        price_minor=price,
        batch=fields.get("10"),
        expiry=_gs1_date(fields["17"], today) if "17" in fields else None,
        best_before=_gs1_date(fields["15"], today) if "15" in fields else None,
        serial=fields.get("21"),
    )


# --------------------------------------------------------------------------- scanning


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What one scan means: the code to look up plus any measure or trace data it carries."""

    raw: str
    symbology: Symbology
    lookup_code: str
    quantity: int | None = None
    weight_g: int | None = None
    price_minor: int | None = None
    batch: str | None = None
    expiry: datetime.date | None = None
    best_before: datetime.date | None = None
    serial: str | None = None
    rule_name: str | None = None


def parse_scan(raw: str, rules: Sequence[MeasureRule] = (),
               today: datetime.date | None = None) -> ScanResult:
    """Interpret one scan for any screen; raises BarcodeError with a staff-readable reason.

    ``raw`` keeps the scan (whitespace stripped) for audit; the AIM symbology identifier
    is transport, so it is not part of a text ``lookup_code``. ``today`` places a GS1
    date's two-digit year (GS1's century rule); the machine's date when not given.
    """
    scanned = _EDGE_SPACE.sub("", raw)
    if not scanned:
        raise BarcodeError(_("not a barcode: empty"))
    if len(scanned) > MAX_SCAN_LENGTH:
        raise BarcodeError(
            _("not a barcode: too long (%(num)s characters, at most %(most)s)")
            % {"num": len(scanned), "most": MAX_SCAN_LENGTH}
        )
    control = _CONTROL.search(scanned)
    if control is not None:
        raise BarcodeError(
            f"not a barcode: control character U+{ord(control.group()):04X} "
            f"at position {control.start() + 1}"
        )
    aim, data = _strip_aim(scanned)
    if not data:
        raise BarcodeError(_("not a barcode: empty after symbology identifier %(aim)s")
                           % {"aim": aim})

    if aim in _GS1_AIMS or GS in data or _PAREN_AI.match(data):
        return _scan_from_gs1(scanned, parse_gs1(data), today or datetime.date.today())

    if _is_digits(data):
        size = len(data)
        if size == 8:
            symbology, lookup = _read_8(data)
            return ScanResult(raw=scanned, symbology=symbology, lookup_code=lookup)
        if size in (12, 13, 14):
            _require_check(data)
            if size == 13 and data[0] == "2":
                return _match_variable(scanned, data, rules)
            return ScanResult(
                raw=scanned, symbology=_GTIN_SYMBOLOGY[size], lookup_code=normalize_gtin(data)
            )
        # 6/7 digits might be UPC-E without number system or check digit: do not guess.
    return ScanResult(raw=scanned, symbology="text", lookup_code=data)
