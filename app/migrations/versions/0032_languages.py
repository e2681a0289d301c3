"""Languages: a staff member's language, the store's default, products' local names (issue #22).

Placeholder committed first so that parallel work keeps one migration chain; filled in
by the work it names before anything lands.

Revision ID: 0032
Revises: 0031
"""

from __future__ import annotations

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
