"""Per-record lineage of pushes: ``push_records``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

One row per record a push wrote to a shop (or that the shop refused): which push (``sync_run_id``, ``run_id``),
what happened (``outcome``: created, adopted, updated, failed, refresh), the shop id it got (``external_id``) and
the fields written. Written in the same transaction as the link it explains (``ecom_pipeline/sync/lineage.py``).
A new table: nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ecom_pipeline.warehouse.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

JsonType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "push_records",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("hub_id", BigId, nullable=True),
        sa.Column("handle", sa.String(length=255), nullable=True),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("sync_run_id", BigId, nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("fields", JsonType, nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"], ["integrations.id"], name="fk_push_records_integration_id_integrations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_push_records"),
    )
    op.create_index("ix_push_records_tenant_sku", "push_records", ["tenant_id", "sku"])
    op.create_index("ix_push_records_tenant_handle", "push_records", ["tenant_id", "handle"])
    op.create_index("ix_push_records_integration_recorded", "push_records", ["integration_id", "recorded_at"])
    op.create_index("ix_push_records_sync_run", "push_records", ["sync_run_id"])
    op.create_index("ix_push_records_hub", "push_records", ["entity", "hub_id"])


def downgrade() -> None:
    op.drop_table("push_records")
