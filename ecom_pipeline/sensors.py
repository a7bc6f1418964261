"""Sensors: keep the tenants partitions in step with the ``integrations`` table, and clear dead runs.

New tenants are added as soon as they have an active shop. A tenant whose shops are all disconnected is removed
only when none of its runs is queued or in flight: deleting a partition under a running run would orphan it.

``dead_runs_sensor`` does for the daemon what ``ecom-pipeline sync`` does before each run: a run executed in
process (the CLI, scripts) that was killed stays STARTED holding its pool slots, and Dagster's run monitoring
cannot see it (it has no run worker), so the sensor fails the runs whose recorded process on this host is gone and
frees their slots.
"""

import dagster as dg

from ecom_pipeline.assets.extract import pool_name
from ecom_pipeline.partitions import TENANTS_PARTITION_NAME
from ecom_pipeline.platforms.registry import platforms
from ecom_pipeline.resources import WarehouseResource
from ecom_pipeline.run_status import IN_PROGRESS_RUN_STATUSES
from ecom_pipeline.runner import ensure_pools, reap_dead_runs
from ecom_pipeline.warehouse import store


def tenants_in_flight(instance: dg.DagsterInstance, tenants: list[str]) -> set[str]:
    """The tenants among ``tenants`` that have a queued or running run."""
    busy: set[str] = set()
    for tenant in tenants:
        runs = instance.get_runs(
            filters=dg.RunsFilter(statuses=list(IN_PROGRESS_RUN_STATUSES), tags={"dagster/partition": tenant}),
            limit=1,
        )
        if runs:
            busy.add(tenant)
    return busy


@dg.sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a tenants partition for every tenant with an active shop; removes gone tenants when idle.",
)
def tenant_partitions_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
    with warehouse.engine().connect() as conn:
        wanted = set(store.active_tenants(conn))
    current = set(context.instance.get_dynamic_partitions(TENANTS_PARTITION_NAME))
    to_add = sorted(wanted - current)
    gone = sorted(current - wanted)
    busy = tenants_in_flight(context.instance, gone) if gone else set()
    to_remove = [t for t in gone if t not in busy]
    requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
    if to_add:
        requests.append(dg.AddDynamicPartitionsRequest(TENANTS_PARTITION_NAME, to_add))
    if to_remove:
        requests.append(dg.DeleteDynamicPartitionsRequest(TENANTS_PARTITION_NAME, to_remove))
    if busy:
        context.log.info(f"keeping tenants with runs in flight until they finish: {', '.join(sorted(busy))}")
    if not requests:
        return dg.SensorResult(skip_reason=f"{len(current)} tenant partition(s) already match the integrations")
    return dg.SensorResult(dynamic_partitions_requests=requests)


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Fails runs executed in process (CLI) whose process on this host is gone, and frees their pool "
    "slots, so a killed sync costs one run and never blocks a platform's pool.",
)
def dead_runs_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    # Also create the platforms' pool limits ahead of the first runs, which would otherwise race to create them.
    ensure_pools(context.instance, [pool_name(p) for p in platforms()])
    failed = reap_dead_runs(context.instance)
    if failed:
        context.log.warning(f"failed {len(failed)} run(s) whose process is gone: {', '.join(failed)}")
        return dg.SkipReason(f"failed {len(failed)} dead run(s) and freed their pool slots: {', '.join(failed)}")
    return dg.SkipReason("no dead runs")
