"""Render layout blocks to an HTML fragment that looks like the printed paper.

One ``<div class="pl ...">`` per physical line (the same lines as on paper, from
``text_lines``), barcodes and QR codes as inline SVG, styled by the "paper" rules in
static/css/app.css (``.paper-roll``, ``.pl-…``). Unlike the printer, the preview keeps "₹"
and any script as typed.

The fragment has no ``style`` attribute, which the pages' Content-Security-Policy would
block: the SVGs' styles become presentation attributes (``fill="black"``), and the paper
and code widths are CSS custom properties named in ``data-css-var`` ("--cols:42"), which
static/js/app.js sets (without script the preview is 48 columns wide).
"""

from __future__ import annotations

import html
import io
import re

import barcode as pybarcode
import qrcode
import qrcode.image.svg
from barcode.writer import SVGWriter

from .layout import QR, Barcode, Block, Cut, Feed, Row, Rule, Text, text_lines

__all__ = ["to_html"]

DOTS_PER_COLUMN = 12  # as on the printer: font A is 12 dots wide
BARCODE_MODULE_DOTS = 3
CSS_PX_PER_MM = 96 / 25.4

_PROLOG_RE = re.compile(r"^.*?(?=<svg\b)", re.S)
_MM_ATTR_RE = re.compile(r'(<svg\b[^>]*?)\swidth="([0-9.]+)mm"\s+height="([0-9.]+)mm"')


def _svg_only(svg: str) -> str:
    """Drop the XML declaration, DOCTYPE and comments before ``<svg``."""
    svg = _PROLOG_RE.sub("", svg, count=1)
    return re.sub(r"<!--.*?-->", "", svg, flags=re.S).strip()


_STYLE_ATTR_RE = re.compile(r'\sstyle="([^"]*)"')


def _presentation_attributes(svg: str) -> str:
    """``style="fill:black;font-size:8pt"`` -> ``fill="black" font-size="8pt"``: the same
    look as SVG presentation attributes, which a CSP without 'unsafe-inline' allows."""

    def convert(m: re.Match[str]) -> str:
        pairs = (d.split(":", 1) for d in m.group(1).split(";") if ":" in d)
        return "".join(f' {k.strip()}="{html.escape(v.strip())}"' for k, v in pairs)

    return _STYLE_ATTR_RE.sub(convert, svg)


def _barcode_svg(data: str, columns: int) -> str:
    code = pybarcode.Code128(data, writer=SVGWriter())
    modules = len(code.build()[0])
    raw = code.render({"module_height": 10.0, "font_size": 8, "text_distance": 3.5}).decode()
    svg = _svg_only(raw).replace(' id="barcode_group"', "")

    def add_viewbox(m: re.Match[str]) -> str:
        # python-barcode writes sizes in mm without a viewBox: add one so CSS can scale it.
        w, h = float(m.group(2)) * CSS_PX_PER_MM, float(m.group(3)) * CSS_PX_PER_MM
        return f'{m.group(1)} viewBox="0 0 {w:.2f} {h:.2f}" role="img"'

    svg = _MM_ATTR_RE.sub(add_viewbox, svg, count=1)
    width_ch = min(columns, modules * BARCODE_MODULE_DOTS / DOTS_PER_COLUMN + 2)
    label = html.escape(data)
    return (f'<div class="pl-barcode" data-css-var="--bc-w:{width_ch:.1f}ch" title="{label}">'
            f"{_presentation_attributes(svg)}</div>")


def _qr_svg(block: QR, columns: int) -> str:
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=10,
        border=1,
        image_factory=qrcode.image.svg.SvgPathImage,
    )
    qr.add_data(block.data)
    qr.make(fit=True)
    dots = columns * DOTS_PER_COLUMN
    n = qr.modules_count + 2
    size = max(1, min(block.size, dots // n))  # same clamp as the printer
    buf = io.BytesIO()
    qr.make_image().save(buf)
    svg = _svg_only(buf.getvalue().decode())
    width_ch = n * size / DOTS_PER_COLUMN
    label = html.escape(block.data)
    return (f'<div class="pl-qr" data-css-var="--qr-w:{width_ch:.1f}ch" title="{label}">'
            f"{_presentation_attributes(svg)}</div>")


def _line(text: str, classes: list[str]) -> str:
    return f'<div class="{" ".join(["pl", *classes])}">{html.escape(text)}</div>'


def to_html(blocks: list[Block], *, columns: int = 48) -> str:
    """An HTML fragment (no ``<html>``) showing ``blocks`` as they print at ``columns``."""
    if not 8 <= columns <= 96:
        raise ValueError(f"columns must be 8-96, not {columns}")
    out = [f'<div class="paper-roll" data-css-var="--cols:{columns}">']
    for block in blocks:
        if isinstance(block, Text):
            classes = []
            if block.align != "left":
                classes.append(f"pl-{block.align}")
            if block.bold:
                classes.append("pl-bold")
            if block.big:
                classes.append("pl-big")
            if block.underline:
                classes.append("pl-u")
            out.extend(_line(line, classes) for line in text_lines(block, columns))
        elif isinstance(block, Row):
            classes = ["pl-row"]
            if block.bold:
                classes.append("pl-bold")
            if block.big:
                classes.append("pl-big")
            out.extend(_line(line, classes) for line in text_lines(block, columns))
        elif isinstance(block, Rule):
            out.append(_line(block.char * columns, ["pl-rule"]))
        elif isinstance(block, Feed):
            out.extend(_line("", []) for _ in range(block.lines))
        elif isinstance(block, Barcode):
            out.append(_barcode_svg(block.data, columns))
        elif isinstance(block, QR):
            out.append(_qr_svg(block, columns))
        elif isinstance(block, Cut):
            out.append('<div class="pl-cut">✂ - - - -</div>')
        else:
            raise TypeError(f"not a layout block: {block!r}")
    out.append("</div>")
    return "\n".join(out)
