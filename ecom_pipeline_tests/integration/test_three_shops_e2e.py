"""Three bidirectional shops (Shopify, WooCommerce, PrestaShop) and the hub, over real HTTP, on a real warehouse,
through the real Dagster sync job (issue 10): no ping-pong, and the variant set merged both ways.

A cycle is one ``run_sync`` of the tenant: every shop is pulled, the hub resolves (the three-way merge), then each
platform's export pushes. Writes are counted from the emulators themselves (REST: POST/PUT/PATCH/DELETE;
Shopify: executed mutations), per cycle. Merchant edits go through each emulator's back-office operations, which
move the record's modification time as the real admin does.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_variants, sync_conflicts
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.integration.three_shops import ShopNames, ThreeShopsWorld, three_shops

SHOPS = ShopNames(shopify="tri-shopify", woo="tri-woo", presta="tri-presta")
SHOPIFY, WOO, PRESTA = SHOPS
# Every shop lists every product: the T-Shirt's sizes are WooCommerce attributes, Shopify options and PrestaShop
# attribute values (created by name by the PrestaShop writer).
CATALOGUE = [
    "mug,Mug,,active,simple,,,MUG-1,,8.00,,EUR,,,",
    "cap,Cap,,active,simple,,,CAP-1,,15.00,,EUR,,,",
    "tee,T-Shirt,,active,variable,,,TEE-S,,19.90,,EUR,,Size=S,1",
    "tee,,,,,,,TEE-M,,19.90,,EUR,,Size=M,2",
    "tee,,,,,,,TEE-L,,21.00,,EUR,,Size=L,3",
]


class World(ThreeShopsWorld):
    """The three shops with what each has of the catalogue."""

    def shopify_skus(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for v in self.shop(SHOPIFY).store.variants.values():
            found[v.sku] = found.get(v.sku, 0) + 1
        return found

    def woo_skus(self) -> dict[str, int]:
        store = self.shop(WOO).store
        found: dict[str, int] = {}
        for record in [*store.products.values(), *store.variations.values()]:
            if record.sku and getattr(record, "status", "publish") != "trash":
                found[record.sku] = found.get(record.sku, 0) + 1
        return found

    def presta_references(self) -> dict[str, int]:
        """References of products and combinations: a duplicate shows as 2."""
        found: dict[str, int] = {}
        tables = self.shop(PRESTA).store.tables
        for row in [*tables["products"].values(), *tables["combinations"].values()]:
            if row.get("reference"):
                found[str(row["reference"])] = found.get(str(row["reference"]), 0) + 1
        return found


@pytest.fixture
def world(warehouse_url: str, dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The three shops connected bidirectional and the catalogue imported into the hub."""
    env = three_shops(
        World, SHOPS, warehouse_url=warehouse_url, dagster_home=dagster_home, tmp_path=tmp_path, monkeypatch=monkeypatch
    )
    with env as world:
        world.import_csv(*CATALOGUE)
        yield world


def test_three_bidirectional_shops_fall_to_zero_writes_then_again_after_an_edit_in_each_shop(world: World) -> None:
    """Prevents ping-pong across shops: after the creates, each cycle's pull of our own writes must write nothing,
    and an edit made in each shop must reach the hub and the two other shops once, then nothing more."""
    first = [world.cycle() for _ in range(3)]
    assert first[0][SHOPIFY] > 0 and first[0][WOO] > 0 and first[0][PRESTA] > 0
    assert first[1:] == [{SHOPIFY: 0, WOO: 0, PRESTA: 0}] * 2, world.counts
    assert world.shopify_skus() == {"MUG-1": 1, "CAP-1": 1, "TEE-S": 1, "TEE-M": 1, "TEE-L": 1}
    assert world.woo_skus() == {"MUG-1": 1, "CAP-1": 1, "TEE-S": 1, "TEE-M": 1, "TEE-L": 1}
    assert world.presta_references() == {"MUG-1": 1, "CAP-1": 1, "TEE-S": 1, "TEE-M": 1, "TEE-L": 1}

    # An edit in each shop: the mug's price in Shopify, the cap's title in WooCommerce, the mug's title in
    # PrestaShop (two shops edit one product, different fields: both reach everywhere).
    shopify = world.shop(SHOPIFY).store
    [mug_variant] = [v for v in shopify.variants.values() if v.sku == "MUG-1"]
    shopify.update_variant_price(mug_variant.id, "9.50")
    woo = world.shop(WOO).store
    [cap] = [p for p in woo.products.values() if p.sku == "CAP-1"]
    woo.update_product(cap.id, {"name": "Wool cap"})
    presta = world.shop(PRESTA).store
    [mug_row] = [pid for pid, r in presta.tables["products"].items() if r.get("reference") == "MUG-1"]
    presta.update_product(mug_row, name=presta.translated("Stoneware mug"))
    world.sandbox.clock.advance(60)

    second = [world.cycle() for _ in range(3)]
    assert second[0][SHOPIFY] > 0 and second[0][WOO] > 0 and second[0][PRESTA] > 0
    assert second[1:] == [{SHOPIFY: 0, WOO: 0, PRESTA: 0}] * 2, world.counts
    assert world.hub_variant("MUG-1").price == Decimal("9.50")
    assert world.hub_product("cap").title == "Wool cap"
    assert world.hub_product("mug").title == "Stoneware mug"
    assert [p.title for p in shopify.products.values() if p.handle == "cap"] == ["Wool cap"]
    [woo_mug] = [p for p in woo.products.values() if p.sku == "MUG-1"]
    assert (woo_mug.name, woo_mug.regular_price) == ("Stoneware mug", "9.50")
    print(f"\nwrites per cycle (shopify, woocommerce, prestashop): {world.counts}")


def test_a_variant_deleted_in_the_hub_or_in_one_shop_leaves_every_shop_once(world: World) -> None:
    """Prevents a deleted variant from staying on sale: deleted in the hub, it is removed from each shop
    (productVariantsBulkDelete, a variations batch delete, DELETE combinations); removed in one bidirectional shop,
    it leaves the hub and then the two other shops. Each is written once, then the cycles write nothing."""
    world.cycle()
    assert world.cycle() == {SHOPIFY: 0, WOO: 0, PRESTA: 0}

    with shared_engine(world.url).begin() as conn:
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-L").values(deleted_at=utcnow()))
    removed = world.cycle()
    assert (removed[SHOPIFY], removed[WOO], removed[PRESTA]) == (1, 1, 1)
    assert [r for kind, roots in world.shop(SHOPIFY).api.operations if kind == "mutation" for r in roots] == [
        "productVariantsBulkDelete"
    ]
    assert "TEE-L" not in world.shopify_skus() and "TEE-L" not in world.woo_skus()
    assert "TEE-L" not in world.presta_references()
    assert world.cycle() == {SHOPIFY: 0, WOO: 0, PRESTA: 0}

    # A merchant removes the M size in WooCommerce: it leaves the hub, then Shopify.
    woo = world.shop(WOO).store
    [tee_m] = [v for v in woo.variations.values() if v.sku == "TEE-M"]
    woo.delete_variation(tee_m.parent_id, tee_m.id)
    world.sandbox.clock.advance(60)
    gone = world.cycle()
    assert world.hub_variant("TEE-M").deleted_at is not None
    assert (gone[SHOPIFY], gone[WOO], gone[PRESTA]) == (1, 0, 1)
    assert world.shopify_skus() == {"MUG-1": 1, "CAP-1": 1, "TEE-S": 1}
    assert world.woo_skus() == {"MUG-1": 1, "CAP-1": 1, "TEE-S": 1}
    assert world.presta_references() == {"MUG-1": 1, "CAP-1": 1, "TEE-S": 1}
    assert world.cycle() == {SHOPIFY: 0, WOO: 0, PRESTA: 0}
    with shared_engine(world.url).connect() as conn:
        assert conn.execute(select(sync_conflicts)).all() == []
        live = conn.execute(
            select(entity_links.c.sku).where(entity_links.c.entity == "variant", entity_links.c.deleted_at.is_(None))
        ).scalars()
        assert sorted(live) == sorted(["MUG-1", "CAP-1", "TEE-S"] * 3)
