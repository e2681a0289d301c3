"""chain-wide promotions and coupon limits at the hub (issue #21).

Placeholder made at the session's start so parallel work keeps one migration chain;
filled in by the work it names.

Revision ID: h018
Revises: h017
"""

from __future__ import annotations

revision = "h018"
down_revision = "h017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
