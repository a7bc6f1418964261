"""Stock rows of deleted items are tombstoned too.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-03

- ``hub_inventory.deleted_at``: set when the shop no longer has the variant (its link is tombstoned), so units of
  deleted products stop counting as stock. Rows are never removed, like every hub row.

Existing rows of variants their shop already deleted are tombstoned here with the time of that deletion (the
link's ``deleted_at``), so an upgraded hub stops overstating stock without waiting for a full refresh.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecom_pipeline.warehouse.types import UTCDateTime

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hub_inventory") as batch:
        batch.add_column(sa.Column("deleted_at", UTCDateTime(), nullable=True))
    # Rows whose shop links the variant only through tombstoned links: copy the link's deletion time.
    op.execute(
        sa.text(
            """
            UPDATE hub_inventory SET deleted_at = (
                SELECT max(l.deleted_at) FROM entity_links l
                WHERE l.entity = 'variant' AND l.integration_id = hub_inventory.integration_id
                  AND l.hub_id = hub_inventory.variant_id
            )
            WHERE deleted_at IS NULL AND integration_id IS NOT NULL
              AND EXISTS (
                SELECT 1 FROM entity_links l
                WHERE l.entity = 'variant' AND l.integration_id = hub_inventory.integration_id
                  AND l.hub_id = hub_inventory.variant_id AND l.deleted_at IS NOT NULL
              )
              AND NOT EXISTS (
                SELECT 1 FROM entity_links l
                WHERE l.entity = 'variant' AND l.integration_id = hub_inventory.integration_id
                  AND l.hub_id = hub_inventory.variant_id AND l.deleted_at IS NULL
              )
            """
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("hub_inventory") as batch:
        batch.drop_column("deleted_at")
