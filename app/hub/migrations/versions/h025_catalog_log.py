"""The shared catalogue log (issue #24): one row per product, not one per product per store.

hub_catalog_log: each product's newest `product.upserted` (key "product:<sku>"), stamped
with a seq from hub_catalog_head, bumped under that row's lock so seqs follow commit
order. A change replaces the product's row with a higher seq: the log is compacted by
key, so reading it from 0 is a snapshot of the catalogue. A v3 store reads it from its
own cursor; an older store gets its entries copied into its own stream
(hub_stores.catalog_copied says how far) when it is connected. hub_stores.sync_proto is
the protocol of the store's last link (0: never connected), which says which cursor tells
what a store has applied (the catalogue page).

The log starts with every product (seqs 1..N in SKU order, the payload as
service.product_payload writes it today). Stores registered before this migration got
the catalogue in their own streams: their catalog_copied starts at N.

Revision ID: h025
Revises: h024
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "h025"
down_revision = "h024"
branch_labels = None
depends_on = None


def _payload(row, codes: list[str]) -> dict:
    """service.product_payload as of this migration (frozen here on purpose)."""
    return {"sku": row.sku, "name": row.name, "name_local": row.name_local or "",
            "price_minor": row.price_minor, "mrp_minor": row.mrp_minor,
            "gst_rate_bp": row.gst_rate_bp, "hsn": row.hsn, "unit": row.unit,
            "pack_size": row.pack_size, "category": row.category, "active": bool(row.active),
            "reorder_level": row.reorder_level, "tracks_expiry": bool(row.tracks_expiry),
            "barcodes": sorted(codes),
            "updated_at": datetime.fromisoformat(row.updated_at).isoformat()}


def upgrade() -> None:
    log = op.create_table(
        "hub_catalog_log",
        sa.Column("key", sa.String(60), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
    )
    op.create_index("ix_hub_catalog_log_seq", "hub_catalog_log", ["seq"], unique=True)
    head = op.create_table(
        "hub_catalog_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    with op.batch_alter_table("hub_stores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("catalog_acked", sa.BigInteger(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("catalog_copied", sa.BigInteger(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("sync_proto", sa.Integer(), nullable=False,
                                      server_default="0"))

    bind = op.get_bind()
    codes: dict[str, list[str]] = {}
    for code, product_id in bind.execute(sa.text("SELECT code, product_id FROM barcodes")):
        codes.setdefault(product_id, []).append(code)
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    rows = []
    products = bind.execute(sa.text(
        "SELECT id, sku, name, name_local, price_minor, mrp_minor, gst_rate_bp, hsn, unit, "
        "pack_size, category, active, reorder_level, tracks_expiry, updated_at "
        "FROM products ORDER BY sku")).all()
    for seq, row in enumerate(products, start=1):
        rows.append({"key": f"product:{row.sku}", "seq": seq, "id": str(uuid.uuid4()),
                     "kind": "product.upserted", "at": now,
                     "data": json.dumps(_payload(row, codes.get(row.id, [])),
                                        separators=(",", ":"), ensure_ascii=False)})
    for i in range(0, len(rows), 1000):
        op.bulk_insert(log, rows[i:i + 1000])
    op.bulk_insert(head, [{"id": 1, "seq": len(rows)}])
    bind.execute(sa.text("UPDATE hub_stores SET catalog_copied = :n"), {"n": len(rows)})


def downgrade() -> None:
    with op.batch_alter_table("hub_stores", schema=None) as batch_op:
        batch_op.drop_column("sync_proto")
        batch_op.drop_column("catalog_copied")
        batch_op.drop_column("catalog_acked")
    op.drop_table("hub_catalog_head")
    op.drop_index("ix_hub_catalog_log_seq", table_name="hub_catalog_log")
    op.drop_table("hub_catalog_log")
