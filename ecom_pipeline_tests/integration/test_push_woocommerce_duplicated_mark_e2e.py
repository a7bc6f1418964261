"""Two WooCommerce products carrying one create's mark, after the merchant used "Duplicate" (issue 10).

WooCommerce's "Duplicate" admin action (``WC_Admin_Duplicate_Product::product_duplicate``) copies every meta key
but those a ``woocommerce_duplicate_product_exclude_meta`` filter names, so the copy of a product we created
carries our ``_ecom_pipeline_ref`` too. The look-up of a lost variable create (a push killed between the shop's
create and our link) took the lowest id of the marked products on the first slug where it met one: the merchant's
copy, when it sat on a lower slug than ours. Now it reads every slug up to the first free one, leaves out a marked
product already linked to another hub product, and refuses (a rejection naming the products, nothing created, none
linked) when two or more remain. The copy is made in the emulator as the action leaves it plus the merchant's
edits (its slug); the kill is a real SIGKILL of ``ecom-pipeline push``; the rerun is the CLI.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from ecom_pipeline.platforms.woocommerce.writer import OWN_MARK_KEY
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_products
from ecom_pipeline_tests.integration.push_world import WOOCOMMERCE_CATALOGUE, WooCommerceWorld

World = WooCommerceWorld
TEE = WOOCOMMERCE_CATALOGUE[:2]  # the variable T-Shirt (handle tee)
MUG = WOOCOMMERCE_CATALOGUE[2:]


@pytest.fixture
def world(woocommerce_push_world: World) -> World:
    return woocommerce_push_world


def _ours(world: World) -> Any:
    [shirt] = [p for p in world.shop.store.products.values() if p.name == "T-Shirt"]
    return shirt


def _duplicate(world: World, product: Any, slug: str) -> Any:
    """The merchant's copy of ``product``: our mark copied with the other meta, published under ``slug``."""
    meta = [{"key": m["key"], "value": m["value"]} for m in product.meta_data]
    assert any(m["key"] == OWN_MARK_KEY for m in meta)
    return world.shop.store.create_product(
        {"name": f"{product.name} (Copy)", "type": "variable", "slug": slug, "meta_data": meta}
    )


def _tees(world: World) -> list[tuple[str, str]]:
    products = world.shop.store.products.values()
    return sorted((p.slug, p.name) for p in products if p.slug.startswith("tee") and p.status != "trash")


def test_a_copy_carrying_our_mark_on_a_lower_slug_is_not_taken_for_the_lost_create(world: World) -> None:
    """Prevents the rerun of a killed push from linking the hub T-Shirt to the merchant's copy (and writing its
    variations under it) because the copy, carrying our mark, held ``tee`` and ours ``tee-2``: refused, naming
    both, and nothing is created twice."""
    merchant = world.shop.store.create_product({"name": "Merchant tee", "type": "variable", "slug": "tee"})
    world.import_csv(*TEE)
    world.kill_push_at_write(1)
    ours = _ours(world)
    assert ours.slug == "tee-2"
    world.shop.store.delete_product(merchant.id, force=True)  # the merchant's own tee is gone for good...
    copy = _duplicate(world, ours, "tee")  # ...and the copy of ours now holds its slug
    assert copy.slug == "tee"

    assert world.push() == 1
    assert _tees(world) == [("tee", "T-Shirt (Copy)"), ("tee-2", "T-Shirt")]  # nothing created
    assert [v for v in world.shop.store.variations.values() if v.parent_id == copy.id] == []
    [rejected] = world.rejected()
    assert rejected.external_id == "tee"
    assert f"{copy.id}" in rejected.reason and f"{ours.id}" in rejected.reason and "Duplicate" in rejected.reason
    assert world.linked_variant_skus() == []


def test_a_copy_on_a_higher_slug_makes_the_look_up_refuse_rather_than_take_the_lowest_id(world: World) -> None:
    world.import_csv(*TEE)
    world.kill_push_at_write(1)
    ours = _ours(world)
    copy = _duplicate(world, ours, "tee")  # published: WordPress gives it tee-2
    assert (ours.slug, copy.slug) == ("tee", "tee-2")
    assert world.push() == 1
    assert _tees(world) == [("tee", "T-Shirt"), ("tee-2", "T-Shirt (Copy)")]
    assert [r.external_id for r in world.rejected()] == ["tee"]


def test_a_marked_copy_already_linked_to_another_hub_product_is_left_to_it(world: World) -> None:
    """The copy the pull took in as a hub product of its own (its link) is not ours to take, even on a lower slug
    than ours: the lost T-Shirt is the one product left with the mark, and is adopted."""
    world.import_csv(*MUG)
    assert world.push() == 0
    merchant = world.shop.store.create_product({"name": "Merchant tee", "type": "variable", "slug": "tee"})
    world.import_csv(*TEE, *MUG)
    world.kill_push_at_write(1)
    ours = _ours(world)
    assert ours.slug == "tee-2"
    world.shop.store.delete_product(merchant.id, force=True)
    copy = _duplicate(world, ours, "tee")
    with shared_engine(world.url).begin() as conn:  # the copy, linked to a hub product (here: the mug's link)
        mug = conn.execute(select(hub_products.c.id).where(hub_products.c.handle == "mug")).scalar_one()
        conn.execute(
            update(entity_links)
            .where(entity_links.c.entity == "product", entity_links.c.hub_id == mug)
            .values(external_id=str(copy.id))
        )
    assert world.push() == 0
    assert world.rejected() == []
    assert _tees(world) == [("tee", "T-Shirt (Copy)"), ("tee-2", "T-Shirt")]
    assert {world.shop.store.variations[v].sku for v in ours.variation_ids} == {"TEE-S", "TEE-M"}
    assert [v for v in world.shop.store.variations.values() if v.parent_id == copy.id] == []
