"""Initial warehouse: every table of ``ecom_pipeline.warehouse.schema`` as of the first release.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

The types are spelled out here rather than imported from ``schema`` so that later edits to the schema module
cannot silently change what this (already applied) revision means. ``Money`` and ``UTCDateTime`` are imported
because they choose a per-dialect column type at DDL time (NUMERIC/TIMESTAMPTZ on PostgreSQL, text on SQLite).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ecom_pipeline.warehouse.types import Money, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JsonType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY, so big ids are INTEGER there.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hub_customers",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("first_name", sa.String(length=200), nullable=True),
        sa.Column("last_name", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("city", sa.String(length=200), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("source_created_at", UTCDateTime(), nullable=True),
        sa.Column("source_updated_at", UTCDateTime(), nullable=True),
        sa.Column("synced_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_customers")),
    )
    op.create_index("ix_hub_customers_email", "hub_customers", ["tenant_id", "email"], unique=False)
    op.create_index(op.f("ix_hub_customers_tenant_id"), "hub_customers", ["tenant_id"], unique=False)
    op.create_table(
        "hub_products",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("product_type", sa.String(length=32), nullable=True),
        sa.Column("handle", sa.String(length=255), nullable=True),
        sa.Column("tags", JsonType, nullable=True),
        sa.Column("categories", JsonType, nullable=True),
        sa.Column("source_created_at", UTCDateTime(), nullable=True),
        sa.Column("source_updated_at", UTCDateTime(), nullable=True),
        sa.Column("synced_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_products")),
    )
    op.create_index(op.f("ix_hub_products_tenant_id"), "hub_products", ["tenant_id"], unique=False)
    op.create_table(
        "integrations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("credentials_encrypted", sa.Text(), nullable=False),
        sa.Column("settings", JsonType, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("disconnected_at", UTCDateTime(), nullable=True),
        sa.Column("last_sync_at", UTCDateTime(), nullable=True),
        sa.Column("last_success_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", UTCDateTime(), nullable=True),
        sa.Column("counts", JsonType, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrations")),
        sa.UniqueConstraint(
            "tenant_id", "platform", "base_url", name=op.f("uq_integrations_tenant_id_platform_base_url")
        ),
    )
    op.create_index(op.f("ix_integrations_tenant_id"), "integrations", ["tenant_id"], unique=False)
    op.create_table(
        "entity_links",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("external_parent_id", sa.String(length=128), nullable=True),
        sa.Column("hub_id", BigId, nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("base_snapshot", JsonType, nullable=True),
        sa.Column("base_hash", sa.String(length=64), nullable=True),
        sa.Column("external_updated_at", UTCDateTime(), nullable=True),
        sa.Column("last_synced_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"], ["integrations.id"], name=op.f("fk_entity_links_integration_id_integrations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entity_links")),
        sa.UniqueConstraint(
            "integration_id", "entity", "external_id", name=op.f("uq_entity_links_integration_id_entity_external_id")
        ),
    )
    op.create_index("ix_entity_links_hub", "entity_links", ["entity", "hub_id"], unique=False)
    op.create_index(op.f("ix_entity_links_tenant_id"), "entity_links", ["tenant_id"], unique=False)
    op.create_table(
        "hub_orders",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("order_number", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("financial_status", sa.String(length=32), nullable=True),
        sa.Column("fulfillment_status", sa.String(length=32), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("subtotal", Money(), nullable=True),
        sa.Column("discount_total", Money(), nullable=True),
        sa.Column("shipping_total", Money(), nullable=True),
        sa.Column("tax_total", Money(), nullable=True),
        sa.Column("total", Money(), nullable=False),
        sa.Column("refunded_total", Money(), nullable=True),
        sa.Column("customer_id", BigId, nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("placed_at", UTCDateTime(), nullable=True),
        sa.Column("paid_at", UTCDateTime(), nullable=True),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("source_updated_at", UTCDateTime(), nullable=True),
        sa.Column("synced_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["hub_customers.id"], name=op.f("fk_hub_orders_customer_id_hub_customers")
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"], ["integrations.id"], name=op.f("fk_hub_orders_integration_id_integrations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_orders")),
    )
    op.create_index("ix_hub_orders_placed", "hub_orders", ["tenant_id", "placed_at"], unique=False)
    op.create_index(op.f("ix_hub_orders_tenant_id"), "hub_orders", ["tenant_id"], unique=False)
    op.create_table(
        "hub_variants",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("product_id", BigId, nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("price", Money(), nullable=True),
        sa.Column("compare_at_price", Money(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("options", JsonType, nullable=True),
        sa.Column("weight", sa.String(length=32), nullable=True),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("source_created_at", UTCDateTime(), nullable=True),
        sa.Column("source_updated_at", UTCDateTime(), nullable=True),
        sa.Column("synced_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"], ["hub_products.id"], name=op.f("fk_hub_variants_product_id_hub_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_variants")),
        sa.UniqueConstraint("tenant_id", "sku", name=op.f("uq_hub_variants_tenant_id_sku")),
    )
    op.create_index(op.f("ix_hub_variants_product_id"), "hub_variants", ["product_id"], unique=False)
    op.create_index(op.f("ix_hub_variants_tenant_id"), "hub_variants", ["tenant_id"], unique=False)
    op.create_table(
        "rejected_records",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=True),
        sa.Column("platform", sa.String(length=32), nullable=True),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", JsonType, nullable=True),
        sa.Column("staging_id", BigId, nullable=True),
        sa.Column("dagster_run_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"], ["integrations.id"], name=op.f("fk_rejected_records_integration_id_integrations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_records")),
    )
    op.create_index(op.f("ix_rejected_records_tenant_id"), "rejected_records", ["tenant_id"], unique=False)
    op.create_table(
        "staging_records",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("op", sa.String(length=8), nullable=False),
        sa.Column("payload", JsonType, nullable=True),
        sa.Column("payload_hash", sa.String(length=64), nullable=True),
        sa.Column("source_updated_at", UTCDateTime(), nullable=True),
        sa.Column("fetched_at", UTCDateTime(), nullable=False),
        sa.Column("dagster_run_id", sa.String(length=64), nullable=True),
        sa.Column("applied_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"], ["integrations.id"], name=op.f("fk_staging_records_integration_id_integrations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staging_records")),
    )
    op.create_index("ix_staging_pending", "staging_records", ["integration_id", "entity", "applied_at"], unique=False)
    op.create_index(op.f("ix_staging_records_tenant_id"), "staging_records", ["tenant_id"], unique=False)
    op.create_table(
        "sync_conflicts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("hub_id", BigId, nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("base_value", JsonType, nullable=True),
        sa.Column("hub_value", JsonType, nullable=True),
        sa.Column("shop_value", JsonType, nullable=True),
        sa.Column("policy", sa.String(length=32), nullable=False),
        sa.Column("resolution", sa.String(length=32), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.Column("dagster_run_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"], ["integrations.id"], name=op.f("fk_sync_conflicts_integration_id_integrations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_conflicts")),
    )
    op.create_index(op.f("ix_sync_conflicts_tenant_id"), "sync_conflicts", ["tenant_id"], unique=False)
    op.create_table(
        "sync_cursors",
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("cursor", JsonType, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"], ["integrations.id"], name=op.f("fk_sync_cursors_integration_id_integrations")
        ),
        sa.PrimaryKeyConstraint("integration_id", "entity", name=op.f("pk_sync_cursors")),
    )
    op.create_index(op.f("ix_sync_cursors_tenant_id"), "sync_cursors", ["tenant_id"], unique=False)
    op.create_table(
        "sync_runs",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=True),
        sa.Column("platform", sa.String(length=32), nullable=True),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("full_refresh", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("rows_fetched", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("api_calls", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("throttle_wait_s", sa.Float(), nullable=False),
        sa.Column("cursor_before", JsonType, nullable=True),
        sa.Column("cursor_after", JsonType, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("dagster_run_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"], ["integrations.id"], name=op.f("fk_sync_runs_integration_id_integrations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_index(op.f("ix_sync_runs_dagster_run_id"), "sync_runs", ["dagster_run_id"], unique=False)
    op.create_index(op.f("ix_sync_runs_tenant_id"), "sync_runs", ["tenant_id"], unique=False)
    op.create_table(
        "webhook_inbox",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("delivery_key", sa.String(length=128), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("headers", JsonType, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("processed_at", UTCDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"], ["integrations.id"], name=op.f("fk_webhook_inbox_integration_id_integrations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_inbox")),
        sa.UniqueConstraint("delivery_key", name=op.f("uq_webhook_inbox_delivery_key")),
    )
    op.create_index("ix_webhook_inbox_pending", "webhook_inbox", ["status", "next_attempt_at"], unique=False)
    op.create_index(op.f("ix_webhook_inbox_tenant_id"), "webhook_inbox", ["tenant_id"], unique=False)
    op.create_table(
        "hub_inventory",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("variant_id", BigId, nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("location", sa.String(length=128), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=True),
        sa.Column("available", sa.Integer(), nullable=True),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("stock_status", sa.String(length=20), nullable=True),
        sa.Column("stock_pool", sa.String(length=128), nullable=True),
        sa.Column("source_updated_at", UTCDateTime(), nullable=True),
        sa.Column("synced_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"], ["integrations.id"], name=op.f("fk_hub_inventory_integration_id_integrations")
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"], ["hub_variants.id"], name=op.f("fk_hub_inventory_variant_id_hub_variants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_inventory")),
        sa.UniqueConstraint(
            "tenant_id", "variant_id", "location", name=op.f("uq_hub_inventory_tenant_id_variant_id_location")
        ),
    )
    op.create_index(op.f("ix_hub_inventory_tenant_id"), "hub_inventory", ["tenant_id"], unique=False)
    op.create_table(
        "hub_order_lines",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", BigId, nullable=False),
        sa.Column("external_line_id", sa.String(length=128), nullable=True),
        sa.Column("variant_id", BigId, nullable=True),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", Money(), nullable=True),
        sa.Column("subtotal", Money(), nullable=True),
        sa.Column("total", Money(), nullable=True),
        sa.Column("tax", Money(), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["hub_orders.id"], name=op.f("fk_hub_order_lines_order_id_hub_orders")),
        sa.ForeignKeyConstraint(
            ["variant_id"], ["hub_variants.id"], name=op.f("fk_hub_order_lines_variant_id_hub_variants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_order_lines")),
        sa.UniqueConstraint("order_id", "external_line_id", name=op.f("uq_hub_order_lines_order_id_external_line_id")),
    )
    op.create_index(op.f("ix_hub_order_lines_order_id"), "hub_order_lines", ["order_id"], unique=False)
    op.create_index(op.f("ix_hub_order_lines_tenant_id"), "hub_order_lines", ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_hub_order_lines_tenant_id"), table_name="hub_order_lines")
    op.drop_index(op.f("ix_hub_order_lines_order_id"), table_name="hub_order_lines")
    op.drop_table("hub_order_lines")
    op.drop_index(op.f("ix_hub_inventory_tenant_id"), table_name="hub_inventory")
    op.drop_table("hub_inventory")
    op.drop_index(op.f("ix_webhook_inbox_tenant_id"), table_name="webhook_inbox")
    op.drop_index("ix_webhook_inbox_pending", table_name="webhook_inbox")
    op.drop_table("webhook_inbox")
    op.drop_index(op.f("ix_sync_runs_tenant_id"), table_name="sync_runs")
    op.drop_index(op.f("ix_sync_runs_dagster_run_id"), table_name="sync_runs")
    op.drop_table("sync_runs")
    op.drop_index(op.f("ix_sync_cursors_tenant_id"), table_name="sync_cursors")
    op.drop_table("sync_cursors")
    op.drop_index(op.f("ix_sync_conflicts_tenant_id"), table_name="sync_conflicts")
    op.drop_table("sync_conflicts")
    op.drop_index(op.f("ix_staging_records_tenant_id"), table_name="staging_records")
    op.drop_index("ix_staging_pending", table_name="staging_records")
    op.drop_table("staging_records")
    op.drop_index(op.f("ix_rejected_records_tenant_id"), table_name="rejected_records")
    op.drop_table("rejected_records")
    op.drop_index(op.f("ix_hub_variants_tenant_id"), table_name="hub_variants")
    op.drop_index(op.f("ix_hub_variants_product_id"), table_name="hub_variants")
    op.drop_table("hub_variants")
    op.drop_index(op.f("ix_hub_orders_tenant_id"), table_name="hub_orders")
    op.drop_index("ix_hub_orders_placed", table_name="hub_orders")
    op.drop_table("hub_orders")
    op.drop_index(op.f("ix_entity_links_tenant_id"), table_name="entity_links")
    op.drop_index("ix_entity_links_hub", table_name="entity_links")
    op.drop_table("entity_links")
    op.drop_index(op.f("ix_integrations_tenant_id"), table_name="integrations")
    op.drop_table("integrations")
    op.drop_index(op.f("ix_hub_products_tenant_id"), table_name="hub_products")
    op.drop_table("hub_products")
    op.drop_index(op.f("ix_hub_customers_tenant_id"), table_name="hub_customers")
    op.drop_index("ix_hub_customers_email", table_name="hub_customers")
    op.drop_table("hub_customers")
