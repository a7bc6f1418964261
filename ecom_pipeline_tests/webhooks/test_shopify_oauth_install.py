"""Shopify's OAuth install flow through the receiver, against the emulated Shopify (real HTTP both ways)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import uvicorn
from cryptography.fernet import Fernet
from sqlalchemy import select

from ecom_pipeline.platforms.shopify.oauth import ShopifyOAuthConfig
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher, reveal
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.schema import integrations
from ecom_pipeline.webhooks.app import create_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def setup(warehouse_url: str, tmp_path: Path) -> Iterator[tuple[str, SandboxServer, CredentialCipher, str]]:
    spec = ShopSpec(name="oauth-shop", seed=2, products=3, orders=2, customers=2, platform="shopify")
    cipher = CredentialCipher(Fernet.generate_key().decode())
    with SandboxServer(shops=[spec], cert_dir=tmp_path / "certs") as sb:
        app_creds = sb.shop("oauth-shop").credentials
        port = _free_port()
        config = ShopifyOAuthConfig(
            client_id=app_creds["client_id"],
            client_secret=app_creds["client_secret"],
            public_url=f"http://127.0.0.1:{port}",
            allow_sandbox=True,
        )
        engine = make_engine(warehouse_url)
        app = create_app(engine=engine, cipher=cipher, route_options={"shopify": config})
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}", sb, cipher, warehouse_url
        finally:
            server.should_exit = True
            thread.join(5)
            engine.dispose()


def test_install_redirect_callback_and_token_exchange_create_the_integration(setup) -> None:  # type: ignore[no-untyped-def]
    """Prevents the install flow from storing a shop without a verified callback, or not storing it at all."""
    receiver, sb, cipher, url = setup
    shop = sb.shop("oauth-shop")
    domain = shop.http_url.split("://", 1)[1]
    response = requests.get(f"{receiver}/oauth/shopify/install", params={"shop": domain, "tenant": "acme"}, timeout=10)
    assert response.status_code == 200, response.text
    assert "connected to tenant acme" in response.text
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = store.list_integrations(conn, tenant_id="acme", platform="shopify")
        assert len(rows) == 1
        creds = store.load_credentials(conn, rows[0].id, cipher)
    assert reveal(creds["access_token"])
    assert rows[0].settings["scopes"]
    engine.dispose()


def test_reinstalling_the_app_keeps_the_merchants_sync_and_stock_settings(setup) -> None:  # type: ignore[no-untyped-def]
    """Prevents a reinstall through OAuth from wiping the merchant's settings: the callback stored only the API
    version, scopes and currency, replacing the whole settings row (direction, policies, price rule, bulk mutation
    threshold, collections, stock settings gone), where the CLI's reconnect keeps them."""
    receiver, sb, _cipher, url = setup
    domain = sb.shop("oauth-shop").http_url.split("://", 1)[1]

    def install() -> None:
        response = requests.get(
            f"{receiver}/oauth/shopify/install", params={"shop": domain, "tenant": "acme"}, timeout=10
        )
        assert response.status_code == 200, response.text

    install()
    merchant = {
        "sync_direction": "push",
        "field_policies": {"price": "hub_wins"},
        "price_rule": {"multiplier": "1.10"},
        "bulk_mutation_threshold": 3,
        "shopify_collections": True,
        "stock_sync": True,
        "stock_buffer": "2",
        "stock_locations": {"1": "main"},
        "reconcile_interval_hours": 6,
    }
    engine = make_engine(url)
    with engine.begin() as conn:
        settings = conn.execute(select(integrations.c.settings)).scalar_one()
        conn.execute(integrations.update().values(settings={**settings, **merchant}))
    install()
    with engine.connect() as conn:
        (row,) = store.list_integrations(conn, tenant_id="acme", platform="shopify")
    assert {k: row.settings.get(k) for k in merchant} == merchant
    assert row.settings["scopes"] and row.settings["api_version"]  # what the shop reports is read again
    engine.dispose()


def test_a_forged_or_replayed_callback_is_refused_and_stores_nothing(setup) -> None:  # type: ignore[no-untyped-def]
    """Prevents an attacker's callback (bad hmac, foreign state, replay) from installing a shop."""
    receiver, sb, _cipher, url = setup
    shop = sb.shop("oauth-shop")
    domain = shop.http_url.split("://", 1)[1]
    first = requests.get(
        f"{receiver}/oauth/shopify/install",
        params={"shop": domain, "tenant": "acme"},
        allow_redirects=False,
        timeout=10,
    )
    assert first.status_code == 302
    to_shop = requests.get(first.headers["location"], allow_redirects=False, timeout=10)
    assert to_shop.status_code == 302
    callback = to_shop.headers["location"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}

    tampered = dict(params, shop=params["shop"].replace("oauth-shop", "evil-shop"))
    bad = requests.get(f"{receiver}/oauth/shopify/callback", params=tampered, timeout=10)
    assert bad.status_code == 400 and "hmac" in bad.text

    assert requests.get(callback, timeout=10).status_code == 200
    replay = requests.get(callback, timeout=10)
    assert replay.status_code == 400 and "already used" in replay.text

    engine = make_engine(url)
    with engine.connect() as conn:
        assert len(conn.execute(select(integrations.c.id)).all()) == 1
    engine.dispose()


def test_install_refuses_a_shop_that_is_not_a_shopify_domain(setup) -> None:  # type: ignore[no-untyped-def]
    """Prevents the client secret and code from being sent to an arbitrary host named in the query."""
    receiver, *_ = setup
    response = requests.get(
        f"{receiver}/oauth/shopify/install", params={"shop": "evil.example.com", "tenant": "acme"}, timeout=10
    )
    assert response.status_code == 400 and "myshopify.com" in response.text


def test_install_refuses_an_invalid_tenant_name_before_involving_shopify(setup) -> None:  # type: ignore[no-untyped-def]
    """Prevents the OAuth install from creating a tenant `ecom-pipeline connect` refuses (here "../x")."""
    receiver, sb, _cipher, url = setup
    domain = sb.shop("oauth-shop").http_url.split("://", 1)[1]
    response = requests.get(f"{receiver}/oauth/shopify/install", params={"shop": domain, "tenant": "../x"}, timeout=10)
    assert response.status_code == 400
    assert "Invalid tenant" in response.text and "invalid tenant name" in response.text
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(select(integrations.c.id)).all() == []
    engine.dispose()
