"""Hub products keep Shopify's vendor and product type, apart from the WooCommerce/PrestaShop kind.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05

- ``hub_products.vendor`` (VARCHAR 255): the product's brand or maker, Shopify's ``vendor``. WooCommerce and
  PrestaShop have no such field by default (PrestaShop's manufacturer is a separate record, not read): NULL there.
- ``hub_products.shopify_product_type`` (VARCHAR 255): Shopify's ``productType``, the merchant's own free-text
  classification ("Mugs", "Outdoor > Tents ..."). It used to land in ``product_type``, which is the *kind* of a
  WooCommerce/PrestaShop product (``simple``, ``variable``, ``standard``, ``combinations``...) that the WooCommerce
  push reads to choose simple or variable, and which holds 32 characters: a longer Shopify type failed the products
  step on PostgreSQL (``value too long for type character varying(32)``) and was kept whole only because SQLite does
  not check lengths. A column of its own (rather than a
  wider ``product_type``) keeps the two meanings apart, so a Shopify type never reaches WooCommerce as a kind, and
  a pull of one platform does not overwrite the other's value.

Data: a product with a live link to a Shopify shop whose ``product_type`` is not one of the WooCommerce/PrestaShop kinds
holds Shopify's type there: it moves to ``shopify_product_type`` and ``product_type`` becomes NULL. The vendor was
never stored: it arrives with the next pull that reads each product (a full refresh reads them all). Existing
links' bases lack the vendor and read it as NULL, so a shop vendor is a shop change the merge takes; a Shopify link's
base whose product_type is the moved value gets it as shopify_product_type too, so the hub's moved type is not a hub
change that the next push would send back unchanged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# The kinds WooCommerce (``type``) and PrestaShop (``product_type`` / ``type``) report: these stay in product_type.
KINDS = ("simple", "variable", "grouped", "external", "standard", "combinations", "pack", "virtual")
CHUNK = 500

_SHOPIFY_LINKED = (
    "EXISTS (SELECT 1 FROM entity_links l JOIN integrations i ON i.id = l.integration_id "
    "WHERE l.entity = 'product' AND l.hub_id = hub_products.id AND i.platform = 'shopify' AND l.deleted_at IS NULL)"
)
_MOVED = f"product_type IS NOT NULL AND LOWER(product_type) NOT IN ({', '.join(repr(k) for k in KINDS)})"

_links = sa.table(
    "entity_links",
    sa.column("id", sa.BigInteger),
    sa.column("integration_id", sa.BigInteger),
    sa.column("entity", sa.String),
    sa.column("hub_id", sa.BigInteger),
    sa.column("base_snapshot", sa.JSON().with_variant(JSONB(), "postgresql")),
    sa.column("deleted_at", sa.DateTime),
)
_integrations = sa.table("integrations", sa.column("id", sa.BigInteger), sa.column("platform", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("hub_products") as batch:
        batch.add_column(sa.Column("vendor", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("shopify_product_type", sa.String(length=255), nullable=True))
    conn = op.get_bind()
    found = conn.execute(sa.text(f"SELECT id, product_type FROM hub_products WHERE {_MOVED} AND {_SHOPIFY_LINKED}"))
    moved: dict[int, str] = {int(pid): str(kind) for pid, kind in found}
    if not moved:
        return
    conn.execute(
        sa.text(
            "UPDATE hub_products SET shopify_product_type = product_type, product_type = NULL "
            f"WHERE {_MOVED} AND {_SHOPIFY_LINKED}"
        )
    )
    # The Shopify links' bases hold the type as product_type: the same value as shopify_product_type too, so the
    # first push after the upgrade does not see the moved type as a hub change and send it back unchanged.
    ids = sorted(moved)
    for start in range(0, len(ids), CHUNK):
        rows = conn.execute(
            sa.select(_links.c.id, _links.c.hub_id, _links.c.base_snapshot)
            .select_from(_links.join(_integrations, _integrations.c.id == _links.c.integration_id))
            .where(
                _links.c.entity == "product",
                _integrations.c.platform == "shopify",
                _links.c.deleted_at.is_(None),
                _links.c.hub_id.in_(ids[start : start + CHUNK]),
            )
        ).all()
        for link_id, hub_id, base in rows:
            if isinstance(base, dict) and base.get("product_type") == moved[int(hub_id)]:
                conn.execute(
                    sa.update(_links)
                    .where(_links.c.id == link_id)
                    .values(base_snapshot={**base, "shopify_product_type": moved[int(hub_id)]})
                )


def downgrade() -> None:
    # Shopify's type goes back where it was (cut to the old column's 32 characters, as PostgreSQL would refuse it).
    op.execute(
        "UPDATE hub_products SET product_type = SUBSTR(shopify_product_type, 1, 32) "
        "WHERE product_type IS NULL AND shopify_product_type IS NOT NULL"
    )
    # recreate="never": SQLite (3.35+) drops a column in place. Alembic's default on SQLite rebuilds the table, and
    # its DROP TABLE fails with foreign keys on (hub_variants.product_id) as soon as the hub has one variant.
    with op.batch_alter_table("hub_products", recreate="never") as batch:
        batch.drop_column("shopify_product_type")
        batch.drop_column("vendor")
