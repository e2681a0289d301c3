"""PLACEHOLDER (issue #19, returns of online orders at the hub). A helper fills this in.

Revision ID: h014
Revises: h013
"""

from __future__ import annotations

revision = "h014"
down_revision = "h013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
