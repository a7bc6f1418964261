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
import contextlib
import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from ecom_pipeline.assets.export import INBOX_ASSET_KEY
from ecom_pipeline.partitions import TENANTS_PARTITION_NAME
from ecom_pipeline.runner import (
    TAG_HOST,
    TAG_LAUNCHED_BY,
    UNFINISHED,
    _warehouse_url,
    ensure_pools,
    get_instance,
    process_tags,
    reap_dead_runs,
)
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.locks import ENV_LOCK_TIMEOUT, TenantLockTimeout, tenant_lock
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline.webhooks.dagster import (
    APPLY_WEBHOOKS_JOB_NAME,
    FOLLOWER_LAUNCHED_BY,
    apply_selection,
    pending_by_tenant,
)

logger = logging.getLogger("ecom_pipeline.webhooks.follow")

LAUNCHED_BY = FOLLOWER_LAUNCHED_BY
MAX_RUNTIME_TAG = "dagster/max_runtime"
DEFAULT_POLL_S = 0.2
# After a run of a tenant fails, wait this long (doubling per failure, capped) before the next try: a broken tenant
# must not turn the follower into a hot loop, nor starve the others.
FAILURE_BACKOFF_S = 2.0
MAX_FAILURE_BACKOFF_S = 300.0
MAX_POLL_BACKOFF_S = 30.0
# How long a follower's run waits for a tenant's lock a sync took between the probe and the run (see
# _short_lock_wait), how often dead runs are reaped (this host's by pid, any follower's by its claim: see
# reap_orphaned_follower_runs), and the max runtime tag of its runs: run monitoring fails a run past it, so a
# follower killed mid-run when no other follower is left blocks its tenant's run slot for at most that long, not
# the instance's 6 hours.
RUN_LOCK_WAIT_S = 5.0
REAP_EVERY_S = 60.0
MAX_RUNTIME_S = 1800
CLAIM_PREFIX = "follower:"
# An unfinished follower run is failed as orphaned only when it has also been silent this long (no event, or created
# this long ago without one): its claim can also be lost while its follower lives (a network partition longer than
# the lock session's keepalive, see locks.LOCK_KEEPALIVE), and a live apply logs at every step.
ORPHAN_QUIET_S = 120.0


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
    skipped_claimed: int = 0
    # The latest outcomes only: a follower runs for weeks.
    outcomes: deque[ApplyOutcome] = field(default_factory=lambda: deque(maxlen=1000))


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
        tags={TAG_LAUNCHED_BY: LAUNCHED_BY, MAX_RUNTIME_TAG: str(MAX_RUNTIME_S), **process_tags()},
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


@contextlib.contextmanager
def _follower_claim(engine: Any, tenant: str) -> Iterator[bool]:
    """Claim ``tenant`` among followers for the ``with`` block (yields False when another follower has it).

    A lock of its own, beside the tenant's apply lock (tenant names cannot contain ``:``, so the key cannot be a
    tenant's): two replicas that both see a tenant pending must not both run its apply (the second would wait for
    the first, then push its exports and stock again for nothing).
    """
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(tenant_lock(engine, f"{CLAIM_PREFIX}{tenant}", purpose="webhook follower", timeout_s=0))
        except TenantLockTimeout:
            yield False
            return
        yield True


def reap_orphaned_follower_runs(instance: dg.DagsterInstance, engine: Any) -> list[str]:
    """Fail the unfinished runs of followers that are gone, on any host, and free their pool slots; returns them.

    A follower holds its claim on a tenant (``follower:<tenant>``) from before its run is created until after the
    run has finished, so an unfinished follower run whose claim is free lost its follower: the process died, or its
    host vanished (the claim's session then ends within about a minute, see ``locks.LOCK_KEEPALIVE``). Without
    this, such a run held its tenant's one run slot (``dagster/partition`` limit 1) for the runs' 30-minute max
    runtime when the follower's host was not this one (``reap_dead_runs`` checks this host's processes only).
    The claim is held while the run is re-read and failed, so no follower can start the tenant meanwhile. A run
    that logged something in the last ``ORPHAN_QUIET_S`` is left alone: a live follower can lose its claim too (a
    network partition longer than the claim session's keepalive), and its run is still logging.
    """
    failed: list[str] = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED, tags={TAG_LAUNCHED_BY: LAUNCHED_BY})):
        tenant = run.tags.get("dagster/partition")
        if not tenant:
            continue
        with _follower_claim(engine, tenant) as claimed:
            if not claimed:
                continue  # a follower is applying this tenant (perhaps in this very run): alive
            current = instance.get_run_by_id(run.run_id)
            if current is None or current.is_finished or _quiet_for_s(instance, run.run_id) < ORPHAN_QUIET_S:
                continue
            host = run.tags.get(TAG_HOST, "an unknown host")
            instance.report_run_failed(
                current,
                f"The webhook follower that executed this run (on {host}) is gone: it no longer holds its claim on "
                f"tenant {tenant}. Marked failed, and its pool slots freed, by another follower. Whatever it had "
                "committed is kept; the deliveries it had not applied are still pending and are applied next.",
            )
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            failed.append(run.run_id)
            logger.warning("run %s of tenant %s was left unfinished by a follower on %s that is gone: marked failed",
                           run.run_id, tenant, host)  # fmt: skip
    return failed


def _quiet_for_s(instance: dg.DagsterInstance, run_id: str) -> float:
    """Seconds since the run's last event (or since it was created, when it has none)."""
    found = instance.get_records_for_run(run_id, limit=1, ascending=False).records
    if found:
        last = found[0].event_log_entry.timestamp
    else:
        record = instance.get_run_record_by_id(run_id)
        last = record.create_timestamp.timestamp() if record is not None else 0.0
    return time.time() - last


@contextlib.contextmanager
def _short_lock_wait(seconds: float) -> Iterator[None]:
    """Runs executed by this follower wait at most ``seconds`` for a tenant's lock (unless the operator set
    ``ECOM_TENANT_LOCK_TIMEOUT_S``): between the probe and the run's own lock a sync may take it, and a
    follower must not sit for the default 30 minutes while other tenants' deliveries wait. The run then fails
    with the lock's message and the tenant is tried again after the back-off."""
    if os.environ.get(ENV_LOCK_TIMEOUT):
        yield
        return
    os.environ[ENV_LOCK_TIMEOUT] = str(seconds)
    try:
        yield
    finally:
        os.environ.pop(ENV_LOCK_TIMEOUT, None)


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
    deliveries (one grouped query), then runs each such tenant's apply unless another follower claimed it or its
    lock is held (someone is applying it); a tenant whose run failed waits out a growing back-off before its next
    try. An error outside a run (the warehouse or Dagster storage unreachable) is logged and the pass retried
    after a back-off: the follower keeps running, and so do the other tenants.
    """
    if defs is None:
        from ecom_pipeline.definitions import defs as default_defs

        defs = default_defs
    instance = instance or get_instance()
    stop = stop or threading.Event()
    engine = shared_engine(_warehouse_url(defs))
    wanted = set(tenants) if tenants else None
    stats = FollowStats()
    retry_at: dict[str, float] = {}
    failures: dict[str, int] = {}
    next_reap = 0.0
    poll_errors = 0

    def failed(tenant: str, run_id: str, error: str) -> None:
        stats.failed_runs += 1
        failures[tenant] = failures.get(tenant, 0) + 1
        wait = min(FAILURE_BACKOFF_S * 2 ** (failures[tenant] - 1), MAX_FAILURE_BACKOFF_S)
        retry_at[tenant] = time.monotonic() + wait
        logger.error("tenant %s: apply %s failed; next try in %.0f s: %s", tenant, run_id or "-", wait, error)

    with _short_lock_wait(RUN_LOCK_WAIT_S):
        while not stop.is_set():
            stats.polls += 1
            try:
                if time.monotonic() >= next_reap:
                    # Runs whose process died would hold their tenant's run slot: this host's (followers' and CLI
                    # runs', by pid) and any host's followers' (by their claim).
                    reap_dead_runs(instance)
                    reap_orphaned_follower_runs(instance, engine)
                    next_reap = time.monotonic() + REAP_EVERY_S
                with engine.connect() as conn:
                    due = [
                        str(g.tenant_id)
                        for g in pending_by_tenant(conn, utcnow())
                        if wanted is None or str(g.tenant_id) in wanted
                    ]
                poll_errors = 0
            except Exception as exc:  # the warehouse or Dagster storage is down: wait, do not die
                poll_errors += 1
                wait = min(FAILURE_BACKOFF_S * 2 ** (poll_errors - 1), MAX_POLL_BACKOFF_S)
                logger.error("cannot read the inbox (%s: %s); next look in %.0f s", type(exc).__name__, exc, wait)
                if once:
                    break
                stop.wait(wait)
                continue
            for tenant in due:
                if stop.is_set():
                    break
                if retry_at.get(tenant, 0.0) > time.monotonic():
                    continue
                outcome = _apply_claimed(engine, tenant, instance, defs, log_level, stats, failed)
                if outcome is None:
                    continue
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
                    failed(tenant, outcome.run_id[:8], outcome.error or "")
                if on_outcome is not None:
                    on_outcome(outcome)
            if once:
                break
            stop.wait(poll_s)
    return stats


def _apply_claimed(
    engine: Any,
    tenant: str,
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    log_level: str,
    stats: FollowStats,
    failed: Callable[[str, str, str], None],
) -> ApplyOutcome | None:
    """One tenant's turn: claim it among followers, check nobody is applying it, run its apply (None: skipped or
    failed before a run existed; the failure is logged and backed off, never raised)."""
    try:
        with _follower_claim(engine, tenant) as claimed:
            if not claimed:
                stats.skipped_claimed += 1
                return None
            # A run queued by the sensor is no reason to wait (it may sit in the queue for seconds): applying
            # now is safe, and that run then finds the deliveries applied. A held lock is: someone is applying.
            if not _lock_free(engine, tenant):
                stats.skipped_locked += 1
                return None
            with engine.connect() as conn:
                selection = apply_selection(conn, tenant)
            return apply_tenant(tenant, instance=instance, defs=defs, selection=selection, log_level=log_level)
    except Exception as exc:  # outside the run (partition, pools, storage): this tenant backs off, others go on
        failed(tenant, "", f"{type(exc).__name__}: {exc}")
        return None


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
        f"{stats.skipped_locked + stats.skipped_claimed} tenant pass(es) skipped (the tenant's lock held: a sync "
        f"or another apply; or another follower on it)",
        flush=True,
    )
    return 1 if stats.failed_runs else 0
