"""Receiving rules (issue #17), pure: scan -> case or piece, the quantity of a scan, the
over-receipt policy, the difference summary, the moving-average cost, and the typed
fields' refusals. Properties with hypothesis, and the cases staff meet."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.catalog.barcodes import gtin_check_digit
from app.purchasing.receiving_rules import (
    MAX_COUNT,
    AverageCost,
    LineCheck,
    Received,
    ReceivingError,
    UnknownPackSize,
    check_line,
    differences,
    missing_reasons,
    moving_average,
    over_limit,
    parse_batch,
    parse_count,
    parse_expiry,
    parse_text,
    read_scan,
    scan_quantity,
    value_of,
)

TODAY = date(2026, 12, 1)
def with_check(body: str) -> str:
    return body + gtin_check_digit(body)


PIECE = with_check("890100000001")


def case_code(indicator: str, piece: str = PIECE) -> str:
    return with_check(indicator + piece[:12])


# --- scans ---------------------------------------------------------------------------


@given(st.sampled_from("12345678"))
def test_a_case_gtin14_is_a_case_of_its_piece(indicator):
    scanned = read_scan(case_code(indicator), TODAY)
    assert scanned.case and scanned.codes == (PIECE, case_code(indicator))


def test_piece_codes_and_skus_are_pieces():
    assert read_scan(PIECE, TODAY).codes == (PIECE,) and not read_scan(PIECE, TODAY).case
    indicator0 = read_scan("0" + PIECE, TODAY)
    assert indicator0.codes == (PIECE,) and not indicator0.case
    sku = read_scan("atta-5kg", TODAY)
    assert sku.sku == "ATTA-5KG" and not sku.case


def test_a_gs1_datamatrix_fills_batch_and_expiry():
    gs = "\x1d"
    raw = f"]d201{case_code('1')}10L-42{gs}17270331"
    scanned = read_scan(raw, TODAY)
    assert scanned.case and scanned.batch == "L-42" and scanned.expiry == date(2027, 3, 31)
    typed = read_scan(f"(01){'0' + PIECE}(17)760100(10)X", TODAY)
    assert not typed.case and typed.expiry == date(2076, 1, 31)  # GS1 century rule: +50
    assert read_scan(f"(01){'0' + PIECE}(17)770100", TODAY).expiry == date(1977, 1, 31)


@pytest.mark.parametrize(("raw", "words"), [
    ("x" * 100_000, "too long"), ("890\x0012", "control character"), ("", "empty"),
    ("]d20112345678901234", "check digit"), ("]d217270331", "no product code"),
])
def test_bad_scans_are_refused_in_words(raw, words):
    with pytest.raises(ReceivingError, match=words):
        read_scan(raw, TODAY)


@given(st.integers(1, MAX_COUNT), st.integers(1, 100))
def test_a_case_counts_as_its_pack_size(count, pack):
    assert scan_quantity("case", count, pack) == count * pack
    assert scan_quantity("piece", count, pack) == count


@pytest.mark.parametrize("pack", [None, 0, -1])
def test_a_case_with_no_known_pack_size_is_refused(pack):
    with pytest.raises(UnknownPackSize, match="what a case holds is not known"):
        scan_quantity("case", 1, pack)


@pytest.mark.parametrize("count", [0, -1, MAX_COUNT + 1, 2**63, True])
def test_scan_quantity_refuses_silly_counts(count):
    with pytest.raises(ReceivingError):
        scan_quantity("piece", count, 1)


# --- typed fields --------------------------------------------------------------------


@pytest.mark.parametrize("text", ["NaN", "nan", "inf", "-inf", "1e3", "-1", "0", "1.5",
                                  str(2**63), "10000", "x" * 100_000, "1\x00", "١٢", "²"])
def test_hostile_counts(text):
    with pytest.raises(ReceivingError):
        parse_count(text)


@given(st.integers(1, MAX_COUNT))
def test_counts_round_trip(n):
    assert parse_count(f" {n} ") == n


@pytest.mark.parametrize("text", ["A\x00B", "x" * 21, "x" * 100_000, "bad batch", "ß1"])
def test_hostile_batches(text):
    with pytest.raises(ReceivingError):
        parse_batch(text)


def test_expiry_parsing():
    assert parse_expiry("", TODAY) is None
    assert parse_expiry("2027-03-31", TODAY) == date(2027, 3, 31)
    for bad in ("31/03/2027", "2027-02-30", "9999-12-31", "20270331", "x" * 100_000, "\x00"):
        with pytest.raises(ReceivingError):
            parse_expiry(bad, TODAY)


@given(st.text(max_size=300))
def test_free_text_never_keeps_control_characters(text):
    try:
        cleaned = parse_text(text, "reason", 120)
    except ReceivingError:
        return
    assert len(cleaned) <= 120 and not any(ord(c) < 32 or 127 <= ord(c) <= 159 for c in cleaned)


# --- the over-receipt policy ---------------------------------------------------------


def line(**kw) -> LineCheck:
    base = dict(quantity=12, pack_size=12, tracks_expiry=False, batch="", expiry=None,
                has_order=True, ordered=24, before=0)
    return LineCheck(**{**base, **kw})


@given(st.integers(1, 10_000), st.integers(1, 500), st.integers(0, 20_000),
       st.integers(1, 20_000))
def test_over_receipt_needs_a_confirm_exactly_above_ordered_plus_a_case(ordered, pack, before,
                                                                       qty):
    warnings = check_line(line(quantity=qty, pack_size=pack, ordered=ordered, before=before),
                          TODAY)
    assert ("over" in warnings) == (before + qty > ordered + pack)
    assert over_limit(ordered, pack) >= ordered


def test_not_on_the_order_and_expired_warn_no_order_never_over():
    assert check_line(line(ordered=None), TODAY) == ["not_ordered"]
    assert check_line(line(has_order=False, ordered=None, quantity=10**6), TODAY) == []
    expired = line(tracks_expiry=True, batch="B1", expiry=TODAY - timedelta(days=1))
    assert check_line(expired, TODAY) == ["expired"]
    fresh = line(tracks_expiry=True, batch="B1", expiry=TODAY)
    assert check_line(fresh, TODAY) == []


@pytest.mark.parametrize(("kw", "words"), [
    ({"batch": "B1"}, "does not track expiry"),
    ({"expiry": TODAY}, "does not track expiry"),
    ({"tracks_expiry": True}, "enter the batch and the expiry"),
    ({"tracks_expiry": True, "batch": "B1"}, "enter the batch and the expiry"),
    ({"quantity": 0}, "more than zero"),
    ({"quantity": 2**63}, "more than zero"),
])
def test_refusals(kw, words):
    with pytest.raises(ReceivingError, match=words):
        check_line(line(**kw), TODAY)


# --- differences ---------------------------------------------------------------------


@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 500)), st.integers(0, 500),
                          st.integers(0, 50)), max_size=20), st.booleans())
def test_difference_kinds(rows, has_order):
    lines = [Received(f"p{i}", exp if has_order else None, good, dmg)
             for i, (exp, good, dmg) in enumerate(rows)]
    for d in differences(lines, has_order=has_order):
        delivered = d.good + d.damaged
        assert ("damaged" in d.kinds) == (d.damaged > 0)
        assert ("short" in d.kinds) == (d.expected is not None and delivered < d.expected)
        assert ("excess" in d.kinds) == (d.expected is not None and delivered > d.expected)
        assert ("wrong_item" in d.kinds) == (has_order and d.expected is None and delivered > 0)
        assert not {"short", "excess"} <= set(d.kinds)
        assert d.short - d.excess == ((d.expected or 0) - delivered if d.expected is not None
                                      else 0)


def test_missing_reasons():
    diffs = differences([Received("a", 10, 8, 0), Received("b", 5, 5, 0)], has_order=True)
    assert missing_reasons(diffs, {}) == ["a"]
    assert missing_reasons(diffs, {"a": "  "}) == ["a"]
    assert missing_reasons(diffs, {"a": "Rest comes later"}) == []


# --- cost ----------------------------------------------------------------------------


@given(st.integers(0, 10**6), st.integers(1, 10**7), st.integers(1, 10_000))
def test_value_of_is_the_case_share_half_up(qty, cost, pack):
    value = value_of(qty, cost, pack)
    assert abs(value * pack - qty * cost) * 2 <= pack


costs = st.integers(0, 10**6)


@given(st.integers(1, 10**5), costs, st.integers(-100, 10**5), st.integers(1, 10**5), costs)
def test_moving_average_lies_between_the_old_average_and_the_receipt(old_qty, old_unit,
                                                                     on_hand, qty, unit):
    old = AverageCost(old_qty, old_qty * old_unit)
    new = moving_average(old, on_hand, qty, qty * unit)
    low, high = sorted((old_unit, unit)) if on_hand > 0 else (unit, unit)
    assert low * new.quantity - 1 <= new.value_minor <= high * new.quantity + 1
    assert low - 1 <= new.per_unit_minor <= high + 1
    if on_hand <= 0:
        assert new == AverageCost(qty, qty * unit)
    if unit == old_unit:
        assert new.per_unit_minor == unit


def test_moving_average_first_receipt_and_refusals():
    assert moving_average(None, 50, 12, 1200) == AverageCost(12, 1200)
    with pytest.raises(ReceivingError):
        moving_average(None, 0, 0, 100)
    with pytest.raises(ReceivingError):
        moving_average(None, 0, 1, -1)
