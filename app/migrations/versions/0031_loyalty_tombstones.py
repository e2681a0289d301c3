"""Loyalty: erased numbers kept as tombstones, the cashier on a points movement (issue #21).

Placeholder committed first so that parallel work keeps one migration chain; filled in
by the work it names before anything lands.

Revision ID: 0031
Revises: 0030
"""

from __future__ import annotations

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
