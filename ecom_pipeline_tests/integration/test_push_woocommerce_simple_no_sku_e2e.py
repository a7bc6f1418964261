"""A WooCommerce simple product WITHOUT SKU whose create was lost to a kill -9 or a dropped answer (issue 10).

A simple product is found again by its SKU (``GET products?sku=``, or the "duplicated SKU" answer of the resend);
one without a SKU had nothing: the rerun of a push killed between the shop's create and our link, or the resend of
a batch whose answer was lost, created it a second time. Now its create carries our mark (``_ecom_pipeline_ref``)
and a slug (the handle's, else ``<title>-h<hub id>``), and it is looked up like a variable parent: by slug, taking
only the product with this hub product's mark, never a merchant's product of that slug. Real HTTP to the emulator,
a real SIGKILLed ``ecom-pipeline push`` process, a real warehouse.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select, update

from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_products, hub_variants
from ecom_pipeline_tests.integration.push_world import (
    CATALOGUE_HEADER,
    OpenPushWorld,
    WooCommerceWorld,
    woocommerce_spec,
)

MUG = ["mug,Mug,,active,simple,,,MUG-1,,8.00,,EUR,0.35,,"]


class World(WooCommerceWorld):
    def import_csv(self, *lines: str, header: str = CATALOGUE_HEADER) -> None:
        """The import, then the mug without SKU (as a product pulled from a shop where it has none: the catalogue
        import requires one)."""
        super().import_csv(*lines, header=header)
        with shared_engine(self.url).begin() as conn:
            conn.execute(update(hub_variants).where(hub_variants.c.sku == "MUG-1").values(sku=None))

    def mugs(self) -> list[Any]:
        """The shop's live products named Mug: a duplicate shows twice."""
        return sorted(
            (p for p in self.shop.store.products.values() if p.name == "Mug" and p.status != "trash"),
            key=lambda p: p.id,
        )

    def linked_products(self) -> int:
        with shared_engine(self.url).connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(entity_links)
                    .where(entity_links.c.entity == "product", entity_links.c.deleted_at.is_(None))
                ).scalar_one()
            )


@pytest.fixture
def world(open_push_world: OpenPushWorld) -> Iterator[World]:
    with open_push_world(World, woocommerce_spec()) as world:
        yield world


@pytest.mark.parametrize("handle", ["mug", None], ids=["with-handle", "without-handle"])
def test_a_killed_create_of_a_simple_product_without_sku_is_adopted_not_created_again(
    world: World, handle: str | None
) -> None:
    """Prevents a second Mug on the rerun of a push killed right after the shop created it: it had no SKU to be
    found by, and no slug look-up was made for a simple product."""
    world.import_csv(*MUG)
    if handle is None:
        with shared_engine(world.url).begin() as conn:
            conn.execute(update(hub_products).where(hub_products.c.handle == "mug").values(handle=None))
    world.kill_push_at_write(1)
    [made] = world.mugs()
    assert made.sku == ""

    world.shop.stats.reset()
    assert world.push() == 0
    assert [p.id for p in world.mugs()] == [made.id]  # not created twice
    assert world.linked_products() == 1
    assert sorted(world.last_push_outcomes().values()) == ["adopted", "adopted"]  # the product and its variant
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_a_rerun_never_adopts_the_merchants_product_with_the_slug_of_a_simple_create_without_sku(
    world: World,
) -> None:
    """The merchant's own simple ``mug`` (no mark of ours) is left alone: ours, killed after its create, was saved
    ``mug-2`` and is the one linked."""
    merchant = world.shop.store.create_product({"name": "Merchant mug", "type": "simple", "slug": "mug"})
    world.import_csv(*MUG)
    world.kill_push_at_write(1)
    [made] = world.mugs()
    assert made.slug == "mug-2"
    assert world.push() == 0
    assert [p.id for p in world.mugs()] == [made.id]
    assert merchant.name == "Merchant mug" and merchant.slug == "mug"
    assert world.linked_products() == 1


def test_a_lost_batch_answer_of_a_simple_create_without_sku_is_linked_not_sent_again(world: World) -> None:
    """Prevents a second Mug when the answer of the batch that created it was lost: the batch was resent blindly
    (the HTTP layer's retry), as only variable creates were looked up first."""
    world.import_csv(*MUG)
    world.shop.faults.update(
        {"cut_after_bytes": 10, "cut_responses": 1, "cut_path": "POST /wp-json/wc/v3/products/batch"}
    )
    assert world.push() == 0
    assert len(world.mugs()) == 1
    assert world.linked_products() == 1
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0
    with shared_engine(world.url).connect() as conn:
        assert conn.execute(select(hub_products.c.handle).where(hub_products.c.title == "Mug")).scalar_one() == "mug"
