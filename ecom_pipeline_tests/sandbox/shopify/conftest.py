"""Shopify emulator shops on 127.0.0.1 shared by the tests of one module, and a tiny GraphQL client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline_tests.paths import fixtures_dir
from ecom_pipeline_tests.sandbox.shopify.webhook_receiver import WebhookReceiver

SAMPLES = fixtures_dir() / "platform-samples" / "shopify"
START = datetime(2025, 9, 1, 12, 0, 0, tzinfo=UTC)


class ShopifyClient:
    """POSTs GraphQL to one shop over HTTPS with its access token."""

    def __init__(self, sb: SandboxServer, shop: ShopHandle, token: str | None = None) -> None:
        self.sb = sb
        self.shop = shop
        self.token = token or shop.credentials["access_token"]
        self.session = requests.Session()

    @property
    def url(self) -> str:
        return self.shop.https_url + self.shop.api_path

    def post(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> requests.Response:
        headers = {"X-Shopify-Access-Token": self.token, **kwargs.pop("headers", {})}
        url = kwargs.pop("url", self.url)
        return self.session.post(
            url,
            json={"query": query, "variables": variables or {}},
            headers=headers,
            verify=self.sb.ca_bundle,
            timeout=30,
            **kwargs,
        )

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON body of a successful call (asserts HTTP 200 and no errors)."""
        resp = self.post(query, variables)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert "errors" not in body, body["errors"]
        return body  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def clock() -> SandboxClock:
    clock = SandboxClock(start=START)
    clock.freeze()
    return clock


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, clock: SandboxClock) -> Iterator[SandboxServer]:
    specs = [
        ShopSpec(
            name="shop-a",
            seed=3,
            products=60,
            variable_share=0.5,
            orders=80,
            customers=20,
            platform="shopify",
            anchor=START,
            options={"big_product_variants": 300},
        ),
        ShopSpec(
            name="shop-b",
            seed=4,
            products=10,
            orders=60,
            customers=5,
            platform="shopify",
            anchor=START,
            options={"plan": "plus", "scopes": "read_products,read_orders,read_customers,write_products"},
        ),
    ]
    with SandboxServer(shops=specs, cert_dir=tmp_path_factory.mktemp("certs"), clock=clock) as sb:
        yield sb


@pytest.fixture()
def shop(sandbox: SandboxServer) -> Iterator[ShopHandle]:
    handle = sandbox.shop("shop-a")
    handle.faults.reset()
    handle.api.bucket.drain(handle.api.bucket.maximum)
    yield handle
    handle.faults.reset()


@pytest.fixture()
def client(sandbox: SandboxServer, shop: ShopHandle) -> ShopifyClient:
    return ShopifyClient(sandbox, shop)


@pytest.fixture()
def receiver() -> Iterator[WebhookReceiver]:
    rec = WebhookReceiver()
    yield rec
    rec.server.shutdown()
