"""`hub_store_events` partitioned by month on PostgreSQL (issue #24, migration h027).

The table is the hub's record of every event a store sent, by id: exactly-once rests on
that id being unique across the whole table (app/hub/pruning.py says why it is never
pruned). PostgreSQL wants a partitioned table's primary key to contain the partition
key, and a key of (id, month) would let one id live in two months. So the partition
key is the id itself: store event ids are uuid7 (app/core/ids.py), whose first 48 bits
are the store's clock in milliseconds, written as lower-case hex, so in the "C"
collation a month of events is one range of ids ("019ad5c4-3000" up to the next
month's). The key stays (id), unique for the whole table; the look-up every applied
frame makes (`WHERE id IN (...)`) reads one month's partition.

* `hub_store_events_<yyyy>_<mm>`: one partition per month of the store's clock.
* `hub_store_events_default`: ids outside every month made (a store whose clock is
  years off, or an id that is not a uuid7: ids are up to 64 characters of text).
* The hub makes the next AHEAD_MONTHS months' partitions ahead (at start and on its
  hourly pass, `ensure`); a month first seen in the default partition is moved into its
  new partition in the same transaction (PostgreSQL refuses to attach a range the
  default still holds rows of).
* SQLite hubs keep the plain table: nothing here runs there.

Queries that name a store or a kind but no id range (the resync's shift numbers, an
erasure's rewrite) read every partition: they are rare and read the (store_id, seq)
index of each. An old month can be detached and archived (`ALTER TABLE ... DETACH
PARTITION`) without a long delete; the hub does not do that itself, because a store's
restored backup may send a year-old event again and only its id tells it was applied.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime

from sqlalchemy import text

from app.core.clock import utcnow
from app.core.db import Session
from app.hub.db import HubDatabase, PgDatabase

log = logging.getLogger("kirana.hub")

PARENT = "hub_store_events"
DEFAULT = f"{PARENT}_default"
AHEAD_MONTHS = 3  # months made ahead of the current one
_LOCK = 4711_0024  # advisory lock: two hub processes never make the same month at once
_NAME = re.compile(rf"^{PARENT}_(\d{{4}})_(\d{{2}})$")


def month_start(day: date | datetime) -> date:
    return date(day.year, day.month, 1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def id_bound(month: date) -> str:
    """The lowest uuid7 text of a month's first millisecond, as far as the time goes
    ("0190a1b2-c3d4"): every id made in that millisecond or later sorts at or above it."""
    ms = int(datetime(month.year, month.month, 1, tzinfo=UTC).timestamp() * 1000)
    digits = f"{ms:012x}"
    return f"{digits[:8]}-{digits[8:]}"


def partition_name(month: date) -> str:
    return f"{PARENT}_{month:%Y_%m}"


def month_of_name(name: str) -> date | None:
    found = _NAME.match(name)
    return date(int(found.group(1)), int(found.group(2)), 1) if found else None


def create_month_sql(month: date) -> list[str]:
    """Statements (one transaction) that make a month's partition: created apart, the
    month's rows the default partition caught moved in, then attached."""
    name, low, high = partition_name(month), id_bound(month), id_bound(add_months(month, 1))
    return [
        f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
        f"WITH moved AS (DELETE FROM {DEFAULT} WHERE id >= '{low}' AND id < '{high}' "
        f"RETURNING *) INSERT INTO {name} SELECT * FROM moved",
        f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ('{low}') TO ('{high}')",
    ]


async def months_made(s: Session) -> set[date]:
    rows = await s.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :parent"),
        {"parent": PARENT})
    return {month for (name,) in rows if (month := month_of_name(name)) is not None}


async def is_partitioned(s: Session) -> bool:
    return bool(await s.scalar(text(
        "SELECT count(*) FROM pg_partitioned_table t JOIN pg_class c ON c.oid = t.partrelid "
        "WHERE c.relname = :parent"), {"parent": PARENT}))


async def ensure(db: HubDatabase, now: datetime | None = None,
                 ahead: int = AHEAD_MONTHS) -> list[str]:
    """Make this month's partition and the next `ahead` months' where missing (PostgreSQL
    with h027 only). Returns the partitions made."""
    if not isinstance(db, PgDatabase):
        return []
    first = month_start(now or utcnow())
    wanted = [add_months(first, i) for i in range(ahead + 1)]
    made: list[str] = []
    async with db.write() as s:
        if not await is_partitioned(s):
            return []  # h027 not applied yet (the hub refuses to start then anyway)
        await s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
        have = await months_made(s)
        for month in wanted:
            if month in have:
                continue
            for statement in create_month_sql(month):
                await s.execute(text(statement))
            made.append(partition_name(month))
    if made:
        log.info("hub_store_events: made the partitions %s", ", ".join(made))
    return made
