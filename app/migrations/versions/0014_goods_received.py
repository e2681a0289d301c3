"""goods received notes (issue #17): receiving against a purchase order

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the work on issue #17: receiving


def downgrade() -> None:
    pass
