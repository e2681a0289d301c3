"""cash out approval and credit-note codes (issue #13 items 2, 3): cash_movements.approver_id,
refunds.credit_code_hash

An exchange refund made before this has no code: its credit can no longer be spent by
typing the refund number; a manager re-issues it (see docs/security.md).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cash_movements") as batch_op:
        batch_op.add_column(sa.Column("approver_id", sa.String(length=36), nullable=True))
    with op.batch_alter_table("refunds") as batch_op:
        batch_op.add_column(sa.Column("credit_code_hash", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_refunds_credit_code_hash", ["credit_code_hash"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("refunds") as batch_op:
        batch_op.drop_index("ix_refunds_credit_code_hash")
        batch_op.drop_column("credit_code_hash")
    with op.batch_alter_table("cash_movements") as batch_op:
        batch_op.drop_column("approver_id")
