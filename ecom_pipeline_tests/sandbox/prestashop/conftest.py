"""A PrestaShop emulator on 127.0.0.1 shared by the tests of one module, and a tiny webservice client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline_tests.paths import fixtures_dir

RECORDED = fixtures_dir() / "recorded" / "prestashop-8.2.1"
MULTILANG = RECORDED.parent / "prestashop-8.2.1-multilang"
ANCHOR = datetime(2026, 11, 22, tzinfo=UTC)


class PsClient:
    """Basic auth with the key as user and an empty password, like PrestaShop clients do."""

    def __init__(self, shop: ShopHandle) -> None:
        self.shop = shop
        self.base = shop.http_url + "/api"
        self.session = requests.Session()

    def request(
        self, method: str, path: str, params: dict[str, Any] | None = None, *, key: str | None = "", **kwargs: Any
    ) -> requests.Response:
        """``key`` "" = the shop's key, None = no credentials, anything else = that key."""
        auth = None if key is None else ((key or self.shop.credentials["api_key"]), "")
        return self.session.request(method, self.base + path, params=params, auth=auth, timeout=30, **kwargs)

    def get(self, path: str, params: dict[str, Any] | None = None, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, params, **kwargs)

    def json(self, path: str, **params: Any) -> Any:
        response = self.get(path, {"output_format": "JSON", **params})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    specs = [
        ShopSpec(name="ps-read", platform="prestashop", seed=3, products=60, orders=25, customers=8, anchor=ANCHOR),
        ShopSpec(name="ps-write", platform="prestashop", seed=4, products=30, orders=10, customers=5, anchor=ANCHOR),
        ShopSpec(
            name="ps-multi",
            platform="prestashop",
            seed=5,
            products=40,
            orders=15,
            customers=8,
            anchor=ANCHOR,
            options={"languages": ["en", "fr"]},
        ),
    ]
    with SandboxServer(shops=specs, cert_dir=tmp_path_factory.mktemp("certs")) as sb:
        yield sb


@pytest.fixture(scope="module")
def reader(sandbox: SandboxServer) -> PsClient:
    return PsClient(sandbox.shop("ps-read"))


@pytest.fixture(scope="module")
def writer(sandbox: SandboxServer) -> PsClient:
    return PsClient(sandbox.shop("ps-write"))


@pytest.fixture(scope="module")
def multi(sandbox: SandboxServer) -> PsClient:
    """The two-language shop (English default, French), like the recorded prestashop-8.2.1-multilang store."""
    return PsClient(sandbox.shop("ps-multi"))
