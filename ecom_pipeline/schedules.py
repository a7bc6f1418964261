"""Schedules: the incremental sync of every tenant.

Tenants are dynamic partitions, which ``build_schedule_from_partitioned_job`` can't enumerate, so the schedule
lists them at tick time and asks for one run per tenant. Dagster deduplicates schedule run keys per tick, so keying
by tenant means a tick re-evaluated by the daemon does not start the same tenant twice.

Each run selects only the tenant's platforms (``sync_asset_selection``): a PrestaShop-only tenant's run has no
``woocommerce/*`` or ``shopify/*`` steps, so it records no empty materializations under its partition and its
run worker does not start one process per useless step.
"""

import dagster as dg

from ecom_pipeline.jobs import sync_job, tenant_sync_selection
from ecom_pipeline.partitions import TENANTS_PARTITION_NAME
from ecom_pipeline.resources import WarehouseResource
from ecom_pipeline.warehouse import store


@dg.schedule(
    job=sync_job,
    cron_schedule="*/30 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 30 minutes: incremental sync (changes since each cursor, with a lookback) of every tenant.",
)
def incremental_sync_schedule(
    context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource
) -> dg.SkipReason | list[dg.RunRequest]:
    tenants = context.instance.get_dynamic_partitions(TENANTS_PARTITION_NAME)
    if not tenants:
        return dg.SkipReason("no tenants yet: connect a shop with `ecom-pipeline connect`")
    platforms_of: dict[str, set[str]] = {}
    with warehouse.engine().connect() as conn:
        for integration in store.list_integrations(conn):
            platforms_of.setdefault(integration.tenant_id, set()).add(integration.platform)
        # A partition whose shops are all disconnected has nothing to pull; the partitions sensor removes it. The
        # selection has the export asset of each platform where the tenant has a shop whose direction pushes.
        selections = {t: tenant_sync_selection(conn, t) for t in sorted(tenants) if platforms_of.get(t)}
    requests = [
        dg.RunRequest(
            run_key=tenant,
            partition_key=tenant,
            asset_selection=selection,
            tags={"ecom/platforms": ",".join(sorted(platforms_of[tenant]))},
        )
        for tenant, selection in selections.items()
    ]
    if not requests:
        return dg.SkipReason(f"none of the {len(tenants)} tenant partition(s) has a connected shop")
    # Schedule run keys are deduplicated per tick, so the tenant alone is the right key.
    return requests
