"""Prices analysts can read: the tax-excluded price and whether ``price`` includes tax.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

- ``hub_variants.price_tax_excl``: the variant's price without tax (NULL where the platform cannot tell).
- ``hub_variants.price_includes_tax``: whether ``hub_variants.price`` includes tax (NULL where unknown).

``price`` stays the price a buyer sees; docs/tables.md says per platform which shop field fills which column.
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


def downgrade() -> None:
    with op.batch_alter_table("hub_variants") as batch:
        batch.drop_column("price_includes_tax")
        batch.drop_column("price_tax_excl")
