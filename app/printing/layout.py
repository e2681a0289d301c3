"""Receipt layout model: parse the line-based layout DSL into blocks.

Store layouts are Jinja2 templates whose output is a small DSL, one output line per line
on paper. This module is pure (no I/O): it turns that text into a list of blocks and knows
how text blocks wrap into physical lines. Both renderers (ESC/POS bytes and the HTML
preview) take their lines from :func:`text_lines`, so paper and preview agree.

DSL summary (see ``parse_layout``)::

    [c][b][w]Kirana Fresh          centre / bold / big (double width and height)
    [r]right aligned  [u]underlined
    [row]Tata Salt 1kg||Rs.28.00   left part and right-aligned right part
    [rule]   [rule==]               full-width line of '-' (or of '=')
    [feed=2]                        two empty lines (0-10)
    [barcode]INV-0001               CODE128 with the text below
    [qr=6]upi://pay?...             QR code, module size 1-16 (default 6)
    [cut]                           paper cut
    \\[not a directive]             a leading backslash makes '[' literal
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Barcode",
    "Block",
    "Cut",
    "Feed",
    "LayoutError",
    "QR",
    "Row",
    "Rule",
    "Text",
    "escape_text",
    "parse_layout",
    "plain_text",
    "row_parts",
    "text_lines",
    "text_width",
]

Align = Literal["left", "center", "right"]

MAX_FEED = 10
MAX_BARCODE_LEN = 40
MAX_QR_LEN = 500
QR_SIZES = range(1, 17)
DEFAULT_QR_SIZE = 6


class LayoutError(ValueError):
    """The layout text is not valid DSL; the message names the offending line."""


@dataclass(frozen=True)
class Text:
    text: str
    align: Align = "left"
    bold: bool = False
    big: bool = False
    underline: bool = False


@dataclass(frozen=True)
class Row:
    left: str
    right: str
    bold: bool = False
    big: bool = False


@dataclass(frozen=True)
class Rule:
    char: str = "-"


@dataclass(frozen=True)
class Feed:
    lines: int


@dataclass(frozen=True)
class Barcode:
    data: str


@dataclass(frozen=True)
class QR:
    data: str
    size: int = DEFAULT_QR_SIZE


@dataclass(frozen=True)
class Cut:
    pass


Block = Text | Row | Rule | Feed | Barcode | QR | Cut

# --------------------------------------------------------------------------- widths / wrapping


def text_width(text: str) -> int:
    """Width in printer columns: every character is 1, combining marks are 0."""
    return sum(0 if unicodedata.combining(ch) else 1 for ch in text)


def _hard_break(word: str, width: int) -> list[str]:
    """Split a word wider than ``width`` into chunks; combining marks stay with their base."""
    chunks: list[str] = []
    cur = ""
    cur_w = 0
    for ch in word:
        w = 0 if unicodedata.combining(ch) else 1
        if w and cur_w + w > width and cur:
            chunks.append(cur)
            cur, cur_w = "", 0
        cur += ch
        cur_w += w
    if cur:
        chunks.append(cur)
    return chunks


_TOKEN_RE = re.compile(r" +|[^ ]+")


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap to ``width`` columns.

    Runs of spaces inside a line are kept (templates align columns with spaces), leading
    indentation of the first line is kept, spaces at a line break are dropped, words wider
    than the line are hard-broken. Always returns at least one (possibly empty) line.
    """
    width = max(1, width)
    text = text.rstrip()
    if text_width(text) <= width:
        return [text]
    lines: list[str] = []
    cur = ""
    cur_w = 0

    def flush() -> None:
        nonlocal cur, cur_w
        lines.append(cur.rstrip())
        cur, cur_w = "", 0

    for tok in _TOKEN_RE.findall(text):
        w = text_width(tok)
        if tok[0] == " ":
            if not cur and lines:
                continue  # no leading spaces on continuation lines
            if cur_w + w <= width:
                cur += tok
                cur_w += w
            else:
                flush()
            continue
        if cur_w + w <= width:
            cur += tok
            cur_w += w
            continue
        if cur.strip():
            flush()
        else:
            cur, cur_w = "", 0  # indentation that does not fit with the word is dropped
        if w > width:
            chunks = _hard_break(tok, width)
            lines.extend(chunks[:-1])
            tok = chunks[-1]
            w = text_width(tok)
        cur, cur_w = tok, w
    if cur or not lines:
        flush()
    return lines


def _usable(columns: int, big: bool) -> int:
    return max(1, columns // 2 if big else columns)


def row_parts(row: Row, columns: int) -> list[tuple[str, str]]:
    """Physical lines of a row as (left, right) pairs; ``text_lines`` pads them together.

    The right part sits right-aligned at the end of the last line; when left and right (plus
    one space) don't fit, the left part wraps onto the lines above. A right part too wide to
    share a line gets lines of its own, right-aligned.
    """
    usable = _usable(columns, row.big)
    left, right = row.left.rstrip(), row.right.strip()
    rw = text_width(right)
    if not right:
        return [(line, "") for line in _wrap(left, usable)]
    if not left.strip():
        return [("", line) for line in _wrap(right, usable)]
    if rw + 2 > usable:  # not even one left character fits beside it
        return [(line, "") for line in _wrap(left, usable)] + [
            ("", line) for line in _wrap(right, usable)
        ]
    lines = _wrap(left, usable)
    room = usable - rw - 1
    if text_width(lines[-1]) > room:
        lines[-1:] = _wrap(lines[-1], room)
    parts = [(line, "") for line in lines[:-1]]
    parts.append((lines[-1], right))
    return parts


def text_lines(block: Text | Row, columns: int) -> list[str]:
    """The physical lines of a text block at ``columns`` (big text halves the columns).

    Text lines come back wrapped but not padded: alignment is applied by the renderer (the
    printer's justification, CSS ``text-align``). Row lines are justified: the last line is
    exactly the usable width, with the right part ending at the last column.
    """
    if isinstance(block, Row):
        usable = _usable(columns, block.big)
        out = []
        for left, right in row_parts(block, columns):
            if right:
                pad = usable - text_width(left) - text_width(right)
                out.append(left + " " * max(pad, 0) + right)
            else:
                out.append(left)
        return out
    return _wrap(block.text, _usable(columns, block.big))


def _aligned(line: str, align: Align, width: int) -> str:
    free = width - text_width(line)
    if free <= 0 or align == "left":
        return line
    if align == "center":
        return " " * (free // 2) + line
    return " " * free + line


def plain_text(blocks: Iterable[Block], columns: int) -> str:
    """The whole document as plain text, for logs and tests.

    Centre/right lines are padded with spaces within ``columns``; barcode, QR and cut show
    as ``[barcode DATA]``, ``[qr DATA]`` and ``--- cut ---``.
    """
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Text):
            out.extend(_aligned(line, block.align, columns) for line in text_lines(block, columns))
        elif isinstance(block, Row):
            out.extend(text_lines(block, columns))
        elif isinstance(block, Rule):
            out.append(block.char * columns)
        elif isinstance(block, Feed):
            out.extend([""] * block.lines)
        elif isinstance(block, Barcode):
            out.append(f"[barcode {block.data}]")
        elif isinstance(block, QR):
            out.append(f"[qr {block.data}]")
        elif isinstance(block, Cut):
            out.append("--- cut ---")
        else:  # pragma: no cover - defensive
            raise TypeError(f"not a layout block: {block!r}")
    return "\n".join(out)


# --------------------------------------------------------------------------- parsing

_STYLE = {"c", "r", "b", "w", "u"}
_DIRECTIVE_RE = re.compile(r"\[([^\[\]]*)\]")


def _clean(line: str) -> str:
    """Tabs become spaces; other control characters (CR, ESC, ...) are dropped."""
    line = line.replace("\t", " ")
    return "".join(ch for ch in line if unicodedata.category(ch) != "Cc").rstrip()


def escape_text(value: object) -> str:
    """Make a value safe as the text of a line (e.g. a Jinja filter for product names).

    Newlines and control characters become spaces and a leading ``[`` is escaped, so a value
    can neither start a new line nor be read as a directive.
    """
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in str(value))
    if text.startswith("["):
        text = "\\" + text
    return text


def _int_arg(arg: str, lo: int, hi: int) -> int | None:
    if not re.fullmatch(r"[0-9]{1,3}", arg):
        return None
    value = int(arg)
    return value if lo <= value <= hi else None


def _parse_line(lineno: int, raw: str) -> Block:
    line = _clean(raw)
    styles: list[str] = []
    kind: str | None = None  # the one non-style directive, as written
    kind_name = ""
    rest = line
    while True:
        if rest.startswith("\\["):
            rest = rest[1:]
            break
        if not rest.startswith("["):
            break
        m = _DIRECTIVE_RE.match(rest)
        if m is None:
            raise LayoutError(f"line {lineno}: unclosed '[' (write \\[ for a literal bracket)")
        token, body = m.group(0), m.group(1)
        rest = rest[m.end() :]
        name = body.split("=", 1)[0]
        if body in _STYLE:
            styles.append(body)
            continue
        if name not in {"row", "rule", "feed", "barcode", "qr", "cut"}:
            raise LayoutError(f"line {lineno}: unknown directive {token}")
        if kind is not None:
            raise LayoutError(f"line {lineno}: {token} cannot be combined with {kind}")
        kind, kind_name = token, name
        if name in {"barcode", "qr"}:
            break  # the rest of the line is data, even if it starts with '['

    bold, big, underline = "b" in styles, "w" in styles, "u" in styles
    if "c" in styles and "r" in styles:
        raise LayoutError(f"line {lineno}: [c] and [r] cannot be combined")
    align: Align = "center" if "c" in styles else "right" if "r" in styles else "left"

    if kind is None:
        return Text(rest, align=align, bold=bold, big=big, underline=underline)

    if kind_name in {"barcode", "qr"}:
        rest = rest.lstrip()
        if rest.startswith("\\["):
            rest = rest[1:]

    def no_styles(allowed: frozenset[str] = frozenset()) -> None:
        for s in styles:
            if s not in allowed:
                raise LayoutError(f"line {lineno}: [{s}] cannot be combined with {kind}")

    def no_text() -> None:
        if rest.strip():
            raise LayoutError(f"line {lineno}: {kind} takes no text")

    assert kind is not None
    arg = kind[1:-1].split("=", 1)[1] if "=" in kind else None

    if kind_name == "row":
        no_styles(frozenset({"b", "w"}))
        if arg is not None:
            raise LayoutError(f"line {lineno}: unknown directive {kind}")
        if "||" not in rest:
            raise LayoutError(f"line {lineno}: [row] needs left||right")
        left, _, right = rest.rpartition("||")
        return Row(left, right.strip(), bold=bold, big=big)
    if kind_name == "rule":
        no_styles()
        no_text()
        if arg is None:
            return Rule()
        if len(arg) != 1 or not arg.isprintable() or unicodedata.combining(arg):
            raise LayoutError(f"line {lineno}: {kind} needs a single character")
        return Rule(arg)
    if kind_name == "feed":
        no_styles()
        no_text()
        n = _int_arg(arg or "", 0, MAX_FEED)
        if n is None:
            raise LayoutError(f"line {lineno}: {kind} needs a number 0-{MAX_FEED}")
        return Feed(n)
    if kind_name == "cut":
        no_styles()
        no_text()
        if arg is not None:
            raise LayoutError(f"line {lineno}: unknown directive {kind}")
        return Cut()
    if kind_name == "barcode":
        no_styles(frozenset({"c"}))  # barcodes are always centred
        if arg is not None:
            raise LayoutError(f"line {lineno}: unknown directive {kind}")
        data = rest
        if not (1 <= len(data) <= MAX_BARCODE_LEN and all(" " <= ch <= "~" for ch in data)):
            raise LayoutError(
                f"line {lineno}: barcode data must be ASCII, 1-{MAX_BARCODE_LEN} characters"
            )
        return Barcode(data)
    # qr
    no_styles(frozenset({"c"}))  # QR codes are always centred
    size = DEFAULT_QR_SIZE
    if arg is not None:
        parsed = _int_arg(arg, QR_SIZES.start, QR_SIZES.stop - 1)
        if parsed is None:
            raise LayoutError(f"line {lineno}: {kind} needs a module size 1-16")
        size = parsed
    data = rest
    if not 1 <= len(data) <= MAX_QR_LEN:
        raise LayoutError(f"line {lineno}: qr data must be 1-{MAX_QR_LEN} characters")
    return QR(data, size)


def parse_layout(text: str) -> list[Block]:
    """Parse DSL text (one line per paper line) into blocks; raises :class:`LayoutError`.

    Lines are split on ``\\n``; trailing whitespace is stripped and a blank line is an empty
    ``Text``. A single trailing newline at the end of the text does not add an empty line.
    """
    if text == "":
        return []
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # "a\nb\n" is two lines, like a file
    return [_parse_line(i, raw) for i, raw in enumerate(lines, start=1)]
