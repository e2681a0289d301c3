"""hub config version (issue #15): a token that triggers replace whenever what order
intake keeps in memory changes: a store's routing facts (name, place, PIN codes,
priority, pickers, active), a hub setting (the routing rules), a channel, a courier.

Triggers, not application code, so that every writer invalidates the hub processes'
copies: the pages, the CLI, another hub process, a person with psql or sqlite3.

On PostgreSQL the token's row is updated at COMMIT (a deferred constraint trigger):
its lock is always the last a transaction takes, so the row adds no deadlock to the
hub's lock order (store rows in id order, then order rows, then counters), and two
transactions that change stores wait for each other only while one commits.

Careful, later migrations: SQLite's batch mode rebuilds a table and drops its
triggers. A migration that batch-alters one of these four tables must create its
triggers again (`create_triggers()` below).
tests/hub/test_routing_cache.py fails when a trigger is missing.

Revision ID: h007
Revises: h006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h007"
down_revision = "h006"
branch_labels = None
depends_on = None

# table -> the columns whose change matters (None: any change)
WATCHED: dict[str, tuple[str, ...] | None] = {
    "hub_stores": ("name", "lat", "lon", "pincodes", "priority", "pickers", "active"),
    "hub_settings": None,
    "hub_channels": None,
    "hub_couriers": None,
}
SQLITE_NEW_TOKEN = "UPDATE hub_config_version SET token = lower(hex(randomblob(16)));"
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION hub_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE hub_config_version SET token = md5(random()::text || clock_timestamp()::text);
    RETURN NULL;
END $$
"""


def create_triggers() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for table, columns in WATCHED.items():
            update = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
            op.execute(f"DROP TRIGGER IF EXISTS {table}_config_changed ON {table}")
            op.execute(f"CREATE CONSTRAINT TRIGGER {table}_config_changed AFTER INSERT OR "
                       f"DELETE OR {update} ON {table} DEFERRABLE INITIALLY DEFERRED "
                       f"FOR EACH ROW EXECUTE FUNCTION hub_config_changed()")
        return
    for table, columns in WATCHED.items():
        update = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
        for name, when in (("ins", "INSERT"), ("upd", update), ("del", "DELETE")):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_config_changed_{name}")
            op.execute(f"CREATE TRIGGER {table}_config_changed_{name} AFTER {when} ON {table} "
                       f"BEGIN {SQLITE_NEW_TOKEN} END")


def upgrade() -> None:
    op.create_table(
        "hub_config_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_config_version")),
    )
    op.execute("INSERT INTO hub_config_version (id, token) VALUES (1, 'initial')")
    create_triggers()


def downgrade() -> None:
    bind = op.get_bind()
    for table in WATCHED:
        if bind.dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_config_changed ON {table}")
        else:
            for name in ("ins", "upd", "del"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_config_changed_{name}")
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS hub_config_changed()")
    op.drop_table("hub_config_version")
