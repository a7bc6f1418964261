"""Staged payloads are stored as ``json`` (their text) on PostgreSQL, not ``jsonb``.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05

A full WooCommerce pull stages ~140 MB of JSON (a 10,000-product shop) that the hub step reads back once and
decodes in Python. As ``jsonb`` the server parsed every payload into its binary form on the way in and printed it
back to text on the way out: CPU on the same 2 cores as the sync, for a value nothing in the database looks into
except the WooCommerce inventory extract (which now casts each product payload to ``jsonb`` itself, once per row,
``platforms/woocommerce/extract.py``). ``json`` stores the text as sent (the encoding ``store.payload_text`` made,
over which ``payload_hash`` was computed) and hands it back as is; it is checked as JSON on the way in all the same.

SQLite's JSON column is text already: nothing changes there. ``rejected_records.payload`` stays ``jsonb`` (rare
rows that analysts query). The upgrade rewrites the table once (``ALTER ... TYPE json USING payload::json``; the
text of rows staged before it is ``jsonb``'s normal form, keys sorted); the downgrade casts back.

Operators that only ``jsonb`` has (``#-``, ``@>``, ``?``) need ``payload::jsonb`` from now on (docs/tables.md).

**Rollout** (docs/deploy.md, "Migrations at deploy time"): code from before this release cannot run on a migrated
warehouse: its WooCommerce inventory cut calls ``jsonb_typeof(payload->...)``, which has no ``json`` form, so each
old-code inventory step fails until the rollout ends (nothing is lost: the next run on the new code reads the same
cursor). Pause the schedule and stop the old code locations before ``migrate``. **Cost:** the ``ALTER`` rewrites
``staging_records`` and its indexes under an ACCESS EXCLUSIVE lock, with a second copy of the table on disk
meanwhile: measured 4.9 s for 20,000 rows of ~7.5 KB (162 MB) on the 2-core development machine, so about 10 s per
10,000-product shop's 7 days of retention; syncs and the webhook apply wait for it. Running ``housekeeping_job``
with a small ``staging_days`` first shortens it.
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE staging_records ALTER COLUMN payload TYPE json USING payload::json")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE staging_records ALTER COLUMN payload TYPE jsonb USING payload::jsonb")
