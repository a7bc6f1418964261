"""Crashes and concurrency: a crash costs one run, correctness does not depend on who launched a sync.

Real processes (the CLI in subprocesses, killed with SIGKILL), a real Dagster instance configured with the repo's
dagster.yaml (pool limits included), real HTTP to emulated shops and a real warehouse (PostgreSQL under CI).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from sqlalchemy import func, select

from ecom_pipeline.assets.extract import pool_name
from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.platforms.registry import platforms
from ecom_pipeline.runner import REPO_DAGSTER_YAML, run_sync
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.sensors import dead_runs_sensor
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import (
    entity_links,
    hub_customers,
    hub_order_lines,
    hub_orders,
    hub_products,
    hub_variants,
    staging_records,
)
from ecom_pipeline_tests.integration.conftest import count
from ecom_pipeline_tests.pipeline_env import set_pipeline_env

POOL = "woocommerce_api"


@pytest.fixture
def repo_dagster_home(dagster_home: Path) -> Path:
    """The test instance's storage with the repo's dagster.yaml on top (run monitoring, run limits...), its pool
    limit lowered to 2 so two crashed syncs hold every slot of a pool (the shipped limit is larger)."""
    config = yaml.safe_load(REPO_DAGSTER_YAML.read_text())
    config["concurrency"]["pools"]["default_limit"] = 2
    storage = yaml.safe_load((dagster_home / "dagster.yaml").read_text()) or {}
    if "storage" in storage:
        config["storage"] = storage["storage"]
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return dagster_home


@pytest.fixture
def world(
    warehouse_url: str, repo_dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SandboxServer, dg.DagsterInstance]]:
    set_pipeline_env(monkeypatch, warehouse_url=warehouse_url, home=tmp_path / "home", dagster_home=repo_dagster_home)
    specs = [
        ShopSpec(name="big", seed=3, products=160, variable_share=0.4, orders=300, customers=80),
        ShopSpec(name="a", seed=4, products=30, orders=20, customers=10),
        ShopSpec(name="b", seed=5, products=30, orders=20, customers=10),
        ShopSpec(name="c", seed=6, products=8, orders=6, customers=4),
    ]
    with SandboxServer(shops=specs, cert_dir=tmp_path / "certs") as sandbox:
        instance = dg.DagsterInstance.from_config(str(repo_dagster_home))
        try:
            yield sandbox, instance
        finally:
            instance.dispose()


def _connect(sandbox: SandboxServer, warehouse_url: str, tenant: str, shop: str) -> None:
    info = sandbox.shop(shop)
    argv = ["--warehouse-url", warehouse_url, "connect", "woocommerce", "--tenant", tenant, "--url", info.http_url]
    argv += ["--consumer-key", info.consumer_key, "--consumer-secret", info.consumer_secret, "--name", shop]
    assert cli_main([*argv, "--timeout", "5"]) == 0


def _cli_sync(tenant: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ecom_pipeline.cli", "sync", "--tenant", tenant],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
    )


def _duplicates(warehouse_url: str) -> dict[str, int]:
    with shared_engine(warehouse_url).connect() as conn:
        skus = conn.execute(
            select(func.count()).select_from(
                select(hub_variants.c.sku)
                .where(hub_variants.c.sku.is_not(None))
                .group_by(hub_variants.c.tenant_id, hub_variants.c.sku)
                .having(func.count() > 1)
                .subquery()
            )
        ).scalar_one()
        links = conn.execute(
            select(func.count()).select_from(
                select(entity_links.c.integration_id)
                .group_by(entity_links.c.integration_id, entity_links.c.entity, entity_links.c.external_id)
                .having(func.count() > 1)
                .subquery()
            )
        ).scalar_one()
    return {"skus": int(skus), "links": int(links)}


def test_a_cli_sync_and_a_second_process_sync_of_one_tenant_at_once_give_the_hub_of_one_sync(
    world: tuple[SandboxServer, dg.DagsterInstance], warehouse_url: str
) -> None:
    """Prevents two syncs of one tenant launched outside one run queue (CLI and daemon, or two terminals) from
    applying the same staged records twice: duplicate hub rows, or unique-constraint failures."""
    sandbox, instance = world
    _connect(sandbox, warehouse_url, "acme", "big")
    first = _cli_sync("acme")
    second = subprocess.Popen(
        [sys.executable, "-c", "from ecom_pipeline.runner import run_sync; import sys; "
         "sys.exit(0 if run_sync('acme').success else 1)"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ),
    )  # fmt: skip
    out_first, _ = first.communicate(timeout=400)
    out_second, _ = second.communicate(timeout=400)
    assert first.returncode == 0, out_first
    assert second.returncode == 0, out_second

    store = sandbox.shop("big").store
    products = [p for p in store.products.values() if p.status != "trash"]
    variants = sum(len(store.variations_of(p)) if p.type == "variable" else 1 for p in products)
    assert count(warehouse_url, hub_products, hub_products.c.deleted_at.is_(None)) == len(products)
    assert count(warehouse_url, hub_variants, hub_variants.c.deleted_at.is_(None)) == variants
    assert count(warehouse_url, hub_orders) == len(store.orders)
    assert count(warehouse_url, hub_order_lines) == sum(len(o.line_items) for o in store.orders.values())
    assert count(warehouse_url, hub_customers) == len(store.customers)
    assert _duplicates(warehouse_url) == {"skus": 0, "links": 0}
    # Both runs recorded how long they waited for the tenant lock.
    waits = [
        event.asset_materialization.metadata["tenant_lock_wait_s"].value  # type: ignore[union-attr]
        for event in instance.get_latest_materialization_events([dg.AssetKey(["hub", "products"])]).values()
        if event is not None and event.asset_materialization is not None
    ]
    assert waits and all(isinstance(w, float) for w in waits)


def _wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def test_two_syncs_killed_with_sigkill_do_not_stall_the_platform_for_other_tenants(
    world: tuple[SandboxServer, dg.DagsterInstance], warehouse_url: str
) -> None:
    """Prevents two crashed syncs (kill -9 while holding both woocommerce_api pool slots) from leaving their runs
    STARTED forever and every later WooCommerce sync of every tenant blocked on the pool limit."""
    sandbox, instance = world
    for tenant, shop in (("t-a", "a"), ("t-b", "b"), ("t-c", "c")):
        _connect(sandbox, warehouse_url, tenant, shop)
    for shop in ("a", "b"):
        # Slow enough that a step holding its slot is still holding it when the kill lands (at 400 ms a step once
        # ended between the two: 1 held slot instead of 2 in a CI run).
        sandbox.shop(shop).faults.update({"slow_ms": 1500})
    storage = instance.event_log_storage
    victims = [_cli_sync("t-a"), _cli_sync("t-b")]
    try:
        _wait_for(
            lambda: (
                POOL in storage.get_concurrency_keys() and storage.get_concurrency_info(POOL).active_slot_count == 2
            ),
            180,
            "both syncs to hold a woocommerce_api slot",
        )
        assert all(p.poll() is None for p in victims), "a sync finished before it could be killed"
    finally:
        for proc in victims:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    dead_runs = storage.get_concurrency_info(POOL).active_run_ids
    assert len(dead_runs) == 2
    assert {instance.get_run_by_id(r).status for r in dead_runs} == {dg.DagsterRunStatus.STARTED}  # type: ignore[union-attr]

    survivor = _cli_sync("t-c")
    try:
        out, _ = survivor.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        survivor.kill()
        out, _ = survivor.communicate()
        pytest.fail(f"the sync of another tenant waited forever on the pool held by the killed runs:\n{out}")
    assert survivor.returncode == 0, out
    assert count(warehouse_url, staging_records, staging_records.c.tenant_id == "t-c") > 0
    for run_id in dead_runs:
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
    assert storage.get_concurrency_info(POOL).active_slot_count == 0
    # The killed tenants are not lost either: their next sync completes.
    for shop in ("a", "b"):
        sandbox.shop(shop).faults.reset()
    assert run_sync("t-a", instance=instance).success


def test_pool_limits_exist_before_the_first_runs_so_concurrent_first_syncs_do_not_race(
    repo_dagster_home: Path,
) -> None:
    """Prevents the first two runs on a fresh instance from both creating a pool's limit, one of them failing its
    step with a unique violation (Dagster creates a pool's limit on first use): the daemon's sensor and the CLI
    create them first."""
    pools = {pool_name(p) for p in platforms()}  # every registered platform's pool, e.g. woocommerce_api
    instance = dg.DagsterInstance.from_config(str(repo_dagster_home))
    try:
        assert len(pools) >= 3
        assert not pools & instance.event_log_storage.get_concurrency_keys()
        dead_runs_sensor(dg.build_sensor_context(instance=instance))
        keys = instance.event_log_storage.get_concurrency_keys()
        assert pools <= keys
        assert instance.event_log_storage.get_concurrency_info("woocommerce_api").slot_count == 2
    finally:
        instance.dispose()
