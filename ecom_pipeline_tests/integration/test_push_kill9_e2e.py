"""A real ``ecom-pipeline push`` process SIGKILLed between the shop's create and our link, on each platform, after
its first and after its second write (issue 10: "a kill -9 between create and link with no duplicate afterwards").

The kill is deterministic, not timed: the emulator applies the N-th write, then holds its answer back
(``FaultSwitches.hold_after_writes``); the test waits until the answer is held, kills the process with SIGKILL,
and only then lets the answer go (to nobody). The shop has the record, the warehouse has no link for it, and the
export's ``sync_runs`` row is left ``running``. The rerun (the CLI, in-process) must link what the shop has (by
SKU, handle, slug, or PrestaShop reference / ``link_rewrite``) instead of creating it again, and the push after it
must write nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from ecom_pipeline.sandbox.server import ShopSpec
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links
from ecom_pipeline_tests.integration.push_world import OpenPushWorld, PushWorld, prestashop_spec, shopify_spec

# The T-Shirt comes first: on Shopify the first write is its productSet, the second the mug's; on WooCommerce the
# first is the products batch (the mug and the T-Shirt's parent), the second the T-Shirt's variations batch; on
# PrestaShop the first is the T-Shirt's product POST (no reference of its own), the second its first combination.
WITH_OPTIONS = [
    "tee,T-Shirt,,active,variable,,,TEE-S,,19.90,,EUR,,Size=S,1",
    "tee,,,,,,,TEE-M,,21.00,,EUR,,Size=M,2",
    "mug,Mug,,active,simple,,,MUG-1,,8.00,,EUR,,,",
]
# PrestaShop: combinations without options, so that its first write is the product's POST (with options the writer
# first creates the attribute values the shop lacks, which are not records we link).
WITHOUT_OPTIONS = [
    "tee,T-Shirt,,active,variable,,,TEE-S,,19.90,,EUR,,,1",
    "tee,,,,,,,TEE-M,,21.00,,EUR,,,2",
    "mug,Mug,,active,simple,,,MUG-1,,8.00,,EUR,,,",
]
SKUS = ("TEE-S", "TEE-M", "MUG-1")


class World(PushWorld):
    @property
    def platform(self) -> str:
        return str(self.shop.spec.platform)

    def records_by_sku(self) -> dict[str, int]:
        """How many shop records carry each of our SKUs: a duplicate shows as 2."""
        store = self.shop.store
        found: dict[str, int] = {}
        if self.platform == "shopify":
            refs = [v.sku for v in store.variants.values()]
        elif self.platform == "woocommerce":
            refs = [
                r.sku
                for r in [*store.products.values(), *store.variations.values()]
                if r.sku and getattr(r, "status", "publish") != "trash"
            ]
        else:
            rows = [*store.tables["products"].values(), *store.tables["combinations"].values()]
            refs = [str(r.get("reference") or "") for r in rows]
        for ref in refs:
            if ref in SKUS:
                found[ref] = found.get(ref, 0) + 1
        return found

    def tee_products(self) -> int:
        """Shop products that are our T-Shirt (the parent has no SKU of its own on WooCommerce and PrestaShop)."""
        store = self.shop.store
        if self.platform == "shopify":
            return sum(1 for p in store.products.values() if p.handle == "tee")
        if self.platform == "woocommerce":
            return sum(1 for p in store.products.values() if p.slug == "tee" and p.status != "trash")
        return sum(1 for r in store.tables["products"].values() if store.text(r["name"]) == "T-Shirt")

    def shop_writes(self) -> int:
        if self.platform == "shopify":
            return sum(len(roots) for kind, roots in self.shop.api.operations if kind == "mutation")
        return self.writes()

    def reset(self) -> None:
        self.shop.stats.reset()
        if self.platform == "shopify":
            self.shop.api.operations.clear()


def _spec(platform: str) -> ShopSpec:
    name = f"kill-{platform}"
    if platform == "shopify":
        return shopify_spec(name, seed=9, products=2, variable_share=0.0)
    if platform == "prestashop":
        return prestashop_spec(name, languages=["en"], seed=9, products=2)
    return ShopSpec(name=name, seed=9, products=2, variable_share=0.0, orders=0, customers=0, platform=platform)


@pytest.mark.parametrize("write", [1, 2], ids=["after-first-write", "after-second-write"])
@pytest.mark.parametrize("platform", ["shopify", "woocommerce", "prestashop"])
def test_a_push_sigkilled_between_the_shops_create_and_our_link_creates_no_duplicate_on_rerun(
    platform: str, write: int, open_push_world: OpenPushWorld
) -> None:
    """Prevents a second product or variant in the shop after a push process died (kill -9) right after the shop
    created a record and before the warehouse linked it: the rerun links what the shop has, once."""
    with open_push_world(World, _spec(platform)) as world:
        world.import_csv(*(WITHOUT_OPTIONS if platform == "prestashop" else WITH_OPTIONS))
        world.kill_push_at_write(write)
        assert [r.status for r in world.export_runs()] == ["running"]  # killed: the row was never closed
        # The shop applied the held write: a record with one of our SKUs, or the SKU-less T-Shirt parent.
        assert world.records_by_sku() or world.tee_products() == 1, "the held write created nothing"

        assert world.push() == 0
        assert world.records_by_sku() == dict.fromkeys(SKUS, 1)
        assert world.tee_products() == 1
        assert world.linked_variant_skus() == sorted(SKUS)
        assert [r.status for r in world.export_runs()] == ["failed", "success"]
        world.reset()
        assert world.push() == 0
        assert world.shop_writes() == 0


# Two variable products: on WooCommerce the writes are the products batch, the T-Shirt's variations batch, then the
# hoodie's. The T-Shirt's variations (with SKUs) are linked in a later transaction than their batch's answer (one
# per FRESH_LINKS rows): a kill at the hoodie's batch leaves them created but not linked.
TWO_VARIABLE = [
    *WITH_OPTIONS,
    "hoodie,Hoodie,,active,variable,,,HOOD-S,,39.00,,EUR,,Size=S,1",
    "hoodie,,,,,,,HOOD-M,,41.00,,EUR,,Size=M,2",
]


def test_woocommerce_variations_created_before_a_kill_but_not_yet_linked_are_linked_on_rerun_not_recreated(
    open_push_world: OpenPushWorld,
) -> None:
    """Prevents duplicate variations after a kill -9 that falls after a variation batch's answer and before its
    links' commit (they are committed a few hundred at a time): the rerun's create is answered "duplicated SKU"
    and the variation the parent already has is linked."""
    with open_push_world(World, _spec("woocommerce")) as world:
        world.import_csv(*TWO_VARIABLE)
        world.kill_push_at_write(3)
        skus = (*SKUS, "HOOD-S", "HOOD-M")
        with shared_engine(world.url).connect() as conn:
            linked = set(conn.execute(select(entity_links.c.sku).where(entity_links.c.entity == "variant")).scalars())
        assert not linked & {"TEE-S", "TEE-M"}, "the T-Shirt's variations were linked before the kill"
        assert world.records_by_sku().get("TEE-S") == 1

        assert world.push() == 0
        store = world.shop.store
        refs = [r.sku for r in [*store.products.values(), *store.variations.values()] if r.sku in skus]
        assert sorted(refs) == sorted(skus)  # each once: nothing created twice
        assert world.linked_variant_skus() == sorted(skus)
        world.reset()
        assert world.push() == 0
        assert world.shop_writes() == 0


# PrestaShop, two products with combinations (no options): the writes are the T-Shirt's product POST, its two
# combinations, then the hoodie's product POST. The T-Shirt's links wait for later products' (FRESH_LINKS rows a
# transaction): a kill at the hoodie's POST leaves the T-Shirt and its combinations created but not linked, and the
# hoodie created without combinations.
TWO_VARIABLE_PS = [
    *WITHOUT_OPTIONS,
    "hoodie,Hoodie,,active,variable,,,HOOD-S,,39.00,,EUR,,,1",
    "hoodie,,,,,,,HOOD-M,,41.00,,EUR,,,2",
]


def test_prestashop_products_created_before_a_kill_but_not_yet_linked_are_adopted_on_rerun_not_recreated(
    open_push_world: OpenPushWorld,
) -> None:
    """Prevents duplicate products and combinations after a kill -9 that falls after a product's combinations and
    before their links' commit (committed a few hundred rows at a time): the rerun finds the T-Shirt by its
    combinations' references and the hoodie (no combination yet) by its link_rewrite, and creates neither again."""
    with open_push_world(World, _spec("prestashop")) as world:
        world.import_csv(*TWO_VARIABLE_PS)
        world.kill_push_at_write(4)
        skus = (*SKUS, "HOOD-S", "HOOD-M")
        with shared_engine(world.url).connect() as conn:
            linked = set(conn.execute(select(entity_links.c.sku).where(entity_links.c.entity == "variant")).scalars())
        assert not linked & {"TEE-S", "TEE-M"}, "the T-Shirt's combinations were linked before the kill"
        store = world.shop.store
        assert (_named(store, "T-Shirt"), _named(store, "Hoodie")) == (1, 1)

        assert world.push() == 0
        assert (_named(store, "T-Shirt"), _named(store, "Hoodie")) == (1, 1)
        refs = [str(r.get("reference") or "") for r in store.tables["combinations"].values()]
        assert sorted(r for r in refs if r in skus) == sorted(s for s in skus if s != "MUG-1")  # each once
        assert world.linked_variant_skus() == sorted(skus)
        world.reset()
        assert world.push() == 0
        assert world.shop_writes() == 0


def _named(store: Any, name: str) -> int:
    """PrestaShop products with this name: a duplicate shows as 2."""
    return sum(1 for r in store.tables["products"].values() if store.text(r["name"]) == name)
