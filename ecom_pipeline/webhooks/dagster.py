"""The Dagster surface of webhooks: the ``webhooks/inbox_applied`` asset, its job, and the inbox sensor.

The sensor turns "the inbox has due deliveries for tenant T" into one run of ``apply_webhooks_job`` for the T
partition. Its cursor is ``{"id": highest inbox id seen, "due": latest retry due-time seen}``:

- a new delivery (id above the cursor) asks for a run keyed ``<tenant>:<max id>``;
- a retry has no new id, so it would never get a run from an id cursor alone; when its ``next_attempt_at``
  falls due (later than the due-time in the cursor) it asks for a run keyed ``<tenant>:<max id>:due:<epoch>``;
- ids are allocated before commit, so on PostgreSQL a delivery can commit with an id below one the sensor
  already saw. Pending due deliveries older than ``STALE_AFTER`` (or left by a run that failed) therefore ask
  for a run too, at most once per ``STALE_AFTER`` per tenant and only when no apply run of that tenant is
  queued or running;
- a tenant a webhook follower (webhooks/follow.py) applied within ``FOLLOWER_ACTIVE`` gets no run for its new
  deliveries: the follower applies them within a second, and a launched run would find them applied. Once a
  delivery left to it is pending longer than ``FOLLOWER_GRACE`` (the follower died or is stuck), the sensor asks
  for a run keyed ``<tenant>:<max id>:late``, unless an apply run of the tenant is queued or running.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from ecom_pipeline.assets.export import INBOX_ASSET_KEY, export_key, export_platforms
from ecom_pipeline.assets.stock import STOCK_KEY
from ecom_pipeline.assets.tenant_run import run_lock
from ecom_pipeline.jobs import SYNC_EXECUTOR, tenant_push_platforms
from ecom_pipeline.partitions import TENANTS_PARTITION_NAME, tenants_partitions
from ecom_pipeline.resources import CredentialStoreResource, WarehouseResource
from ecom_pipeline.run_status import IN_PROGRESS_RUN_STATUSES
from ecom_pipeline.runner import TAG_LAUNCHED_BY
from ecom_pipeline.stock.links import stock_integrations
from ecom_pipeline.warehouse.schema import webhook_inbox
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline.webhooks.apply import apply_inbox

APPLY_WEBHOOKS_JOB_NAME = "apply_webhooks_job"
STALE_AFTER = timedelta(seconds=60)
# ``ecom/launched_by`` of the follower's runs, and how recent one must be for the sensor to leave a tenant to it.
FOLLOWER_LAUNCHED_BY = "webhook-follower"
FOLLOWER_ACTIVE = timedelta(seconds=120)
# A delivery left to a follower and still pending after this long gets a run from the sensor after all.
FOLLOWER_GRACE = timedelta(seconds=5)


class ApplyWebhooksConfig(dg.Config):
    """Run options of ``webhooks/inbox_applied``."""

    limit: int = 500
    max_attempts: int = 8


@dg.asset(
    key=INBOX_ASSET_KEY,
    group_name="webhooks",
    partitions_def=tenants_partitions,
    kinds={"python", "sql"},
    description=(
        "Applies the tenant's due webhook deliveries (webhook_inbox) to the hub through the pull's transform and "
        "resolve; failing events are retried with backoff, then dead-lettered with their error."
    ),
)
def inbox_applied(
    context: dg.AssetExecutionContext,
    config: ApplyWebhooksConfig,
    warehouse: WarehouseResource,
    credentials: CredentialStoreResource,
) -> dg.MaterializeResult:
    tenant = context.partition_key
    # The tenant's lock (warehouse/locks.py): never apply at the same time as a sync of the same tenant.
    with run_lock(context, warehouse.engine(), "webhooks") as lock:
        report = apply_inbox(
            warehouse.engine(),
            tenant_id=tenant,
            run_id=context.run.run_id,
            limit=config.limit,
            cipher=credentials.cipher(),
            max_attempts=config.max_attempts,
        )
    if report.dead:
        context.log.warning(f"{report.dead} webhook event(s) dead-lettered: {report.dead_letters}")
    meta = report.as_metadata()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": report.applied,
            "read": report.read,
            "applied": report.applied,
            "retried": report.retried,
            "dead": report.dead,
            "ignored_topics": report.ignored,
            "unconfirmed_deletes": report.unconfirmed_deletes,
            "by_topic": dg.MetadataValue.json(meta["by_topic"]),
            "errors": dg.MetadataValue.json(meta["errors"]),
            "dead_letters": dg.MetadataValue.json(meta["dead_letters"]),
            "entities": dg.MetadataValue.json(meta["entities"]),
            "tenant_lock_wait_s": round(lock.waited_s, 3),
        }
    )


apply_webhooks_job = dg.define_asset_job(
    APPLY_WEBHOOKS_JOB_NAME,
    # In process, like sync_job (see ecom_pipeline.jobs.SYNC_EXECUTOR): a webhook run is one to three short steps,
    # and with Dagster's default executor each would start and import a Python process of its own.
    executor_def=SYNC_EXECUTOR,
    # The export assets ride along: the sensor selects the inbox asset plus the export of each platform where the
    # tenant has a shop whose direction pushes (a change a webhook brought reaches the tenant's other shops).
    selection=dg.AssetSelection.assets(INBOX_ASSET_KEY, *(export_key(p) for p in export_platforms()), STOCK_KEY),
    description="Apply one tenant's pending webhook deliveries to the hub (launched by webhook_inbox_sensor), then "
    "push the hub to the tenant's pushing shops and the stock to its stock-managed shops.",
    tags={"ecom/kind": "webhooks"},
)


def _cursor(raw: str | None) -> tuple[int, datetime | None]:
    if not raw:
        return 0, None
    try:
        data = json.loads(raw)
        due = datetime.fromisoformat(data["due"]) if data.get("due") else None
        return int(data.get("id") or 0), due
    except (ValueError, TypeError, KeyError):
        return 0, None


def pending_by_tenant(conn: Connection, now: datetime) -> list[Any]:
    """Per tenant with due pending deliveries: max id, latest due retry time, oldest receive time, count."""
    query = (
        select(
            webhook_inbox.c.tenant_id,
            func.max(webhook_inbox.c.id).label("max_id"),
            func.max(webhook_inbox.c.next_attempt_at).label("max_due"),
            func.min(webhook_inbox.c.received_at).label("oldest"),
            func.count().label("pending"),
        )
        .where(
            webhook_inbox.c.status == "pending",
            or_(webhook_inbox.c.next_attempt_at.is_(None), webhook_inbox.c.next_attempt_at <= now),
        )
        .group_by(webhook_inbox.c.tenant_id)
        .order_by(webhook_inbox.c.tenant_id)
    )
    return list(conn.execute(query))


def follower_serves(instance: dg.DagsterInstance, tenant: str, now: datetime) -> bool:
    """True when a webhook follower applied ``tenant`` within ``FOLLOWER_ACTIVE``: the sensor then leaves the
    tenant's new deliveries to it (it applies within a second; a launched run would only find them applied), and
    steps in only for deliveries pending longer than ``STALE_AFTER``."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(
            job_name=APPLY_WEBHOOKS_JOB_NAME,
            tags={"dagster/partition": tenant, TAG_LAUNCHED_BY: FOLLOWER_LAUNCHED_BY},
            created_after=now - FOLLOWER_ACTIVE,
        ),
        limit=1,
    )
    return bool(runs)


def apply_selection(conn: Connection, tenant: str) -> list[dg.AssetKey]:
    """What an apply run of ``tenant`` materializes: the inbox asset, the export of each platform where the
    tenant has a pushing shop (a change a webhook brought reaches its other shops), and the stock push when the hub
    manages the tenant's stock. The sensor and the follower (webhooks/follow.py) ask for the same."""
    return [
        INBOX_ASSET_KEY,
        *(export_key(p) for p in tenant_push_platforms(conn, tenant)),
        *([STOCK_KEY] if stock_integrations(conn, tenant) else []),
    ]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def apply_run_in_flight(instance: dg.DagsterInstance, tenant: str) -> bool:
    """True when an apply run of ``tenant`` is queued or running (the sensor's or a follower's)."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(
            job_name=APPLY_WEBHOOKS_JOB_NAME,
            statuses=list(IN_PROGRESS_RUN_STATUSES),
            tags={"dagster/partition": tenant},
        ),
        limit=1,
    )
    return bool(runs)


@dg.sensor(
    job=apply_webhooks_job,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches apply_webhooks_job for each tenant with due webhook deliveries (new or retries).",
)
def webhook_inbox_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
    now = utcnow()
    last_id, last_due = _cursor(context.cursor)
    with warehouse.engine().connect() as conn:
        groups = pending_by_tenant(conn, now)
        selections = {str(g.tenant_id): apply_selection(conn, str(g.tenant_id)) for g in groups}
    known = set(context.instance.get_dynamic_partitions(TENANTS_PARTITION_NAME))
    requests: list[dg.RunRequest] = []
    new_partitions: list[str] = []
    max_id, max_due = last_id, last_due
    for group in groups:
        tenant = str(group.tenant_id)
        group_max = int(group.max_id)
        due = _aware(group.max_due)
        oldest = _aware(group.oldest)
        # The cursor moves past what this tick saw whether or not it asks for a run (a skipped group is then only
        # asked for again when it goes stale or a retry falls due).
        fresh = group_max > last_id or (due is not None and (last_due is None or due > last_due))
        max_id = max(max_id, group_max)
        if due is not None and (max_due is None or due > max_due):
            max_due = due
        stale = oldest is not None and now - oldest > STALE_AFTER
        late = oldest is not None and now - oldest > FOLLOWER_GRACE
        served = (fresh or late) and follower_serves(context.instance, tenant, now)
        if fresh and served and not late:
            continue  # a follower (webhooks/follow.py) applies this tenant within a second
        if group_max > last_id:
            run_key = f"{tenant}:{group_max}"
        elif due is not None and (last_due is None or due > last_due):
            # Microseconds: Dagster drops a repeated run key forever, and two retries of one tenant may fall due
            # within one second (the cursor compares them to the microsecond too).
            run_key = f"{tenant}:{group_max}:due:{(due - _EPOCH) // _MICROSECOND}"
        elif stale and not apply_run_in_flight(context.instance, tenant):
            bucket = int(now.timestamp() // STALE_AFTER.total_seconds())
            run_key = f"{tenant}:{group_max}:stale:{bucket}"
        elif served and late and not apply_run_in_flight(context.instance, tenant):
            # Left to a follower and still pending: the follower died or is stuck; apply it the sensor's way.
            run_key = f"{tenant}:{group_max}:late"
        else:
            continue
        if tenant not in known:
            new_partitions.append(tenant)
        requests.append(
            dg.RunRequest(
                partition_key=tenant,
                run_key=run_key,
                asset_selection=selections[tenant],
                tags={"ecom/webhook_pending": str(int(group.pending))},
            )
        )
    cursor = json.dumps({"id": max_id, "due": max_due.isoformat() if max_due else None})
    dynamic = [dg.AddDynamicPartitionsRequest(TENANTS_PARTITION_NAME, new_partitions)] if new_partitions else []
    if not requests:
        return dg.SensorResult(skip_reason="no due webhook deliveries", cursor=cursor)
    return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=dynamic, cursor=cursor)


WEBHOOK_DEFINITIONS: dict[str, list[Any]] = {
    "assets": [inbox_applied],
    "jobs": [apply_webhooks_job],
    "sensors": [webhook_inbox_sensor],
}
