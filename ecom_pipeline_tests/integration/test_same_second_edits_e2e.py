"""A shop edit made in the same second as our own write reaches the hub (issue 10, two-way sync).

Shops stamp a record's modification time in whole seconds (PrestaShop's ``date_upd``, WooCommerce's
``date_modified_gmt``, Shopify's ``updatedAt``). A merchant edit made after our push, within the second of its
write, leaves the record's time where our write put it; a pull that trusts the time ("the hub already holds this
version") skips it, and the edit never reaches the hub. Each test freezes the emulator's clock across the push and
the merchant's edit so that they share the second every time (not 1 run in 4), then pulls: the hub must have the
merchant's value, and the pull and push after it must write nothing (no echo, no ping-pong).

Real HTTP to the sandbox's emulators, a real warehouse, the real Dagster sync job.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from ecom_pipeline.runner import run_sync
from ecom_pipeline.sandbox.server import ShopSpec
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_products, hub_variants
from ecom_pipeline_tests.integration.push_world import (
    FIELDS_HEADER,
    TENANT,
    OpenPushWorld,
    PushWorld,
    ShopifyWorld,
    prestashop_spec,
    shopify_spec,
)

CATALOGUE = [
    "mug,Mug,<p>Stoneware</p>,active,simple,,,MUG-1,,8.00,,EUR,0.35,,",
    "cap,Cap,,active,simple,,,CAP-1,,15.00,,EUR,0.1,,",
]
HANDLES = ["mug", "cap"]
SKUS = ["MUG-1", "CAP-1"]


class World(PushWorld):
    def pull(self) -> None:
        outcome = run_sync(TENANT, instance=self.instance)
        assert outcome.success, outcome.failure

    def hub_title(self, handle: str) -> str:
        with shared_engine(self.url).connect() as conn:
            return str(conn.execute(select(hub_products.c.title).where(hub_products.c.handle == handle)).scalar_one())

    def hub_price(self, sku: str) -> Decimal:
        with shared_engine(self.url).connect() as conn:
            return Decimal(conn.execute(select(hub_variants.c.price).where(hub_variants.c.sku == sku)).scalar_one())

    def set_hub_price(self, sku: str, price: str) -> None:
        with shared_engine(self.url).begin() as conn:
            conn.execute(update(hub_variants).where(hub_variants.c.sku == sku).values(price=Decimal(price)))

    def catalogue_pushed_and_pulled(self) -> None:
        """The mug and the cap imported into the hub, pushed to the shop, and read back."""
        self.import_csv(*CATALOGUE)
        assert self.push() == 0
        self.pull()

    def catalogue_in_sync(self) -> None:
        """The catalogue pushed and read back, and a pull and push after that change nothing."""
        self.catalogue_pushed_and_pulled()
        self.quiet()

    def quiet(self) -> None:
        """A pull and a push after it: nothing changed in the hub, nothing written to the shop."""
        before = self.hub_rows_of(HANDLES, SKUS)
        self.pull()
        assert self.hub_rows_of(HANDLES, SKUS) == before
        self.shop.stats.reset()
        assert self.push() == 0
        assert self.writes() == 0


class PrestaWorld(World):
    def product_id(self, reference: str) -> int:
        [pid] = [p for p, row in self.shop.store.tables["products"].items() if row.get("reference") == reference]
        return int(pid)


class WooWorld(World):
    def product(self, sku: str) -> Any:
        [found] = [p for p in self.shop.store.products.values() if p.sku == sku]
        return found


class ShopWorld(ShopifyWorld, World):
    def writes(self) -> int:
        return len(self.mutations())

    def quiet(self) -> None:
        self.clear()
        World.quiet(self)


@pytest.fixture
def woo(open_push_world: OpenPushWorld) -> Iterator[WooWorld]:
    spec = ShopSpec(name="same-second-woo", seed=11, products=2, variable_share=0.0, orders=0, customers=0)
    with open_push_world(WooWorld, spec, direction="bidirectional") as world:
        yield world


@pytest.fixture
def shopify(open_push_world: OpenPushWorld) -> Iterator[ShopWorld]:
    spec = shopify_spec("same-second-shopify", seed=7, products=2, variable_share=0.0)
    with open_push_world(ShopWorld, spec, direction="bidirectional") as world:
        yield world


@pytest.fixture
def presta(open_push_world: OpenPushWorld) -> Iterator[PrestaWorld]:
    spec = prestashop_spec("same-second-presta", languages=["en", "fr"])
    with open_push_world(PrestaWorld, spec, direction="bidirectional") as world:
        yield world


@contextmanager
def _frozen(world: World) -> Iterator[None]:
    """Freeze the emulator's clock (our writes and the merchant's edit then share one second), for a ``with``."""
    world.sandbox.clock.freeze()
    try:
        yield
    finally:
        world.sandbox.clock.unfreeze()


def test_prestashop_edit_in_the_second_of_our_push_reaches_the_hub(presta: PrestaWorld) -> None:
    """Prevents a merchant's back-office edit made in the second of our push's PUT (same ``date_upd``) from being
    taken for the echo of our write and never pulled (data loss)."""
    world = presta
    world.catalogue_in_sync()

    store = world.shop.store
    pid = world.product_id("MUG-1")
    with _frozen(world):
        world.set_hub_price("MUG-1", "9.50")
        world.set_hub_price("CAP-1", "15.50")
        world.shop.stats.reset()
        assert world.push() == 0
        assert world.shop.stats.count(method="PUT", path_prefix="/api/products") == 2
        cap = world.product_id("CAP-1")
        written = (store.product(pid)["date_upd"], store.product(cap)["date_upd"])
        # The merchant renames the mug in English (the French name kept) and changes the cap's price, same second.
        store.update_product(pid, name=store.translated("Stoneware mug", "Mug"))
        store.update_product(cap, price="16.50")
        assert (store.product(pid)["date_upd"], store.product(cap)["date_upd"]) == written
    world.pull()
    assert world.hub_title("mug") == "Stoneware mug"
    assert world.hub_price("MUG-1") == Decimal("9.50")  # our own write, read back: kept
    assert world.hub_price("CAP-1") == Decimal("16.50")
    world.quiet()


def test_woocommerce_edit_in_the_second_of_our_push_reaches_the_hub(woo: WooWorld) -> None:
    """Prevents a WooCommerce edit made in the second of our push's batch write (same ``date_modified_gmt``) from
    being taken for the echo of our write and never pulled."""
    world = woo
    world.catalogue_in_sync()

    store = world.shop.store
    with _frozen(world):
        world.set_hub_price("MUG-1", "9.50")
        world.set_hub_price("CAP-1", "15.50")
        assert world.push() == 0
        mug, cap = world.product("MUG-1"), world.product("CAP-1")
        assert (mug.regular_price, cap.regular_price) == ("9.50", "15.50")
        written = (mug.modified, cap.modified)
        store.update_product(mug.id, {"name": "Stoneware mug"})
        store.update_product(cap.id, {"regular_price": "16.50"})
        assert (world.product("MUG-1").modified, world.product("CAP-1").modified) == written
    world.pull()
    assert world.hub_title("mug") == "Stoneware mug"
    assert world.hub_price("MUG-1") == Decimal("9.50")
    assert world.hub_price("CAP-1") == Decimal("16.50")
    world.quiet()


def test_shopify_edit_in_the_second_of_our_push_reaches_the_hub(shopify: ShopWorld) -> None:
    """Prevents a Shopify admin edit made in the second of our push's mutation (same ``updatedAt``) from being
    taken for the echo of our write and never pulled."""
    world = shopify
    world.catalogue_in_sync()

    store = world.shop.store
    with _frozen(world):
        world.set_hub_price("MUG-1", "9.50")
        world.clear()
        assert world.push() == 0
        assert world.mutations()
        mug = world.product("MUG-1")
        written = mug.updated_at
        store.update_product(mug.id, title="Stoneware mug")
        assert world.product("MUG-1").updated_at == written
    world.pull()
    assert world.hub_title("mug") == "Stoneware mug"
    assert world.hub_price("MUG-1") == Decimal("9.50")
    world.quiet()


def test_prestashop_combination_barcode_and_price_impact_bases_are_what_the_shop_stores(presta: PrestaWorld) -> None:
    """Prevents a combination's link base (barcode, price) differing from what the shop stores after a push (the
    next poll would rewrite the hub or the next push write again), and a merchant's change of a combination's
    ean13 or price impact (which does not move the product's ``date_upd``) from not reaching the hub. Done in the
    second of our push too (the clock frozen): the combination edits must still be taken."""
    world = presta
    skus = ["TEE-S", "TEE-M"]
    world.import_csv(
        "tee,T-Shirt,,active,variable,,,TEE-S,T-Shirt - S,19.90,,EUR,0.2,Size=S,,,4006381333931",
        "tee,,,,,,,TEE-M,T-Shirt - M,21.00,,EUR,0.2,Size=M,,,96385074",
        header=FIELDS_HEADER,
    )
    assert world.push() == 0
    world.shop.stats.reset()
    before = world.hub_rows_of(["tee"], skus)
    world.pull()
    assert world.hub_rows_of(["tee"], skus) == before  # the bases are what the pull reads: nothing rewritten
    assert world.push() == 0
    assert world.writes() == 0

    store = world.shop.store
    [tee] = [p for p, r in store.tables["products"].items() if store.text(r["name"]) == "T-Shirt"]
    combos = {str(store.tables["combinations"][c]["reference"]): c for c in store.combinations_of.get(tee, [])}
    with _frozen(world):
        world.set_hub_price("TEE-S", "18.90")
        world.shop.stats.reset()
        assert world.push() == 0
        assert world.writes() == 1
        date_upd = store.product(tee)["date_upd"]
        with store.lock:  # the merchant edits the combinations in the back office: no date moves
            store.tables["combinations"][combos["TEE-M"]]["ean13"] = "4006381333948"
            impact = Decimal(store.tables["combinations"][combos["TEE-M"]]["price"])
            store.tables["combinations"][combos["TEE-M"]]["price"] = f"{impact + Decimal('1.25'):.6f}"
        assert store.product(tee)["date_upd"] == date_upd
    world.pull()
    with shared_engine(world.url).connect() as conn:
        rows = {r.sku: r for r in conn.execute(select(hub_variants).where(hub_variants.c.sku.in_(skus)))}
    assert rows["TEE-M"].barcode == "4006381333948"
    assert Decimal(rows["TEE-M"].price) == Decimal("22.25")  # 21.00 + 1.25 (no tax on this product)
    assert Decimal(rows["TEE-S"].price) == Decimal("18.90")  # our own write: kept
    before = world.hub_rows_of(["tee"], skus)
    world.pull()
    assert world.hub_rows_of(["tee"], skus) == before
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_a_woocommerce_order_paid_in_the_second_a_poll_read_it_reaches_the_hub(woo: WooWorld) -> None:
    """Prevents an order change made in the second a poll read the order (created pending, paid within the same
    second: a checkout does both) from being skipped as "the hub holds this version" (same ``date_modified_gmt``)
    and never pulled: the hub would keep the order pending for good."""
    from ecom_pipeline.warehouse.schema import hub_orders

    world = woo
    world.catalogue_pushed_and_pulled()
    store = world.shop.store
    with _frozen(world):
        order = store.add_order({"line_items": [{"product_id": world.product("MUG-1").id, "quantity": 1}]})
        world.pull()  # reads the order in its own second: pending
        with shared_engine(world.url).connect() as conn:
            assert conn.execute(select(hub_orders.c.status)).scalar_one() == "pending"
        read_in = order.modified
        store.update_order(order.id, {"status": "processing"})
        assert store.get_order(order.id).modified == read_in  # the same second
        world.pull()
    with shared_engine(world.url).connect() as conn:
        assert conn.execute(select(hub_orders.c.status)).scalar_one() == "processing"
