"""Shopify's vendor and product type, both ways, with an emulated Shopify shop (issue 10).

Real HTTP (GraphQL) to the sandbox's Shopify emulator, a real warehouse, the real Dagster sync job for the pulls and
``ecom-pipeline push`` / ``catalog import`` as a merchant runs them. Shopify's ``vendor`` and free-text
``productType`` live in ``hub_products.vendor`` and ``hub_products.shopify_product_type`` (migration 0014), not in
``product_type``, the WooCommerce/PrestaShop kind (``simple``/``variable``) the WooCommerce push reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from ecom_pipeline.runner import run_sync
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_products
from ecom_pipeline_tests.integration.push_world import (
    CATALOGUE_HEADER,
    TENANT,
    OpenPushWorld,
    ShopifyWorld,
    shopify_spec,
)

SHOP = "vendor-shopify"
HEADER = f"{CATALOGUE_HEADER},vendor,shopify_product_type"
LONG_TYPE = "Outdoor Equipment > Camping Cookware > Enamel Travel Mugs"  # 57 characters: over product_type's 32


class World(ShopifyWorld):
    def hub(self, **where: Any) -> list[Any]:
        """Hub products (all, or those matching ``where``), ordered by id."""
        with shared_engine(self.url).connect() as conn:
            query = select(hub_products).order_by(hub_products.c.id)
            for column, value in where.items():
                query = query.where(hub_products.c[column] == value)
            return list(conn.execute(query))

    def hub_id_of(self, shop_product_id: int) -> int:
        with shared_engine(self.url).connect() as conn:
            return int(
                conn.execute(
                    select(entity_links.c.hub_id).where(
                        entity_links.c.entity == "product", entity_links.c.external_id == str(shop_product_id)
                    )
                ).scalar_one()
            )

    def sync(self) -> None:
        outcome = run_sync(TENANT, instance=self.instance)
        assert outcome.success, outcome.failure

    def quiet(self, handles: list[str], skus: list[str]) -> None:
        """A push, a pull after it, and a push after that: nothing is written anywhere (no echo)."""
        self.clear()
        assert self.push() == 0
        assert self.mutations() == []
        before = self.hub_rows_of(handles, skus)
        self.sync()
        assert self.hub_rows_of(handles, skus) == before  # not even synced_at
        self.clear()
        assert self.push() == 0
        assert self.mutations() == []


@pytest.fixture
def world(open_push_world: OpenPushWorld) -> Iterator[World]:
    spec = shopify_spec(SHOP, seed=17, products=3)
    with open_push_world(World, spec, direction="bidirectional") as world:
        yield world


def test_a_pull_brings_vendor_and_product_type_into_their_own_columns_and_a_long_type_whole(world: World) -> None:
    """Prevents Shopify's vendor being dropped and its product type landing in the 32-character kind column (cut,
    or failing the page on PostgreSQL): both arrive in their own columns, whole, and a second sync writes nothing."""
    store = world.shop.store
    first = min(store.products)
    store.update_product(first, product_type=LONG_TYPE, vendor="Maison Émaillée")
    world.sync()
    rows = world.hub()
    assert len(rows) == len(store.products)
    for shop_product in store.products.values():
        [row] = [r for r in rows if r.id == world.hub_id_of(shop_product.id)]
        assert (row.vendor, row.shopify_product_type) == (shop_product.vendor, shop_product.product_type)
        assert row.product_type is None  # Shopify has no simple/variable kind
    [long_row] = world.hub(shopify_product_type=LONG_TYPE)
    assert long_row.vendor == "Maison Émaillée"
    before = {r.id: tuple(r) for r in world.hub()}
    world.sync()
    assert {r.id: tuple(r) for r in world.hub()} == before
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []  # the pulled values are the base: nothing to push back


def test_a_hub_create_and_a_hub_edit_are_pushed_and_their_echo_changes_nothing(world: World) -> None:
    """Prevents vendor and product type being left out of a Shopify create or update (the writer said "not
    written"), and the echo: the pull of our own write must not rewrite the hub, the push after it send nothing."""
    world.sync()
    world.import_csv(f"mug,Mug,,active,simple,,Kitchen,MUG-1,,8.00,,USD,0.35,,,Acme Pottery,{LONG_TYPE}", header=HEADER)
    world.clear()
    assert world.push() == 0
    assert world.mutations() == ["productSet"]
    created = world.product("MUG-1")
    assert (created.vendor, created.product_type) == ("Acme Pottery", LONG_TYPE)
    world.quiet(["mug"], ["MUG-1"])

    world.sandbox.clock.advance(60)
    world.set_hub("mug", vendor="Acme Ceramics", shopify_product_type="Mugs")
    world.clear()
    assert world.push() == 0
    assert world.mutations() == ["productSet"]
    assert (world.product("MUG-1").vendor, world.product("MUG-1").product_type) == ("Acme Ceramics", "Mugs")
    run = world.export_runs()[-1]
    assert (run.created, run.updated, run.failed) == (0, 1, 0)
    world.quiet(["mug"], ["MUG-1"])

    world.set_hub("mug", vendor=None)  # cleared in the hub: Shopify's "no vendor" is ""
    assert world.push() == 0
    assert world.product("MUG-1").vendor == ""
    world.quiet(["mug"], ["MUG-1"])
    [row] = world.hub(handle="mug")
    assert (row.vendor, row.shopify_product_type, row.product_type) == (None, "Mugs", "simple")


def test_a_shop_edit_of_vendor_and_type_comes_back_to_the_hub(world: World) -> None:
    """Prevents a merchant's edit in the Shopify admin being lost or pushed over: it reaches the hub on the next
    sync (bidirectional), and the push after it writes nothing."""
    world.sync()
    store = world.shop.store
    first = min(store.products)
    world.sandbox.clock.advance(60)
    store.update_product(first, vendor="Northwind", product_type="Travel Mugs")
    world.sync()
    [row] = [r for r in world.hub() if r.id == world.hub_id_of(first)]
    assert (row.vendor, row.shopify_product_type) == ("Northwind", "Travel Mugs")
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []


def test_an_adopted_product_keeps_the_shops_vendor_and_brings_it_to_the_hub(world: World) -> None:
    """Prevents a push from clearing a vendor and product type the hub never had: a hub product without them that
    is adopted (a push killed after Shopify created it, found again by SKU) leaves the shop's values out of the
    input, and its link's base must not claim them agreed, or the next push reads the hub's NULL as an edit and
    sends "" over the shop's values. The next pull brings them into the hub instead; the push after that is quiet."""
    from sqlalchemy import delete, update

    from ecom_pipeline.warehouse.schema import sync_runs

    world.import_csv("mug,Mug,,active,simple,,Kitchen,MUG-9,,8.00,,USD,0.35,,,,", header=HEADER)
    assert world.push() == 0
    shop_product = world.product("MUG-9")
    store = world.shop.store
    world.sandbox.clock.advance(60)
    store.update_product(int(shop_product.id), vendor="Acme Pottery", product_type="Mugs")
    with shared_engine(world.url).begin() as conn:  # the push "died" before its links were committed
        conn.execute(delete(entity_links))
        conn.execute(update(sync_runs).where(sync_runs.c.stage == "export").values(status="running"))
    world.clear()
    assert world.push() == 0
    assert world.export_runs()[-1].created == 0  # adopted by SKU, not created again
    assert (world.product("MUG-9").vendor, world.product("MUG-9").product_type) == ("Acme Pottery", "Mugs")
    world.sync()
    [row] = world.hub(handle="mug")
    assert (row.vendor, row.shopify_product_type) == ("Acme Pottery", "Mugs")
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []
    assert (world.product("MUG-9").vendor, world.product("MUG-9").product_type) == ("Acme Pottery", "Mugs")
