"""Shopify creates of hub products WITHOUT SKUs on the rerun of an interrupted push (issue 10: "a process killed
between the shop's create and our link must not create a duplicate on rerun", and never take over a product that is
not ours).

A hub product whose variants have no SKU cannot be found again by SKU: its create is ``productSet(identifier:
{handle})``, and the rerun looks the handle up by key (``productByIdentifier``). The rerun used to take whatever
product held that handle as the one the killed push made, and hub handles are put in Shopify's form first
(``Tee_Shirt``, ``TEE SHIRT`` and ``tee-shirt`` are all ``tee-shirt``), so a merchant's own ``tee-shirt`` was
overwritten (its title, its variants replaced). Now every create without SKUs carries our mark (an app metafield
naming tenant, shop and hub product; one with SKUs is told by them) and only a product with this hub product's mark
is taken as ours. Real HTTP to the emulator, the real CLI (a real SIGKILLed process for the kill), a real warehouse.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline.sandbox.shopify.store import metafield_namespace
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_products, hub_variants, sync_runs
from ecom_pipeline_tests.integration.push_world import (
    CATALOGUE_HEADER,
    TENANT,
    OpenPushWorld,
    ShopifyWorld,
    shopify_spec,
)

SHOP = "push-shopify-own-mark"
MUG = "mug,Mug,,active,simple,,,MUG-1,,8.00,,USD,0.35,,"


def tee(handle: str) -> list[str]:
    """A two-variant T-Shirt with hub handle ``handle`` (its SKUs dropped after the import: ``World.import_csv``)."""
    return [
        f"{handle},T-Shirt,<p>Soft</p>,active,variable,,,TEE-S,T-Shirt - S,19.90,,USD,0.2,Size=S,",
        f"{handle},,,,,,,TEE-M,T-Shirt - M,19.90,,USD,0.2,Size=M,",
    ]


class World(ShopifyWorld):
    def import_csv(self, *lines: str, header: str = CATALOGUE_HEADER) -> None:
        """The import, then the T-Shirt's variants without SKU (as a product pulled from a shop where they have
        none: the catalogue import requires one)."""
        super().import_csv(*lines, header=header)
        with shared_engine(self.url).begin() as conn:
            conn.execute(update(hub_variants).where(hub_variants.c.sku.like("TEE-%")).values(sku=None))

    def interrupt_last_push(self) -> None:
        """The last push's run left ``running``, as a process killed mid-push leaves it (``plan.resume``)."""
        with shared_engine(self.url).begin() as conn:
            conn.execute(update(sync_runs).where(sync_runs.c.stage == "export").values(status="running"))

    def tee_id(self) -> int:
        with shared_engine(self.url).connect() as conn:
            return int(conn.execute(select(hub_products.c.id).where(hub_products.c.title == "T-Shirt")).scalar_one())

    def state(self, product: Any) -> tuple[Any, ...]:
        """What a write would change of a shop product: title, handle, variants and their SKUs and prices."""
        variants = [self.shop.store.variants[v] for v in product.variant_ids]
        return product.title, product.handle, [(v.id, v.sku, v.price) for v in variants]

    def tees(self) -> list[Any]:
        return [p for p in self.shop.store.products.values() if p.title == "T-Shirt"]


@pytest.fixture
def world(open_push_world: OpenPushWorld) -> Iterator[World]:
    with open_push_world(World, shopify_spec(SHOP, seed=17, products=2)) as world:
        yield world


@pytest.mark.parametrize("handle", ["tee-shirt", "Tee_Shirt", "TEE SHIRT"])
def test_a_rerun_never_takes_over_a_merchants_product_with_the_handle_of_a_create_without_skus(
    world: World, handle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents the rerun of an interrupted push from overwriting the merchant's own ``tee-shirt`` (title, variants
    replaced) with a hub product that has no SKU and whose handle is, in Shopify's form, ``tee-shirt``: nothing
    told them apart, so it was taken as the product the killed push had made. It carries no mark of ours: refused,
    naming the handle and the shop's product, and kept in rejected_records."""
    world.import_csv(MUG)
    assert world.push() == 0
    world.interrupt_last_push()
    merchant = world.shop.store.add_product("Merchant tee", [{"sku": "MERCH-1", "price": "30.00"}], handle="tee-shirt")
    kept = world.state(merchant)
    world.import_csv(MUG, *tee(handle))
    capsys.readouterr()
    world.clear()

    assert world.push() == 1
    assert world.state(merchant) == kept
    assert world.mutations() == []
    assert world.tees() == []
    [rejected] = world.rejected()
    assert rejected.external_id == handle
    shop_id = f"gid://shopify/Product/{merchant.id}"
    assert "'tee-shirt'" in rejected.reason and shop_id in rejected.reason, rejected.reason
    assert "not overwritten" in capsys.readouterr().out
    world.clear()
    assert world.push() == 1  # still refused, still untouched, until a person gives one of them another handle
    assert world.state(merchant) == kept and world.mutations() == []


def test_the_rerun_of_a_push_killed_after_creating_a_product_without_skus_links_it_by_its_mark(world: World) -> None:
    """Keeps the rerun of a push killed between Shopify's create of a SKU-less product and our link from creating it
    twice (or refusing it): the product it finds by handle carries this hub product's mark, so it is ours, written
    again by handle and linked; the next push writes nothing."""
    world.import_csv(*tee("Tee_Shirt"))
    world.kill_push_at_write(1)
    [made] = world.tees()
    mark = made.metafields[(metafield_namespace(q.OWN_MARK_NAMESPACE), q.OWN_MARK_KEY)]
    assert mark["value"] == f"{TENANT}/1/{world.tee_id()}" and mark["type"] == q.OWN_MARK_TYPE
    assert made.handle == "tee-shirt"

    world.clear()
    assert world.push() == 0
    assert [p.id for p in world.tees()] == [made.id]  # not created twice
    assert world.rejected() == []
    assert world.last_push_outcomes()[("product", world.tee_id())] == "adopted"
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []


def test_a_product_marked_for_another_hub_product_is_not_taken_for_this_one(world: World) -> None:
    """The mark names the hub product: a SKU-less hub product whose handle is that of a product another hub product
    created (and lost the link of) does not take it over on a rerun."""
    world.import_csv(*tee("tee-shirt"))
    world.kill_push_at_write(1)
    [made] = world.tees()
    kept = world.state(made)
    with shared_engine(world.url).begin() as conn:  # the killed push's hub product is now another one
        conn.execute(update(hub_products).where(hub_products.c.handle == "tee-shirt").values(handle="old-tee"))
    world.import_csv(*[line.replace("T-Shirt", "Shirt") for line in tee("TEE SHIRT")])
    world.clear()
    assert world.push() == 1
    assert world.state(made) == kept
    assert any("'tee-shirt'" in r.reason for r in world.rejected())


def test_taking_back_a_marked_product_keeps_the_merchants_metafields(world: World) -> None:
    """``productSet``'s ``metafields`` is a list field (Shopify deletes the product's metafields the input leaves
    out): the rerun's productSet of the marked product it takes back sends no ``metafields`` (the mark is there
    already), so a metafield the merchant added meanwhile is kept, and so is the mark."""
    world.import_csv(*tee("tee-shirt"))
    world.kill_push_at_write(1)
    [made] = world.tees()
    note = ("custom", "care_note")
    made.metafields[note] = {"namespace": note[0], "key": note[1], "type": "single_line_text_field",
                             "value": "hand wash", "id": 999001}  # fmt: skip
    world.clear()
    assert world.push() == 0
    assert [p.id for p in world.tees()] == [made.id]
    assert world.last_push_outcomes()[("product", world.tee_id())] == "adopted"
    assert made.metafields[note]["value"] == "hand wash", sorted(made.metafields)
    mark = made.metafields[(metafield_namespace(q.OWN_MARK_NAMESPACE), q.OWN_MARK_KEY)]
    assert mark["value"] == f"{TENANT}/1/{world.tee_id()}"


def test_a_create_with_skus_carries_no_mark(world: World) -> None:
    """A create with SKUs is told apart by its SKUs on a rerun: it carries no mark metafield, which would add 0.4
    to each productSet's cost (a 1-2 variant create 10 -> 11 points)."""
    world.import_csv(MUG)
    assert world.push() == 0
    [mug] = [p for p in world.shop.store.products.values() if p.title == "Mug"]
    assert mug.metafields == {}
