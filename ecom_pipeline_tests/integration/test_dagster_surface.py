"""The Dagster surface on a real instance: definitions load, the partitions sensor and the schedule behave."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
from cryptography.fernet import Fernet

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.definitions import defs
from ecom_pipeline.partitions import TENANTS_PARTITION_NAME
from ecom_pipeline.resources import WarehouseResource
from ecom_pipeline.runner import TAG_HOST, TAG_PID, TAG_PID_STARTED, process_start_ticks
from ecom_pipeline.sandbox.server import ShopSpec
from ecom_pipeline.schedules import incremental_sync_schedule
from ecom_pipeline.sensors import dead_runs_sensor, tenant_partitions_sensor
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline_tests.integration.conftest import OpenTenant


def _add_integration(url: str, tenant: str, base_url: str) -> int:
    cipher = CredentialCipher(Fernet.generate_key().decode())
    with shared_engine(url).begin() as conn:
        return store.create_integration(
            conn,
            tenant_id=tenant,
            platform="woocommerce",
            name=base_url,
            base_url=base_url,
            credentials={"consumer_key": "ck_x", "consumer_secret": "cs_x"},
            settings={},
            cipher=cipher,
        )


def sync_job_for_run_workers() -> dg.JobDefinition:
    """``sync_job`` as a run worker loads it: module level, so each step process can rebuild it by reference."""
    return defs.resolve_job_def("sync_job")


def test_assets_are_partitioned_by_tenant_with_the_keys_users_rely_on() -> None:
    """Prevents renaming the asset keys that UI users, backfills and docs refer to."""
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys >= {
        "woocommerce/products",
        "woocommerce/orders",
        "woocommerce/inventory",
        "woocommerce/customers",
        "hub/products",
        "hub/orders",
        "hub/inventory",
        "hub/customers",
    }
    for key in keys:
        spec = defs.resolve_assets_def(dg.AssetKey.from_user_string(key))
        if key.startswith("ops/"):  # the KPIs: one run measures every tenant (assets/ops.py)
            assert spec.partitions_def is None
            continue
        assert spec.partitions_def is not None and spec.partitions_def.name == TENANTS_PARTITION_NAME


def test_sensor_adds_new_tenants_and_removes_gone_ones_only_when_idle(warehouse_url: str, dagster_home: Path) -> None:
    """Prevents tenants from never getting partitions, and partitions from vanishing under a running sync."""
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        first = _add_integration(warehouse_url, "acme", "http://127.0.0.1:1/a")
        _add_integration(warehouse_url, "globex", "http://127.0.0.1:1/b")
        resources = {"warehouse": WarehouseResource(url=warehouse_url)}
        result = tenant_partitions_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert isinstance(result, dg.SensorResult)
        adds = [r for r in result.dynamic_partitions_requests or [] if isinstance(r, dg.AddDynamicPartitionsRequest)]
        assert sorted(adds[0].partition_keys) == ["acme", "globex"]
        instance.add_dynamic_partitions(TENANTS_PARTITION_NAME, ["acme", "globex"])

        with shared_engine(warehouse_url).begin() as conn:
            store.disconnect_integration(conn, first)
        # A run of acme is in flight: acme must stay.
        run = instance.create_run_for_job(
            job_def=defs.resolve_job_def("sync_job"),
            run_config=None,
            tags={"dagster/partition": "acme"},
            status=dg.DagsterRunStatus.STARTED,
        )
        result = tenant_partitions_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert not result.dynamic_partitions_requests
        instance.report_run_canceled(run)
        result = tenant_partitions_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        deletes = [
            r for r in result.dynamic_partitions_requests or [] if isinstance(r, dg.DeleteDynamicPartitionsRequest)
        ]
        assert [list(d.partition_keys) for d in deletes] == [["acme"]]
    finally:
        instance.dispose()


def _evaluate_schedule(instance: dg.DagsterInstance, warehouse_url: str) -> Any:
    # As a context manager: the schedule context opens its own instance from the ref, which must be closed.
    resources = {"warehouse": WarehouseResource(url=warehouse_url)}
    with dg.build_schedule_context(instance=instance, resources=resources) as context:
        return incremental_sync_schedule(context)


def test_schedule_requests_one_run_per_tenant_with_a_per_tick_run_key(warehouse_url: str, dagster_home: Path) -> None:
    """Prevents the schedule from syncing nobody (dynamic partitions) or a tenant twice in one tick."""
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        assert isinstance(_evaluate_schedule(instance, warehouse_url), dg.SkipReason)
        _add_integration(warehouse_url, "acme", "http://127.0.0.1:1/a")
        _add_integration(warehouse_url, "globex", "http://127.0.0.1:1/b")
        instance.add_dynamic_partitions(TENANTS_PARTITION_NAME, ["acme", "globex"])
        requests = _evaluate_schedule(instance, warehouse_url)
        assert [r.partition_key for r in requests] == ["acme", "globex"]
        assert len({r.run_key for r in requests}) == 2
    finally:
        instance.dispose()


def test_a_prestashop_only_tenant_run_materializes_no_woocommerce_or_shopify_asset(
    warehouse_url: str, open_tenant: OpenTenant, capsys: Any
) -> None:
    """Prevents a tenant's run from materializing other platforms' assets with zero rows (the UI then shows
    "woocommerce/products, latest materialization: initech, 0 rows", the CLI prints all-zero lines, and the
    daemon's run worker starts one process per useless step): the CLI and the schedule select its platforms only."""
    spec = ShopSpec(name="presta", seed=3, products=6, orders=5, customers=3, platform="prestashop")
    with open_tenant(spec, tenant="initech", secret_env={"ECOM_PRESTASHOP_API_KEY": "api_key"}) as (_sandbox, instance):
        capsys.readouterr()
        assert cli_main(["--warehouse-url", warehouse_url, "sync", "--tenant", "initech"]) == 0
        printed = capsys.readouterr().out
        assert "prestashop/products" in printed and "hub/products" in printed
        assert "woocommerce/" not in printed and "shopify/" not in printed
        for platform in ("woocommerce", "shopify"):
            for entity in ("products", "inventory", "orders", "customers"):
                key = dg.AssetKey([platform, entity])
                assert instance.get_latest_materialization_event(key) is None, key.to_user_string()
        assert instance.get_latest_materialization_event(dg.AssetKey(["prestashop", "products"])) is not None
        assert instance.get_latest_materialization_event(dg.AssetKey(["hub", "orders"])) is not None

        # The schedule asks the daemon for the same selection.
        requests = _evaluate_schedule(instance, warehouse_url)
        assert isinstance(requests, list) and len(requests) == 1
        selected = {key.to_user_string() for key in requests[0].asset_selection or []}
        assert selected == {f"{group}/{entity}" for group in ("prestashop", "hub")
                            for entity in ("products", "inventory", "orders", "customers")}  # fmt: skip

        # ... and a run worker executes that request with the job's own executor (in process, see jobs.SYNC_EXECUTOR).
        job = dg.reconstructable(sync_job_for_run_workers)
        with dg.execute_job(
            job, instance, tags=requests[0].tags | {"dagster/partition": "initech"},
            asset_selection=list(requests[0].asset_selection or []),
        ) as result:  # fmt: skip
            assert result.success
            started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
        assert started == {"prestashop__extract", "hub__resolve"}  # one step per platform, one for the hub
        for platform in ("woocommerce", "shopify"):
            assert instance.get_latest_materialization_event(dg.AssetKey([platform, "products"])) is None


def test_dead_runs_sensor_fails_in_process_runs_whose_process_was_killed_and_frees_their_pool_slots(
    dagster_home: Path,
) -> None:
    """Prevents a CLI sync killed with kill -9 from holding its pool slot until someone runs the CLI again: the
    daemon's run monitoring cannot see in-process runs (no run worker), so this sensor does."""
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        started = process_start_ticks(victim.pid)
        tags = {TAG_PID: str(victim.pid), TAG_HOST: socket.gethostname(), "dagster/partition": "acme"}
        if started is not None:
            tags[TAG_PID_STARTED] = started
        job = defs.resolve_job_def("sync_job")
        dead = instance.create_run_for_job(job_def=job, tags=tags, status=dg.DagsterRunStatus.STARTED)
        alive = instance.create_run_for_job(
            job_def=job, tags={**tags, TAG_PID: str(victim.pid)}, status=dg.DagsterRunStatus.STARTED
        )
        storage = instance.event_log_storage
        storage.set_concurrency_slots("woocommerce_api", 2)
        storage.claim_concurrency_slot("woocommerce_api", dead.run_id, "woocommerce__extract")
        assert storage.get_concurrency_info("woocommerce_api").active_slot_count == 1

        # While the process lives, its runs are left alone.
        dead_runs_sensor(dg.build_sensor_context(instance=instance))
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.STARTED  # type: ignore[union-attr]

        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        result = dead_runs_sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SkipReason) and dead.run_id in str(result.skip_message)
        for run in (dead, alive):
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE  # type: ignore[union-attr]
        assert storage.get_concurrency_info("woocommerce_api").active_slot_count == 0
    finally:
        instance.dispose()
