"""refunds.at indexed (issue #18, the sales report): a report counts refunds on the day
they happen, so it reads refunds by time; without the index every report scanned the
whole refunds table. Sales are already indexed by time (ix_sales_at).

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_refunds_at"), "refunds", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_refunds_at"), table_name="refunds")
