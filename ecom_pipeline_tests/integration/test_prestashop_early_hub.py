"""hub/products applied by the PrestaShop extract step while it reads orders and customers (``hub.apply_early``),
reported by the hub step, and only in runs that materialize hub/products."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest
from sqlalchemy import func, select

from ecom_pipeline.assets.extract import IN_PROCESS_EXECUTORS
from ecom_pipeline.definitions import defs
from ecom_pipeline.jobs import SYNC_JOB_NAME
from ecom_pipeline.runner import run_sync, sync_run_config
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_products, staging_records, sync_runs
from ecom_pipeline_tests.integration.conftest import OpenTenant, count

TENANT = "initech"


@pytest.fixture
def presta(open_tenant: OpenTenant) -> Iterator[tuple[SandboxServer, dg.DagsterInstance]]:
    spec = ShopSpec(
        name="presta", seed=5, products=20, variable_share=0.5, orders=150, customers=8, platform="prestashop"
    )
    with open_tenant(spec, tenant=TENANT, secret_env={"ECOM_PRESTASHOP_API_KEY": "api_key"}) as connected:
        yield connected


def _row(conn, entity: str, stage: str, run_id: str):  # type: ignore[no-untyped-def]
    return conn.execute(
        select(sync_runs).where(
            sync_runs.c.entity == entity, sync_runs.c.stage == stage, sync_runs.c.dagster_run_id == run_id
        )
    ).one()


def test_products_reach_the_hub_while_orders_are_read_and_the_hub_step_reports_them(
    presta: tuple[SandboxServer, dg.DagsterInstance], warehouse_url: str
) -> None:
    """Prevents the hub apply of products from waiting for the end of every download again (the shop idles
    through it: PrestaShop's full sync at 1.75x its floor), and the early apply from vanishing from hub/products'
    materialization."""
    sandbox, instance = presta
    products = len(sandbox.shop("presta").store.tables["products"])
    outcome = run_sync(TENANT, instance=instance)
    assert outcome.success, outcome.failure
    with shared_engine(warehouse_url).connect() as conn:
        resolve_products = _row(conn, "product", "resolve", outcome.run_id)
        extract_customers = _row(conn, "customer", "extract", outcome.run_id)
        resolve_orders = _row(conn, "order", "resolve", outcome.run_id)
    # Started inside the extract step (its thread starts before the orders are read, and the step waits for it
    # before it ends; without it, products are applied by the hub step, after the last extract) ...
    assert resolve_products.started_at < extract_customers.finished_at
    # ... and the orders after every extract, in the hub step, as before.
    assert resolve_orders.started_at >= extract_customers.finished_at
    assert resolve_products.status == "success" and resolve_products.created == products

    meta = outcome.materializations["hub/products"]
    assert meta["applied_during_extract"] == meta["rows_read"] > 0
    assert meta["created"] == products and meta["nothing_pending"] is False
    assert count(warehouse_url, hub_products) == products

    # A no-change run applies nothing early and says so.
    outcome = run_sync(TENANT, instance=instance)
    assert outcome.success, outcome.failure
    assert outcome.materializations["hub/products"]["applied_during_extract"] == 0
    assert outcome.materializations["hub/products"]["nothing_pending"] is True


def test_a_run_of_the_extract_assets_alone_applies_nothing_to_the_hub(
    presta: tuple[SandboxServer, dg.DagsterInstance], warehouse_url: str
) -> None:
    """Prevents a run that does not materialize hub/products (the UI's "Materialize" on prestashop/*) from writing
    the hub behind its back."""
    _, instance = presta
    selection = [dg.AssetKey(["prestashop", name]) for name in ("products", "inventory", "orders", "customers")]
    instance.add_dynamic_partitions("tenants", [TENANT])
    result = defs.resolve_job_def(SYNC_JOB_NAME).execute_in_process(
        instance=instance,
        partition_key=TENANT,
        asset_selection=selection,
        run_config=sync_run_config(defs, full_refresh=False, asset_selection=selection),
        raise_on_error=False,
    )
    assert result.success
    assert count(warehouse_url, hub_products) == 0
    with shared_engine(warehouse_url).connect() as conn:
        pending = conn.execute(
            select(func.count())
            .select_from(staging_records)
            .where(staging_records.c.entity == "product", staging_records.c.applied_at.is_(None))
        ).scalar_one()
    assert pending > 0


def test_early_apply_only_where_every_step_runs_in_the_run_process() -> None:
    """Prevents the early apply under the Celery or multiprocess executor, whose hub step runs in another process
    and could not report it (hub._EARLY is per process)."""
    assert {dg.in_process_executor.name, "execute_in_process_executor"} == IN_PROCESS_EXECUTORS
    assert defs.resolve_job_def(SYNC_JOB_NAME).executor_def.name in IN_PROCESS_EXECUTORS
    assert dg.multiprocess_executor.name not in IN_PROCESS_EXECUTORS
    assert dg.multi_or_in_process_executor.name not in IN_PROCESS_EXECUTORS
