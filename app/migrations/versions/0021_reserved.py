"""Reserved for #18 stock reports (helper 'stockrep'):
no change yet. Kept in the chain so migrations written in parallel stay in one
line; the owner renames the file and fills it in.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
