"""A partial index over the staging rows still to apply: ``(tenant_id, entity, id) WHERE applied_at IS NULL``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

Every hub step of every run reads the tenant's unapplied staging rows of one entity, oldest first
(``store.pending_staging``), and ``sync_runs`` counts them per shop before the apply (``sync.runs``). Neither passes
the shop, so ``ix_staging_pending`` (integration_id, entity, applied_at) does not fit and PostgreSQL went through
``ix_staging_records_tenant_id``: a no-change run read every row the tenant has in staging, and staging keeps
applied rows for 7 days (a 10,000-product full sync leaves ~43,000), so the cheapest run of a tenant grew with
its history. This index holds only the rows still to apply (none, after a no-change run), in the order the read
pages them, so that read no longer depends on the retained history (measured with ``benchmarks/norun_profile.py``;
docs/benchmarks.md, "No-change run"). PostgreSQL and SQLite both use a partial index when the query repeats its
``applied_at IS NULL`` condition, which ``pending_staging`` does.

Building it reads ``staging_records`` once and blocks writes to it meanwhile (seconds for millions of rows; it runs
with the other migrations when a process starts).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UNAPPLIED = sa.text("applied_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_staging_records_unapplied",
        "staging_records",
        ["tenant_id", "entity", "id"],
        postgresql_where=UNAPPLIED,
        sqlite_where=UNAPPLIED,
    )


def downgrade() -> None:
    op.drop_index("ix_staging_records_unapplied", table_name="staging_records")
