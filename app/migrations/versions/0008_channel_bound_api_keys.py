"""channel-bound API keys (issue #13 item 1): api_keys.channel, orders.source

Keys made before this are bound to the channel "local" (they may post, read and
cancel only "local" orders; make a new key with --channel for a sales channel).
Orders that came over the sync link (their first step was by "hub") get source "hub".

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=40), nullable=False,
                                      server_default="local"))
    with op.batch_alter_table("orders") as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=8), nullable=False,
                                      server_default="api"))
    op.execute("UPDATE orders SET source = 'hub' WHERE id IN (SELECT order_id FROM "
               "order_transitions WHERE from_state = '' AND actor = 'hub')")


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_column("source")
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_column("channel")
