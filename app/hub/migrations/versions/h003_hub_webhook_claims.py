"""hub webhook claims: a process leases a due webhook before it posts it

Revision ID: h003
Revises: h002
Create Date: 2026-12-01 00:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h003"
down_revision = "h002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hub_webhooks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=40), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("claimed_until", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hub_webhooks", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
