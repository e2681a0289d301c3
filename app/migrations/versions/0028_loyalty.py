"""customers and loyalty points at the store (issue #21).

Placeholder made at the session's start so parallel work keeps one migration chain;
filled in by the work it names.

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
