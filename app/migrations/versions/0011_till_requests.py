"""till requests that count once (issue #16 till 2): till_requests

A scan or quick-key add carries an id made by the tablet; the id is written in the
transaction that adds the line, so a retry after a dropped connection adds nothing.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "till_requests",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_till_requests")),
    )
    op.create_index(op.f("ix_till_requests_at"), "till_requests", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_till_requests_at"), table_name="till_requests")
    op.drop_table("till_requests")
