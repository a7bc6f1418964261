"""`ecom-pipeline push` of categories to an emulated PrestaShop shop (issue 10).

Real HTTP to the sandbox's PrestaShop emulator (one language, or the recorded two-language store), a real warehouse,
the real Dagster sync job for the pull that reads our write back. The hub writes a nested category as a path
``Parent > Child``; PrestaShop names a product's categories by id (``associations/categories``,
``id_category_default``), and its category names per language.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from ecom_pipeline.runner import run_sync
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_products
from ecom_pipeline_tests.integration.category_worlds import presta_category_path
from ecom_pipeline_tests.integration.push_world import TENANT, OpenPushWorld, PushWorld, prestashop_spec

SHOP = "presta-categories"
HANDLES = ["mug", "cup", "tee"]
SKUS = ["MUG-1", "CUP-1", "TEE-S", "TEE-M"]


class World(PushWorld):
    def product(self, reference: str) -> dict[str, Any]:
        """The shop product carrying ``reference`` (its own, or one of its combinations')."""
        tables = self.shop.store.tables
        for row in tables["products"].values():
            if row.get("reference") == reference:
                return dict(row)
        [pid] = [int(c["id_product"]) for c in tables["combinations"].values() if c.get("reference") == reference]
        return dict(tables["products"][pid])

    def category_paths(self, reference: str) -> list[str]:
        """The product's categories as ``Parent > Child`` from home, in the product's order (English names)."""
        store = self.shop.store
        ids = store.product_categories[int(self.product(reference)["id"])]
        return [self.path(int(c)) for c in ids]

    def path(self, cid: int) -> str:
        return presta_category_path(self.shop.store, cid)

    def named(self, english: str) -> list[dict[str, Any]]:
        store = self.shop.store
        return [r for r in store.tables["categories"].values() if store.text(r["name"], 1) == english]

    def quiet(self) -> None:
        """A push and a pull after it, and a push after that: nothing is written anywhere (no echo)."""
        self.shop.stats.reset()
        assert self.push() == 0
        assert self.writes() == 0
        before = self.hub_rows_of(HANDLES, SKUS)
        outcome = run_sync(TENANT, instance=self.instance)
        assert outcome.success, outcome.failure
        assert self.hub_rows_of(HANDLES, SKUS) == before
        self.shop.stats.reset()
        assert self.push() == 0
        assert self.writes() == 0


@pytest.fixture
def world(open_push_world: OpenPushWorld) -> Iterator[World]:
    with open_push_world(World, prestashop_spec(SHOP, languages=["en"])) as world:
        yield world


@pytest.fixture
def bilingual(open_push_world: OpenPushWorld) -> Iterator[World]:
    with open_push_world(World, prestashop_spec(SHOP, languages=["en", "fr"])) as world:
        yield world


def test_created_products_get_their_categories_nested_and_in_every_language_and_nothing_echoes(
    bilingual: World,
) -> None:
    """Prevents creates filed under home whatever the hub says, a nested hub category created as one category named
    "Kitchen > Mugs" or under the wrong parent, a seeded category matched by its French name or created twice, a new
    category named in one language only, and the pull of our write (which answers leaf names) rewriting the hub or
    making the next push write again."""
    world = bilingual
    store = world.shop.store
    with store.lock:  # a "Mugs" elsewhere (under Accessories): not the one under Kitchen
        store.create("categories", {"id_parent": "6", "name": {1: "Mugs", 2: "Tasses"},
                                    "link_rewrite": {1: "mugs", 2: "tasses"}}, {})  # fmt: skip
    world.import_csv(
        "mug,Mug,,active,simple,,Kitchen > Mugs;Clothes > Men;Gifts,MUG-1,,8.00,,EUR,0.35,,",
        "cup,Cup,,active,simple,,kitchen > mugs;Femmes,CUP-1,,6.00,,EUR,0.2,,",
        "tee,T-Shirt,,active,variable,,Women,TEE-S,T-Shirt - S,20.00,,EUR,0.2,Size=S,",
        "tee,,,,,,,TEE-M,T-Shirt - M,20.00,,EUR,0.2,Size=M,",
    )
    assert world.push() == 0
    assert world.rejected() == []
    assert world.category_paths("MUG-1") == ["Kitchen > Mugs", "Clothes > Men", "Gifts"]
    assert world.category_paths("CUP-1") == ["Kitchen > Mugs", "Femmes"]  # "Femmes" is Women's French name
    assert world.category_paths("TEE-S") == ["Clothes > Women"]  # the seeded Women, found by its leaf
    mug = world.product("MUG-1")
    assert mug["id_category_default"] == str(store.product_categories[int(mug["id"])][0])
    assert world.path(int(mug["id_category_default"])) == "Kitchen > Mugs"
    assert world.path(int(world.product("TEE-S")["id_category_default"])) == "Clothes > Women"
    [kitchen] = world.named("Kitchen")
    assert (kitchen["id_parent"], kitchen["name"], kitchen["link_rewrite"]) == (
        "2", {1: "Kitchen", 2: "Kitchen"}, {1: "kitchen", 2: "kitchen"}
    )  # fmt: skip
    assert len(world.named("Mugs")) == 2 and len(world.named("Men")) == 1 and len(world.named("Femmes")) == 1
    assert world.shop.stats.count(method="POST", path_prefix="/api/categories") == 4  # Kitchen, Mugs, Gifts, Femmes

    world.quiet()
    with shared_engine(world.url).connect() as conn:
        row = conn.execute(select(hub_products).where(hub_products.c.handle == "mug")).one()
    assert row.categories == ["Kitchen > Mugs", "Clothes > Men", "Gifts"]


def test_a_hub_category_edit_is_pushed_as_the_whole_list_and_an_empty_hub_list_changes_nothing(world: World) -> None:
    """Prevents categories written on create only: a hub category edit of a linked product reaches the shop (the
    whole list replaced, the default category moved, the other associations kept), without echo; no hub categories
    leave the shop's alone."""
    world.import_csv("mug,Mug,,active,simple,,Clothes,MUG-1,,8.00,,EUR,0.35,,")
    assert world.push() == 0
    assert world.category_paths("MUG-1") == ["Clothes"]
    pid = int(world.product("MUG-1")["id"])
    store = world.shop.store
    with store.lock:
        store.product_features[pid] = [("1", "3")]

    world.set_hub("mug", categories=["Accessories > Stationery", "Sale"])
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.category_paths("MUG-1") == ["Accessories > Stationery", "Sale"]
    assert world.path(int(world.product("MUG-1")["id_category_default"])) == "Accessories > Stationery"
    assert store.product_features[pid] == [("1", "3")]
    assert world.shop.stats.count(method="POST", path_prefix="/api/categories") == 1  # Sale
    assert world.shop.stats.count(method="PUT", path_prefix="/api/products") == 1
    run = world.export_runs()[-1]
    assert (run.created, run.updated, run.failed) == (0, 1, 0)
    world.quiet()

    world.set_hub("mug", categories=[])  # no hub categories (e.g. read from a shop without them): the shop's stay
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0
    assert world.category_paths("MUG-1") == ["Accessories > Stationery", "Sale"]


def test_a_category_the_shop_refuses_rejects_only_that_product(world: World) -> None:
    """Prevents one refused category (PrestaShop's isCatalogName refuses ``#``) from failing the push or writing the
    product without it: that product is rejected with the shop's message (stage export) and planned again; the
    others are written; on update its other edits are still written."""
    world.import_csv(
        "mug,Mug,,active,simple,,Kitchen > Best #1,MUG-1,,8.00,,EUR,0.35,,",
        "cup,Cup,,active,simple,,Kitchen,CUP-1,,6.00,,EUR,0.2,,",
    )
    assert world.push() == 1
    [rejected] = world.rejected()
    assert (rejected.entity, rejected.external_id) == ("product", "MUG-1")
    assert "Property Category->name is not valid" in rejected.reason
    assert world.category_paths("CUP-1") == ["Kitchen"]
    assert "MUG-1" not in {r.get("reference") for r in world.shop.store.tables["products"].values()}

    world.set_hub("mug", categories=["Kitchen > Best"])  # fixed in the hub: created on the next push
    assert world.push() == 0
    assert world.category_paths("MUG-1") == ["Kitchen > Best"]
    assert [r.resolved_at is not None for r in world.rejected()] == [True]

    world.set_hub("cup", categories=["Kitchen", "A;B"])  # refused on update: only that product, its title written
    world.set_hub("mug", title="Big Mug")
    world.set_hub("cup", title="Big Cup")
    assert world.push() == 1
    store = world.shop.store
    assert store.text(world.product("MUG-1")["name"]) == "Big Mug"
    assert store.text(world.product("CUP-1")["name"]) == "Big Cup"
    assert world.category_paths("CUP-1") == ["Kitchen"]
    [open_one] = [r for r in world.rejected() if r.resolved_at is None]
    assert open_one.external_id == str(world.product("CUP-1")["id"])
    assert "Property Category->name is not valid" in open_one.reason
