"""Bulk operations, OAuth, the read_all_orders window and signed webhook deliveries of the Shopify emulator."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle
from ecom_pipeline.sandbox.shopify.oauth import sign_oauth_params, verify_oauth_params
from ecom_pipeline.sandbox.shopify.webhooks import sign_body
from ecom_pipeline_tests.sandbox.shopify.conftest import SAMPLES, ShopifyClient
from ecom_pipeline_tests.sandbox.shopify.webhook_receiver import CREATE_WEBHOOK, WebhookReceiver

RUN_BULK = """mutation($q: String!) { bulkOperationRunQuery(query: $q, groupObjects: true) {
  bulkOperation { id status } userErrors { field message code } } }"""
CURRENT = """{ currentBulkOperation {
  id status errorCode objectCount rootObjectCount fileSize url partialDataUrl createdAt completedAt } }"""
BULK_QUERY = "{ products { edges { node { id title variants { edges { node { id sku price } } } } } } }"


def _wait_done(client: ShopifyClient, clock: SandboxClock) -> dict[str, Any]:
    """Advance the clock until the current bulk operation leaves CREATED/RUNNING."""
    for _ in range(200):
        op = client.gql(CURRENT)["data"]["currentBulkOperation"]
        if op["status"] not in ("CREATED", "RUNNING"):
            return op  # type: ignore[no-any-return]
        clock.advance(1)
        time.sleep(0.01)
    raise AssertionError("bulk operation never finished")


def _settle(client: ShopifyClient, clock: SandboxClock) -> None:
    """Let an operation left by an earlier test finish; a fresh shop has none (``currentBulkOperation`` is null)."""
    if client.gql(CURRENT)["data"]["currentBulkOperation"] is not None:
        _wait_done(client, clock)


# ------------------------------------------------------------------------------------------------ bulk
def test_bulk_lifecycle_and_jsonl_with_parent_ids(client: ShopifyClient, shop: ShopHandle, clock: SandboxClock) -> None:
    """The bulk extractor polls CREATED->RUNNING->COMPLETED and rebuilds nesting from __parentId lines."""
    started = client.gql(RUN_BULK, {"q": BULK_QUERY})["data"]["bulkOperationRunQuery"]
    assert started["userErrors"] == [] and started["bulkOperation"]["status"] == "CREATED"
    # 2026-01+: several bulk queries of one app may run at once, each followed by id.
    second = client.gql(RUN_BULK, {"q": BULK_QUERY})["data"]["bulkOperationRunQuery"]
    assert second["userErrors"] == [] and second["bulkOperation"]["id"] != started["bulkOperation"]["id"]
    clock.advance(1.5)
    time.sleep(0.2)
    assert client.gql(CURRENT)["data"]["currentBulkOperation"]["status"] == "RUNNING"
    op = _wait_done(client, clock)
    assert op["status"] == "COMPLETED" and op["errorCode"] is None and op["completedAt"]
    store = shop.store
    assert int(op["objectCount"]) == len(store.products) + len(store.variants)
    assert int(op["rootObjectCount"]) == len(store.products)
    resp = requests.get(op["url"], verify=client.sb.ca_bundle, timeout=30)  # signed URL: no token
    assert resp.status_code == 200 and len(resp.content) == int(op["fileSize"])
    lines = [json.loads(line) for line in resp.text.splitlines()]
    sample = [
        json.loads(line) for line in (SAMPLES / "graphql_bulk_operation_result_example.jsonl").read_text().splitlines()
    ]
    assert set(sample[1]) <= {"id", "title", "__parentId"}  # same flattening as the documented example
    parent = None
    for line in lines:
        if line["id"].startswith("gid://shopify/Product/"):
            assert "__parentId" not in line and "variants" not in line
            parent = line["id"]
        else:
            assert line["__parentId"] == parent and list(line)[-1] == "__parentId"
            variant = store.variants[int(line["id"].rsplit("/", 1)[1])]
            assert line["sku"] == variant.sku and line["price"] == f"{variant.price:.2f}"


def test_bulk_failed_and_expired_faults(client: ShopifyClient, shop: ShopHandle, clock: SandboxClock) -> None:
    """The extractor must fall back on FAILED (INTERNAL_SERVER_ERROR) and on a result URL that has expired."""
    _settle(client, clock)
    resp = requests.post(
        shop.https_url + "/admin/__sandbox/bulk", json={"next": "FAILED"}, verify=client.sb.ca_bundle, timeout=10
    )
    assert resp.status_code == 200
    client.gql(RUN_BULK, {"q": BULK_QUERY})
    op = _wait_done(client, clock)
    assert op["status"] == "FAILED" and op["errorCode"] == "INTERNAL_SERVER_ERROR" and op["url"] is None
    assert op["partialDataUrl"]
    shop.api.bulk.fail_next = "EXPIRED"
    client.gql(RUN_BULK, {"q": BULK_QUERY})
    op = _wait_done(client, clock)
    assert op["status"] == "COMPLETED"
    resp = requests.get(op["url"], verify=client.sb.ca_bundle, timeout=10)
    assert resp.status_code == 403 and b"<Error>" in resp.content
    assert client.gql(CURRENT)["data"]["currentBulkOperation"]["status"] == "EXPIRED"


def test_bulk_query_rules_give_user_errors(client: ShopifyClient, clock: SandboxClock) -> None:
    """Bad bulk queries come back as userErrors on the mutation (HTTP 200), never as a started operation."""
    _settle(client, clock)
    for query, fragment in (
        ("{ shop { name } }", "at least one connection"),
        ("{ products { edges { node { title variants { edges { node { id } } } } } } }", "'id' field"),
        ("{ products { edges { node { nope } } } }", "Invalid bulk query"),
    ):
        payload = client.gql(RUN_BULK, {"q": query})["data"]["bulkOperationRunQuery"]
        assert payload["bulkOperation"] is None and fragment in payload["userErrors"][0]["message"]


# ------------------------------------------------------------------------------------------------ OAuth
def test_oauth_hmac_matches_shopify_test_vectors() -> None:
    """Our callback signing must be byte-identical to Shopify's, or a real app would reject our callbacks."""
    for vector in json.loads((SAMPLES / "oauth_callback_hmac_test_vectors.json").read_text()):
        assert sign_oauth_params(vector["query"], vector["secret"]) == vector["hmac_hex"]
        assert verify_oauth_params({**vector["query"], "hmac": vector["hmac_hex"]}, vector["secret"])


def test_authorize_redirect_is_signed_and_code_exchanges_once(sandbox: SandboxServer, shop: ShopHandle) -> None:
    """The connect flow: callback params verify with the client secret; a code is single use."""
    creds = shop.credentials
    resp = requests.get(
        shop.https_url + "/admin/oauth/authorize",
        params={
            "client_id": creds["client_id"],
            "scope": "read_products,read_orders",
            "state": "nonce-1",
            "redirect_uri": "https://app.example/callback",
        },
        allow_redirects=False,
        verify=sandbox.ca_bundle,
        timeout=10,
    )
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    params = dict(parse_qsl(location.query))
    assert location.netloc == "app.example" and set(params) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert params["shop"] == "shop-a.myshopify.com" and params["state"] == "nonce-1"
    assert verify_oauth_params(params, creds["client_secret"])
    assert not verify_oauth_params(params, "shpss_wrong")
    form = {"client_id": creds["client_id"], "client_secret": creds["client_secret"], "code": params["code"]}
    token_url = shop.https_url + "/admin/oauth/access_token"
    resp = requests.post(token_url, json=form, verify=sandbox.ca_bundle, timeout=10)
    assert resp.status_code == 200
    granted = resp.json()
    assert granted["scope"] == "read_products,read_orders" and granted["access_token"].startswith("shpat_")
    client = ShopifyClient(sandbox, shop, token=granted["access_token"])
    assert client.gql("{ shop { name } }")["data"]["shop"]["name"] == "shop-a"
    assert client.post("{ customers(first: 1) { nodes { id } } }").json()["errors"][0]["extensions"]["code"] == (
        "ACCESS_DENIED"
    )
    again = requests.post(token_url, json=form, verify=sandbox.ca_bundle, timeout=10)
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"


def test_client_credentials_token_expires_after_24h(
    sandbox: SandboxServer, shop: ShopHandle, clock: SandboxClock
) -> None:
    """Prevents caching a client-credentials token forever: after 24 h of clock time it is a 401."""
    creds = shop.credentials
    resp = requests.post(
        shop.https_url + "/admin/oauth/access_token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        },
        verify=sandbox.ca_bundle,
        timeout=10,
    )
    body = resp.json()
    assert resp.status_code == 200 and body["expires_in"] == 86399 and "read_all_orders" in body["scope"]
    client = ShopifyClient(sandbox, shop, token=body["access_token"])
    client.gql("{ shop { name } }")
    clock.advance(86_400)
    resp = client.post("{ shop { name } }")
    assert resp.status_code == 401
    assert resp.json() == {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
    bad = requests.post(
        shop.https_url + "/admin/oauth/access_token",
        data={"grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": "nope"},
        verify=sandbox.ca_bundle,
        timeout=10,
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_client"


def test_without_read_all_orders_only_last_60_days(sandbox: SandboxServer, clock: SandboxClock) -> None:
    """A shop not granting read_all_orders hides older orders; the backfill must not assume it sees them all."""
    shop_b = sandbox.shop("shop-b")
    client = ShopifyClient(sandbox, shop_b)
    ids: set[int] = set()
    after = None
    while True:
        conn = client.gql(
            "query($a: String) { orders(first: 50, after: $a) { nodes { legacyResourceId } "
            "pageInfo { hasNextPage endCursor } } }",
            {"a": after},
        )["data"]["orders"]
        ids |= {int(n["legacyResourceId"]) for n in conn["nodes"]}
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    cutoff = clock.seconds() - int(timedelta(days=60).total_seconds())
    recent = {o.id for o in shop_b.store.orders.values() if o.created_at >= cutoff}
    assert ids == recent and 0 < len(recent) < len(shop_b.store.orders)


# ------------------------------------------------------------------------------------------------ webhooks
def test_webhook_delivery_is_signed_like_shopify(
    client: ShopifyClient, shop: ShopHandle, receiver: WebhookReceiver
) -> None:
    """The webhook endpoint verifies X-Shopify-Hmac-Sha256 over the raw body with the client secret."""
    sub = client.gql(CREATE_WEBHOOK, {"topic": "PRODUCTS_UPDATE", "uri": receiver.url})["data"]
    sub = sub["webhookSubscriptionCreate"]["webhookSubscription"]
    assert sub["topic"] == "PRODUCTS_UPDATE"
    dup = client.gql(CREATE_WEBHOOK, {"topic": "PRODUCTS_UPDATE", "uri": receiver.url})["data"]
    assert dup["webhookSubscriptionCreate"]["userErrors"]
    listed = client.gql("{ webhookSubscriptions(first: 10) { nodes { id uri } } }")["data"]["webhookSubscriptions"]
    assert {"id": sub["id"], "uri": receiver.url} in listed["nodes"]
    product = next(iter(shop.store.products.values()))
    shop.store.update_product(product.id, title="Renamed Mug")
    receiver.wait(1)
    headers, body = receiver.received[0]
    expected = json.loads((SAMPLES / "webhook_delivery_headers_products_update.json").read_text())["headers"]
    assert set(expected) <= set(headers)
    assert headers["X-Shopify-Topic"] == "products/update"
    assert headers["X-Shopify-Shop-Domain"] == "shop-a.myshopify.com"
    assert headers["X-Shopify-Hmac-Sha256"] == sign_body(body, shop.credentials["client_secret"])
    digest = hmac.new(shop.credentials["client_secret"].encode(), body, hashlib.sha256).digest()
    assert base64.b64decode(headers["X-Shopify-Hmac-Sha256"]) == digest
    payload = json.loads(body)
    sample = json.loads((SAMPLES / "webhook_products_update.json").read_text())
    assert set(sample) <= set(payload) and payload["title"] == "Renamed Mug" and payload["id"] == product.id
    deleted = client.gql(
        "mutation($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId } }", {"id": sub["id"]}
    )
    assert deleted["data"]["webhookSubscriptionDelete"]["deletedWebhookSubscriptionId"] == sub["id"]


def test_webhook_retried_on_non_2xx_with_same_webhook_id(
    client: ShopifyClient, shop: ShopHandle, receiver: WebhookReceiver, clock: SandboxClock
) -> None:
    """Receivers dedupe on X-Shopify-Webhook-Id: a retry after a 500 must carry the same id (clock-scaled)."""
    receiver.statuses = [500]
    client.gql(CREATE_WEBHOOK, {"topic": "ORDERS_CREATE", "uri": receiver.url})
    shop.store.add_order({"line_items": [{"variant_id": next(iter(shop.store.variants)), "quantity": 1}]})
    receiver.wait(1)
    time.sleep(0.2)
    assert len(receiver.received) == 1  # the retry waits for clock time
    clock.advance(11)
    receiver.wait(2)
    first, second = receiver.received[0][0], receiver.received[1][0]
    assert first["X-Shopify-Webhook-Id"] == second["X-Shopify-Webhook-Id"]
    assert first["X-Shopify-Topic"] == "orders/create"
    order = json.loads(receiver.received[1][1])
    assert order["line_items"][0]["quantity"] == 1 and "total_price_set" in order
