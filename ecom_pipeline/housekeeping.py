"""Housekeeping: staging, the webhook inbox and push lineage keep their rows for a while, not forever.

Applied staging rows are the raw payloads behind the hub (for audit and replay of recent runs); applied inbox rows
are deliveries already in the hub; push lineage rows (``push_records``) say what each past push wrote to a shop.
All grow with every sync, webhook or push, so a daily job deletes the ones older than a retention period. Pending
rows, dead letters and rejected records are never deleted here: they are work or evidence a person may still need.
"""

from datetime import timedelta

import dagster as dg
from pydantic import Field

from ecom_pipeline.resources import WarehouseResource
from ecom_pipeline.sync.lineage import purge_push_records
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.types import utcnow


class HousekeepingConfig(dg.Config):
    """How long applied rows are kept."""

    staging_days: int = Field(default=7, description="Days an applied staging row is kept.")
    inbox_days: int = Field(default=30, description="Days an applied webhook delivery is kept.")
    push_records_days: int = Field(default=90, description="Days a push lineage row (push_records) is kept.")


@dg.op(
    description="Delete applied staging rows, applied webhook deliveries and push lineage rows older than their "
    "retention."
)
def purge_applied_rows(
    context: dg.OpExecutionContext, config: HousekeepingConfig, warehouse: WarehouseResource
) -> dg.Output[None]:
    now = utcnow()
    with warehouse.engine().begin() as conn:
        staging = store.purge_applied_staging(conn, now - timedelta(days=config.staging_days))
        inbox = store.purge_applied_inbox(conn, now - timedelta(days=config.inbox_days))
        lineage = purge_push_records(conn, now - timedelta(days=config.push_records_days))
    context.log.info(f"purged {staging} staging rows, {inbox} webhook deliveries and {lineage} push records")
    return dg.Output(
        None,
        metadata={"staging_rows_deleted": staging, "inbox_rows_deleted": inbox, "push_records_deleted": lineage},
    )


@dg.job(description="Daily clean-up of applied staging rows, webhook deliveries and push records past their retention.")
def housekeeping_job() -> None:
    purge_applied_rows()


housekeeping_schedule = dg.ScheduleDefinition(
    job=housekeeping_job,
    cron_schedule="17 3 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 03:17: purge applied staging rows (7 days), webhook deliveries (30 days) and push "
    "lineage rows (90 days).",
)
