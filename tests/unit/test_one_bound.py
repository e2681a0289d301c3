"""Issue #14, "constants appear once": each bound below is defined once and every input
that takes the value is held to it. Property tests feed each entry point the same value
and expect the same answer, so a copy that drifts fails here.

- a map point (app/core/geo.py): the order API's body, orders.service.validate (orders
  from the hub's sync link) and the hub's add_store;
- one order line's quantity (money.MAX_QUANTITY): the API body, validate and the hub's
  order CSV (csv_io.parse_line_quantity);
- a typed stock or till quantity (units.MAX_BASE_QTY, 10 t): larger than an order line's
  on purpose, see below;
- the hub's allocation rules: safety stock like an order line, the split value like an
  order's amount.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.catalog.csv_io import parse_line_quantity
from app.catalog.units import MAX_BASE_QTY, QuantityError, parse_quantity
from app.core import geo
from app.core.money import MAX_AMOUNT_MINOR, MAX_QUANTITY
from app.hub.allocation import Rules
from app.hub.service import HubError, add_store
from app.orders.schemas import CustomerBody, LineBody
from app.orders.service import LineIn, OrderError, OrderIn, validate

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
coordinates = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-200, max_value=200),
    st.sampled_from([-180.0, -90.0, 90.0, 180.0, -90.0000001, 90.0000001, 180.0000001]),
)


def _order(lat: float | None = None, lon: float | None = None, quantity: int = 1) -> OrderIn:
    return OrderIn(channel="web", external_id="E1", customer_name="A", customer_phone="1",
                   address="x", pincode="560001", promised_by=NOW + timedelta(hours=1),
                   lines=(LineIn("SKU-1", quantity),), lat=lat, lon=lon)


def _api_takes(**point: float) -> bool:
    try:
        msgspec.convert({"name": "A", "phone": "1", "address": "x", "pincode": "560001",
                         **point}, CustomerBody)
    except msgspec.ValidationError:
        return False
    return True


def _validate_takes(order: OrderIn) -> bool:
    try:
        validate(order, NOW)
    except OrderError:
        return False
    return True


async def _hub_takes(lat: float, lon: float) -> bool:
    # add_store checks its arguments before it opens a transaction: no database needed.
    try:
        await add_store(None, "S9", name="Shop", kind="counter", lat=lat, lon=lon)  # type: ignore[arg-type]
    except HubError:
        return False
    except AttributeError:  # past the checks, reaching for the (absent) database
        return True
    raise AssertionError("add_store returned without a database")


@given(coordinates)
def test_the_api_and_the_order_check_agree_on_a_latitude(value: float) -> None:
    expected = geo.is_lat(value)
    assert _api_takes(lat=value) is expected
    assert _validate_takes(_order(lat=value)) is expected
    assert (geo.point_problem(value, 0.0) is None) is expected


@given(coordinates)
def test_the_api_and_the_order_check_agree_on_a_longitude(value: float) -> None:
    expected = geo.is_lon(value)
    assert _api_takes(lon=value) is expected
    assert _validate_takes(_order(lon=value)) is expected
    assert (geo.point_problem(0.0, value) is None) is expected


@pytest.mark.parametrize(("lat", "lon"), [
    (90, 180), (-90, -180), (12.97, 77.59), (90.0000001, 0), (0, -180.5),
    (float("nan"), 0), (0, float("inf")), (-91, 0),
])
async def test_a_store_location_follows_the_same_rule(lat: float, lon: float) -> None:
    assert await _hub_takes(lat, lon) is (geo.is_lat(lat) and geo.is_lon(lon))


def test_the_bounds_are_the_map_s() -> None:
    assert (geo.MIN_LAT, geo.MAX_LAT, geo.MIN_LON, geo.MAX_LON) == (-90, 90, -180, 180)
    assert geo.point_problem(None, None) is None
    assert geo.point_problem(91, None) == geo.LAT_RULE
    assert geo.point_problem(None, -181) == geo.LON_RULE


line_quantities = st.one_of(
    st.integers(min_value=-5, max_value=MAX_BASE_QTY + 5),
    st.sampled_from([0, 1, MAX_QUANTITY - 1, MAX_QUANTITY, MAX_QUANTITY + 1]),
)


@given(line_quantities)
def test_every_way_in_holds_an_order_line_to_one_cap(quantity: int) -> None:
    expected = 0 < quantity <= MAX_QUANTITY
    try:
        msgspec.convert({"sku": "SKU-1", "quantity": quantity}, LineBody)
        api = True
    except msgspec.ValidationError:
        api = False
    try:
        parse_line_quantity(str(quantity))
        csv = True
    except ValueError:
        csv = False
    assert api is expected
    assert csv is expected
    assert _validate_takes(_order(quantity=quantity)) is expected


def test_a_typed_stock_quantity_may_be_more_than_one_order_line() -> None:
    """Two caps on purpose: an order line (at most MAX_QUANTITY, so that an order's total
    fits 64 bits: money.py) and a quantity staff type at the store (a stock receipt or
    count, a till line before the store's own per-line limit: up to MAX_BASE_QTY). Any
    order line's quantity can be received as stock, so the order cap is the smaller."""
    assert MAX_QUANTITY <= MAX_BASE_QTY
    assert parse_quantity(str(MAX_BASE_QTY), "piece") == MAX_BASE_QTY
    assert parse_quantity(f"{MAX_BASE_QTY // 1000}.000", "kg") == MAX_BASE_QTY
    with pytest.raises(QuantityError):
        parse_quantity(str(MAX_BASE_QTY + 1), "piece")
    with pytest.raises(QuantityError):
        parse_quantity(f"{MAX_BASE_QTY // 1000}.001", "kg")


def test_allocation_rules_are_bounded_like_an_order() -> None:
    Rules(safety_stock=MAX_QUANTITY, split_above_minor=MAX_AMOUNT_MINOR)
    with pytest.raises(ValueError, match="too large"):
        Rules(safety_stock=MAX_QUANTITY + 1)
    with pytest.raises(ValueError, match="too large"):
        Rules(split_above_minor=MAX_AMOUNT_MINOR + 1)
