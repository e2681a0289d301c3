"""Hub tables. The hub also uses the shared `users`, `login_throttle`, `api_keys`,
`audit_log`, `number_sequences`, `products` and `barcodes` tables (core and catalog
models): the hub's catalogue is the master the stores' copies follow."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class HubStore(Base):
    """A registered store, its token (hashed) and both sync cursors."""

    __tablename__ = "hub_stores"

    id: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(10))  # counter | darkstore
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    pincodes: Mapped[str] = mapped_column(Text, default="")  # comma-separated
    priority: Mapped[int] = mapped_column(Integer, default=0)
    pickers: Mapped[int] = mapped_column(Integer, default=2)  # capacity = pickers x per picker
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Sync state. epoch: the store database's random id, learnt at the first hello.
    epoch: Mapped[str | None] = mapped_column(String(64), nullable=True)
    acked_up: Mapped[int] = mapped_column(Integer, default=0)  # last store->hub seq applied
    down_seq: Mapped[int] = mapped_column(Integer, default=0)  # last hub->store seq made
    down_acked: Mapped[int] = mapped_column(Integer, default=0)  # last the store applied
    # Last known link facts, written when the store's last live link closes. Liveness
    # itself is per connection (HubStoreLink), so the heartbeat never locks these rows.
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    version: Mapped[str] = mapped_column(String(60), default="")
    # `at` of the newest store event applied, and when: their gap is the store's lag.
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    alert: Mapped[str] = mapped_column(String(300), default="")
    alert_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    rejected_epoch: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The refused connection (JSON: address, version, epoch, applied_down, at), shown
    # beside the alert so HQ can tell a restored store from a stray device.
    rejected_link: Mapped[str] = mapped_column(Text, default="")
    # The GSTIN the store files its returns under (issue #18, h013): set by HQ on the GST
    # page; '' until then. Stores sharing one state registration share it.
    gstin: Mapped[str] = mapped_column(String(15), default="", server_default="")
    # The store's own status (sync protocol 2, h016; NULL: an older store never sent it):
    # its version, free disk, newest backup, its clock minus the hub's at receipt.
    status_version: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status_disk_free: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status_backup_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    status_clock_skew: Mapped[float | None] = mapped_column(Float, nullable=True)  # seconds
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The shared catalogue log (issue #24, h025): the last log seq a v3 store acked
    # (written in batches by the links' heartbeat, for the pages and metrics), and for an
    # older store how far the log has been copied into its own stream.
    catalog_acked: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    catalog_copied: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    sync_proto: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 0: never
    # The store's live load (issue #24, h026; sync protocol 3's status.load; NULL: never
    # sent): pickers signed in, open online orders by state (JSON), lines picked per
    # hour, and when the hub received it. Placement ignores one older than
    # routing.load_fresh_seconds. Not watched by h007's triggers (changes often).
    load_pickers: Mapped[int | None] = mapped_column(Integer, nullable=True)
    load_orders: Mapped[str | None] = mapped_column(Text, nullable=True)
    load_picks_hour: Mapped[int | None] = mapped_column(Integer, nullable=True)
    load_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class HubStoreLink(Base):
    """One live sync connection of a store, written only by the hub process holding it
    (at the handshake, by its heartbeat, deleted at close). A store is online while any
    of its links was seen lately; rows of a process that died expire by age."""

    __tablename__ = "hub_store_links"
    __table_args__ = (Index("ix_hub_store_links_store_seen", "store_id", "last_seen_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(8))
    process: Mapped[str] = mapped_column(String(60))
    address: Mapped[str] = mapped_column(String(60))
    version: Mapped[str] = mapped_column(String(60))
    epoch: Mapped[str] = mapped_column(String(64))
    applied_down: Mapped[int] = mapped_column(Integer)  # the store's cursor in its hello
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HubOutbox(Base):
    """Hub -> store events, one consecutive sequence per store, kept until acked."""

    __tablename__ = "hub_outbox"

    store_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[str] = mapped_column(Text)  # JSON


class HubCatalogEntry(Base):
    """The shared catalogue log (issue #24): each product's newest `product.upserted`,
    under one seq for all stores. A change replaces the row with a higher seq, so the
    log holds one row per product and read from 0 it is a snapshot of the catalogue."""

    __tablename__ = "hub_catalog_log"
    __table_args__ = (Index("ix_hub_catalog_log_seq", "seq", unique=True),)

    key: Mapped[str] = mapped_column(String(60), primary_key=True)  # "product:<sku>"
    seq: Mapped[int] = mapped_column(BigInteger)
    id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[str] = mapped_column(Text)  # JSON


class HubCatalogHead(Base):
    """One row (id 1): the catalogue log's last seq. Writers bump it with UPDATE ...
    RETURNING, whose row lock makes log seqs follow commit order (a reader's cursor
    never skips an entry committed late)."""

    __tablename__ = "hub_catalog_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)


class StoreEventRow(Base):
    """Every store -> hub event the hub applied (id is the store's event id). On
    PostgreSQL partitioned by month of the id (a uuid7), TEXT of at most 64 characters
    in the "C" collation (h027, app/hub/event_partitions.py)."""

    __tablename__ = "hub_store_events"
    __table_args__ = (Index("ix_hub_store_events_store_seq", "store_id", "seq"),)

    id: Mapped[str] = mapped_column(String(64).with_variant(Text(), "postgresql"),
                                    primary_key=True)
    store_id: Mapped[str] = mapped_column(String(8))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[str] = mapped_column(Text)


class HubStockLevel(Base):
    """Each store's on-hand per SKU: the sum of the `stock.moved` deltas it sent."""

    __tablename__ = "hub_stock_levels"

    store_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HubStoreOrder(Base):
    """An order as its store last reported it (`order.status`)."""

    __tablename__ = "hub_store_orders"

    order_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(8), index=True)
    number: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HubReservation(Base):
    """Stock a store holds for an accepted order until handover or cancel."""

    __tablename__ = "hub_reservations"

    order_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(8), index=True)
    quantity: Mapped[int] = mapped_column(Integer)


class HubSale(Base):
    """A sale or refund reported by a store, for the hub's sales pages."""

    __tablename__ = "hub_sales"
    # (store_id, number): a credit note's original bill (the hub's GSTR-1, h013).
    __table_args__ = (Index("ix_hub_sales_day_store", "day", "store_id"),
                      Index("ix_hub_sales_store_number", "store_id", "number"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(8))  # sale | refund
    number: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    day: Mapped[str] = mapped_column(String(10))  # local date at the hub, YYYY-MM-DD
    total_minor: Mapped[int] = mapped_column(BigInteger)  # refunds negative
    # The GST document (issue #18, h013; an older store's events have none: b2c).
    doc_kind: Mapped[str] = mapped_column(String(4), default="b2c", server_default="b2c")
    doc_number: Mapped[str | None] = mapped_column(String(16), nullable=True)  # invoice / CN
    buyer_gstin: Mapped[str] = mapped_column(String(15), default="", server_default="")
    buyer_name: Mapped[str] = mapped_column(String(80), default="", server_default="")
    place_of_supply: Mapped[str] = mapped_column(String(2), default="", server_default="")
    sale_number: Mapped[str] = mapped_column(String(24), default="", server_default="")


# --- online orders routed by the hub (#8) --------------------------------------------


class HubOrder(Base):
    """An online order as the hub routes it: which store has it, the courier, status."""

    __tablename__ = "hub_orders"
    # (store_id, status): what a placement counts and sums for the stores in its area
    # (their open orders), however many closed orders they have had (migration h008).
    __table_args__ = (UniqueConstraint("channel", "external_id"),
                      Index("ix_hub_orders_store_status", "store_id", "status"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # HQ-000123
    channel: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(80))
    # new | assigned | accepted | picking | picked | packed | ready | handed_over |
    # delivered | cancelled | unfulfillable
    status: Mapped[str] = mapped_column(String(16), index=True)
    store_id: Mapped[str | None] = mapped_column(String(8), nullable=True, index=True)
    courier: Mapped[str] = mapped_column(String(40), default="")
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    hops: Mapped[int] = mapped_column(Integer, default=0)
    tried: Mapped[str] = mapped_column(String(200), default="")  # store ids, comma-separated
    reason: Mapped[str] = mapped_column(String(500), default="")
    customer_name: Mapped[str] = mapped_column(String(80))
    customer_phone: Mapped[str] = mapped_column(String(15))
    address: Mapped[str] = mapped_column(String(300))
    pincode: Mapped[str] = mapped_column(String(6), index=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    promised_by: Mapped[datetime] = mapped_column(UTCDateTime())
    payment: Mapped[str] = mapped_column(String(10))
    cod_amount_minor: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str] = mapped_column(String(300), default="")
    value_minor: Mapped[int] = mapped_column(Integer, default=0)
    # A part of an order split between stores points at the order it came from.
    parent_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HubOrderLine(Base):
    __tablename__ = "hub_order_lines"

    order_id: Mapped[str] = mapped_column(ForeignKey("hub_orders.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    price_minor: Mapped[int] = mapped_column(Integer, default=0)
    # How much of it has come back (customer returns and RTO, issue #19, h014): a return
    # asks for at most quantity - returned.
    returned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class HubOrderLog(Base):
    """Every decision about an order, in plain words, with its details (JSON)."""

    __tablename__ = "hub_order_log"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("hub_orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(16))  # received | allocation | store | operator | ...
    text: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, default="")


class HubChannel(Base):
    """A sales channel: its API key is named after it; status changes go to its webhook."""

    __tablename__ = "hub_channels"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    webhook_url: Mapped[str] = mapped_column(String(300), default="")
    # HMAC key for the X-Kirana-Signature header, sealed (hub/sealing.py: "s1:" + 104
    # characters for a 48-character secret). PostgreSQL's column is 128 (h011); SQLite
    # keeps text of any length.
    webhook_secret: Mapped[str] = mapped_column(
        String(64).with_variant(String(128), "postgresql"), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Days after delivery the channel may ask for a return (issue #19, h014).
    return_window_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    # Returns go to the nearest online dark store when the store that packed the order
    # is a counter store, switched off or offline (issue #19, h014). Off: always back to it.
    returns_to_nearest: Mapped[bool] = mapped_column(Boolean, default=False,
                                                     server_default=false())


class HubWebhook(Base):
    """A status change waiting to reach (or delivered to) a channel's webhook."""

    __tablename__ = "hub_webhooks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    channel: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[str] = mapped_column(String(36), index=True)
    payload: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True,
                                                              index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A hub process leases a due call before posting it (committed first, so no
    # transaction stays open during the HTTP call); an expired lease may be taken over.
    claimed_by: Mapped[str] = mapped_column(String(40), default="", server_default="")
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class HubCourier(Base):
    """A courier's live state; which couriers serve where is in the hub config."""

    __tablename__ = "hub_couriers"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    available: Mapped[bool] = mapped_column(Boolean, default=True)


class HubSetting(Base):
    """Settings changed on hub pages (e.g. the routing rules), overriding the config."""

    __tablename__ = "hub_settings"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(80), default="")


class HubConfigVersion(Base):
    """One row: a random token that database triggers replace whenever a store's routing
    facts, a setting, a channel or a courier changes (migration h007). A hub process
    keeps those tables in memory for intake and re-reads them when the token moved
    (app/hub/routing_cache.py); triggers catch every writer, the CLI's and SQL's too."""

    __tablename__ = "hub_config_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32))


# --- transfers between stores, and the sales figures replenishment reads (#17) --------


class HubTransfer(Base):
    """A stock transfer between two stores as the hub knows it: raised by one of the two
    stores (`transfer.requested`) or by HQ, approved here, then moved on by the source
    (picked, dispatched) and the destination (received). Only those two stores may
    report on it (app/hub/transfers.py)."""

    __tablename__ = "hub_transfers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    source: Mapped[str] = mapped_column(String(8), index=True)
    dest: Mapped[str] = mapped_column(String(8), index=True)
    state: Mapped[str] = mapped_column(String(12), index=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
    raised_by: Mapped[str] = mapped_column(String(80), default="")  # a store id or HQ user
    # A bulk confirm's key (form key + pair): the same confirm twice makes nothing new.
    request_key: Mapped[str | None] = mapped_column(String(120), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # When HQ approved it (or raised it, approved): the source may pick and dispatch only
    # after this, even if it was cancelled since (migration h012).
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class HubTransferLine(Base):
    """One SKU of a transfer: asked, sent (at dispatch) and received; `parts` is the
    JSON list of batches that left (`batch`, `expiry`, `quantity`)."""

    __tablename__ = "hub_transfer_lines"

    transfer_id: Mapped[str] = mapped_column(ForeignKey("hub_transfers.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    received: Mapped[int | None] = mapped_column(Integer, nullable=True)
    parts: Mapped[str] = mapped_column(Text, default="")


class HubSkuDay(Base):
    """What a store sold of a SKU on a day (hub's local date): till sales and online
    orders less refunds, from its `stock.moved` events. Replenishment's velocity."""

    __tablename__ = "hub_sku_days"
    __table_args__ = (Index("ix_hub_sku_days_day", "day"),)

    store_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    sold: Mapped[int] = mapped_column(Integer, default=0)


# --- GST returns at the hub (#18) ------------------------------------------------------


class HubSaleTax(Base):
    """One store document's GST per HSN and rate (a sale's tax invoice or bill, or a
    refund's credit note; refunds negative), from `sale.completed` / `sale.refunded`:
    what the hub's GSTR-1 is built from (app/hub/reports.py)."""

    __tablename__ = "hub_sale_taxes"
    __table_args__ = (Index("ix_hub_sale_taxes_day_store", "day", "store_id"),)

    doc_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # hub_sales.id
    hsn: Mapped[str] = mapped_column(String(8), primary_key=True)  # '' if not sent
    rate_bp: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(8))  # sale | refund
    number: Mapped[str] = mapped_column(String(24))
    day: Mapped[str] = mapped_column(String(10))
    doc_kind: Mapped[str] = mapped_column(String(4))  # b2c | b2b | bos
    doc_number: Mapped[str | None] = mapped_column(String(16), nullable=True)
    buyer_gstin: Mapped[str] = mapped_column(String(15))
    place_of_supply: Mapped[str] = mapped_column(String(2))
    quantity: Mapped[int] = mapped_column(BigInteger)
    taxable_minor: Mapped[int] = mapped_column(BigInteger)
    cgst_minor: Mapped[int] = mapped_column(BigInteger)
    sgst_minor: Mapped[int] = mapped_column(BigInteger)
    igst_minor: Mapped[int] = mapped_column(BigInteger)


class HubSaleDay(Base):
    """Each store's bills, sales and refunds per day (the hub's local date), kept by a
    database trigger on every hub_sales insert (h013), so the chain overview reads one
    row per store and day instead of every bill."""

    __tablename__ = "hub_sale_days"

    store_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    bills: Mapped[int] = mapped_column(Integer, default=0)
    sales_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refunds_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # negative


class HubOrderHandover(Base):
    """When an online order was first handed over (or delivered, if the hand-over was
    never reported): written by a database trigger on hub_order_log (h013) from the
    status entries app/hub/placement.py logs. The chain overview's SLA reads it."""

    __tablename__ = "hub_order_handovers"

    order_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class HubOrderSlot(Base):
    """Each store's online orders by the half hour (UTC) they were created in: how many,
    cancelled, handed over, and handed over by the promised time. Kept by database
    triggers on hub_orders and hub_order_log (h013); the chain overview reads it."""

    __tablename__ = "hub_order_slots"
    __table_args__ = (Index("ix_hub_order_slots_slot", "slot"),)

    store_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    slot: Mapped[str] = mapped_column(String(16), primary_key=True)  # 2026-11-30T08:30
    orders: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    handed: Mapped[int] = mapped_column(Integer, default=0)
    met: Mapped[int] = mapped_column(Integer, default=0)


# --- returns of online orders (#19) ----------------------------------------------------


class HubReturn(Base):
    """A return of an online order: a channel's request (kind `customer`, idempotent on
    channel + channel_return_id) or a failed delivery (kind `rto`). Its lines go to the
    stores that packed them (`return.requested`); each store reports what came back
    (`return.completed`). app/hub/returns.py."""

    __tablename__ = "hub_returns"
    __table_args__ = (UniqueConstraint("channel", "channel_return_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # RET-000012
    order_id: Mapped[str] = mapped_column(ForeignKey("hub_orders.id"), index=True)
    channel: Mapped[str] = mapped_column(String(40))
    channel_return_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    kind: Mapped[str] = mapped_column(String(8))  # customer | rto
    mode: Mapped[str] = mapped_column(String(8))  # pickup | walk_in | rto
    reason: Mapped[str] = mapped_column(String(200))
    exchange: Mapped[bool] = mapped_column(Boolean, default=False)
    body_hash: Mapped[str] = mapped_column(String(64))  # the request as first made
    state: Mapped[str] = mapped_column(String(12), index=True)  # requested | completed
    refund_total_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    replacement_order_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class HubReturnLine(Base):
    """One SKU of a return at one store (a split order's return has lines at each of its
    stores); `order_id` is the order that store knows (a split order's part). The
    grading figures and the refund are the store's report (null until then)."""

    __tablename__ = "hub_return_lines"

    return_id: Mapped[str] = mapped_column(ForeignKey("hub_returns.id"), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(8), primary_key=True, index=True)
    sku: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(36))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    refundable_minor: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resellable: Mapped[int | None] = mapped_column(Integer, nullable=True)
    damaged: Mapped[int | None] = mapped_column(Integer, nullable=True)
    expired: Mapped[int | None] = mapped_column(Integer, nullable=True)
    wrong_item: Mapped[int | None] = mapped_column(Integer, nullable=True)
    refund_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    decision: Mapped[str] = mapped_column(String(8), default="", server_default="")
    approved_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class HubLoyaltyCustomer(Base):
    """A loyalty customer across the chain (issue #21, docs/loyalty.md): the number, the
    card and when they agreed; no name (that stays at the store they joined). Erased on
    request: number and card blanked, the ledger kept anonymous. `balance` is the sum
    of the ledger plus the write-offs, never below zero (core/loyalty.book)."""

    __tablename__ = "hub_loyalty_customers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(10), unique=True, nullable=True)
    card: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    joined_store: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    written_off: Mapped[int] = mapped_column(BigInteger, default=0)


class HubLoyaltyEntry(Base):
    """One movement a store booked (its entry id: a replayed event books once), and the
    points the chain wrote off when it would have overdrawn the balance."""

    __tablename__ = "hub_loyalty_entries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("hub_loyalty_customers.id"),
                                                    nullable=True, index=True)
    store_id: Mapped[str] = mapped_column(String(8), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    points: Mapped[int] = mapped_column(BigInteger)
    write_off: Mapped[int] = mapped_column(BigInteger, default=0)
    reference: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Who took a points tender: the store's user id sent with `loyalty.redeemed` (h024)
    cashier: Mapped[str | None] = mapped_column(String(36), nullable=True)


class HubLoyaltyTombstone(Base):
    """A number erased at the hub (h024): an HMAC of it, keyed from the install's secret
    file (never the number), and when. A join with a consent older than this does not
    bring the customer back (core/loyalty.rejoin_allowed)."""

    __tablename__ = "hub_loyalty_tombstones"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HubLoyaltyWatch(Base):
    """Which stores hear a customer's balance: those that asked (a look-up) or moved
    their points. A store hears of no other customer."""

    __tablename__ = "hub_loyalty_watch"

    store_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("hub_loyalty_customers.id"),
                                             primary_key=True, index=True)


# ---- what offers did across the chain (issue #21, migration h021) ----------------------


class HubSaleOffer(Base):
    """One offer on one line of a store's sale or refund (refunds negative): what the
    event's line said it took off. Booked with the sale's hub_sales row (exactly once)."""

    __tablename__ = "hub_sale_offers"
    __table_args__ = (Index("ix_hub_sale_offers_promotion_day", "promotion_id", "day"),
                      Index("ix_hub_sale_offers_day_store", "day", "store_id"))

    doc_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # hub_sales.id
    line: Mapped[int] = mapped_column(Integer, primary_key=True)  # its place in the event
    promotion_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(8))  # sale | refund
    day: Mapped[str] = mapped_column(String(10))  # the hub's local date
    sku: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(80))  # as the store named it
    bill: Mapped[bool] = mapped_column(Boolean)  # a bill offer's share on this line
    off_minor: Mapped[int] = mapped_column(BigInteger)


class HubSaleSkuDay(Base):
    """A store's sale lines of a SKU on a day (hub's local date): their quantity, units
    (pieces, or one a line sold loose) and net, refunds taken off; the promotions
    report's units and revenue (covering indexes: summed from the index alone)."""

    __tablename__ = "hub_sale_sku_days"
    __table_args__ = (Index("ix_hub_sale_sku_days_day", "day", "store_id", "units",
                            "net_minor"),
                      Index("ix_hub_sale_sku_days_sku_day", "sku", "day", "store_id", "units",
                            "net_minor"))

    store_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    units: Mapped[int] = mapped_column(BigInteger, default=0)
    net_minor: Mapped[int] = mapped_column(BigInteger, default=0)


# ---- chain promotions and coupons (issue #21, migration h018) -------------------------


class HubPromotion(Base):
    """A chain-wide promotion made by HQ: the store's promotion columns (what the pure
    engine's Promotion needs) plus `version`, bumped on every change, which stores
    compare so an older `promotion.upserted` never overwrites a newer one."""

    __tablename__ = "hub_promotions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))
    target_skus: Mapped[str] = mapped_column(Text, default="[]")
    target_categories: Mapped[str] = mapped_column(Text, default="[]")
    get_skus: Mapped[str] = mapped_column(Text, default="[]")
    get_categories: Mapped[str] = mapped_column(Text, default="[]")
    percent_bp: Mapped[int] = mapped_column(Integer, default=0)
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    buy: Mapped[int] = mapped_column(Integer, default=0)
    get: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int] = mapped_column(Integer, default=0)
    bundle_price_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    min_bill_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    cap_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True, default=None)
    free_sku: Mapped[str] = mapped_column(String(40), default="")
    starts: Mapped[str | None] = mapped_column(String(10), nullable=True, default=None)
    ends: Mapped[str | None] = mapped_column(String(10), nullable=True, default=None)
    days: Mapped[str] = mapped_column(String(20), default="")
    since_minute: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    until_minute: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    exclusive: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    coupon: Mapped[str | None] = mapped_column(String(40), nullable=True, default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    created_by: Mapped[str] = mapped_column(String(36), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True,
                                                      default=None)


class HubCoupon(Base):
    """A chain coupon's limits (None: none) and the uses each store may make without
    asking (`per_store`); `version` is bumped on every change or grant."""

    __tablename__ = "hub_coupons"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    promotion_id: Mapped[str] = mapped_column(String(36), index=True)
    total_limit: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    per_customer_limit: Mapped[int | None] = mapped_column(Integer, nullable=True,
                                                           default=None)
    per_store: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HubCouponGrant(Base):
    """What the hub allows one store of a coupon in all (`granted`, cumulative) and the
    uses it reported, net of those given back (`used`). Every store's `granted` together
    stays within the coupon's total."""

    __tablename__ = "hub_coupon_grants"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    granted: Mapped[int] = mapped_column(Integer, default=0)
    used: Mapped[int] = mapped_column(Integer, default=0)


class HubCouponUse(Base):
    """One use a store reported (`coupon.used`, its use id: a replay books once);
    `released_at`: given back by a refund of the whole bill (`coupon.released`)."""

    __tablename__ = "hub_coupon_uses"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), index=True)
    store_id: Mapped[str] = mapped_column(String(8))
    sale: Mapped[str] = mapped_column(String(24), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True,
                                                         default=None)
    # The customer's key (core/coupons.customer_key; None: no per-customer limit, an
    # older store, or erased) and whether this use went past the customer's limit
    # across the chain (booked all the same: a completed sale is never refused).
    customer: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)
    over_limit: Mapped[bool] = mapped_column(Boolean, default=False)


class HubCouponCustomer(Base):
    """A chain coupon's uses by one customer at every store (migration h020), net of
    those given back: the per-customer limit held across the chain. `customer` is a
    keyed hash of the number (core/coupons.customer_key), never the number;
    `overshoots`: uses booked past the limit (offline stores, two tills racing)."""

    __tablename__ = "hub_coupon_customers"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer: Mapped[str] = mapped_column(String(64), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)
    overshoots: Mapped[int] = mapped_column(Integer, default=0)
