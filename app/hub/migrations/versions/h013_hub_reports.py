"""Reserved for #18 hub reports (helper 'hubrep'): no change yet. Kept in the chain so
migrations written in parallel stay in one line; the owner renames and fills it in.

Revision ID: h013
Revises: h012
"""

from __future__ import annotations

revision = "h013"
down_revision = "h012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
