"""A held conflict can be decided by a person, and the decision is kept.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

``sync_conflicts`` gains what ``ecom-pipeline conflicts resolve`` records for a held conflict: when and by whom it
was decided (``resolved_at``, ``resolved_by``), which side was taken (``resolved_take``: ``hub``, ``shop`` or
``value``), the value to apply (``resolved_value``), and ``applied_at``, set by the sync that applies it. Existing
rows are left as they are: NULL means not decided by a person.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ecom_pipeline.warehouse.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JsonType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("sync_conflicts") as batch:
        batch.add_column(sa.Column("resolved_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("resolved_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("resolved_take", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("resolved_value", JsonType, nullable=True))
        batch.add_column(sa.Column("applied_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_conflicts") as batch:
        for name in ("applied_at", "resolved_value", "resolved_take", "resolved_by", "resolved_at"):
            batch.drop_column(name)
