"""Three bidirectional shops (Shopify, WooCommerce, PrestaShop) and the hub, over real HTTP, on a real warehouse,
through the real Dagster sync job (issue 10): no ping-pong, and the variant set merged both ways.

A cycle is one ``run_sync`` of the tenant: every shop is pulled, the hub resolves (the three-way merge), then each
platform's export pushes. Writes are counted from the emulators themselves (REST: POST/PUT/PATCH/DELETE;
Shopify: executed mutations), per cycle. Merchant edits go through each emulator's back-office operations, which
move the record's modification time as the real admin does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.runner import run_sync
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.sandbox.shopify.oauth import DEFAULT_SCOPES
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_products, hub_variants, sync_conflicts
from ecom_pipeline.warehouse.types import utcnow

TENANT = "acme"
SHOPIFY, WOO, PRESTA = "tri-shopify", "tri-woo", "tri-presta"
HEADER = (
    "handle,title,description,status,product_type,tags,categories,sku,variant_title,price,compare_at_price,"
    "currency,weight,options,position"
)
# Every shop lists every product: the T-Shirt's sizes are WooCommerce attributes, Shopify options and PrestaShop
# attribute values (created by name by the PrestaShop writer).
CATALOGUE = [
    "mug,Mug,,active,simple,,,MUG-1,,8.00,,EUR,,,",
    "cap,Cap,,active,simple,,,CAP-1,,15.00,,EUR,,,",
    "tee,T-Shirt,,active,variable,,,TEE-S,,19.90,,EUR,,Size=S,1",
    "tee,,,,,,,TEE-M,,19.90,,EUR,,Size=M,2",
    "tee,,,,,,,TEE-L,,21.00,,EUR,,Size=L,3",
]
REST_WRITES = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class World:
    url: str
    sandbox: SandboxServer
    instance: dg.DagsterInstance
    tmp: Path
    counts: list[dict[str, int]] = field(default_factory=list)

    def cli(self, *argv: str) -> int:
        return cli_main(["--warehouse-url", self.url, *argv])

    def shop(self, name: str) -> Any:
        return self.sandbox.shop(name)

    def reset(self) -> None:
        for name in (WOO, PRESTA):
            self.shop(name).stats.reset()
        self.shop(SHOPIFY).api.operations.clear()

    def writes(self) -> dict[str, int]:
        """Write calls per shop since the last ``reset``."""
        out = {name: sum(self.shop(name).stats.count(method=m) for m in REST_WRITES) for name in (WOO, PRESTA)}
        ops = self.shop(SHOPIFY).api.operations
        out[SHOPIFY] = sum(len(roots) for kind, roots in ops if kind == "mutation")
        return out

    def cycle(self) -> dict[str, int]:
        """One sync of the tenant (pull, merge, push); its writes per shop, recorded in ``counts``."""
        self.reset()
        outcome = run_sync(TENANT, instance=self.instance)
        assert outcome.success, outcome.failure
        self.sandbox.clock.advance(60)
        writes = self.writes()
        self.counts.append(writes)
        return writes

    def hub_variant(self, sku: str) -> Any:
        with shared_engine(self.url).connect() as conn:
            return conn.execute(select(hub_variants).where(hub_variants.c.sku == sku)).one()

    def hub_product(self, handle: str) -> Any:
        with shared_engine(self.url).connect() as conn:
            return conn.execute(select(hub_products).where(hub_products.c.handle == handle)).one()

    # -- what each shop has --------------------------------------------------------------------------------------

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
    monkeypatch.setenv("ECOM_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("ECOM_PIPELINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECOM_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    empty = {"products": 0, "orders": 0, "customers": 0}
    specs = [
        ShopSpec(name=SHOPIFY, seed=3, platform="shopify", options={"scopes": [*DEFAULT_SCOPES, "write_products"]},
                 **empty),
        ShopSpec(name=WOO, seed=4, **empty),
        ShopSpec(name=PRESTA, seed=5, platform="prestashop", options={"languages": ["en"]}, **empty),
    ]  # fmt: skip
    with SandboxServer(shops=specs, cert_dir=tmp_path / "certs") as sb:
        instance = dg.DagsterInstance.from_config(str(dagster_home))
        try:
            world = World(warehouse_url, sb, instance, tmp_path)
            both = ("--timeout", "5", "--direction", "bidirectional")
            shopify = sb.shop(SHOPIFY)
            monkeypatch.setenv("ECOM_SHOPIFY_ACCESS_TOKEN", shopify.credentials["access_token"])
            assert world.cli("connect", "shopify", "--tenant", TENANT, "--url", shopify.http_url, *both) == 0
            woo = sb.shop(WOO)
            argv = ["connect", "woocommerce", "--tenant", TENANT, "--url", woo.http_url]
            argv += ["--consumer-key", woo.consumer_key, "--consumer-secret", woo.consumer_secret]
            assert world.cli(*argv, *both) == 0
            presta = sb.shop(PRESTA)
            monkeypatch.setenv("ECOM_PRESTASHOP_API_KEY", presta.credentials["api_key"])
            assert world.cli("connect", "prestashop", "--tenant", TENANT, "--url", presta.http_url, *both) == 0
            path = tmp_path / "catalogue.csv"
            path.write_text("\n".join([HEADER, *CATALOGUE]) + "\n", encoding="utf-8")
            assert world.cli("catalog", "import", str(path), "--tenant", TENANT) == 0
            yield world
        finally:
            instance.dispose()


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
