"""Nested category paths the same both ways (issue 10): a hub move is pushed, a webhook reads what the poll reads.

Real emulators over HTTP (WooCommerce and PrestaShop), a real warehouse (SQLite, or PostgreSQL with CI=true), the
real CLI push, the real Dagster sync job and the real webhook receiver and inbox apply. Before:

- the push compared categories by their leaf, so a hub move of ``A > Mugs`` to ``B > Mugs`` was never pushed;
- a WooCommerce product webhook names its categories without parents, so a pull-only shop's delivery wrote the
  leaf ``Mugs`` over the poll's ``Kitchen > Mugs`` (and the next poll the path again): a hub change each time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import select, update

from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_products, integrations
from ecom_pipeline_tests.integration.category_worlds import (
    PrestaWorld,
    WooWorld,
    presta_category_paths,
    woo_category_paths,
)
from ecom_pipeline_tests.integration.push_world import TENANT, OpenPushWorld, PushWorld
from ecom_pipeline_tests.pipeline_env import set_pipeline_env

MUG = "mug,Mug,,active,simple,,A > Mugs,MUG-1,,8.00,,EUR,0.3,,"


def _legacy_base(world: PushWorld) -> None:
    """Make every product link's base name its categories by their leaf only, as links written before the pull
    read paths do (the hash is left alone: only the push reads the base's categories)."""
    engine = shared_engine(world.url)
    with engine.begin() as conn:
        rows = conn.execute(select(entity_links).where(entity_links.c.entity == "product")).all()
        for row in rows:
            base = dict(row.base_snapshot or {})
            base["categories"] = [str(c).split(">")[-1].strip() for c in base.get("categories") or []]
            conn.execute(update(entity_links).where(entity_links.c.id == row.id).values(base_snapshot=base))


def _hub_categories(world: PushWorld, handle: str) -> list[str]:
    with shared_engine(world.url).connect() as conn:
        return list(conn.execute(select(hub_products.c.categories).where(hub_products.c.handle == handle)).scalar_one())


# -- a hub move pushed: WooCommerce ------------------------------------------------------------------------------


@pytest.fixture
def woo(open_push_world: OpenPushWorld) -> Iterator[WooWorld]:
    spec = ShopSpec(name="woo-move", seed=13, products=2, variable_share=0.0, orders=0, customers=0)
    with open_push_world(WooWorld, spec, direction="bidirectional") as world:
        yield world


def test_woocommerce_hub_move_of_a_nested_category_is_pushed_and_its_echo_is_quiet(woo: WooWorld) -> None:
    """Prevents a hub move ``A > Mugs`` -> ``B > Mugs`` from staying in the hub (the push compared leaves), and the
    upgrade from pushing every product whose link base names its category by the leaf only."""
    woo.import_csv(MUG)
    assert woo.push() == 0
    woo.pull()
    assert _hub_categories(woo, "mug") == ["A > Mugs"]
    woo.quiet(["mug"], ["MUG-1"])

    woo.set_hub("mug", categories=["B > Mugs"])
    woo.shop.stats.reset()
    assert woo.push() == 0
    assert woo.writes() > 0
    assert woo_category_paths(woo.shop, "MUG-1") == ["B > Mugs"]  # Mugs created under a new top-level B, A's Mugs left
    assert _hub_categories(woo, "mug") == ["B > Mugs"]
    woo.quiet(["mug"], ["MUG-1"])
    assert _hub_categories(woo, "mug") == ["B > Mugs"]

    # Links written before the pull read paths name the leaf only: they agree with the hub's path (no push).
    _legacy_base(woo)
    woo.shop.stats.reset()
    assert woo.push() == 0
    assert woo.writes() == 0


# -- a hub move pushed: PrestaShop -------------------------------------------------------------------------------


@pytest.fixture
def presta(open_push_world: OpenPushWorld) -> Iterator[PrestaWorld]:
    spec = ShopSpec(
        name="presta-move", seed=7, products=2, variable_share=0.0, orders=0, customers=0, platform="prestashop"
    )
    with open_push_world(PrestaWorld, spec, direction="bidirectional") as world:
        yield world


def test_prestashop_hub_move_of_a_nested_category_is_pushed_and_its_echo_is_quiet(presta: PrestaWorld) -> None:
    """Prevents a hub move ``A > Mugs`` -> ``B > Mugs`` from staying in the hub (the push compared leaves), and the
    upgrade from pushing every product whose link base names its category by the leaf only."""
    presta.import_csv(MUG)
    assert presta.push() == 0
    presta.pull()
    assert _hub_categories(presta, "mug") == ["A > Mugs"]
    presta.quiet(["mug"], ["MUG-1"])

    presta.set_hub("mug", categories=["B > Mugs"])
    presta.shop.stats.reset()
    assert presta.push() == 0
    assert presta.writes() > 0
    assert presta_category_paths(presta.shop, "MUG-1") == ["B > Mugs"]
    assert _hub_categories(presta, "mug") == ["B > Mugs"]
    presta.quiet(["mug"], ["MUG-1"])
    assert _hub_categories(presta, "mug") == ["B > Mugs"]

    # Links written before the pull read paths name the leaf only: they agree with the hub's path (no push).
    _legacy_base(presta)
    presta.shop.stats.reset()
    assert presta.push() == 0
    assert presta.writes() == 0


# -- a webhook reads what the poll reads ---------------------------------------------------------------------------

PULL_SHOP, PUSH_SHOP = "woo-pull", "woo-push"


@pytest.fixture
def two_shops(
    warehouse_url: str, dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[WooWorld, WooWorld]]:
    """A pull-only WooCommerce shop (the catalogue's source) and a push WooCommerce shop the hub feeds."""
    set_pipeline_env(monkeypatch, warehouse_url=warehouse_url, home=tmp_path / "home", dagster_home=dagster_home)
    specs = [
        ShopSpec(name=PULL_SHOP, seed=21, products=2, variable_share=0.0, orders=0, customers=0),
        ShopSpec(name=PUSH_SHOP, seed=22, products=0, variable_share=0.0, orders=0, customers=0),
    ]
    with SandboxServer(shops=specs, cert_dir=tmp_path / "certs") as sb:
        instance = dg.DagsterInstance.from_config(str(dagster_home))
        try:
            source = WooWorld(warehouse_url, sb, instance, tmp_path, PULL_SHOP)
            target = WooWorld(warehouse_url, sb, instance, tmp_path, PUSH_SHOP)
            source.connect("pull")
            target.connect("push")
            yield source, target
        finally:
            instance.dispose()


def test_a_webhook_of_an_unchanged_product_reads_its_nested_category_as_the_poll_does(
    two_shops: tuple[WooWorld, WooWorld],
) -> None:
    """Prevents the flip-flop of a pull-only WooCommerce shop's nested category: the poll read ``Kitchen > Mugs``,
    a product webhook (categories as ``{id, name, slug}``, no parents) read ``Mugs``: each was a hub change. Also
    that the category tree is read once per apply batch, not once per delivery."""
    from ecom_pipeline.platforms.woocommerce.webhooks import connect_webhooks
    from ecom_pipeline.warehouse.credentials import CredentialCipher
    from ecom_pipeline.webhooks.app import create_app
    from ecom_pipeline.webhooks.apply import apply_inbox
    from ecom_pipeline_tests.webhooks.conftest import ReceiverServer

    source, target = two_shops
    kitchen = source.rest("POST", "products/categories", {"name": "Kitchen"})
    mugs = source.rest("POST", "products/categories", {"name": "Mugs", "parent": kitchen["id"]})
    products = sorted(int(p.id) for p in source.shop.store.products.values())
    for pid in products:
        source.rest("PUT", f"products/{pid}", {"categories": [{"id": mugs["id"]}]})
    skus = sorted(str(p.sku) for p in source.shop.store.products.values())
    source.pull()
    with shared_engine(source.url).connect() as conn:
        hub = conn.execute(select(hub_products.c.handle, hub_products.c.categories)).all()
    assert sorted(tuple(r.categories) for r in hub) == [("Kitchen > Mugs",), ("Kitchen > Mugs",)]
    handles = [r.handle for r in hub]
    assert target.push() == 0
    target.shop.stats.reset()
    assert target.push() == 0
    assert target.writes() == 0
    before = source.hub_rows_of(handles, skus)

    engine = shared_engine(source.url)
    cipher = CredentialCipher.from_env(source.tmp / "home")
    with engine.connect() as conn:
        pull_id = conn.execute(select(integrations.c.id).where(integrations.c.base_url == source.shop.http_url))
        integration_id = int(pull_id.scalar_one())
    with ReceiverServer(create_app(engine=engine, cipher=cipher)) as receiver:
        connect_webhooks(engine, integration_id, receiver.url, cipher)
        hooks = source.shop.extra["webhooks"]
        for pid in products:  # a save that changes nothing (WooCommerce sends product.updated all the same)
            hooks.on_change("product", "updated", pid)
        assert hooks.flush(10)
    source.shop.stats.reset()
    report = apply_inbox(engine, tenant_id=TENANT, run_id="webhooks-1", cipher=cipher)
    assert (report.applied, report.retried, report.dead) == (2, 0, 0), report.errors
    assert source.hub_rows_of(handles, skus) == before  # no hub change: the path, as the poll read it
    assert source.shop.stats.count(method="GET", path_prefix="/wp-json/wc/v3/products/categories") == 1
    target.shop.stats.reset()
    assert target.push() == 0
    assert target.writes() == 0
    source.pull()
    assert source.hub_rows_of(handles, skus) == before
