"""coupon codes and their uses at the store (issue #21).

Placeholder made at the session's start so parallel work keeps one migration chain;
filled in by the work it names.

Revision ID: 0029
Revises: 0028
"""

from __future__ import annotations

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
