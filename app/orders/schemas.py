"""The order API's request bodies (msgspec, strict). The store's intake API and the
hub's channel API take the same order, so both import these."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from app.core.geo import MAX_LAT, MAX_LON, MIN_LAT, MIN_LON
from app.core.money import MAX_AMOUNT_MINOR, MAX_LINES, MAX_QUANTITY

Sku = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
# Paise, bounded so that no total of an order can overflow a 64-bit integer (money.py).
Minor = Annotated[int, msgspec.Meta(ge=0, le=MAX_AMOUNT_MINOR,
                                    description="paise, at most 10,000,000,000 (₹10 crore)")]


class LineBody(msgspec.Struct, forbid_unknown_fields=True):
    sku: Sku
    quantity: Annotated[int, msgspec.Meta(gt=0, le=MAX_QUANTITY)]
    price_minor: Minor = 0


class CustomerBody(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=80)]
    phone: Annotated[str, msgspec.Meta(max_length=15)]
    address: Annotated[str, msgspec.Meta(max_length=300)]
    pincode: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$")]
    lat: Annotated[float, msgspec.Meta(ge=MIN_LAT, le=MAX_LAT)] | None = None
    lon: Annotated[float, msgspec.Meta(ge=MIN_LON, le=MAX_LON)] | None = None


class OrderBody(msgspec.Struct, forbid_unknown_fields=True):
    """`POST /api/v1/orders`. A repeat with the same channel + external_id returns the
    first order (200) instead of making a second one (201)."""

    channel: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    external_id: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    customer: CustomerBody
    promised_by: datetime
    lines: Annotated[list[LineBody], msgspec.Meta(min_length=1, max_length=MAX_LINES)]
    payment: Annotated[str, msgspec.Meta(max_length=20)] = "prepaid"
    cod_amount_minor: Minor = 0
    notes: Annotated[str, msgspec.Meta(max_length=300)] = ""


class CancelBody(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=300)] = ""
