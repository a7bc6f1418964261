"""Page sizes fitted to Shopify's 1,000-point query limit, and renewed tokens stored, against the sandbox emulator.

Failures prevented: a sync that dies on MAX_COST_EXCEEDED (or crawls with needlessly small pages), and a
client-credentials token renewed every run because the renewal was never written back to the warehouse.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline.platforms.shopify.client import ShopifyClient, fitted_page_size
from ecom_pipeline.platforms.shopify.extract import extract_entity, make_client
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.sync.extract import ExtractContext
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher, reveal

TENANT = "acme"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    # The Plus plan's cost bucket (1,000 points/s): what is checked here is each query's cost against the 1,000-point
    # single-query limit, not the bucket; on the Standard plan the governor waited ~10 s for it between 938-point pages.
    spec = ShopSpec(
        name="fit", platform="shopify", seed=3, products=40, orders=30, customers=12, options={"plan": "plus"}
    )
    with SandboxServer(shops=[spec], cert_dir=tmp_path / "certs") as server:
        yield server


def _integration(url: str, sandbox: SandboxServer, credentials: dict[str, Any], cipher: CredentialCipher) -> Any:
    engine = create_engine(url)
    shop = sandbox.shop("fit")
    with engine.begin() as conn:
        integration_id = store.create_integration(
            conn,
            tenant_id=TENANT,
            platform="shopify",
            name="fit",
            base_url=shop.http_url,
            credentials=credentials,
            settings={"bulk": "never"},
            cipher=cipher,
        )
        return engine, store.get_integration(conn, integration_id)


def test_fitted_page_size_stays_under_the_limit() -> None:
    """Prevents a fitted page that is still refused (an endless shrink loop) or one far below what fits."""
    for per_item in (3, 64, 62, 4.0, 500):
        for size in (250, 100, 16):
            requested = 2 + size * per_item
            if requested <= 1000:
                continue
            fitted = fitted_page_size(size, requested)
            assert 2 + fitted * per_item <= 1000
            assert 2 + (fitted + 2) * per_item > 1000 or fitted == size - 1
    assert fitted_page_size(250, None) == 125


def test_extract_asks_for_the_largest_page_that_fits(sqlite_warehouse_url: str, sandbox: SandboxServer) -> None:
    """Prevents MAX_COST_EXCEEDED failures, and pages smaller than the cost limit allows."""
    cipher = CredentialCipher(CredentialCipher.generate_key())
    token = sandbox.shop("fit").credentials["access_token"]
    engine, integration = _integration(sqlite_warehouse_url, sandbox, {"access_token": token}, cipher)
    ctx = ExtractContext(engine=engine, integration=integration, credentials={"access_token": token}, run_id="t")
    client = make_client(ctx)
    report = extract_entity(ctx, "product", client=client)
    assert report.staged == 40
    # 2 + 9 x (4 + 20 x 5) = 938 points requested: each variant costs 5 (itself, selectedOptions, inventoryItem and
    # its measurement and weight, where Shopify keeps the variant's weight).
    assert client.page_sizes["Products"] == 9
    assert client.governor.costs["Products"] <= 1000
    orders = extract_entity(ctx, "order", client=make_client(ctx))
    assert orders.staged == 30
    customers_client = make_client(ctx)
    assert extract_entity(ctx, "customer", client=customers_client).staged == 12
    # 250 customers ask 1,002 points since the default email/phone objects replaced the deprecated scalars.
    assert customers_client.page_sizes["Customers"] == 249

    with ShopifyClient(integration.base_url, token) as small:
        pages = list(
            small.paginate(
                q.PRODUCTS_QUERY,
                ("products",),
                {"first": 250, "variantsFirst": 5, "collectionsFirst": 0},
                key="Products",
                fit="first",
            )
        )
    assert small.page_sizes["Products"] > 9 and sum(len(p.nodes) for p in pages) == 40


def test_renewed_client_credentials_token_is_stored(
    sqlite_warehouse_url: str, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Prevents renewing the 24 h token on every run because the renewal only lived in memory."""
    key = CredentialCipher.generate_key()
    monkeypatch.setenv("ECOM_SECRET_KEY", key)
    monkeypatch.setenv("ECOM_PIPELINE_HOME", str(tmp_path / "home"))
    cipher = CredentialCipher(key)
    shop = sandbox.shop("fit")
    credentials = {"client_id": shop.credentials["client_id"], "client_secret": shop.credentials["client_secret"]}
    engine, integration = _integration(sqlite_warehouse_url, sandbox, credentials, cipher)
    ctx = ExtractContext(engine=engine, integration=integration, credentials=dict(credentials), run_id="t")
    assert extract_entity(ctx, "customer").staged == 12
    with engine.connect() as conn:
        stored = store.load_credentials(conn, integration.id, cipher)
    assert reveal(stored["access_token"]).startswith("shp")
    assert isinstance(stored["expires_at"], int | float)
    assert reveal(stored["client_secret"]) == shop.credentials["client_secret"], "other secrets must survive"
