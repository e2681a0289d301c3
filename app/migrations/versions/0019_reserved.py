"""Reserved for #17 suggested order speed (helper 'suggest'):
no change yet. Kept in the chain so migrations written in parallel stay in one
line; the owner renames the file and fills it in.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
