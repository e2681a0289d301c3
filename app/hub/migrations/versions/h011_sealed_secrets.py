"""TOTP and webhook secrets sealed at rest (ASVS 6.2 / 2.9)

Revision ID: h011
Revises: h010
"""

from __future__ import annotations

revision = "h011"
down_revision = "h010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the work on issue #17: sealed secrets


def downgrade() -> None:
    pass
