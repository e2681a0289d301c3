"""hub_stores.status_* (issue #23): the latest status a store sent over sync protocol 2
(its version, free disk where its database lives, its newest backup, and its clock minus
the hub's at receipt, in seconds) and when it came; NULL for a store that never sent one
(an older store on protocol 1).

Revision ID: h016
Revises: h015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h016"
down_revision = "h015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hub_stores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_version", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("status_disk_free", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("status_backup_at", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("status_clock_skew", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("status_at", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hub_stores", schema=None) as batch_op:
        for name in ("status_at", "status_clock_skew", "status_backup_at", "status_disk_free",
                     "status_version"):
            batch_op.drop_column(name)
