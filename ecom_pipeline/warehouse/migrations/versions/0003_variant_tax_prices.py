"""Prices analysts can read: the tax-excluded price and whether ``price`` includes tax.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

- ``hub_variants.price_tax_excl``: the variant's price without tax (NULL where the platform cannot tell).
- ``hub_variants.price_includes_tax``: whether ``hub_variants.price`` includes tax (NULL where unknown).

``price`` stays the price a buyer sees; docs/tables.md says per platform which shop field fills which column.

- ``hub_orders.status`` widened from 32 to 255 characters: it holds the shop's own status, and PrestaShop order
  state names are longer ("Awaiting Cash On Delivery validation", 36; French "En attente du réapprovisionnement
  (non payé)", 44), which PostgreSQL refused, failing the whole batch.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecom_pipeline.warehouse.types import Money

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hub_variants") as batch:
        batch.add_column(sa.Column("price_tax_excl", Money(), nullable=True))
        batch.add_column(sa.Column("price_includes_tax", sa.Boolean(), nullable=True))
    with op.batch_alter_table("hub_orders") as batch:
        batch.alter_column(
            "status", existing_type=sa.String(length=32), type_=sa.String(length=255), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("hub_orders") as batch:
        batch.alter_column(
            "status", existing_type=sa.String(length=255), type_=sa.String(length=32), existing_nullable=False
        )
    with op.batch_alter_table("hub_variants") as batch:
        batch.drop_column("price_includes_tax")
        batch.drop_column("price_tax_excl")
