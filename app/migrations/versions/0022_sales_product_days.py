"""PLACEHOLDER (issue #18, the cold-year sales report reads a per-day per-product rollup). A helper fills this in.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
