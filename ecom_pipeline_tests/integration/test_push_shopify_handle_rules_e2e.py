"""Shopify creates keyed by handle, where handles repeat or are not in Shopify's form (review 2 of h-shopidem).

Every create is ``productSet(identifier: {handle})``: "the product with this handle, created when there is none".
Two creates of one push with one handle therefore wrote one product, the second replacing the first one's fields
and variants, and the push ended well (the review's repro: a generated handle ``mug-h7`` that another hub product
has as its own). And Shopify stores a handle lowercase with hyphens for other characters (the emulator does too), so
a hub handle sent verbatim (PrestaShop's ``T-Shirt_Bio``, WooCommerce's ``caf%c3%a9``) was not the key a rerun
looked up. Real HTTP to the emulator, the real CLI (a real SIGKILLed process for the kill), a real warehouse.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from ecom_pipeline.platforms.shopify.writer import generated_handle
from ecom_pipeline.sandbox.shopify.graph import lag_search
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_products, hub_variants
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.integration.push_world import OpenPushWorld, shopify_spec
from ecom_pipeline_tests.integration.test_push_shopify_handles_e2e import CATALOGUE, LAG_S, OURS, World


@pytest.fixture
def world(open_push_world: OpenPushWorld) -> Iterator[World]:
    with open_push_world(World, shopify_spec("push-shopify-handle-rules", seed=13, products=3)) as world:
        yield world


def set_handle(world: World, title: str, handle: str | None) -> None:
    """A hub product's handle set in SQL (hub handles are not unique: a pull may bring one the hub has)."""
    with shared_engine(world.url).begin() as conn:
        conn.execute(update(hub_products).where(hub_products.c.title == title).values(handle=handle))


def skus_by_handle(world: World) -> dict[str, list[str]]:
    """Shop handle -> SKUs of the shop products carrying one of our SKUs."""
    store = world.shop.store
    out = {}
    for p in store.products.values():
        skus = [store.variants[v].sku for v in p.variant_ids]
        if any(s in OURS for s in skus):
            out[p.handle] = skus
    return out


def reasons(world: World) -> dict[str, str]:
    return {r.external_id: r.reason for r in world.rejected()}


def test_a_generated_handle_another_hub_product_has_takes_the_next_one(world: World) -> None:
    """Prevents the overwrite of the review's repro: the T-Shirt's own handle is ``mug-h<mug id>``, the Mug has
    none, so its generated handle was the same; the Mug's productSet replaced the T-Shirt (its variants deleted),
    exit 0. Now the hub handle keeps it and the Mug is created with ``mug-h<id>-2``."""
    world.import_csv(*CATALOGUE)
    ids = world.hub_ids()
    taken = generated_handle(ids["Mug"], "Mug")
    set_handle(world, "Mug", None)
    set_handle(world, "T-Shirt", taken)

    assert world.push() == 0
    assert world.our_copies() == dict.fromkeys(OURS, 1)
    assert skus_by_handle(world) == {taken: ["TEE-S", "TEE-M"], f"{taken}-2": ["MUG-1"]}
    assert world.rejected() == [] and world.linked_variant_skus() == sorted(OURS)
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []


def test_the_rerun_of_a_push_killed_after_a_bumped_handle_finds_it_while_search_lags(world: World) -> None:
    """Prevents a duplicate Mug (or a refused one) on the rerun: the killed push created it with ``mug-h<id>-2``
    (the T-Shirt has ``mug-h<id>``) and died before its link; the rerun's SKU search lags, its ``mug-h<id>`` is the
    product linked to the T-Shirt, so it tries ``mug-h<id>-2`` next, as the killed push did, and adopts it."""
    world.import_csv(*CATALOGUE)
    ids = world.hub_ids()
    taken = generated_handle(ids["Mug"], "Mug")
    set_handle(world, "Mug", None)
    set_handle(world, "T-Shirt", taken)
    lag_search(world.shop.store, LAG_S)

    world.kill_push_at_write(2)  # the T-Shirt created and linked, the Mug created, the process died before its link
    assert skus_by_handle(world) == {taken: ["TEE-S", "TEE-M"], f"{taken}-2": ["MUG-1"]}
    assert world.linked_variant_skus() == ["TEE-M", "TEE-S"]
    world.clear()
    assert world.shop.store.search_index.lags

    assert world.push() == 0
    assert world.our_copies() == dict.fromkeys(OURS, 1)
    assert skus_by_handle(world) == {taken: ["TEE-S", "TEE-M"], f"{taken}-2": ["MUG-1"]}
    assert world.rejected() == [] and world.linked_variant_skus() == sorted(OURS)
    assert world.last_push_outcomes()[("product", ids["Mug"])] == "adopted"


def test_a_generated_handle_of_a_product_linked_to_another_hub_product_takes_the_next_one(world: World) -> None:
    """Prevents the Mug from being refused for ever as if the T-Shirt, linked by an earlier push with the handle
    ``mug-h<mug id>``, were a merchant's product: a handle the integration links to another hub product is ours,
    and a generated handle steps over it."""
    world.import_csv(*CATALOGUE)
    ids = world.hub_ids()
    taken = generated_handle(ids["Mug"], "Mug")
    set_handle(world, "Mug", None)
    set_handle(world, "T-Shirt", taken)
    with shared_engine(world.url).begin() as conn:  # the Mug has no live variant yet: not created by this push
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "MUG-1").values(deleted_at=utcnow()))
    assert world.push() == 0
    assert skus_by_handle(world) == {taken: ["TEE-S", "TEE-M"]}
    with shared_engine(world.url).begin() as conn:
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "MUG-1").values(deleted_at=None))

    assert world.push() == 0
    assert skus_by_handle(world) == {taken: ["TEE-S", "TEE-M"], f"{taken}-2": ["MUG-1"]}
    assert world.rejected() == [] and world.linked_variant_skus() == sorted(OURS)


@pytest.mark.parametrize("repeat", ["tee", " TEE"], ids=["same", "same-for-shopify"])
def test_two_hub_products_with_one_handle_create_one_and_reject_the_other_naming_both(
    world: World, repeat: str
) -> None:
    """Prevents the second of two creates with one handle from replacing the first (exit 0, the T-Shirt's variants
    deleted): hub handles are not unique (a pull may bring a merchant's product of a handle the hub has), and
    ``TEE`` is ``tee`` to Shopify. The lower hub id is created, the other rejected, naming both, never sent."""
    world.import_csv(*CATALOGUE)
    ids = world.hub_ids()
    set_handle(world, "Mug", repeat)
    world.clear()

    assert world.push() == 1
    assert world.mutations() == ["productSet"]
    assert skus_by_handle(world) == {"tee": ["TEE-S", "TEE-M"]}
    assert "MUG-1" not in world.variants_by_sku()
    reason = reasons(world)["MUG-1"]
    assert f"#{ids['T-Shirt']} 'T-Shirt'" in reason and f"#{ids['Mug']} 'Mug'" in reason
    assert "another handle" in reason


def test_a_hub_handle_of_a_product_linked_to_another_hub_product_is_refused_naming_it(world: World) -> None:
    """Prevents a hub product whose handle is that of a product another hub product is linked to from being
    refused as if that product were the merchant's: the rejection names the hub product it is linked to."""
    world.import_csv(*CATALOGUE[:2])
    assert world.push() == 0
    world.import_csv(*CATALOGUE)
    ids = world.hub_ids()
    set_handle(world, "Mug", "Tee")
    world.clear()

    assert world.push() == 1
    assert skus_by_handle(world) == {"tee": ["TEE-S", "TEE-M"]}
    assert world.mutations() == []
    reason = reasons(world)["MUG-1"]
    assert f"linked to hub product #{ids['T-Shirt']}" in reason and f"#{ids['Mug']} 'Mug'" in reason


@pytest.mark.parametrize(
    ("hub", "shopify"),
    [("T-Shirt_Bio", "t-shirt-bio"), ("caf%c3%a9", "cafe"), ("Été (Spécial)", "ete-special")],
    ids=["prestashop-link-rewrite", "woocommerce-slug", "csv-text"],
)
def test_a_hub_handle_is_sent_as_shopify_keeps_it_so_the_rerun_of_a_killed_push_finds_it(
    world: World, hub: str, shopify: str
) -> None:
    """Prevents the rerun of a push killed after its create from missing the product while the SKU search lags: the
    hub handle was sent verbatim, Shopify stored it lowercase with hyphens (``t-shirt_bio``), and the rerun looked up
    ``T-Shirt_Bio`` by key, found nothing, sent the create again and was refused (handle taken; a duplicate where
    Shopify suffixes it). Now it is sent, looked up and compared as Shopify keeps it."""
    world.import_csv(*CATALOGUE[:2])
    set_handle(world, "T-Shirt", hub)
    lag_search(world.shop.store, LAG_S)

    world.kill_push_at_write(1)
    assert skus_by_handle(world) == {shopify: ["TEE-S", "TEE-M"]}
    world.clear()
    assert world.shop.store.search_index.lags

    assert world.push() == 0
    assert skus_by_handle(world) == {shopify: ["TEE-S", "TEE-M"]}
    assert world.rejected() == [] and world.linked_variant_skus() == ["TEE-M", "TEE-S"]
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []


def test_a_repeated_hub_handle_of_a_product_adopted_by_sku_refuses_nothing(world: World) -> None:
    """Prevents a refusal the repeat does not call for: the Mug, found in the shop by its SKU (a push died before
    its link), is adopted by id and its handle never sent, so the T-Shirt, whose hub handle is the Mug's, is created
    with it and the Mug adopted, though the Mug's hub id is the lower."""
    world.import_csv(CATALOGUE[2])
    assert world.push() == 0
    world.unlink("mug")
    world.shop.store.update_product(world.product("MUG-1").id, handle="mug-old")
    world.import_csv(*CATALOGUE[:2])
    ids = world.hub_ids()
    assert ids["Mug"] < ids["T-Shirt"]
    set_handle(world, "T-Shirt", "mug")

    assert world.push() == 0
    assert skus_by_handle(world) == {"mug-old": ["MUG-1"], "mug": ["TEE-S", "TEE-M"]}
    assert world.rejected() == [] and world.linked_variant_skus() == sorted(OURS)
    assert world.last_push_outcomes()[("product", ids["Mug"])] == "adopted"


def test_a_product_adopted_by_sku_is_not_overwritten_by_a_create_with_its_handle(world: World) -> None:
    """Prevents the overwrite review 4 reproduced: the Mug (handle ``mug`` in the shop, carrying MUG-1) is found by
    its SKU and adopted by id; the T-Shirt's hub handle is also ``mug``, and the product found by that handle counted
    as "ours" because it carried *a* create's SKU, so the T-Shirt's productSet replaced the Mug (MUG-1 deleted),
    exit 0, and every later push failed. Now the product must carry *this* create's SKUs: the T-Shirt is refused
    and the Mug kept."""
    world.import_csv(CATALOGUE[2])
    assert world.push() == 0
    world.unlink("mug")  # the Mug in the shop, unlinked (a push killed before its link)
    world.import_csv(*CATALOGUE[:2])
    set_handle(world, "T-Shirt", "mug")

    assert world.push() == 1
    assert skus_by_handle(world) == {"mug": ["MUG-1"]}
    assert any("carries none of this product's SKUs" in r for r in reasons(world).values()), reasons(world)
    world.clear()
    assert world.push() == 1  # the same refusal, nothing overwritten
    assert skus_by_handle(world) == {"mug": ["MUG-1"]}


def test_a_bumped_generated_handle_stays_bumped_when_the_product_it_stepped_past_gets_linked(world: World) -> None:
    """Prevents the duplicate review 4 reproduced: the Mug (no hub handle) was created as ``mug-h<id>-2`` because
    the T-Shirt, a create of the same push (adopted by SKU), had ``mug-h<id>`` as hub handle; the push died before
    the Mug's link. On the rerun the T-Shirt was linked, no longer a create, so the Mug went back to ``mug-h<id>``,
    found nothing while the search lagged, and was created a second time. Every hub handle of the tenant is now
    taken for generated ones, so the rerun tries ``mug-h<id>-2`` again and adopts it."""
    world.import_csv(*CATALOGUE[:2])
    assert world.push() == 0  # the T-Shirt in the shop as "tee"
    world.unlink("tee")  # found again by SKU: adopted by id in the next push
    world.import_csv(CATALOGUE[2])
    ids = world.hub_ids()
    taken = generated_handle(ids["Mug"], "Mug")
    set_handle(world, "Mug", None)
    set_handle(world, "T-Shirt", taken)
    lag_search(world.shop.store, LAG_S)
    assert world.push() == 0  # the T-Shirt adopted by id, the Mug created as <taken>-2
    assert skus_by_handle(world)[f"{taken}-2"] == ["MUG-1"]
    # As if killed after the Mug's create, before its link:
    set_handle(world, "Mug", "zz-tmp")
    world.unlink("zz-tmp")
    set_handle(world, "Mug", None)
    world.clear()
    assert world.push() == 0  # the rerun, the SKU search still lagging
    assert world.our_copies() == dict.fromkeys(OURS, 1)
    assert skus_by_handle(world)[f"{taken}-2"] == ["MUG-1"]
