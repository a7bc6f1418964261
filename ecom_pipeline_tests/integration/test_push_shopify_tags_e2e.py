"""`ecom-pipeline push` of product tags to an emulated Shopify shop (issue 10).

Real HTTP (GraphQL) to the sandbox's Shopify emulator, a real warehouse, the real Dagster sync job for the pull that
reads our write back. Tags are names: written on create (``productSet`` input ``tags``) and, for a linked product,
when the hub's differ from the link's base (a set of names without case; the whole list sent; an empty hub list
changes nothing), as WooCommerce does (test_push_woocommerce_taxonomy_e2e.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ecom_pipeline.runner import run_sync
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import integrations
from ecom_pipeline_tests.integration.push_world import TENANT, OpenPushWorld, ShopifyWorld, shopify_spec

SHOP = "tags-shopify"
HANDLES = ["mug", "cup"]
SKUS = ["MUG-1", "CUP-1"]


class World(ShopifyWorld):
    def quiet(self) -> None:
        """A push, a pull after it, and a push after that: nothing is written anywhere (no echo)."""
        self.clear()
        assert self.push() == 0
        assert self.mutations() == []
        before = self.hub_rows_of(HANDLES, SKUS)
        outcome = run_sync(TENANT, instance=self.instance)
        assert outcome.success, outcome.failure
        assert self.hub_rows_of(HANDLES, SKUS) == before  # not even synced_at
        self.clear()
        assert self.push() == 0
        assert self.mutations() == []


@pytest.fixture
def world(open_push_world: OpenPushWorld) -> Iterator[World]:
    with open_push_world(World, shopify_spec(SHOP, seed=13, products=2, bulk_mutation_lines_per_s=20)) as world:
        yield world


def test_a_create_carries_the_hub_tags_and_push_pull_push_writes_nothing(world: World) -> None:
    """Prevents tags left out of a Shopify create, and the echo: the pull of our own write (Shopify's answer) must
    not rewrite the hub's tags, and the push after it must not send them again."""
    world.import_csv(
        "mug,Mug,,active,simple,gift;Bestseller;Mugs & Cups,Kitchen,MUG-1,,8.00,,USD,0.35,,",
        "cup,Cup,,active,simple,,Kitchen,CUP-1,,6.00,,USD,0.2,,",
    )
    world.clear()
    assert world.push() == 0
    assert world.mutations() == ["productSet", "productSet"]
    assert world.product("MUG-1").tags == ["gift", "Bestseller", "Mugs & Cups"]
    assert world.product("CUP-1").tags == []
    assert world.rejected() == []

    world.quiet()
    assert world.hub_tags("mug") == ["gift", "Bestseller", "Mugs & Cups"]
    assert world.hub_tags("cup") == []


def test_a_hub_tag_edit_is_one_product_set_with_the_whole_list_and_an_empty_hub_list_changes_nothing(
    world: World,
) -> None:
    """Prevents tags written on create only: a hub tag edit of a linked product reaches the shop as the whole list (a
    tag removed in the hub leaves the shop), as one productSet, without echo; a case-only difference writes nothing;
    no hub tags leave the shop's alone (a hub product first read from a shop without tags)."""
    world.import_csv("mug,Mug,,active,simple,gift,Kitchen,MUG-1,,8.00,,USD,0.35,,")
    assert world.push() == 0
    assert world.product("MUG-1").tags == ["gift"]

    world.sandbox.clock.advance(60)
    world.set_hub("mug", tags=["Sale", "  Summer ", "Sale"])  # Shopify trims and drops the repeat
    world.clear()
    assert world.push() == 0
    assert world.mutations() == ["productSet"]
    assert world.product("MUG-1").tags == ["Sale", "Summer"]
    run = world.export_runs()[-1]
    assert (run.created, run.updated, run.failed) == (0, 1, 0)
    world.quiet()

    world.set_hub("mug", tags=["SALE", "summer"])  # the same names in another case: nothing to write
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []

    world.set_hub("mug", tags=[])
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []
    assert world.product("MUG-1").tags == ["Sale", "Summer"]


def test_a_tag_shopify_refuses_rejects_only_that_product(world: World) -> None:
    """Prevents one refused tag from failing the push or writing the product without it: that product is rejected
    with Shopify's userError (stage export) and planned again; the others are written."""
    long_tag = "x" * 256  # Shopify: at most 255 characters a tag
    world.import_csv(
        f"mug,Mug,,active,simple,{long_tag},Kitchen,MUG-1,,8.00,,USD,0.35,,",
        "cup,Cup,,active,simple,gift,Kitchen,CUP-1,,6.00,,USD,0.2,,",
    )
    assert world.push() == 1
    [rejected] = world.rejected()
    assert (rejected.entity, rejected.external_id) == ("product", "MUG-1")
    assert "255 characters" in rejected.reason and "field input.tags" in rejected.reason
    assert world.product("MUG-1") is None
    assert world.product("CUP-1").tags == ["gift"]

    world.set_hub("mug", tags=["gift"])  # fixed in the hub: created on the next push, the rejection resolved
    assert world.push() == 0
    assert world.product("MUG-1").tags == ["gift"]
    assert [r.resolved_at is not None for r in world.rejected()] == [True]

    world.sandbox.clock.advance(60)
    world.set_hub("cup", tags=["gift", long_tag])  # refused on update: only that product, the other's edit written
    world.set_hub("mug", title="Big Mug")
    assert world.push() == 1
    assert world.product("MUG-1").title == "Big Mug"
    assert world.product("CUP-1").tags == ["gift"]
    cup_id = str(world.product("CUP-1").id)
    assert [r.external_id for r in world.rejected() if r.resolved_at is None] == [cup_id]


def test_tags_in_a_bulk_push_are_written_and_a_refused_line_rejects_only_its_product(world: World) -> None:
    """Prevents the bulk path (the same productSet document, one JSONL line per product) from dropping the tags or
    failing the whole operation for one refused tag: that line is rejected, the others are written, no echo."""
    with shared_engine(world.url).connect() as conn:
        iid = conn.execute(select(integrations.c.id)).scalar_one()
    assert world.cli("integration", "set", "--integration", str(iid), "--bulk-mutation-threshold", "0") == 0
    world.import_csv(
        f"mug,Mug,,active,simple,{'y' * 300},Kitchen,MUG-1,,8.00,,USD,0.35,,",
        "cup,Cup,,active,simple,gift;Sale,Kitchen,CUP-1,,6.00,,USD,0.2,,",
    )
    world.clear()
    assert world.push() == 1
    assert world.mutations() == ["stagedUploadsCreate", "bulkOperationRunMutation"]
    assert world.product("CUP-1").tags == ["gift", "Sale"]
    assert world.product("MUG-1") is None
    assert [(r.entity, r.external_id) for r in world.rejected()] == [("product", "MUG-1")]

    world.set_hub("mug", tags=["gift"])
    assert world.push() == 0
    assert world.product("MUG-1").tags == ["gift"]
    world.quiet()
