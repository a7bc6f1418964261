"""Indexes for the operations KPIs: sync_runs by start time, webhook_inbox by received time.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

The ``ops`` assets and ``ecom-pipeline status`` (ops/kpis.py) read the last 24 hours of ``sync_runs`` (by
``started_at``) and of ``webhook_inbox`` (by ``received_at``) every hour. Both tables grow with every sync and every
delivery (``sync_runs`` is never purged), so without these indexes each reading would scan the whole table.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sync_runs_started", "sync_runs", ["started_at"])
    op.create_index("ix_webhook_inbox_received", "webhook_inbox", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_inbox_received", table_name="webhook_inbox")
    op.drop_index("ix_sync_runs_started", table_name="sync_runs")
