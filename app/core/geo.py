"""Map coordinates: the one rule for a latitude and longitude anyone sends or types.

An order's drop point (the store's intake API, the hub's channel API and CSV upload, an
order arriving over the sync link) and a store's location on the hub all use it.
"""

from __future__ import annotations

import math

MIN_LAT, MAX_LAT = -90, 90  # degrees; ints, as the API schema has always shown them
MIN_LON, MAX_LON = -180, 180
LAT_RULE = f"lat must be a number from {MIN_LAT} to {MAX_LAT}"
LON_RULE = f"lon must be a number from {MIN_LON} to {MAX_LON}"


def is_lat(value: float) -> bool:
    """A finite latitude in degrees (NaN and infinities are not)."""
    return math.isfinite(value) and MIN_LAT <= value <= MAX_LAT


def is_lon(value: float) -> bool:
    """A finite longitude in degrees."""
    return math.isfinite(value) and MIN_LON <= value <= MAX_LON


def point_problem(lat: float | None, lon: float | None) -> str | None:
    """What is wrong with a point (None for a missing coordinate is fine), or None."""
    if lat is not None and not is_lat(lat):
        return LAT_RULE
    if lon is not None and not is_lon(lon):
        return LON_RULE
    return None
