"""Shopify extract + apply over real HTTP to the sandbox emulator (GraphQL Admin API), into a real warehouse.

Failures prevented: rejected records on emulated real-shape data, a no-change poll that re-stages everything,
a failed bulk operation aborting a full sync (it must fall back to pages), and silently syncing only 60 days of
orders when ``read_all_orders`` is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from ecom_pipeline.platforms.shopify.extract import SIXTY_DAY_WARNING, extract_entity
from ecom_pipeline.platforms.shopify.spec import platform_spec
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.sync.apply import apply_staged
from ecom_pipeline.sync.extract import ExtractContext
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.schema import entity_links, hub_inventory, hub_orders, hub_products, hub_variants

TENANT = "acme"
ENTITIES = ("product", "inventory", "order", "customer")


class World:
    def __init__(self, url: str, sandbox: SandboxServer, name: str, settings: dict[str, Any]) -> None:
        self.engine = create_engine(url)
        self.shop = sandbox.shop(name)
        self.credentials = {"access_token": self.shop.credentials["access_token"]}
        with self.engine.begin() as conn:
            integration_id = store.create_integration(
                conn,
                tenant_id=TENANT,
                platform="shopify",
                name=name,
                base_url=self.shop.http_url,
                credentials=self.credentials,
                settings=settings,
                cipher=CredentialCipher(CredentialCipher.generate_key()),
            )
            self.integration = store.get_integration(conn, integration_id)

    def ctx(self, **kw: Any) -> ExtractContext:
        return ExtractContext(
            engine=self.engine, integration=self.integration, credentials=dict(self.credentials), run_id="t", **kw
        )

    def sync(self, entities: tuple[str, ...] = ENTITIES, **kw: Any) -> dict[str, Any]:
        spec = platform_spec()
        reports: dict[str, Any] = {}
        for entity in entities:
            reports[entity] = spec.extract(self.ctx(**kw), entity)
            reports[f"apply_{entity}"] = apply_staged(
                self.engine,
                tenant_id=TENANT,
                entity=entity,
                transforms={"shopify": spec.transforms[entity]},
                run_id="t",
            )
        return reports

    def count(self, table: Any) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    shops = [
        ShopSpec(name="sh", platform="shopify", seed=5, products=30, orders=25, customers=10),
        ShopSpec(
            name="sh-60d",
            platform="shopify",
            seed=6,
            products=5,
            orders=8,
            customers=3,
            options={"scopes": "read_products,read_orders,read_customers,read_inventory,read_locations"},
        ),
    ]
    with SandboxServer(shops=shops, cert_dir=tmp_path / "certs") as server:
        yield server


@pytest.mark.slow  # a full sync paced by the emulated Standard plan's cost bucket (its pacing is checked: ~14 s)
def test_full_sync_applies_everything_and_a_second_sync_stages_nothing(
    sqlite_warehouse_url: str, sandbox: SandboxServer
) -> None:
    """Prevents rejected records from real-shaped GraphQL data and a no-change poll re-staging the catalogue."""
    world = World(sqlite_warehouse_url, sandbox, "sh", {"bulk": "never"})
    first = world.sync()
    for entity in ENTITIES:
        assert first[f"apply_{entity}"].rejected == 0, first[f"apply_{entity}"].rejection_reasons
        assert first[entity].throttled == 0
    assert first["product"].staged == 30 and world.count(hub_products) == 30
    variants = world.count(hub_variants)
    assert variants >= 30
    assert world.count(hub_inventory) == first["inventory"].staged > 0
    assert world.count(hub_orders) == first["order"].staged == 25
    with world.engine.connect() as conn:
        gids = conn.execute(select(entity_links.c.external_gid).where(entity_links.c.entity == "product")).scalars()
        assert all(str(g).startswith("gid://shopify/Product/") for g in gids)
        presentment = conn.execute(select(hub_orders.c.presentment_currency, hub_orders.c.presentment_total)).first()
        assert presentment is not None and presentment[0] and presentment[1] is not None

    second = world.sync(("product", "order", "customer"))
    for entity in ("product", "order", "customer"):
        assert second[entity].staged == 0, entity
        assert second[entity].unchanged >= 1


def test_failed_bulk_operation_falls_back_to_pages_and_still_completes(
    sqlite_warehouse_url: str, sandbox: SandboxServer
) -> None:
    """Prevents a FAILED bulk operation from aborting a full sync (or from looking like an empty shop)."""
    world = World(sqlite_warehouse_url, sandbox, "sh", {"bulk": "always"})
    world.shop.api.bulk.fail_next = "FAILED"
    report = extract_entity(world.ctx(), "product")
    assert report.mode == "bulk->paginated"
    assert any("bulk operation failed" in w for w in report.warnings)
    assert report.staged == 30 and report.tombstoned == 0
    bulk = extract_entity(world.ctx(full_refresh=True), "product")
    assert bulk.mode == "bulk" and bulk.staged == 30 and bulk.bulk_operations == 1


def test_missing_read_all_orders_is_reported_and_tombstones_nothing(
    sqlite_warehouse_url: str, sandbox: SandboxServer
) -> None:
    """Prevents silently syncing only the last 60 days of orders, and tombstoning older orders as deleted."""
    world = World(sqlite_warehouse_url, sandbox, "sh-60d", {"bulk": "never"})
    report = extract_entity(world.ctx(), "order")
    assert SIXTY_DAY_WARNING in report.warnings
    assert report.metadata()["warnings"] == report.warnings
    assert report.tombstoned == 0
