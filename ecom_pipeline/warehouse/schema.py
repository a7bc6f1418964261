"""The warehouse's tables: the hub (what analysts read) and the bookkeeping that makes sync safe.

This module is the single source of truth for table shapes; Alembic migrations under ``migrations/`` are written
to match it, and a test checks that a migrated database equals this metadata. Table and column names are a
contract with analysts (docs/tables.md documents every one): rename nothing without a migration and a note.

Every row carries ``tenant_id`` so one warehouse serves many merchants and every query can filter by tenant.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from ecom_pipeline.warehouse.types import Money, UTCDateTime

# Constraint names are deterministic so migrations can refer to them on every backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JsonType = JSON().with_variant(JSONB(), "postgresql")
# Staged payloads: ``json`` on PostgreSQL too (the text as sent, not parsed into ``jsonb`` and printed back: see
# migration 0016); SQLite's JSON is text either way.
StagedJsonType = JSON()
# SQLite only auto-increments INTEGER PRIMARY KEY, not BIGINT: keep big ids on PostgreSQL, rowids on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _tenant() -> Column[str]:
    return Column("tenant_id", String(64), nullable=False, index=True)


# --- bookkeeping -----------------------------------------------------------------------------------------------

integrations = Table(
    "integrations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _tenant(),
    Column("platform", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("base_url", String(500), nullable=False),
    Column("credentials_encrypted", Text, nullable=False, doc="Fernet token of the credentials JSON"),
    Column("settings", JsonType, nullable=False, default=dict),
    Column("status", String(20), nullable=False, default="active", doc="active | disconnected | error"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("disconnected_at", UTCDateTime),
    Column("last_sync_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("last_error", Text),
    Column("last_error_at", UTCDateTime),
    Column("counts", JsonType, nullable=False, default=dict, doc="rows in the hub per entity from this shop"),
    UniqueConstraint("tenant_id", "platform", "base_url"),
)

entity_links = Table(
    "entity_links",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _tenant(),
    Column("integration_id", Integer, ForeignKey("integrations.id"), nullable=False),
    Column("entity", String(32), nullable=False, doc="product | variant | order | customer"),
    Column("external_id", String(128), nullable=False),
    Column("external_parent_id", String(128)),
    Column("external_gid", String(255), doc="GraphQL global id where the platform has one (Shopify)"),
    Column("hub_id", BigId, nullable=False),
    Column("sku", String(255)),
    Column("base_snapshot", JsonType, doc="canonical fields both sides last agreed on"),
    Column("base_hash", String(64)),
    Column("external_updated_at", UTCDateTime),
    Column("last_synced_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime, doc="set when the shop no longer has the record"),
    UniqueConstraint("integration_id", "entity", "external_id"),
    Index("ix_entity_links_hub", "entity", "hub_id"),
)

sync_cursors = Table(
    "sync_cursors",
    metadata,
    Column("integration_id", Integer, ForeignKey("integrations.id"), primary_key=True),
    Column("entity", String(32), primary_key=True),
    _tenant(),
    Column("cursor", JsonType, nullable=False, doc='{"modified": ISO-8601 UTC, "id": last id at that instant}'),
    Column("updated_at", UTCDateTime, nullable=False),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _tenant(),
    Column("integration_id", Integer, ForeignKey("integrations.id")),
    Column("platform", String(32)),
    Column("entity", String(32), nullable=False),
    Column("direction", String(8), nullable=False, doc="pull | push"),
    Column("stage", String(16), nullable=False, doc="extract | resolve | reconcile | export | webhook"),
    Column("full_refresh", Boolean, nullable=False, default=False),
    Column("status", String(16), nullable=False, doc="running | success | failed"),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("duration_s", Float),
    Column("rows_fetched", Integer, nullable=False, default=0),
    Column("created", Integer, nullable=False, default=0),
    Column("updated", Integer, nullable=False, default=0),
    Column("unchanged", Integer, nullable=False, default=0),
    Column("deleted", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("api_calls", Integer, nullable=False, default=0),
    Column("retries", Integer, nullable=False, default=0),
    Column("throttle_wait_s", Float, nullable=False, default=0.0),
    Column("missed_by_webhooks", Integer, nullable=False, default=0, server_default="0"),
    Column("cursor_before", JsonType),
    Column("cursor_after", JsonType),
    Column("error", Text),
    Column("dagster_run_id", String(64), index=True),
    # The sync-success KPI reads a window of start times (ops/kpis.py).
    Index("ix_sync_runs_started", "integration_id", "started_at"),
)

staging_records = Table(
    "staging_records",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _tenant(),
    Column("integration_id", Integer, ForeignKey("integrations.id"), nullable=False),
    Column("platform", String(32), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("external_id", String(128), nullable=False),
    Column("op", String(8), nullable=False, default="upsert", doc="upsert | delete"),
    Column("payload", StagedJsonType, doc="the shop's raw record (with children, e.g. variations)"),
    Column("payload_hash", String(64)),
    Column("source_updated_at", UTCDateTime),
    Column("fetched_at", UTCDateTime, nullable=False),
    Column("dagster_run_id", String(64)),
    Column("applied_at", UTCDateTime),
    Index("ix_staging_pending", "integration_id", "entity", "applied_at"),
    # What every hub step reads (store.pending_staging: a tenant's unapplied rows of one entity, by id): only the
    # rows still to apply, so a no-change run's read costs the same however much applied history is retained
    # (migration 0013; without it the read went through the tenant_id index, over the whole retained staging).
    Index(
        "ix_staging_records_unapplied",
        "tenant_id",
        "entity",
        "id",
        postgresql_where=text("applied_at IS NULL"),
        sqlite_where=text("applied_at IS NULL"),
    ),
)

webhook_inbox = Table(
    "webhook_inbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _tenant(),
    Column("integration_id", Integer, ForeignKey("integrations.id"), nullable=False),
    Column("platform", String(32), nullable=False),
    Column("delivery_key", String(128), nullable=False, unique=True),
    Column("topic", String(64), nullable=False),
    Column("headers", JsonType, nullable=False),
    Column("body", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("event_id", String(128), doc="the shop's event id (Shopify X-Shopify-Event-Id)"),
    Column("webhook_id", String(64), doc="the shop's subscription id"),
    Column("resource_id", String(128), doc="id of the record the delivery is about"),
    Column("triggered_at", UTCDateTime, doc="when the shop says the event happened"),
    Column("status", String(16), nullable=False, default="pending", doc="pending | applied | dead"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime),
    Column("processed_at", UTCDateTime),
    Column("error", Text),
    Index("ix_webhook_inbox_pending", "status", "next_attempt_at"),
    # The webhook-latency KPI reads a window of received times (ops/kpis.py).
    Index("ix_webhook_inbox_received", "integration_id", "received_at"),
)

sync_conflicts = Table(
    "sync_conflicts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _tenant(),
    Column("integration_id", Integer, ForeignKey("integrations.id"), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("hub_id", BigId, nullable=False),
    Column("field", String(64), nullable=False),
    Column("base_value", JsonType),
    Column("hub_value", JsonType),
    Column("shop_value", JsonType),
    Column("policy", String(32), nullable=False),
    Column("resolution", String(32), nullable=False, doc="hub | shop | held"),
    Column("decided_at", UTCDateTime, nullable=False),
    Column("dagster_run_id", String(64)),
    Column("resolved_at", UTCDateTime, doc="when a person decided a held conflict"),
    Column("resolved_by", String(200), doc="who decided it"),
    Column("resolved_take", String(8), doc="hub | shop | value"),
    Column("resolved_value", JsonType, doc="the value to apply (money as decimal text)"),
    Column("applied_at", UTCDateTime, doc="when a sync applied the person's decision"),
)

rejected_records = Table(
    "rejected_records",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _tenant(),
    Column("integration_id", Integer, ForeignKey("integrations.id")),
    Column("platform", String(32)),
    Column("entity", String(32), nullable=False),
    Column("external_id", String(128)),
    Column("stage", String(16), nullable=False, doc="extract | transform | resolve | webhook | export"),
    Column("reason", Text, nullable=False),
    Column("payload", JsonType),
    Column("staging_id", BigId, doc="staging_records.id the record came from, to retry it"),
    Column("dagster_run_id", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, doc="set when a later attempt applied the record"),
)

push_records = Table(
    "push_records",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # No index of its own: the (tenant_id, sku) and (tenant_id, handle) indexes lead with it.
    Column("tenant_id", String(64), nullable=False),
    Column("integration_id", Integer, ForeignKey("integrations.id"), nullable=False),
    Column("platform", String(32), nullable=False),
    Column("entity", String(32), nullable=False, doc="product | variant"),
    Column("hub_id", BigId, doc="hub_products.id or hub_variants.id; NULL for a refusal no hub record matched"),
    Column("handle", String(255), doc="the hub product's handle (a variant's: its product's)"),
    Column("sku", String(255), doc="the hub variant's SKU (NULL on product rows)"),
    Column("external_id", String(128), doc="the shop's id of the record (NULL when a create was refused)"),
    Column("sync_run_id", BigId, doc="sync_runs.id of the push (direction push, stage export)"),
    Column("run_id", String(64), nullable=False, doc="Dagster run id, or cli-<hex> for `ecom-pipeline push`"),
    Column("outcome", String(16), nullable=False, doc="created | adopted | updated | deleted | failed | refresh"),
    Column("fields", JsonType, doc='canonical fields written, e.g. ["price"]'),
    Column("message", Text, doc="the shop's refusal (failed), or a note"),
    Column("recorded_at", UTCDateTime, nullable=False),
    Index("ix_push_records_tenant_sku", "tenant_id", "sku"),
    Index("ix_push_records_tenant_handle", "tenant_id", "handle"),
    Index("ix_push_records_integration_recorded", "integration_id", "recorded_at"),
    Index("ix_push_records_sync_run", "sync_run_id"),
    Index("ix_push_records_hub", "entity", "hub_id"),
)

# --- the hub ---------------------------------------------------------------------------------------------------

hub_products = Table(
    "hub_products",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _tenant(),
    Column("title", Text, nullable=False),
    Column("description", Text),
    Column("status", String(20), nullable=False, doc="active | draft | archived"),
    Column(
        "product_type",
        String(32),
        doc="the product's kind on WooCommerce/PrestaShop (simple | variable | ...); NULL from Shopify",
    ),
    Column("vendor", String(255), doc="the brand or maker (Shopify vendor); NULL where the shop has none"),
    Column(
        "shopify_product_type",
        String(255),
        doc="Shopify's free-text product type (e.g. Mugs); never sent to another platform as its kind",
    ),
    Column("handle", String(255)),
    Column("tags", JsonType),
    Column("categories", JsonType),
    Column("source_created_at", UTCDateTime),
    Column("source_updated_at", UTCDateTime),
    Column("synced_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),
)

hub_variants = Table(
    "hub_variants",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _tenant(),
    Column("product_id", BigId, ForeignKey("hub_products.id"), nullable=False, index=True),
    Column("sku", String(255), doc="cross-shop key; NULL when the shop has none"),
    Column("title", Text),
    Column("price", Money, doc="the price a buyer sees (docs/tables.md: per platform)"),
    Column("compare_at_price", Money),
    Column(
        "sale_price",
        Money,
        doc="the reduced price: the price while a sale is in force, or a sale a shop has scheduled (docs/tables.md)",
    ),
    Column("barcode", String(64), doc="GTIN/EAN/UPC/ISBN as the shop keeps it (docs/tables.md: per platform)"),
    Column("price_tax_excl", Money, doc="the same price without tax; NULL where the platform cannot tell"),
    Column("price_includes_tax", Boolean, doc="whether price includes tax; NULL where the platform cannot tell"),
    Column("currency", String(3)),
    Column("options", JsonType, doc='{"Size": "M", "Colour": "Black"}'),
    Column("weight", String(32)),
    Column("position", Integer),
    Column("source_created_at", UTCDateTime),
    Column("source_updated_at", UTCDateTime),
    Column("synced_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),
    UniqueConstraint("tenant_id", "sku"),
)

hub_inventory = Table(
    "hub_inventory",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _tenant(),
    Column("variant_id", BigId, ForeignKey("hub_variants.id"), nullable=False),
    Column("sku", String(255)),
    Column("location", String(128), nullable=False, doc="<platform>:<integration id>:<shop location>"),
    Column("integration_id", Integer, ForeignKey("integrations.id")),
    Column("available", Integer, doc="NULL when the shop does not track stock for this item"),
    Column("managed", Boolean, nullable=False, default=True),
    Column("stock_status", String(20), doc="instock | outofstock | onbackorder"),
    Column("stock_pool", String(128), doc="rows with the same value share one quantity: count it once"),
    Column("source_updated_at", UTCDateTime),
    Column("synced_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime, doc="set when this shop no longer has the variant: its units are not stock"),
    UniqueConstraint("tenant_id", "variant_id", "location"),
)

hub_customers = Table(
    "hub_customers",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _tenant(),
    Column("email", String(320), doc="lower-cased; the cross-shop key for customers"),
    Column("first_name", String(200)),
    Column("last_name", String(200)),
    Column("phone", String(64)),
    Column("company", String(200)),
    Column("city", String(200)),
    Column("country", String(2)),
    Column("source_created_at", UTCDateTime),
    Column("source_updated_at", UTCDateTime),
    Column("synced_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),
    Index("ix_hub_customers_email", "tenant_id", "email"),
)

hub_orders = Table(
    "hub_orders",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _tenant(),
    Column("integration_id", Integer, ForeignKey("integrations.id"), nullable=False),
    Column("order_number", String(64)),
    Column("status", String(255), nullable=False, doc="the shop's own status, e.g. processing"),
    Column("financial_status", String(32), doc="pending | paid | partially_refunded | refunded | voided"),
    Column("fulfillment_status", String(32), doc="unfulfilled | fulfilled | cancelled"),
    Column("currency", String(3), nullable=False),
    Column("subtotal", Money),
    Column("discount_total", Money),
    Column("shipping_total", Money),
    Column("tax_total", Money),
    Column("total", Money, nullable=False),
    Column("refunded_total", Money),
    Column("presentment_currency", String(3), doc="currency the buyer saw, when it differs from the shop's"),
    Column("presentment_total", Money),
    Column("customer_id", BigId, ForeignKey("hub_customers.id")),
    Column("email", String(320)),
    Column("placed_at", UTCDateTime),
    Column("paid_at", UTCDateTime),
    Column("completed_at", UTCDateTime),
    Column("source_updated_at", UTCDateTime),
    Column("synced_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),
    Index("ix_hub_orders_placed", "tenant_id", "placed_at"),
)

hub_order_lines = Table(
    "hub_order_lines",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _tenant(),
    Column("order_id", BigId, ForeignKey("hub_orders.id"), nullable=False, index=True),
    Column("external_line_id", String(128)),
    Column("variant_id", BigId, ForeignKey("hub_variants.id"), doc="NULL when no known variant matches"),
    Column("sku", String(255)),
    Column("title", Text),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", Money),
    Column("subtotal", Money),
    Column("total", Money),
    Column("tax", Money),
    UniqueConstraint("order_id", "external_line_id"),
)

# --- the stock ledger (issue 11) ---------------------------------------------------------------------------------

stock_movements = Table(
    "stock_movements",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _tenant(),
    Column("variant_id", BigId, ForeignKey("hub_variants.id"), nullable=False),
    Column("location", String(200), nullable=False, doc="hub location, e.g. main"),
    Column("delta", Integer, nullable=False, doc="units added (+) or taken (-)"),
    Column(
        "reason",
        String(32),
        nullable=False,
        doc="order | cancel | refund_restock | shop_adjustment | hub_adjustment | import | count",
    ),
    Column("integration_id", Integer, ForeignKey("integrations.id"), doc="the shop it came from; NULL: the hub"),
    Column("external_ref", String(255), doc="the shop's order/line or refund id, or a person's note"),
    Column("source_key", String(300), nullable=False, doc="what the movement came from: the idempotency key"),
    Column("occurred_at", UTCDateTime, nullable=False, doc="when it happened in the shop (order time, reading)"),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("tenant_id", "source_key"),
    Index("ix_stock_movements_variant", "tenant_id", "variant_id", "location"),
)

stock_links = Table(
    "stock_links",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _tenant(),
    Column("integration_id", Integer, ForeignKey("integrations.id"), nullable=False),
    Column("variant_id", BigId, ForeignKey("hub_variants.id"), nullable=False),
    Column("hub_location", String(200), nullable=False),
    Column("shop_location", String(200), nullable=False, doc="the shop's location id (default elsewhere)"),
    Column("external_item", String(255), nullable=False, doc="the shop's stock holder (item, variation...)"),
    Column("base_quantity", Integer, doc="what the shop shows as far as the hub knows: last written or read"),
    Column("base_at", UTCDateTime, doc="when the base was written or read (older readings are ignored)"),
    Column("read_at", UTCDateTime, doc="the time of the last reading of the shop"),
    Column("linked_at", UTCDateTime, doc="the first reading: orders of this shop before it are in it"),
    Column("unconfirmed", Integer, nullable=False, default=0, doc="this shop's movements no reading showed yet"),
    Column("unmatched", Integer, nullable=False, default=0, doc="shop adjustments no order explained yet"),
    Column("buffer", String(16), doc="per-product buffer: N units or N%; NULL: the integration's"),
    Column("pushed_at", UTCDateTime),
    Column("last_error", Text),
    Column("pending_quantity", Integer, doc="the number a push is writing, recorded before the write (migration 0012)"),
    Column("pending_at", UTCDateTime, doc="when that write was about to be sent"),
    Column(
        "pool_variants", JsonType, doc="a shared pool's link: the pool's variants as the last stock step counted them"
    ),
    UniqueConstraint("integration_id", "variant_id", "hub_location"),
)

stock_oversells = Table(
    "stock_oversells",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _tenant(),
    Column("variant_id", BigId, ForeignKey("hub_variants.id"), nullable=False),
    Column("location", String(200), nullable=False),
    Column("on_hand", Integer, nullable=False, doc="on hand when detected (below zero)"),
    Column("orders", JsonType, nullable=False, doc="the order movements that sold the last units"),
    Column("detected_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, doc="set when on hand is back at zero or above"),
    Index("ix_stock_oversells_open", "tenant_id", "resolved_at"),
)

# A view as migration 0009 created it: on hand per variant and location, the sum of the ledger. Migration 0015
# replaced it with ``stock/views.py``'s (shared pools counted as one unit); kept for 0009 and 0015's downgrade.
STOCK_ON_HAND_VIEW = """
CREATE VIEW stock_on_hand AS
SELECT tenant_id, variant_id, location, SUM(delta) AS on_hand, COUNT(*) AS movements,
       MAX(occurred_at) AS last_movement_at
FROM stock_movements
GROUP BY tenant_id, variant_id, location
"""


# ``stock_available`` as migrations 0010 and 0012 create it; 0015 replaced it with ``stock/views.py``'s (on hand and
# committed per stock unit, a shared pool counted once), which imports the dialect parts below.
# What ``ecom-pipeline stock levels`` prints, as a view for analysts (docs/tables.md, "stock_available"): per stock
# link of a connected shop whose stock the hub manages, on hand - committed - buffer, never below zero. It restated
# ``ecom_pipeline.stock.levels`` in SQL before pools; the statuses are ``ledger._NOT_TAKEN`` (only
# WooCommerce has orders placed but not taken yet). Per dialect because JSON access, regexes and LEAST differ.
_STOCK_AVAILABLE_DIALECT = {
    "postgresql": {
        "settings_buffer": "i.settings ->> 'stock_buffer'",
        "managed": "i.settings -> 'stock_sync' = 'true'::jsonb",
        # a number, optionally a percentage: what settings.Buffer.parse accepts
        "valid": "TRIM(b.buffer_text) ~ '^[0-9]+([.][0-9]+)?[[:space:]]*%?$'",
        "number": "CAST(TRIM(REPLACE(b.buffer_text, '%', '')) AS NUMERIC)",
        "is_percent": "POSITION('%' IN b.buffer_text) > 0",
        "least": "LEAST",
        "big": "BIGINT",
    },
    "sqlite": {
        "settings_buffer": "CAST(json_extract(i.settings, '$.stock_buffer') AS TEXT)",
        "managed": "json_extract(i.settings, '$.stock_sync') = 1",
        "valid": (
            "TRIM(REPLACE(b.buffer_text, '%', '')) <> '' "
            "AND TRIM(REPLACE(b.buffer_text, '%', '')) NOT GLOB '*[^0-9.]*' "
            "AND TRIM(REPLACE(b.buffer_text, '%', '')) NOT GLOB '*.*.*' "
            "AND TRIM(REPLACE(b.buffer_text, '%', '')) NOT GLOB '.*' "
            "AND TRIM(REPLACE(b.buffer_text, '%', '')) NOT GLOB '*.' "
            "AND LENGTH(b.buffer_text) - LENGTH(REPLACE(b.buffer_text, '%', '')) <= 1 "
            "AND (INSTR(b.buffer_text, '%') = 0 OR SUBSTR(TRIM(b.buffer_text), -1) = '%')"
        ),
        "number": "CAST(TRIM(REPLACE(b.buffer_text, '%', '')) AS REAL)",
        "is_percent": "INSTR(b.buffer_text, '%') > 0",
        "least": "MIN",
        "big": "INTEGER",
    },
}

_STOCK_AVAILABLE_TEMPLATE = """
CREATE VIEW stock_available AS
WITH first_link AS (
    SELECT integration_id, variant_id, MIN(id) AS id FROM stock_links GROUP BY integration_id, variant_id
),
committed AS (
    SELECT l.tenant_id, l.variant_id, COALESCE(sl.hub_location, 'main') AS location,
           SUM(CASE WHEN l.quantity > 0 THEN l.quantity ELSE 0 END) AS committed
    FROM hub_order_lines l
    JOIN hub_orders o ON o.id = l.order_id
    JOIN integrations oi ON oi.id = o.integration_id
    LEFT JOIN first_link f ON f.integration_id = o.integration_id AND f.variant_id = l.variant_id
    LEFT JOIN stock_links sl ON sl.id = f.id
    WHERE l.variant_id IS NOT NULL AND o.deleted_at IS NULL
      AND oi.platform = 'woocommerce' AND LOWER(o.status) IN ('checkout-draft', 'pending')
      AND (o.fulfillment_status IS NULL OR o.fulfillment_status <> 'cancelled')
    GROUP BY l.tenant_id, l.variant_id, COALESCE(sl.hub_location, 'main')
),
hand AS (
    SELECT tenant_id, variant_id, location, SUM(delta) AS on_hand
    FROM stock_movements GROUP BY tenant_id, variant_id, location
),
b AS (
    SELECT sl.id AS link_id, sl.tenant_id, sl.variant_id, sl.integration_id, i.platform,
           sl.hub_location AS location, COALESCE(h.on_hand, 0) AS on_hand, COALESCE(c.committed, 0) AS committed,
           COALESCE(h.on_hand, 0) - COALESCE(c.committed, 0) AS free,
           TRIM(COALESCE(CASE WHEN sl.buffer <> '' THEN sl.buffer END, {settings_buffer}, '0')) AS buffer_text,
           COALESCE(sl.base_quantity, 0) + COALESCE(sl.unconfirmed, 0) AS shop_shows
    FROM stock_links sl
    JOIN integrations i ON i.id = sl.integration_id
    LEFT JOIN hand h ON h.tenant_id = sl.tenant_id AND h.variant_id = sl.variant_id AND h.location = sl.hub_location
    LEFT JOIN committed c
           ON c.tenant_id = sl.tenant_id AND c.variant_id = sl.variant_id AND c.location = sl.hub_location
    WHERE i.status <> 'disconnected' AND {managed}
),
r AS (
    SELECT b.*,
           CASE
               WHEN b.buffer_text = '' THEN 0
               WHEN NOT ({valid}) THEN NULL
               WHEN NOT ({is_percent}) AND b.buffer_text LIKE '%.%' THEN NULL
               WHEN ({is_percent}) AND {number} > 100 THEN NULL
               WHEN b.free <= 0 THEN 0
               WHEN NOT ({is_percent}) THEN {least}(b.free, CAST({number} AS {big}))
               ELSE {least}(b.free, (CAST(b.free AS {big}) * CAST(ROUND({number} * 10000) AS {big}) + 999999) / 1000000)
           END AS buffer
    FROM b
)
SELECT r.tenant_id, r.variant_id, v.sku, r.integration_id, r.platform, r.location, r.on_hand, r.committed,
       r.buffer, CASE WHEN r.buffer IS NULL THEN NULL WHEN r.free - r.buffer < 0 THEN 0 ELSE r.free - r.buffer END
       AS available, r.shop_shows, r.link_id
FROM r JOIN hub_variants v ON v.id = r.variant_id
"""


def stock_available_view(dialect: str) -> str:
    """``CREATE VIEW stock_available`` for a dialect (``postgresql`` or ``sqlite``), as migration 0010 runs it."""
    return _STOCK_AVAILABLE_TEMPLATE.format(**_STOCK_AVAILABLE_DIALECT[dialect])


HUB_TABLES = (hub_products, hub_variants, hub_inventory, hub_customers, hub_orders, hub_order_lines)
