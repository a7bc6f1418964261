"""Hub products keep Shopify's vendor and product type, apart from the WooCommerce/PrestaShop kind.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05

- ``hub_products.vendor`` (VARCHAR 255): the product's brand or maker, Shopify's ``vendor``. WooCommerce and
  PrestaShop have no such field by default (PrestaShop's manufacturer is a separate record, not read): NULL there.
- ``hub_products.shopify_product_type`` (VARCHAR 255): Shopify's ``productType``, the merchant's own free-text
  classification ("Mugs", "Outdoor > Tents ..."). It used to land in ``product_type``, which is the *kind* of a
  WooCommerce/PrestaShop product (``simple``, ``variable``, ``standard``, ``combinations``...) that the WooCommerce
  push reads to choose simple or variable, and which holds 32 characters: a longer Shopify type failed the page on
  PostgreSQL and was kept whole only because SQLite does not check lengths. A column of its own (rather than a
  wider ``product_type``) keeps the two meanings apart, so a Shopify type never reaches WooCommerce as a kind, and
  a pull of one platform does not overwrite the other's value.

Data: a product linked to a Shopify shop whose ``product_type`` is not one of the WooCommerce/PrestaShop kinds
holds Shopify's type there: it moves to ``shopify_product_type`` and ``product_type`` becomes NULL. The vendor was
never stored: it arrives with the next pull that reads each product (a full refresh reads them all). Existing
links' bases lack both fields and read as NULL, so a shop value is a shop change the merge takes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# The kinds WooCommerce (``type``) and PrestaShop (``product_type`` / ``type``) report: these stay in product_type.
KINDS = ("simple", "variable", "grouped", "external", "standard", "combinations", "pack", "virtual")

_SHOPIFY_LINKED = (
    "EXISTS (SELECT 1 FROM entity_links l JOIN integrations i ON i.id = l.integration_id "
    "WHERE l.entity = 'product' AND l.hub_id = hub_products.id AND i.platform = 'shopify')"
)


def upgrade() -> None:
    with op.batch_alter_table("hub_products") as batch:
        batch.add_column(sa.Column("vendor", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("shopify_product_type", sa.String(length=255), nullable=True))
    kinds = ", ".join(f"'{k}'" for k in KINDS)
    op.execute(
        "UPDATE hub_products SET shopify_product_type = product_type, product_type = NULL "
        f"WHERE product_type IS NOT NULL AND LOWER(product_type) NOT IN ({kinds}) AND {_SHOPIFY_LINKED}"
    )


def downgrade() -> None:
    # Shopify's type goes back where it was (cut to the old column's 32 characters, as PostgreSQL would refuse it).
    op.execute(
        "UPDATE hub_products SET product_type = SUBSTR(shopify_product_type, 1, 32) "
        "WHERE product_type IS NULL AND shopify_product_type IS NOT NULL"
    )
    with op.batch_alter_table("hub_products") as batch:
        batch.drop_column("shopify_product_type")
        batch.drop_column("vendor")
