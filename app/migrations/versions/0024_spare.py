"""PLACEHOLDER (spare slot (issue #17 speed work) -- delete if unused). A helper fills this in.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
