"""Fixtures for the Shopify client tests: a stub GraphQL server on a fake clock, and node builders."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ecom_pipeline.platforms.shopify.client import ShopifyClient
from ecom_pipeline_tests.platforms.shopify.stub_server import FakeClock, GraphQLStub, StubServer


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def stub(clock: FakeClock) -> GraphQLStub:
    return GraphQLStub(clock=clock)


@pytest.fixture
def server(stub: GraphQLStub) -> Iterator[StubServer]:
    with StubServer(stub) as running:
        yield running


@pytest.fixture
def client(server: StubServer, clock: FakeClock) -> Iterator[ShopifyClient]:
    with ShopifyClient(server.url, "shpat_good", sleep=clock.sleep, clock=clock.time, max_retries=2) as c:
        yield c


def variant_node(vid: int, sku: str, price: str = "19.99", position: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/ProductVariant/{vid}",
        "legacyResourceId": str(vid),
        "sku": sku,
        "title": f"V{vid}",
        "price": price,
        "compareAtPrice": None,
        "position": position,
        "inventoryQuantity": 5,
        "createdAt": "2025-01-01T10:00:00Z",
        "updatedAt": "2025-01-02T10:00:00Z",
        "selectedOptions": [{"name": "Size", "value": f"S{position}"}],
        "inventoryItem": {
            "id": f"gid://shopify/InventoryItem/{vid + 1000}",
            "legacyResourceId": str(vid + 1000),
            "tracked": True,
        },
        **extra,
    }


def product_node(
    pid: int,
    variants: list[dict[str, Any]],
    *,
    has_next: bool = False,
    updated: str | None = None,
    end_cursor: str | None = None,
) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Product/{pid}",
        "legacyResourceId": str(pid),
        "title": f"Product {pid}",
        "handle": f"product-{pid}",
        "status": "ACTIVE",
        "productType": "Shirts",
        "vendor": "Acme",
        "descriptionHtml": "<p>Soft</p>",
        "tags": ["summer", "cotton"],
        "createdAt": "2025-01-01T10:00:00Z",
        "updatedAt": updated or f"2025-01-02T10:{pid % 60:02d}:00Z",
        "options": [{"name": "Size", "position": 1, "values": ["S1"]}],
        "variants": {"pageInfo": {"hasNextPage": has_next, "endCursor": end_cursor}, "nodes": variants},
    }


def connection(nodes: list[dict[str, Any]], has_next: bool = False, end: str | None = None) -> dict[str, Any]:
    return {"pageInfo": {"hasNextPage": has_next, "endCursor": end}, "nodes": nodes}
