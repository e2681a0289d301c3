"""Tests for the receipt layout DSL (app.printing.layout)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.printing.layout import (
    QR,
    Barcode,
    Cut,
    Feed,
    LayoutError,
    Row,
    Rule,
    Text,
    escape_text,
    parse_layout,
    plain_text,
    row_parts,
    text_lines,
    text_width,
)

COLUMNS = (32, 42, 48)


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("line", "block"),
    [
        ("Hello", Text("Hello")),
        ("[c]Kirana Fresh", Text("Kirana Fresh", align="center")),
        ("[r]Page 1", Text("Page 1", align="right")),
        ("[b]Bold", Text("Bold", bold=True)),
        ("[w]Big", Text("Big", big=True)),
        ("[u]Under", Text("Under", underline=True)),
        (
            "[c][b][w]Kirana Fresh",
            Text("Kirana Fresh", align="center", bold=True, big=True),
        ),
        ("[u][r][b]x", Text("x", align="right", bold=True, underline=True)),
        ("[row]Tata Salt||₹28.00", Row("Tata Salt", "₹28.00")),
        ("[b][row]Total||₹478.00", Row("Total", "₹478.00", bold=True)),
        ("[row][w]Total||478", Row("Total", "478", big=True)),
        ("[row]a||b||c", Row("a||b", "c")),
        ("[row]  2 x 45.00||90.00", Row("  2 x 45.00", "90.00")),
        ("[rule]", Rule("-")),
        ("[rule==]", Rule("=")),
        ("[rule=*]", Rule("*")),
        ("[feed=0]", Feed(0)),
        ("[feed=3]", Feed(3)),
        ("[feed=10]", Feed(10)),
        ("[barcode]INV-0001", Barcode("INV-0001")),
        ("[barcode] 8901234567890", Barcode("8901234567890")),
        ("[c][barcode]A{b}", Barcode("A{b}")),
        ("[qr]upi://pay?pa=k@upi&am=1.00", QR("upi://pay?pa=k@upi&am=1.00", 6)),
        ("[qr=1]x", QR("x", 1)),
        ("[qr=16][not a directive]", QR("[not a directive]", 16)),
        ("[cut]", Cut()),
        ("   \t ", Text("")),
        ("Trailing spaces   \t", Text("Trailing spaces")),
        ("a\tb", Text("a b")),
        ("\\[x] literal", Text("[x] literal")),
        ("[b]\\[SALE] today", Text("[SALE] today", bold=True)),
        ("[row]\\[combo] rice||9", Row("[combo] rice", "9")),
        ("no [b] here", Text("no [b] here")),
        ("\x1b@evil\x07", Text("@evil")),
    ],
)
def test_parse_each_directive(line: str, block: object) -> None:
    assert parse_layout(line) == [block]


def test_parse_document_lines_and_numbers() -> None:
    text = "[c]Shop\n\n[rule]\r\n[row]Item||1.00\n[cut]\n"
    assert parse_layout(text) == [
        Text("Shop", align="center"),
        Text(""),
        Rule("-"),
        Row("Item", "1.00"),
        Cut(),
    ]
    # only one final newline is "end of file"; further ones are empty paper lines
    assert parse_layout("a\n\n") == [Text("a"), Text("")]
    assert parse_layout("") == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[xx]hello", "line 3: unknown directive [xx]"),
        ("[B]shout", "line 3: unknown directive [B]"),
        ("[feed=abc]", "line 3: [feed=abc] needs a number 0-10"),
        ("[feed=11]", "line 3: [feed=11] needs a number 0-10"),
        ("[feed]", "line 3: [feed] needs a number 0-10"),
        ("[feed=-1]", "line 3: [feed=-1] needs a number 0-10"),
        ("[barcode]", "line 3: barcode data must be ASCII, 1-40 characters"),
        ("[barcode]दाल", "line 3: barcode data must be ASCII, 1-40 characters"),
        ("[barcode]" + "9" * 41, "line 3: barcode data must be ASCII, 1-40 characters"),
        ("[qr]", "line 3: qr data must be 1-500 characters"),
        ("[qr]" + "x" * 501, "line 3: qr data must be 1-500 characters"),
        ("[qr=0]x", "line 3: [qr=0] needs a module size 1-16"),
        ("[qr=17]x", "line 3: [qr=17] needs a module size 1-16"),
        ("[qr=big]x", "line 3: [qr=big] needs a module size 1-16"),
        ("[rule=ab]", "line 3: [rule=ab] needs a single character"),
        ("[rule=]", "line 3: [rule=] needs a single character"),
        ("[rule]text", "line 3: [rule] takes no text"),
        ("[cut]now", "line 3: [cut] takes no text"),
        ("[row]no separator", "line 3: [row] needs left||right"),
        ("[c][row]a||b", "line 3: [c] cannot be combined with [row]"),
        ("[b][cut]", "line 3: [b] cannot be combined with [cut]"),
        ("[row][qr]x", "line 3: [qr] cannot be combined with [row]"),
        ("[c][r]x", "line 3: [c] and [r] cannot be combined"),
        ("[b unclosed", "line 3: unclosed '['"),
    ],
)
def test_errors_name_the_line(line: str, message: str) -> None:
    with pytest.raises(LayoutError) as exc:
        parse_layout(f"[c]Header\nok line\n{line}\nafter")
    assert str(exc.value).startswith(message)
    assert isinstance(exc.value, ValueError)


def test_escape_text_roundtrip() -> None:
    for value in ["[b]not bold", "plain", "a\nb", "[row]x||y"]:
        blocks = parse_layout("[b]" + escape_text(value))
        assert blocks == [Text(value.replace("\n", " "), bold=True)]
    assert escape_text("x\ny") == "x y"


# --------------------------------------------------------------------------- wrapping


def test_wrap_simple_and_big() -> None:
    block = Text("Aashirvaad Whole Wheat Atta 10 kg pack")
    assert text_lines(block, 32) == ["Aashirvaad Whole Wheat Atta 10", "kg pack"]
    big = Text("Aashirvaad Whole Wheat Atta 10 kg pack", big=True)
    assert text_lines(big, 32) == ["Aashirvaad Whole", "Wheat Atta 10 kg", "pack"]


def test_wrap_keeps_inner_spacing_and_hard_breaks() -> None:
    assert text_lines(Text("Qty   Rate    Amt"), 32) == ["Qty   Rate    Amt"]
    assert text_lines(Text("x" * 70), 32) == ["x" * 32, "x" * 32, "x" * 6]
    assert text_lines(Text(""), 32) == [""]


def test_width_counts_combining_marks_as_zero() -> None:
    assert text_width("Café") == 4
    assert text_width("Cafe\u0301") == 4  # e + combining acute
    word = "e\u0301" * 40  # 40 columns wide, 80 code points
    lines = text_lines(Text(word), 32)
    assert [text_width(x) for x in lines] == [32, 8]
    assert all(not line.startswith("\u0301") for line in lines)


words = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp", "Mn", "Me", "Mc", "Cf")
    ),
    min_size=1,
    max_size=60,
)
separators = st.text(alphabet=" ", min_size=1, max_size=3)


@st.composite
def texts(draw: st.DrawFn) -> str:
    ws = draw(st.lists(words, min_size=1, max_size=25))
    seps = [draw(separators) for _ in ws]
    return "".join(s + w for s, w in zip(seps, ws, strict=True)).lstrip(" ")


@settings(max_examples=300, deadline=None)
@given(text=texts(), columns=st.sampled_from(COLUMNS), big=st.booleans())
def test_wrap_property(text: str, columns: int, big: bool) -> None:
    lines = text_lines(Text(text, big=big), columns)
    limit = columns // 2 if big else columns
    assert all(text_width(line) <= limit for line in lines)
    assert all(line == line.rstrip() for line in lines)
    # nothing lost, nothing reordered (hard breaks split words, so compare without spaces)
    assert "".join("".join(lines).split()) == "".join(text.split())
    if all(text_width(w) <= limit for w in text.split()):
        assert " ".join(lines).split() == text.split()


# --------------------------------------------------------------------------- rows


def test_row_right_aligned_at_last_column() -> None:
    lines = text_lines(Row("Tata Salt 1kg", "Rs.28.00"), 32)
    assert lines == ["Tata Salt 1kg" + " " * 11 + "Rs.28.00"]
    assert len(lines[0]) == 32


def test_row_left_wraps_above_right() -> None:
    lines = text_lines(Row("Aashirvaad Whole Wheat Atta 10 kg pack", "Rs.450.00"), 32)
    assert lines == ["Aashirvaad Whole Wheat Atta 10", "kg pack" + " " * 16 + "Rs.450.00"]
    # the last line is re-wrapped when it would collide with the right part
    lines = text_lines(Row("Whole Wheat Atta 10 kg premium", "Rs.450.00"), 32)
    assert lines[-1].endswith(" Rs.450.00") and len(lines[-1]) == 32
    assert " ".join(lines).split()[:-1] == ["Whole", "Wheat", "Atta", "10", "kg", "premium"]


def test_row_big_uses_half_the_columns() -> None:
    lines = text_lines(Row("TOTAL", "Rs.478.00", big=True), 48)
    assert lines == ["TOTAL" + " " * 10 + "Rs.478.00"]


def test_row_with_right_too_wide_gets_own_lines() -> None:
    parts = row_parts(Row("Item", "R" * 31), 32)
    assert parts == [("Item", ""), ("", "R" * 31)]
    assert text_lines(Row("Item", "R" * 31), 32) == ["Item", " " + "R" * 31]


row_parts_text = st.text(
    alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Nd")) | st.just(" "),
    max_size=80,
).map(str.strip)


@settings(max_examples=300, deadline=None)
@given(
    left=row_parts_text,
    right=st.text(alphabet="0123456789.Rs,", min_size=1, max_size=16),
    columns=st.sampled_from(COLUMNS),
    big=st.booleans(),
)
def test_row_property(left: str, right: str, columns: int, big: bool) -> None:
    limit = columns // 2 if big else columns
    lines = text_lines(Row(left, right, big=big), columns)
    assert all(text_width(line) <= limit for line in lines)
    assert lines[-1].endswith(right)
    assert text_width(lines[-1]) == limit  # right part ends at the last column
    joined = " ".join(lines)[: -len(right)]
    assert "".join(joined.split()) == "".join(left.split())
    if left and len(right) + 2 <= limit:
        assert lines[-1][: -len(right)].endswith(" ")  # at least one space between parts
        assert lines[-1].strip() != right  # and the right part shares the left's last line


# --------------------------------------------------------------------------- plain text


def test_plain_text_document() -> None:
    blocks = parse_layout(
        "[c]Kirana\n[r]R\n[row]Salt||Rs.28.00\n[rule==]\n[feed=2]\n"
        "[barcode]INV-1\n[qr]https://x.test/r/1\n[cut]"
    )
    assert plain_text(blocks, 32).split("\n") == [
        " " * 13 + "Kirana",
        " " * 31 + "R",
        "Salt" + " " * 20 + "Rs.28.00",
        "=" * 32,
        "",
        "",
        "[barcode INV-1]",
        "[qr https://x.test/r/1]",
        "--- cut ---",
    ]
