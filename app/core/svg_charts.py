"""Charts drawn by the server as inline SVG strings (issue #18): vertical bars (with an
optional lighter second series, the previous period), horizontal bars (top and bottom
products) and a line or sparkline. No script, no style attribute (the pages' CSP), no
chart library, nothing fetched. Pure: no I/O.

Every chart is ``role="img"`` with an ``aria-label`` and a ``<title>`` that say the
figures in words, and every piece of text is escaped here (product names are hostile
input: ``<script>``, quotes, NUL bytes, 100 KB names). The result is a :class:`Svg`, a
``str`` that Jinja prints as it is (it has ``__html__``), so a template writes
``{{ chart }}`` and the page's table under it carries the same figures.

Figures are whole numbers (paise, counts) or finite floats; NaN and infinity are refused
(ValueError), and huge ones (2**63 and beyond) scale without overflowing: every length
is a ratio of two Python ints before it becomes a float.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from app.core.i18n import _

__all__ = [
    "Svg", "bar_chart", "compact_amount", "hbar_chart", "line_chart", "nice_ticks",
    "sparkline",
]

Number = int | float
Formatter = Callable[[int], str]

CURRENT = "#0b6e4f"   # the house green (templates/hub/_charts.html)
PREVIOUS = "#a8cfc0"  # the same, lighter: the previous period
NEGATIVE = "#b3261e"  # a net figure below zero (a day of refunds)
AXIS = "#c9d0d4"
INK = "#3c464d"
MUTED = "#5f6b73"
FONT = 14            # SVG units; a chart is 720 wide, so about 14 px on a 10" tablet
LABEL_CHARS = 22     # visible characters of a label before the ellipsis
TITLE_FIGURES = 40   # figures said in the title; the table below has them all
TITLE_LABEL_CHARS = 80

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


class Svg(str):
    """An SVG document already escaped; Jinja's autoescape leaves it as it is."""

    __slots__ = ()

    def __html__(self) -> str:
        return str(self)


def _clean(text: object, limit: int) -> str:
    """Text fit for an SVG: control characters and lone surrogates dropped (XML forbids
    them), cut to ``limit`` characters with an ellipsis. Not yet escaped."""
    s = _CONTROL.sub("", str(text))
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: max(limit - 1, 1)].rstrip() + "\u2026"


def _esc(text: object, limit: int = LABEL_CHARS) -> str:
    return escape(_clean(text, limit), quote=True)


def _num(value: object) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"a chart figure must be a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("a chart figure must be finite (not NaN or infinity)")
    return value


def _ratio(part: Number, whole: Number) -> float:
    """part / whole as a float in [0, 1] for any size of int (int / int true division
    does not overflow where float(part) would)."""
    if whole <= 0:
        return 0.0
    r = part / whole
    return 0.0 if r <= 0 else 1.0 if r >= 1 else float(r)


def _r(x: float) -> str:
    return f"{round(x, 2):g}"


def compact_amount(minor: int) -> str:
    """Paise as a short axis label in Indian units: 0 -> '₹0', 150000 -> '₹1.5k',
    12500000 -> '₹1.25L', 3 crore -> '₹3Cr'. Tables show exact figures; this is for
    ticks only."""
    sign = "-" if minor < 0 else ""
    rupees = abs(int(minor)) / 100 if abs(int(minor)) < 10**300 else float("inf")
    for size, unit in ((10**7, "Cr"), (10**5, "L"), (10**3, "k")):
        if rupees >= size:
            shown = rupees / size
            if not math.isfinite(shown):
                return f"{sign}\u20b9\u221e"
            text = f"{shown:.2f}".rstrip("0").rstrip(".") if shown < 100 else f"{shown:,.0f}"
            return f"{sign}\u20b9{text}{unit}"
    text = f"{rupees:.2f}".rstrip("0").rstrip(".")
    return f"{sign}\u20b9{text}"


def nice_ticks(low: Number, high: Number, count: int = 5) -> list[int]:
    """Round tick values from at most ``low`` (<= 0) to at least ``high`` (>= 0), steps of
    1, 2 or 5 times a power of ten, about ``count`` of them; always includes 0."""
    lo = min(0, math.floor(low))
    hi = max(0, math.ceil(high))
    span = hi - lo
    if span == 0:
        return [0]
    raw = max(1, -(-span // max(count, 1)))
    power = 1
    while power * 10 <= raw:
        power *= 10
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = (lo // step) * step
    end = -(-hi // step) * step
    ticks = []
    v = start
    while v <= end:
        ticks.append(v)
        v += step
    return ticks


def _figures_text(labels: Sequence[str], values: Sequence[Number], fmt: Formatter,
                  previous: Sequence[Number] | None = None, prev_name: str = "") -> str:
    parts = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        if i == TITLE_FIGURES:
            parts.append(_("and %(count)s more in the table below")
                         % {"count": len(values) - TITLE_FIGURES})
            break
        text = f"{_clean(label, TITLE_LABEL_CHARS)} {fmt(int(value))}"
        if previous is not None:
            text += f" ({prev_name} {fmt(int(previous[i]))})"
        parts.append(text)
    return "; ".join(parts)


def _open(kind: str, width: int, height: int, title: str, summary: str) -> list[str]:
    shown = summary or _("nothing to show")
    label = _esc(f"{title}: {shown}", 4000)
    return [
        f'<svg class="chart" data-chart="{escape(kind)}" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="xMidYMid meet" role="img" aria-label="{label}" '
        f'font-family="sans-serif" font-size="{FONT}">',
        f"<title>{label}</title>",
    ]


def _empty(kind: str, width: int, height: int, title: str, message: str) -> Svg:
    out = _open(kind, width, height, title, message)
    out.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f4f6f7" rx="6"/>')
    out.append(f'<text x="{width / 2:g}" y="{height / 2:g}" text-anchor="middle" '
               f'fill="{MUTED}">{_esc(message, 80)}</text>')
    out.append("</svg>")
    return Svg("".join(out))


def _checked(values: Sequence[object]) -> list[Number]:
    return [_num(v) for v in values]


def _every(n: int, room: float, per_label: float) -> int:
    """Show every k-th label so labels do not overlap."""
    if n <= 0 or room <= 0:
        return 1
    fits = max(1, int(room // per_label))
    return max(1, math.ceil(n / fits))


@dataclass(frozen=True, slots=True)
class _Frame:
    """The plotting box inside the chart, and the value scale of its vertical axis."""

    left: float
    top: float
    width: float
    height: float
    lo: Number
    hi: Number

    def y(self, value: Number) -> float:
        return self.top + self.height * (1 - _ratio(value - self.lo, self.hi - self.lo))


def _axis(frame: _Frame, ticks: list[int], axis_fmt: Formatter, total_width: int) -> list[str]:
    out = []
    for t in ticks:
        y = frame.y(t)
        colour = MUTED if t == 0 else AXIS
        out.append(f'<line x1="{_r(frame.left)}" y1="{_r(y)}" x2="{_r(total_width - 8)}" '
                   f'y2="{_r(y)}" stroke="{colour}" stroke-width="1"/>')
        out.append(f'<text x="{_r(frame.left - 6)}" y="{_r(y + 5)}" text-anchor="end" '
                   f'fill="{MUTED}" aria-hidden="true">{_esc(axis_fmt(t), 12)}</text>')
    return out


def bar_chart(labels: Sequence[str], values: Sequence[Number], *, title: str,
              previous: Sequence[Number] | None = None,
              names: tuple[str, str] | None = None,
              fmt: Formatter = str, axis_fmt: Formatter | None = None,
              width: int = 720, height: int = 300) -> Svg:
    """Vertical bars, one per label, with a y axis of round ticks and the labels under
    the bars (thinned when they would overlap). ``previous``, if given, is drawn as a
    lighter bar beside each one, with a legend. Negative figures hang below the zero
    line in red. An empty series draws a box saying there is nothing to show."""
    names = names or (_("This period"), _("Previous period"))
    vals = _checked(values)
    if len(labels) != len(vals):
        raise ValueError("labels and values differ in length")
    prev = _checked(previous) if previous is not None else None
    if prev is not None and len(prev) != len(vals):
        raise ValueError("previous and values differ in length")
    if not vals:
        return _empty("bars", width, height, title, _("No sales in this period"))
    axis_fmt = axis_fmt or fmt
    every = [*vals, *(prev or [])]
    ticks = nice_ticks(min(every), max(every))
    legend = 24 if prev is not None else 0
    frame = _Frame(left=76, top=12 + legend, width=width - 76 - 8,
                   height=height - 12 - legend - 30, lo=ticks[0], hi=ticks[-1])
    summary = _figures_text(labels, vals, fmt, prev, names[1].lower())
    out = _open("bars", width, height, title, summary)
    out += _axis(frame, ticks, axis_fmt, width)
    step = frame.width / len(vals)
    gap = min(4.0, step * 0.2)
    bar = max(step - gap, 1.0) / (2 if prev is not None else 1)
    zero = frame.y(0)
    for i, value in enumerate(vals):
        x = frame.left + i * step + gap / 2
        series = [(prev[i], PREVIOUS, names[1]), (value, CURRENT, names[0])] if prev is not None \
            else [(value, CURRENT, names[0])]
        for j, (v, colour, name) in enumerate(series):
            y = frame.y(v)
            top, h = (y, zero - y) if v >= 0 else (zero, y - zero)
            if v != 0:
                h = max(h, 1.0)
            if v < 0 and colour == CURRENT:
                colour = NEGATIVE
            out.append(f'<rect x="{_r(x + j * bar)}" y="{_r(top)}" width="{_r(bar)}" '
                       f'height="{_r(h)}" fill="{colour}" data-value="{int(v)}">'
                       f"<title>{_esc(labels[i], TITLE_LABEL_CHARS)}, {_esc(name, 40)}: "
                       f"{_esc(fmt(int(v)), 40)}</title></rect>")
    k = _every(len(vals), frame.width, 64)
    for i in range(0, len(vals), k):
        cx = frame.left + (i + 0.5) * step
        out.append(f'<text x="{_r(cx)}" y="{_r(height - 10)}" text-anchor="middle" '
                   f'fill="{INK}" aria-hidden="true">{_esc(labels[i], 10)}</text>')
    if prev is not None:
        out += _legend(frame.left, names)
    out.append("</svg>")
    return Svg("".join(out))


def _legend(left: float, names: tuple[str, str]) -> list[str]:
    out = []
    x = left
    for colour, name in ((CURRENT, names[0]), (PREVIOUS, names[1])):
        out.append(f'<rect x="{_r(x)}" y="4" width="14" height="14" fill="{colour}"/>')
        out.append(f'<text x="{_r(x + 20)}" y="16" fill="{INK}" aria-hidden="true">'
                   f"{_esc(name, 30)}</text>")
        x += 20 + 9 * min(len(name), 30) + 24
    return out


def hbar_chart(labels: Sequence[str], values: Sequence[Number], *, title: str,
               fmt: Formatter = str, width: int = 720, row: int = 34,
               label_width: int = 240) -> Svg:
    """Horizontal bars, one row per label (a product name, cut to fit and escaped), the
    figure written at the end of each bar. Bars grow from a zero line; a negative figure
    (more refunded than sold) grows to its left in red."""
    vals = _checked(values)
    if len(labels) != len(vals):
        raise ValueError("labels and values differ in length")
    if not vals:
        return _empty("hbars", width, 80, title, _("Nothing sold in this period"))
    height = row * len(vals) + 8
    lo, hi = min(0, *vals), max(0, *vals)
    figure_room = 110
    track = width - label_width - figure_room
    zero_x = label_width + track * _ratio(-lo, hi - lo)
    out = _open("hbars", width, height, title, _figures_text(labels, vals, fmt))
    out.append(f'<line x1="{_r(zero_x)}" y1="0" x2="{_r(zero_x)}" y2="{height}" '
               f'stroke="{MUTED}" stroke-width="1"/>')
    for i, v in enumerate(vals):
        y = 4 + i * row
        length = track * _ratio(abs(v), hi - lo)
        if v != 0:
            length = max(length, 2.0)
        x = zero_x if v >= 0 else zero_x - length
        colour = CURRENT if v >= 0 else NEGATIVE
        out.append(f'<text x="{label_width - 8}" y="{_r(y + row / 2 + 5)}" text-anchor="end" '
                   f'fill="{INK}" aria-hidden="true">{_esc(labels[i], 26)}</text>')
        out.append(f'<rect x="{_r(x)}" y="{_r(y + 4)}" width="{_r(length)}" '
                   f'height="{_r(row - 10)}" fill="{colour}" data-value="{int(v)}">'
                   f"<title>{_esc(labels[i], TITLE_LABEL_CHARS)}: {_esc(fmt(int(v)), 40)}"
                   f"</title></rect>")
        out.append(f'<text x="{_r(max(x + length, zero_x) + 6)}" y="{_r(y + row / 2 + 5)}" '
                   f'fill="{INK}" aria-hidden="true">{_esc(fmt(int(v)), 16)}</text>')
    out.append("</svg>")
    return Svg("".join(out))


def _points(vals: Sequence[Number], frame: _Frame) -> list[tuple[float, float]]:
    n = len(vals)
    if n == 1:
        return [(frame.left + frame.width / 2, frame.y(vals[0]))]
    return [(frame.left + frame.width * i / (n - 1), frame.y(v)) for i, v in enumerate(vals)]


def line_chart(labels: Sequence[str], values: Sequence[Number], *, title: str,
               fmt: Formatter = str, axis_fmt: Formatter | None = None,
               width: int = 720, height: int = 260) -> Svg:
    """A line through the figures in order (a trend over days), with round ticks on the
    y axis, a dot per point when there are few, and thinned labels under it."""
    vals = _checked(values)
    if len(labels) != len(vals):
        raise ValueError("labels and values differ in length")
    if not vals:
        return _empty("line", width, height, title, _("No sales in this period"))
    ticks = nice_ticks(min(vals), max(vals))
    frame = _Frame(left=76, top=12, width=width - 76 - 16, height=height - 12 - 30,
                   lo=ticks[0], hi=ticks[-1])
    out = _open("line", width, height, title, _figures_text(labels, vals, fmt))
    out += _axis(frame, ticks, axis_fmt or fmt, width)
    pts = _points(vals, frame)
    out.append(f'<polyline fill="none" stroke="{CURRENT}" stroke-width="3" '
               f'stroke-linejoin="round" points="{" ".join(f"{_r(x)},{_r(y)}" for x, y in pts)}"/>')
    if len(pts) <= 62:
        for (x, y), label, v in zip(pts, labels, vals, strict=True):
            out.append(f'<circle cx="{_r(x)}" cy="{_r(y)}" r="4" fill="{CURRENT}" '
                       f'data-value="{int(v)}"><title>{_esc(label, TITLE_LABEL_CHARS)}: '
                       f"{_esc(fmt(int(v)), 40)}</title></circle>")
    k = _every(len(vals), frame.width, 72)
    for i in range(0, len(vals), k):
        out.append(f'<text x="{_r(pts[i][0])}" y="{_r(height - 10)}" text-anchor="middle" '
                   f'fill="{INK}" aria-hidden="true">{_esc(labels[i], 10)}</text>')
    out.append("</svg>")
    return Svg("".join(out))


def sparkline(values: Sequence[Number], *, title: str, fmt: Formatter = str,
              width: int = 120, height: int = 32) -> Svg:
    """A small line with no axes, for a figure's trend beside it in a table; the title
    still says the first, last, lowest and highest figure."""
    vals = _checked(values)
    if not vals:
        return _empty("spark", width, height, title, _("no figures"))
    lo, hi = min(0, *vals), max(0, *vals)
    frame = _Frame(left=2, top=2, width=width - 4, height=height - 4, lo=lo, hi=hi)
    summary = (f"from {fmt(int(vals[0]))} to {fmt(int(vals[-1]))}, lowest {fmt(int(min(vals)))}, "
               f"highest {fmt(int(max(vals)))}")
    out = _open("spark", width, height, title, summary)
    out[0] = out[0].replace('class="chart"', 'class="spark"')
    pts = _points(vals, frame)
    out.append(f'<polyline fill="none" stroke="{CURRENT}" stroke-width="2" '
               f'points="{" ".join(f"{_r(x)},{_r(y)}" for x, y in pts)}"/>')
    out.append("</svg>")
    return Svg("".join(out))
