"""``sync_runs`` rows of the resolve stage: opened before the work, closed after it, per shop.

A row opened after the work says nothing true: its duration is the time of one INSERT, it read nothing, and it
cannot know the run was a full refresh. So the row is opened (status ``running``) before staging is applied, with
the number of staged rows waiting for that shop (what the stage reads) and the full-refresh flag of the extract
that staged them in the same Dagster run; it is closed with the counts, or as ``failed`` with the error when the
apply raises (a process that dies leaves it ``running``, which is what happened).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select, true
from sqlalchemy.engine import Connection

from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import staging_records, sync_runs


def pending_per_integration(conn: Connection, *, tenant_id: str, entity: str) -> dict[int, int]:
    """Unapplied staging rows of ``entity`` per integration of the tenant: what a resolve is about to read."""
    query = (
        select(staging_records.c.integration_id, func.count())
        .where(
            staging_records.c.tenant_id == tenant_id,
            staging_records.c.entity == entity,
            staging_records.c.applied_at.is_(None),
        )
        .group_by(staging_records.c.integration_id)
    )
    return {int(i): int(n) for i, n in conn.execute(query)}


def full_refresh_extracts(conn: Connection, *, run_id: str | None, entity: str) -> set[int]:
    """Integrations whose extract of ``entity`` in Dagster run ``run_id`` was a full refresh."""
    if run_id is None:
        return set()
    query = select(sync_runs.c.integration_id).where(
        sync_runs.c.dagster_run_id == run_id,
        sync_runs.c.entity == entity,
        sync_runs.c.stage == "extract",
        sync_runs.c.full_refresh == true(),
    )
    return {int(i) for i in conn.execute(query).scalars() if i is not None}


@dataclass
class ResolveRuns:
    """The open resolve rows of one hub asset run; ``finish`` closes them with the apply's per-shop counts."""

    engine: Engine
    tenant_id: str
    entity: str
    run_id: str | None
    rows_read: dict[int, int]
    full_refresh: set[int]
    open_rows: dict[int, int] = field(default_factory=dict)

    def open(self, conn: Connection, integration_id: int) -> int:
        row = self.open_rows.get(integration_id)
        if row is None:
            row = store.start_sync_run(
                conn,
                tenant_id=self.tenant_id,
                integration_id=integration_id,
                platform=store.get_integration(conn, integration_id).platform,
                entity=self.entity,
                direction="pull",
                stage="resolve",
                full_refresh=integration_id in self.full_refresh,
                run_id=self.run_id,
                cursor_before=None,
            )
            self.open_rows[integration_id] = row
        return row

    def finish(self, per_integration: Mapping[int, Mapping[str, int]]) -> None:
        """Close every row; a shop the apply met that was not pending at the start gets its row now.

        Rejections the apply made obsolete (their record since applied or deleted) are closed in the same
        transaction, so ``rejected_records WHERE resolved_at IS NULL`` lists only what still needs a person.
        """
        with self.engine.begin() as conn:
            store.resolve_obsolete_rejections(conn, tenant_id=self.tenant_id, entity=self.entity)
            for integration_id in per_integration:
                self.open(conn, integration_id)
            for integration_id, sync_run_id in self.open_rows.items():
                counts = per_integration.get(integration_id, {})
                store.finish_sync_run(
                    conn,
                    sync_run_id,
                    status="success",
                    counts={
                        "rows_fetched": self.rows_read.get(integration_id, 0),
                        "created": counts.get("created", 0),
                        "updated": counts.get("updated", 0),
                        "unchanged": counts.get("unchanged", 0),
                        "deleted": counts.get("deleted", 0),
                        "failed": counts.get("rejected", 0),
                    },
                    cursor_after=None,
                    error=None,
                )

    def fail(self, error: str) -> None:
        with self.engine.begin() as conn:
            for sync_run_id in self.open_rows.values():
                store.finish_sync_run(conn, sync_run_id, status="failed", counts={}, cursor_after=None, error=error)


@contextmanager
def resolve_runs(engine: Engine, *, tenant_id: str, entity: str, run_id: str | None) -> Iterator[ResolveRuns]:
    """Open a resolve row per shop with staged work (before it is applied); failed rows when the body raises.

    The caller calls ``finish(report.per_integration)`` once the apply is done.
    """
    with engine.begin() as conn:
        runs = ResolveRuns(
            engine=engine,
            tenant_id=tenant_id,
            entity=entity,
            run_id=run_id,
            rows_read=pending_per_integration(conn, tenant_id=tenant_id, entity=entity),
            full_refresh=full_refresh_extracts(conn, run_id=run_id, entity=entity),
        )
        for integration_id in sorted(runs.rows_read):
            runs.open(conn, integration_id)
    try:
        yield runs
    except Exception as exc:
        runs.fail(f"{type(exc).__name__}: {exc}")
        raise


__all__ = ["ResolveRuns", "full_refresh_extracts", "pending_per_integration", "resolve_runs"]
