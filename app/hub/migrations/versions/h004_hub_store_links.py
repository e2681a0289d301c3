"""hub store links: one row per live sync connection (liveness per connection), the
refused connection's details beside a 4409 alert; hub_stores keeps only last-known
link facts

Revision ID: h004
Revises: h003
Create Date: 2026-12-01 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h004"
down_revision = "h003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_store_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("store_id", sa.String(length=8), nullable=False),
        sa.Column("process", sa.String(length=60), nullable=False),
        sa.Column("address", sa.String(length=60), nullable=False),
        sa.Column("version", sa.String(length=60), nullable=False),
        sa.Column("epoch", sa.String(length=64), nullable=False),
        sa.Column("applied_down", sa.Integer(), nullable=False),
        sa.Column("connected_at", sa.String(length=32), nullable=False),
        sa.Column("last_seen_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_store_links")),
    )
    op.create_index("ix_hub_store_links_store_seen", "hub_store_links",
                    ["store_id", "last_seen_at"])
    with op.batch_alter_table("hub_stores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rejected_link", sa.Text(), nullable=False,
                                      server_default=""))
        batch_op.drop_column("connected")
        batch_op.drop_column("connected_since")


def downgrade() -> None:
    with op.batch_alter_table("hub_stores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("connected_since", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("connected", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.drop_column("rejected_link")
    op.drop_index("ix_hub_store_links_store_seen", table_name="hub_store_links")
    op.drop_table("hub_store_links")
