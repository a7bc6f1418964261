"""A platform is its folder plus one registration: a toy platform from the test tree reaches every surface.

The toy (``ecom_pipeline_tests/toy_platform``) is registered with one ``register()`` call and nothing else; if any
module still kept its own list of platform names (the CLI's connect commands, the sandbox's emulators, the Dagster
assets, the receiver's routes, signature checks and secret keys, the inbox's header rules), the toy would be
missing there and this test would fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal

import dagster as dg
import pytest
import requests
from sqlalchemy import Engine, select

from ecom_pipeline.assets import extract_assets, hub_assets
from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.partitions import TENANTS_PARTITION_NAME
from ecom_pipeline.platforms.registry import (
    ENV_PROVIDERS,
    PlatformRegistrationError,
    PlatformSpec,
    platforms,
    register,
    unregister,
)
from ecom_pipeline.resources import CredentialStoreResource, ShopClientSettings, WarehouseResource
from ecom_pipeline.sandbox.server import ShopSpec
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import default_home, shared_engine
from ecom_pipeline.warehouse.schema import hub_variants, webhook_inbox
from ecom_pipeline.webhooks.app import create_app
from ecom_pipeline.webhooks.apply import apply_inbox
from ecom_pipeline_tests.integration.conftest import OpenTenant
from ecom_pipeline_tests.toy_platform.deliveries import sign
from ecom_pipeline_tests.toy_platform.spec import platform_spec
from ecom_pipeline_tests.webhooks.conftest import ReceiverServer

TENANT = "toyco"
SHOP = "toys"


@pytest.fixture
def toy() -> Iterator[PlatformSpec]:
    """The toy's one registration (undone afterwards, so other tests see the package's platforms only)."""
    spec = register(platform_spec())
    try:
        yield spec
    finally:
        unregister(spec.name)


@pytest.fixture
def engine(warehouse_url: str) -> Iterator[Engine]:
    """The warehouse's shared engine, its pooled connections closed after the test (the database outlives it)."""
    shared = shared_engine(warehouse_url)
    yield shared
    shared.dispose()


def test_a_platform_registered_once_shows_in_the_cli_sandbox_dagster_assets_and_receiver(
    toy: PlatformSpec,
    engine: Engine,
    warehouse_url: str,
    open_tenant: OpenTenant,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Prevents a platform from needing edits outside its folder (a name list the registry does not feed)."""
    # The CLI: `connect toyshop` exists, with the toy's own arguments.
    with pytest.raises(SystemExit) as help_exit:
        cli_main(["connect", "toyshop", "--help"])
    assert help_exit.value.code == 0
    assert "--token" in capsys.readouterr().out

    # The sandbox serves the toy's emulator, and `ecom-pipeline connect toyshop` checks its token against it.
    spec = ShopSpec(name=SHOP, seed=1, products=5, platform="toyshop")
    secrets = {"ECOM_TOY_TOKEN": "token", "ECOM_TOY_WEBHOOK_SECRET": "webhook_secret"}
    with open_tenant(spec, tenant=TENANT, secret_env=secrets) as (sandbox, instance):
        with engine.connect() as conn:
            (integration,) = store.list_integrations(conn, tenant_id=TENANT)
        assert integration.platform == "toyshop"

        # Dagster: the toy's extract asset exists, feeds hub/products, and a run brings its products to the hub.
        toy_key = dg.AssetKey(["toyshop", "products"])
        extract = next(a for a in extract_assets() if toy_key in a.keys)
        hub_products = next(a for a in hub_assets() if dg.AssetKey(["hub", "products"]) in a.keys)
        assert toy_key in hub_products.asset_deps[dg.AssetKey(["hub", "products"])]
        instance.add_dynamic_partitions(TENANTS_PARTITION_NAME, [TENANT])
        result = dg.materialize(
            [extract, hub_products],
            instance=instance,
            partition_key=TENANT,
            resources={
                "warehouse": WarehouseResource(),
                "credentials": CredentialStoreResource(),
                "shop_clients": ShopClientSettings(),
            },
        )
        assert result.success
        with engine.connect() as conn:
            prices = {r.sku: r.price for r in conn.execute(select(hub_variants.c.sku, hub_variants.c.price))}
        assert prices == {f"TOY-{i}": 9 + i for i in range(1, 6)}

        # The receiver: /webhooks/toyshop/<id> checks the toy's own signature and stores the delivery.
        cipher = CredentialCipher.from_env(default_home())
        secret = sandbox.shop(SHOP).credentials["webhook_secret"]
        body = (
            b'{"id": 1, "title": "Toy 1", "sku": "TOY-1", "price": "99.50", "updated_at": "2030-01-01T00:00:00+00:00"}'
        )
        with ReceiverServer(create_app(engine=engine, cipher=cipher)) as receiver:
            url = f"{receiver.url}/webhooks/toyshop/{integration.id}"
            topic = {"X-Toy-Topic": "product.updated"}
            forged = requests.post(url, data=body, headers={**topic, "X-Toy-Signature": sign("wrong", body)}, timeout=5)
            assert forged.status_code == 401, forged.text
            sent = requests.post(url, data=body, headers={**topic, "X-Toy-Signature": sign(secret, body)}, timeout=5)
            assert sent.status_code == 200, sent.text
            # Its own route only: the generic route would skip the toy's checks.
            generic = requests.post(f"{receiver.url}/webhooks/generic/{integration.id}", data=body, timeout=5)
            assert generic.status_code == 404
        with engine.connect() as conn:
            stored = conn.execute(select(webhook_inbox.c.topic, webhook_inbox.c.headers)).one()
        assert stored.topic == "product.updated"
        assert "x-toy-topic" in stored.headers  # the inbox keeps the toy's headers too
        report = apply_inbox(engine, tenant_id=TENANT, run_id=None, cipher=cipher)
        assert report.applied == 1, report.errors
        with engine.connect() as conn:
            price = conn.execute(select(hub_variants.c.price).where(hub_variants.c.sku == "TOY-1")).scalar_one()
        assert price == Decimal("99.50")


def test_a_platform_registered_twice_or_under_a_reserved_name_is_refused_loudly(toy: PlatformSpec) -> None:
    """Prevents a second registration from silently replacing a platform (or taking the receiver's generic route)."""
    with pytest.raises(PlatformRegistrationError, match="registered already"):
        register(platform_spec())
    from dataclasses import replace

    with pytest.raises(PlatformRegistrationError, match="generic"):
        register(replace(toy, name="generic"))
    assert "toyshop" in platforms()


def _cli(*argv: str, providers: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, ENV_PROVIDERS: providers}
    return subprocess.run(
        [sys.executable, "-m", "ecom_pipeline.cli", *argv], env=env, capture_output=True, text=True, timeout=120
    )


def test_a_platform_outside_the_package_registers_through_the_environment_and_a_broken_one_fails_loudly() -> None:
    """Prevents a plugin platform from needing an edit of the package, and a provider that cannot load from being
    skipped silently (the old registry skipped a missing module and the platform just vanished)."""
    listed = _cli("connect", "--help", providers="ecom_pipeline_tests.toy_platform.spec:platform_spec")
    assert listed.returncode == 0, listed.stderr
    assert "toyshop" in listed.stdout
    broken = _cli("connect", "--help", providers="ecom_pipeline_tests.toy_platform.nowhere:platform_spec")
    assert broken.returncode != 0
    assert "ecom_pipeline_tests.toy_platform.nowhere:platform_spec" in broken.stderr
    assert "cannot be loaded" in broken.stderr


def test_the_stock_writer_and_refund_parser_come_from_the_registration_only(toy: PlatformSpec) -> None:
    """Prevents the stock push and the refund restocks from naming platforms of their own (they kept a module
    table each): a platform without ``stock`` is refused by name, and one that names a module is used, its
    ``restocked_lines`` included, without touching stock/."""
    from dataclasses import replace

    from ecom_pipeline.stock.push import writer_module
    from ecom_pipeline.stock.refunds import parsers

    with pytest.raises(LookupError, match="cannot be pushed to toyshop"):
        writer_module("toyshop")
    assert "toyshop" not in parsers() and {"woocommerce", "shopify"} <= set(parsers())
    unregister(toy.name)
    register(replace(toy, stock="ecom_pipeline_tests.toy_platform.stock"))
    assert writer_module("toyshop").__name__ == "ecom_pipeline_tests.toy_platform.stock"
    assert parsers()["toyshop"]({"lines": [{"id": 7, "restocked": 2}]}) == {"7": (2, None)}
