"""The shared catalogue log's cursor (sync protocol 3, issue #24): sync_state.applied_catalog,
the last catalogue-log seq this store applied. 0 on an upgraded store: its first v3 link
takes the whole log once (whole product states, so nothing changes but the cursor).

Revision ID: 0033
Revises: 0032
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("applied_catalog", sa.Integer(), nullable=False,
                                      server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("sync_state", schema=None) as batch_op:
        batch_op.drop_column("applied_catalog")
