"""hub_store_events partitioned by month on PostgreSQL (issue #24).

The partition key is the event id (a uuid7: its first 48 bits are the store's clock in
ms) in the "C" collation, so each month is one range of ids and the primary key stays
(id), unique across the table. It is TEXT (at most 64 characters, checked), not VARCHAR:
PostgreSQL 15 prunes `id IN ($1, $2, ...)` in a generic (prepared) plan only when the
list needs no cast to the column's type (tests/hub/test_event_partitions.py).
Exactly-once needs one id to have one row wherever it falls (app/hub/event_partitions.py
says more). Made: a partition per month that holds
events (from 2020 on), this month and the next three; a default partition for the rest
(ids that are not uuid7, clocks far off). The rows are copied over in this transaction:
on a hub with many millions of events plan the upgrade for a quiet hour (measured in
docs/scaling.md). SQLite hubs keep the plain table.

The month bounds are frozen here (migrations do not import the code they migrate for).

Revision ID: h027
Revises: h026
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from alembic import op

revision = "h027"
down_revision = "h026"
branch_labels = None
depends_on = None

COLUMNS = "id, store_id, seq, kind, at, received_at, data"
AHEAD = 3
UUID7 = "'^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-'"


def _add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _bound(month: date) -> str:
    ms = int(datetime(month.year, month.month, 1, tzinfo=UTC).timestamp() * 1000)
    digits = f"{ms:012x}"
    return f"{digits[:8]}-{digits[8:]}"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE hub_store_events RENAME TO hub_store_events_plain")
    op.execute("ALTER TABLE hub_store_events_plain RENAME CONSTRAINT pk_hub_store_events "
               "TO pk_hub_store_events_plain")
    op.execute("ALTER INDEX ix_hub_store_events_store_seq "
               "RENAME TO ix_hub_store_events_plain_store_seq")
    op.execute("""
        CREATE TABLE hub_store_events (
            id TEXT COLLATE "C" NOT NULL CONSTRAINT ck_hub_store_events_id_length
                CHECK (char_length(id) <= 64),
            store_id VARCHAR(8) NOT NULL,
            seq INTEGER NOT NULL,
            kind VARCHAR(40) NOT NULL,
            at VARCHAR(40) NOT NULL,
            received_at VARCHAR(32) NOT NULL,
            data TEXT NOT NULL,
            CONSTRAINT pk_hub_store_events PRIMARY KEY (id)
        ) PARTITION BY RANGE (id)""")
    op.execute("CREATE INDEX ix_hub_store_events_store_seq ON hub_store_events (store_id, seq)")
    op.execute("CREATE TABLE hub_store_events_default PARTITION OF hub_store_events DEFAULT")
    now = datetime.now(UTC)
    this_month = date(now.year, now.month, 1)
    months = {_add_months(this_month, i) for i in range(AHEAD + 1)}
    # The months the stored events' ids fall in (their first 12 hex digits are ms).
    found = bind.exec_driver_sql(
        "SELECT DISTINCT date_trunc('month', to_timestamp(("
        "('x' || lpad(replace(substr(id, 1, 13), '-', ''), 16, '0'))::bit(64)::bigint"
        ") / 1000.0) AT TIME ZONE 'UTC')::date "
        f"FROM hub_store_events_plain WHERE id ~ {UUID7}").all()
    last = _add_months(this_month, AHEAD)
    months.update(month for (month,) in found if date(2020, 1, 1) <= month <= last)
    for month in sorted(months):
        op.execute(f"CREATE TABLE hub_store_events_{month:%Y_%m} PARTITION OF hub_store_events "
                   f"FOR VALUES FROM ('{_bound(month)}') TO ('{_bound(_add_months(month, 1))}')")
    op.execute(f"INSERT INTO hub_store_events ({COLUMNS}) "
               f"SELECT {COLUMNS} FROM hub_store_events_plain")
    op.execute("DROP TABLE hub_store_events_plain")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE hub_store_events RENAME TO hub_store_events_parted")
    op.execute("ALTER TABLE hub_store_events_parted RENAME CONSTRAINT pk_hub_store_events "
               "TO pk_hub_store_events_parted")
    op.execute("ALTER INDEX ix_hub_store_events_store_seq "
               "RENAME TO ix_hub_store_events_parted_store_seq")
    op.execute("""
        CREATE TABLE hub_store_events (
            id VARCHAR(64) NOT NULL,
            store_id VARCHAR(8) NOT NULL,
            seq INTEGER NOT NULL,
            kind VARCHAR(40) NOT NULL,
            at VARCHAR(40) NOT NULL,
            received_at VARCHAR(32) NOT NULL,
            data TEXT NOT NULL,
            CONSTRAINT pk_hub_store_events PRIMARY KEY (id)
        )""")
    op.execute("CREATE INDEX ix_hub_store_events_store_seq ON hub_store_events (store_id, seq)")
    op.execute(f"INSERT INTO hub_store_events ({COLUMNS}) "
               f"SELECT {COLUMNS} FROM hub_store_events_parted")
    op.execute("DROP TABLE hub_store_events_parted CASCADE")
