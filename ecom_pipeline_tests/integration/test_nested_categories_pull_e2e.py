"""Nested categories read back by the pull as the hub writes them, ``Parent > Child`` (issue 10).

A ``bidirectional`` shop on each of WooCommerce and PrestaShop, over real HTTP to the sandbox's emulators, a real
warehouse and the real Dagster sync job. The push files a hub ``Clothing > Shirts`` as Shirts under Clothing; the
pull used to read it back as ``Shirts`` (WooCommerce products name their categories without parents; PrestaShop's
context held names only), so a category the merchant added in the shop, or a product created there, flattened the
hub's path (and the other shops then got a top-level ``Shirts``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ecom_pipeline.sandbox.server import ShopSpec
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_products
from ecom_pipeline_tests.integration.category_worlds import PrestaWorld, WooWorld
from ecom_pipeline_tests.integration.push_world import OpenPushWorld

TEE = "tee,T-Shirt,,active,simple,,Clothing > Shirts,TEE-1,,20.00,,EUR,0.2,,"


# -- WooCommerce ---------------------------------------------------------------------------------------------------


@pytest.fixture
def woo(open_push_world: OpenPushWorld) -> Iterator[WooWorld]:
    spec = ShopSpec(name="woo-nested", seed=11, products=2, variable_share=0.0, orders=0, customers=0)
    with open_push_world(WooWorld, spec, direction="bidirectional") as world:
        yield world


def test_woocommerce_nested_category_comes_back_as_its_path(woo: WooWorld) -> None:
    """Prevents the pull reading a pushed ``Clothing > Shirts`` as ``Shirts``: a category the merchant adds in the
    shop must keep the hub's path for the other one, a product created in the shop under Clothing > Shirts must
    reach the hub with its path, and none of it may make the next push or pull write."""
    woo.import_csv(TEE)
    assert woo.push() == 0
    woo.pull()
    assert woo.hub_categories("tee") == ["Clothing > Shirts"]
    woo.quiet(["tee"], ["TEE-1"])

    sale = woo.rest("POST", "products/categories", {"name": "Sale"})
    tee = woo.product_id("TEE-1")
    shirts = [c["id"] for c in woo.rest("GET", f"products/{tee}")["categories"]]
    woo.rest("PUT", f"products/{tee}", {"categories": [{"id": i} for i in [*shirts, sale["id"]]]})
    woo.pull()
    assert woo.hub_categories("tee") == ["Clothing > Shirts", "Sale"]
    woo.quiet(["tee"], ["TEE-1"])

    body = {"name": "Polo", "sku": "POLO-1", "regular_price": "25.00", "categories": [{"id": shirts[0]}]}
    woo.rest("POST", "products", body)
    woo.pull()
    with shared_engine(woo.url).connect() as conn:
        [polo] = conn.execute(select(hub_products.c.categories).where(hub_products.c.title == "Polo")).all()
    assert polo.categories == ["Clothing > Shirts"]


# -- PrestaShop ----------------------------------------------------------------------------------------------------


@pytest.fixture
def presta(open_push_world: OpenPushWorld) -> Iterator[PrestaWorld]:
    spec = ShopSpec(
        name="presta-nested", seed=5, products=2, variable_share=0.0, orders=0, customers=0, platform="prestashop"
    )
    with open_push_world(PrestaWorld, spec, direction="bidirectional") as world:
        yield world


def test_prestashop_nested_category_comes_back_as_its_path(presta: PrestaWorld) -> None:
    """Prevents the pull reading a pushed ``Clothing > Shirts`` as ``Shirts``: a category the merchant adds in the
    back office keeps the hub's path for the other one, a move to another nested category arrives as its path,
    and none of it makes the next push or pull write."""
    presta.import_csv(TEE)
    assert presta.push() == 0
    presta.pull()
    assert presta.hub_categories("tee") == ["Clothing > Shirts"]
    presta.quiet(["tee"], ["TEE-1"])

    store = presta.shop.store
    shirts = str(store.product_categories[presta.product_id("TEE-1")][0])
    sale = presta.category("Sale", "2")
    presta.set_categories("TEE-1", [shirts, sale])
    presta.pull()
    assert presta.hub_categories("tee") == ["Clothing > Shirts", "Sale"]
    presta.quiet(["tee"], ["TEE-1"])

    clothing = str(store.tables["categories"][int(shirts)]["id_parent"])
    polos = presta.category("Polos", clothing)
    presta.set_categories("TEE-1", [polos])
    presta.pull()
    assert presta.hub_categories("tee") == ["Clothing > Polos"]
    presta.quiet(["tee"], ["TEE-1"])
