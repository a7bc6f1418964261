"""The export in Dagster (issue 10, item 4): ``<platform>/export`` assets on a real instance, real warehouse and the
WooCommerce emulator over real HTTP.

A tenant's sync (``run_sync``, the CLI's launcher) runs the export after the hub assets when the tenant has a
push or bidirectional shop on the platform, and has no export step otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest
from sqlalchemy import select

from ecom_pipeline.jobs import SYNC_JOB_NAME, sync_asset_selection, tenant_sync_selection
from ecom_pipeline.runner import run_sync
from ecom_pipeline.sandbox.server import ShopSpec
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import integrations, push_records
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.integration.push_world import TENANT, OpenPushWorld, PushWorld

SHOP = "export-shop"
CATALOGUE = [
    "tee,T-Shirt,<p>Soft</p>,active,variable,,,TEE-S,T-Shirt - S,19.90,24.90,EUR,0.2,Size=S,",
    "tee,,,,,,,TEE-M,T-Shirt - M,19.90,,EUR,0.2,Size=M,",
    "mug,Mug,,active,simple,,,MUG-1,,8.00,,EUR,0.35,,",
]
EXPORT = "woocommerce/export"


class World(PushWorld):
    def import_catalogue(self) -> None:
        self.import_csv(*CATALOGUE)

    def skus(self) -> dict[str, int]:
        store = self.shop.store
        found: dict[str, int] = {}
        for record in [*store.products.values(), *store.variations.values()]:
            if record.sku and getattr(record, "status", "publish") != "trash":
                found[record.sku] = found.get(record.sku, 0) + 1
        return found


@pytest.fixture
def world(open_push_world: OpenPushWorld) -> Iterator[World]:
    """The shop running, not connected yet: each test connects it with the direction it is about."""
    spec = ShopSpec(name=SHOP, seed=11, products=4, variable_share=0.5, orders=0, customers=0)
    with open_push_world(World, spec, direction=None) as world:
        yield world


def _step_keys(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    return {
        e.step_key
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)
        if e.step_key is not None
    }


def test_a_bidirectional_tenants_sync_runs_the_export_which_creates_the_hub_products_in_the_shop(
    world: World,
) -> None:
    """Prevents a sync that pulls but never pushes: products created in the hub reach a bidirectional shop through
    the tenant's Dagster sync, with the plan and counts in the export's metadata, and a second sync writes nothing."""
    world.connect("bidirectional")
    world.import_catalogue()
    world.shop.stats.reset()

    outcome = run_sync(TENANT, instance=world.instance)

    assert outcome.success, outcome.failure
    assert {sku: n for sku, n in world.skus().items() if sku in ("TEE-S", "TEE-M", "MUG-1")} == {
        "TEE-S": 1,
        "TEE-M": 1,
        "MUG-1": 1,
    }
    meta = outcome.materializations[EXPORT]
    assert (meta["created"], meta["failed"], meta["dry_run"], meta["shops"]) == (2, 0, False, 1)
    assert meta["dagster/row_count"] == meta["created"] + meta["updated"]
    plan = meta["plan"]
    creates = {(r.data["action"], r.data["entity"], r.data["key"]) for r in plan.records}
    assert {("create", "product", "tee"), ("create", "product", "mug")} <= creates
    assert meta["planned"] == len(plan.records)
    run = world.export_runs()[-1]
    assert (run.status, run.created, run.dagster_run_id) == ("success", 2, outcome.run_id)
    # One extract step, one hub step, the export step (issue 12: a step per platform, not per entity).
    assert _step_keys(world.instance, outcome.run_id) == {"woocommerce__extract", "hub__resolve", "woocommerce__export"}
    # What was written, record by record (push_records): the table in the metadata and the rows' Dagster run id.
    assert meta["records_written"] == 5  # two products, three variants
    rows = meta["records"].records
    written = {(r.data["entity"], r.data["sku"] or r.data["handle"], r.data["outcome"]) for r in rows}
    assert written == {("product", "tee", "created"), ("product", "mug", "created"), ("variant", "TEE-S", "created"),
                       ("variant", "TEE-M", "created"), ("variant", "MUG-1", "created")}  # fmt: skip
    with shared_engine(world.url).connect() as conn:
        lineage = set(conn.execute(select(push_records.c.run_id, push_records.c.sync_run_id)))
    assert lineage == {(outcome.run_id, run.id)}

    world.shop.stats.reset()
    again = run_sync(TENANT, instance=world.instance)
    assert again.success, again.failure
    assert again.materializations[EXPORT]["created"] == 0
    assert world.writes() == 0  # the pull of our own write and the export after it write nothing


def test_a_pull_only_tenants_sync_has_no_export_step_and_writes_nothing(world: World) -> None:
    """Prevents the sync of a pull-only tenant from pushing (or from recording empty export materializations)."""
    world.connect("pull")
    world.import_catalogue()
    world.shop.stats.reset()
    outcome = run_sync(TENANT, instance=world.instance)
    assert outcome.success, outcome.failure
    assert not [key for key in outcome.materializations if key.endswith("/export")]
    assert _step_keys(world.instance, outcome.run_id) == {"woocommerce__extract", "hub__resolve"}
    assert world.writes() == 0 and "MUG-1" not in world.skus()
    with shared_engine(world.url).connect() as conn:
        assert tenant_sync_selection(conn, TENANT) == sync_asset_selection(["woocommerce"])


def test_the_export_assets_dry_run_puts_the_plan_in_the_metadata_and_writes_nothing(world: World) -> None:
    """Prevents a dry run that writes to the shop: the plan is shown, the shop sees reads only."""
    from ecom_pipeline.definitions import defs
    from ecom_pipeline.partitions import TENANTS_PARTITION_NAME

    world.connect("push")
    world.import_catalogue()
    world.instance.add_dynamic_partitions(TENANTS_PARTITION_NAME, [TENANT])
    world.shop.stats.reset()
    job = defs.resolve_job_def(SYNC_JOB_NAME)
    result = job.execute_in_process(
        instance=world.instance,
        partition_key=TENANT,
        asset_selection=[dg.AssetKey(["woocommerce", "export"])],
        run_config={"ops": {"woocommerce__export": {"config": {"dry_run": True}}}},
    )
    assert result.success
    [mat] = result.asset_materializations_for_node("woocommerce__export")
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert (meta["dry_run"], meta["created"], meta["planned"]) == (True, 0, 2)  # one row per product created
    assert world.writes() == 0 and "MUG-1" not in world.skus()
    assert world.export_runs() == []


def test_a_tenant_without_a_pushing_shop_gets_a_no_op_export_that_says_so(world: World) -> None:
    """Prevents the webhook job's export (selected for every platform when run by hand) from pushing to a pull
    shop: it materializes as a no-op with the reason."""
    from ecom_pipeline.definitions import defs
    from ecom_pipeline.partitions import TENANTS_PARTITION_NAME

    world.connect("pull")
    world.import_catalogue()
    world.instance.add_dynamic_partitions(TENANTS_PARTITION_NAME, [TENANT])
    world.shop.stats.reset()
    result = defs.resolve_job_def(SYNC_JOB_NAME).execute_in_process(
        instance=world.instance, partition_key=TENANT, asset_selection=[dg.AssetKey(["woocommerce", "export"])]
    )
    assert result.success
    [mat] = result.asset_materializations_for_node("woocommerce__export")
    assert mat.metadata["shops"].value == 0
    assert "nothing to push" in str(mat.metadata["skipped"].value)
    assert world.writes() == 0


def test_schedule_and_webhook_sensor_select_the_export_of_a_pushing_tenant_and_the_webhook_run_pushes(
    world: World,
) -> None:
    """Prevents a pushing tenant's scheduled sync or webhook apply from leaving the hub's changes unpushed."""
    from ecom_pipeline.partitions import TENANTS_PARTITION_NAME
    from ecom_pipeline.resources import WarehouseResource
    from ecom_pipeline.schedules import incremental_sync_schedule
    from ecom_pipeline.warehouse.schema import webhook_inbox
    from ecom_pipeline.webhooks.dagster import INBOX_ASSET_KEY, webhook_inbox_sensor

    key = dg.AssetKey(["woocommerce", "export"])
    resources = {"warehouse": WarehouseResource(url=world.url)}
    world.connect("pull")
    world.instance.add_dynamic_partitions(TENANTS_PARTITION_NAME, [TENANT])
    with dg.build_schedule_context(instance=world.instance, resources=resources) as context:
        [pull_request] = incremental_sync_schedule(context)
    assert key not in pull_request.asset_selection
    with shared_engine(world.url).connect() as conn:
        integration_id = conn.execute(select(integrations.c.id)).scalar_one()
    assert world.cli("integration", "set", "--integration", str(integration_id), "--direction", "bidirectional") == 0
    with dg.build_schedule_context(instance=world.instance, resources=resources) as context:
        [push_request] = incremental_sync_schedule(context)
    assert key in push_request.asset_selection and dg.AssetKey(["hub", "products"]) in push_request.asset_selection

    with shared_engine(world.url).begin() as conn:
        conn.execute(
            webhook_inbox.insert().values(
                tenant_id=TENANT,
                integration_id=integration_id,
                platform="woocommerce",
                topic="product.updated",
                delivery_key="k1",
                headers={},
                body="{}",
                received_at=utcnow(),
                status="pending",
            )
        )
    result = webhook_inbox_sensor(dg.build_sensor_context(instance=world.instance, cursor=None, resources=resources))
    [request] = result.run_requests
    assert request.asset_selection == [INBOX_ASSET_KEY, key]

    # The webhook apply run, as the sensor asks for it, pushes the hub's catalogue after applying the inbox.
    from ecom_pipeline.definitions import defs
    from ecom_pipeline.webhooks.dagster import APPLY_WEBHOOKS_JOB_NAME

    world.import_catalogue()
    run = defs.resolve_job_def(APPLY_WEBHOOKS_JOB_NAME).execute_in_process(
        instance=world.instance, partition_key=TENANT, asset_selection=request.asset_selection
    )
    assert run.success
    assert [e.asset_key for e in run.get_asset_materialization_events()] == [INBOX_ASSET_KEY, key]
    [mat] = run.asset_materializations_for_node("woocommerce__export")
    assert mat.metadata["created"].value == 2
    assert {"TEE-S", "TEE-M", "MUG-1"} <= set(world.skus())
