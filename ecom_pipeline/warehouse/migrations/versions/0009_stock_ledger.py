"""The stock ledger: movements, per-shop stock links, oversells, and on hand as a view.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

- ``stock_movements``: every change of on-hand stock (order, cancel, refund_restock, shop_adjustment,
  hub_adjustment, import, count) with the shop and reference it came from; ``UNIQUE (tenant_id, source_key)`` makes
  each movement idempotent by its source (an order line seen by webhook and by poll counts once).
- ``stock_links``: per shop and hub variant, where its stock is written (location mapping, the shop's item) and the
  quantity we last set there (the base a shop's reading is compared with), plus an optional per-product buffer.
- ``stock_oversells``: on hand below zero, with the orders that sold the last units.
- ``stock_on_hand`` (a view): the sum of the ledger per variant and location.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ecom_pipeline.warehouse.schema import STOCK_ON_HAND_VIEW
from ecom_pipeline.warehouse.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JsonType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "stock_movements",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("variant_id", BigId, sa.ForeignKey("hub_variants.id"), nullable=False),
        sa.Column("location", sa.String(200), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("integration_id", sa.Integer(), sa.ForeignKey("integrations.id"), nullable=True),
        sa.Column("external_ref", sa.String(255), nullable=True),
        sa.Column("source_key", sa.String(300), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "source_key", name="uq_stock_movements_tenant_id_source_key"),
    )
    op.create_index("ix_stock_movements_tenant_id", "stock_movements", ["tenant_id"])
    op.create_index("ix_stock_movements_variant", "stock_movements", ["tenant_id", "variant_id", "location"])
    op.create_table(
        "stock_links",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("integration_id", sa.Integer(), sa.ForeignKey("integrations.id"), nullable=False),
        sa.Column("variant_id", BigId, sa.ForeignKey("hub_variants.id"), nullable=False),
        sa.Column("hub_location", sa.String(200), nullable=False),
        sa.Column("shop_location", sa.String(200), nullable=False),
        sa.Column("external_item", sa.String(255), nullable=False),
        sa.Column("base_quantity", sa.Integer(), nullable=True),
        sa.Column("base_at", UTCDateTime(), nullable=True),
        sa.Column("read_at", UTCDateTime(), nullable=True),
        sa.Column("linked_at", UTCDateTime(), nullable=True),
        sa.Column("unconfirmed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("unmatched", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("buffer", sa.String(16), nullable=True),
        sa.Column("pushed_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.UniqueConstraint(
            "integration_id", "variant_id", "hub_location", name="uq_stock_links_integration_id_variant_id_hub_location"
        ),
    )
    op.create_index("ix_stock_links_tenant_id", "stock_links", ["tenant_id"])
    op.create_table(
        "stock_oversells",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("variant_id", BigId, sa.ForeignKey("hub_variants.id"), nullable=False),
        sa.Column("location", sa.String(200), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("orders", JsonType, nullable=False),
        sa.Column("detected_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_stock_oversells_tenant_id", "stock_oversells", ["tenant_id"])
    op.create_index("ix_stock_oversells_open", "stock_oversells", ["tenant_id", "resolved_at"])
    op.execute(STOCK_ON_HAND_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW stock_on_hand")
    op.drop_table("stock_oversells")
    op.drop_table("stock_links")
    op.drop_table("stock_movements")
