"""End to end for PrestaShop: connect through the CLI, sync through Dagster, against the emulated webservice."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.runner import run_sync
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import (
    hub_customers,
    hub_inventory,
    hub_orders,
    hub_products,
    hub_variants,
    integrations,
    rejected_records,
)
from ecom_pipeline_tests.integration.conftest import OpenTenant, count
from ecom_pipeline_tests.pipeline_env import set_pipeline_env

SHOP = "presta"
TENANT = "initech"


@pytest.fixture
def presta(open_tenant: OpenTenant) -> Iterator[tuple[SandboxServer, dg.DagsterInstance]]:
    spec = ShopSpec(name=SHOP, seed=3, products=25, variable_share=0.5, orders=40, customers=12, platform="prestashop")
    with open_tenant(spec, tenant=TENANT, secret_env={"ECOM_PRESTASHOP_API_KEY": "api_key"}) as connected:
        yield connected


def test_prestashop_tenant_syncs_products_stock_orders_and_customers_without_rejections(
    presta: tuple[SandboxServer, dg.DagsterInstance], warehouse_url: str
) -> None:
    """Prevents a PrestaShop shop from connecting fine and then syncing nothing (or rejecting every order)."""
    sandbox, instance = presta
    store = sandbox.shop(SHOP).store
    outcome = run_sync(TENANT, instance=instance)
    assert outcome.success, outcome.failure
    assert count(warehouse_url, rejected_records) == 0
    assert count(warehouse_url, hub_products) == len(store.tables["products"])
    assert count(warehouse_url, hub_orders) == len(store.tables["orders"])
    assert count(warehouse_url, hub_customers) == len(store.tables["customers"])
    assert count(warehouse_url, hub_inventory) > 0

    # A stock change moves no date in PrestaShop: the next incremental sync must still see it.
    pid = next(iter(store.tables["products"]))
    combos = store.combinations_of.get(pid) or []
    store.set_stock(pid, 4242, combos[0] if combos else 0)
    outcome = run_sync(TENANT, instance=instance)
    assert outcome.success, outcome.failure
    with shared_engine(warehouse_url).connect() as conn:
        quantities = conn.execute(select(hub_inventory.c.available)).scalars().all()
    assert 4242 in quantities

    # A product deleted in the shop becomes a tombstone, not a silent leftover.
    store.delete_product(pid)
    outcome = run_sync(TENANT, instance=instance)
    assert outcome.success, outcome.failure
    assert count(warehouse_url, hub_products, hub_products.c.deleted_at.is_not(None)) == 1


# --- a two-language shop (English default, French), connected with --language fr ------------------------------


@pytest.fixture
def bilingual(
    warehouse_url: str, dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SandboxServer, dg.DagsterInstance]]:
    """Like the recorded prestashop-8.2.1-multilang store; the integration reads it in French."""
    set_pipeline_env(monkeypatch, warehouse_url=warehouse_url, home=tmp_path / "home", dagster_home=dagster_home)
    spec = ShopSpec(
        name=SHOP,
        seed=5,
        products=20,
        variable_share=0.5,
        orders=25,
        customers=10,
        platform="prestashop",
        options={"languages": ["en", "fr"]},
    )
    with SandboxServer(shops=[spec], cert_dir=tmp_path / "certs") as sb:
        instance = dg.DagsterInstance.from_config(str(dagster_home))
        try:
            shop = sb.shop(SHOP)
            monkeypatch.setenv("ECOM_PRESTASHOP_API_KEY", shop.credentials["api_key"])
            argv = ["--warehouse-url", warehouse_url, "connect", "prestashop", "--tenant", TENANT]
            assert cli_main([*argv, "--url", shop.http_url, "--timeout", "5", "--language", "fr"]) == 0
            yield sb, instance
        finally:
            instance.dispose()


def _rows(warehouse_url: str, table: Any) -> list[Any]:
    with shared_engine(warehouse_url).connect() as conn:
        return list(conn.execute(select(table)).mappings())


def test_two_language_shop_values_are_read_in_the_integration_language(
    bilingual: tuple[SandboxServer, dg.DagsterInstance], warehouse_url: str
) -> None:
    """Prevents "[{'id': '1', 'value': ...}]" order statuses, English names on a French integration, category
    ids, tax-excluded prices shown as selling prices, orders without e-mail and customers without address data."""
    sandbox, instance = bilingual
    store = sandbox.shop(SHOP).store
    (integration,) = _rows(warehouse_url, integrations)
    assert (integration["settings"]["language_id"], integration["settings"]["language"]) == (2, "fr")
    # A real default state whose name is longer than 32 characters ("Awaiting Cash On Delivery validation").
    store.change_order_state(min(store.tables["orders"]), 13)
    outcome = run_sync(TENANT, instance=instance)
    assert outcome.success, outcome.failure
    assert count(warehouse_url, rejected_records) == 0

    state_names = {store.text(s["name"], 2) for s in store.tables["order_states"].values()}
    orders = _rows(warehouse_url, hub_orders)
    assert orders and all(o["status"] in state_names for o in orders), {o["status"] for o in orders}
    assert "Awaiting Cash On Delivery validation" in {o["status"] for o in orders}
    emails = {c["email"] for c in store.tables["customers"].values()}
    assert all(o["email"] in emails for o in orders)

    products = _rows(warehouse_url, hub_products)
    assert products and all(p["title"].endswith(" FR") for p in products)
    french_categories = {store.text(c["name"], 2) for c in store.tables["categories"].values()}
    # A nested category is its path from home (issue 10), every step in French.
    steps = {step for p in products for c in p["categories"] for step in c.split(" > ")}
    assert all(p["categories"] for p in products) and steps <= french_categories, steps - french_categories
    assert any(" > " in c for p in products for c in p["categories"])
    assert any("Accueil" in p["categories"] for p in products)  # "Home" in French

    variants = _rows(warehouse_url, hub_variants)
    assert variants and all(v["price_includes_tax"] is True for v in variants)
    for variant in variants:  # 20 % VAT; both prices are rounded to cents by the shop, hence the cent of slack
        if variant["compare_at_price"] is None:
            assert abs(variant["price"] - variant["price_tax_excl"] * Decimal("1.2")) <= Decimal("0.01"), variant
    reduced = [v for v in variants if v["compare_at_price"] is not None]
    assert reduced and all(v["price"] < v["compare_at_price"] for v in reduced)  # the seeded 20 % reductions

    customers = _rows(warehouse_url, hub_customers)
    assert customers and all(c["city"] and c["phone"] and c["country"] in {"FR", "BE", "DE", "US"} for c in customers)


def test_stock_row_left_by_a_deleted_product_is_not_rejected_on_full_refresh(
    bilingual: tuple[SandboxServer, dg.DagsterInstance], warehouse_url: str
) -> None:
    """Prevents the orphan stock row PrestaShop leaves for a deleted product from being rejected with "sync
    products first" on every full refresh."""
    sandbox, instance = bilingual
    store = sandbox.shop(SHOP).store
    assert run_sync(TENANT, instance=instance).success
    pid = next(p for p, combos in sorted(store.combinations_of.items()) if combos)
    store.delete_product(pid)
    assert [r["id_product"] for r in store.tables["stock_availables"].values()].count(str(pid)) == 1
    for _ in range(2):
        outcome = run_sync(TENANT, instance=instance, full_refresh=True)
        assert outcome.success, outcome.failure
    assert count(warehouse_url, rejected_records) == 0
    assert count(warehouse_url, hub_products, hub_products.c.deleted_at.is_not(None)) == 1


def test_connect_names_a_missing_api_rewrite(tmp_path: Path, warehouse_url: str, capsys: Any, monkeypatch: Any) -> None:
    """Prevents "the record was deleted in the shop" when the web server does not route /api/ to the webservice."""
    monkeypatch.setenv("ECOM_PIPELINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECOM_SECRET_KEY", Fernet.generate_key().decode())
    spec = ShopSpec(name=SHOP, products=3, orders=1, customers=1, platform="prestashop", options={"api_rewrite": False})
    with SandboxServer(shops=[spec], cert_dir=tmp_path / "certs") as sb:
        shop = sb.shop(SHOP)
        monkeypatch.setenv("ECOM_PRESTASHOP_API_KEY", shop.credentials["api_key"])
        argv = ["--warehouse-url", warehouse_url, "connect", "prestashop", "--tenant", TENANT, "--url", shop.http_url]
        assert cli_main([*argv, "--timeout", "5"]) != 0
    err = capsys.readouterr().err
    assert "the /api rewrite is missing" in err and "friendly URLs" in err and "deleted" not in err
    assert count(warehouse_url, integrations) == 0
