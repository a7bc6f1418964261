"""Shopify's entry in the platform registry (``registry.PLATFORM_MODULES`` imports ``platform_spec`` from here)."""

from __future__ import annotations

from ecom_pipeline.platforms.registry import PlatformSpec
from ecom_pipeline.platforms.shopify import connect as shopify_connect
from ecom_pipeline.platforms.shopify import extract as shopify_extract
from ecom_pipeline.platforms.shopify import transform as shopify
from ecom_pipeline.sync.extract import ExtractContext, ExtractReport
from ecom_pipeline.sync.reconcile import ReconcileSpec


def _extract(ctx: ExtractContext, entity: str) -> ExtractReport:
    return shopify_extract.extract_entity(ctx, entity)


def platform_spec() -> PlatformSpec:
    """Products, inventory (levels per location), orders and customers through the GraphQL Admin API."""
    return PlatformSpec(
        name="shopify",
        title="Shopify",
        extract_entities={"products": "product", "inventory": "inventory", "orders": "order", "customers": "customer"},
        transforms={
            "product": shopify.product_to_canonical,
            "inventory": shopify.inventory_to_canonical,
            "order": shopify.order_to_canonical,
            "customer": shopify.customer_to_canonical,
        },
        extract=_extract,
        # Inventory rows attach to variants the product sync created; customers after orders like WooCommerce.
        extract_deps={"inventory": ("products",)},
        add_connect_arguments=shopify_connect.add_connect_arguments,
        connect=shopify_connect.connect,
        # Orders are not reconciled: deleted only on request (orders/delete webhook) and, without read_all_orders,
        # listable for 60 days only (a partial listing by construction). See ShopifyClient.list_ids.
        reconcile=ReconcileSpec(
            resources={"product": "products", "customer": "customers"}, make_client=shopify_extract.make_client
        ),
    )
