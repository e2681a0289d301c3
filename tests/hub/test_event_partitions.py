"""hub_store_events partitioned by month on PostgreSQL (issue #24, migration h027,
app/hub/event_partitions.py): the id (a uuid7) is the partition key, so the primary key
stays the id alone and exactly-once holds across months; the look-up each applied frame
makes reads one partition (EXPLAIN, plan time and a generic prepared plan); the coming
months are made ahead and a month first caught by the default partition moves into its
own; the migration keeps every row, also ids that are not uuid7, and goes back down."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from alembic import command
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, insert, select, text

from app.core import migrate
from app.core.clock import utcnow
from app.core.ids import uuid7
from app.hub import event_partitions as parts
from app.hub import service as hub
from app.hub.db import PgDatabase, open_hub_database
from app.hub.models import HubStore, StoreEventRow
from app.sync.protocol import Event
from tests import pg


def uuid7_at(moment: datetime) -> str:
    """A uuid7 text whose time is `moment` (the rest random), as app/core/ids makes."""
    ms = int(moment.timestamp() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = ((ms << 80) | (0x7 << 76) | ((rand >> 64) & 0xFFF) << 64 | (0b10 << 62)
             | (rand & ((1 << 62) - 1)))
    digits = f"{value:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


# --- pure: the month bounds ----------------------------------------------------------


def test_a_month_bound_is_the_uuid7_of_its_first_millisecond():
    assert parts.id_bound(date(1970, 1, 1)) == "00000000-0000"
    ms = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp() * 1000)
    assert parts.id_bound(date(2026, 12, 1)) == f"{ms:012x}"[:8] + "-" + f"{ms:012x}"[8:]
    assert parts.add_months(date(2026, 12, 1), 1) == date(2027, 1, 1)
    assert parts.add_months(date(2026, 1, 1), -1) == date(2025, 12, 1)
    assert parts.partition_name(date(2027, 3, 1)) == "hub_store_events_2027_03"
    assert parts.month_of_name("hub_store_events_2027_03") == date(2027, 3, 1)
    assert parts.month_of_name("hub_store_events_default") is None


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2200, 12, 31)))
def test_every_uuid7_falls_in_its_own_months_range(moment):
    """Python compares text by code point, as the "C" collation does."""
    moment = moment.replace(tzinfo=UTC)
    event_id = uuid7_at(moment)
    month = parts.month_start(moment)
    assert parts.id_bound(month) <= event_id < parts.id_bound(parts.add_months(month, 1))


def test_the_ids_this_hub_makes_fall_in_this_month():
    now = datetime.now(UTC)
    month = parts.month_start(now)
    made = uuid7()
    if parts.month_start(datetime.now(UTC)) == month:  # (not across a month's end)
        assert parts.id_bound(month) <= made < parts.id_bound(parts.add_months(month, 1))


# --- PostgreSQL ---------------------------------------------------------------------


@pytest.fixture
async def pg_hub(pg_url):
    db = open_hub_database(pg_url)
    assert isinstance(db, PgDatabase)
    # As the hub's hourly pass does: a test database copied from a template migrated in
    # an earlier month would lack this month's partition (the migration's own months
    # are checked on a fresh upgrade below).
    await parts.ensure(db)
    yield db
    await db.dispose()


async def where(db, event_id: str) -> str | None:
    async with db.read() as s:
        return await s.scalar(text("SELECT tableoid::regclass::text FROM hub_store_events "
                                   "WHERE id = :id"), {"id": event_id})


async def put(db, event_id: str, store_id: str = "S1") -> None:
    async with db.write() as s:
        await s.execute(insert(StoreEventRow).values(
            id=event_id, store_id=store_id, seq=1, kind="shift.closed", at="x",
            received_at=utcnow(), data="{}"))


async def statement_rows(db, ids: list[str]) -> list[str]:
    async with db.read() as s:
        return sorted(await s.scalars(select(StoreEventRow.id).where(StoreEventRow.id.in_(ids))))


async def explain(db, sql: str, params: dict | None = None) -> str:
    async with db.read() as s:
        return "\n".join(row[0] for row in await s.execute(
            text("EXPLAIN (COSTS OFF) " + sql), params or {}))


async def test_the_table_is_partitioned_this_month_and_three_ahead(pg_hub):
    month = parts.month_start(utcnow())
    async with pg_hub.read() as s:
        assert await parts.is_partitioned(s)
        made = await parts.months_made(s)
    assert {parts.add_months(month, i) for i in range(4)} <= made
    # A newly made event lands in this month's partition; an id that is no uuid7 in the
    # default one. Both are found by id.
    fresh = uuid7()
    await put(pg_hub, fresh)
    await put(pg_hub, "not-a-uuid7")
    assert await where(pg_hub, fresh) == parts.partition_name(parts.month_start(utcnow()))
    assert await where(pg_hub, "not-a-uuid7") == parts.DEFAULT


async def test_an_applied_frame_looks_up_one_partition_and_stays_exactly_once(pg_hub, pg_url):
    """The look-up of a frame's ids is pruned to the month they were made in, at plan
    time and in a generic prepared plan (asyncpg prepares statements); and applying the
    same events again adds nothing: the key is the id across every partition."""
    await hub.add_store(pg_hub, "S1", name="S1", kind="darkstore", lat=12.97, lon=77.64)
    month = parts.month_start(utcnow())
    events = tuple(Event(seq=i, id=uuid7(), kind="shift.closed", at=utcnow().isoformat(),
                         data={"number": f"S1-SH{i:04d}"}) for i in range(1, 4))
    for _ in range(2):  # the second time is a store resending after a restore
        async with pg_hub.write() as s:
            store = await s.get(HubStore, "S1")
            await hub.apply_store_events(s, store, events, UTC)
    async with pg_hub.read() as s:
        assert await s.scalar(select(func.count()).select_from(StoreEventRow)) == 3

    ids = [e.id for e in events]
    lookup = select(StoreEventRow.id).where(StoreEventRow.id.in_(ids))
    plan = await explain(pg_hub, str(lookup.compile(
        dialect=pg_hub.engine.dialect, compile_kwargs={"literal_binds": True})))
    here = parts.partition_name(month)
    assert here in plan, plan
    assert parts.DEFAULT not in plan and plan.count("hub_store_events_") == 1, plan

    # A generic plan (what a statement asyncpg prepared becomes): pruned when it runs.
    conn = await asyncpg.connect(pg.server_dsn(pg_url.rsplit("/", 1)[1]))
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        # The shape SQLAlchemy sends through asyncpg: `id IN ($1::VARCHAR, ...)`. (Not
        # pruned at run time: a single array parameter, `id = ANY($1)`, or a VARCHAR
        # column, where the list is cast to the column's type: h027 makes it TEXT.)
        await conn.execute("PREPARE lookup(varchar, varchar, varchar) AS "
                           "SELECT id FROM hub_store_events WHERE id IN ($1, $2, $3)")
        listed = ", ".join(f"'{i}'" for i in ids)  # (uuid7 texts: nothing to quote)
        plan = json.loads(await conn.fetchval(
            f"EXPLAIN (FORMAT JSON, ANALYZE) EXECUTE lookup({listed})"))[0]["Plan"]
    finally:
        await conn.close()
    assert plan.get("Subplans Removed", 0) >= 4, plan  # the other months and the default
    scanned = [p["Relation Name"] for p in plan.get("Plans", [plan]) if "Relation Name" in p]
    assert scanned == [here], plan
    assert await statement_rows(pg_hub, ids) == sorted(ids)

    # A month's report by receipt time would read every partition; by id range it reads
    # the month's only (what an archive job or a monthly count should ask).
    plan = await explain(pg_hub, "SELECT count(*) FROM hub_store_events WHERE id >= :low "
                                 "AND id < :high", {"low": parts.id_bound(month),
                                                    "high": parts.id_bound(parts.add_months(month, 1))})
    assert here in plan and parts.DEFAULT not in plan, plan


async def test_a_month_first_caught_by_the_default_partition_moves_into_its_own(pg_hub):
    """A store whose clock runs five months ahead: its events go to the default
    partition until that month is made; then they move, and are still found by id."""
    month = parts.month_start(utcnow())
    later = parts.add_months(month, 5)
    early = uuid7_at(datetime(later.year, later.month, 3, 9, tzinfo=UTC))
    await put(pg_hub, early)
    assert await where(pg_hub, early) == parts.DEFAULT
    assert await parts.ensure(pg_hub) == []  # this month and three ahead exist already

    # Two hub processes' passes at once: each month made once, no error.
    at = datetime(later.year, later.month, 1, tzinfo=UTC) + timedelta(hours=1)
    made = await asyncio.gather(parts.ensure(pg_hub, now=at), parts.ensure(pg_hub, now=at))
    assert sorted(made[0] + made[1]) == [parts.partition_name(parts.add_months(later, i))
                                         for i in range(4)]
    assert await where(pg_hub, early) == parts.partition_name(later)
    with pytest.raises(Exception, match="duplicate key|unique"):
        await put(pg_hub, early)  # still one row per id
    async with pg_hub.read() as s:
        assert await s.scalar(select(func.count()).select_from(StoreEventRow)) == 1


async def test_sqlite_hubs_keep_the_plain_table(tmp_path):
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    await asyncio.to_thread(migrate.hub_upgrade, url)
    db = open_hub_database(url)
    try:
        assert await parts.ensure(db) == []
        await put(db, uuid7())
        async with db.read() as s:
            assert await s.scalar(select(func.count()).select_from(StoreEventRow)) == 1
    finally:
        await db.dispose()


def test_the_migration_keeps_every_row_and_goes_back_down():
    """A hub at h026 with events from an old month, this month, a malformed id and a
    clock in 1999: after h027 every row is there, each in its month (the old month got
    a partition) or the default; down again, a plain table with the same rows."""
    if not pg.reachable():
        pytest.skip(pg.NOT_REACHABLE)
    name = f"kirana_t_{os.urandom(6).hex()}"
    url = "postgresql+asyncpg://" + pg.server_dsn(name).split("://", 1)[1]

    async def admin(sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(pg.ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        config = migrate._hub_alembic_config(url)
        command.upgrade(config, "h026")
        old = uuid7_at(datetime(2025, 3, 14, 12, tzinfo=UTC))
        now = uuid7()
        ids = {old: "hub_store_events_2025_03", now: parts.partition_name(
            parts.month_start(utcnow())), "e1": parts.DEFAULT,
            uuid7_at(datetime(1999, 5, 1, tzinfo=UTC)): parts.DEFAULT}

        async def fill_and_read(step) -> dict:
            db = open_hub_database(url)
            try:
                if step == "fill":
                    for event_id in ids:
                        await put(db, event_id)
                    return {}
                async with db.read() as s:
                    return {row[0]: row[1] for row in await s.execute(text(
                        "SELECT id, tableoid::regclass::text FROM hub_store_events"))}
            finally:
                await db.dispose()

        asyncio.run(fill_and_read("fill"))
        started = time.monotonic()
        command.upgrade(config, "h027")
        assert time.monotonic() - started < 60
        assert asyncio.run(fill_and_read("read")) == ids
        command.downgrade(config, "h026")
        assert asyncio.run(fill_and_read("read")) == dict.fromkeys(ids, "hub_store_events")
        command.upgrade(config, "head")
        assert set(asyncio.run(fill_and_read("read"))) == set(ids)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

