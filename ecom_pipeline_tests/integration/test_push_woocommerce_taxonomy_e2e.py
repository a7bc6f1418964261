"""`ecom-pipeline push` of tags and nested categories to an emulated WooCommerce shop (issue 10).

Real HTTP to the sandbox's WooCommerce emulator, a real warehouse, the real Dagster sync job for the pull that
reads our write back. The hub writes a nested category as a path ``Parent > Child``; tags are names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from ecom_pipeline.runner import run_sync
from ecom_pipeline.sandbox.server import ShopSpec
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_products
from ecom_pipeline_tests.integration.push_world import TENANT, OpenPushWorld, PushWorld

SHOP = "taxonomy-shop"


class World(PushWorld):
    def product(self, sku: str) -> Any:
        [found] = [p for p in self.shop.store.products.values() if p.sku == sku]
        return found

    def term_names(self, taxonomy: str) -> list[str]:
        return sorted(t.name for t in self.shop.store.catalog.taxonomy_terms(taxonomy))

    def category_path(self, ref: dict[str, Any]) -> str:
        """A product's category as ``Parent > Child`` from the emulated shop's own terms."""
        terms = self.shop.store.catalog.terms
        term, names = terms[ref["id"]], []
        while True:
            names.insert(0, term.name)
            if not term.parent:
                return " > ".join(names)
            term = terms[term.parent]

    def quiet(self) -> None:
        """A push and a pull after it, and a push after that: nothing is written anywhere (no echo)."""
        self.shop.stats.reset()
        assert self.push() == 0
        assert self.writes() == 0
        before = self.hub_rows_of(["mug", "cup", "tote"], ["MUG-1", "CUP-1", "TOTE-1"])
        assert run_sync(TENANT, instance=self.instance).success
        assert self.hub_rows_of(["mug", "cup", "tote"], ["MUG-1", "CUP-1", "TOTE-1"]) == before
        self.shop.stats.reset()
        assert self.push() == 0
        assert self.writes() == 0


@pytest.fixture
def world(open_push_world: OpenPushWorld) -> Iterator[World]:
    spec = ShopSpec(name=SHOP, seed=11, products=2, variable_share=0.0, orders=0, customers=0)
    with open_push_world(World, spec) as world:
        yield world


def test_tags_and_nested_categories_are_created_once_under_their_parent_and_nothing_echoes(world: World) -> None:
    """Prevents tags left out of a push, a nested hub category created as one category named "Kitchen > Mugs", a
    "Mugs" under another parent (or a tag differing by case) taken for ours or duplicated, and the pull of our own
    write (which answers leaf names) rewriting the hub or making the next push write again."""
    catalog = world.shop.store.catalog
    with world.shop.store.lock:  # a tag the shop has already, in another case: reused, not duplicated
        catalog.create_term("product_tag", {"name": "Gift"}, hierarchical=False)
        office = catalog.create_term("product_cat", {"name": "Office"}, hierarchical=True)
        catalog.create_term("product_cat", {"name": "Mugs", "parent": office.id}, hierarchical=True)
    world.import_csv(
        "mug,Mug,,active,simple,gift;Bestseller,Kitchen > Mugs;Apparel,MUG-1,,8.00,,EUR,0.35,,",
        "cup,Cup,,active,simple,gift,Kitchen > Mugs,CUP-1,,6.00,,EUR,0.2,,",
    )
    assert world.push() == 0
    mug, cup = world.product("MUG-1"), world.product("CUP-1")
    assert sorted(world.category_path(c) for c in mug.categories) == ["Apparel", "Kitchen > Mugs"]
    assert [world.category_path(c) for c in cup.categories] == ["Kitchen > Mugs"]
    assert sorted(t["name"] for t in mug.tags) == ["Bestseller", "Gift"]
    assert [t["name"] for t in cup.tags] == ["Gift"]
    assert world.term_names("product_tag") == ["Bestseller", "Gift"]
    names = world.term_names("product_cat")
    assert names.count("Mugs") == 2 and names.count("Kitchen") == 1  # ours under Kitchen, Office's untouched
    assert "Kitchen > Mugs" not in names and "Kitchen &gt; Mugs" not in names
    assert world.rejected() == []

    world.quiet()
    with shared_engine(world.url).connect() as conn:
        row = conn.execute(select(hub_products).where(hub_products.c.handle == "mug")).one()
    assert sorted(row.categories) == ["Apparel", "Kitchen > Mugs"] and row.tags == ["gift", "Bestseller"]


def test_a_hub_tag_edit_is_pushed_as_the_whole_list_and_an_empty_hub_list_changes_nothing(world: World) -> None:
    """Prevents tags written on create only: a hub tag edit of a linked product reaches the shop (a tag removed in
    the hub leaves the shop, a new one is created once), without echo; no hub tags leave the shop's alone."""
    world.import_csv("mug,Mug,,active,simple,gift,Kitchen,MUG-1,,8.00,,EUR,0.35,,")
    assert world.push() == 0
    mug = world.product("MUG-1")
    assert [t["name"] for t in mug.tags] == ["gift"]

    world.set_hub("mug", tags=["Sale", "Mugs & Cups"])
    world.shop.stats.reset()
    assert world.push() == 0
    assert sorted(t["name"] for t in world.product("MUG-1").tags) == ["Mugs &amp; Cups", "Sale"]
    assert world.shop.stats.count(method="POST", path_prefix="/wp-json/wc/v3/products/tags") == 2
    assert world.shop.stats.count(method="POST", path_prefix="/wp-json/wc/v3/products/batch") == 1
    run = world.export_runs()[-1]
    assert (run.created, run.updated, run.failed) == (0, 1, 0)
    world.quiet()

    world.set_hub("mug", tags=[])  # no hub tags (e.g. read from a shop without them): the shop's stay
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0
    assert sorted(t["name"] for t in world.product("MUG-1").tags) == ["Mugs &amp; Cups", "Sale"]


def test_a_tag_the_shop_refuses_rejects_only_that_product(world: World) -> None:
    """Prevents one refused tag from failing the push or writing the product without it: that product is rejected
    with the shop's message (stage export) and planned again; the others are written."""
    long_tag = "x" * 201  # wp_terms.name is varchar(200): WordPress answers db_insert_error
    world.import_csv(
        f"mug,Mug,,active,simple,{long_tag},Kitchen,MUG-1,,8.00,,EUR,0.35,,",
        "cup,Cup,,active,simple,gift,Kitchen,CUP-1,,6.00,,EUR,0.2,,",
    )
    assert world.push() == 1
    [rejected] = world.rejected()
    assert (rejected.entity, rejected.external_id) == ("product", "MUG-1")
    assert "Could not insert term into the database." in rejected.reason
    assert [t["name"] for t in world.product("CUP-1").tags] == ["gift"]
    assert not [p for p in world.shop.store.products.values() if p.sku == "MUG-1"]

    world.set_hub("mug", tags=["gift"])  # fixed in the hub: created on the next push, the rejection resolved
    assert world.push() == 0
    assert [t["name"] for t in world.product("MUG-1").tags] == ["gift"]
    assert [r.resolved_at is not None for r in world.rejected()] == [True]

    world.set_hub("cup", tags=["gift", long_tag])  # refused on update: only that product, its other edits written
    world.set_hub("mug", title="Big Mug")
    assert world.push() == 1
    assert world.product("MUG-1").name == "Big Mug"
    assert [t["name"] for t in world.product("CUP-1").tags] == ["gift"]
    assert [r.external_id for r in world.rejected() if r.resolved_at is None] == [str(world.product("CUP-1").id)]
