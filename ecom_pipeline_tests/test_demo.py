"""The two-way part of ``make demo`` (``ecom_pipeline.demo_two_way``), run as the demo runs it.

Real parts only: the three emulated shops over HTTP on 127.0.0.1 (empty, with the options ``sandbox --demo``
gives them), the webhook receiver served by uvicorn, the CLI commands, and ``sync_job`` / ``apply_webhooks_job``
on a real Dagster instance. What it prevents: a demo that prints a flow the pipeline did not perform (products
not in the shops, an order not in the hub, no conflict row), and a second ``make demo`` that fails or shows
something else because the first one left the tenant's links behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import select

from ecom_pipeline import demo_two_way as two_way
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_orders, sync_conflicts, webhook_inbox
from ecom_pipeline.webhooks.app import create_app
from ecom_pipeline_tests.pipeline_env import set_pipeline_env
from ecom_pipeline_tests.webhooks.conftest import ReceiverServer

SKUS = sorted(row["sku"] for row in two_way.CATALOGUE)


def _sandbox(cert_dir: Path) -> SandboxServer:
    """The two-way demo's shops as ``ecom-pipeline sandbox --demo`` serves them: empty, with their options."""
    options = two_way.sandbox_options()
    specs = [
        ShopSpec(name=shop, seed=5 + i, products=0, orders=0, customers=0, platform=platform,
                 options=dict(options.get(shop, {})))
        for i, (platform, shop) in enumerate(two_way.SHOPS)
    ]  # fmt: skip
    return SandboxServer(shops=specs, cert_dir=cert_dir)


@pytest.fixture
def world(
    warehouse_url: str, dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[dg.DagsterInstance, ReceiverServer]]:
    """The environment ``make demo`` gives the CLI, a Dagster instance and a running webhook receiver."""
    home = tmp_path / "home"
    home.mkdir()
    set_pipeline_env(monkeypatch, warehouse_url=warehouse_url, home=home, dagster_home=dagster_home)
    engine = shared_engine(warehouse_url)
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        with ReceiverServer(create_app(engine=engine, cipher=CredentialCipher.from_env(home))) as receiver:
            yield instance, receiver
    finally:
        instance.dispose()


def _run(
    sandbox: SandboxServer, instance: dg.DagsterInstance, receiver: ReceiverServer, home: Path
) -> two_way.TwoWayResult:
    return two_way.run_two_way_demo(sandbox.credentials()["shops"], instance, webhook_url=receiver.url, home=home)


def test_the_two_way_demo_creates_in_every_shop_follows_the_order_and_records_the_conflict(
    world: tuple[dg.DagsterInstance, ReceiverServer], warehouse_url: str, tmp_path: Path
) -> None:
    """Prevents the demo from showing products that are not in the shops, an order that did not arrive by webhook,
    or a conflict that was not recorded and decided by the price policy."""
    instance, receiver = world
    engine = shared_engine(warehouse_url)
    with _sandbox(tmp_path / "certs") as sandbox:
        result = _run(sandbox, instance, receiver, tmp_path)

        # Created: one product link per SKU in every shop, and the shop really has it (its own records).
        assert {p: sorted(sku for sku, _ in links) for p, links in result.created.items()} == {
            "shopify": SKUS,
            "woocommerce": SKUS,
            "prestashop": SKUS,
        }
        shopify = sandbox.shop("hooli-shopify").store
        woo = sandbox.shop("hooli-woo").store
        presta = sandbox.shop("hooli-presta").store
        assert all(shopify.variant_by_sku(sku) is not None for sku in SKUS)
        assert sorted(p.sku for p in woo.products.values()) == SKUS
        assert sorted(str(r["reference"]) for r in presta.tables["products"].values()) == SKUS

        # The order: delivered by webhook (not pulled), stored in hub_orders with its line on the hub variant.
        assert result.order_external_id is not None and result.inbox_s is not None and result.hub_orders_s is not None
        order = two_way.hub_order(engine, result.integrations["shopify"], result.order_external_id)
        assert order is not None and order.lines == 1 and order.skus == two_way.CATALOGUE[1]["sku"]
        with engine.connect() as conn:
            statuses = conn.execute(
                select(webhook_inbox.c.status).where(
                    webhook_inbox.c.topic == "orders/create", webhook_inbox.c.resource_id == result.order_external_id
                )
            ).scalars()
            assert list(statuses) == ["applied"]

        # The conflict: one row, WooCommerce's later edit wins under `newest`, and reaches the other shops.
        with engine.connect() as conn:
            rows = conn.execute(select(sync_conflicts).where(sync_conflicts.c.tenant_id == two_way.TENANT)).all()
        assert len(rows) == 1
        row = rows[0]
        assert (row.integration_id, row.entity, row.field) == (result.integrations["woocommerce"], "variant", "price")
        assert (row.base_value, row.hub_value, row.shop_value) == ("24.00", two_way.HUB_PRICE, two_way.SHOP_PRICE)
        assert (row.policy, row.resolution) == ("newest", "shop")
        assert result.conflict_ids == [row.id]
        assert result.hub_price_after == Decimal(two_way.SHOP_PRICE)
        mug = shopify.variant_by_sku(two_way.CONFLICT_SKU)
        assert mug is not None and mug.price == Decimal(two_way.SHOP_PRICE)
        presta_mug = next(r for r in presta.tables["products"].values() if r["reference"] == two_way.CONFLICT_SKU)
        assert Decimal(presta_mug["price"]) == Decimal(two_way.SHOP_PRICE)


def test_the_two_way_demo_runs_again_on_new_empty_shops_and_shows_the_same_flow(
    world: tuple[dg.DagsterInstance, ReceiverServer], warehouse_url: str, tmp_path: Path
) -> None:
    """Prevents a second ``make demo`` (new emulated shops, same warehouse) from failing on the first run's links,
    orders and conflicts: the tenant is reset, so each run creates, orders and conflicts exactly once."""
    instance, receiver = world
    engine = shared_engine(warehouse_url)
    for attempt in range(2):
        with _sandbox(tmp_path / "certs") as sandbox:
            result = _run(sandbox, instance, receiver, tmp_path)
        assert all(len(links) == len(SKUS) for links in result.created.values()), attempt
        with engine.connect() as conn:
            tenant = two_way.TENANT
            links = conn.execute(
                select(entity_links.c.id).where(entity_links.c.tenant_id == tenant, entity_links.c.entity == "product")
            ).all()
            orders = conn.execute(select(hub_orders.c.id).where(hub_orders.c.tenant_id == tenant)).all()
            conflicts = conn.execute(select(sync_conflicts.c.id).where(sync_conflicts.c.tenant_id == tenant)).all()
        assert (len(links), len(orders), len(conflicts)) == (len(SKUS) * len(two_way.SHOPS), 1, 1), attempt
