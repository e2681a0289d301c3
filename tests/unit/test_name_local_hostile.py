"""Hostile local-language names (issue #22 review): bidi overrides and isolates,
zero-width and control characters are refused by the product rules, with the CSV's line
number; the joiners Indian scripts need (ZWNJ, ZWJ) are kept."""

from __future__ import annotations

import pytest

from app.catalog.csv_io import parse_catalog
from app.catalog.rules import ProductError, check_name_local, hidden_characters, strip_hidden

HOSTILE = ["\u202e", "\u202a", "\u202b", "\u202c", "\u202d", "\u2066", "\u2067", "\u2068",
           "\u2069", "\u200b", "\u200e", "\u200f", "\x1b", "\x00", "\x7f", "\x9b", "\ufeff",
           "\u00ad", "\u061c", "\ud800"]


@pytest.mark.parametrize("char", HOSTILE)
def test_a_hidden_character_is_refused_by_the_rules(char: str) -> None:
    with pytest.raises(ProductError, match=rf"name_local .*U\+{ord(char):04X}"):
        check_name_local(f"टाटा{char}नमक")


def test_the_escape_of_a_terminal_colour_is_refused() -> None:
    with pytest.raises(ProductError, match="control or invisible"):
        check_name_local("नमक\x1b[31m")


def test_joiners_and_plain_names_pass() -> None:
    # क्‍ष with ZWJ (a half form) and a ZWNJ between letters are spelling, not tricks.
    for name in ("क्\u200dष", "क्\u200cष", "آب\u200cها", "टाटा नमक 1 kg", ""):
        assert check_name_local(name) == name
    # Tabs and newlines are whitespace: collapsed to one line, not refused.
    assert check_name_local("टाटा\t\n नमक") == "टाटा नमक"


def test_strip_hidden_keeps_the_rest() -> None:
    assert strip_hidden("\u202eटाटा\u200b नमक\x1b") == "टाटा नमक"
    assert strip_hidden("क्\u200dष") == "क्\u200dष"
    assert hidden_characters("Atta 5 kg") == []


@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u200b", "\x1b", "\x00"])
def test_the_catalogue_csv_names_the_line(char: str) -> None:
    parsed = parse_catalog("sku,name,name_local,price,gst_rate\n"
                           "SALT-1,Tata Salt,टाटा नमक,28.00,0\n"
                           f"ATTA-1,Atta 1 kg,आटा{char}evil,68.00,5\n")
    assert [e.line for e in parsed.errors] == [3]
    assert str(parsed.errors[0]).startswith("line 3: name_local has a control or invisible")
