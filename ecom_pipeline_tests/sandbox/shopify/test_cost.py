"""The emulator charges what Shopify charges (cost.py's docstring has the rules and their sources): a mutation is 10
(or its documented input-dependent cost) plus what its payload selects, a connection is priced by ``first`` when
requested and by the nodes returned when actual. The push benchmark's Shopify floor and the client's cost governor
are only honest if these numbers are Shopify's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline.sandbox.server import SandboxServer
from ecom_pipeline.sandbox.shopify.cost import mutation_base_cost
from ecom_pipeline_tests.sandbox.shopify.conftest import SAMPLES, ShopifyClient

SET_ID_ONLY = """mutation S($input: ProductSetInput!) {
  productSet(input: $input) { product { id } userErrors { field message } }
}"""


def _variants(n: int, price: str = "5.00") -> list[dict[str, Any]]:
    return [
        {"optionValues": [{"optionName": "Size", "name": f"S{i}"}], "sku": f"C-{i}", "price": price} for i in range(n)
    ]


def _product(handle: str, n: int) -> dict[str, Any]:
    return {
        "title": handle,
        "handle": handle,
        "status": "ACTIVE",
        "productOptions": [{"name": "Size", "values": [{"name": f"S{i}"} for i in range(n)]}],
        "variants": _variants(n),
    }


@pytest.fixture
def writer(sandbox: SandboxServer) -> ShopifyClient:
    return ShopifyClient(sandbox, sandbox.shop("shop-b"))  # write_products


def test_dynamic_mutation_costs_are_the_changelogs_worked_examples() -> None:
    """Prevents a productSet/productVariantsBulk* cost that is not Shopify's October 2025 formula (the changelog's
    own examples: 1 variant 10, 20 variants + 5 product metafields 16, 200 variants + 10 files + 20 metafields 77)."""
    assert mutation_base_cost("productSet", {"input": {"variants": [{}]}}) == 10
    assert mutation_base_cost("productSet", {"input": {"variants": [{}] * 20, "metafields": [{}] * 5}}) == 16
    big = {"variants": [{}] * 200, "files": [{}] * 10, "metafields": [{}] * 20}
    assert mutation_base_cost("productSet", {"input": big}) == 77
    assert mutation_base_cost("productSet", {"input": {"variants": [{}] * 3}}) == 11  # 10.6, to the nearest
    bulk = {"variants": [{"mediaSrc": ["a"], "metafields": [{}]}] * 10, "media": [{}]}
    assert mutation_base_cost("productVariantsBulkUpdate", bulk) == 10 + round(0.2 * 10 + 0.6 * 10 + 0.4 * 10 + 1.9)
    assert mutation_base_cost("productUpdate", {"product": {"metafields": [{}] * 5}}) == 12
    assert mutation_base_cost("inventorySetQuantities", {"input": {"quantities": [{}] * 250}}) == 10
    assert mutation_base_cost("webhookSubscriptionDelete", {}) == 10


@pytest.mark.parametrize(("variants", "cost"), [(1, 10), (3, 11), (20, 14), (50, 20)])
def test_product_set_costs_10_plus_a_fifth_per_variant(writer: ShopifyClient, variants: int, cost: int) -> None:
    """Prevents the flat 10 (or the pre-2025-10 flat 50) for a productSet of N variants: 10 + 0.2 x N."""
    body = writer.gql(SET_ID_ONLY, {"input": _product(f"n{variants}", variants)})
    assert body["data"]["productSet"]["userErrors"] == []
    assert body["extensions"]["cost"]["requestedQueryCost"] == cost
    assert body["extensions"]["cost"]["actualQueryCost"] == cost


def test_the_writers_product_set_pays_for_its_variants_page(writer: ShopifyClient) -> None:
    """Prevents a mutation that charges nothing for its selection: the writer's answer reads ``variants(first:
    100)``, so 10.6 + options 1 + 2 + 100 x 5 are requested, and the 3 variants returned are what is charged."""
    body = writer.gql(q.PRODUCT_SET_MUTATION, {"input": _product("page", 3)})
    cost = body["extensions"]["cost"]
    per_variant = 1 + 4  # the variant; selectedOptions, inventoryItem, its measurement, its weight
    assert cost["requestedQueryCost"] == 11 + 1 + 2 + 100 * per_variant
    assert cost["actualQueryCost"] == 11 + 1 + 2 + 3 * per_variant


def test_product_variants_bulk_update_costs_10_plus_its_variants_and_selection(writer: ShopifyClient) -> None:
    """Prevents a flat 10 for productVariantsBulkUpdate: 10 + 0.2 per variant, plus the payload's selection (a
    connection by ``first`` requested, by the nodes returned actual)."""
    product = writer.gql(SET_ID_ONLY, {"input": _product("bulkup", 5)})["data"]["productSet"]["product"]
    ids = writer.gql(
        "query P($id: ID!) { product(id: $id) { variants(first: 10) { nodes { id } } } }", {"id": product["id"]}
    )["data"]["product"]["variants"]["nodes"]
    mutation = """mutation U($p: ID!, $v: [ProductVariantsBulkInput!]!) {
      productVariantsBulkUpdate(productId: $p, variants: $v) {
        product { variants(first: 10) { nodes { id } } }
        productVariants { id price }
        userErrors { field message }
      }
    }"""
    variants = [{"id": v["id"], "price": "7.00"} for v in ids]
    body = writer.gql(mutation, {"p": product["id"], "v": variants})
    assert body["data"]["productVariantsBulkUpdate"]["userErrors"] == []
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 11 + 2 + 10  # 10 + 5 x 0.2 = 11; the connection 2 + 10 x 1
    assert cost["actualQueryCost"] == 11 + 2 + 5  # 5 variants returned


def test_mutation_costs_match_the_shopify_dev_samples(writer: ShopifyClient, sandbox: SandboxServer) -> None:
    """Prevents mutation costs other than the ones shopify.dev prints (bulk-imports guide): stagedUploadsCreate with
    ``parameters`` 11, webhookSubscriptionCreate and bulkOperationRunMutation with their payload objects 10."""
    staged = writer.gql(
        """mutation { stagedUploadsCreate(input: [{resource: BULK_MUTATION_VARIABLES, filename: "bulk_op_vars",
        mimeType: "text/jsonl", httpMethod: POST}]) {
          userErrors { field message } stagedTargets { url resourceUrl parameters { name value } } } }"""
    )
    assert (staged["extensions"]["cost"]["requestedQueryCost"], staged["extensions"]["cost"]["actualQueryCost"]) == (
        11,
        11,
    )
    hook = writer.gql(
        """mutation { webhookSubscriptionCreate(topic: BULK_OPERATIONS_FINISH,
        webhookSubscription: {format: JSON, uri: "https://12345.example/"}) {
          userErrors { field message } webhookSubscription { id } } }"""
    )
    assert (hook["extensions"]["cost"]["requestedQueryCost"], hook["extensions"]["cost"]["actualQueryCost"]) == (10, 10)
    inner = "mutation call($input: ProductSetInput!) { productSet(input: $input) { product { id } } }"
    run = writer.gql(
        """mutation R($m: String!) { bulkOperationRunMutation(mutation: $m, stagedUploadPath: "tmp/none.jsonl") {
          bulkOperation { id url status } userErrors { message field } } }""",
        {"m": inner},
    )
    assert run["extensions"]["cost"]["requestedQueryCost"] == 10
    assert run["extensions"]["cost"]["actualQueryCost"] == 10


def test_query_cost_matches_the_fixture_sample_and_charges_returned_nodes(writer: ShopifyClient) -> None:
    """Prevents a requested cost that is not an upper bound or an actual one not refunded to the nodes returned; and
    the one cost sample the shared fixtures hold (``shop { name }`` = 1)."""
    sample = json.loads((SAMPLES / "graphql_cost_and_throttle_synthetic.json").read_text())["ok_response"]
    body = writer.gql("{ shop { name } }")
    assert body["extensions"]["cost"]["requestedQueryCost"] == sample["extensions"]["cost"]["requestedQueryCost"]
    assert body["extensions"]["cost"]["actualQueryCost"] == sample["extensions"]["cost"]["actualQueryCost"]
    writer.gql(SET_ID_ONLY, {"input": _product("few", 2)})
    body = writer.gql(
        '{ products(first: 50, query: "handle:few") { nodes { id variants(first: 10) { nodes { id } } } } }'
    )
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 50 * (1 + 2 + 10)
    assert cost["actualQueryCost"] == 2 + len(body["data"]["products"]["nodes"]) * (1 + 2 + 2)
