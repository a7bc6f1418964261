"""Schedules: the incremental sync of every tenant.

Tenants are dynamic partitions, which ``build_schedule_from_partitioned_job`` can't enumerate, so the schedule
lists them at tick time and asks for one run per tenant. Dagster deduplicates schedule run keys per tick, so keying
by tenant means a tick re-evaluated by the daemon does not start the same tenant twice.
"""

import dagster as dg

from ecom_pipeline.jobs import sync_job
from ecom_pipeline.partitions import TENANTS_PARTITION_NAME


@dg.schedule(
    job=sync_job,
    cron_schedule="*/30 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 30 minutes: incremental sync (changes since each cursor, with a lookback) of every tenant.",
)
def incremental_sync_schedule(context: dg.ScheduleEvaluationContext) -> dg.SkipReason | list[dg.RunRequest]:
    tenants = context.instance.get_dynamic_partitions(TENANTS_PARTITION_NAME)
    if not tenants:
        return dg.SkipReason("no tenants yet: connect a shop with `ecom-pipeline connect`")
    # Schedule run keys are deduplicated per tick, so the tenant alone is the right key.
    return [dg.RunRequest(run_key=tenant, partition_key=tenant) for tenant in sorted(tenants)]
