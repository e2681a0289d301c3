"""Tests for ESC/POS rendering (app.printing.escpos_render) and the HTML preview."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from app.printing import escpos_render
from app.printing.escpos_render import FONT_ENV, to_escpos, transliterate
from app.printing.html_render import to_html
from app.printing.layout import QR, Barcode, Row, Text, parse_layout

ESC, GS = b"\x1b", b"\x1d"
INIT = ESC + b"@"
PC437 = ESC + b"t\x00"
BOLD_ON, BOLD_OFF = ESC + b"E\x01", ESC + b"E\x00"
CODE128 = GS + b"kI"  # GS k m=73 (function B, CODE128)
RASTER = GS + b"v0"
PART_CUT = GS + b"V\x01"
RUPEE_UTF8 = "₹".encode()

RECEIPT = """\
[c][b][w]Kirana Fresh
[c]MG Road, Bengaluru
[rule]
[row]Tata Salt 1kg||₹28.00
[row]Aashirvaad Whole Wheat Atta 10 kg pack||₹450.00
[b][row]Total||₹478.00
It’s “fine” – really… 2×3
[rule==]
[barcode]INV-0001
[qr=4]upi://pay?pa=kirana@upi&pn=Kirana&am=478.00&cu=INR
[cut]
"""

DEVANAGARI = "दाल मखनी"
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def rasters(data: bytes) -> list[Image.Image]:
    """Every GS v 0 raster image in ``data``, as a Pillow image (black = printed dot)."""
    images = []
    pos = 0
    while (pos := data.find(RASTER, pos)) >= 0:
        mode = data[pos + 3]
        width_bytes = data[pos + 4] | data[pos + 5] << 8
        rows = data[pos + 6] | data[pos + 7] << 8
        assert mode in (0, 1, 2, 3, 48, 49, 50, 51)
        bitmap = data[pos + 8 : pos + 8 + width_bytes * rows]
        assert len(bitmap) == width_bytes * rows, "truncated raster image"
        # ESC/POS: bit 1 = black dot; Pillow mode "1": bit 1 = white
        images.append(Image.frombytes("1", (width_bytes * 8, rows), bytes(255 - b for b in bitmap)))
        pos += 8 + len(bitmap)
    return images


def without_rasters(data: bytes) -> bytes:
    """``data`` with the raster bitmaps cut out, so text assertions don't hit image bytes."""
    out, pos = [], 0
    while (start := data.find(RASTER, pos)) >= 0:
        out.append(data[pos:start])
        width_bytes = data[start + 4] | data[start + 5] << 8
        rows = data[start + 6] | data[start + 7] << 8
        pos = start + 8 + width_bytes * rows
    out.append(data[pos:])
    return b"".join(out)


def black_pixels(img: Image.Image) -> int:
    return sum(img.convert("L").histogram()[:128])


@pytest.fixture
def no_fonts(monkeypatch: pytest.MonkeyPatch) -> None:
    """No usable font at all: the env var points nowhere and the search list is empty."""
    monkeypatch.setenv(FONT_ENV, "/nonexistent/kirana/font.ttf")
    monkeypatch.setattr(escpos_render, "FONT_CANDIDATES", ())


def devanagari_font() -> str | None:
    candidates = [os.environ.get(FONT_ENV, ""), *escpos_render.FONT_CANDIDATES]
    if shutil.which("fc-list"):
        listed = subprocess.run(
            ["fc-list", ":lang=hi", "file"], capture_output=True, text=True, check=False
        ).stdout
        candidates += [line.split(":")[0].strip() for line in listed.splitlines()]
    for path in candidates:
        if path and os.path.isfile(path) and escpos_render._has_glyph(path, "द"):
            return path
    return None


# --------------------------------------------------------------------------- receipt bytes


def test_small_receipt_bytes(capfd: pytest.CaptureFixture[str]) -> None:
    out = to_escpos(parse_layout(RECEIPT), columns=48)
    assert out.startswith(INIT + PC437)
    text = without_rasters(out)
    assert b"Tata Salt 1kg" in text
    assert b"Rs.28.00" in text and b"Rs.478.00" in text
    assert RUPEE_UTF8 not in out
    assert b'It\'s "fine" - really... 2x3\n' in text
    assert BOLD_ON in text and BOLD_OFF in text
    assert text.index(BOLD_ON) < text.index(b"Kirana Fresh") < text.index(BOLD_OFF)
    assert ESC + b"!\x30" in text  # double width + double height for [w]
    assert ESC + b"a\x01" in text  # centre
    assert CODE128 + bytes([len("{BINV-0001")]) + b"{BINV-0001" in text
    assert len(rasters(out)) == 1  # the QR code
    assert text.endswith(PART_CUT)
    # row justified to 48 columns, the rupee sign replaced before wrapping
    assert b"\nTata Salt 1kg" + b" " * 27 + b"Rs.28.00\n" in text
    assert b"\nAashirvaad Whole Wheat Atta 10 kg pack Rs.450.00\n" in text  # exactly 48
    assert b"-" * 48 + b"\n" in text and b"=" * 48 + b"\n" in text
    # python-escpos must not print warnings ("media.width.pixel", "Using ... renderer")
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_style_is_reset_after_each_block() -> None:
    out = to_escpos([Text("B", bold=True, align="right", underline=True), Text("plain")])
    before, after = out.split(b"B\n", 1)
    assert BOLD_ON in before and ESC + b"-\x01" in before and ESC + b"a\x02" in before
    reset, _ = after.split(b"plain", 1)
    assert BOLD_OFF in reset and ESC + b"-\x00" in reset and ESC + b"a\x00" in reset


@pytest.mark.parametrize(("columns", "dots"), [(32, 384), (42, 512), (48, 576)])
def test_paper_width_centres_qr(columns: int, dots: int, capfd: pytest.CaptureFixture) -> None:
    out = to_escpos([QR("hello", 4)], columns=columns)
    (img,) = rasters(out)
    assert img.width == dots
    bbox = Image.eval(img.convert("L"), lambda v: 255 - v).getbbox()
    assert bbox is not None
    left, right = bbox[0], img.width - bbox[2]
    assert abs(left - right) <= 8  # centred on the paper
    assert capfd.readouterr().err == ""


def test_profile_data_is_not_mutated() -> None:
    from escpos.capabilities import get_profile_class

    to_escpos([QR("x")], columns=48, profile="TM-T88V")
    assert get_profile_class("TM-T88V").profile_data["media"]["width"]["pixels"] == 512


def test_unknown_profile() -> None:
    with pytest.raises(ValueError, match="unknown printer profile"):
        to_escpos([Text("x")], profile="No-Such-Printer")


# --------------------------------------------------------------------------- QR decodes


def _zbar():
    try:
        from pyzbar import pyzbar as zbar
    except (ImportError, OSError) as exc:  # OSError: libzbar0 missing
        pytest.skip(f"pyzbar/libzbar0 not available ({exc}); pip install pyzbar, apt libzbar0")
    return zbar


@pytest.mark.parametrize("columns", [32, 48])
def test_qr_in_bytes_decodes_back(columns: int) -> None:
    zbar = _zbar()
    data = "upi://pay?pa=kirana@upi&pn=Kirana%20Fresh&am=478.00&cu=INR&tn=INV-0001"
    out = to_escpos(parse_layout(f"[c]Pay\n[qr=4]{data}\n[cut]"), columns=columns)
    (img,) = rasters(out)
    big = img.convert("L").resize((img.width * 2, img.height * 2), Image.NEAREST)
    canvas = Image.new("L", (big.width + 80, big.height + 80), 255)
    canvas.paste(big, (40, 40))
    decoded = zbar.decode(canvas)
    assert [d.data.decode() for d in decoded] == [data]
    assert decoded[0].type == "QRCODE"


def test_qr_size_is_clamped_to_the_paper() -> None:
    data = "x" * 500
    (img,) = rasters(to_escpos([QR(data, 16)], columns=32))
    assert img.width == 384
    (img48,) = rasters(to_escpos([QR(data, 16)], columns=48))
    assert black_pixels(img48) > black_pixels(img)  # larger modules on wider paper


# --------------------------------------------------------------------------- barcodes


def test_numeric_barcode_uses_code_set_c() -> None:
    out = to_escpos([Barcode("8901234567890")], columns=32)
    payload = b"{C" + bytes([89, 1, 23, 45, 67, 89]) + b"{B0"
    assert CODE128 + bytes([len(payload)]) + payload in out


def test_barcode_brace_is_escaped() -> None:
    out = to_escpos([Barcode("A{B")], columns=48)
    assert CODE128 + bytes([len(b"{BA{{B")]) + b"{BA{{B" in out


def test_long_barcode_falls_back(capfd: pytest.CaptureFixture[str]) -> None:
    data = "KIRANA-RETURN-" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # 40 characters
    wide = to_escpos([Barcode(data)], columns=48)
    assert CODE128 not in wide  # too wide for the printer's 2-dot modules ...
    (img,) = rasters(wide)  # ... so drawn as an image with 1-dot modules
    assert img.width == 576 and black_pixels(img) > 1000
    assert data.encode() + b"\n" in without_rasters(wide)  # human-readable text below
    narrow = to_escpos([Barcode(data)], columns=32)
    assert CODE128 not in narrow and not rasters(narrow)
    assert data.encode() + b"\n" in narrow  # cannot fit 58 mm paper: printed as text only
    assert capfd.readouterr().out == ""


@pytest.mark.parametrize(
    ("profile", "columns", "data"),
    [
        ("TM-T88V", 48, "KIRANA-RETURN-ABCDEFGHIJKLMNOPQRSTUVWXYZ"),  # too long for GS k
        ("POS-5890", 32, "INV-0001"),  # 58 mm profile without hardware CODE128
        ("POS-5890", 32, "8901234567890"),
    ],
)
def test_software_barcode_decodes_back(profile: str, columns: int, data: str) -> None:
    zbar = _zbar()
    out = to_escpos([Barcode(data)], columns=columns, profile=profile)
    assert CODE128 not in out
    (img,) = rasters(out)
    big = img.convert("L").resize((img.width * 2, img.height * 2), Image.NEAREST)
    canvas = Image.new("L", (big.width + 80, big.height + 80), 255)
    canvas.paste(big, (40, 40))
    decoded = zbar.decode(canvas)
    assert [(d.type, d.data.decode()) for d in decoded] == [("CODE128", data)]


# --------------------------------------------------------------------------- code pages


def test_non_cp437_without_font_is_transliterated(no_fonts: None) -> None:
    out = to_escpos([Text(DEVANAGARI), Row(DEVANAGARI, "₹120.00"), Text("Привет Café")], columns=32)
    assert not rasters(out)
    assert b"dal makhani\n" in out
    assert b"dal makhani" + b" " * 12 + b"Rs.120.00\n" in out
    assert "Café".encode("cp437") in out  # cp437 characters stay as they are
    assert DEVANAGARI.encode() not in out and RUPEE_UTF8 not in out
    assert b"\xe0\xa4" not in out  # no UTF-8 Devanagari bytes (would print as mojibake)


def test_font_without_the_glyphs_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    if not os.path.isfile(DEJAVU):
        pytest.skip(f"{DEJAVU} not installed")
    # DejaVu Sans has Cyrillic but no Devanagari: it must be passed over, not used
    monkeypatch.setenv(FONT_ENV, DEJAVU)
    monkeypatch.setattr(escpos_render, "FONT_CANDIDATES", ())
    out = to_escpos([Text(DEVANAGARI)], columns=48)
    assert not rasters(out) and b"dal makhani\n" in out


def test_non_cp437_line_becomes_image_with_a_font(monkeypatch: pytest.MonkeyPatch) -> None:
    if not os.path.isfile(DEJAVU):
        pytest.skip(f"{DEJAVU} not installed: no font with Cyrillic glyphs to test the image path")
    monkeypatch.setenv(FONT_ENV, DEJAVU)
    monkeypatch.setattr(escpos_render, "FONT_CANDIDATES", ())
    out = to_escpos([Text("Tata Salt"), Row("Привет мир", "₹1.00"), Text("after")], columns=42)
    (img,) = rasters(out)
    assert img.width == 512 and 20 <= img.height <= 60
    assert black_pixels(img) > 200
    # right part drawn at the right edge, left part at the left edge
    dark = Image.eval(img.convert("L"), lambda v: 255 - v)
    assert dark.crop((0, 0, 40, img.height)).getbbox() is not None
    assert dark.crop((img.width - 40, 0, img.width, img.height)).getbbox() is not None
    assert dark.crop((200, 0, 300, img.height)).getbbox() is None
    text = without_rasters(out)
    assert b"Tata Salt\n" in text and b"after\n" in text
    assert "Привет".encode() not in out


def test_devanagari_line_becomes_image(monkeypatch: pytest.MonkeyPatch) -> None:
    font = devanagari_font()
    if font is None:
        pytest.skip(
            "no Devanagari font: none of KIRANA_PRINT_FONT, FONT_CANDIDATES or "
            "`fc-list :lang=hi` (install fonts-noto-core or fonts-lohit-deva to run this)"
        )
    monkeypatch.setenv(FONT_ENV, font)
    monkeypatch.setattr(escpos_render, "FONT_CANDIDATES", ())
    out = to_escpos([Text(DEVANAGARI, align="center", bold=True)], columns=32)
    (img,) = rasters(out)
    assert img.width == 384 and black_pixels(img) > 200
    assert b"dal makhani" not in out and b"\xe0\xa4" not in out


def test_transliterate() -> None:
    assert transliterate(DEVANAGARI) == "dal makhani"
    assert transliterate("चीनी शक्कर") == "chini shakkar"
    assert transliterate("हिंदी ०१२") == "hindi 012"
    assert transliterate("Crème brûlée") == "Crème brûlée"  # all in cp437
    assert transliterate("Łódź") == "ódz"  # ó is in cp437; Ł has no ASCII base: dropped


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=120))
def test_any_text_renders_without_fonts(text: str) -> None:
    # (hypothesis runs many examples per test call, so no function-scoped monkeypatch here)
    with (
        mock.patch.dict(os.environ, {FONT_ENV: "/nonexistent/kirana/font.ttf"}),
        mock.patch.object(escpos_render, "FONT_CANDIDATES", ()),
    ):
        out = to_escpos([Text(text.replace("\n", " ")), Row(text[:20], text[-9:])])
    assert not rasters(out)
    assert out.startswith(INIT + PC437)
    # strip our own commands; what is left is text: no control bytes smuggled in from it
    body = re.sub(rb"\x1b@|\x1b[t!Ea-][\x00-\x02\x30]", b"", out)
    assert all(b >= 0x20 or b == 0x0A for b in body), body


# --------------------------------------------------------------------------- HTML preview


def test_html_preview() -> None:
    html = to_html(parse_layout(RECEIPT + "[row]<b>&||₹1\n"), columns=42)
    assert html.startswith('<div class="paper-roll" data-css-var="--cols:42">')
    assert " style=" not in html  # the CSP allows no style attribute (issue #13 item 16)
    assert 'fill="black"' in html
    assert html.endswith("</div>")
    assert '<div class="pl pl-center pl-bold pl-big">Kirana Fresh</div>' in html
    assert "Tata Salt 1kg" + " " * 23 + "₹28.00</div>" in html  # ₹ kept, width 42
    assert "&lt;b&gt;&amp;" in html and "<b>" not in html
    assert html.count("<svg") == 2 and "<?xml" not in html and "DOCTYPE" not in html
    assert '<div class="pl-cut">✂ - - - -</div>' in html
    assert '<div class="pl pl-rule">' + "=" * 42 + "</div>" in html
    assert "<html" not in html
    app_css = (Path(__file__).resolve().parents[2] / "static" / "css" / "app.css").read_text(
        encoding="utf-8")  # the pages' stylesheet styles the preview's classes
    for cls in (".paper-roll", ".pl-center", ".pl-bold", ".pl-big", ".pl-cut", "white-space: pre"):
        assert cls in app_css
