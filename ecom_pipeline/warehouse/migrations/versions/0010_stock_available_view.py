"""``stock_available``: what each shop should show, as a view for analysts.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

Per stock link of a connected shop whose stock the hub manages: on hand, committed, buffer and available (on hand
- committed - buffer, never below zero), the numbers ``ecom-pipeline stock levels`` prints (docs/tables.md). No
table changes. The SQL is ``schema.stock_available_view`` as of this revision; a later change of it needs a
migration that drops and creates the view again.
"""

from __future__ import annotations

from alembic import op

from ecom_pipeline.warehouse.schema import stock_available_view

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(stock_available_view(op.get_bind().dialect.name))


def downgrade() -> None:
    op.execute("DROP VIEW stock_available")
