"""PostgreSQL: NOTIFY kirana_auth whenever users or api_keys change (issue #15).

Every hub request checks its caller's row (a user's, or an API key's) so that a
deactivation or a revoked key bites at once. On SQLite the row is kept while PRAGMA
data_version says nothing was committed; on PostgreSQL every request read it, a round
trip on every order a channel posts. With this trigger each hub process, LISTENing on
`kirana_auth` (app/hub/wake.py), keeps the rows until any change to these two tables,
by any writer (the hub, the CLI, plain SQL), reaches it. Statement-level, so a bulk
change is one notification. SQLite: nothing to do.

Revision ID: h019
Revises: h018
"""

from __future__ import annotations

from alembic import op

revision = "h019"
down_revision = "h018"
branch_labels = None
depends_on = None

TABLES = ("users", "api_keys")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION kirana_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kirana_auth', TG_TABLE_NAME);
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(PG_FUNCTION)
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_auth_changed ON {table}")
        op.execute(f"CREATE TRIGGER {table}_auth_changed AFTER INSERT OR UPDATE OR DELETE "
                   f"OR TRUNCATE ON {table} FOR EACH STATEMENT "
                   "EXECUTE FUNCTION kirana_auth_changed()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_auth_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS kirana_auth_changed()")
