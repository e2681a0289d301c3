"""carts: one index on (counter, status, created_at) instead of (counter) (issue #15).

Every till request looks for its counter's active cart (`counter = ? AND status =
'active' ORDER BY created_at DESC`). With only (counter) indexed, SQLite read every
cart the counter ever had (one per bill: about 40,000 a year at a busy counter) and
the scan got slower every week. The new index finds the active cart in one seek and
serves the parked list and the shift-close check too; it replaces the old one, which
is its prefix, so a bill writes no more index entries than before.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_carts_counter_status_created", "carts",
                    ["counter", "status", "created_at"])
    op.drop_index("ix_carts_counter", table_name="carts")


def downgrade() -> None:
    op.create_index("ix_carts_counter", "carts", ["counter"])
    op.drop_index("ix_carts_counter_status_created", table_name="carts")
