"""Cheap runs (issue 12): a launched run executes in process and starts steps only for the tenant's platforms.

The daemon launches the schedule's runs through the run launcher: each run is a run worker process of the code
server, and the job's executor decides whether every step then starts a process of its own. Measured, one process
per step cost a no-change sync ~12 CPU s instead of ~5 (docs/benchmarks.md, "Schedule tick").
"""

from __future__ import annotations

import os

import dagster as dg
import pytest
from sqlalchemy import Engine, NullPool, create_engine, event, text

from ecom_pipeline.definitions import defs
from ecom_pipeline.runner import run_sync
from ecom_pipeline_tests.dagster_tick import schedule_tick, wait_finished
from ecom_pipeline_tests.integration.conftest import Env


def test_sync_and_webhook_jobs_execute_in_process() -> None:
    """Prevents a return to Dagster's default multiprocess executor (one Python process per step) for the jobs the
    daemon launches for every tenant, every 30 minutes and on every webhook."""
    for name in ("sync_job", "apply_webhooks_job"):
        assert defs.resolve_job_def(name).executor_def is dg.in_process_executor, name


def _storage_sessions(instance: dg.DagsterInstance) -> int | None:
    """Connections ever opened to the instance's PostgreSQL storage database (``pg_stat_database.sessions``); None
    on SQLite storage."""
    url = getattr(instance.run_storage, "postgres_url", None)
    if url is None:
        return None
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            return int(
                conn.execute(
                    text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
                ).scalar_one()
            )
    finally:
        engine.dispose()


@pytest.mark.dagster_unpooled_storage  # it counts the connections of dagster-postgres's own storage
def test_a_scheduled_run_of_a_woocommerce_only_tenant_starts_no_other_platform_step_and_one_process(
    env: Env,
) -> None:
    """Prevents the daemon's runs from starting steps (and, with a per-step executor, processes) for platforms the
    tenant does not have: the tick is submitted exactly as the scheduler daemon does and launched by the
    instance's run launcher (a run worker of the code server), not executed in this process."""
    assert env.connect("acme") == 0
    first = run_sync("acme", instance=env.instance)  # the first (full) sync, so the tick is a no-change one
    assert first.success, first.failure

    own = [0]  # connections this test's process opens meanwhile (the submission, polling for the run's end)

    def connected(*_: object) -> None:
        own[0] += 1

    sessions_before = _storage_sessions(env.instance)
    event.listen(Engine, "connect", connected)
    try:
        with schedule_tick(env.instance, launch_queued=True) as run_ids:
            assert len(run_ids) == 1
            (run,) = wait_finished(env.instance, run_ids, timeout_s=90)
    finally:
        event.remove(Engine, "connect", connected)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    sessions_after = _storage_sessions(env.instance)
    if sessions_before is not None and sessions_after is not None:
        # The run worker pools its storage connections (storage_pool.py): with Dagster's default it opened one per
        # storage call. What the code server and the run worker opened is the database's count less this process's.
        others = sessions_after - sessions_before - own[0] - 1  # - 1: the second _storage_sessions itself
        print(f"storage connections opened by the code server and the run worker: {others} (this test: {own[0]})")
        assert others < 60, others
    assert run.tags["dagster/partition"] == "acme"  # still one partition per tenant in the UI
    assert run.tags["ecom/platforms"] == "woocommerce"

    starts = env.instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START).records
    steps = {record.event_log_entry.step_key for record in starts}
    # One extract step for the platform's four entities, one hub step for the hub's four (issue 12).
    assert steps == {"woocommerce__extract", "hub__resolve"}
    # In process: every step ran in the run worker itself (one pid), and that is not this test's process.
    pids = {record.event_log_entry.dagster_event.pid for record in starts if record.event_log_entry.dagster_event}
    assert len(pids) == 1 and None not in pids
    assert pids != {os.getpid()}

    materialized = env.instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    groups = {record.event_log_entry.asset_materialization.asset_key.path[0] for record in materialized}  # type: ignore[union-attr]
    assert groups == {"woocommerce", "hub"}
    for platform in ("shopify", "prestashop"):
        key = dg.AssetKey([platform, "products"])
        assert env.instance.get_latest_materialization_event(key) is None, platform
