"""GS1 element strings for receiving (issue #17): app/catalog/gs1.py."""

import datetime
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.catalog.barcodes import gtin_check_digit, normalize_gtin
from app.catalog.gs1 import GS1Error, expiry_date, gs1_year, parse_element_string, piece_gtin

TODAY = datetime.date(2026, 12, 1)
GS = "\x1d"
PIECE = "8901030865275"  # a valid EAN-13
GTIN14 = "0" + PIECE


def case_of(piece13: str, indicator: str) -> str:
    body = indicator + piece13[:12]
    return body + gtin_check_digit(body)


# ---- the three ways a code arrives ----------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        f"]d201{GTIN14}17270300" + f"10LOT-7{GS}21SN1{GS}3102012345",
        f"]C101{GTIN14}17270300" + f"10LOT-7{GS}21SN1{GS}3102012345",
        f"]Q301{GTIN14}17270300" + f"10LOT-7{GS}21SN1{GS}3102012345",
        f"{GS}01{GTIN14}17270300" + f"10LOT-7{GS}21SN1{GS}3102012345",
        f"(01){GTIN14}(17)270300(10)LOT-7(21)SN1(3102)012345",
        f"  (01){GTIN14}(17)270300(10)LOT-7(21)SN1(3102)012345\r\n",
    ],
)
def test_every_transport_gives_the_same_fields(raw):
    got = parse_element_string(raw, TODAY)
    assert got.gtin == GTIN14
    assert got.lookup_gtin == PIECE
    assert got.batch == "LOT-7"
    assert got.serial == "SN1"
    assert got.expiry == datetime.date(2027, 3, 31)  # day 00: last day of the month
    assert got.net_weight_g == 123450  # 0123.45 kg
    assert got.contained is False


def test_batch_runs_to_the_end_and_counts_and_contained_gtin():
    got = parse_element_string(f"02{GTIN14}37{'24'}{GS}10B", TODAY)
    assert (got.gtin, got.contained, got.count, got.batch) == (GTIN14, True, 24, "B")
    assert parse_element_string(f"01{GTIN14}3012", TODAY).count == 12


def test_weight_decimals():
    assert parse_element_string(f"01{GTIN14}3100000500", TODAY).net_weight_g == 500_000
    assert parse_element_string(f"01{GTIN14}3103000500", TODAY).net_weight_g == 500
    assert parse_element_string(f"01{GTIN14}3105000005", TODAY).net_weight_g == 0  # 0.05 g


# ---- refusals: clear, specific, ValueError -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (f"01{GTIN14[:-1]}9", "check digit wrong"),
        (f"01{GTIN14}17271301", "invalid date 271301"),
        (f"01{GTIN14}17270230", "invalid date 270230"),
        (f"01{GTIN14}1727", "must be 6 digits"),  # truncated fixed-length field
        (f"01{GTIN14[:10]}", "must be 14 digits"),
        (f"01{GTIN14}99ABC", "unsupported application identifier 99"),
        (f"(01){GTIN14}(99)X", "unsupported application identifier 99"),
        (f"01{GTIN14}7003X", "unsupported application identifier 7003"),
        (f"01{GTIN14}\x0010A", r"control character U\+0000 at position 17"),
        ("", "empty"),
        ("]d2", "empty"),
        (GS * 3, "empty"),
        (f"01{GTIN14}10{'A' * 21}", "too long"),
        (f"01{GTIN14}02{GTIN14}", "both GTIN 01 and contained GTIN 02"),
        (f"01{GTIN14}3012{GS}3712", "both count 30 and count 37"),
        (f"01{GTIN14}10A{GS}10B", "appears twice"),
        ("]E0" + PIECE, "does not carry GS1 data"),
        (f"01{GTIN14}10A B", "GS1 does not allow"),
    ],
)
def test_hostile_input_gets_a_named_reason(raw, words):
    with pytest.raises(GS1Error, match=words) as caught:
        parse_element_string(raw, TODAY)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("size", [201, 100_000, 1_000_000])
@pytest.mark.parametrize("fill", ["1", " ", GS, "(01)", "\x00"])
def test_huge_input_is_refused_fast(size, fill):
    raw = (fill * size)[:size] + "x"
    started = time.perf_counter()
    with pytest.raises(GS1Error):
        parse_element_string(raw, TODAY)
    assert time.perf_counter() - started < 0.05


def test_not_text_is_refused():
    with pytest.raises(GS1Error, match="expected text"):
        parse_element_string(b"0109501101530003", TODAY)  # type: ignore[arg-type]


@given(st.text(max_size=300))
def test_any_text_parses_or_gives_gs1error(raw):
    try:
        got = parse_element_string(raw, TODAY)
    except GS1Error as e:
        assert str(e).startswith("GS1:")
    else:
        assert got.fields


@given(st.binary(max_size=120))
def test_any_bytes_as_latin1_parses_or_gives_gs1error(blob):
    try:
        parse_element_string(blob.decode("latin-1"), TODAY)
    except GS1Error as e:
        assert str(e).startswith("GS1:")


# ---- century rule ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yy", "year", "expected"),
    [
        (26, 2026, 2026),
        (76, 2026, 2076),  # +50: still this century
        (77, 2026, 1977),  # +51: previous century
        (99, 2026, 1999),
        (0, 2049, 2000),
        (99, 2049, 2099),  # +50
        (0, 2051, 2100),  # -51: next century
        (1, 2051, 2101),  # -50: next century
        (2, 2051, 2002),  # -49: this century
    ],
)
def test_gs1_century_rule(yy, year, expected):
    assert gs1_year(yy, datetime.date(year, 6, 1)) == expected


@given(st.integers(0, 99), st.dates(datetime.date(1600, 1, 1), datetime.date(9800, 1, 1)))
def test_year_is_within_minus_49_plus_50(yy, today):
    year = gs1_year(yy, today)
    assert year % 100 == yy
    assert -49 <= year - today.year <= 50


def test_day_00_is_the_last_day_and_leap_years_follow_the_century():
    assert expiry_date("240200", TODAY) == datetime.date(2024, 2, 29)
    assert expiry_date("250200", TODAY) == datetime.date(2025, 2, 28)
    assert expiry_date("000229", datetime.date(2026, 1, 1)) == datetime.date(2000, 2, 29)
    with pytest.raises(GS1Error, match="day 29"):  # 2100 is not a leap year
        expiry_date("000229", datetime.date(2060, 1, 1))


@given(st.dates(datetime.date(1951, 1, 1), datetime.date(2099, 12, 31)))
def test_any_date_round_trips_in_its_window(day):
    today = datetime.date(2026, 12, 1)
    if not -49 <= day.year - today.year <= 50:
        return
    assert expiry_date(day.strftime("%y%m%d"), today) == day
    raw = f"01{GTIN14}17{day.strftime('%y%m%d')}10B"
    assert parse_element_string(raw, today).expiry == day


# ---- a case GTIN-14 maps to its piece ----------------------------------------------------


def test_piece_of_a_case():
    assert piece_gtin(case_of(PIECE, "1")) == PIECE
    assert piece_gtin(case_of(PIECE, "8")) == PIECE
    assert piece_gtin(GTIN14) is None  # indicator 0: the piece itself
    assert piece_gtin(case_of(PIECE, "9")) is None  # variable measure, not a pack level
    with pytest.raises(GS1Error, match="check digit wrong"):
        good = case_of(PIECE, "1")
        piece_gtin(good[:-1] + str((int(good[-1]) + 1) % 10))
    with pytest.raises(GS1Error, match="14 digits"):
        piece_gtin(PIECE)
    with pytest.raises(GS1Error, match="14 digits"):
        piece_gtin(int(case_of(PIECE, "1")))  # type: ignore[arg-type]
    with pytest.raises(GS1Error, match="two digits"):
        gs1_year(True, TODAY)
    with pytest.raises(GS1Error, match="6 digits"):
        expiry_date("27030", TODAY)


@given(st.from_regex(r"[0-9]{12}", fullmatch=True), st.sampled_from("12345678"))
def test_case_to_piece_round_trip(body, indicator):
    piece = body + gtin_check_digit(body)
    assert piece_gtin(case_of(piece, indicator)) == normalize_gtin(piece)
