"""GraphQL Admin API semantics the Shopify extractor depends on: auth, paging, search, money, cost and throttling."""

from __future__ import annotations

import json
from decimal import Decimal

import requests

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle
from ecom_pipeline.sandbox.shopify.store import InventoryLevel, iso
from ecom_pipeline_tests.sandbox.shopify.conftest import SAMPLES, ShopifyClient

PRODUCTS_PAGE = """
query($after: String, $q: String, $sort: ProductSortKeys) {
  products(first: 7, after: $after, query: $q, sortKey: $sort) {
    edges { cursor node { id legacyResourceId updatedAt } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def _error_body(status: int) -> dict[str, object]:
    return next(e["body"] for e in json.loads((SAMPLES / "error_examples.json").read_text()) if e["status"] == status)


def _all_products(client: ShopifyClient, q: str | None = None, sort: str = "ID") -> list[dict[str, str]]:
    seen: list[dict[str, str]] = []
    after = None
    while True:
        body = client.gql(PRODUCTS_PAGE, {"after": after, "q": q, "sort": sort})
        conn = body["data"]["products"]
        seen += [e["node"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            return seen
        after = conn["pageInfo"]["endCursor"]
        assert after == conn["edges"][-1]["cursor"]


def test_missing_or_wrong_token_is_shopifys_401_body(client: ShopifyClient) -> None:
    """The extractor tells bad credentials from outages by this exact 401 body (error_examples.json)."""
    for headers in ({}, {"X-Shopify-Access-Token": "shpat_wrong"}):
        resp = requests.post(
            client.url, json={"query": "{ shop { name } }"}, headers=headers, verify=client.sb.ca_bundle, timeout=10
        )
        assert resp.status_code == 401
        assert resp.json() == _error_body(401)


def test_api_versions_served_and_unknown_version_404(client: ShopifyClient, shop: ShopHandle) -> None:
    """Prevents silently talking to a version we did not ask for: the served one is in X-Shopify-API-Version, and a
    retired one falls forward to the oldest supported version (2026-12-03: 2026-01)."""
    shop.api.api_date = "2026-12-03"
    try:
        for asked, served in (
            ("2026-04", "2026-04"),
            ("2026-10", "2026-10"),
            ("2025-10", "2026-01"),
            ("2023-04", "2026-01"),
            ("2027-01", "2027-01"),
            ("unstable", "unstable"),
        ):
            resp = client.post("{ shop { name } }", url=shop.https_url + f"/admin/api/{asked}/graphql.json")
            assert resp.status_code == 200 and resp.headers["X-Shopify-API-Version"] == served, asked
        for bad in ("2025-13", "2027-04"):
            resp = client.post("{ shop { name } }", url=shop.https_url + f"/admin/api/{bad}/graphql.json")
            assert resp.status_code == 404 and resp.json() == _error_body(404)
    finally:
        shop.api.api_date = None  # fmt: skip


def test_cursor_paging_visits_every_product_once(client: ShopifyClient, shop: ShopHandle) -> None:
    """Prevents lost or duplicated products when following endCursor, for both ID and UPDATED_AT order."""
    by_id = _all_products(client)
    ids = [int(p["legacyResourceId"]) for p in by_id]
    assert ids == sorted(shop.store.products)
    by_updated = _all_products(client, sort="UPDATED_AT")
    assert sorted(int(p["legacyResourceId"]) for p in by_updated) == ids
    stamps = [p["updatedAt"] for p in by_updated]
    assert stamps == sorted(stamps)


def test_search_updated_at_window_and_id_filter(client: ShopifyClient, shop: ShopHandle) -> None:
    """Incremental sync asks for updated_at:>= a watermark; both bounds are inclusive, id:> is strict."""
    products = sorted(shop.store.products.values(), key=lambda p: (p.updated_at, p.id))
    mid = products[len(products) // 2]
    q = f"updated_at:>='{iso(mid.updated_at)}'"
    got = {int(p["legacyResourceId"]) for p in _all_products(client, q)}
    assert got == {p.id for p in products if p.updated_at >= mid.updated_at}
    q = f"updated_at:>='{iso(products[3].updated_at)}' AND updated_at:<='{iso(mid.updated_at)}'"
    got = {int(p["legacyResourceId"]) for p in _all_products(client, q)}
    assert got == {p.id for p in products if products[3].updated_at <= p.updated_at <= mid.updated_at}
    got = {int(p["legacyResourceId"]) for p in _all_products(client, f"id:>{mid.id}")}
    assert got == {p.id for p in products if p.id > mid.id}


def test_unknown_search_field_is_ignored_with_a_warning(client: ShopifyClient, shop: ShopHandle) -> None:
    """Like Shopify, a typo in a filter does not fail: it is ignored (all rows) and reported in extensions."""
    body = client.gql('{ products(first: 250, query: "updatd_at:>2020-01-01") { nodes { id } } }')
    assert len(body["data"]["products"]["nodes"]) == len(shop.store.products)
    assert body["extensions"]["search"][0]["warnings"][0]["field"] == "updatd_at"


def test_updates_bump_updated_at_and_show_up_in_incremental_query(
    client: ShopifyClient, shop: ShopHandle, clock: SandboxClock
) -> None:
    """A price change must move the product past the watermark, or incremental sync misses it."""
    clock.advance(60)
    watermark = iso(clock.seconds())
    variant = next(iter(shop.store.variants.values()))
    shop.store.update_variant_price(variant.id, "12.50")
    got = _all_products(client, f"updated_at:>='{watermark}'")
    assert [int(p["legacyResourceId"]) for p in got] == [variant.product_id]
    body = client.gql(
        "query($id: ID!) { productVariant(id: $id) { price updatedAt } }",
        {"id": f"gid://shopify/ProductVariant/{variant.id}"},
    )
    assert body["data"]["productVariant"] == {"price": "12.50", "updatedAt": watermark}


def test_nested_variants_page_past_250_for_a_2048_style_product(client: ShopifyClient, shop: ShopHandle) -> None:
    """Products may have up to 2,048 variants: nested variants(first:, after:) must reach all of them."""
    big = max(shop.store.products.values(), key=lambda p: len(p.variant_ids))
    assert len(big.variant_ids) == 300
    query = """query($id: ID!, $after: String) { product(id: $id) { variantsCount { count }
      variants(first: 250, after: $after) {
        nodes { id selectedOptions { name value } } pageInfo { hasNextPage endCursor } } } }"""
    seen, after = [], None
    while True:
        body = client.gql(query, {"id": f"gid://shopify/Product/{big.id}", "after": after})
        conn = body["data"]["product"]["variants"]
        seen += conn["nodes"]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert len(seen) == 300 == body["data"]["product"]["variantsCount"]["count"]
    assert [o["name"] for o in seen[0]["selectedOptions"]] == ["Size", "Color", "Material"]


def test_order_money_bags_and_presentment_currency(client: ShopifyClient, shop: ShopHandle) -> None:
    """Prevents mixing currencies: shopMoney is in the shop currency, presentmentMoney in the buyer's."""
    order = next(o for o in shop.store.orders.values() if o.presentment_currency != o.currency)
    body = client.gql(
        """query($id: ID!) { order(id: $id) { currencyCode presentmentCurrencyCode
        totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
        subtotalPriceSet { shopMoney { amount } } totalTaxSet { shopMoney { amount } }
        totalShippingPriceSet { shopMoney { amount } } totalDiscountsSet { shopMoney { amount } }
        totalRefundedSet { shopMoney { amount } }
        lineItems(first: 10) { nodes { sku quantity originalUnitPriceSet { shopMoney { amount } } } } } }""",
        {"id": f"gid://shopify/Order/{order.id}"},
    )["data"]["order"]
    assert body["currencyCode"] == "USD" and body["presentmentCurrencyCode"] == order.presentment_currency
    total = body["totalPriceSet"]
    assert total["presentmentMoney"]["currencyCode"] == order.presentment_currency
    assert Decimal(total["shopMoney"]["amount"]) == order.total
    parts = [body[k]["shopMoney"]["amount"] for k in ("subtotalPriceSet", "totalTaxSet", "totalShippingPriceSet")]
    assert sum(Decimal(p) for p in parts) == Decimal(total["shopMoney"]["amount"])
    assert len(body["lineItems"]["nodes"]) == len(order.line_items)


def test_requested_and_actual_cost_follow_shopify_rules(client: ShopifyClient, shop: ShopHandle) -> None:
    """The client's pacing relies on these numbers: connections cost 2 + first x node cost, refund to actual."""
    body = client.gql("{ products(first: 10) { edges { node { id title } } } }")
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 12 and cost["actualQueryCost"] == 12
    assert cost["throttleStatus"] == {"maximumAvailable": 2000.0, "currentlyAvailable": 1988, "restoreRate": 100.0}
    body = client.gql("{ products(first: 10) { nodes { id variants(first: 5) { nodes { id } } } } }")
    assert body["extensions"]["cost"]["requestedQueryCost"] == 2 + 10 * (1 + 2 + 5)
    assert body["extensions"]["cost"]["actualQueryCost"] < body["extensions"]["cost"]["requestedQueryCost"]
    body = client.gql("{ shop { name } }")
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1
    body = client.gql(
        'mutation { webhookSubscriptionDelete(id: "gid://shopify/WebhookSubscription/1") { userErrors { message } } }'
    )
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10


def test_throttled_when_bucket_empty_then_refills_at_plan_rate(
    client: ShopifyClient, shop: ShopHandle, clock: SandboxClock
) -> None:
    """Prevents hammering an empty bucket: THROTTLED (HTTP 200, no data) until restoreRate refills it."""
    shop.api.bucket.drain(50)
    query = "{ products(first: 100) { nodes { id } } }"  # 102 points
    resp = client.post(query)
    assert resp.status_code == 200
    body = resp.json()
    assert "data" not in body
    assert body["errors"][0]["message"] == "Throttled"
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 50
    clock.advance(0.4)  # 100 points/s on the standard plan: 90 available
    assert client.post(query).json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    clock.advance(0.2)  # 110 available
    cost = client.gql(query)["extensions"]["cost"]
    assert cost["actualQueryCost"] == 2 + len(shop.store.products)
    assert cost["throttleStatus"]["currentlyAvailable"] == 110 - cost["actualQueryCost"]


def test_plus_plan_bucket(sandbox: SandboxServer) -> None:
    """Plan numbers come from ShopSpec.options["plan"]: Plus is 1,000 points/s with a 20,000 bucket."""
    client = ShopifyClient(sandbox, sandbox.shop("shop-b"))
    status = client.gql("{ shop { plan { displayName } } }")["extensions"]["cost"]["throttleStatus"]
    assert status["maximumAvailable"] == 20000.0 and status["restoreRate"] == 1000.0


def test_single_query_over_1000_points_is_max_cost_exceeded(client: ShopifyClient) -> None:
    """A query that can never fit must fail fast with MAX_COST_EXCEEDED, not be retried as THROTTLED."""
    body = client.post("{ products(first: 250) { nodes { variants(first: 250) { nodes { id } } } } }").json()
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert body["errors"][0]["extensions"]["cost"] > 1000


def test_connection_needs_first_or_last_and_max_250(client: ShopifyClient) -> None:
    """Shopify rejects unbounded or oversized pages; the emulator must not be more lenient."""
    body = client.post("{ products { nodes { id } } }").json()
    assert body["errors"][0]["message"] == "you must provide one of first or last"
    body = client.post("{ products(first: 251) { nodes { id } } }").json()
    assert "250" in body["errors"][0]["message"]


def test_invalid_field_is_a_validation_error(client: ShopifyClient) -> None:
    """Queries for fields the emulator does not serve fail loudly instead of returning nulls."""
    body = client.post("{ products(first: 1) { nodes { nonexistentField } } }").json()
    assert "nonexistentField" in body["errors"][0]["message"] and "data" not in body


def test_rate_limit_fault_is_shopifys_429(client: ShopifyClient, shop: ShopHandle) -> None:
    """The generic 429 switch answers with Shopify's body and a Retry-After header."""
    shop.faults.rate_limit_burst = 1
    resp = client.post("{ shop { name } }")
    assert resp.status_code == 429 and resp.json() == _error_body(429)
    assert float(resp.headers["Retry-After"]) >= 1
    assert client.post("{ shop { name } }").status_code == 200


def test_missing_scope_is_access_denied_for_that_field(sandbox: SandboxServer) -> None:
    """A token without read_inventory gets ACCESS_DENIED on inventoryItems, not an empty list."""
    client = ShopifyClient(sandbox, sandbox.shop("shop-b"))
    body = client.post("{ inventoryItems(first: 1) { nodes { id } } }").json()
    assert body["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    assert "read_inventory" in body["errors"][0]["message"]


_SET = """mutation($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input)@@KEY@@ {
    inventoryAdjustmentGroup { changes { name delta } } userErrors { code field message } } }"""


def _set_quantity(
    client: ShopifyClient, shop: ShopHandle, version: str, compare: dict[str, object], key: str | None
) -> dict[str, object]:
    variant = next(iter(shop.store.variants.values()))
    item = shop.store.inventory_items[variant.inventory_item_id]
    level = next(iter(shop.store.levels[item.id].values()))
    quantity = {
        "inventoryItemId": f"gid://shopify/InventoryItem/{item.id}",
        "locationId": f"gid://shopify/Location/{level.location_id}",
        "quantity": 5,
        **compare,
    }
    variables = {"input": {"name": "available", "reason": "correction", "quantities": [quantity]}}
    mutation = _SET.replace("@@KEY@@", f' @idempotent(key: "{key}")' if key else "")
    url = shop.https_url + f"/admin/api/{version}/graphql.json"
    oauth = shop.extra["oauth"]
    token = shop.credentials["access_token"]
    before = oauth.tokens[token].scopes
    oauth.tokens[token].scopes = (*before, "write_inventory")
    try:
        return dict(client.post(mutation, variables, url=url).json())
    finally:
        oauth.tokens[token].scopes = before


def _level(shop: ShopHandle) -> InventoryLevel:
    variant = next(iter(shop.store.variants.values()))
    return next(iter(shop.store.levels[variant.inventory_item_id].values()))


def test_inventory_set_quantities_compare_quantity_before_2026_04(client: ShopifyClient, shop: ShopHandle) -> None:
    """Stock pushes on 2026-01 use compareQuantity; a stale compare must be refused, not overwrite a sale."""
    current = _level(shop).available
    stale = _set_quantity(client, shop, "2026-01", {"compareQuantity": current + 1}, None)
    assert stale["data"]["inventorySetQuantities"]["userErrors"][0]["code"] == "COMPARE_QUANTITY_STALE"  # type: ignore[index]
    missing = _set_quantity(client, shop, "2026-01", {}, None)
    assert missing["data"]["inventorySetQuantities"]["userErrors"][0]["code"] == "COMPARE_QUANTITY_REQUIRED"  # type: ignore[index]
    ok = _set_quantity(client, shop, "2026-01", {"compareQuantity": current}, None)
    assert ok["data"]["inventorySetQuantities"]["userErrors"] == [] and _level(shop).available == 5  # type: ignore[index]


def test_inventory_set_quantities_change_from_and_idempotency_from_2026_04(
    client: ShopifyClient, shop: ShopHandle
) -> None:
    """2026-04 refuses a write without @idempotent, compares changeFromQuantity (CHANGE_FROM_QUANTITY_STALE), and a
    retry with the same key is answered from the first call without being applied twice."""
    current = _level(shop).available
    unkeyed = _set_quantity(client, shop, "2026-04", {"changeFromQuantity": current}, None)
    assert "@idempotent" in unkeyed["errors"][0]["message"] and _level(shop).available == current  # type: ignore[index]
    stale = _set_quantity(client, shop, "2026-04", {"changeFromQuantity": current + 1}, "k-stale")
    assert stale["data"]["inventorySetQuantities"]["userErrors"][0]["code"] == "CHANGE_FROM_QUANTITY_STALE"  # type: ignore[index]
    ok = _set_quantity(client, shop, "2026-04", {"changeFromQuantity": current}, "k-1")
    assert ok["data"]["inventorySetQuantities"]["userErrors"] == [] and _level(shop).available == 5  # type: ignore[index]
    _level(shop).available = 7  # a sale or a count in between
    again = _set_quantity(client, shop, "2026-04", {"changeFromQuantity": current}, "k-1")
    assert again["data"] == ok["data"] and _level(shop).available == 7  # the retry was not applied again
    other = _set_quantity(client, shop, "2026-04", {"changeFromQuantity": 7}, "k-1")
    assert other["data"]["inventorySetQuantities"]["userErrors"][0]["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"  # type: ignore[index]
