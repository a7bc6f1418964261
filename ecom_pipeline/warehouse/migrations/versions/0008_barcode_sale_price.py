"""Variants keep their barcode and their sale price.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

- ``hub_variants.barcode``: GTIN/EAN/UPC/ISBN as the shop keeps it (Shopify ``barcode``, WooCommerce
  ``global_unique_id``, PrestaShop ``ean13``/``upc``/``isbn``), text since leading zeros matter.
- ``hub_variants.sale_price``: the reduced price (the price while a sale is in force, or a sale a shop has
  scheduled: WooCommerce ``sale_price``).

Both are NULL until the next pull of each shop fills them; existing links' bases lack them and read as NULL, so
the first pull after the upgrade is a shop change the merge takes (nothing is pushed back).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecom_pipeline.warehouse.types import Money

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hub_variants") as batch:
        batch.add_column(sa.Column("sale_price", Money(), nullable=True))
        batch.add_column(sa.Column("barcode", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hub_variants") as batch:
        batch.drop_column("barcode")
        batch.drop_column("sale_price")
