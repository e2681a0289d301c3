"""app.core.gst_invoice and IGST rows of app.core.gst (issue #18, GST documents)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from app.core import gst_invoice as gi
from app.core.gst import TaxRow, tax_rows
from app.core.money import GST_SLABS_BP, gst_in_inclusive

IST = ZoneInfo("Asia/Kolkata")
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def with_check(first14: str) -> str:
    return first14 + luhn.calc_check_digit(first14, ALPHABET)


# --- GSTIN -----------------------------------------------------------------------------

def test_a_good_gstin_gives_its_state():
    g = gi.parse_gstin(" 27aapfu0939f1zv ")
    assert g.number == "27AAPFU0939F1ZV" and g.state_code == "27" and g.pan == "AAPFU0939F"
    assert gi.parse_gstin("38AAACK1234F1ZX").state_code == "38"  # Ladakh (stdnum lacks it)
    assert gi.parse_gstin("97AAACK1234F1ZT").state_code == "97"  # Other Territory


@pytest.mark.parametrize(("text", "words"), [
    ("27AAPFU0939F1ZO", "check character"),
    ("27AAPFU0939F1Z", "this one has 14"),
    ("27AAPFU0939F1ZVV", "this one has 16"),
    ("", "Type the GSTIN"),
    ("   ", "Type the GSTIN"),
    ("99AAPFU0939F1ZV", "99 is not a GST state code"),
    ("00AAPFU0939F1ZV", "00 is not a GST state code"),
    ("AAAAPFU0939F1ZV", "starts with the 2-digit state code"),
    ("27AAPFU0939F1YV", "14th is Z"),
    ("271APFU0939F1ZV", "PAN"),
    ("27AAPFU0939F0ZV", "never 0"),
    ("27AAPFU0939F1Z\x00", "cannot be typed"),
    ("27AAPFU0939F1Z✓", "only letters and digits"),
    ("2" * 100_000, "far too long"),
    ("27AAPFU0939F1Z=", "only letters and digits"),
])
def test_a_wrong_gstin_says_what_is_wrong(text, words):
    with pytest.raises(gi.GstinError, match=words) as err:
        gi.parse_gstin(text)
    assert len(str(err.value)) < 200  # a 100 KB paste is never echoed back


@given(st.sampled_from(sorted(gi.STATE_NAMES)), st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
       min_size=6, max_size=6), st.integers(0, 9999), st.sampled_from(ALPHABET[1:]))
def test_every_state_code_in_the_table_is_accepted_and_one_typo_is_caught(code, letters, n, reg):
    number = with_check(f"{code}{letters[:5]}{n:04d}{letters[5]}{reg}Z")
    assert gi.parse_gstin(number).state_code == code
    assert gi.state_label(code) == f"{code}-{gi.STATE_NAMES[code]}"
    wrong = number[:14] + next(c for c in ALPHABET if c != number[14])
    with pytest.raises(gi.GstinError, match="check character"):
        gi.parse_gstin(wrong)


def test_state_table_as_the_portal_writes_it():
    assert gi.state_label("29") == "29-Karnataka"
    assert gi.state_label("07") == "07-Delhi"
    assert gi.state_label("97") == "97-Other Territory"
    assert sorted(gi.STATE_NAMES) == [f"{i:02d}" for i in range(1, 39)] + ["97"]
    for bad in ("39", "96", "1", "", "29\x00", "2" * 100_000):
        with pytest.raises(ValueError, match="not a GST state code"):
            gi.state_label(bad)


def test_place_of_supply_and_inter_state():
    buyer = gi.parse_gstin("27AAPFU0939F1ZV")
    assert gi.place_of_supply(buyer) == "27"
    own = gi.store_state("29AAACK1234F1ZW")
    assert own == "29"
    assert gi.is_inter_state(own, "27") and not gi.is_inter_state(own, "29")
    assert gi.store_state("", "27") == "27" and gi.store_state("", "") == ""
    assert not gi.is_inter_state("", "27")  # store's state unknown: CGST+SGST
    assert not gi.is_inter_state("29", "")  # B2C: no place of supply recorded
    with pytest.raises(ValueError):
        gi.store_state("", "99")


# --- financial year ---------------------------------------------------------------------

def test_financial_year_turns_on_the_first_of_april():
    assert gi.financial_year(date(2027, 3, 31)) == "2026-27"
    assert gi.financial_year(date(2026, 4, 1)) == "2026-27"
    assert gi.financial_year(date(2026, 3, 31)) == "2025-26"
    assert gi.financial_year(date(2099, 12, 31)) == "2099-00"
    assert gi.financial_year(date(2000, 1, 1)) == "1999-00"


def test_financial_year_of_an_instant_is_by_the_indian_date():
    # 31 Mar 18:29:59 UTC is 23:59:59 IST on 31 Mar; 18:30 UTC is 00:00 IST on 1 Apr.
    assert gi.financial_year_at(datetime(2027, 3, 31, 18, 29, 59), IST) == "2026-27"
    assert gi.financial_year_at(datetime(2027, 3, 31, 18, 30), IST) == "2027-28"
    assert gi.financial_year_at(datetime(2027, 3, 31, 18, 30, tzinfo=UTC), IST) == "2027-28"
    assert gi.financial_year_at(datetime(2027, 3, 31, 18, 30), UTC) == "2026-27"


@given(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 31)))
def test_financial_year_is_april_to_march(at):
    local = at.replace(tzinfo=UTC).astimezone(IST).date()
    label = gi.financial_year_at(at, IST)
    start = int(label[:4])
    assert date(start, 4, 1) <= local <= date(start + 1, 3, 31)
    assert label[5:] == f"{(start + 1) % 100:02d}"


# --- numbers ----------------------------------------------------------------------------

def test_document_numbers():
    assert gi.document_number("invoice", "S1", "2026-27", 1) == "S1/I2627/00001"
    assert gi.document_number("credit", "S1", "2026-27", 42) == "S1/C2627/00042"
    assert gi.sequence_name("invoice", "S1", "2026-27") == "invoice:S1:2026-27"
    assert gi.sequence_name("credit", "S1", "2026-27") == "credit:S1:2026-27"


def test_the_longest_series_has_room_for_99999_and_no_more():
    longest = gi.document_number("invoice", "AB-9", "2026-27", 99_999)
    assert longest == "AB-9/I2627/99999" and len(longest) == gi.MAX_NUMBER_LENGTH == 16
    with pytest.raises(gi.DocumentNumberError, match="used all 99999"):
        gi.document_number("invoice", "AB-9", "2026-27", 100_000)
    for n in (0, -1, True, 2**63):
        with pytest.raises(gi.DocumentNumberError):
            gi.document_number("invoice", "S1", "2026-27", n)


@pytest.mark.parametrize("series", ["S1/INV/26-27/", "ABCDE", "", "S 1", "S_1", "S1\x00",
                                    "S#1", "A" * 100_000, "Š1", "=1+1"])
def test_a_bad_series_is_refused(series):
    with pytest.raises(gi.SeriesError):
        gi.check_series(series)


@given(st.text("ABCXYZabc0189-/", min_size=1, max_size=4),
       st.integers(2000, 2098), st.integers(1, 99_999), st.sampled_from(["invoice", "credit"]))
def test_every_number_fits_rule_46(series, year, n, kind):
    fy = gi.financial_year(date(year, 6, 1))
    number = gi.document_number(kind, series, fy, n)
    assert len(number) <= 16
    assert all(c.isascii() and (c.isalnum() or c in "-/") for c in number)
    assert number.endswith(f"{n:05d}")


# --- IGST rows (app.core.gst) -------------------------------------------------------------

def test_inter_state_rows_carry_igst_only():
    rows = tax_rows([(1800, 19500, 2974), (500, 6800, 324)], inter_state=True)
    assert rows == (TaxRow(500, 6476, 0, 0, 324), TaxRow(1800, 16526, 0, 0, 2974))
    assert rows[1].tax == 2974 and rows[1].total == 19500
    # intra-state is unchanged
    assert tax_rows([(1800, 19500, 2974)]) == (TaxRow(1800, 16526, 1487, 1487),)
    assert tax_rows([(1800, 19500, 2974)])[0].igst == 0


slabs = st.sampled_from(sorted(GST_SLABS_BP))
sold = st.lists(st.tuples(slabs, st.integers(-10**8, 10**8)).map(
    lambda t: (t[0], t[1], gst_in_inclusive(abs(t[1]), t[0]).tax * (1 if t[1] >= 0 else -1))),
    max_size=30)


@given(sold)
def test_igst_rows_sum_to_the_line_totals_and_equal_the_intra_state_gst(lines):
    inter = tax_rows(lines, inter_state=True)
    intra = tax_rows(lines)
    assert [r.rate_bp for r in inter] == [r.rate_bp for r in intra]
    for a, b in zip(inter, intra, strict=True):
        amount = sum(x for rate, x, _t in lines if rate == a.rate_bp)
        gst = sum(t for rate, _x, t in lines if rate == a.rate_bp)
        assert a.total == b.total == amount
        assert a.cgst == a.sgst == 0 and a.igst == gst == b.tax
        assert a.taxable == b.taxable


# --- the store's settings (app/config.py keeps its own two patterns: they must agree) ----

def test_config_accepts_exactly_the_state_codes_and_series_of_the_rules():
    from app.config import GST_SERIES, GST_STATE_CODE

    for code in [f"{i:02d}" for i in range(100)] + ["1", "001", "97\n", "२९"]:
        assert bool(GST_STATE_CODE.fullmatch(code)) == (code in gi.STATE_NAMES), code
    for series in ("S1", "AB-9", "a/b", "S", "ABCDE", "", "S 1", "S_1", "Š1", "S1\n"):
        try:
            gi.check_series(series)
            ok = True
        except gi.SeriesError:
            ok = False
        assert bool(GST_SERIES.fullmatch(series)) == ok, series


def store_toml(**store: str) -> str:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "store_config" / "store.toml").read_text()
    extra = "".join(f"{k} = {v}\n" for k, v in store.items())
    return text.replace('phone = "080 4000 1234"\n', f'phone = "080 4000 1234"\n{extra}')


def test_store_settings_for_gst_documents():
    from app.config import parse_config

    cfg = parse_config(store_toml())
    assert (cfg.store.series, cfg.store.state, cfg.store.composition_scheme) == ("S1", "29", False)
    cfg = parse_config(store_toml(invoice_series='"K-1"', composition_scheme="true"))
    assert (cfg.store.series, cfg.store.composition_scheme) == ("K-1", True)
    cfg = parse_config(store_toml(state_code='"29"'))
    assert cfg.store.state == "29"
    cfg = parse_config(store_toml(state_code='"27"').replace('gstin = "29AAACK1234F1ZW"', ""))
    assert cfg.store.state == "27" and cfg.store.gstin == ""


@pytest.mark.parametrize(("settings", "message"), [
    ({"invoice_series": '"S1/INV/26-27/"'}, "store.invoice_series: a series has 1 to 4"),
    ({"invoice_series": '"S 1"'}, "store.invoice_series"),
    ({"invoice_series": '"S1\\u0000"'}, "store.invoice_series"),
    ({"invoice_series": '"' + "A" * 100_000 + '"'}, "store.invoice_series"),
    ({"state_code": '"99"'}, "store.state_code: '99' is not a GST state code"),
    ({"state_code": '"27"'}, "the GSTIN 29AAACK1234F1ZW is of state 29"),
    ({"composition_scheme": '"yes"'}, "store.composition_scheme"),
])
def test_wrong_store_settings_stop_start_up_with_one_line(settings, message):
    from app.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(store_toml(**settings))


def test_a_long_store_id_needs_its_own_series():
    from app.config import ConfigError, parse_config

    text = store_toml().replace('id = "S1"', 'id = "STORE12"')
    with pytest.raises(ConfigError, match="store.id: too long to number GST invoices"):
        parse_config(text)
    assert parse_config(store_toml(invoice_series='"ST12"').replace(
        'id = "S1"', 'id = "STORE12"')).store.series == "ST12"
