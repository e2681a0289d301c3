"""sync state: the database's epoch, both sync cursors and the applied hub events

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "sync_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.String(length=64), nullable=False),
        sa.Column("applied_down", sa.Integer(), nullable=False),
        sa.Column("acked_up", sa.Integer(), nullable=False),
        sa.Column("acked_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_state")),
    )
    op.create_table(
        "sync_inbox",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("applied_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_sync_inbox")),
        sa.UniqueConstraint("id", name=op.f("uq_sync_inbox_id")),
    )
    # The epoch is born with the database: a restored backup or a new file under the
    # same store id shows up at the hub as a different (or stale) epoch.
    op.bulk_insert(table, [{"id": 1, "epoch": secrets.token_hex(16), "applied_down": 0,
                            "acked_up": 0, "acked_at": None}])


def downgrade() -> None:
    op.drop_table("sync_inbox")
    op.drop_table("sync_state")
