"""channel-bound API keys (issue #13 item 1): api_keys.channel, as at the store.

A hub channel's key is named after its channel, so existing keys are bound to it.

Revision ID: h006
Revises: h005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h006"
down_revision = "h005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=40), nullable=False,
                                      server_default="local"))
    op.execute("UPDATE api_keys SET channel = name WHERE name IN (SELECT name FROM hub_channels)")


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_column("channel")
