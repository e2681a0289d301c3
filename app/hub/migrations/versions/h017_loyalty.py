"""loyalty balances kept at the hub across stores (issue #21).

Placeholder made at the session's start so parallel work keeps one migration chain;
filled in by the work it names.

Revision ID: h017
Revises: h016
"""

from __future__ import annotations

revision = "h017"
down_revision = "h016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
