"""Hub categories on Shopify as custom collections, both ways, with an emulated Shopify shop (issue 10).

Real HTTP (GraphQL) to the sandbox's Shopify emulator, a real warehouse, the real Dagster sync job for the pulls,
``ecom-pipeline push`` / ``catalog import`` as a merchant runs them, and the real webhook receiver and apply. A hub
category is the custom (manual) collection titled like its leaf (``Kitchen > Mugs`` -> ``Mugs``; Shopify collections
are flat); the pull reads a product's custom collections' titles back, never smart (rule-based) ones, and the
one-step rule of ``sync.category_paths`` keeps the hub's path, so nothing echoes.

All of that only with the integration's ``shopify_collections`` setting on (``integration set --shopify-collections
on``); off, the default, nothing of it happens (``test_with_collections_off_...`` below).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from ecom_pipeline.runner import run_sync
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_products, hub_variants, integrations
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.integration.push_world import TENANT, OpenPushWorld, ShopifyWorld, shopify_spec

SHOP = "collections-shopify"
HANDLES = ["mug", "cup"]
SKUS = ["MUG-1", "CUP-1"]
MUG = "mug,Mug,,active,simple,,Kitchen > Mugs;Gifts,MUG-1,,8.00,,USD,0.35,,"
CUP = "cup,Cup,,active,simple,,Kitchen > Mugs,CUP-1,,6.00,,USD,0.2,,"


class World(ShopifyWorld):
    def sync(self, *, full_refresh: bool = False) -> None:
        outcome = run_sync(TENANT, instance=self.instance, full_refresh=full_refresh)
        assert outcome.success, outcome.failure

    def categories(self, handle: str) -> list[str]:
        with shared_engine(self.url).connect() as conn:
            found = conn.execute(select(hub_products.c.categories).where(hub_products.c.handle == handle))
            return list(found.scalar_one() or [])

    def categories_of_shop_product(self, product_id: int) -> list[str]:
        """The hub categories of the hub product linked to a shop product."""
        with shared_engine(self.url).connect() as conn:
            hub_id = conn.execute(
                select(entity_links.c.hub_id).where(
                    entity_links.c.entity == "product", entity_links.c.external_id == str(product_id)
                )
            ).scalar_one()
            found = conn.execute(select(hub_products.c.categories).where(hub_products.c.id == hub_id))
            return list(found.scalar_one() or [])

    def collections_of(self, sku: str) -> list[tuple[str, bool]]:
        """(title, custom) of each shop collection the product carrying ``sku`` is in, by title."""
        product = self.product(sku)
        return sorted((c.title, c.rules is None) for c in self.shop.store.product_collections(product.id))

    def collection(self, title: str) -> Any:
        [found] = [c for c in self.shop.store.collections.values() if c.title == title]
        return found

    def quiet(self) -> None:
        """A push, a pull after it, and a push after that: nothing is written anywhere (no echo)."""
        self.clear()
        assert self.push() == 0
        assert self.mutations() == []
        before = self.hub_rows_of(HANDLES, SKUS)
        self.sync()
        assert self.hub_rows_of(HANDLES, SKUS) == before  # not even synced_at
        self.clear()
        assert self.push() == 0
        assert self.mutations() == []


def _integration_id(world: World) -> int:
    with shared_engine(world.url).connect() as conn:
        return int(conn.execute(select(integrations.c.id)).scalar_one())


@pytest.fixture
def world(open_push_world: OpenPushWorld) -> Iterator[World]:
    """The shop connected bidirectional with collections as categories turned on, as a merchant does."""
    spec = shopify_spec(SHOP, seed=19, products=3)
    with open_push_world(World, spec, direction="bidirectional") as world:
        assert world.cli("integration", "set", "--integration", str(_integration_id(world)),
                         "--shopify-collections", "on") == 0  # fmt: skip
        yield world


@pytest.fixture
def world_off(open_push_world: OpenPushWorld) -> Iterator[World]:
    """The shop connected bidirectional with the settings' defaults (collections off)."""
    spec = shopify_spec(SHOP, seed=19, products=3)
    with open_push_world(World, spec, direction="bidirectional") as world:
        yield world


@pytest.mark.parametrize("bulk", [False, True], ids=["paginated", "bulk"])
def test_with_collections_off_a_product_keeps_the_hub_categories_and_no_collection_is_written(
    world_off: World, bulk: bool
) -> None:
    """Prevents the upgrade hazard of an integration that never opted in: its products' custom collections
    (merchandising ones like "Summer Sale") must not become their hub categories on a pull (which a bidirectional
    shop would then carry to the tenant's other shops), and a push must neither create collections nor touch the
    products' membership (``productSet``'s ``collections`` replaces it)."""
    world = world_off
    world.sync()
    world.import_csv(MUG, CUP)
    world.clear()
    assert world.push() == 0
    assert world.mutations() == ["productSet", "productSet"]  # no collectionCreate, as before collections
    store = world.shop.store
    assert store.collections == {}
    mug = world.product("MUG-1")
    world.sandbox.clock.advance(60)
    sale, _ = store.create_collection("Summer Sale", product_ids=[mug.id])
    assert sale is not None
    store.update_product(mug.id, title="Mug (new)")  # the product is read again (membership moves no updatedAt)
    if bulk:
        with shared_engine(world.url).begin() as conn:
            settings = dict(conn.execute(select(integrations.c.settings)).scalar_one() or {})
            conn.execute(update(integrations).values(settings={**settings, "bulk": "always"}))
    world.clear()
    world.sync(full_refresh=bulk)
    assert ("bulkOperationRunQuery" in world.mutations()) == bulk
    with shared_engine(world.url).connect() as conn:  # the product was read and merged: its title edit came in
        assert conn.execute(select(hub_products.c.title).where(hub_products.c.handle == "mug")).scalar() == "Mug (new)"
    assert world.categories("mug") == ["Kitchen > Mugs", "Gifts"]
    assert world.categories("cup") == ["Kitchen > Mugs"]
    world.sandbox.clock.advance(60)
    world.set_hub("mug", categories=["Kitchen > Cups"])  # a hub move: still nothing for Shopify
    world.clear()
    assert world.push() == 0
    assert "collectionCreate" not in world.mutations()
    assert world.collections_of("MUG-1") == [("Summer Sale", True)]  # the merchandising collection stays
    assert world.collections_of("CUP-1") == []


@pytest.mark.parametrize("bulk", [False, True], ids=["paginated", "bulk"])
def test_a_pull_brings_custom_collections_in_as_categories_and_leaves_smart_ones_out(world: World, bulk: bool) -> None:
    """Prevents a Shopify product's categories staying empty (collections not read), smart collections (rule-based,
    which no push could write) being read as categories, and a product in no collection getting any; in pages and
    in a bulk operation alike. A second sync changes nothing and the push after it writes nothing."""
    store = world.shop.store
    first, second, _third = sorted(store.products)
    summer, _ = store.create_collection("Summer Sale", product_ids=[first, second])
    store.create_collection("Mugs", product_ids=[first])
    store.create_collection("Cheap", rules=[{"column": "VARIANT_PRICE", "relation": "LESS_THAN", "condition": "10"}],
                            product_ids=[first])  # fmt: skip
    assert summer is not None
    if bulk:
        with shared_engine(world.url).begin() as conn:
            settings = dict(conn.execute(select(integrations.c.settings)).scalar_one() or {})
            conn.execute(update(integrations).values(settings={**settings, "bulk": "always"}))
    world.clear()
    world.sync(full_refresh=bulk)
    assert ("bulkOperationRunQuery" in world.mutations()) == bulk
    assert world.categories_of_shop_product(first) == ["Mugs", "Summer Sale"]
    assert world.categories_of_shop_product(second) == ["Summer Sale"]
    assert world.categories_of_shop_product(_third) == []
    with shared_engine(world.url).connect() as conn:
        before = [tuple(r) for r in conn.execute(select(hub_products).order_by(hub_products.c.id))]
    world.sync()
    with shared_engine(world.url).connect() as conn:
        assert [tuple(r) for r in conn.execute(select(hub_products).order_by(hub_products.c.id))] == before
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []


def test_hub_categories_are_pushed_into_new_collections_moved_and_their_echo_changes_nothing(world: World) -> None:
    """Prevents a hub-categorised product landing in no collection on Shopify, a collection created twice, a
    category moved in the hub staying put in the shop, and the echo: the pull of our write must keep the hub's
    paths (``Kitchen > Mugs``, read back as the collection ``Mugs``) and the next push write nothing."""
    world.sync()
    world.import_csv(MUG, CUP)
    world.clear()
    assert world.push() == 0
    # One look-up of the shop's collections, each missing one created once, then the two products.
    assert world.mutations() == ["collectionCreate", "collectionCreate", "productSet", "productSet"]
    assert world.collections_of("MUG-1") == [("Gifts", True), ("Mugs", True)]
    assert world.collections_of("CUP-1") == [("Mugs", True)]
    assert world.categories("mug") == ["Kitchen > Mugs", "Gifts"]
    world.quiet()
    assert world.categories("mug") == ["Kitchen > Mugs", "Gifts"]  # the hub keeps its path

    world.sandbox.clock.advance(60)
    world.set_hub("mug", categories=["Kitchen > Cups"])  # moved in the hub: out of Mugs and Gifts, into Cups
    world.clear()
    assert world.push() == 0
    assert world.mutations() == ["collectionCreate", "productSet"]
    assert world.collections_of("MUG-1") == [("Cups", True)]
    assert world.collections_of("CUP-1") == [("Mugs", True)]  # the other product stays
    run = world.export_runs()[-1]
    assert (run.created, run.updated, run.failed) == (0, 1, 0)
    world.quiet()
    assert world.categories("mug") == ["Kitchen > Cups"]

    world.set_hub("mug", categories=["Mugs"])  # an existing collection: no create
    world.clear()
    assert world.push() == 0
    assert world.mutations() == ["productSet"]
    assert world.collections_of("MUG-1") == [("Mugs", True)]
    world.quiet()


def test_a_category_shopify_cannot_take_rejects_only_that_product(world: World) -> None:
    """Prevents a hub category that is a smart collection's title from failing the push or being created as a second
    collection of that title, and a collection Shopify refuses to create (a title over 255 characters) from failing
    the push: each such product is rejected with the reason, the other one is written."""
    world.sync()
    store = world.shop.store
    store.create_collection("Sale", rules=[{"column": "TAG", "relation": "EQUALS", "condition": "sale"}])
    long_leaf = "Kitchen > " + "x" * 300
    pot = f"pot,Pot,,active,simple,,{long_leaf},POT-1,,12.00,,USD,1.2,,"
    world.import_csv(MUG.replace("Kitchen > Mugs;Gifts", "Sale"), CUP, pot)
    world.clear()
    assert world.push() == 1
    assert world.product("MUG-1") is None and world.product("POT-1") is None
    assert world.collections_of("CUP-1") == [("Mugs", True)]
    reasons = {r.external_id: r.reason for r in world.rejected()}
    assert set(reasons) == {"MUG-1", "POT-1"}
    assert "smart (automated) collection" in reasons["MUG-1"]
    assert "Shopify refused the collection" in reasons["POT-1"] and "Title is too long" in reasons["POT-1"]
    assert [c.title for c in store.collections.values()].count("Sale") == 1


def test_a_shop_collection_change_comes_back_to_the_hub_keeping_its_paths(world: World) -> None:
    """Prevents a merchant's collection change in the Shopify admin being lost, pushed over, or flattening the
    hub's paths: the product put in Sale and taken out of Gifts reaches the hub (bidirectional) as
    ``Kitchen > Mugs``, ``Sale``, and the push after it writes nothing."""
    world.sync()
    world.import_csv(MUG, CUP)
    assert world.push() == 0
    store = world.shop.store
    mug = world.product("MUG-1")
    world.sandbox.clock.advance(60)
    sale, _ = store.create_collection("Sale")
    assert sale is not None
    store.add_to_collection(sale.id, mug.id)
    store.remove_from_collection(world.collection("Gifts").id, mug.id)
    # A membership change does not move the product's updatedAt (it is the collection's): the change is read when
    # the product is next read, here after an edit of it in the shop.
    store.update_product(mug.id, title="Mug (new)")
    world.sync()
    assert world.categories("mug") == ["Kitchen > Mugs", "Sale"]
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []
    assert world.collections_of("MUG-1") == [("Mugs", True), ("Sale", True)]


def test_a_products_update_webhook_keeps_the_hub_categories(world: World) -> None:
    """Prevents a products/update webhook (whose body carries no collections) from blanking or flipping the hub's
    categories: the product is re-read with its collections, so a title edit in the shop comes in and the
    categories stay ``Kitchen > Mugs``, ``Gifts``; the push after it writes nothing."""
    from ecom_pipeline.platforms.shopify.webhooks import connect_webhooks
    from ecom_pipeline.warehouse.credentials import CredentialCipher
    from ecom_pipeline.warehouse.schema import webhook_inbox
    from ecom_pipeline.webhooks.app import create_app
    from ecom_pipeline.webhooks.apply import apply_inbox
    from ecom_pipeline_tests.webhooks.conftest import ReceiverServer

    engine = shared_engine(world.url)
    cipher = CredentialCipher.from_env(world.tmp / "home")
    with engine.connect() as conn:
        integration_id = conn.execute(select(integrations.c.id)).scalar_one()
    world.sync()
    world.import_csv(MUG, CUP)
    assert world.push() == 0
    with ReceiverServer(create_app(engine=engine, cipher=cipher)) as receiver:
        connect_webhooks(
            engine, integration_id, receiver.url, cipher, webhook_secret=world.shop.credentials["client_secret"]
        )
        world.sandbox.clock.advance(60)
        world.shop.store.update_product(world.product("MUG-1").id, title="Mug (edited in Shopify)")
        hub = world.shop.extra["webhooks"]
        assert hub.settled(), "webhook deliveries still pending"
        with engine.connect() as conn:
            assert "products/update" in conn.execute(select(webhook_inbox.c.topic)).scalars().all()
        report = apply_inbox(engine, tenant_id=TENANT, run_id="hook", cipher=cipher)
        assert report.dead == 0 and report.retried == 0, report.errors
    with engine.connect() as conn:
        row = conn.execute(select(hub_products).where(hub_products.c.handle == "mug")).one()
    assert row.title == "Mug (edited in Shopify)"
    assert row.categories == ["Kitchen > Mugs", "Gifts"]
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []


def test_variants_added_and_removed_under_a_categorised_product_keep_its_categories_quiet(world: World) -> None:
    """Prevents a variant create or delete under a product in collections from storing a base without its categories
    (those answers are not productSet's): the pull after it would take the collections as a shop change."""
    tee_s = "tee,T-Shirt,,active,variable,,Clothing > Shirts,TEE-S,T-Shirt - S,19.90,,USD,0.2,Size=S,"
    tee_m = "tee,,,,,,,TEE-M,T-Shirt - M,19.90,,USD,0.2,Size=M,"
    handles, skus = ["tee"], ["TEE-S", "TEE-M"]
    world.sync()
    world.import_csv(tee_s)
    assert world.push() == 0
    for mutation in ("productVariantsBulkCreate", "productVariantsBulkDelete"):
        world.sandbox.clock.advance(60)
        if mutation == "productVariantsBulkCreate":
            world.import_csv(tee_s, tee_m)
        else:  # deleted in the hub
            with shared_engine(world.url).begin() as conn:
                conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-M").values(deleted_at=utcnow()))
        world.clear()
        assert world.push() == 0
        assert world.mutations() == [mutation]
        before = world.hub_rows_of(handles, skus)
        world.sync()
        assert world.hub_rows_of(handles, skus) == before, mutation  # not even synced_at
        world.clear()
        assert world.push() == 0
        assert world.mutations() == []
        assert world.categories("tee") == ["Clothing > Shirts"]
        assert world.collections_of("TEE-S") == [("Shirts", True)]


def test_variants_added_and_removed_while_collections_are_off_keep_the_bases_categories(world: World) -> None:
    """Prevents a variant create or delete while collections are off from resetting the product link's base
    categories to [] (those answers say nothing of collections): turned on again, the shop's collections would then
    differ from the base and be taken as the merchant's change, over a category edit made in the hub meanwhile."""
    tee_s = "tee,T-Shirt,,active,variable,,Clothing > Shirts,TEE-S,T-Shirt - S,19.90,,USD,0.2,Size=S,"
    tee_m = "tee,,,,,,,TEE-M,T-Shirt - M,19.90,,USD,0.2,Size=M,"
    world.sync()
    world.import_csv(tee_s)
    assert world.push() == 0
    product_id = world.product("TEE-S").id

    def base_categories() -> list[str]:
        with shared_engine(world.url).connect() as conn:
            base = conn.execute(
                select(entity_links.c.base_snapshot).where(
                    entity_links.c.entity == "product", entity_links.c.external_id == str(product_id)
                )
            ).scalar_one()
        return list(base["categories"])

    agreed = base_categories()
    assert agreed
    assert world.cli("integration", "set", "--integration", str(_integration_id(world)),
                     "--shopify-collections", "off") == 0  # fmt: skip
    for mutation in ("productVariantsBulkCreate", "productVariantsBulkDelete"):
        world.sandbox.clock.advance(60)
        if mutation == "productVariantsBulkCreate":
            world.import_csv(tee_s, tee_m)
        else:
            with shared_engine(world.url).begin() as conn:
                conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-M").values(deleted_at=utcnow()))
        world.clear()
        assert world.push() == 0
        assert world.mutations() == [mutation]
        assert base_categories() == agreed, mutation


def test_a_lost_collection_create_answer_does_not_make_a_second_collection(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents a duplicate collection (``Mugs`` and ``mugs-1``) when the answer to ``collectionCreate`` is lost on
    the way back (the shop made it): the HTTP layer resent every POST blindly. The writer sends it once, looks the
    collection up by title, finds it and uses it."""
    from ecom_pipeline.platforms.shopify.client import ShopifyClient

    execute = ShopifyClient.execute
    cut: list[str] = []

    def lose_the_first_collection_answer(self: Any, query: str, variables: Any = None, **kw: Any) -> dict[str, Any]:
        if kw.get("key") == "CollectionCreate" and not cut:
            cut.append(str(variables))
            world.shop.faults.cut_after_bytes = 5
            world.shop.faults.cut_responses = 1
        return execute(self, query, variables, **kw)

    monkeypatch.setattr(ShopifyClient, "execute", lose_the_first_collection_answer)
    world.import_csv(CUP)
    assert world.push() == 0
    assert cut and world.mutations() == ["collectionCreate", "productSet"]
    assert [c.title for c in world.shop.store.collections.values()].count("Mugs") == 1
    assert world.collections_of("CUP-1") == [("Mugs", True)]
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []
