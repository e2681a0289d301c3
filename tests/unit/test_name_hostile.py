"""Hostile English product names (issue #22): `check_name` refuses what `check_name_local`
refuses (bidi overrides and isolates, zero-width and control characters, NUL), with the
same clear error, also on a 100 KB string; plain names, tabs and joiners are unchanged."""

from __future__ import annotations

import time

import pytest

from app.catalog.csv_io import parse_catalog
from app.catalog.rules import NAME_MAX, ProductError, check_name, check_product, parse_product
from tests.unit.test_name_local_hostile import HOSTILE


@pytest.mark.parametrize("char", HOSTILE)
def test_a_hidden_character_in_the_name_is_refused(char: str) -> None:
    with pytest.raises(ProductError, match=rf"^name has a control or invisible character "
                                           rf"\(U\+{ord(char):04X}\): type the name again"):
        check_name(f"Tata{char} Salt")


def test_the_same_rule_as_the_local_name() -> None:
    """A spoofed name: U+202E shows 'Salt 1 kg' reversed; NUL cuts text in C code."""
    for name in ("Tata \u202egk 1 tlaS", "Atta\x00 5 kg", "Ghee\u200b 1 L", "\u200b",
                 "Rice\x1b[2J", "Oil\u2066 1 L\u2069"):
        with pytest.raises(ProductError, match="control or invisible"):
            check_name(name)


@pytest.mark.parametrize("text", ["x" * 100_000, "\u202e" * 100_000, "a\u200b" * 50_000,
                                  "\x00" * 100_000, "नमक " * 25_000])
def test_a_100_kb_name_is_refused_quickly(text: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ProductError, match="^name (has a control|is longer than 120)"):
        check_name(text)
    assert time.perf_counter() - start < 1.0


def test_plain_names_pass_unchanged() -> None:
    assert check_name("Tata Salt 1 kg") == "Tata Salt 1 kg"
    assert check_name("  Tata\t\nSalt  ") == "Tata Salt"  # whitespace collapsed, as before
    assert check_name("क्\u200dष Kshatriya") == "क्\u200dष Kshatriya"  # ZWJ is spelling
    assert check_name("x" * NAME_MAX) == "x" * NAME_MAX
    with pytest.raises(ProductError, match="^name is empty$"):
        check_name("   ")
    with pytest.raises(ProductError, match="^name is longer than 120 characters$"):
        check_name("x" * (NAME_MAX + 1))


def test_every_way_in_refuses_it() -> None:
    """The CSV import (with its line number), the hub's form and a service call."""
    parsed = parse_catalog("sku,name,price,gst_rate\n"
                           "SALT-1,Tata Salt,28.00,0\n"
                           "ATTA-1,Atta\u202e 1 kg,68.00,5\n")
    assert [e.line for e in parsed.errors] == [3]
    assert str(parsed.errors[0]).startswith("line 3: name has a control or invisible")
    with pytest.raises(ProductError, match="U\\+200B"):
        parse_product(sku="A-1", name="Atta\u200b", price="10", gst_rate="5")
    good = parse_product(sku="A-1", name="Atta", price="10", gst_rate="5")
    with pytest.raises(ProductError, match="U\\+0000"):
        check_product(type(good)(**{**good.__dict__, "name": "At\x00ta"}))
