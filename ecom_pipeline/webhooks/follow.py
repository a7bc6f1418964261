"""Webhook processing in under a second: a long-running follower that applies the inbox as deliveries land.

Why it exists: the briefs promise webhook processing under 1 s (the ``ops`` KPI, ``webhook_latency``). The
sensor path cannot keep it: ``webhook_inbox_sensor`` ticks every 5 s at the least, and each run it asks for is
launched as a new process that imports Dagster and the definitions before it applies anything (6.5-17 s from a
shop's change to the hub row, docs/benchmarks.md). The follower keeps the code loaded in one process, polls the
inbox with the sensor's own indexed query every ``poll_s`` (0.2 s by default), and executes ``apply_webhooks_job``
in process for each tenant with due deliveries.

It runs the *same* job as the sensor, with the same asset selection (the inbox asset, the export of each
platform where the tenant pushes, the stock push when the hub manages the tenant's stock), under the same tenant
lock, into the same Dagster instance: every apply is a run in the UI with its metadata, tagged
``ecom/launched_by=webhook-follower``, and a change a webhook brought still reaches the tenant's other shops.

The sensor stays on as the fallback. With a follower running it finds nothing pending most of the time; when the
follower is down or behind, it launches runs as before. Both at once are safe: the tenant's warehouse lock
serialises applies, and ``apply_inbox`` marks a delivery applied in the transaction that stages it, so a delivery
is applied once. Several followers (replicas) are safe for the same reasons; a tenant whose apply run is already
being applied (its lock is held: a long sync, another follower, a sensor-launched run) is skipped and looked at
again at the next poll, so one busy tenant never holds up the others. The sensor leaves new deliveries of a
tenant the follower has served in the last two minutes to it (``webhooks.dagster.follower_serves``) and steps in
for deliveries pending over a minute, so a running follower does not make the daemon launch runs that would only
find the deliveries applied.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from ecom_pipeline.assets.export import INBOX_ASSET_KEY
from ecom_pipeline.partitions import TENANTS_PARTITION_NAME
from ecom_pipeline.runner import (
    TAG_LAUNCHED_BY,
    _warehouse_url,
    ensure_pools,
    get_instance,
    process_tags,
    reap_dead_runs,
)
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.locks import TenantLockTimeout, tenant_lock
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline.webhooks.dagster import (
    APPLY_WEBHOOKS_JOB_NAME,
    FOLLOWER_LAUNCHED_BY,
    apply_selection,
    pending_by_tenant,
)

logger = logging.getLogger("ecom_pipeline.webhooks.follow")

LAUNCHED_BY = FOLLOWER_LAUNCHED_BY
DEFAULT_POLL_S = 0.2
# After a run of a tenant fails, wait this long (doubling per failure, capped) before the next try: a broken tenant
# must not turn the follower into a hot loop, nor starve the others.
FAILURE_BACKOFF_S = 2.0
MAX_FAILURE_BACKOFF_S = 300.0


@dataclass
class ApplyOutcome:
    """One in-process apply run of one tenant."""

    tenant: str
    run_id: str
    success: bool
    applied: int
    read: int
    seconds: float
    error: str | None = None


@dataclass
class FollowStats:
    """What a follower did (returned when it stops; logged as it goes)."""

    polls: int = 0
    runs: int = 0
    failed_runs: int = 0
    applied: int = 0
    skipped_locked: int = 0
    outcomes: list[ApplyOutcome] = field(default_factory=list)


def apply_tenant(
    tenant: str,
    *,
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    selection: Sequence[dg.AssetKey],
    log_level: str = "WARNING",
) -> ApplyOutcome:
    """Execute ``apply_webhooks_job`` for ``tenant`` in this process (a Dagster run like the sensor's)."""
    if not instance.has_dynamic_partition(TENANTS_PARTITION_NAME, tenant):
        instance.add_dynamic_partitions(TENANTS_PARTITION_NAME, [tenant])
    job = defs.resolve_job_def(APPLY_WEBHOOKS_JOB_NAME)
    ensure_pools(instance, sorted({pool for key in selection if (pool := defs.resolve_assets_def(key).op.pool)}))
    started = time.perf_counter()
    result = job.execute_in_process(
        instance=instance,
        partition_key=tenant,
        asset_selection=list(selection),
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        raise_on_error=False,
        tags={TAG_LAUNCHED_BY: LAUNCHED_BY, **process_tags()},
    )
    applied = read = 0
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        if mat.asset_key == INBOX_ASSET_KEY:
            applied = int(mat.metadata["applied"].value)  # type: ignore[arg-type]
            read = int(mat.metadata["read"].value)  # type: ignore[arg-type]
    error = None
    if not result.success:
        messages = [
            str(e.event_specific_data.error.message).strip()  # type: ignore[union-attr]
            for e in result.all_events
            if e.is_step_failure and e.event_specific_data is not None
        ]
        error = "\n".join(messages) or "the run failed (see the Dagster UI for its logs)"
    return ApplyOutcome(tenant, result.run_id, result.success, applied, read, time.perf_counter() - started, error)


def _lock_free(engine: Any, tenant: str) -> bool:
    """True when nobody holds the tenant's lock right now (taken and let go at once: a probe, not a claim)."""
    try:
        with tenant_lock(engine, tenant, purpose="webhook follower probe", timeout_s=0):
            return True
    except TenantLockTimeout:
        return False


def follow(
    *,
    instance: dg.DagsterInstance | None = None,
    defs: dg.Definitions | None = None,
    poll_s: float = DEFAULT_POLL_S,
    tenants: Sequence[str] | None = None,
    once: bool = False,
    stop: threading.Event | None = None,
    on_outcome: Callable[[ApplyOutcome], None] | None = None,
    log_level: str = "WARNING",
) -> FollowStats:
    """Apply due webhook deliveries as they arrive until ``stop`` is set (or after one pass with ``once``).

    ``tenants`` limits the follower to those tenants (default: all). Each pass reads which tenants have due
    deliveries (one grouped query), then runs each such tenant's apply unless its lock is held (someone is
    applying it); a tenant whose run failed waits out a growing back-off before its next try.
    """
    if defs is None:
        from ecom_pipeline.definitions import defs as default_defs

        defs = default_defs
    instance = instance or get_instance()
    stop = stop or threading.Event()
    engine = shared_engine(_warehouse_url(defs))
    wanted = set(tenants) if tenants else None
    reap_dead_runs(instance)
    stats = FollowStats()
    retry_at: dict[str, float] = {}
    failures: dict[str, int] = {}
    while not stop.is_set():
        stats.polls += 1
        now = utcnow()
        with engine.connect() as conn:
            groups = [g for g in pending_by_tenant(conn, now) if wanted is None or str(g.tenant_id) in wanted]
            selections = {str(g.tenant_id): apply_selection(conn, str(g.tenant_id)) for g in groups}
        for tenant, selection in selections.items():
            if stop.is_set():
                break
            if retry_at.get(tenant, 0.0) > time.monotonic():
                continue
            # A run queued by the sensor is no reason to wait (it may sit in the queue for seconds): applying now
            # is safe, and that run then finds the deliveries applied. A held lock is: someone is applying.
            if not _lock_free(engine, tenant):
                stats.skipped_locked += 1
                continue
            outcome = apply_tenant(tenant, instance=instance, defs=defs, selection=selection, log_level=log_level)
            stats.runs += 1
            stats.applied += outcome.applied
            stats.outcomes.append(outcome)
            if outcome.success:
                failures.pop(tenant, None)
                retry_at.pop(tenant, None)
                logger.info(
                    "tenant %s: applied %d of %d delivery(ies) in %.2f s (run %s)",
                    tenant,
                    outcome.applied,
                    outcome.read,
                    outcome.seconds,
                    outcome.run_id[:8],
                )
            else:
                stats.failed_runs += 1
                failures[tenant] = failures.get(tenant, 0) + 1
                wait = min(FAILURE_BACKOFF_S * 2 ** (failures[tenant] - 1), MAX_FAILURE_BACKOFF_S)
                retry_at[tenant] = time.monotonic() + wait
                logger.error(
                    "tenant %s: apply run %s failed; next try in %.0f s: %s",
                    tenant,
                    outcome.run_id[:8],
                    wait,
                    outcome.error,
                )
            if on_outcome is not None:
                on_outcome(outcome)
        if once:
            break
        stop.wait(poll_s)
    return stats


def add_follow_command(sub: Any) -> None:
    """``ecom-pipeline apply-webhooks``: the follower (``--once`` for a single pass, e.g. from cron or a test)."""
    p = sub.add_parser(
        "apply-webhooks",
        help="Apply webhook deliveries as they land (runs recorded in Dagster), for sub-second processing.",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("--tenant", action="append", default=None, help="Only this tenant (repeatable; default: all).")
    p.add_argument(
        "--poll",
        type=float,
        default=DEFAULT_POLL_S,
        help=f"Seconds between two looks at the inbox (default {DEFAULT_POLL_S}).",
    )
    p.add_argument("--once", action="store_true", help="One pass over the due deliveries, then exit.")
    p.set_defaults(func=cmd_apply_webhooks)


def cmd_apply_webhooks(args: argparse.Namespace) -> int:
    """Run the follower until SIGTERM/SIGINT (finishing the run in progress), or one pass with ``--once``."""
    if args.poll <= 0:
        print("error: --poll must be a positive number of seconds", flush=True)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    if not args.once:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        who = ", ".join(args.tenant) if args.tenant else "every tenant"
        print(f"Applying webhook deliveries of {who} as they land (a look every {args.poll:g} s); Ctrl-C stops.")
    stats = follow(poll_s=args.poll, tenants=args.tenant, once=args.once, stop=stop)
    print(
        f"{stats.runs} apply run(s), {stats.applied} delivery(ies) applied, {stats.failed_runs} failed run(s), "
        f"{stats.skipped_locked} tenant pass(es) skipped (the tenant's lock held: a sync or another apply)",
        flush=True,
    )
    return 1 if stats.failed_runs else 0
