"""A WooCommerce variable create lost to a kill -9, when the merchant already has a product with its slug (issue 10).

A variable parent has no SKU, so after a push killed between the shop's create and our link the rerun must find
it some other way, and must never take the merchant's own product with the same slug for it. The shop here is the
emulator over real HTTP, which saves a create whose slug is taken as ``<slug>-2`` (WordPress's
``wp_unique_post_slug``; a draft keeps the slug, taken or not), and the kill is real: ``ecom-pipeline push`` in
its own process, SIGKILLed while the emulator holds the answer of the products batch it applied
(``PushWorld.kill_push_at_write``, as in ``test_push_kill9_e2e.py``). The rerun is the CLI, in-process.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from ecom_pipeline.runner import run_sync
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_products
from ecom_pipeline_tests.integration.push_world import TENANT, WOOCOMMERCE_CATALOGUE, WooCommerceWorld

World = WooCommerceWorld
TEE = WOOCOMMERCE_CATALOGUE[:2]  # the variable T-Shirt (handle tee): TEE-S, TEE-M
MUG = WOOCOMMERCE_CATALOGUE[2:]  # the simple mug: MUG-1


@pytest.fixture
def world(woocommerce_push_world: World) -> World:
    return woocommerce_push_world


def _merchant_tee(world: World) -> Any:
    """The merchant's own variable product with the hub handle's slug, made before any push (never linked)."""
    return world.shop.store.create_product({"name": "Merchant tee", "type": "variable", "slug": "tee"})


def _tees(world: World) -> list[tuple[str, str]]:
    """(slug, name) of the shop's live products whose slug starts with ``tee``: a duplicate shows twice."""
    products = world.shop.store.products.values()
    return sorted((p.slug, p.name) for p in products if p.slug.startswith("tee") and p.status != "trash")


def _assert_merchants_untouched(world: World, merchant: Any) -> None:
    assert merchant.name == "Merchant tee" and merchant.slug == "tee"
    assert [v for v in world.shop.store.variations.values() if v.parent_id == merchant.id] == []


@pytest.mark.parametrize(("status", "ours"), [("active", "tee-2"), ("draft", "tee")])
def test_a_killed_variable_create_the_shop_saved_beside_the_merchants_slug_is_adopted_not_the_merchants(
    world: World, status: str, ours: str
) -> None:
    """Prevents the rerun of a push killed right after the shop created the T-Shirt from linking the hub's T-Shirt
    to the merchant's own product with the slug ``tee`` (its variations then created under it, its title
    overwritten by later pushes), and from creating the T-Shirt a second time: published, ours was saved as
    ``tee-2``, which the look-up by the exact slug never found; as a draft it kept ``tee``, so two products answer
    that slug. The create carries our mark; only the product with it is ours."""
    merchant = _merchant_tee(world)
    tee = [line.replace(",active,", f",{status},", 1) for line in TEE]
    world.import_csv(*tee, *MUG)
    world.kill_push_at_write(1)  # the products batch: applied by the shop, its answer never read
    assert [r.status for r in world.export_runs()] == ["running"]
    assert _tees(world) == sorted([("tee", "Merchant tee"), (ours, "T-Shirt")]), "the held batch created nothing"

    world.shop.stats.reset()
    assert world.push() == 0
    assert _tees(world) == sorted([("tee", "Merchant tee"), (ours, "T-Shirt")])  # nothing created twice
    _assert_merchants_untouched(world, merchant)
    assert {sku: len(r) for sku, r in world.shop_by_sku().items() if sku in ("TEE-S", "TEE-M", "MUG-1")} == {
        "TEE-S": 1,
        "TEE-M": 1,
        "MUG-1": 1,
    }
    [shirt] = [p for p in world.shop.store.products.values() if p.name == "T-Shirt"]
    assert {world.shop.store.variations[v].sku for v in shirt.variation_ids} == {"TEE-S", "TEE-M"}
    assert world.linked_variant_skus() == ["MUG-1", "TEE-M", "TEE-S"]
    outcomes = world.last_push_outcomes()
    assert sorted(outcome for (entity, _), outcome in outcomes.items() if entity == "product") == [
        "adopted",  # the T-Shirt, found by its mark (the mug by its SKU)
        "adopted",
    ]
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_a_rerun_after_a_kill_never_adopts_the_merchants_product_when_our_create_never_reached_the_shop(
    world: World,
) -> None:
    """Prevents a push resumed after a killed one (which may have left records without links, so variable creates
    are looked up first) from linking the hub's T-Shirt to the merchant's own product with the slug ``tee``: the
    killed push never sent the T-Shirt, so the only product with that slug is the merchant's. The look-up by slug
    found exactly one and adopted it (no id floor survives a kill). It is created instead, as ``tee-2``."""
    merchant = _merchant_tee(world)
    world.import_csv(*MUG)
    world.kill_push_at_write(1)  # the mug's batch; the T-Shirt was not in the hub yet
    world.import_csv(*TEE, *MUG)
    assert world.push() == 0
    assert _tees(world) == [("tee", "Merchant tee"), ("tee-2", "T-Shirt")]
    _assert_merchants_untouched(world, merchant)
    assert world.linked_variant_skus() == ["MUG-1", "TEE-M", "TEE-S"]
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_a_variable_create_whose_batch_answer_was_lost_is_linked_from_its_suffixed_slug_not_sent_again(
    world: World,
) -> None:
    """Prevents a second T-Shirt when the answer of the batch that created it was lost (a dropped connection, not
    retried for variable creates) while the merchant holds ``tee``: the shop saved ours as ``tee-2``, which the
    look-up by the exact slug did not find, so the batch was sent again."""
    merchant = _merchant_tee(world)
    world.import_csv(*TEE)
    world.shop.faults.update(
        {"cut_after_bytes": 10, "cut_responses": 1, "cut_path": "POST /wp-json/wc/v3/products/batch"}
    )
    assert world.push() == 0
    assert _tees(world) == [("tee", "Merchant tee"), ("tee-2", "T-Shirt")]
    _assert_merchants_untouched(world, merchant)
    assert {sku: len(r) for sku, r in world.shop_by_sku().items() if sku.startswith("TEE-")} == {"TEE-S": 1, "TEE-M": 1}
    # The pull reads ours back as it was pushed (its slug tee-2 included): the hub T-Shirt is unchanged, and
    # nothing is pushed after it.
    with shared_engine(world.url).connect() as conn:
        before = conn.execute(select(hub_products).where(hub_products.c.title == "T-Shirt")).one()
    assert run_sync(TENANT, instance=world.instance).success
    with shared_engine(world.url).connect() as conn:
        after = conn.execute(select(hub_products).where(hub_products.c.title == "T-Shirt")).one()
    assert (after.handle, after.synced_at) == (before.handle, before.synced_at) == ("tee", before.synced_at)
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0
