"""Columns the Shopify connector and the webhook path need.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

- ``entity_links.external_gid``: Shopify's GraphQL global id (``gid://shopify/Product/123``) beside the numeric id
  kept in ``external_id``, so either form of a shop reference can be resolved.
- ``hub_orders.presentment_currency`` / ``presentment_total``: what the buyer saw, apart from the shop currency
  (``currency`` / ``total``), so multi-currency shops do not mix amounts.
- ``webhook_inbox``: the ids a delivery carries (``event_id``, ``webhook_id``, ``resource_id``) and the shop's
  trigger time, for deduplication, ordering and re-reads.
- ``sync_runs.missed_by_webhooks``: changes an incremental sync found that no webhook had delivered.

``batch_alter_table`` keeps SQLite (which cannot ALTER most things) and PostgreSQL on one code path.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecom_pipeline.warehouse.types import Money, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("entity_links") as batch:
        batch.add_column(sa.Column("external_gid", sa.String(length=255), nullable=True))
    with op.batch_alter_table("hub_orders") as batch:
        batch.add_column(sa.Column("presentment_currency", sa.String(length=3), nullable=True))
        batch.add_column(sa.Column("presentment_total", Money(), nullable=True))
    with op.batch_alter_table("webhook_inbox") as batch:
        batch.add_column(sa.Column("event_id", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("webhook_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("resource_id", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("triggered_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("sync_runs") as batch:
        batch.add_column(sa.Column("missed_by_webhooks", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("missed_by_webhooks")
    with op.batch_alter_table("webhook_inbox") as batch:
        batch.drop_column("triggered_at")
        batch.drop_column("resource_id")
        batch.drop_column("webhook_id")
        batch.drop_column("event_id")
    with op.batch_alter_table("hub_orders") as batch:
        batch.drop_column("presentment_total")
        batch.drop_column("presentment_currency")
    with op.batch_alter_table("entity_links") as batch:
        batch.drop_column("external_gid")
