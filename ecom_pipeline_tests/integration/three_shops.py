"""Three bidirectional shops (Shopify, WooCommerce, PrestaShop) connected to one tenant, over real HTTP, synced by
the real Dagster job: the world of test_three_shops_e2e.py (no ping-pong, variants merged) and of
test_categories_three_shops_e2e.py (categories across the three), which subclass ``ThreeShopsWorld`` with the
readings of their own and open it with ``three_shops``.

A cycle is one ``run_sync`` of the tenant (pull, merge, push). Writes are counted from the emulators themselves
(REST: POST/PUT/PATCH/DELETE; Shopify: executed mutations), per cycle.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import pytest
from sqlalchemy import select

from ecom_pipeline.runner import run_sync
from ecom_pipeline.sandbox.server import ShopSpec
from ecom_pipeline.sandbox.shopify.oauth import DEFAULT_SCOPES
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_products, hub_variants
from ecom_pipeline_tests.integration.push_world import TENANT, WRITES, TenantWorld


class ShopNames(NamedTuple):
    """The three shops' names (each test file names its own)."""

    shopify: str
    woo: str
    presta: str


@dataclass
class ThreeShopsWorld(TenantWorld):
    names: ShopNames
    counts: list[dict[str, int]] = field(default_factory=list)

    def shop(self, name: str) -> Any:
        return self.sandbox.shop(name)

    def reset(self) -> None:
        for name in (self.names.woo, self.names.presta):
            self.shop(name).stats.reset()
        self.shop(self.names.shopify).api.operations.clear()

    def writes(self) -> dict[str, int]:
        """Write calls per shop since the last ``reset`` (Shopify: executed mutations)."""
        rest = (self.names.woo, self.names.presta)
        out = {name: sum(self.shop(name).stats.count(method=m) for m in WRITES) for name in rest}
        ops = self.shop(self.names.shopify).api.operations
        out[self.names.shopify] = sum(len(roots) for kind, roots in ops if kind == "mutation")
        return out

    def cycle(self) -> dict[str, int]:
        """One sync of the tenant (pull, merge, push); its writes per shop, recorded in ``counts``."""
        self.reset()
        outcome = run_sync(TENANT, instance=self.instance)
        assert outcome.success, outcome.failure
        self.sandbox.clock.advance(60)
        writes = self.writes()
        self.counts.append(writes)
        return writes

    def hub_variant(self, sku: str) -> Any:
        with shared_engine(self.url).connect() as conn:
            return conn.execute(select(hub_variants).where(hub_variants.c.sku == sku)).one()

    def hub_product(self, handle: str) -> Any:
        with shared_engine(self.url).connect() as conn:
            return conn.execute(select(hub_products).where(hub_products.c.handle == handle)).one()


def three_shop_specs(names: ShopNames) -> list[ShopSpec]:
    """Empty shops: Shopify with ``write_products`` granted, WooCommerce, PrestaShop in English only."""
    return [
        ShopSpec(name=names.shopify, seed=3, products=0, orders=0, customers=0, platform="shopify",
                 options={"scopes": [*DEFAULT_SCOPES, "write_products"]}),
        ShopSpec(name=names.woo, seed=4, products=0, orders=0, customers=0),
        ShopSpec(name=names.presta, seed=5, products=0, orders=0, customers=0, platform="prestashop",
                 options={"languages": ["en"]}),
    ]  # fmt: skip


W = TypeVar("W", bound=ThreeShopsWorld)


@contextlib.contextmanager
def three_shops(
    world_type: type[W],
    names: ShopNames,
    *,
    warehouse_url: str,
    dagster_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[W]:
    """The three shops running and connected to the tenant bidirectionally through ``ecom-pipeline connect``
    (secrets through the environment, WooCommerce's keys on the command line as its connect takes them)."""
    from ecom_pipeline_tests.integration.conftest import running_shops  # conftest imports push_world

    running = running_shops(
        three_shop_specs(names),
        warehouse_url=warehouse_url,
        dagster_home=dagster_home,
        tmp_path=tmp_path,
        monkeypatch=monkeypatch,
    )
    with running as (sb, instance):
        world = world_type(warehouse_url, sb, instance, tmp_path, names)
        both = ("--timeout", "5", "--direction", "bidirectional")
        shopify = sb.shop(names.shopify)
        monkeypatch.setenv("ECOM_SHOPIFY_ACCESS_TOKEN", shopify.credentials["access_token"])
        assert world.cli("connect", "shopify", "--tenant", TENANT, "--url", shopify.http_url, *both) == 0
        woo = sb.shop(names.woo)
        argv = ["connect", "woocommerce", "--tenant", TENANT, "--url", woo.http_url]
        argv += ["--consumer-key", woo.consumer_key, "--consumer-secret", woo.consumer_secret]
        assert world.cli(*argv, *both) == 0
        presta = sb.shop(names.presta)
        monkeypatch.setenv("ECOM_PRESTASHOP_API_KEY", presta.credentials["api_key"])
        assert world.cli("connect", "prestashop", "--tenant", TENANT, "--url", presta.http_url, *both) == 0
        yield world
