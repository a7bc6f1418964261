"""Categories across three bidirectional shops (Shopify, WooCommerce, PrestaShop) and the hub (issue 10).

Real HTTP to the sandbox's emulators, a real warehouse (SQLite, or PostgreSQL with CI=true), the real Dagster sync
job (pull, merge, push), the real CLI and the real webhook receiver and inbox apply. Two defects this prevents:

- turning a Shopify shop's ``shopify_collections`` off after it was on: with it off a Shopify reading carries no
  categories (no collection is read), unknown rather than empty; before, the merge took the reading's ``[]``
  against the base's categories for the merchant removing them all, and the next sync emptied the hub's;
- a shop category whose own name holds the path separator (WooCommerce's "Kids > 3 years", one category): before,
  the hub read it as the path Kids, 3 years and pushed it so (a category "3 years" under "Kids" elsewhere). Now a
  ``>`` in a name is escaped in the hub's path, ``Kids \\> 3 years`` (``sync.category_paths``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from ecom_pipeline.runner import run_sync
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_products, integrations, rejected_records, sync_conflicts
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.integration.category_worlds import (
    presta_category_paths,
    woo_category_paths,
    woo_category_steps,
    woo_rest,
)
from ecom_pipeline_tests.integration.push_world import CATALOGUE_HEADER, TENANT
from ecom_pipeline_tests.integration.three_shops import ShopNames, ThreeShopsWorld, three_shops

SHOPS = ShopNames(shopify="off-shopify", woo="off-woo", presta="off-presta")
SHOPIFY, WOO, PRESTA = SHOPS
CATALOGUE = [
    "mug,Mug,,active,simple,,Kitchen > Mugs;Gifts,MUG-1,,8.00,,EUR,,,",
    "cap,Cap,,active,simple,,Hats,CAP-1,,15.00,,EUR,,,",
]
MUG_CATEGORIES = ["Kitchen > Mugs", "Gifts"]


class World(ThreeShopsWorld):
    """The three shops with where each files a product, the Shopify collections switch and the hub's records."""

    def mutations(self) -> list[str]:
        return [r for kind, roots in self.shop(SHOPIFY).api.operations if kind == "mutation" for r in roots]

    def shopify_id(self) -> int:
        with shared_engine(self.url).connect() as conn:
            found = conn.execute(select(integrations.c.id).where(integrations.c.platform == "shopify"))
            return int(found.scalar_one())

    def collections(self, on: bool) -> None:
        argv = ["integration", "set", "--integration", str(self.shopify_id()), "--shopify-collections"]
        assert self.cli(*argv, "on" if on else "off") == 0

    def set_hub_title(self, handle: str, title: str) -> None:
        with shared_engine(self.url).begin() as conn:
            conn.execute(
                update(hub_products).where(hub_products.c.handle == handle).values(title=title, synced_at=utcnow())
            )

    def shopify_product(self, sku: str) -> Any:
        store = self.shop(SHOPIFY).store
        [found] = [store.products[v.product_id] for v in store.variants.values() if v.sku == sku]
        return found

    def shopify_collections_of(self, sku: str) -> list[str]:
        store = self.shop(SHOPIFY).store
        return sorted(c.title for c in store.product_collections(self.shopify_product(sku).id))

    def shopify_base_categories(self, sku: str) -> list[str]:
        """The categories of the Shopify product link's base (what was last agreed with the shop)."""
        with shared_engine(self.url).connect() as conn:
            base = conn.execute(
                select(entity_links.c.base_snapshot).where(
                    entity_links.c.integration_id == self.shopify_id(),
                    entity_links.c.entity == "product",
                    entity_links.c.external_id == str(self.shopify_product(sku).id),
                )
            ).scalar_one()
        return sorted(base["categories"])

    def woo_paths(self, sku: str) -> list[str]:
        """The WooCommerce product's categories as paths, from the shop's own terms."""
        return woo_category_paths(self.shop(WOO), sku)

    def presta_paths(self, reference: str) -> list[str]:
        """The PrestaShop product's categories as paths from home (English names)."""
        return presta_category_paths(self.shop(PRESTA), reference)

    def woo_rest(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """A merchant's edit through WooCommerce's REST API (real HTTPS)."""
        return woo_rest(self.sandbox, self.shop(WOO), method, path, body)

    def woo_steps(self, sku: str) -> list[tuple[str, ...]]:
        """The WooCommerce product's categories, each as the names of its steps from the top level (unescaped)."""
        return woo_category_steps(self.shop(WOO), sku, unescape=True)

    def presta_category_names(self) -> list[str]:
        store = self.shop(PRESTA).store
        return sorted(store.text(r["name"], 1) for r in store.tables["categories"].values())

    def rejections(self, platform: str) -> list[Any]:
        with shared_engine(self.url).connect() as conn:
            found = conn.execute(
                select(rejected_records).where(
                    rejected_records.c.platform == platform, rejected_records.c.resolved_at.is_(None)
                )
            )
            return found.all()

    def conflicts(self) -> list[Any]:
        with shared_engine(self.url).connect() as conn:
            return conn.execute(select(sync_conflicts)).all()

    def shelves(self) -> tuple[list[str], list[str], list[str]]:
        """Where the mug is filed: hub categories, WooCommerce paths, PrestaShop paths."""
        return list(self.hub_product("mug").categories), self.woo_paths("MUG-1"), self.presta_paths("MUG-1")


@pytest.fixture
def world(warehouse_url: str, dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The three shops connected bidirectional, Shopify with collections on, the catalogue imported and pushed
    everywhere (the mug in the Shopify collections Mugs and Gifts), and a cycle after that writes nothing."""
    env = three_shops(
        World, SHOPS, warehouse_url=warehouse_url, dagster_home=dagster_home, tmp_path=tmp_path, monkeypatch=monkeypatch
    )
    with env as world:
        world.collections(on=True)
        world.import_csv(*CATALOGUE)
        world.cycle()
        assert world.cycle() == {SHOPIFY: 0, WOO: 0, PRESTA: 0}
        assert world.shopify_collections_of("MUG-1") == ["Gifts", "Mugs"]
        assert world.shopify_base_categories("MUG-1") == ["Gifts", "Mugs"]
        assert world.shelves() == (MUG_CATEGORIES, ["Gifts", "Kitchen > Mugs"], ["Gifts", "Kitchen > Mugs"])
        yield world


def test_turning_collections_off_keeps_the_hub_categories_through_pulls_and_pushes(world: World) -> None:
    """Prevents the data loss of turning ``shopify_collections`` off: a Shopify edit of the mug pulled afterwards
    must bring its title and leave the hub's categories (and so WooCommerce's and PrestaShop's) as they were, with
    no conflict row; a hub edit pushed to Shopify (no collection written) and its echo must not either; the link's
    base keeps the categories last agreed, so turning collections on again changes nothing."""
    world.collections(on=False)
    assert world.cycle() == {SHOPIFY: 0, WOO: 0, PRESTA: 0}  # the setting alone reads and writes nothing

    # A merchant's edit in Shopify: the product is read again, without its collections.
    store = world.shop(SHOPIFY).store
    store.update_product(world.shopify_product("MUG-1").id, title="Mug (Shopify)")
    world.sandbox.clock.advance(60)
    writes = world.cycle()
    assert world.hub_product("mug").title == "Mug (Shopify)"
    assert world.shelves() == (MUG_CATEGORIES, ["Gifts", "Kitchen > Mugs"], ["Gifts", "Kitchen > Mugs"])
    assert writes[SHOPIFY] == 0 and writes[WOO] > 0 and writes[PRESTA] > 0  # the title, nothing else
    assert world.shopify_base_categories("MUG-1") == ["Gifts", "Mugs"]
    assert world.conflicts() == []
    assert world.cycle() == {SHOPIFY: 0, WOO: 0, PRESTA: 0}

    # A hub edit pushed to Shopify while off: productSet without collections; its echo is quiet.
    world.set_hub_title("mug", "Mug (hub)")
    writes = world.cycle()
    assert world.mutations() == ["productSet"]
    assert writes[WOO] > 0 and writes[PRESTA] > 0
    assert world.shopify_collections_of("MUG-1") == ["Gifts", "Mugs"]  # membership untouched
    assert world.shopify_base_categories("MUG-1") == ["Gifts", "Mugs"]
    before = world.hub_product("mug")
    assert world.cycle() == {SHOPIFY: 0, WOO: 0, PRESTA: 0}
    assert world.hub_product("mug") == before  # not even synced_at: the echo is no change
    assert world.shelves() == (MUG_CATEGORIES, ["Gifts", "Kitchen > Mugs"], ["Gifts", "Kitchen > Mugs"])

    # On again: the shop's collections are read back as the base has them, so nothing moves anywhere.
    world.collections(on=True)
    store.update_product(world.shopify_product("MUG-1").id, title="Mug (on again)")
    world.sandbox.clock.advance(60)
    world.cycle()
    assert "collectionCreate" not in world.mutations() and "productSet" not in world.mutations()
    assert world.hub_product("mug").title == "Mug (on again)"
    assert world.shelves() == (MUG_CATEGORIES, ["Gifts", "Kitchen > Mugs"], ["Gifts", "Kitchen > Mugs"])
    assert world.cycle() == {SHOPIFY: 0, WOO: 0, PRESTA: 0}
    assert world.conflicts() == []


def test_a_products_update_webhook_while_collections_are_off_keeps_the_hub_categories(world: World) -> None:
    """Prevents the webhook path of the same loss: a products/update delivery applied while collections are off is
    re-read without collections, and must bring the title in, keep the hub's categories and the base's, record no
    conflict, and make the next cycle write the title to the other shops and nothing to their categories."""
    from ecom_pipeline.platforms.shopify.webhooks import connect_webhooks
    from ecom_pipeline.warehouse.credentials import CredentialCipher
    from ecom_pipeline.warehouse.schema import webhook_inbox
    from ecom_pipeline.webhooks.app import create_app
    from ecom_pipeline.webhooks.apply import apply_inbox
    from ecom_pipeline_tests.webhooks.conftest import ReceiverServer

    world.collections(on=False)
    engine = shared_engine(world.url)
    cipher = CredentialCipher.from_env(world.tmp / "home")
    shopify = world.shop(SHOPIFY)
    with ReceiverServer(create_app(engine=engine, cipher=cipher)) as receiver:
        connect_webhooks(
            engine, world.shopify_id(), receiver.url, cipher, webhook_secret=shopify.credentials["client_secret"]
        )
        world.sandbox.clock.advance(60)
        shopify.store.update_product(world.shopify_product("MUG-1").id, title="Mug (webhook)")
        hub = shopify.extra["webhooks"]
        assert hub.settled(), "webhook deliveries still pending"
        with engine.connect() as conn:
            assert "products/update" in conn.execute(select(webhook_inbox.c.topic)).scalars().all()
        report = apply_inbox(engine, tenant_id=TENANT, run_id="hook", cipher=cipher)
        assert report.dead == 0 and report.retried == 0, report.errors
    assert world.hub_product("mug").title == "Mug (webhook)"
    assert list(world.hub_product("mug").categories) == MUG_CATEGORIES
    assert world.shopify_base_categories("MUG-1") == ["Gifts", "Mugs"]
    assert world.conflicts() == []
    writes = world.cycle()
    assert writes[SHOPIFY] == 0 and writes[WOO] > 0 and writes[PRESTA] > 0
    assert world.shelves() == (MUG_CATEGORIES, ["Gifts", "Kitchen > Mugs"], ["Gifts", "Kitchen > Mugs"])
    assert world.cycle() == {SHOPIFY: 0, WOO: 0, PRESTA: 0}


def test_a_shop_category_named_with_the_separator_stays_one_category_both_ways(world: World) -> None:
    """Prevents a WooCommerce category whose own name is "Kids > 3 years" (one level) from reaching the hub as the
    path Kids, 3 years and the other shops as a category "3 years" under "Kids" (PrestaShop), or the collection
    "3 years" (Shopify): the hub holds ``Kids \\> 3 years``; Shopify gets the collection "Kids > 3 years" and
    reads it back as the hub's name; PrestaShop, which refuses ``>`` in a category name (isCatalogName), rejects
    that product instead of filing it wrongly; a nested path (``Clothing > Shirts``) works as before. A hub
    category with an escaped name (a catalogue import) is pushed to WooCommerce as one category under its parent,
    and the catalogue export writes it as the import reads it."""
    kids = world.woo_rest("POST", "products/categories", {"name": "Kids > 3 years"})
    clothing = world.woo_rest("POST", "products/categories", {"name": "Clothing"})
    shirts = world.woo_rest("POST", "products/categories", {"name": "Shirts", "parent": clothing["id"]})
    body = {"name": "Romper", "sku": "ROMPER-1", "regular_price": "12.00",
            "categories": [{"id": kids["id"]}, {"id": shirts["id"]}]}  # fmt: skip
    world.woo_rest("POST", "products", body)
    world.sandbox.clock.advance(60)
    presta_before = world.presta_category_names()

    world.cycle()
    assert sorted(world.hub_product("romper").categories) == ["Clothing > Shirts", "Kids \\> 3 years"]
    assert world.shopify_collections_of("ROMPER-1") == ["Kids > 3 years", "Shirts"]
    assert world.woo_steps("ROMPER-1") == [("Clothing", "Shirts"), ("Kids > 3 years",)]
    # PrestaShop: nothing named "Kids" or "3 years" (no wrong nesting); the product is refused with the reason.
    assert world.presta_category_names() == presta_before
    [refused] = world.rejections("prestashop")
    assert "Kids > 3 years" in refused.reason, refused.reason
    # The pull of our Shopify write reads the collection title back as the hub's name: nothing moves.
    before = world.hub_product("romper")
    writes = world.cycle()
    assert (writes[SHOPIFY], writes[WOO]) == (0, 0), writes
    assert world.hub_product("romper") == before

    # From the hub: an escaped name under a parent, imported from a catalogue file.
    kite = "kite,Kite,,active,simple,,Outdoor > Toys \\> Games,KITE-1,,9.00,,EUR,,,"
    path = world.tmp / "kite.csv"
    path.write_text(f"{CATALOGUE_HEADER}\n{kite}\n", encoding="utf-8")
    assert world.cli("catalog", "import", str(path), "--tenant", TENANT) == 0
    world.cycle()
    assert world.woo_steps("KITE-1") == [("Outdoor", "Toys > Games")]
    assert world.shopify_collections_of("KITE-1") == ["Toys > Games"]
    assert list(world.hub_product("kite").categories) == ["Outdoor > Toys \\> Games"]
    writes = world.cycle()
    assert (writes[SHOPIFY], writes[WOO]) == (0, 0), writes
    assert list(world.hub_product("kite").categories) == ["Outdoor > Toys \\> Games"]
    exported = world.tmp / "export.csv"
    assert world.cli("catalog", "export", "--tenant", TENANT, str(exported)) == 0
    assert "Outdoor > Toys \\> Games" in exported.read_text(encoding="utf-8")


def test_a_pull_shopify_shop_with_collections_off_keeps_the_hub_categories(world: World) -> None:
    """Prevents the same loss on a ``pull`` shop (its values overwrite the hub's, no merge): with collections off,
    a Shopify edit pulled must bring the title and leave the hub's categories as they were, not write ``[]``."""
    argv = ["integration", "set", "--integration", str(world.shopify_id()), "--direction", "pull"]
    assert world.cli(*argv) == 0
    world.collections(on=False)
    world.shop(SHOPIFY).store.update_product(world.shopify_product("MUG-1").id, title="Mug (pulled)")
    world.sandbox.clock.advance(60)
    world.cycle()
    assert world.hub_product("mug").title == "Mug (pulled)"
    assert world.shelves() == (MUG_CATEGORIES, ["Gifts", "Kitchen > Mugs"], ["Gifts", "Kitchen > Mugs"])
    assert world.conflicts() == []


def test_a_reading_without_collections_applied_after_they_were_turned_on_keeps_the_hub_categories(
    world: World,
) -> None:
    """Prevents the loss when the setting changes between read and apply: a Shopify product read while collections
    were off (no categories read) and applied after they were turned on must not empty the hub's categories. The
    reading itself says what it did not read (``CanonicalProduct.unread``), not the settings at apply time."""
    import threading

    from ecom_pipeline.warehouse.locks import tenant_lock

    world.collections(on=False)
    world.shop(SHOPIFY).store.update_product(world.shopify_product("MUG-1").id, title="Mug (read while off)")
    world.sandbox.clock.advance(60)
    world.reset()
    outcome: list[Any] = []
    with tenant_lock(shared_engine(world.url), TENANT, purpose="a test holding the apply"):
        sync = threading.Thread(target=lambda: outcome.append(run_sync(TENANT, instance=world.instance)))
        sync.start()  # its extracts read without collections, then its hub steps wait for the lock
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _staged_title(world, "Mug (read while off)"):
            time.sleep(0.2)
        world.collections(on=True)
    sync.join(timeout=300)
    assert outcome and outcome[0].success, outcome and outcome[0].failure
    assert world.hub_product("mug").title == "Mug (read while off)"
    assert list(world.hub_product("mug").categories) == MUG_CATEGORIES
    assert world.conflicts() == []


def _staged_title(world: World, title: str) -> bool:
    """Whether a Shopify product reading with this title is staged (the extract of the running sync is done)."""
    from sqlalchemy import String, cast

    from ecom_pipeline.warehouse.schema import staging_records

    with shared_engine(world.url).connect() as conn:
        found = conn.execute(
            select(staging_records.c.id).where(
                staging_records.c.entity == "product", cast(staging_records.c.payload, String).contains(title)
            )
        ).first()
    return found is not None
