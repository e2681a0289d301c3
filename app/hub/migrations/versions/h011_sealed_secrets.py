"""TOTP and webhook secrets sealed at rest (ASVS 6.2 / 2.9)

The sealed text ("s1:" + base64 of nonce, ciphertext and tag; app/core/sealing.py) is
longer than the secret: 83 characters for a TOTP key, 107 for a webhook secret. The
columns are widened to 128 on PostgreSQL, which enforces VARCHAR lengths. SQLite keeps
text of any length: its columns stay as they are (the users table's model is shared with
the stores' SQLite databases, and rebuilding hub_channels would drop its h007 triggers).
The rows themselves are sealed by the hub at start (app/hub/sealing.py), which needs
the secret file; a migration never sees it.

Revision ID: h011
Revises: h010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h011"
down_revision = "h010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column("users", "totp_secret", type_=sa.String(length=128),
                    existing_type=sa.String(length=64), existing_nullable=True)
    op.alter_column("hub_channels", "webhook_secret", type_=sa.String(length=128),
                    existing_type=sa.String(length=64), existing_nullable=False)


def downgrade() -> None:
    # Sealed values do not fit the old width, cannot be opened here (no secret file) and
    # the code of h010 reads secrets in clear: refuse rather than cut them.
    bind = op.get_bind()
    sealed = bind.execute(sa.text(
        "SELECT (SELECT count(*) FROM users WHERE totp_secret LIKE 's1:%') + "
        "(SELECT count(*) FROM hub_channels WHERE webhook_secret LIKE 's1:%')")).scalar()
    if sealed:
        raise RuntimeError(f"{sealed} TOTP keys and webhook secrets are sealed; the hub of "
                           "h010 cannot read them (every hub user would lose their second "
                           "factor): not downgraded")
    if bind.dialect.name == "postgresql":
        op.alter_column("hub_channels", "webhook_secret", type_=sa.String(length=64),
                        existing_type=sa.String(length=128), existing_nullable=False)
        op.alter_column("users", "totp_secret", type_=sa.String(length=64),
                        existing_type=sa.String(length=128), existing_nullable=True)
