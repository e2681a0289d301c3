"""app/core/prepared.Prepared on a real SQLite file: the same values in and out as
SQLAlchemy's own execution (UTC datetimes as stored text, booleans as 0/1), parameters
checked, and other sessions (the hub's) served through s.execute."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import bindparam, select, update

from app.catalog.models import Product
from app.core.clock import utcnow
from app.core.prepared import Prepared
from app.pos.models import Shift

_P = Product.__table__.c
_S = Shift.__table__.c
BY_SKU = Prepared(select(_P.sku, _P.active, _P.price_minor).where(_P.sku == bindparam("sku")))
SHIFT = Prepared(select(_S.opened_at, _S.closed_at).where(_S.id == bindparam("id")))
CLOSE = Prepared(update(Shift.__table__).where(_S.id == bindparam("id"))
                 .values(closed_at=bindparam("at")))


async def test_values_round_trip_as_sqlalchemy_reads_them(db, staff):
    opened = datetime(2026, 12, 1, 5, 30, 0, 123456, tzinfo=UTC)
    async with db.write() as s:
        await Prepared.insert(Product.__table__).run(s, _product(
            id="p1", sku="TEA-1", name="Tea", price_minor=12_000, gst_rate_bp=500,
            active=False, updated_at=utcnow()))
        s.add(Shift(id="s1", number="C1-0001", counter="C1", opened_by=staff["cashier"],
                    opened_at=opened, float_minor=0))
        assert await CLOSE.run(s, {"id": "s1", "at": opened}) == 1
        row = await BY_SKU.first(s, {"sku": "TEA-1"})
        assert row == ("TEA-1", False, 12_000) and row.active is False
        assert await BY_SKU.first(s, {"sku": "NONE"}) is None
    async with db.read() as s:
        shift = await SHIFT.first(s, {"id": "s1"})
        assert shift.opened_at == opened and shift.closed_at == opened
        core = (await s.execute(SHIFT.statement, {"id": "s1"})).one()
        assert tuple(core) == tuple(shift)


def _product(**given: Any) -> dict[str, Any]:
    """A products row: `given`, and every other column at its default."""
    row: dict[str, Any] = {}
    for column in Product.__table__.c:
        default = getattr(column.default, "arg", None)
        row[column.key] = None if callable(default) else default
    return row | given


async def test_a_missing_parameter_or_an_in_list_is_refused(db):
    async with db.read() as s:
        with pytest.raises(KeyError):
            await BY_SKU.first(s, {})
    with pytest.raises(ValueError, match="IN lists"):
        Prepared(select(_P.sku).where(_P.sku.in_(["A", "B"])))


async def test_another_kind_of_session_runs_the_statement_itself():
    class HubSession:  # stands for the hub's AsyncSession: only execute() is used
        def __init__(self) -> None:
            self.seen: list[Any] = []

        async def execute(self, statement, params=None):
            self.seen.append((statement, params))
            return [("TEA-1", True, 100)]

    hub = HubSession()
    rows = await BY_SKU.all(hub, {"sku": "TEA-1"})  # type: ignore[arg-type]
    assert rows == [("TEA-1", True, 100)] and rows[0].sku == "TEA-1"
    assert hub.seen == [(BY_SKU.statement, {"sku": "TEA-1"})]


async def test_another_sessions_values_are_taken_as_they_come():
    """SQLAlchemy has already turned the stored text into a datetime there: not again."""
    opened = datetime(2026, 12, 1, 5, 30, tzinfo=UTC)

    class HubSession:
        async def execute(self, statement, params=None):
            return [(opened, None)]

    shift = await SHIFT.first(HubSession(), {"id": "s1"})  # type: ignore[arg-type]
    assert shift == (opened, None)


async def test_a_read_outside_any_transaction_on_a_pooled_connection(db, staff):
    """What the guards use for their per-request identity check (core/auth.fresh_user)."""
    opened = datetime(2026, 12, 1, 5, 30, tzinfo=UTC)
    async with db.write() as s:
        s.add(Shift(id="s2", number="C2-0001", counter="C2", opened_by=staff["cashier"],
                    opened_at=opened, float_minor=0))
    assert SHIFT.first_outside(db.read_engine, {"id": "s2"}) == (opened, None)
    assert SHIFT.first_outside(db.read_engine, {"id": "none"}) is None
    async with db.write() as s:
        await CLOSE.run(s, {"id": "s2", "at": opened})
    assert SHIFT.first_outside(db.read_engine, {"id": "s2"}).closed_at == opened


async def test_dates_bind_and_read_as_sqlalchemy_does(db):
    """A Date column (a batch's expiry) goes in and comes out as SQLAlchemy's SQLite
    type has it: ISO text in the file, a date object back (it came back as text, and
    FEFO then compared text with dates)."""
    from datetime import date

    from sqlalchemy import text

    from app.stock.models import StockLevel
    from app.stock.service import load_bins_csv

    levels = StockLevel.__table__
    by_batch = Prepared(select(levels.c.expiry).where(levels.c.batch == bindparam("batch")))
    await load_bins_csv(db, "code,zone,aisle,shelf,pick_seq\nA-1,AMB,A,1,1\n")
    async with db.write() as s:
        await Prepared.insert(Product.__table__).run(s, _product(
            id="p1", sku="MILK", name="Milk", price_minor=3_000, gst_rate_bp=500,
            active=True, updated_at=utcnow()))
        bin_id = (await s.execute(text("SELECT id FROM bins"))).scalar_one()
        await Prepared.insert(levels).run(s, {"product_id": "p1", "bin_id": bin_id,
                                               "batch": "L1", "expiry": date(2026, 12, 9),
                                               "on_hand": 4})
        assert (await by_batch.first(s, {"batch": "L1"})).expiry == date(2026, 12, 9)
        stored = (await s.execute(text("SELECT expiry FROM stock_levels"))).scalar_one()
    assert stored == "2026-12-09"
