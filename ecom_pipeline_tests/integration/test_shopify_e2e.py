"""End to end for Shopify: connect through the CLI, sync through Dagster, against the emulated GraphQL Admin API."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import select

from ecom_pipeline.runner import run_sync
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import (
    entity_links,
    hub_customers,
    hub_order_lines,
    hub_orders,
    hub_products,
    hub_variants,
    rejected_records,
)
from ecom_pipeline_tests.integration.conftest import count, one_shop_tenant

SHOP = "shopi"
TENANT = "hooli"


@pytest.fixture
def shopify(
    warehouse_url: str, dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SandboxServer, dg.DagsterInstance]]:
    spec = ShopSpec(
        name=SHOP, seed=5, products=20, orders=30, customers=10, platform="shopify", options={"plan": "plus"}
    )
    with one_shop_tenant(
        spec,
        tenant=TENANT,
        secret_env={"ECOM_SHOPIFY_ACCESS_TOKEN": "access_token"},
        warehouse_url=warehouse_url,
        dagster_home=dagster_home,
        tmp_path=tmp_path,
        monkeypatch=monkeypatch,
    ) as connected:
        yield connected


def test_shopify_tenant_syncs_everything_then_sees_a_price_change(
    shopify: tuple[SandboxServer, dg.DagsterInstance], warehouse_url: str
) -> None:
    """Prevents a Shopify shop from connecting and then syncing partially, or missing an incremental change."""
    sandbox, instance = shopify
    store = sandbox.shop(SHOP).store
    outcome = run_sync(TENANT, instance=instance)
    assert outcome.success, outcome.failure
    assert count(warehouse_url, rejected_records) == 0
    assert count(warehouse_url, hub_products) == len(store.products)
    assert count(warehouse_url, hub_variants) == sum(len(p.variant_ids) for p in store.products.values())
    assert count(warehouse_url, hub_orders) == len(store.orders)
    assert count(warehouse_url, hub_order_lines) == sum(len(o.line_items) for o in store.orders.values())
    assert count(warehouse_url, hub_customers) == len(store.customers)
    with shared_engine(warehouse_url).connect() as conn:
        gids = conn.execute(select(entity_links.c.external_gid).where(entity_links.c.entity == "product")).scalars()
        assert all(g and g.startswith("gid://shopify/Product/") for g in gids)
    meta = outcome.materializations["shopify/orders"]
    assert meta["api_calls"] > 0

    product = next(iter(store.products.values()))
    variant = store.variant(product.variant_ids[0])
    store.update_variant_price(variant.id, Decimal("77.77"))
    outcome = run_sync(TENANT, instance=instance)
    assert outcome.success, outcome.failure
    with shared_engine(warehouse_url).connect() as conn:
        price = conn.execute(select(hub_variants.c.price).where(hub_variants.c.sku == variant.sku)).scalar_one()
    assert price == Decimal("77.77")
