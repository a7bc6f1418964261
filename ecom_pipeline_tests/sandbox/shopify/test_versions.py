"""The Shopify emulator answers per API version, as Shopify does: defaults, fields and limits of the version served.

The shop's calendar is pinned (``api.api_date``) so each test knows which versions are supported: on 2026-03-01
that is 2025-04 .. 2026-01 (2025-10 served as itself), on 2026-12-03 it is 2026-01 .. 2026-10.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle
from ecom_pipeline_tests.sandbox.shopify.conftest import ShopifyClient

BULK = "{ products { edges { node { id title variants { edges { node { id sku } } } } } } }"


@pytest.fixture()
def dated(shop: ShopHandle) -> Iterator[ShopHandle]:
    """The shop with its version calendar at 2026-12-03 (restored afterwards)."""
    shop.api.api_date = "2026-12-03"
    yield shop
    shop.api.api_date = None


def _post(client: ShopifyClient, version: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    resp = client.post(query, variables, url=client.shop.https_url + f"/admin/api/{version}/graphql.json")
    assert resp.status_code == 200, resp.text
    return resp


def _finish_all(client: ShopifyClient, clock: SandboxClock) -> None:
    for _ in range(300):
        if all(
            client.shop.api.bulk.status(op)[0] not in ("CREATED", "RUNNING") for op in client.shop.api.bulk.ops.values()
        ):
            return
        clock.advance(1)
        time.sleep(0.01)
    raise AssertionError("bulk operations never finished")


def _bulk_lines(client: ShopifyClient, clock: SandboxClock, version: str, group: str = "") -> list[dict[str, Any]]:
    _finish_all(client, clock)
    started = _post(
        client,
        version,
        f"mutation($q: String!) {{ bulkOperationRunQuery(query: $q{group}) "
        "{ bulkOperation { id } userErrors { message } } }",
        {"q": BULK},
    ).json()["data"]["bulkOperationRunQuery"]
    assert started["userErrors"] == [], started
    _finish_all(client, clock)
    op_id = started["bulkOperation"]["id"]
    op = _post(client, "2026-04", "query($id: ID!) { bulkOperation(id: $id) { status url } }", {"id": op_id}).json()
    url = op["data"]["bulkOperation"]["url"]
    body = requests.get(url, verify=client.sb.ca_bundle, timeout=30).text
    return [json.loads(line) for line in body.splitlines()]


def _grouped(lines: list[dict[str, Any]]) -> bool:
    parent = None
    for line in lines:
        if "__parentId" not in line:
            parent = line["id"]
        elif line["__parentId"] != parent:
            return False
    return True


def test_retired_version_falls_forward_with_the_served_version_in_the_header(
    client: ShopifyClient, dated: ShopHandle
) -> None:
    """Prevents a client believing it talks to the version it pinned when Shopify answers with another."""
    assert _post(client, "2025-10", "{ shop { name } }").headers["X-Shopify-API-Version"] == "2026-01"
    assert _post(client, "2026-04", "{ shop { name } }").headers["X-Shopify-API-Version"] == "2026-04"
    dated.api.api_date = "2026-03-01"
    assert _post(client, "2025-10", "{ shop { name } }").headers["X-Shopify-API-Version"] == "2025-10"
    assert _post(client, "2024-10", "{ shop { name } }").headers["X-Shopify-API-Version"] == "2025-04"


def test_group_objects_defaults_to_false_from_2026_01_and_the_jsonl_is_then_not_grouped(
    client: ShopifyClient, dated: ShopHandle, clock: SandboxClock
) -> None:
    """Prevents tests passing with an assembler that relies on grouping, which real shops stopped by default."""
    ungrouped = _bulk_lines(client, clock, "2026-01")
    assert any("__parentId" in line for line in ungrouped) and not _grouped(ungrouped)
    assert _grouped(_bulk_lines(client, clock, "2026-01", ", groupObjects: true"))
    dated.api.api_date = "2026-03-01"
    assert _grouped(_bulk_lines(client, clock, "2025-10"))  # 2025-10: groupObjects defaults to true


def test_bulk_operation_by_id_and_five_concurrent_operations_only_from_2026_01(
    client: ShopifyClient, dated: ShopHandle, clock: SandboxClock
) -> None:
    """Prevents a client relying on bulkOperation(id:) or concurrency where the served version has neither."""
    run = "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id } userErrors { code } } }"
    _finish_all(client, clock)
    results = [_post(client, "2026-04", run, {"q": BULK}).json()["data"]["bulkOperationRunQuery"] for _ in range(6)]
    assert all(r["userErrors"] == [] for r in results[:5])
    assert results[5]["bulkOperation"] is None and results[5]["userErrors"][0]["code"] == "LIMIT_REACHED"
    _finish_all(client, clock)
    dated.api.api_date = "2026-03-01"
    first = _post(client, "2025-10", run, {"q": BULK}).json()["data"]["bulkOperationRunQuery"]
    second = _post(client, "2025-10", run, {"q": BULK}).json()["data"]["bulkOperationRunQuery"]
    assert first["userErrors"] == [] and second["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"
    by_id = "query($id: ID!) { bulkOperation(id: $id) { status } }"
    errors = _post(client, "2025-10", by_id, {"id": first["bulkOperation"]["id"]}).json()["errors"]
    assert "bulkOperation" in errors[0]["message"]
    _finish_all(client, clock)


def test_webhook_uri_and_unlisted_status_exist_only_from_2025_10(client: ShopifyClient, dated: ShopHandle) -> None:
    """Prevents the emulator accepting on an old version what only a newer one has (and the reverse)."""
    dated.api.api_date = "2026-03-01"
    by_uri = '{ webhookSubscriptions(first: 5, uri: "https://x.example/h") { nodes { id uri } } }'
    assert "errors" not in _post(client, "2025-10", by_uri).json()
    old = _post(client, "2025-07", by_uri).json()
    assert {e["message"] for e in old["errors"]} >= {
        "Unknown argument 'uri' on field 'QueryRoot.webhookSubscriptions'.",
        "Cannot query field 'uri' on type 'WebhookSubscription'.",
    }
    unlisted = '{ products(first: 1, query: "status:unlisted") { nodes { status } } }'
    assert "errors" not in _post(client, "2025-10", unlisted).json()
    enum = '{ __type(name: "ProductStatus") { enumValues { name } } }'
    values = {v["name"] for v in _post(client, "2025-07", enum).json()["data"]["__type"]["enumValues"]}
    assert "UNLISTED" not in values
    values = {v["name"] for v in _post(client, "2026-04", enum).json()["data"]["__type"]["enumValues"]}
    assert "UNLISTED" in values


def test_unlisted_product_is_served_as_such(client: ShopifyClient, dated: ShopHandle) -> None:
    """Prevents UNLISTED (real since 2025-10) being a status the connector never sees in tests."""
    product = next(iter(dated.store.products.values()))
    previous = product.status
    dated.store.update_product(product.id, status="UNLISTED")
    try:
        got = _post(client, "2026-04", f'{{ product(id: "gid://shopify/Product/{product.id}") {{ status }} }}')
        assert got.json()["data"]["product"]["status"] == "UNLISTED"
    finally:
        dated.store.update_product(product.id, status=previous)


def test_customers_count_is_served_and_limit_null_lifts_the_10000_cap(client: ShopifyClient, dated: ShopHandle) -> None:
    """Prevents customers never taking the bulk path in tests, and counts silently capped at ``limit``."""
    store = dated.store
    exact = _post(client, "2026-04", "{ customersCount(limit: null) { count precision } }").json()["data"]
    assert exact["customersCount"] == {"count": len(store.customers), "precision": "EXACT"}
    capped = _post(client, "2026-04", "{ productsCount(limit: 3) { count precision } }").json()["data"]
    assert capped["productsCount"] == {"count": 3, "precision": "AT_LEAST"}
    uncapped = _post(client, "2026-04", "{ productsCount(limit: null) { count precision } }").json()["data"]
    assert uncapped["productsCount"]["count"] == len(store.products)


def test_country_code_is_an_enum_and_the_endpoint_a_union(client: ShopifyClient, dated: ShopHandle) -> None:
    """Prevents the emulator typing fields differently from Shopify (a String where Shopify has an enum)."""
    kinds = (
        '{ a: __type(name: "MailingAddress") { fields { name type { kind name } } } '
        'b: __type(name: "WebhookSubscriptionEndpoint") { kind } }'
    )
    data = _post(client, "2026-04", kinds).json()["data"]
    code = next(f for f in data["a"]["fields"] if f["name"] == "countryCodeV2")
    assert code["type"] == {"kind": "ENUM", "name": "CountryCode"}
    assert data["b"]["kind"] == "UNION"


def test_customer_needs_read_customers_wherever_it_appears(sandbox: SandboxServer) -> None:
    """Prevents an app with read_orders alone passing in tests while real shops answer ACCESS_DENIED for
    ``Order.customer`` (Customer requires read_customers wherever it appears)."""
    shop = sandbox.shop("shop-b")  # read_products, read_orders, read_customers, write_products
    oauth = shop.extra["oauth"]
    token = "shpat_orders_only"
    oauth.tokens[token] = type(oauth.tokens[shop.credentials["access_token"]])(("read_orders", "read_products"), None)
    client = ShopifyClient(sandbox, shop, token=token)
    body = client.post("{ orders(first: 3) { nodes { id customer { id } } } }").json()
    assert body["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    assert "customer" in body["errors"][0]["message"]
    assert "errors" not in client.post("{ orders(first: 3) { nodes { id } } }").json()
