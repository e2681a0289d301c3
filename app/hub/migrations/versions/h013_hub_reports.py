"""Hub reports and GST returns at the hub (issue #18).

- hub_sales gains the GST document facts a store's `sale.completed` / `sale.refunded`
  now carry: doc_kind (b2c | b2b | bos), doc_number (the tax invoice or credit note
  number), buyer_gstin, buyer_name, place_of_supply (2-digit state code, '' = the
  store's own state) and, for a refund, sale_number (the bill it refunds).
- hub_sale_taxes: one row per document, HSN and GST rate (taxable value, CGST, SGST,
  IGST, quantity; refunds negative), the rows the hub's GSTR-1 is built from.
- hub_stores.gstin: the GSTIN a store files under (set by HQ on the GST page; stores
  sharing one registration share it).
- For the chain overview (100 stores x 30 days well under 2 s on PostgreSQL: reading
  every bill and every order took 3 to 6 s), summaries kept by database triggers, so
  every writer (the sync link, placement, SQL, a benchmark's COPY) keeps them right,
  deletes (pruning) and corrections of a bill's total, day, store or kind included:
  hub_sale_days (each store's bills, sales and refunds per day, added to on every
  hub_sales insert); hub_order_slots (each store's online orders per half hour of
  creation, UTC: orders and cancelled follow hub_orders inserts and changes of store or
  status; handed and met follow the first "handed over"/"delivered" entry of an order
  in hub_order_log, remembered in hub_order_handovers). All are filled from the
  existing rows here. A later migration that recreates one of these tables on SQLite
  (batch mode) must create the triggers again (`create_triggers`).
- Indexes: hub_sale_taxes (day, store_id), hub_sales (store_id, number) for a credit
  note's original bill.

Revision ID: h013
Revises: h012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h013"
down_revision = "h012"
branch_labels = None
depends_on = None

# The order log's detail of a status change, as app/hub/placement.py writes it
# (json.dumps({"status": ...})); app/hub/reports.py names the same two.
_HANDED = ("{r}kind = 'status' AND {r}detail IN ('{{\"status\": \"handed_over\"}}', "
           "'{{\"status\": \"delivered\"}}')")
_BILLS = "sum(CASE WHEN {r}kind = 'sale' THEN 1 ELSE 0 END)"
_SALES = "sum(CASE WHEN {r}kind = 'sale' THEN {r}total_minor ELSE 0 END)"
_REFUNDS = "sum(CASE WHEN {r}kind = 'sale' THEN 0 ELSE {r}total_minor END)"
_ADD_DAY = ("INSERT INTO hub_sale_days (store_id, day, bills, sales_minor, refunds_minor) "
            "VALUES (NEW.store_id, NEW.day, CASE WHEN NEW.kind = 'sale' THEN 1 ELSE 0 END, "
            "CASE WHEN NEW.kind = 'sale' THEN NEW.total_minor ELSE 0 END, "
            "CASE WHEN NEW.kind = 'sale' THEN 0 ELSE NEW.total_minor END) "
            "ON CONFLICT (store_id, day) DO UPDATE SET "
            "bills = hub_sale_days.bills + excluded.bills, "
            "sales_minor = hub_sale_days.sales_minor + excluded.sales_minor, "
            "refunds_minor = hub_sale_days.refunds_minor + excluded.refunds_minor;")
# A bill pruned or corrected by SQL: its figures leave its day again.
_SUB_DAY = ("INSERT INTO hub_sale_days (store_id, day, bills, sales_minor, refunds_minor) "
            "VALUES (OLD.store_id, OLD.day, CASE WHEN OLD.kind = 'sale' THEN -1 ELSE 0 END, "
            "CASE WHEN OLD.kind = 'sale' THEN -OLD.total_minor ELSE 0 END, "
            "CASE WHEN OLD.kind = 'sale' THEN 0 ELSE -OLD.total_minor END) "
            "ON CONFLICT (store_id, day) DO UPDATE SET "
            "bills = hub_sale_days.bills + excluded.bills, "
            "sales_minor = hub_sale_days.sales_minor + excluded.sales_minor, "
            "refunds_minor = hub_sale_days.refunds_minor + excluded.refunds_minor;")
_SALE_CHANGED = "UPDATE OF store_id, day, kind, total_minor"
# An order's half-hour slot of creation (UTC text 'YYYY-MM-DDTHH:00' or ':30'): a slot
# lies within one local day wherever the UTC offset is a whole half hour (India: +05:30).
SLOT = ("substr({c}, 1, 14) || CASE WHEN substr({c}, 15, 2) < '30' THEN '00' "
        "ELSE '30' END")
_BUMP = ("INSERT INTO hub_order_slots (store_id, slot, orders, cancelled, handed, met) "
         "{values} ON CONFLICT (store_id, slot) DO UPDATE SET "
         "orders = hub_order_slots.orders + excluded.orders, "
         "cancelled = hub_order_slots.cancelled + excluded.cancelled, "
         "handed = hub_order_slots.handed + excluded.handed, "
         "met = hub_order_slots.met + excluded.met;")
_CANCELLED = "CASE WHEN {r}.status = 'cancelled' THEN 1 ELSE 0 END"
_ORDER_IN = _BUMP.format(values=f"SELECT NEW.store_id, {SLOT.format(c='NEW.created_at')}, 1, "
                         f"{_CANCELLED.format(r='NEW')}, 0, 0 WHERE NEW.store_id IS NOT NULL")
_ORDER_OUT = _BUMP.format(values=f"SELECT OLD.store_id, {SLOT.format(c='OLD.created_at')}, -1, "
                          f"-{_CANCELLED.format(r='OLD')}, 0, 0 WHERE OLD.store_id IS NOT NULL")
# An order's first hand-over (or delivery): remembered, and counted in its store's slot
# (handed, and met when by the promised time). A later entry adds nothing.
_HANDOVER_ROW = "INSERT INTO hub_order_handovers (order_id, at) VALUES (NEW.order_id, NEW.at)"
_HANDOVER_BUMP = _BUMP.format(values=f"SELECT o.store_id, {SLOT.format(c='o.created_at')}, 0, "
                              "0, 1, CASE WHEN NEW.at <= o.promised_by THEN 1 ELSE 0 END "
                              "FROM hub_orders o WHERE o.id = NEW.order_id "
                              "AND o.store_id IS NOT NULL")
_HANDOVER = f"{_HANDOVER_ROW}; {_HANDOVER_BUMP}"
# PostgreSQL: two writers logging one order's hand-over at once must not both count it
# (nor fail on the key): the row goes in once, and only the writer that put it counts.
_PG_HANDOVER = (f"{_HANDOVER_ROW} ON CONFLICT (order_id) DO NOTHING; "
                f"IF FOUND THEN {_HANDOVER_BUMP} END IF;")
# An order deleted by SQL (pruning): it leaves its slot, with its hand-over if it had one.
_ORDER_GONE = (_ORDER_OUT + " " + _BUMP.format(
    values=f"SELECT OLD.store_id, {SLOT.format(c='OLD.created_at')}, 0, 0, -1, "
           "CASE WHEN h.at <= OLD.promised_by THEN -1 ELSE 0 END FROM hub_order_handovers h "
           "WHERE h.order_id = OLD.id AND OLD.store_id IS NOT NULL")
    + " DELETE FROM hub_order_handovers WHERE order_id = OLD.id;")
_FIRST = "NOT EXISTS (SELECT 1 FROM hub_order_handovers WHERE order_id = NEW.order_id)"
_MOVED = ("OLD.store_id {ne} NEW.store_id OR "
          "(OLD.status = 'cancelled') <> (NEW.status = 'cancelled')")


def create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, body in (("hub_sale_days_add", _ADD_DAY),
                           ("hub_order_slot_in", _ORDER_IN),
                           ("hub_order_slot_move", _ORDER_OUT + " " + _ORDER_IN),
                           ("hub_order_handover_add", _PG_HANDOVER),
                           ("hub_sale_days_sub", _SUB_DAY),
                           ("hub_sale_days_move", _SUB_DAY + " " + _ADD_DAY),
                           ("hub_order_slot_gone", _ORDER_GONE)):
            op.execute(f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger "
                       f"LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$")
        op.execute("CREATE TRIGGER hub_sales_day_sum AFTER INSERT ON hub_sales FOR EACH ROW "
                   "EXECUTE FUNCTION hub_sale_days_add()")
        op.execute("CREATE TRIGGER hub_orders_slot_in AFTER INSERT ON hub_orders "
                   "FOR EACH ROW EXECUTE FUNCTION hub_order_slot_in()")
        op.execute("CREATE TRIGGER hub_orders_slot_move AFTER UPDATE OF store_id, status ON "
                   f"hub_orders FOR EACH ROW WHEN ({_MOVED.format(ne='IS DISTINCT FROM')}) "
                   "EXECUTE FUNCTION hub_order_slot_move()")
        op.execute("CREATE TRIGGER hub_order_log_handover AFTER INSERT ON hub_order_log "
                   f"FOR EACH ROW WHEN ({_HANDED.format(r='NEW.')}) "
                   "EXECUTE FUNCTION hub_order_handover_add()")
        op.execute("CREATE TRIGGER hub_sales_day_gone AFTER DELETE ON hub_sales FOR EACH ROW "
                   "EXECUTE FUNCTION hub_sale_days_sub()")
        op.execute(f"CREATE TRIGGER hub_sales_day_move AFTER {_SALE_CHANGED} ON hub_sales "
                   "FOR EACH ROW EXECUTE FUNCTION hub_sale_days_move()")
        op.execute("CREATE TRIGGER hub_orders_slot_gone AFTER DELETE ON hub_orders "
                   "FOR EACH ROW EXECUTE FUNCTION hub_order_slot_gone()")
        return
    op.execute(f"CREATE TRIGGER hub_sales_day_sum AFTER INSERT ON hub_sales "
               f"BEGIN {_ADD_DAY} END")
    op.execute(f"CREATE TRIGGER hub_orders_slot_in AFTER INSERT ON hub_orders "
               f"BEGIN {_ORDER_IN} END")
    op.execute(f"CREATE TRIGGER hub_orders_slot_move AFTER UPDATE OF store_id, status ON "
               f"hub_orders WHEN {_MOVED.format(ne='IS NOT')} BEGIN {_ORDER_OUT} {_ORDER_IN} END")
    op.execute(f"CREATE TRIGGER hub_order_log_handover AFTER INSERT ON hub_order_log "
               f"WHEN {_HANDED.format(r='NEW.')} AND {_FIRST} BEGIN {_HANDOVER} END")
    op.execute(f"CREATE TRIGGER hub_sales_day_gone AFTER DELETE ON hub_sales "
               f"BEGIN {_SUB_DAY} END")
    op.execute(f"CREATE TRIGGER hub_sales_day_move AFTER {_SALE_CHANGED} ON hub_sales "
               f"BEGIN {_SUB_DAY} {_ADD_DAY} END")
    op.execute(f"CREATE TRIGGER hub_orders_slot_gone AFTER DELETE ON hub_orders "
               f"BEGIN {_ORDER_GONE} END")


TRIGGERS = {"hub_sales_day_sum": "hub_sales", "hub_orders_slot_in": "hub_orders",
            "hub_orders_slot_move": "hub_orders", "hub_order_log_handover": "hub_order_log",
            "hub_sales_day_gone": "hub_sales", "hub_sales_day_move": "hub_sales",
            "hub_orders_slot_gone": "hub_orders"}
FUNCTIONS = ("hub_sale_days_add", "hub_order_slot_in", "hub_order_slot_move",
             "hub_order_handover_add", "hub_sale_days_sub", "hub_sale_days_move",
             "hub_order_slot_gone")


def drop_triggers() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for trigger, table in TRIGGERS.items():
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}" + (f" ON {table}" if pg else ""))
    if pg:
        for name in FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")


def upgrade() -> None:
    with op.batch_alter_table("hub_sales", schema=None) as batch_op:
        # A bill of Rs 2.15 crore or more (a wholesale B2B invoice) must not stop a
        # store's link: the total is 64-bit like every other amount (review of #18).
        batch_op.alter_column("total_minor", existing_type=sa.Integer(),
                              type_=sa.BigInteger(), existing_nullable=False)
        batch_op.add_column(sa.Column("doc_kind", sa.String(length=4), nullable=False,
                                      server_default="b2c"))
        batch_op.add_column(sa.Column("doc_number", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("buyer_gstin", sa.String(length=15), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("buyer_name", sa.String(length=80), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("place_of_supply", sa.String(length=2), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("sale_number", sa.String(length=24), nullable=False,
                                      server_default=""))
    with op.batch_alter_table("hub_stores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gstin", sa.String(length=15), nullable=False,
                                      server_default=""))
    op.create_table(
        "hub_sale_taxes",
        sa.Column("doc_id", sa.String(length=36), nullable=False),
        sa.Column("hsn", sa.String(length=8), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("number", sa.String(length=24), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("doc_kind", sa.String(length=4), nullable=False),
        sa.Column("doc_number", sa.String(length=16), nullable=True),
        sa.Column("buyer_gstin", sa.String(length=15), nullable=False),
        sa.Column("place_of_supply", sa.String(length=2), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("taxable_minor", sa.BigInteger(), nullable=False),
        sa.Column("cgst_minor", sa.BigInteger(), nullable=False),
        sa.Column("sgst_minor", sa.BigInteger(), nullable=False),
        sa.Column("igst_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("doc_id", "hsn", "rate_bp", name=op.f("pk_hub_sale_taxes")),
    )
    op.create_index("ix_hub_sale_taxes_day_store", "hub_sale_taxes", ["day", "store_id"])
    op.create_index("ix_hub_sales_store_number", "hub_sales", ["store_id", "number"])
    op.create_table(
        "hub_sale_days",
        sa.Column("store_id", sa.String(length=8), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("bills", sa.Integer(), nullable=False),
        sa.Column("sales_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunds_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "day", name=op.f("pk_hub_sale_days")),
    )
    op.create_table(
        "hub_order_handovers",
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_hub_order_handovers")),
    )
    op.create_table(
        "hub_order_slots",
        sa.Column("store_id", sa.String(length=8), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False),
        sa.Column("handed", sa.Integer(), nullable=False),
        sa.Column("met", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "slot", name=op.f("pk_hub_order_slots")),
    )
    op.create_index("ix_hub_order_slots_slot", "hub_order_slots", ["slot"])
    op.execute(f"INSERT INTO hub_sale_days (store_id, day, bills, sales_minor, refunds_minor) "
               f"SELECT store_id, day, {_BILLS.format(r='')}, {_SALES.format(r='')}, "
               f"{_REFUNDS.format(r='')} FROM hub_sales GROUP BY store_id, day")
    op.execute(f"INSERT INTO hub_order_handovers (order_id, at) SELECT order_id, min(at) "
               f"FROM hub_order_log WHERE {_HANDED.format(r='')} GROUP BY order_id")
    slot = SLOT.format(c="o.created_at")
    op.execute("INSERT INTO hub_order_slots (store_id, slot, orders, cancelled, handed, met) "
               f"SELECT o.store_id, {slot}, count(*), sum({_CANCELLED.format(r='o')}), "
               "sum(CASE WHEN h.at IS NULL THEN 0 ELSE 1 END), "
               "sum(CASE WHEN h.at <= o.promised_by THEN 1 ELSE 0 END) "
               "FROM hub_orders o LEFT JOIN hub_order_handovers h ON h.order_id = o.id "
               f"WHERE o.store_id IS NOT NULL GROUP BY o.store_id, {slot}")
    create_triggers()


def downgrade() -> None:
    drop_triggers()
    op.drop_table("hub_order_slots")
    op.drop_table("hub_order_handovers")
    op.drop_table("hub_sale_days")
    op.drop_index("ix_hub_sales_store_number", table_name="hub_sales")
    op.drop_index("ix_hub_sale_taxes_day_store", table_name="hub_sale_taxes")
    op.drop_table("hub_sale_taxes")
    with op.batch_alter_table("hub_stores", schema=None) as batch_op:
        batch_op.drop_column("gstin")
    with op.batch_alter_table("hub_sales", schema=None) as batch_op:
        for column in ("sale_number", "place_of_supply", "buyer_name", "buyer_gstin",
                       "doc_number", "doc_kind"):
            batch_op.drop_column(column)
        batch_op.alter_column("total_minor", existing_type=sa.BigInteger(),
                              type_=sa.Integer(), existing_nullable=False)
    # SQLite rebuilt hub_stores to drop its column, and with it lost h007's triggers
    # that tell order intake the stores changed (its routing cache): put them back.
    import importlib

    importlib.import_module("app.hub.migrations.versions.h007_hub_config_version"
                            ).create_triggers()
