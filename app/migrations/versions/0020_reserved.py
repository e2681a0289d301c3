"""Reserved for #18 sales reports (helper 'sales'):
no change yet. Kept in the chain so migrations written in parallel stay in one
line; the owner renames the file and fills it in.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
