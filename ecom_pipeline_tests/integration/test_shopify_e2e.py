"""End to end for Shopify: connect through the CLI, sync through Dagster, against the emulated GraphQL Admin API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import select

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.runner import run_sync
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import (
    entity_links,
    hub_customers,
    hub_inventory,
    hub_order_lines,
    hub_orders,
    hub_products,
    hub_variants,
    rejected_records,
)
from ecom_pipeline_tests.integration.conftest import OpenTenant, count
from ecom_pipeline_tests.pipeline_env import set_pipeline_env

SHOP = "shopi"
TENANT = "hooli"


@pytest.fixture
def shopify(open_tenant: OpenTenant) -> Iterator[tuple[SandboxServer, dg.DagsterInstance]]:
    spec = ShopSpec(
        name=SHOP, seed=5, products=20, orders=30, customers=10, platform="shopify", options={"plan": "plus"}
    )
    with open_tenant(spec, tenant=TENANT, secret_env={"ECOM_SHOPIFY_ACCESS_TOKEN": "access_token"}) as connected:
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


# -- API versions ------------------------------------------------------------------------------------------------

HUB_TABLES = (hub_products, hub_variants, hub_inventory, hub_orders, hub_order_lines, hub_customers)
# Columns that differ between two tenants by construction (keys, tenants, sync times); links become booleans and
# inventory locations (``shopify:<integration id>:<location>``) lose the integration id.
_IGNORED = {"id", "tenant_id", "integration_id", "synced_at"}
_LINKS = {"product_id", "variant_id", "order_id", "customer_id"}


def _hub_snapshot(warehouse_url: str, tenant: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every hub row of ``tenant`` without keys and sync times (links reduced to present / absent), sorted."""
    snapshot: dict[str, list[tuple[Any, ...]]] = {}
    with shared_engine(warehouse_url).connect() as conn:
        for table in HUB_TABLES:
            columns = [c for c in table.columns if c.name not in _IGNORED]
            rows = conn.execute(select(*columns).where(table.c.tenant_id == tenant)).all()
            snapshot[table.name] = sorted(
                (
                    tuple(
                        (value is not None)
                        if column.name in _LINKS
                        else re.sub(r"^shopify:\d+:", "shopify:<integration>:", value)
                        if isinstance(value, str)
                        else value
                        for column, value in zip(columns, row, strict=True)
                    )
                    for row in rows
                ),
                key=repr,
            )
    return snapshot


def test_sync_on_a_retired_version_gives_the_same_hub_as_on_a_supported_one(
    warehouse_url: str, dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Prevents a shop pinned to a retired version (2025-10, answered by Shopify as 2026-01, where bulk JSONL is no
    longer grouped) from syncing differently, or silently: the full sync runs through bulk operations on both, the
    hub is the same, and the served version is recorded, warned about in the run metadata and shown by ``status``."""
    anchor = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    # The same shop (name, seed, anchor: the same data) served twice, once per tenant and pinned version.
    spec = ShopSpec(name="pinned", seed=11, products=12, orders=15, customers=6, platform="shopify", anchor=anchor)
    set_pipeline_env(monkeypatch, warehouse_url=warehouse_url, home=tmp_path / "home", dagster_home=dagster_home)
    outcomes = {}
    for tenant, version in (("retired", "2025-10"), ("current", None)):
        with SandboxServer(shops=[spec], cert_dir=tmp_path / f"certs-{tenant}") as sb:
            shop = sb.shop(spec.name)
            monkeypatch.setenv("ECOM_SHOPIFY_ACCESS_TOKEN", shop.credentials["access_token"])
            argv = ["--warehouse-url", warehouse_url, "connect", "shopify", "--tenant", tenant]
            argv += ["--url", shop.http_url, "--timeout", "5", "--bulk-threshold", "0"]
            argv += ["--api-version", version] if version else []
            assert cli_main(argv) == 0
            instance = dg.DagsterInstance.from_config(str(dagster_home))
            try:
                outcomes[tenant] = run_sync(tenant, instance=instance)
            finally:
                instance.dispose()
    for tenant, outcome in outcomes.items():
        assert outcome.success, (tenant, outcome.failure)
        for asset in ("shopify/products", "shopify/orders", "shopify/customers"):  # customersCount exists now
            (shop_details,) = outcome.materializations[asset]["platform_details"].values()
            assert shop_details["mode"] == "bulk", (tenant, asset, shop_details)  # JSONL through the assembler
    retired = next(iter(outcomes["retired"].materializations["shopify/orders"]["platform_details"].values()))
    assert retired["api_version_pinned"] == "2025-10" and retired["api_version_served"] == "2026-01"
    assert retired["api_version_state"] == "falling_forward"
    assert any("2025-10 is retired" in w for w in retired["warnings"])
    current = next(iter(outcomes["current"].materializations["shopify/orders"]["platform_details"].values()))
    assert current["api_version_served"] == current["api_version_pinned"] == "2026-04"

    assert count(warehouse_url, rejected_records) == 0
    old, new = _hub_snapshot(warehouse_url, "retired"), _hub_snapshot(warehouse_url, "current")
    assert all(old[name] for name in old), {name: len(rows) for name, rows in old.items()}
    assert old == new

    capsys.readouterr()
    assert cli_main(["--warehouse-url", warehouse_url, "status"]) == 0
    shown = capsys.readouterr().out
    assert "Shopify API versions:" in shown
    assert re.search(r"2025-10\s+2026-01\s+\S+\s+2026-10-01\s+falling_forward", shown), shown
    assert re.search(r"2026-04\s+2026-04\s+\S+\s+2027-04-01\s+ok", shown), shown
    assert "shopify-upgrade --integration" in shown
