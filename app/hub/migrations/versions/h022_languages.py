"""Languages: products' local names in the hub catalogue (issue #22).

Placeholder committed first so that parallel work keeps one migration chain; filled in
by the work it names before anything lands.

Revision ID: h022
Revises: h021
"""

from __future__ import annotations

revision = "h022"
down_revision = "h021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
