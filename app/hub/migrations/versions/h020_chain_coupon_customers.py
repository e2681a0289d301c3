"""Chain coupons: uses per customer kept at the hub (issue #21).

Placeholder committed first so that parallel work keeps one migration chain; filled in
by the work it names before anything lands.

Revision ID: h020
Revises: h019
"""

from __future__ import annotations

revision = "h020"
down_revision = "h019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
