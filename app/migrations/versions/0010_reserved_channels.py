"""the hub's channel names at the store (issue #13 item 1): reserved_channels

Filled by the hub's `hub.channels` event; no API key may post under these names.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reserved_channels",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_reserved_channels")),
    )


def downgrade() -> None:
    op.drop_table("reserved_channels")
