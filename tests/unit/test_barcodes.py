"""Tests for the shared barcode parser.

Expected values are hand-computed or published codes, and the property tests compare
against a separate check-digit formulation below, so the parser is never its own oracle.
"""

import dataclasses
import datetime
import re
from contextlib import AbstractContextManager

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.catalog.barcodes import (
    BarcodeError,
    MeasureRule,
    ScanResult,
    expand_upce,
    gtin_check_digit,
    is_valid_gtin,
    make_variable_barcode,
    normalize_gtin,
    parse_gs1,
    parse_scan,
)

GS = "\x1d"
GTIN_01 = "09501101530003"  # GS1's own example GTIN
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"

WEIGHT = MeasureRule.compile("Loose weight", "21.....{NNDDD}", "weight")
PRICE = MeasureRule.compile("Priced label", "22.....{NNNDD}", "price")
COUNT = MeasureRule.compile("Bundle count", "23{NNN}.......", "count")


def ref_check_digit(body: str) -> str:
    """Independent formulation: weights from the left, chosen by the body's length parity."""
    total = sum(int(d) * (3 if (len(body) - i) % 2 == 1 else 1) for i, d in enumerate(body))
    return str((10 - total % 10) % 10)


def mod10_ok(code: str) -> bool:
    """A full GS1 code is valid when its weighted sum (check digit weight 1) is 0 mod 10."""
    return sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(reversed(code))) % 10 == 0


def raises_message(message: str) -> AbstractContextManager[pytest.ExceptionInfo[BarcodeError]]:
    """Match the whole staff-facing message, not just a fragment."""
    return pytest.raises(BarcodeError, match=f"^{re.escape(message)}$")


@st.composite
def valid_gtins(draw: st.DrawFn, lengths: tuple[int, ...] = (8, 12, 13, 14)) -> str:
    length = draw(st.sampled_from(lengths))
    body = draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1))
    return body + ref_check_digit(body)


# --------------------------------------------------------------------------- check digits


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("400638133393", "1"),  # EAN-13 4006381333931
        ("03600029145", "2"),  # UPC-A 036000291452
        ("9638507", "4"),  # EAN-8 96385074
        ("890171910103", "8"),  # Indian EAN-13 8901719101038
        ("890103086527", "5"),  # so 8901030865278 is a mis-scan
        ("0950110153000", "3"),  # GS1 example GTIN-14 09501101530003
        ("10614141234567890", "8"),  # GS1 example SSCC 106141412345678908
    ],
)
def test_check_digit_of_known_codes(body: str, expected: str) -> None:
    assert gtin_check_digit(body) == expected


@given(st.text(alphabet="0123456789", min_size=7, max_size=17))
def test_check_digit_matches_reference(body: str) -> None:
    assert gtin_check_digit(body) == ref_check_digit(body)


@pytest.mark.parametrize("body", ["", "123456", "1" * 18, "12a4567", "\u0661" * 7])
def test_check_digit_rejects_non_digits_and_bad_lengths(body: str) -> None:
    with raises_message(f"check digit needs 7 to 17 digits, got {body!r}"):
        gtin_check_digit(body)


@pytest.mark.parametrize(
    "code",
    ["4006381333931", "036000291452", "96385074", "10614141000415", "8806088269696"],
)
def test_is_valid_gtin_accepts_published_codes(code: str) -> None:
    assert is_valid_gtin(code)


@pytest.mark.parametrize(
    "code",
    [
        "4006381333932",  # wrong check digit
        "04252614",  # a valid UPC-E is not a GTIN-8 until expanded
        "1234567",  # 7 digits
        "106141412345678908",  # SSCC: valid mod 10 but not a GTIN length
        "400638133393\u0661",  # non-ASCII digit
        " 4006381333931",
        "",
    ],
)
def test_is_valid_gtin_rejects(code: str) -> None:
    assert not is_valid_gtin(code)


# --------------------------------------------------------------------------- UPC-E


@pytest.mark.parametrize(
    ("upce", "upca"),
    [
        ("04252614", "042100005264"),  # last digit 0-2: manufacturer d1 d2 d6
        ("01234505", "012000003455"),
        ("01234531", "012300000451"),  # last digit 3
        ("01234543", "012340000053"),  # last digit 4
        ("01234565", "012345000065"),  # last digit 5-9
        ("14252611", "142100005261"),  # number system 1
    ],
)
def test_expand_upce(upce: str, upca: str) -> None:
    assert expand_upce(upce) == upca


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("24252614", "UPC-E: number system must be 0 or 1, got 2"),
        ("04252615", "check digit wrong: expected 4, got 5"),
        ("0425261", "UPC-E: must be 8 digits, got '0425261'"),
        ("0425261x", "UPC-E: must be 8 digits, got '0425261x'"),
    ],
)
def test_expand_upce_errors(code: str, message: str) -> None:
    with raises_message(message):
        expand_upce(code)


# --------------------------------------------------------------------------- normalize_gtin


@pytest.mark.parametrize(
    ("code", "canonical"),
    [
        ("96385074", "96385074"),  # EAN-8 stays 8
        ("04252614", "0042100005264"),  # UPC-E -> UPC-A -> EAN-13
        ("036000291452", "0036000291452"),  # UPC-A -> EAN-13
        ("0036000291452", "0036000291452"),
        ("00036000291452", "0036000291452"),  # GTIN-14 with leading 0 -> EAN-13
        ("4006381333931", "4006381333931"),
        ("04006381333931", "4006381333931"),
        ("10614141000415", "10614141000415"),  # packaging indicator 1 stays 14
        ("00000096385074", "96385074"),  # zero-padded GTIN-8 -> EAN-8
        ("0000096385074", "96385074"),
        ("00000001234565", "0000001234565"),  # RCN-8 starting 0 padded: ambiguous, stays 13
    ],
)
def test_normalize_gtin(code: str, canonical: str) -> None:
    assert normalize_gtin(code) == canonical


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("4006381333932", "check digit wrong: expected 1, got 2"),
        ("036000291453", "check digit wrong: expected 2, got 3"),
        ("96385075", "check digit wrong: expected 4, got 5"),
        ("04252615", "check digit wrong: expected 0, got 5"),  # neither EAN-8 nor UPC-E
        ("12345", "not a GTIN: 5 digits; expected 8, 12, 13 or 14"),
        ("4006-381333931", "not a GTIN: '4006-381333931' must be digits only"),
        ("", "not a GTIN: '' must be digits only"),
    ],
)
def test_normalize_gtin_errors(code: str, message: str) -> None:
    with raises_message(message):
        normalize_gtin(code)


@given(valid_gtins())
def test_normalize_round_trips_valid_gtins(code: str) -> None:
    canonical = normalize_gtin(code)
    assert mod10_ok(canonical)
    assert canonical.zfill(14) == code.zfill(14)  # same GTIN, only padding differs
    assert normalize_gtin(canonical) == canonical
    if len(code) == 8 and code[0] == "0":  # documented: padded RCN-8 0xxxxxxx is ambiguous
        assert normalize_gtin(code.zfill(14)) == code.zfill(13)
    else:
        assert normalize_gtin(code.zfill(14)) == canonical  # every representation agrees
    if len(code) == 8:
        assert canonical == code
    elif code.zfill(14)[0] != "0":
        assert len(canonical) == 14
    else:
        assert len(canonical) in (8, 13)


@st.composite
def corrupted(draw: st.DrawFn, lengths: tuple[int, ...]) -> tuple[str, str]:
    code = draw(valid_gtins(lengths))
    position = draw(st.integers(0, len(code) - 1))
    digit = draw(st.sampled_from([d for d in "0123456789" if d != code[position]]))
    return code, code[:position] + digit + code[position + 1 :]


@given(corrupted((12, 13, 14)))
def test_any_single_digit_error_is_detected(pair: tuple[str, str]) -> None:
    _, bad = pair
    assert not is_valid_gtin(bad)
    with pytest.raises(BarcodeError, match="^check digit wrong: expected [0-9], got [0-9]$"):
        normalize_gtin(bad)
    with pytest.raises(BarcodeError, match="^check digit wrong"):
        parse_scan(bad, [WEIGHT, PRICE, COUNT])  # 2x prefixes too: check digit comes first


@given(corrupted((8,)))
def test_single_digit_error_in_ean8_is_never_read_as_ean8(pair: tuple[str, str]) -> None:
    _, bad = pair
    assert not is_valid_gtin(bad)
    try:
        result = parse_scan(bad)
    except BarcodeError as error:
        assert str(error).startswith("check digit wrong")
    else:  # the only other reading the brief allows: a valid UPC-E
        assert result.symbology == "upce"
        assert bad[0] in "01"
        assert mod10_ok(expand_upce(bad))


# --------------------------------------------------------------------------- parse_scan: GTINs


@pytest.mark.parametrize(
    ("raw", "symbology", "lookup"),
    [
        ("4006381333931", "ean13", "4006381333931"),
        ("8901719101038", "ean13", "8901719101038"),
        ("036000291452", "upca", "0036000291452"),
        ("04252614", "upce", "0042100005264"),
        ("96385074", "ean8", "96385074"),
        ("01234565", "ean8", "01234565"),  # valid as EAN-8 and UPC-E: EAN-8 wins
        ("10614141000415", "gtin14", "10614141000415"),
        ("00000096385074", "gtin14", "96385074"),
        ("]E04006381333931", "ean13", "4006381333931"),
        ("]E496385074", "ean8", "96385074"),
    ],
)
def test_parse_scan_gtins(raw: str, symbology: str, lookup: str) -> None:
    result = parse_scan(raw)
    assert result == ScanResult(raw=raw, symbology=symbology, lookup_code=lookup)


def test_parse_scan_strips_whitespace_but_keeps_aim_in_raw() -> None:
    result = parse_scan("  ]E04006381333931\r\n")
    assert result.raw == "]E04006381333931"
    assert result.lookup_code == "4006381333931"


@pytest.mark.parametrize(
    ("raw", "lookup"),
    [
        ("425261", "425261"),  # 6/7 digits might be UPC-E: no guessing
        ("0425261", "0425261"),
        ("12345", "12345"),
        ("1234567890", "1234567890"),
        ("0" * 15, "0" * 15),
        ("SKU-ATTA-5KG", "SKU-ATTA-5KG"),
        ("https://example.in/p/42?x=1", "https://example.in/p/42?x=1"),
        ("चाय 250g", "चाय 250g"),
        ("]C0ABC-123", "ABC-123"),  # Code 128 identifier is transport, not data
        ("]Q1hello", "hello"),
        ("(pack)", "(pack)"),
        ("x" * 200, "x" * 200),
    ],
)
def test_parse_scan_text(raw: str, lookup: str) -> None:
    result = parse_scan(raw)
    assert result == ScanResult(raw=raw, symbology="text", lookup_code=lookup)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "not a barcode: empty"),
        ("  \t\r\n ", "not a barcode: empty"),
        ("]C1", "not a barcode: empty after symbology identifier ]C1"),
        ("x" * 201, "not a barcode: too long (201 characters, at most 200)"),
        ("ab\tc", "not a barcode: control character U+0009 at position 3"),
        ("1234\n5678", "not a barcode: control character U+000A at position 5"),
        ("A\x04", "not a barcode: control character U+0004 at position 2"),
        ("A\x1eB", "not a barcode: control character U+001E at position 2"),
        ("A\x7f", "not a barcode: control character U+007F at position 2"),
        ("4006381333932", "check digit wrong: expected 1, got 2"),
        ("036000291453", "check digit wrong: expected 2, got 3"),
        ("96385075", "check digit wrong: expected 4, got 5"),
        ("10614141000416", "check digit wrong: expected 5, got 6"),
    ],
)
def test_parse_scan_errors(raw: str, message: str) -> None:
    with raises_message(message):
        parse_scan(raw)


# --------------------------------------------------------------------------- measure rules


def test_rule_layout() -> None:
    assert (WEIGHT.prefix, WEIGHT.item_length, WEIGHT.value_length, WEIGHT.decimals) == (
        "21",
        5,
        5,
        3,
    )
    assert MeasureRule.compile("x", "2912{NNNNN}...", "count").prefix == "2912"
    assert COUNT.item_length == 7


@pytest.mark.parametrize(
    ("name", "pattern", "kind", "message"),
    [
        (
            "w",
            "21....{NNDDD}",
            "weight",
            "rule 'w': pattern must have 12 symbols without "
            "braces (the EAN-13 minus its check digit), got 11",
        ),
        (
            "w",
            "21.....{NNDDDD}",
            "weight",
            "rule 'w': pattern must have 12 symbols without "
            "braces (the EAN-13 minus its check digit), got 13",
        ),
        (
            "w",
            "21.....NNDDD",
            "weight",
            "rule 'w': no value group; put the value in braces, e.g. 21.....{NNDDD}",
        ),
        (
            "w",
            "21....{NN}{DDDD}",
            "weight",
            "rule 'w': pattern needs exactly one value group {...}",
        ),
        ("w", "21.....{NNDDD", "weight", "rule 'w': pattern needs exactly one value group {...}"),
        ("w", "21.....}NNDDD{", "weight", "rule 'w': '}' comes before '{'"),
        ("w", "21.......{}...", "weight", "rule 'w': value group {} is empty"),
        (
            "w",
            "21.....{NDNDD}",
            "weight",
            "rule 'w': value group {NDNDD} may only hold N digits followed by D digits",
        ),
        (
            "w",
            "21.....{NN.DD}",
            "weight",
            "rule 'w': value group {NN.DD} may only hold N digits followed by D digits",
        ),
        (
            "w",
            "21....X{NNDDD}",
            "weight",
            "rule 'w': invalid symbol 'X' outside the value group; "
            "use digits for the prefix and '.' for item-code digits",
        ),
        (
            "w",
            "89.....{NNDDD}",
            "weight",
            "rule 'w': pattern must start with 2 (prefixes 20-29 "
            "are for in-store barcodes), got '89'",
        ),
        (
            "w",
            ".2....{NNDDDD}",
            "weight",
            "rule 'w': pattern must start with 2 (prefixes 20-29 "
            "are for in-store barcodes), got '.2'",
        ),
        (
            "w",
            "2......{NNDDD}",
            "weight",
            "rule 'w': prefix must be at least 2 digits (20-29), got '2'",
        ),
        (
            "w",
            "21..5..{NNDDD}",
            "weight",
            "rule 'w': literal digits are only allowed at the start (the prefix)",
        ),
        (
            "w",
            "21....{NNDDDD}",
            "weight",
            "rule 'w': weight allows at most 3 decimals (grams), got 4",
        ),
        (
            "p",
            "22....{NNNDDD}",
            "price",
            "rule 'p': price allows at most 2 decimals (paise), got 3",
        ),
        ("c", "23.....{NNNND}", "count", "rule 'c': count cannot have decimals (D)"),
        (
            "v",
            "24.....{NNDDD}",
            "volume",
            "rule 'v': unknown kind 'volume'; use weight, price or count",
        ),
        ("", "21.....{NNDDD}", "weight", "barcode rule needs a name"),
        ("w", 21, "weight", "rule 'w': pattern must be text, got 21"),
    ],
)
def test_rule_compile_errors(name: str, pattern: str, kind: str, message: str) -> None:
    with raises_message(message):
        MeasureRule.compile(name, pattern, kind)  # type: ignore[arg-type]
    with raises_message(message):  # direct construction validates too
        MeasureRule(name, pattern, kind)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rule", "item", "value", "code", "base"),
    [
        (WEIGHT, "12345", 1234, "2112345012346", "2112345000008"),  # 1.234 kg
        (PRICE, "54321", 12345, "2254321123452", "2254321000005"),  # Rs 123.45
        (COUNT, "1234567", 12, "2301212345674", "2300012345679"),  # value before item code
    ],
)
def test_variable_barcode_known_values(
    rule: MeasureRule, item: str, value: int, code: str, base: str
) -> None:
    assert make_variable_barcode(rule, item, value) == code
    result = parse_scan(code, [COUNT, PRICE, WEIGHT])
    assert result.symbology == "variable"
    assert result.lookup_code == base
    assert result.rule_name == rule.name
    measured = {"weight": result.weight_g, "price": result.price_minor, "count": result.quantity}
    assert measured == {k: (value if k == rule.kind else None) for k in measured}


def test_weight_with_fewer_decimals_scales_to_grams() -> None:
    coarse = MeasureRule.compile("10 g steps", "20.....{NNNDD}", "weight")
    code = make_variable_barcode(coarse, "00042", 12340)  # 12.34 kg
    assert code[7:12] == "01234"
    assert parse_scan(code, [coarse]).weight_g == 12340


def test_longest_prefix_wins_regardless_of_order() -> None:
    special = MeasureRule.compile("Dairy price", "215....{NNNDD}", "price")
    for rules in ([WEIGHT, special], [special, WEIGHT]):
        dairy = parse_scan(make_variable_barcode(special, "0042", 5000), rules)
        assert (dairy.rule_name, dairy.price_minor, dairy.weight_g) == ("Dairy price", 5000, None)
        veg = parse_scan(make_variable_barcode(WEIGHT, "10042", 500), rules)
        assert (veg.rule_name, veg.weight_g, veg.price_minor) == ("Loose weight", 500, None)


def test_equal_prefixes_first_listed_rule_wins() -> None:
    other = MeasureRule.compile("Other", "21.....{NNNDD}", "price")
    code = make_variable_barcode(WEIGHT, "12345", 1234)
    assert parse_scan(code, [WEIGHT, other]).rule_name == "Loose weight"
    assert parse_scan(code, [other, WEIGHT]).rule_name == "Other"


@pytest.mark.parametrize(
    ("raw", "rules", "message"),
    [
        ("2412345012347", [WEIGHT], "unknown prefix 24: no in-store barcode rule starts with 24"),
        ("2112345012346", [], "unknown prefix 21: no in-store barcode rule starts with 21"),
        (
            "2122345012345",
            [MeasureRule.compile("x", "211....{NNDDD}", "weight")],
            "unknown prefix 21: no in-store barcode rule matches 2122345012345 "
            "(rules for 21 start with 211)",
        ),
        ("2112345012347", [WEIGHT], "check digit wrong: expected 6, got 7"),
    ],
)
def test_variable_errors(raw: str, rules: list[MeasureRule], message: str) -> None:
    assert mod10_ok(raw) == message.startswith("unknown")  # only the last one is a mis-scan
    with raises_message(message):
        parse_scan(raw, rules)


@pytest.mark.parametrize(
    ("rule", "item", "value", "message"),
    [
        (WEIGHT, "1234", 1, "rule 'Loose weight': item code must be 5 digits, got '1234'"),
        (WEIGHT, "12a45", 1, "rule 'Loose weight': item code must be digits, got '12a45'"),
        (
            WEIGHT,
            "12345",
            -1,
            "rule 'Loose weight': value must be a whole number of g >= 0, got -1",
        ),
        (
            WEIGHT,
            "12345",
            True,
            "rule 'Loose weight': value must be a whole number of g >= 0, got True",
        ),
        (
            PRICE,
            "12345",
            1.5,
            "rule 'Priced label': value must be a whole number of paise >= 0, got 1.5",
        ),
        (WEIGHT, "12345", 100000, "rule 'Loose weight': 100000 g does not fit; at most 99999 g"),
        (
            PRICE,
            "12345",
            100000,
            "rule 'Priced label': 100000 paise does not fit; at most 99999 paise",
        ),
        (
            COUNT,
            "1234567",
            1000,
            "rule 'Bundle count': 1000 pieces does not fit; at most 999 pieces",
        ),
        (
            MeasureRule.compile("r", "22.....{NNNND}", "price"),
            "12345",
            12345,
            "rule 'r': 12345 paise is not a multiple of 10 paise, "
            "the smallest step this rule can encode",
        ),
    ],
)
def test_make_variable_barcode_errors(
    rule: MeasureRule, item: str, value: int, message: str
) -> None:
    with raises_message(message):
        make_variable_barcode(rule, item, value)


UNITS = {"weight": 3, "price": 2, "count": 0}


@st.composite
def rule_and_label(draw: st.DrawFn) -> tuple[MeasureRule, str, int]:
    kind = draw(st.sampled_from(["weight", "price", "count"]))
    prefix = "2" + draw(st.text(alphabet="0123456789", min_size=1, max_size=3))
    value_length = draw(st.integers(1, 12 - len(prefix)))
    decimals = draw(st.integers(0, min(UNITS[kind], value_length)))
    item_length = 12 - len(prefix) - value_length
    before = draw(st.integers(0, item_length))
    group = "{" + "N" * (value_length - decimals) + "D" * decimals + "}"
    pattern = prefix + "." * before + group + "." * (item_length - before)
    rule = MeasureRule.compile("generated", pattern, kind)  # type: ignore[arg-type]
    item = draw(st.text(alphabet="0123456789", min_size=item_length, max_size=item_length))
    value = draw(st.integers(0, 10**value_length - 1)) * 10 ** (UNITS[kind] - decimals)
    return rule, item, value


@given(rule_and_label())
def test_variable_round_trip(case: tuple[MeasureRule, str, int]) -> None:
    rule, item, value = case
    code = make_variable_barcode(rule, item, value)
    assert len(code) == 13 and mod10_ok(code) and code.startswith(rule.prefix)
    rules = [rule]
    if len(rule.prefix) > 2:  # a shorter-prefix rule listed first must not win
        rules.insert(0, MeasureRule.compile("decoy", rule.prefix[:2] + ".....{NNDDD}", "weight"))
    result = parse_scan(code, rules)
    assert (result.symbology, result.rule_name) == ("variable", "generated")
    amounts = {"weight": result.weight_g, "price": result.price_minor, "count": result.quantity}
    assert amounts[rule.kind] == value
    assert sum(v is not None for v in amounts.values()) == 1
    base = make_variable_barcode(rule, item, 0)
    assert result.lookup_code == base
    assert mod10_ok(base)
    assert parse_scan(base, rules).lookup_code == base


@given(rule_and_label(), st.integers(1, 10**12))
def test_values_that_do_not_fit_are_refused(case: tuple[MeasureRule, str, int], extra: int) -> None:
    rule, item, _ = case
    step = 10 ** (UNITS[rule.kind] - rule.decimals)
    too_big = 10**rule.value_length * step + extra - 1
    with pytest.raises(BarcodeError, match="does not fit|not a multiple"):
        make_variable_barcode(rule, item, too_big)


# --------------------------------------------------------------------------- GS1


def test_gs1_datamatrix_with_gs_separators() -> None:
    raw = "]d2" + "01" + GTIN_01 + "17251231" + "10" + "BATCH-7" + GS + "21" + "SER9"
    result = parse_scan(raw)
    assert result == ScanResult(
        raw=raw,
        symbology="gs1",
        lookup_code="9501101530003",
        batch="BATCH-7",
        expiry=datetime.date(2025, 12, 31),
        serial="SER9",
    )
    assert parse_gs1(raw) == {"01": GTIN_01, "17": "251231", "10": "BATCH-7", "21": "SER9"}


@pytest.mark.parametrize(
    "raw",
    [
        "(01)09501101530003(3103)001250(3922)12345",
        "(01) 09501101530003 (3103) 001250 (3922) 12345",
        "]C1" + "01" + GTIN_01 + "3103001250" + "3922" + "12345",
        GS + "01" + GTIN_01 + "3103001250" + "3922" + "12345" + GS,
        "]Q3" + "01" + GTIN_01 + "3922" + "12345" + GS + "3103001250",
    ],
)
def test_gs1_weight_and_price(raw: str) -> None:
    result = parse_scan(raw)
    assert (result.symbology, result.lookup_code) == ("gs1", "9501101530003")
    assert (result.weight_g, result.price_minor) == (1250, 12345)


@pytest.mark.parametrize(
    ("element", "field", "expected"),
    [
        ("3100000123", "weight_g", 123000),  # 123 kg
        ("3105012345", "weight_g", 123),  # 0.12345 kg rounds to 123 g
        ("3105012355", "weight_g", 124),  # 0.12355 kg rounds half up to 124 g
        ("3201000010", "weight_g", 454),  # 1.0 lb = 453.59237 g
        ("3200000100", "weight_g", 45359),  # 100 lb
        ("3200999999", "weight_g", 453591916),  # 999999 x 453.59237 g = 453591916.40763 g
        ("392099", "price_minor", 9900),
        ("39211234", "price_minor", 12340),
        ("39241234500", "price_minor", 12345),  # 123.4500 is exactly 12345 paise
        ("3932" + "356" + "12345", "price_minor", 12345),
        ("3042", "quantity", 42),
        ("3700000006", "quantity", 6),  # with contained GTIN 02
    ],
)
def test_gs1_measures(element: str, field: str, expected: int) -> None:
    gtin = "02" if element.startswith("37") else "01"
    result = parse_scan("]C1" + gtin + GTIN_01 + element)
    assert getattr(result, field) == expected


def test_gs1_metric_weight_wins_over_pounds() -> None:
    result = parse_scan("]C1" + "01" + GTIN_01 + "3102001234" + "3202000100")
    assert result.weight_g == 12340


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("251231", datetime.date(2025, 12, 31)),
        ("250200", datetime.date(2025, 2, 28)),  # day 00 = last day of month
        ("240200", datetime.date(2024, 2, 29)),
        ("241100", datetime.date(2024, 11, 30)),
        ("000101", datetime.date(2000, 1, 1)),
        ("761231", datetime.date(2076, 12, 31)),
        ("770101", datetime.date(1977, 1, 1)),  # GS1's century rule, as gs1.expiry_date
        ("991231", datetime.date(1999, 12, 31)),
    ],
)
def test_gs1_dates(date: str, expected: datetime.date) -> None:
    result = parse_scan(f"(01){GTIN_01}(17){date}(15){date}", today=datetime.date(2026, 12, 1))
    assert result.expiry == expected
    assert result.best_before == expected


@given(st.dates(min_value=datetime.date(1950, 1, 1), max_value=datetime.date(2150, 12, 31)),
       st.dates(min_value=datetime.date(2000, 1, 1), max_value=datetime.date(2100, 12, 31)))
def test_parse_scan_dates_follow_gs1_century_rule(expiry: datetime.date,
                                                  today: datetime.date) -> None:
    """parse_scan and gs1.expiry_date agree on every date and every today (issue #17: the
    till used 20YY, receiving GS1's window: 2077 vs 1977 in 2026)."""
    from app.catalog.gs1 import expiry_date

    yymmdd = expiry.strftime("%y%m%d")
    result = parse_scan(f"(01){GTIN_01}(17){yymmdd}", today=today)
    assert result.expiry == expiry_date(yymmdd, today)


def test_parse_scan_without_today_uses_the_machines_date() -> None:
    today = datetime.date.today()
    far = today.replace(year=today.year + 60, day=1)  # beyond +50 years: last century
    result = parse_scan(f"(01){GTIN_01}(17){far.strftime('%y%m%d')}")
    assert result.expiry == far.replace(year=far.year - 100)


def test_gs1_sscc_and_contained_gtin() -> None:
    sscc = parse_scan("]C1" + "00" + "106141412345678908")
    assert (sscc.symbology, sscc.lookup_code) == ("gs1", "106141412345678908")
    case = parse_scan("]C1" + "00" + "106141412345678908" + "02" + GTIN_01 + "3712")
    assert (case.lookup_code, case.quantity) == ("9501101530003", 12)


def test_gs1_gtin8_in_ai01_matches_ean8_lookup() -> None:
    assert parse_scan("(01)00000096385074").lookup_code == parse_scan("96385074").lookup_code


def test_parse_gs1_keeps_raw_values_and_accepts_dates_it_validates() -> None:
    assert parse_gs1("(01)09501101530003(11)240229(13)250200(3932)35612345(10)AB(C)") == {
        "01": GTIN_01,
        "11": "240229",
        "13": "250200",
        "3932": "35612345",
        "10": "AB(C)",
    }


X = "]C1" + "01" + GTIN_01


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (X + "17251341", "GS1: expiry 17 has an invalid date 251341"),
        (X + "17250230", "GS1: expiry 17 has an invalid date 250230"),
        (X + "15251301", "GS1: best before 15 has an invalid date 251301"),
        (X + "11230229", "GS1: production date 11 has an invalid date 230229"),
        (X + "13250001", "GS1: packaging date 13 has an invalid date 250001"),
        (X + "99ABC", "GS1: unsupported application identifier 99"),
        (X + "240ABC", "GS1: unsupported application identifier 240"),
        (X + "3306001234", "GS1: unsupported application identifier 3306"),
        (X + "3106001234", "GS1: unsupported application identifier 3106"),
        ("(99)12", "GS1: unsupported application identifier 99"),
        ("(01)09501101530003(7003)2501011200", "GS1: unsupported application identifier 7003"),
        (X + "31", "GS1: incomplete application identifier '31' at position 17"),
        (X + "A1", "GS1: expected an application identifier at position 17, got 'A1'"),
        ("]C1" + "0109501101530004", "GS1: GTIN 01 check digit wrong: expected 3, got 4"),
        ("]C1" + "0209501101530005", "GS1: contained GTIN 02 check digit wrong: expected 3, got 5"),
        ("]C1" + "00106141412345678907", "GS1: SSCC 00 check digit wrong: expected 8, got 7"),
        ("]C1" + "01095011015300", "GS1: GTIN 01 must be 14 digits, got '095011015300'"),
        (
            "]C1" + "010950110153" + GS + "17251231",
            "GS1: GTIN 01 must be 14 digits, got '0950110153'",
        ),
        ("(01)0950110153000(17)251231", "GS1: GTIN 01 must be 14 digits, got '0950110153000'"),
        ("(01)095011015300033(17)251231", "GS1: GTIN 01 must be 14 digits, got '095011015300033'"),
        (X + "172512", "GS1: expiry 17 must be 6 digits, got '2512'"),
        (X + "10" + GS + "21X", "GS1: batch 10 is empty"),
        (X + "10" + "A" * 21, "GS1: batch 10 is too long (21 characters, at most 20)"),
        (X + "21" + "S" * 21, "GS1: serial 21 is too long (21 characters, at most 20)"),
        (X + "10A#B", "GS1: batch 10 has character '#', which GS1 does not allow"),
        (X + "21A B", "GS1: serial 21 has character ' ', which GS1 does not allow"),
        (X + "30123456789", "GS1: count 30 is too long (9 characters, at most 8)"),
        (X + "3012A", "GS1: count 30 must be digits, got '12A'"),
        (
            X + "393235",
            "GS1: price with currency 3932 must be a 3-digit currency code followed by the price",
        ),
        (
            X + "3932" + "840" + "12345",
            "GS1: price 3932 is in currency 840; only INR (356) is accepted",
        ),
        (
            X + "3923" + "123455",
            "GS1: price 3923 has 3 decimals; 123.455 is not a whole number of paise",
        ),
        (
            X + "3929" + "5",
            "GS1: price 3929 has 9 decimals; 0.000000005 is not a whole number of paise",
        ),
        (X + "17251231" + "17251231", "GS1: application identifier 17 appears twice"),
        (X + "3103001000" + "3102001000", "GS1: net weight (kg) given twice (3103 and 3102)"),
        (X + "392112" + GS + "3922" + "12", "GS1: price given twice (3921 and 3922)"),
        (X + "392112" + GS + "3932" + "35612", "GS1: price given twice (3921 and 3932)"),
        (X + "02" + GTIN_01, "GS1: both GTIN 01 and contained GTIN 02 given; expected one"),
        (X + "305" + GS + "375", "GS1: both count 30 and count 37 given; expected one"),
        ("]C1" + "10ABC", "GS1: no product code; expected GTIN 01, 02 or SSCC 00"),
        ("]C1" + GS + GS, "GS1: empty element string"),
    ],
)
def test_gs1_errors(raw: str, message: str) -> None:
    with raises_message(message):
        parse_scan(raw)


def test_parse_gs1_rejects_non_gs1_symbology_and_missing_parenthesis() -> None:
    with raises_message("GS1: symbology ]E0 does not carry GS1 data"):
        parse_gs1("]E04006381333931")
    with raises_message("GS1: expected '(' application identifier ')' at the start"):
        parse_gs1("(1)23")


dates = st.dates(min_value=datetime.date(2000, 1, 1), max_value=datetime.date(2099, 12, 31))


@st.composite
def gs1_labels(draw: st.DrawFn, alphabet: str) -> tuple[list[str], dict[str, str], datetime.date]:
    gtin = draw(valid_gtins((14,)))
    expiry = draw(dates)
    fields = {
        "01": gtin,
        "17": expiry.strftime("%y%m%d"),
        "10": draw(st.text(alphabet=alphabet, min_size=1, max_size=20)),
        "21": draw(st.text(alphabet=alphabet, min_size=1, max_size=20)),
    }
    order = draw(st.permutations(list(fields)))
    return order, {ai: fields[ai] for ai in order}, expiry


@given(gs1_labels(CSET82), st.sampled_from(["]C1", "]d2", "]Q3", GS]))
def test_gs1_gs_form_round_trips(
    label: tuple[list[str], dict[str, str], datetime.date], lead: str
) -> None:
    order, fields, expiry = label
    parts = []
    for ai in order:
        parts.append(ai + fields[ai])
        if ai in ("10", "21"):
            parts.append(GS)  # variable-length fields end at GS (a trailing one is harmless)
    raw = lead + "".join(parts)
    assert parse_gs1(raw) == fields
    result = parse_scan(raw, today=expiry)  # its own century, whichever it is
    assert result.symbology == "gs1"
    assert result.lookup_code.zfill(14) == fields["01"]
    assert (result.batch, result.serial, result.expiry) == (fields["10"], fields["21"], expiry)


@given(gs1_labels(CSET82.replace("(", "").replace(")", "")))
def test_gs1_parenthesised_form_round_trips(
    label: tuple[list[str], dict[str, str], datetime.date],
) -> None:
    order, fields, expiry = label
    raw = "".join(f"({ai}){fields[ai]}" for ai in order)
    assert parse_gs1(raw) == fields
    result = parse_scan(raw, today=expiry)
    assert result.lookup_code.zfill(14) == fields["01"]
    assert (result.batch, result.serial, result.expiry) == (fields["10"], fields["21"], expiry)


@given(
    st.integers(0, 3),
    st.integers(0, 999_999),
    st.integers(0, 2),
    st.text(alphabet="0123456789", min_size=1, max_size=15),
)
def test_gs1_weight_and_price_conversion(
    weight_decimals: int, weight: int, price_decimals: int, price: str
) -> None:
    raw = f"(01){GTIN_01}(310{weight_decimals}){weight:06d}(392{price_decimals}){price}"
    result = parse_scan(raw)
    assert result.weight_g == weight * 10 ** (3 - weight_decimals)
    assert result.price_minor == int(price) * 10 ** (2 - price_decimals)


@given(st.integers(2000, 2099), st.integers(1, 12))
def test_gs1_day_zero_is_last_day_of_month(year: int, month: int) -> None:
    first_of_next = (datetime.date(year, month, 1) + datetime.timedelta(days=32)).replace(day=1)
    result = parse_scan(f"(01){GTIN_01}(17){year % 100:02d}{month:02d}00",
                        today=datetime.date(year, month, 1))
    assert result.expiry == first_of_next - datetime.timedelta(days=1)


def test_results_and_rules_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        parse_scan("96385074").lookup_code = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        WEIGHT.pattern = "22.....{NNDDD}"  # type: ignore[misc]
    assert MeasureRule.compile("Loose weight", "21.....{NNDDD}", "weight") == WEIGHT
