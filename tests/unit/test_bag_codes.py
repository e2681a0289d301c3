"""Bag label codes: each bag's own, unforgeable without the order's key; rider-desk look-ups."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.picking import bags

KEY = "0123456789abcdef0123456789abcdef"


def test_each_bag_has_its_own_code_that_verifies_only_for_itself():
    codes = [bags.bag_code(KEY, "D2-004711", n) for n in (1, 2, 3)]
    assert len(set(codes)) == 3 and codes[0].startswith("D2-004711/1/")
    parsed = [bags.parse_bag_code(c.lower()) for c in codes]  # typed in lower case: fine
    assert all(bags.verifies(KEY, p) for p in parsed)
    assert parsed[0].store_id == "D2" and parsed[1].bag_no == 2
    swapped = bags.BagCode("D2-004711", 2, parsed[0].tag)  # bag 1's tag on bag 2
    assert not bags.verifies(KEY, swapped)
    assert not bags.verifies("f" * 32, parsed[0]) and not bags.verifies("", parsed[0])


@given(st.integers(1, 20), st.integers(0, 7), st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"))
def test_any_changed_tag_character_fails(bag_no, pos, char):
    code = bags.parse_bag_code(bags.bag_code(KEY, "D2-000001", bag_no))
    tag = code.tag[:pos] + char + code.tag[pos + 1:]
    assert bags.verifies(KEY, bags.BagCode(code.number, bag_no, tag)) == (tag == code.tag)


@pytest.mark.parametrize("text", ["", "D2-1/1", "D2-1/x/ABCDEFGH", "D2-1/1/ABCDEF",
                                  "D21/1/ABCDEFGH", "D2-1/123/ABCDEFGH", "D2-1/1/ABCDEFG0"])
def test_text_that_is_not_a_bag_code(text):
    with pytest.raises(bags.NotABagCode):
        bags.parse_bag_code(text)


def test_order_numbers_and_phone_digits():
    assert bags.order_number("D2", "D2-4711") == "D2-004711"
    assert bags.order_number("D2", " d2-004711 ") == "D2-004711"
    assert bags.order_number("D2", "4711") == "D2-004711"
    assert bags.order_number("D2", "D3-4711") is None and bags.order_number("D2", "abc") is None
    assert bags.phone_digits("+91 98765 43210") == "9876543210"
    assert bags.phone_digits("3210") == "3210"
    assert bags.phone_digits("321") is None and bags.phone_digits("98a76") is None
