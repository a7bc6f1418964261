"""End to end: emulator change -> signed delivery -> receiver -> inbox -> sensor tick -> job run -> hub row.

Nothing of ours is mocked: the emulated WooCommerce store registers webhooks and sends deliveries over HTTP, the
receiver stores them in a real warehouse, the sensor is evaluated on a real Dagster instance and the job runs there.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import select

from ecom_pipeline.definitions import defs as base_defs
from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient
from ecom_pipeline.platforms.woocommerce.webhooks import TOPICS, connect_webhooks, ensure_webhooks
from ecom_pipeline.resources import WarehouseResource
from ecom_pipeline.runner import run_sync
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.schema import hub_inventory, hub_variants, sync_runs, webhook_inbox
from ecom_pipeline.webhooks.app import create_app
from ecom_pipeline.webhooks.dagster import APPLY_WEBHOOKS_JOB_NAME, WEBHOOK_DEFINITIONS, webhook_inbox_sensor
from ecom_pipeline_tests.pipeline_env import set_pipeline_env
from ecom_pipeline_tests.webhooks.conftest import ReceiverServer, add_integration

TENANT = "acme"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    spec = ShopSpec(name="hooked", seed=11, products=8, variable_share=0.5, orders=5, customers=4)
    with SandboxServer(shops=[spec], cert_dir=tmp_path / "certs") as sb:
        yield sb


def _client(sandbox: SandboxServer) -> WooCommerceClient:
    shop = sandbox.shop("hooked")
    return WooCommerceClient(shop.http_url, shop.consumer_key, shop.consumer_secret, max_retries=1, timeout=10)


def test_shop_change_reaches_the_hub_through_webhook_sensor_and_job(
    warehouse_url: str, dagster_home: Path, sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents a webhook path that stores deliveries but never gets them into the hub (or only on the next sync)."""
    set_pipeline_env(monkeypatch, warehouse_url=warehouse_url, home=tmp_path / "home", dagster_home=dagster_home)
    cipher = CredentialCipher.from_env(tmp_path / "home")
    engine = make_engine(warehouse_url)
    shop = sandbox.shop("hooked")
    integration_id = add_integration(
        engine,
        cipher,
        platform="woocommerce",
        base_url=shop.http_url,
        credentials={"consumer_key": shop.consumer_key, "consumer_secret": shop.consumer_secret},
    )
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    defs = dg.Definitions.merge(base_defs, dg.Definitions(**WEBHOOK_DEFINITIONS))
    with ReceiverServer(create_app(engine=engine, cipher=cipher)) as receiver:
        first = connect_webhooks(engine, integration_id, receiver.url, cipher)
        assert sorted(first.created) == sorted(TOPICS)
        again = connect_webhooks(engine, integration_id, receiver.url, cipher)
        assert not again.changed and sorted(again.unchanged) == sorted(TOPICS), "registration must be idempotent"

        assert run_sync(TENANT, instance=instance).success
        store = shop.store
        simple = next(
            p
            for p in store.products.values()
            if p.type == "simple" and p.status == "publish" and p.manage_stock and (p.stock_quantity or 0) > 1
        )
        variable = next(p for p in store.products.values() if p.type == "variable" and p.variation_ids)
        variation_id = variable.variation_ids[0]
        with _client(sandbox) as client:
            client.put(f"products/{simple.id}", {"regular_price": "77.70"})
            client.put(f"products/{variable.id}/variations/{variation_id}", {"regular_price": "55.50"})
        assert shop.extra["webhooks"].flush(10)
        with engine.connect() as conn:
            pending = conn.execute(select(webhook_inbox.c.topic).where(webhook_inbox.c.status == "pending")).all()
        assert len(pending) == 2, "ping must not be stored; each change is one delivery"

        context = dg.build_sensor_context(
            instance=instance, cursor=None, resources={"warehouse": WarehouseResource(url=warehouse_url)}
        )
        result = webhook_inbox_sensor(context)
        assert [r.partition_key for r in result.run_requests] == [TENANT]
        job = defs.resolve_job_def(APPLY_WEBHOOKS_JOB_NAME)
        run = job.execute_in_process(instance=instance, partition_key=TENANT, tags=result.run_requests[0].tags)
        assert run.success
        meta = run.get_asset_materialization_events()[0].step_materialization_data.materialization.metadata
        assert meta["applied"].value == 2 and meta["dead"].value == 0
        with engine.connect() as conn:
            stages = conn.execute(
                select(sync_runs.c.entity, sync_runs.c.status).where(
                    sync_runs.c.dagster_run_id == run.run_id, sync_runs.c.stage == "webhook"
                )
            ).all()
        assert sorted(stages) == [("inventory", "success"), ("product", "success")], "the webhook stage is recorded"

        variation_sku = store.variations[variation_id].sku
        with engine.connect() as conn:
            prices = dict(conn.execute(select(hub_variants.c.sku, hub_variants.c.price)).all())
            statuses = {r.status for r in conn.execute(select(webhook_inbox.c.status))}
        assert prices[simple.sku] == Decimal("77.70")
        assert prices[variation_sku] == Decimal("55.50"), "a variation delivery must re-read its parent"
        assert statuses == {"applied"}

        # A sale on the shop reduces stock: product.updated reaches hub_inventory through the same path.
        with _client(sandbox) as client:
            before = store.products[simple.id].stock_quantity
            client.post("orders", {"set_paid": True, "line_items": [{"product_id": simple.id, "quantity": 1}]})
            assert shop.extra["webhooks"].flush(10)
            context = dg.build_sensor_context(
                instance=instance,
                cursor=result.cursor,
                resources={"warehouse": WarehouseResource(url=warehouse_url)},
            )
            tick = webhook_inbox_sensor(context)
            assert len(tick.run_requests) == 1
            assert job.execute_in_process(instance=instance, partition_key=TENANT).success
            with engine.connect() as conn:
                available = conn.execute(
                    select(hub_inventory.c.available).where(hub_inventory.c.sku == simple.sku)
                ).scalar_one()
            assert available == before - 1
        # Nothing new: the sensor skips.
        idle = webhook_inbox_sensor(
            dg.build_sensor_context(
                instance=instance,
                cursor=tick.cursor,
                resources={"warehouse": WarehouseResource(url=warehouse_url)},
            )
        )
        assert not idle.run_requests
    instance.dispose()
    engine.dispose()


def test_registration_reenables_a_webhook_the_shop_disabled_after_failed_deliveries(sandbox: SandboxServer) -> None:
    """Prevents silently losing every later event once WooCommerce disabled a webhook after 7 failed deliveries."""
    shop = sandbox.shop("hooked")
    hooks = shop.extra["webhooks"]
    dead_url = "http://127.0.0.1:1/webhooks/woocommerce/1"
    with _client(sandbox) as client:
        report = ensure_webhooks(client, dead_url, "s3cret", topics=("product.updated",))
        assert list(report.created) == ["product.updated"]
        product_id = next(iter(p.id for p in shop.store.products.values() if p.status == "publish"))
        for n in range(7):  # WC_Webhook::failed_delivery: the 7th consecutive failure disables
            client.put(f"products/{product_id}", {"regular_price": f"{10 + n}.00"})
            assert hooks.flush(10)
        (hook,) = [h for h in client.get("webhooks") if h["delivery_url"] == dead_url]
        assert hook["status"] == "disabled" and "secret" not in hook
        again = ensure_webhooks(client, dead_url, "s3cret", topics=("product.updated",))
        assert again.reenabled == {"product.updated": hook["id"]} and not again.created
        assert client.get(f"webhooks/{hook['id']}")["status"] == "active"
        third = ensure_webhooks(client, dead_url, "s3cret", topics=("product.updated",))
        assert third.unchanged == {"product.updated": hook["id"]} and not third.changed
