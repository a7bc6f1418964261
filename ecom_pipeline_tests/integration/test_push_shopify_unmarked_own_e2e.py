"""Shopify: a SKU-less product that an earlier version of our push created before creates carried our mark (the
``$app:ecom_pipeline``/``ref`` app metafield), found by its handle on a later push (review of the two-way sync, gap 3).

Nothing on such a product tells it from a merchant's own product of that handle, so it was refused on every push,
with a message that did not say how to link it. The rule now: it is adopted only when the hub's own lineage
(``push_records`` of this integration: a push ``created`` or ``adopted`` this hub product as exactly that Shopify
product id; Shopify never reuses an id) says it is ours; otherwise it is refused, never overwritten, the refusal
naming the product and the ways to link it. Real HTTP to the emulator, the real CLI, a real warehouse.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline.sandbox.shopify.store import metafield_namespace
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import push_records
from ecom_pipeline_tests.integration.push_world import OpenPushWorld, ShopifyWorld, shopify_spec
from ecom_pipeline_tests.integration.test_push_shopify_own_mark_e2e import World, tee

SHOP = "push-shopify-unmarked-own"


@pytest.fixture
def world(open_push_world: OpenPushWorld) -> Iterator[World]:
    with open_push_world(World, shopify_spec(SHOP, seed=19, products=2)) as world:
        yield world


def _unmark(product: Any) -> None:
    """The product as a push before the mark made it: no ``$app:ecom_pipeline``/``ref`` metafield."""
    product.metafields.pop((metafield_namespace(q.OWN_MARK_NAMESPACE), q.OWN_MARK_KEY))


def test_a_product_our_lineage_says_we_created_is_adopted_without_its_mark(world: World) -> None:
    """Pushed and linked by a push before the mark; its link lost since (the hub keeps the push's lineage, which
    names the Shopify id). The next push adopts that exact product (before: refused on every push)."""
    world.import_csv(*tee("tee-shirt"))
    assert world.push() == 0
    [made] = world.tees()
    _unmark(made)
    world.unlink("tee-shirt")
    world.clear()
    assert world.push() == 0
    assert [p.id for p in world.tees()] == [made.id]  # not created twice
    assert world.rejected() == []
    assert world.last_push_outcomes()[("product", world.tee_id())] == "adopted"
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []


def test_an_unmarked_product_without_our_lineage_is_refused_saying_how_to_link_it(world: World) -> None:
    """Created by a push killed before its link (no lineage then) and without the mark: nothing of ours says it is
    ours, so it is refused and left as it is, the refusal naming the Shopify product and how to link it (or have it
    created anew); once deleted in Shopify, as the refusal says, the next push creates it."""
    world.import_csv(*tee("tee-shirt"))
    world.kill_push_at_write(1)
    [made] = world.tees()
    _unmark(made)
    kept = world.state(made)
    with shared_engine(world.url).connect() as conn:
        assert conn.execute(select(push_records.c.external_id)).scalars().all() == []
    world.clear()
    assert world.push() == 1
    assert world.state(made) == kept and world.mutations() == []
    [rejected] = world.rejected()
    shop_id = f"gid://shopify/Product/{made.id}"
    assert shop_id in rejected.reason, rejected.reason
    assert "earlier version" in rejected.reason and "SKU" in rejected.reason, rejected.reason
    assert "delete it in Shopify" in rejected.reason, rejected.reason
    world.shop.store.delete_product(made.id)  # the merchant, in Shopify's admin
    world.clear()
    assert world.push() == 0
    [again] = world.tees()
    assert again.id != made.id
    assert [r for r in world.rejected() if r.resolved_at is None] == []


def test_a_merchant_product_adopted_by_its_skus_is_never_taken_back_by_lineage(world: World) -> None:
    """Prevents the lineage rule from taking back, by handle with a full productSet, a merchant's product a push once
    *adopted* by its SKUs (keeping the merchant's other variants on purpose) once its link is lost and the SKUs no
    longer match: the take-back replaced its variants, deleting the merchant's own (review 1 of h-psfix7)."""
    store = world.shop.store
    merchant = store.add_product(
        "Merchant tee",
        [{"sku": "TEE-S", "price": "19.90"}, {"sku": "TEE-M", "price": "19.90"}, {"sku": "MERCH-XL", "price": "25"}],
        handle="tee-shirt",
    )
    ShopifyWorld.import_csv(world, *tee("tee-shirt"))  # the hub's T-Shirt with its SKUs TEE-S, TEE-M
    assert world.push() == 0
    assert world.last_push_outcomes()[("product", world.tee_id())] == "adopted"
    world.unlink("tee-shirt")
    for variant_id in store.product(merchant.id).variant_ids:  # the merchant renames their SKUs in Shopify
        store.variants[variant_id].sku = "M-" + str(store.variants[variant_id].sku)
    before = sorted(str(store.variants[v].sku) for v in store.product(merchant.id).variant_ids)
    world.clear()
    world.push()
    assert sorted(str(store.variants[v].sku) for v in store.product(merchant.id).variant_ids) == before
    assert any("tee-shirt" in r.reason for r in world.rejected())
