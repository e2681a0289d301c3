"""stock transfers and replenishment at the hub (issue #17)

Revision ID: h010
Revises: h009
"""

from __future__ import annotations

revision = "h010"
down_revision = "h009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the work on issue #17: transfers


def downgrade() -> None:
    pass
