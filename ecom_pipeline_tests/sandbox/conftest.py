"""A WooCommerce emulator on 127.0.0.1 (HTTP + HTTPS) shared by the sandbox tests of one module."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline.sandbox.woocommerce.auth import sign_oauth_query
from ecom_pipeline_tests.paths import fixtures_dir

RECORDED = fixtures_dir() / "recorded" / "woocommerce-10.0.2"
API = "/wp-json/wc/v3"


class WooClient:
    """Tiny test client: HTTPS + Basic by default, or plain HTTP + OAuth 1.0a query signing."""

    def __init__(self, sb: SandboxServer, shop: ShopHandle) -> None:
        self.sb = sb
        self.shop = shop
        self.session = requests.Session()

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        json: Any = None,
        *,
        transport: str = "https",
        auth: str = "basic",
        key: str | None = None,
        secret: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """``transport`` https|http; ``auth`` basic|oauth|none."""
        key = key or self.shop.consumer_key
        secret = secret or self.shop.consumer_secret
        base = self.shop.https_url if transport == "https" else self.shop.http_url
        url = f"{base}{API}{path}"
        params = {k: str(v) for k, v in (params or {}).items()}
        req_auth = None
        if auth == "basic":
            req_auth = (key, secret)
        elif auth == "oauth":
            params = sign_oauth_query(
                method, url, params, key, secret, timestamp=self.shop.store.now(), nonce=uuid.uuid4().hex
            )
        return self.session.request(
            method, url, params=params, json=json, auth=req_auth, verify=self.sb.ca_bundle, timeout=30, **kwargs
        )

    def get(self, path: str, params: dict[str, Any] | None = None, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, params, **kwargs)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    specs = [
        ShopSpec(name="shop-a", seed=7, products=40, variable_share=0.4, orders=60, customers=12),
        ShopSpec(name="shop-b", seed=8, products=12, variable_share=0.5, orders=10, customers=4, timezone="UTC"),
    ]
    with SandboxServer(shops=specs, cert_dir=tmp_path_factory.mktemp("certs")) as sb:
        yield sb


@pytest.fixture()
def shop(sandbox: SandboxServer) -> Iterator[ShopHandle]:
    handle = sandbox.shop("shop-a")
    handle.faults.reset()
    yield handle
    handle.faults.reset()


@pytest.fixture()
def client(sandbox: SandboxServer, shop: ShopHandle) -> WooClient:
    return WooClient(sandbox, shop)
