"""GST documents (issue #18): a B2B sale at the till becomes a tax invoice to a buyer
with a GSTIN, numbered in its own gapless series per financial year; inter-state lines
carry IGST instead of CGST + SGST; a refund of a tax invoice gets a credit note number.

- carts: the buyer typed at the till (GSTIN, name, address) before Pay.
- sales: doc_kind 'b2c' (every older bill) | 'b2b' (tax invoice to a registered buyer)
  | 'bos' (bill of supply, composition scheme); the buyer as printed; place_of_supply
  as a two-digit state code ('' = the store's own state); invoice_number (rule 46:
  at most 16 characters, unique in a financial year; NULL for B2C bills, whose bill
  number is their serial).
- sale_lines.igst_minor: the whole GST of an inter-state line (its CGST/SGST are 0).
- refunds.credit_note_number: the GST credit note's serial (NULL when none was issued).
  Not the exchange refund's "credit note" code, which is store credit (credit_code_hash).

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("buyer_gstin", sa.String(15), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("buyer_name", sa.String(100), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("buyer_address", sa.String(200), nullable=False,
                                      server_default=""))
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.add_column(sa.Column("doc_kind", sa.String(4), nullable=False,
                                      server_default="b2c"))
        batch_op.add_column(sa.Column("buyer_gstin", sa.String(15), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("buyer_name", sa.String(100), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("buyer_address", sa.String(200), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("place_of_supply", sa.String(2), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("invoice_number", sa.String(16), nullable=True))
        batch_op.create_index("ix_sales_invoice_number", ["invoice_number"], unique=True)
    with op.batch_alter_table("sale_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("igst_minor", sa.Integer(), nullable=False,
                                      server_default="0"))
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_note_number", sa.String(16), nullable=True))
        batch_op.create_index("ix_refunds_credit_note_number", ["credit_note_number"],
                              unique=True)


def downgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_refunds_credit_note_number")
        batch_op.drop_column("credit_note_number")
    with op.batch_alter_table("sale_lines", schema=None) as batch_op:
        batch_op.drop_column("igst_minor")
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_invoice_number")
        for name in ("invoice_number", "place_of_supply", "buyer_address", "buyer_name",
                     "buyer_gstin", "doc_kind"):
            batch_op.drop_column(name)
    with op.batch_alter_table("carts", schema=None) as batch_op:
        for name in ("buyer_address", "buyer_name", "buyer_gstin"):
            batch_op.drop_column(name)
