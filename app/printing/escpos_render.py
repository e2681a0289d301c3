"""Render layout blocks to ESC/POS bytes with python-escpos's ``Dummy`` printer.

Decisions:

* Paper width in dots: if the profile's own font-A column count equals ``columns`` its media
  width is used (TM-T88V at 42 columns: 512 dots); otherwise ``columns * 12`` dots (font A is
  12 dots wide): 32 columns -> 384 dots (58 mm), 48 -> 576 (80 mm at 203 dpi). The width is
  set on a private copy of the profile data, so images and QR codes are centred and
  python-escpos prints no "media.width.pixel" warning. Everything else (partial cut,
  CODE128, raster images) comes from the profile (default TM-T88V).
* Text goes out in code page PC437 (``ESC t 0`` after ``ESC @``), encoded by us and sent
  with ``_raw`` (python-escpos's magic encoder is not used for text). Before wrapping,
  "₹" becomes "Rs." and curly quotes, dashes, ellipsis and "×" become ASCII. A physical line
  that still has characters outside PC437 is printed as a raster image drawn with a font
  that has its glyphs; if no font has them the text is transliterated to ASCII before
  wrapping (Devanagari by a small table, anything else via NFKD; the rest is dropped).
* CODE128 is sent as GS k (function B, "{B"/"{C" code sets, module width 3 or 2 dots to fit)
  when the profile has ``barcodeB``; otherwise, or when too wide, it is drawn as an image (1-3
  dot modules) with the text printed below; data too long for the paper prints as text only.
* QR codes are raster images (error correction M), module size reduced to fit the paper.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import unicodedata
from dataclasses import replace
from functools import lru_cache
from typing import Any

import barcode as pybarcode
import qrcode
from escpos.constants import QR_ECLEVEL_M
from escpos.printer import Dummy
from PIL import Image, ImageDraw, ImageFont

from .layout import (
    QR,
    Barcode,
    Block,
    Cut,
    Feed,
    Row,
    Rule,
    Text,
    row_parts,
    text_lines,
)

__all__ = ["FONT_CANDIDATES", "FONT_ENV", "paper_dots", "to_escpos", "transliterate"]

FONT_ENV = "KIRANA_PRINT_FONT"
FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/noto/NotoSansDevanagari-Regular.ttf",
    "/usr/share/fonts/truetype/lohit-devanagari/Lohit-Devanagari.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)
CODEPAGE = "cp437"
SELECT_PC437 = b"\x1bt\x00"  # ESC t 0
DOTS_PER_COLUMN = 12  # font A is 12 x 24 dots
TEXT_PX = 24  # font size (pixels) of a text line drawn as an image; doubled for big
BARCODE_HEIGHT = 64  # dots
BARCODE_QUIET = 20  # modules kept free around a barcode

_FOLD = str.maketrans(
    {
        "₹": "Rs.",
        "₨": "Rs",
        "’": "'",
        "‘": "'",
        "‚": ",",
        "′": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "″": '"',
        "–": "-",
        "—": "-",
        "‐": "-",
        "‑": "-",
        "−": "-",
        "…": "...",
        "×": "x",
        "•": "*",
        "\u00a0": " ",
        "\u202f": " ",
        "\u2009": " ",
    }
)

# --------------------------------------------------------------------------- text helpers


def _fold(text: str) -> str:
    text = text.translate(_FOLD)
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)


def _encodable(text: str) -> bool:
    try:
        text.encode(CODEPAGE)
    except UnicodeEncodeError:
        return False
    return True


_DEV_VOWELS = {
    "अ": "a", "आ": "a", "इ": "i", "ई": "i", "उ": "u", "ऊ": "u", "ऋ": "ri", "ए": "e",
    "ऐ": "ai", "ओ": "o", "औ": "au", "ऍ": "e", "ऑ": "o",
}  # fmt: skip
_DEV_MATRAS = {
    "ा": "a", "ि": "i", "ी": "i", "ु": "u", "ू": "u", "ृ": "ri", "े": "e", "ै": "ai",
    "ो": "o", "ौ": "au", "ॅ": "e", "ॉ": "o",
}  # fmt: skip
_DEV_CONSONANTS = {
    "क": "k", "ख": "kh", "ग": "g", "घ": "gh", "ङ": "n", "च": "ch", "छ": "chh", "ज": "j",
    "झ": "jh", "ञ": "n", "ट": "t", "ठ": "th", "ड": "d", "ढ": "dh", "ण": "n", "त": "t",
    "थ": "th", "द": "d", "ध": "dh", "न": "n", "प": "p", "फ": "ph", "ब": "b", "भ": "bh",
    "म": "m", "य": "y", "र": "r", "ल": "l", "ळ": "l", "व": "v", "श": "sh", "ष": "sh",
    "स": "s", "ह": "h",
}  # fmt: skip
_DEV_NUKTA = {"क": "q", "ख": "kh", "ग": "g", "ज": "z", "ड": "r", "ढ": "rh", "फ": "f"}
_DEV_SIGNS = {"ं": "n", "ँ": "n", "ः": "h", "।": ".", "॥": ".", "ॐ": "om", "ऽ": "'"}
_NUKTA, _VIRAMA = "\u093c", "\u094d"


def _devanagari_to_ascii(run: str) -> str:
    """Simple Hindi romanisation: inherent 'a' except at the end of a word."""
    out: list[str] = []
    i, n = 0, len(run)
    while i < n:
        ch = run[i]
        if ch in _DEV_CONSONANTS:
            base = _DEV_CONSONANTS[ch]
            j = i + 1
            if j < n and run[j] == _NUKTA:
                base = _DEV_NUKTA.get(ch, base)
                j += 1
            out.append(base)
            nxt = run[j] if j < n else ""
            if nxt in _DEV_MATRAS:
                out.append(_DEV_MATRAS[nxt])
                j += 1
            elif nxt == _VIRAMA:
                j += 1
            elif nxt and (nxt in _DEV_CONSONANTS or nxt in _DEV_VOWELS or nxt in "ँंः"):
                out.append("a")
            i = j
            continue
        if ch in _DEV_VOWELS:
            out.append(_DEV_VOWELS[ch])
        elif ch in _DEV_SIGNS:
            out.append(_DEV_SIGNS[ch])
        elif "०" <= ch <= "९":
            out.append(str(ord(ch) - ord("०")))
        # nukta, virama and anything else left over are dropped
        i += 1
    return "".join(out)


def transliterate(text: str) -> str:
    """Replace every character outside the printer code page with ASCII (or nothing)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if "\u0900" <= ch <= "\u097f":
            j = i
            while j < n and "\u0900" <= text[j] <= "\u097f":
                j += 1
            out.append(_devanagari_to_ascii(unicodedata.normalize("NFKD", text[i:j])))
            i = j
            continue
        if _encodable(ch):
            out.append(ch)
        else:
            decomposed = unicodedata.normalize("NFKD", ch)
            out.append("".join(c for c in decomposed if " " <= c <= "~"))
        i += 1
    return "".join(out)


# --------------------------------------------------------------------------- fonts


def _font_paths() -> list[str]:
    env = os.environ.get(FONT_ENV, "").strip()
    paths = ([env] if env else []) + list(FONT_CANDIDATES)
    return [p for p in dict.fromkeys(paths) if os.path.isfile(p)]


@lru_cache(maxsize=64)
def _load_font(path: str, size: int) -> ImageFont.FreeTypeFont | None:
    try:
        return ImageFont.truetype(path, size)
    except OSError:
        return None


def _probe(font: ImageFont.FreeTypeFont, text: str) -> tuple[int, int, bytes]:
    left, top, right, bottom = (int(v) for v in font.getbbox(text))
    w, h = max(1, right - left), max(1, bottom - top)
    im = Image.new("L", (w, h), 0)
    ImageDraw.Draw(im).text((-left, -top), text, font=font, fill=255)
    return right - left, bottom - top, im.tobytes()


@lru_cache(maxsize=4096)
def _has_glyph(path: str, ch: str) -> bool:
    """True if the font draws ``ch`` as something other than its missing-glyph box."""
    font = _load_font(path, TEXT_PX)
    if font is None:
        return False
    try:
        return _probe(font, ch) != _probe(font, "\U000f0000")
    except Exception:  # a broken font must not break printing
        return False


def _needs_glyphs(text: str) -> set[str]:
    return {ch for ch in text if not _encodable(ch) and unicodedata.category(ch)[0] not in "ZMC"}


def _font_for(text: str) -> str | None:
    """Path of the first font (KIRANA_PRINT_FONT, then FONT_CANDIDATES) with all glyphs."""
    needed = _needs_glyphs(text)
    for path in _font_paths():
        if _load_font(path, TEXT_PX) is not None and all(_has_glyph(path, c) for c in needed):
            return path
    return None


def _printable(text: str) -> str:
    """Text as the printer will get it: folded, and transliterated if no font can draw it."""
    text = _fold(text)
    if _encodable(text) or _font_for(text) is not None:
        return text
    return transliterate(text)


# --------------------------------------------------------------------------- images


def _line_image(
    left: str,
    right: str,
    *,
    align: str,
    width: int,
    columns: int,
    big: bool,
    bold: bool,
    underline: bool,
    font_path: str,
) -> Image.Image:
    """One physical line drawn as a ``width``-dot wide black-on-white image."""
    size = TEXT_PX * (2 if big else 1)
    gap = (width / columns) * (2 if big else 1) if left and right else 0
    font = _load_font(font_path, size)
    assert font is not None
    stroke = 1 if bold else 0
    while size > 8:
        total = font.getlength(left) + font.getlength(right) + gap + 2 * stroke
        if total <= width:
            break
        size -= 1
        font = _load_font(font_path, size)
        assert font is not None
    ascent, descent = font.getmetrics()
    height = ascent + descent + 4
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)

    def put(x: float, s: str) -> None:
        draw.text((x, 2), s, font=font, fill=0, stroke_width=stroke, stroke_fill=0)
        if underline and s.strip():
            y = 2 + ascent + max(1, descent // 3)
            draw.line([(x, y), (x + font.getlength(s), y)], fill=0, width=2)

    lw = font.getlength(left)
    if right:
        put(0, left)
        put(width - font.getlength(right) - stroke, right)
    elif align == "center":
        put((width - lw) / 2, left)
    elif align == "right":
        put(width - lw - stroke, left)
    else:
        put(0, left)
    return img.point(lambda v: 0 if v < 128 else 255).convert("1")


# --------------------------------------------------------------------------- printer


def paper_dots(profile_data: dict, columns: int) -> int:
    """Printable width in dots for ``columns`` columns (see the module docstring)."""
    media = profile_data.get("media") or {}
    pixels = (media.get("width") or {}).get("pixels")
    fonts = profile_data.get("fonts") or {}
    profile_cols = (fonts.get("0") or {}).get("columns")
    if isinstance(pixels, int) and profile_cols == columns:
        return pixels
    return columns * DOTS_PER_COLUMN


def _printer(profile: str, columns: int) -> tuple[Dummy, int]:
    try:
        p = Dummy(profile=profile)
    except KeyError:
        raise ValueError(f"unknown printer profile {profile!r}") from None
    data = copy.deepcopy(type(p.profile).profile_data)
    dots = paper_dots(data, columns)
    data.setdefault("media", {}).setdefault("width", {})["pixels"] = dots
    p.profile.profile_data = data  # instance copy: the shared profile class stays untouched
    return p, dots


def _style_on(p: Dummy, *, align: str, bold: bool, big: bool, underline: bool) -> None:
    kwargs: dict[str, object] = {}
    if big:
        kwargs.update(double_width=True, double_height=True)
    if bold:
        kwargs["bold"] = True
    if underline:
        kwargs["underline"] = 1
    if align != "left":
        kwargs["align"] = align
    if kwargs:
        p.set(**kwargs)


def _style_off(p: Dummy, *, align: str, bold: bool, big: bool, underline: bool) -> None:
    kwargs: dict[str, object] = {}
    if big:
        kwargs["normal_textsize"] = True
    if bold:
        kwargs["bold"] = False
    if underline:
        kwargs["underline"] = 0
    if align != "left":
        kwargs["align"] = "left"
    if kwargs:
        p.set(**kwargs)


def _emit_line(
    p: Dummy,
    line: str,
    left: str,
    right: str,
    *,
    align: str,
    dots: int,
    columns: int,
    big: bool,
    bold: bool,
    underline: bool,
) -> None:
    if _encodable(line):
        p._raw(line.encode(CODEPAGE) + b"\n")
        return
    font_path = _font_for(line)
    if font_path is None:  # cannot happen after _printable(), but never send mojibake
        p._raw(transliterate(line).encode(CODEPAGE, errors="replace") + b"\n")
        return
    img = _line_image(
        left,
        right,
        align=align,
        width=dots,
        columns=columns,
        big=big,
        bold=bold,
        underline=underline,
        font_path=font_path,
    )
    p.image(img, impl="bitImageRaster", center=False)


def _render_text(p: Dummy, block: Text, columns: int, dots: int) -> None:
    block = replace(block, text=_printable(block.text))
    style: dict[str, Any] = {"align": block.align, "bold": block.bold, "big": block.big,
                             "underline": block.underline}
    _style_on(p, **style)
    for line in text_lines(block, columns):
        _emit_line(p, line, line, "", dots=dots, columns=columns, **style)
    _style_off(p, **style)


def _render_row(p: Dummy, block: Row, columns: int, dots: int) -> None:
    block = replace(block, left=_printable(block.left), right=_printable(block.right))
    style: dict[str, Any] = {"align": "left", "bold": block.bold, "big": block.big,
                             "underline": False}
    _style_on(p, **style)
    for line, (left, right) in zip(
        text_lines(block, columns), row_parts(block, columns), strict=True
    ):
        _emit_line(p, line, left, right, dots=dots, columns=columns, **style)
    _style_off(p, **style)


def _code128_hw_payload(data: str) -> tuple[str, int]:
    """ESC/POS CODE128 data (with code-set prefixes) and its width in modules."""
    if data.isdigit() and len(data) >= 4:
        even = len(data) - len(data) % 2
        payload = "{C" + "".join(chr(int(data[i : i + 2])) for i in range(0, even, 2))
        symbols = even // 2
        if len(data) % 2:
            payload += "{B" + data[-1]
            symbols += 2  # code-set switch + the digit
    else:
        payload = "{B" + data.replace("{", "{{")
        symbols = len(data)
    # start + data + check symbols of 11 modules each, stop of 13 modules
    return payload, 11 * (symbols + 2) + 13


def _render_barcode(p: Dummy, data: str, dots: int) -> None:
    """CODE128 by the printer (GS k) when the profile has it and it fits, else as an image."""
    hardware = bool(p.profile.supports("barcodeB"))
    if hardware:
        payload, modules = _code128_hw_payload(data)
        for width in (3, 2):
            if (modules + BARCODE_QUIET) * width <= dots:
                # python-escpos prints "Using hardware barcode renderer" to stdout
                with contextlib.redirect_stdout(io.StringIO()):
                    p.barcode(
                        payload,
                        "CODE128",
                        height=BARCODE_HEIGHT,
                        width=width,
                        pos="BELOW",
                        function_type="B",
                        align_ct=True,
                    )
                p._raw(b"\n")
                p.set(align="left")
                return
    # Drawn by us: python-escpos's software renderer would encode the "{B" prefix as data and
    # fails at 1-dot modules.
    bars = pybarcode.Code128(data).build()[0]  # one character per module, "1" = bar
    for width in (1,) if hardware else (3, 2, 1):
        if (len(bars) + BARCODE_QUIET) * width <= dots:
            img = Image.new("1", (len(bars) * width, BARCODE_HEIGHT), 1)
            draw = ImageDraw.Draw(img)
            for i, module in enumerate(bars):
                if module == "1":
                    draw.rectangle(
                        [i * width, 0, i * width + width - 1, BARCODE_HEIGHT - 1], fill=0
                    )
            p.image(img, impl="bitImageRaster", center=True)
            break
    # Human-readable text below; alone when the code cannot fit this paper at all.
    p.set(align="center")
    p._raw(data.encode("ascii", errors="replace") + b"\n")
    p.set(align="left")


def qr_module_size(data: str, requested: int, dots: int) -> int:
    """The requested QR module size, reduced so the code (with its border) fits the paper.

    Only the symbol's version is needed (``best_fit``: its side is 4 * version + 17
    modules), not the matrix: ``make()`` would try all eight masks, ~7 ms of CPU, and
    python-escpos builds the code again to print it."""
    qr = qrcode.QRCode(
        version=None, error_correction=qrcode.constants.ERROR_CORRECT_M, border=1, box_size=1
    )
    qr.add_data(data)
    modules = qr.best_fit() * 4 + 17  # what make(fit=True) sets as modules_count
    return max(1, min(requested, dots // (modules + 2)))


def _render_qr(p: Dummy, block: QR, dots: int) -> None:
    size = qr_module_size(block.data, block.size, dots)
    p.qr(
        block.data,
        ec=QR_ECLEVEL_M,
        size=size,
        native=False,
        image_arguments={"impl": "bitImageRaster", "center": True},
    )


def to_escpos(blocks: list[Block], *, columns: int = 48, profile: str = "TM-T88V") -> bytes:
    """ESC/POS bytes for ``blocks`` at ``columns`` columns with a python-escpos profile."""
    if not 8 <= columns <= 96:
        raise ValueError(f"columns must be 8-96, not {columns}")
    p, dots = _printer(profile, columns)
    p.hw("INIT")
    p._raw(SELECT_PC437)
    for block in blocks:
        if isinstance(block, Text):
            _render_text(p, block, columns, dots)
        elif isinstance(block, Row):
            _render_row(p, block, columns, dots)
        elif isinstance(block, Rule):
            char = _printable(block.char)[:1] or "-"
            if not _encodable(char):
                char = "-"
            p._raw((char * columns).encode(CODEPAGE) + b"\n")
        elif isinstance(block, Feed):
            p._raw(b"\n" * max(0, block.lines))
        elif isinstance(block, Barcode):
            _render_barcode(p, block.data, dots)
        elif isinstance(block, QR):
            _render_qr(p, block, dots)
        elif isinstance(block, Cut):
            p.cut(mode="PART")
        else:
            raise TypeError(f"not a layout block: {block!r}")
    return p.output
