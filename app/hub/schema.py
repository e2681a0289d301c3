"""Which tables make up a hub database (shared with the hub's Alembic environment)."""

HUB_ONLY_TABLES = frozenset({
    "hub_stores", "hub_outbox", "hub_store_events", "hub_stock_levels", "hub_store_orders",
    "hub_reservations", "hub_sales",
    "hub_orders", "hub_order_lines", "hub_order_log", "hub_channels", "hub_webhooks",
    "hub_couriers", "hub_settings", "hub_store_links", "hub_config_version",
    "hub_transfers", "hub_transfer_lines", "hub_sku_days", "hub_sale_taxes",
    "hub_sale_days", "hub_order_handovers", "hub_order_slots",
    "hub_returns", "hub_return_lines",  # issue #19 (h014)
    "hub_loyalty_customers", "hub_loyalty_entries", "hub_loyalty_watch",  # issue #21 (h017)
    "hub_loyalty_tombstones",  # erased numbers, keyed hashes (issue #21, h024)
    # chain promotions and coupons (issue #21, h018)
    "hub_promotions", "hub_coupons", "hub_coupon_grants", "hub_coupon_uses",
    "hub_coupon_customers",  # a chain coupon's uses per customer (issue #21, h020)
    "hub_sale_offers", "hub_sale_sku_days",  # promotions' uplift (issue #21, h021)
    "hub_catalog_log", "hub_catalog_head",  # the shared catalogue log (issue #24, h025)
})

HUB_TABLES = frozenset({
    # shared with the store
    "users", "api_keys", "login_throttle", "trusted_devices", "audit_log", "number_sequences",
    "products", "barcodes",
    *HUB_ONLY_TABLES,
})
