"""Small charts for the hub's pages, drawn by the server as inline SVG (no script, no
chart library, nothing fetched): this module only works out the shapes; the templates
(templates/hub/_charts.html) draw them and say the figures in words for screen readers.
Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One column of a column chart, in the SVG's own units (y grows downwards)."""

    x: float
    y: float
    width: float
    height: float
    value: int


def columns(values: Sequence[int], width: float, height: float,
            gap: float = 1.0) -> tuple[Column, ...]:
    """One column per value, side by side across `width`, the largest reaching `height`
    from the bottom edge. Values at or below zero (an hour of refunds) get no height;
    any value above zero gets at least one unit, so a quiet hour still shows."""
    if not values or width <= 0 or height <= 0:
        return ()
    step = width / len(values)
    bar = max(step - gap, step / 2)
    top = max(max(values), 0)
    out = []
    for i, value in enumerate(values):
        h = 0.0 if value <= 0 or top == 0 else max(1.0, height * value / top)
        out.append(Column(x=round(i * step, 2), y=round(height - h, 2), width=round(bar, 2),
                          height=round(h, 2), value=value))
    return tuple(out)


def share(value: int, whole: int, width: float) -> float:
    """How long a bar for `value` out of `whole` is: 0 to `width`, at least 2 for a value
    above zero (visible), never more than `width` (a value above `whole`)."""
    if value <= 0 or whole <= 0 or width <= 0:
        return 0.0
    return round(min(width, max(2.0, width * value / whole)), 2)
