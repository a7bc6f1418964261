"""Shopify's vendor and product type in the canonical record, from every shape the pull and webhooks read: their
own fields (``vendor``, ``shopify_product_type``), never the kind (``product_type``, WooCommerce's simple/variable)."""

from __future__ import annotations

from ecom_pipeline.platforms.shopify import transform as t
from ecom_pipeline_tests.platforms.shopify.conftest import product_node, variant_node
from ecom_pipeline_tests.platforms.shopify.stub_server import load_sample


def test_graphql_rest_and_webhook_products_give_vendor_and_type_apart_from_the_kind() -> None:
    """Prevents Shopify's free-text type from landing in the kind the WooCommerce push reads, and the vendor from
    being dropped, on the GraphQL pull, the REST sample and the products/update webhook body alike."""
    node = product_node(42, [variant_node(1, "A", "9.90", position=1)])
    graphql = t.product_to_canonical({"product": node, "currency": "EUR"})
    assert (graphql.vendor, graphql.shopify_product_type, graphql.product_type) == ("Acme", "Shirts", None)
    rest = t.product_from_rest(load_sample("rest_2025-07_product.json")["product"], currency="USD")
    assert (rest.vendor, rest.shopify_product_type, rest.product_type) == ("Apple", "Cult Products", None)
    webhook = t.product_from_rest(load_sample("webhook_products_update.json"))
    assert (webhook.vendor, webhook.shopify_product_type, webhook.product_type) == ("Acme", "Shirts", None)


def test_an_empty_vendor_or_type_is_known_empty_not_unknown() -> None:
    """Prevents Shopify's "no vendor" ("") reading as "this platform has no vendor" (None), which resolve leaves
    alone: a vendor cleared in the Shopify admin must clear the hub's."""
    node = {**product_node(7, [variant_node(1, "A", "9.90", position=1)]), "vendor": "", "productType": "  "}
    product = t.product_to_canonical({"product": node, "currency": "EUR"})
    assert (product.vendor, product.shopify_product_type) == ("", "")
