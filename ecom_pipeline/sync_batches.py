"""``sync_batch_job``: one launched run carries the syncs of several tenants when a schedule tick is large (issue 12).

Why: a run the daemon launches is a process of its own (the run worker imports Dagster and loads the
definitions): on this 2-core machine ~5 CPU s, for ~0.5 s of work in a tenant's no-change sync
(docs/benchmarks.md, "Schedule tick"). At 1,000 tenants that start is most of a tick's CPU. A batch run pays it
once for many tenants: its one op executes, one tenant after the other, each tenant's own ``sync_job`` run in the
batch's process (``runner.run_sync``: ``execute_in_process`` on the same instance, what ``ecom-pipeline sync``
does).

Why this shape rather than a run over a range of tenant partitions, or one op that logs a materialization per
tenant: every tenant still has its own ``sync_job`` run, tagged with its partition, with the asset selection of its
own platforms, its materializations and checks under its partition, and its own success or failure. One tenant's
failed step fails that tenant's run and marks that tenant's partition failed, nobody else's; its `sync_runs` rows,
its tenant lock and its retries (the assets' RetryPolicy) are exactly those of a one-tenant run. A partition-range
run would have recorded one materialization per tenant with the same metadata, failed every tenant of the range
when one tenant's step failed (and skipped their downstream steps), and could not leave out the platforms one
tenant lacks. The batch run lists each tenant's run, status and time in its output metadata, and fails when a
tenant's run failed, so the schedule's tick does not look green over a failed tenant.

The tenants' runs are executed in process, outside the run queue, as the CLI's are: the run queue's limit of one
run per tenant does not see them, the tenant's warehouse lock (``warehouse/locks.py``) serializes what must not
overlap, and the platforms' pools still bound the shop calls (the in-process executor claims pool slots). They
carry the batch process's pid (``runner.process_tags``), so a killed batch leaves no run STARTED forever:
``dead_runs_sensor`` fails them and frees their slots.
"""

import time
from typing import Any

import dagster as dg
from pydantic import Field

from ecom_pipeline.partitions import TENANTS_PARTITION_NAME
from ecom_pipeline.runner import TAG_LAUNCHED_BY, reap_dead_runs, run_sync
from ecom_pipeline.storage_pool import pool_instance_storage

SYNC_BATCH_JOB_NAME = "sync_batch_job"
SYNC_BATCH_OP_NAME = "sync_tenants"
TAG_BATCH_RUN = "ecom/batch_run_id"
LAUNCHED_BY_BATCH = "schedule_batch"
# A tenant's run's failure text kept in the batch's table (the full text is in the tenant's own run).
DETAIL_CHARS = 300


class SyncBatchConfig(dg.Config):
    """The tenants one batch run syncs (the schedule fills this in)."""

    tenants: list[str] = Field(description="Tenant partitions to sync, one sync_job run each, in this order.")


def batch_run_config(tenants: list[str]) -> dict[str, Any]:
    """Run config of ``sync_batch_job`` for ``tenants``."""
    return {"ops": {SYNC_BATCH_OP_NAME: {"config": {"tenants": list(tenants)}}}}


def _table(rows: list[dict[str, str]]) -> dg.TableMetadataValue:
    columns = ("tenant", "status", "run_id", "seconds", "detail")
    return dg.MetadataValue.table(
        [dg.TableRecord({c: row.get(c, "") for c in columns}) for row in rows],
        schema=dg.TableSchema(columns=[dg.TableColumn(c, "string") for c in columns]),
    )


@dg.op(
    name=SYNC_BATCH_OP_NAME,
    description="Run each listed tenant's sync_job run (its own run and partition) in this process, one after the "
    "other; a tenant whose run fails does not stop the others.",
    tags={"ecom/stage": "batch"},
)
def sync_tenants(context: dg.OpExecutionContext, config: SyncBatchConfig) -> None:
    from ecom_pipeline.definitions import defs  # the definitions import this module: resolve them at run time

    instance = context.instance
    pool_instance_storage(instance)  # the tenants' runs make hundreds of storage calls each
    reap_dead_runs(instance)  # once for the batch, not once per tenant
    tags = {TAG_LAUNCHED_BY: LAUNCHED_BY_BATCH, TAG_BATCH_RUN: context.run_id}
    rows: list[dict[str, str]] = []
    started = time.perf_counter()
    for tenant in config.tenants:
        t0 = time.perf_counter()
        if not instance.has_dynamic_partition(TENANTS_PARTITION_NAME, tenant):
            # Removed since the tick (every shop disconnected): run_sync would add the partition back.
            rows.append({"tenant": tenant, "status": "skipped", "detail": "no longer a tenant partition"})
            context.log.info(f"{tenant}: skipped, no longer a tenant partition")
            continue
        try:
            outcome = run_sync(tenant, instance=instance, defs=defs, log_level="WARNING", tags=tags, reap=False)
        except Exception as error:
            # Raised before or around the tenant's run (the warehouse unreachable while reading its selection):
            # there may be no run of the tenant to show it, so the batch's table and log do.
            detail = f"{type(error).__name__}: {error}"
            rows.append({"tenant": tenant, "status": "error", "detail": detail[:DETAIL_CHARS]})
            context.log.error(f"{tenant}: the sync could not run: {detail}")
            continue
        seconds = f"{time.perf_counter() - t0:.2f}"
        run = instance.get_run_by_id(outcome.run_id)
        if run is not None and run.status == dg.DagsterRunStatus.FAILURE:
            status = "failed"
            context.log.error(f"{tenant}: run {outcome.run_id} failed: {outcome.failure}")
        elif not outcome.success:
            # The run succeeded with a failed ERROR check (a shop could not be read): as in a one-tenant run, the
            # tenant's check says so; the batch does not fail for it.
            status = "checks_failed"
            context.log.warning(f"{tenant}: run {outcome.run_id} succeeded with failed checks: {outcome.failure}")
        else:
            status = "success"
            context.log.info(f"{tenant}: run {outcome.run_id} succeeded in {seconds} s")
        detail = (outcome.failure or "")[:DETAIL_CHARS]
        rows.append(
            {"tenant": tenant, "status": status, "run_id": outcome.run_id, "seconds": seconds, "detail": detail}
        )
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("success", "checks_failed", "failed", "error")}
    metadata: dict[str, Any] = {
        "tenants": len(config.tenants),
        **counts,
        "skipped": sum(1 for r in rows if r["status"] == "skipped"),
        "duration_s": round(time.perf_counter() - started, 3),
        "runs": _table(rows),
    }
    bad = [r for r in rows if r["status"] in ("failed", "error")]
    if bad:
        named = "; ".join(f"{r['tenant']} ({r.get('run_id') or 'no run'}): {r['detail'][:120]}" for r in bad)
        raise dg.Failure(
            description=f"{len(bad)} of {len(config.tenants)} tenant sync(s) failed; the others ran: {named}",
            metadata=metadata,
            allow_retries=False,  # a retry would sync every tenant of the batch again; the next tick retries
        )
    context.add_output_metadata(metadata)


@dg.job(
    name=SYNC_BATCH_JOB_NAME,
    executor_def=dg.in_process_executor,
    tags={"ecom/kind": "sync_batch"},
    description="Several tenants' incremental syncs in one launched run (a large schedule tick): each tenant "
    "still gets its own sync_job run, partition, materializations and checks (ecom_pipeline.sync_batches).",
)
def sync_batch_job() -> None:
    sync_tenants()
