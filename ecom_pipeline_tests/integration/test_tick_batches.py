"""A large schedule tick: one launched run carries several tenants, and each tenant keeps its own run (issue 12).

A launched run costs a process start (~5 CPU s) for ~0.5 s of work in a no-change sync, so above
``ECOM_TICK_BATCH_ABOVE`` tenants the tick is run by ``sync_batch_job`` runs of ``ECOM_TICK_BATCH_SIZE`` tenants.
What must not change for the tenants: their own ``sync_job`` run, partition, materializations and checks, and one
tenant's failure visible under that tenant only.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import Engine, event, update

from ecom_pipeline.partitions import TENANTS_PARTITION_NAME
from ecom_pipeline.resources import WarehouseResource
from ecom_pipeline.runner import TAG_LAUNCHED_BY, run_sync
from ecom_pipeline.schedules import (
    BATCH_ABOVE_ENV,
    BATCH_SIZE_ENV,
    TickPlan,
    incremental_sync_batches_schedule,
    incremental_sync_schedule,
    tenants_connected_at,
)
from ecom_pipeline.storage_pool import pool_instance_storage
from ecom_pipeline.sync_batches import LAUNCHED_BY_BATCH, SYNC_BATCH_JOB_NAME, TAG_BATCH_RUN
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.locks import ENV_LOCK_TIMEOUT, tenant_lock
from ecom_pipeline.warehouse.schema import integrations, sync_runs
from ecom_pipeline_tests.dagster_tick import schedule_tick, wait_finished
from ecom_pipeline_tests.integration.conftest import SHOP, Env


def _evaluate(schedule: Any, env: Env) -> Any:
    resources = {"warehouse": WarehouseResource(url=env.warehouse_url)}
    with dg.build_schedule_context(instance=env.instance, resources=resources) as context:
        return schedule(context)


def test_batches_split_the_sorted_tenants_evenly() -> None:
    """Prevents a batch of one straggler (41 tenants in batches of 25 -> 21 + 20, not 25 + 16) and lost tenants."""
    tenants = [f"t{i:03d}" for i in range(41)]
    plan = TickPlan(
        tenants=tenants,
        platforms_of={},
        partitions=41,
        counted=41,
        batch_above=40,
        batch_size=25,
    )
    batches = plan.batches()
    assert [len(b) for b in batches] == [21, 20]
    assert [t for b in batches for t in b] == tenants
    assert plan.batched
    assert not TickPlan([], {}, 40, 40, 40, 25).batched


def test_a_small_tick_is_one_run_per_tenant_and_the_batches_schedule_skips(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents batching from changing small installations: below the threshold nothing but per-tenant runs."""
    monkeypatch.delenv(BATCH_ABOVE_ENV, raising=False)
    for tenant in ("acme", "globex"):
        assert env.connect(tenant) == 0
    env.instance.add_dynamic_partitions(TENANTS_PARTITION_NAME, ["acme", "globex"])
    requests = _evaluate(incremental_sync_schedule, env)
    assert [r.partition_key for r in requests] == ["acme", "globex"]
    assert isinstance(_evaluate(incremental_sync_batches_schedule, env), dg.SkipReason)

    monkeypatch.setenv(BATCH_ABOVE_ENV, "1")
    monkeypatch.setenv(BATCH_SIZE_ENV, "5")
    skipped = _evaluate(incremental_sync_schedule, env)
    assert isinstance(skipped, dg.SkipReason) and "incremental_sync_batches_schedule" in (skipped.skip_message or "")
    [batch] = _evaluate(incremental_sync_batches_schedule, env)
    assert batch.run_config == {"ops": {"sync_tenants": {"config": {"tenants": ["acme", "globex"]}}}}
    assert batch.partition_key is None  # the batch run has no partition; its tenants' runs have theirs

    monkeypatch.setenv(BATCH_SIZE_ENV, "0")
    with pytest.raises(Exception, match=BATCH_SIZE_ENV):
        _evaluate(incremental_sync_batches_schedule, env)


def test_both_schedules_decide_on_the_shops_connected_at_the_scheduled_time(env: Env) -> None:
    """Prevents a tick where both schedules act (every tenant synced twice) or neither does (a tick lost) when a
    shop is connected or disconnected between the daemon's evaluations of the two."""
    assert env.connect("acme") == 0
    between = datetime.now(UTC)
    time.sleep(0.01)
    assert env.connect("globex") == 0
    engine = shared_engine(env.warehouse_url)
    with engine.begin() as conn:
        conn.execute(
            update(integrations).where(integrations.c.tenant_id == "acme").values(disconnected_at=datetime.now(UTC))
        )
    with engine.connect() as conn:
        assert tenants_connected_at(conn, between) == 1  # acme: connected then (disconnected since)
        assert tenants_connected_at(conn, datetime.now(UTC)) == 1  # globex; acme is disconnected now
        assert tenants_connected_at(conn, datetime.now(UTC) - timedelta(days=1)) == 0


def test_a_large_tick_runs_tenants_in_batches_each_with_its_own_run_partition_and_failure(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents a batch from hiding tenants or their failures: each tenant of a batch run gets its own sync_job run
    tagged with its partition and its own materializations; a tenant whose shop is down fails its own check only,
    and a tenant whose run fails fails alone (the batch says so) while the tenants after it in the batch still
    sync."""
    tenants = ["a-dead", "b-ok", "c-locked", "d-ok"]
    for tenant in tenants:
        assert env.connect(tenant, SHOP if tenant != "b-ok" else "other-shop") == 0
        first = run_sync(tenant, instance=env.instance, log_level="ERROR")
        assert first.success, first.failure
    engine = shared_engine(env.warehouse_url)
    with engine.begin() as conn:
        # The shop is gone: the emulator answers 404 for a shop it does not serve.
        gone = env.sandbox.shop(SHOP).http_url.replace(SHOP, "closed-shop")
        conn.execute(update(integrations).where(integrations.c.tenant_id == "a-dead").values(base_url=gone))
    monkeypatch.setenv(BATCH_ABOVE_ENV, "3")
    monkeypatch.setenv(BATCH_SIZE_ENV, "2")
    # The code server and the batch run workers inherit this: c-locked's hub step gives up on its lock after 2 s.
    monkeypatch.setenv(ENV_LOCK_TIMEOUT, "2")
    assert isinstance(_evaluate(incremental_sync_schedule, env), dg.SkipReason)
    # c-locked (and d-ok: same shop) get work to apply, a changed product, so c-locked's hub step needs the tenant's
    # lock: a hub step with nothing pending takes no lock (assets/hub.py), and would succeed.
    store = env.sandbox.shop(SHOP).store
    product = next(p for p in store.products.values() if p.type == "simple" and p.status == "publish" and p.sku)
    store.update_product(product.id, {"regular_price": "99.90", "sale_price": ""})

    with (
        tenant_lock(engine, "c-locked", purpose="test: another apply of c-locked"),
        schedule_tick(env.instance, "incremental_sync_batches_schedule", launch_queued=True) as run_ids,
    ):
        assert len(run_ids) == 2
        batches = wait_finished(env.instance, run_ids, timeout_s=240)

    by_first = {run.tags["ecom/first_tenant"]: run for run in batches}
    assert set(by_first) == {"a-dead", "c-locked"}
    assert all(run.job_name == SYNC_BATCH_JOB_NAME for run in batches)
    # a-dead's shop is down: its run succeeds with a failed ERROR check, as a one-tenant run would; no batch failure.
    assert by_first["a-dead"].status == dg.DagsterRunStatus.SUCCESS
    # c-locked's hub step could not get the tenant's lock: its run fails, and its batch says so after d-ok ran.
    assert by_first["c-locked"].status == dg.DagsterRunStatus.FAILURE

    tenant_runs = {}
    for batch in batches:
        children = env.instance.get_runs(filters=dg.RunsFilter(tags={TAG_BATCH_RUN: batch.run_id}))
        for run in children:
            assert run.job_name == "sync_job"
            assert run.tags[TAG_LAUNCHED_BY] == LAUNCHED_BY_BATCH
            tenant_runs[run.tags["dagster/partition"]] = run
    assert sorted(tenant_runs) == tenants  # every tenant has its own run, none hidden
    status = {tenant: run.status for tenant, run in tenant_runs.items()}
    assert status == {
        "a-dead": dg.DagsterRunStatus.SUCCESS,
        "b-ok": dg.DagsterRunStatus.SUCCESS,
        "c-locked": dg.DagsterRunStatus.FAILURE,
        "d-ok": dg.DagsterRunStatus.SUCCESS,
    }

    # Materializations under each tenant's own partition, from that tenant's own run.
    for tenant in ("a-dead", "b-ok", "d-ok"):
        run_id = tenant_runs[tenant].run_id
        records = env.instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
        partitions = {r.event_log_entry.asset_materialization.partition for r in records}  # type: ignore[union-attr]
        keys = {r.event_log_entry.asset_materialization.asset_key for r in records}  # type: ignore[union-attr]
        assert partitions == {tenant}
        assert dg.AssetKey(["hub", "products"]) in keys and dg.AssetKey(["woocommerce", "orders"]) in keys

    # a-dead: the failure is its own, in its check and its sync_runs rows; b-ok's check passed.
    checks = {}
    for tenant in ("a-dead", "b-ok"):
        records = env.instance.get_records_for_run(
            tenant_runs[tenant].run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        checks[tenant] = {
            (
                r.event_log_entry.dagster_event.event_specific_data.asset_key.to_user_string(),
                r.event_log_entry.dagster_event.event_specific_data.passed,
            )  # type: ignore[union-attr]
            for r in records
            if r.event_log_entry.dagster_event.event_specific_data.check_name == "all_shops_extracted"  # type: ignore[union-attr]
        }
    failed_checks = {key for key, passed in checks["a-dead"] if not passed}
    assert failed_checks == {"woocommerce/products", "woocommerce/orders", "woocommerce/customers"}
    assert checks["b-ok"] and all(passed for _, passed in checks["b-ok"])
    with engine.connect() as conn:
        failed_rows = conn.execute(
            sync_runs.select().where(
                sync_runs.c.dagster_run_id == tenant_runs["a-dead"].run_id, sync_runs.c.status == "failed"
            )
        ).all()
    assert failed_rows and {row.tenant_id for row in failed_rows} == {"a-dead"}

    # c-locked: its run's failed step is the hub step (hub/products could not take the lock), nobody else's.
    failures = env.instance.get_records_for_run(
        tenant_runs["c-locked"].run_id, of_type=dg.DagsterEventType.STEP_FAILURE
    ).records
    assert {r.event_log_entry.step_key for r in failures} >= {"hub__resolve"}
    failure = next(
        r
        for r in env.instance.get_records_for_run(
            by_first["c-locked"].run_id, of_type=dg.DagsterEventType.STEP_FAILURE
        ).records
    )
    message = failure.event_log_entry.dagster_event.event_specific_data.error.message  # type: ignore[union-attr]
    assert "1 of 2 tenant sync(s) failed" in message and "c-locked" in message


@pytest.mark.dagster_unpooled_storage  # it counts the connections of dagster-postgres's own storage
def test_a_batch_process_holds_pooled_storage_connections(env: Env, dagster_home: Path) -> None:
    """Prevents the batch run paying a PostgreSQL connection per Dagster storage call: dagster-postgres's NullPool
    opens hundreds per tenant's sync (each a forked backend, ~2 CPU s of PostgreSQL per tenant measured); after
    ``pool_instance_storage`` the same no-change sync opens next to none."""
    if "postgres" not in (dagster_home / "dagster.yaml").read_text():
        pytest.skip("Dagster storage is SQLite here (off CI): the pooling applies to PostgreSQL storage only")
    assert env.connect("acme") == 0
    assert run_sync("acme", instance=env.instance).success  # the first, full sync
    opened: list[int] = []
    for pooled in (False, True):
        if pooled:
            assert pool_instance_storage(env.instance)
        count = [0]

        def connected(*_: Any, count: list[int] = count) -> None:
            count[0] += 1

        event.listen(Engine, "connect", connected)
        try:
            assert run_sync("acme", instance=env.instance).success
        finally:
            event.remove(Engine, "connect", connected)
        opened.append(count[0])
    assert opened[0] > 100, opened  # the default: a connection per storage call
    assert opened[1] <= 10, opened  # pooled: the storages' first connections at most
    assert not pool_instance_storage(env.instance)  # once per instance
