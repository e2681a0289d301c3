"""hub_transfers.approved_at (issue #17): a store may report a transfer picked or
dispatched only once HQ approved it, also when it was cancelled afterwards (a dispatch
that crossed HQ's cancel still stands). Existing transfers past "requested" count as
approved when they were; a cancelled one counts as approved only if it was dispatched.

Revision ID: h012
Revises: h011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h012"
down_revision = "h011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hub_transfers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved_at", sa.String(length=32), nullable=True))
    op.execute("UPDATE hub_transfers SET approved_at = updated_at WHERE state IN "
               "('approved', 'picked', 'dispatched', 'received') OR "
               "(state = 'cancelled' AND dispatched_at IS NOT NULL)")


def downgrade() -> None:
    with op.batch_alter_table("hub_transfers", schema=None) as batch_op:
        batch_op.drop_column("approved_at")
