"""cycle counts (issue #17): count tasks, counted lines, approvals

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the work on issue #17: cycle counts


def downgrade() -> None:
    pass
