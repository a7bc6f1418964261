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
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from ecom_pipeline.runner import run_sync
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_products, hub_variants
from ecom_pipeline_tests.integration.push_world import TENANT, OpenPushWorld, PushWorld, prestashop_spec

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


@pytest.fixture
def presta(open_push_world: OpenPushWorld) -> Iterator[PrestaWorld]:
    spec = prestashop_spec("same-second-presta", languages=["en", "fr"])
    with open_push_world(PrestaWorld, spec, direction="bidirectional") as world:
        yield world


def _frozen(world: World) -> Any:
    """Freeze the emulator's clock (our writes and the merchant's edit then share one second), for a ``with``."""

    class Frozen:
        def __enter__(self) -> None:
            world.sandbox.clock.freeze()

        def __exit__(self, *exc: object) -> None:
            world.sandbox.clock.unfreeze()

    return Frozen()


def test_prestashop_edit_in_the_second_of_our_push_reaches_the_hub(presta: PrestaWorld) -> None:
    """Prevents a merchant's back-office edit made in the second of our push's PUT (same ``date_upd``) from being
    taken for the echo of our write and never pulled (data loss)."""
    world = presta
    world.import_csv(*CATALOGUE)
    assert world.push() == 0
    world.pull()
    world.quiet()

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
