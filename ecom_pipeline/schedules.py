"""Schedules: the incremental sync of every tenant, every 30 minutes.

Tenants are dynamic partitions, which ``build_schedule_from_partitioned_job`` can't enumerate, so the schedule
lists them at tick time. Dagster deduplicates schedule run keys per tick, so a tick re-evaluated by the daemon does
not start the same tenant (or batch) twice.

A tick of few tenants asks for one ``sync_job`` run per tenant (``incremental_sync_schedule``). Each run selects
only the tenant's platforms (``sync_asset_selection``): a PrestaShop-only tenant's run has no ``woocommerce/*`` or
``shopify/*`` steps, so it records no empty materializations under its partition.

A large tick (more than ``ECOM_TICK_BATCH_ABOVE`` tenants, default 40) is run by
``incremental_sync_batches_schedule`` instead: ``sync_batch_job`` runs of at most ``ECOM_TICK_BATCH_SIZE`` tenants
each (default 25), each run executing every tenant's own ``sync_job`` run in its process (``sync_batches``), so a
launched run's process start (~5 CPU s here, against ~0.5 s of work in a no-change sync) is paid once per batch, not
once per tenant. Two schedules because a Dagster schedule launches one job. Both decide from the same count (the
tenants whose shops were connected, and not disconnected, at the tick's scheduled time), so exactly one of the two
acts on a tick even when a shop is connected while the daemon evaluates them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from ecom_pipeline.jobs import sync_job, tenant_sync_selections
from ecom_pipeline.partitions import TENANTS_PARTITION_NAME
from ecom_pipeline.resources import WarehouseResource
from ecom_pipeline.sync_batches import batch_run_config, sync_batch_job
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import integrations

CRON = "*/30 * * * *"
BATCH_ABOVE_ENV = "ECOM_TICK_BATCH_ABOVE"
BATCH_SIZE_ENV = "ECOM_TICK_BATCH_SIZE"
# Below this, one run per tenant costs little (20 tenants: ~2 CPU minutes a tick) and keeps each tenant's run in
# the run queue (its per-tenant limit, its own run worker); above it, process starts dominate (docs/benchmarks.md).
DEFAULT_BATCH_ABOVE = 40
# Tenants per batch run: the process start is spread over 25 tenants (~0.2 CPU s each), a batch of no-change syncs
# ends in about a minute, and max_concurrent_runs batches still run side by side.
DEFAULT_BATCH_SIZE = 25


def _setting(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 1:
        raise ValueError(f"{name} must be a whole number of tenants, at least 1 (got {raw!r})")
    return value


@dataclass(frozen=True)
class TickPlan:
    """What one tick of the incremental sync does: which tenants, and whether in batches."""

    tenants: list[str]  # tenant partitions with an active shop, sorted
    platforms_of: dict[str, set[str]]
    partitions: int  # tenant partitions, synced or not
    counted: int  # tenants with a shop connected at the tick's scheduled time: what decides batching
    batch_above: int
    batch_size: int

    @property
    def batched(self) -> bool:
        return self.counted > self.batch_above

    def batches(self) -> list[list[str]]:
        """The tenants in sorted order, cut into the fewest batches of at most ``batch_size``, evenly filled."""
        tenants = self.tenants
        if not tenants:
            return []
        count = math.ceil(len(tenants) / self.batch_size)
        size, extra = divmod(len(tenants), count)
        out: list[list[str]] = []
        start = 0
        for i in range(count):
            end = start + size + (1 if i < extra else 0)
            out.append(tenants[start:end])
            start = end
        return out


def tenants_connected_at(conn: Connection, when: datetime) -> int:
    """How many tenants had a shop connected (created, not yet disconnected) at ``when``.

    Both schedules decide on this count for the same scheduled time, so they agree whatever changes while the
    daemon evaluates them one after the other (a shop connected then is counted from the next tick on).
    """
    connected = and_(
        integrations.c.created_at <= when,
        or_(integrations.c.disconnected_at.is_(None), integrations.c.disconnected_at > when),
    )
    query = select(func.count(func.distinct(integrations.c.tenant_id))).where(connected)
    return int(conn.execute(query).scalar_one())


def _scheduled_time(context: dg.ScheduleEvaluationContext) -> datetime:
    """The tick's scheduled time; now for a context built without one (``build_schedule_context`` in a script)."""
    try:
        return context.scheduled_execution_time or datetime.now(UTC)
    except Exception:
        return datetime.now(UTC)


def plan_tick(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource) -> TickPlan:
    """The tenants this tick syncs (partitions with an active shop) and whether in batches.

    Each tenant's asset selection is worked out by whoever starts its run (the per-tenant schedule below, or
    ``run_sync`` inside a batch run), not here: three queries per tenant would slow a 1,000-tenant evaluation.
    """
    tenants: Sequence[str] = context.instance.get_dynamic_partitions(TENANTS_PARTITION_NAME)
    when = _scheduled_time(context)
    platforms_of: dict[str, set[str]] = {}
    with warehouse.engine().connect() as conn:
        for integration in store.list_integrations(conn):
            platforms_of.setdefault(integration.tenant_id, set()).add(integration.platform)
        counted = tenants_connected_at(conn, when)
    return TickPlan(
        # A partition whose shops are all disconnected has nothing to pull; the partitions sensor removes it.
        tenants=[t for t in sorted(tenants) if platforms_of.get(t)],
        platforms_of=platforms_of,
        partitions=len(tenants),
        counted=counted,
        batch_above=_setting(BATCH_ABOVE_ENV, DEFAULT_BATCH_ABOVE),
        batch_size=_setting(BATCH_SIZE_ENV, DEFAULT_BATCH_SIZE),
    )


def _plan_or_skip(
    context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource, *, batched: bool
) -> TickPlan | dg.SkipReason:
    """The tick's plan for the per-tenant (``batched=False``) or the batched schedule, or why that one skips.

    Both schedules share one cron and split the tick by tenant count, so on any tick exactly one of them acts;
    they read the tick, and decide which one it is, this one way.
    """
    plan = plan_tick(context, warehouse)
    if not plan.partitions:
        return dg.SkipReason("no tenants yet: connect a shop with `ecom-pipeline connect`")
    if not plan.tenants:
        return dg.SkipReason(f"none of the {plan.partitions} tenant partition(s) has a connected shop")
    if plan.batched and not batched:
        return dg.SkipReason(
            f"{plan.counted} tenants, more than {plan.batch_above} ({BATCH_ABOVE_ENV}): "
            f"incremental_sync_batches_schedule syncs them, {plan.batch_size} per run"
        )
    if batched and not plan.batched:
        return dg.SkipReason(
            f"{plan.counted} tenant(s), not more than {plan.batch_above} ({BATCH_ABOVE_ENV}): "
            "incremental_sync_schedule syncs them, one run per tenant"
        )
    return plan


# (the tick's plan, the warehouse) -> the run requests of a tick the schedule acts on
TickRequests = Callable[[TickPlan, WarehouseResource], list[dg.RunRequest]]


def _tick_schedule(
    job: dg.JobDefinition | dg.UnresolvedAssetJobDefinition, *, batched: bool, description: str
) -> Callable[[TickRequests], dg.ScheduleDefinition]:
    """One of the two schedules of a tick (same cron, running by default), named after the decorated function.

    Both evaluate a tick this one way: ``_plan_or_skip`` decides whether this schedule acts on it (else its skip
    reason is the answer); the decorated function turns the plan into this schedule's run requests.
    """

    def decorate(requests: TickRequests) -> dg.ScheduleDefinition:
        def evaluate(
            context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource
        ) -> dg.SkipReason | list[dg.RunRequest]:
            plan = _plan_or_skip(context, warehouse, batched=batched)
            return plan if isinstance(plan, dg.SkipReason) else requests(plan, warehouse)

        return dg.schedule(
            name=requests.__name__,
            job=job,
            cron_schedule=CRON,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description=description,
        )(evaluate)

    return decorate


@_tick_schedule(
    sync_job,
    batched=False,
    description="Every 30 minutes: incremental sync (changes since each cursor, with a lookback) of every tenant, "
    f"one run per tenant; above {BATCH_ABOVE_ENV} tenants (default {DEFAULT_BATCH_ABOVE}) "
    "incremental_sync_batches_schedule runs them instead.",
)
def incremental_sync_schedule(plan: TickPlan, warehouse: WarehouseResource) -> list[dg.RunRequest]:
    # The selection has the export asset of each platform where the tenant has a shop whose direction pushes.
    with warehouse.engine().connect() as conn:
        selections = tenant_sync_selections(conn, plan.tenants)
    # Schedule run keys are deduplicated per tick, so the tenant alone is the right key.
    return [
        dg.RunRequest(
            run_key=tenant,
            partition_key=tenant,
            asset_selection=selection,
            tags={"ecom/platforms": ",".join(sorted(plan.platforms_of[tenant]))},
        )
        for tenant, selection in selections.items()
    ]


@_tick_schedule(
    sync_batch_job,
    batched=True,
    description=f"Every 30 minutes, when more than {BATCH_ABOVE_ENV} tenants (default {DEFAULT_BATCH_ABOVE}) have "
    f"a shop: the incremental sync of every tenant, {BATCH_SIZE_ENV} (default {DEFAULT_BATCH_SIZE}) tenants per "
    "launched run; each tenant still gets its own sync_job run and partition.",
)
def incremental_sync_batches_schedule(plan: TickPlan, warehouse: WarehouseResource) -> list[dg.RunRequest]:
    batches = plan.batches()
    return [
        dg.RunRequest(
            run_key=f"batch-{i:04d}-of-{len(batches):04d}:{batch[0]}..{batch[-1]}",
            run_config=batch_run_config(batch),
            tags={"ecom/tenants": str(len(batch)), "ecom/first_tenant": batch[0], "ecom/last_tenant": batch[-1]},
        )
        for i, batch in enumerate(batches, start=1)
    ]
