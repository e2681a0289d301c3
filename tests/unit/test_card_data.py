"""No card number gets into the system (issue #13 item 15: PCI DSS scope stays out)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from app.core.card_data import looks_like_card_number


def with_check_digit(body: str) -> str:
    return body + luhn.calc_check_digit(body)


PAN_13 = with_check_digit("422222222222")  # 13 digits (old Visa length)
PAN_19 = with_check_digit("622126000000000000")  # 19 digits (RuPay / UnionPay)
assert len(PAN_13) == 13 and len(PAN_19) == 19


def test_card_numbers_are_found_however_they_are_typed():
    for text in ("4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111",
                 "4111  1111 - 1111 1111", " 5500005555555559 ", PAN_13, PAN_19,
                 "3782 822463 10005",  # Amex grouping, 15 digits
                 "४१११११११११११११११",  # Devanagari digits
                 "４１１１１１１１１１１１１１１１",  # full-width digits
                 "refund for 4111 1111 1111 1111 12/27",  # inside free text, expiry after it
                 "card 4111111111111111"):
        assert looks_like_card_number(text), text


def test_ordinary_references_are_accepted():
    for text in ("123456", "A1B2C3", "APPR1234", "REF-77", "000123456789",  # 12-digit RRN
                 "412345678901",  # a 12-digit UPI reference
                 "4111111111111112",  # 16 digits, wrong check digit
                 PAN_13[:-1] + str((int(PAN_13[-1]) + 1) % 10),
                 "S1-000123", "S1-R00012", "9845012345", "+91 98450 12345",
                 "1111", "last 4: 1111", "paid milk vendor 250", "",
                 "41111111111111111225"):  # 20 digits in one run: not a card number
        assert not looks_like_card_number(text), text


@given(st.text(alphabet="0123456789", min_size=13, max_size=19))
def test_a_run_of_13_to_19_digits_is_refused_exactly_when_it_passes_luhn(digits):
    assert looks_like_card_number(digits) == luhn.is_valid(digits)


@given(st.text(alphabet="0123456789", min_size=1, max_size=12))
def test_twelve_digits_or_fewer_are_never_a_card_number(digits):
    assert not looks_like_card_number(digits)
