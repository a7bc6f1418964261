"""Stock links remember the quantity a push is about to write (``pending_quantity``, ``pending_at``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

A stock write whose answer is lost (a timeout, the process killed after the shop applied it and before we recorded
it) used to leave the link's base at the old number: the next reading showed the shop at our own number and booked
the difference as a shop adjustment, a movement nobody made. The push now records the number it is about to write
in its own committed transaction before the write; a reading equal to it is our write having landed (no movement),
see ``ecom_pipeline/stock/ledger.py`` (issue 11).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecom_pipeline.warehouse.schema import stock_available_view
from ecom_pipeline.warehouse.types import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stock_links") as batch:
        batch.add_column(sa.Column("pending_quantity", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("pending_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    # SQLite drops a column by copying the table and renaming the copy, which its view ``stock_available`` (0010)
    # refuses ("error in view stock_available: no such table: main.stock_links"): the view goes first and comes back
    # as 0010 made it (it does not read these columns).
    op.execute("DROP VIEW IF EXISTS stock_available")
    with op.batch_alter_table("stock_links") as batch:
        batch.drop_column("pending_at")
        batch.drop_column("pending_quantity")
    op.execute(stock_available_view(op.get_bind().dialect.name))
