"""End to end for PrestaShop: connect through the CLI, sync through Dagster, against the emulated webservice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import select

from ecom_pipeline.runner import run_sync
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import (
    hub_customers,
    hub_inventory,
    hub_orders,
    hub_products,
    rejected_records,
)
from ecom_pipeline_tests.integration.conftest import count, one_shop_tenant

SHOP = "presta"
TENANT = "initech"


@pytest.fixture
def presta(
    warehouse_url: str, dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SandboxServer, dg.DagsterInstance]]:
    spec = ShopSpec(name=SHOP, seed=3, products=25, variable_share=0.5, orders=40, customers=12, platform="prestashop")
    with one_shop_tenant(
        spec,
        tenant=TENANT,
        secret_env={"ECOM_PRESTASHOP_API_KEY": "api_key"},
        warehouse_url=warehouse_url,
        dagster_home=dagster_home,
        tmp_path=tmp_path,
        monkeypatch=monkeypatch,
    ) as connected:
        yield connected


def test_prestashop_tenant_syncs_products_stock_orders_and_customers_without_rejections(
    presta: tuple[SandboxServer, dg.DagsterInstance], warehouse_url: str
) -> None:
    """Prevents a PrestaShop shop from connecting fine and then syncing nothing (or rejecting every order)."""
    sandbox, instance = presta
    store = sandbox.shop(SHOP).store
    outcome = run_sync(TENANT, instance=instance)
    assert outcome.success, outcome.failure
    assert count(warehouse_url, rejected_records) == 0
    assert count(warehouse_url, hub_products) == len(store.tables["products"])
    assert count(warehouse_url, hub_orders) == len(store.tables["orders"])
    assert count(warehouse_url, hub_customers) == len(store.tables["customers"])
    assert count(warehouse_url, hub_inventory) > 0

    # A stock change moves no date in PrestaShop: the next incremental sync must still see it.
    pid = next(iter(store.tables["products"]))
    combos = store.combinations_of.get(pid) or []
    store.set_stock(pid, 4242, combos[0] if combos else 0)
    outcome = run_sync(TENANT, instance=instance)
    assert outcome.success, outcome.failure
    with shared_engine(warehouse_url).connect() as conn:
        quantities = conn.execute(select(hub_inventory.c.available)).scalars().all()
    assert 4242 in quantities

    # A product deleted in the shop becomes a tombstone, not a silent leftover.
    store.delete_product(pid)
    outcome = run_sync(TENANT, instance=instance)
    assert outcome.success, outcome.failure
    assert count(warehouse_url, hub_products, hub_products.c.deleted_at.is_not(None)) == 1
