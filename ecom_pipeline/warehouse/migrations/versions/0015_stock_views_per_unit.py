"""The stock views count a shared pool as one stock unit; a pool's link remembers its variants (``pool_variants``).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05

A WooCommerce variable product whose stock the parent manages is one shared pool, one stock unit in the ledger
(``ecom_pipeline/stock/pools.py``): booked on the pool's lowest variant, on hand summed over its variants. ``stock
levels`` and the push used the pool's number, but ``stock_on_hand`` (0009) and ``stock_available`` (0010) summed the
ledger per variant: for a pooled variant they showed only its own movements (a sale of M: M at -1, S at the pool's
opening, L at nothing), so analysts read numbers no shop shows. Now (SQL in ``ecom_pipeline/stock/views.py``):

- ``stock_pool_members`` (new): which variants form each shared pool's unit, with the unit's key
  ``unit_variant_id`` (its lowest variant);
- ``stock_on_hand``: ``on_hand``, ``movements`` and ``last_movement_at`` are the unit's (a pooled variant shows its
  pool's number, and every variant of a pool has a row), new ``unit_variant_id``, ``unit_variants`` and
  ``own_on_hand`` (the variant's own sum, the old ``on_hand``); one row per unit where ``variant_id =
  unit_variant_id``;
- ``stock_available``: on hand and committed per unit (the pool's available, as pushed), new ``unit_variant_id``.

The old columns keep their names and order.

``stock_links.pool_variants`` (JSON, NULL): on a shared pool's link, the pool's variants as the last stock step
counted them (``links.remember_pools``). When a pool ends, or variations leave one that goes on, the link used to
stand for every variation the shop lists under the parent, so a variation added with stock of its own in the same
change was carried over as a leaver: its on hand set to the shop's number (over what other shops had), and a pool
that went on took that variation's balance on top of its own. Links made before this revision have none until the
next stock step writes it (until then the shop's list is used, as before).

The views read ``hub_inventory`` and ``stock_links``:
a later migration that rebuilds either table on SQLite (``batch_alter_table``) drops these views first and creates
them again after (see 0012's downgrade).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ecom_pipeline.stock.views import create_statements, drop_statements
from ecom_pipeline.warehouse.schema import STOCK_ON_HAND_VIEW, stock_available_view

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stock_links") as batch:
        batch.add_column(sa.Column("pool_variants", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")))
    for statement in drop_statements():
        op.execute(statement)
    for statement in create_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_statements():
        op.execute(statement)
    # recreate="never": SQLite (3.35+) drops the column in place (a rebuild of stock_links would trip on the views).
    with op.batch_alter_table("stock_links", recreate="never") as batch:
        batch.drop_column("pool_variants")
    op.execute(STOCK_ON_HAND_VIEW)
    op.execute(stock_available_view(op.get_bind().dialect.name))
