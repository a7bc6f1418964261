"""WooCommerce's registration (``registry.PLATFORM_PROVIDERS`` calls ``platform_spec``)."""

from __future__ import annotations

from ecom_pipeline.platforms.registry import DemoShop, DemoSpec, PlatformSpec, WebhookSpec
from ecom_pipeline.platforms.woocommerce import connect as wc_connect
from ecom_pipeline.platforms.woocommerce import connect_rules, deliveries, demo, webhooks
from ecom_pipeline.platforms.woocommerce import extract as wc_extract
from ecom_pipeline.platforms.woocommerce import transform as wc
from ecom_pipeline.sync.extract import ExtractContext, ExtractReport
from ecom_pipeline.sync.reconcile import ReconcileSpec


def _extract(ctx: ExtractContext, entity: str) -> ExtractReport:
    if entity == "inventory":
        return wc_extract.extract_inventory(ctx)
    return wc_extract.extract_entity(ctx, entity)


def platform_spec() -> PlatformSpec:
    """Products, inventory (read from the staged products), orders and customers through the REST API (wc/v3)."""
    return PlatformSpec(
        name="woocommerce",
        title="WooCommerce",
        extract_entities={"products": "product", "inventory": "inventory", "orders": "order", "customers": "customer"},
        transforms={
            "product": wc.product_to_canonical,
            "inventory": wc.inventory_from_product,
            "order": wc.order_to_canonical,
            "customer": wc.customer_to_canonical,
        },
        extract=_extract,
        extract_deps={"inventory": ("products",), "customers": ("orders",)},
        add_connect_arguments=wc_connect.add_connect_arguments,
        connect=wc_connect.connect,
        connect_rules=connect_rules,
        # No webhook announces a permanent delete: list ids (page numbers, so unlisted ids are asked for again).
        writer="ecom_pipeline.platforms.woocommerce.writer",
        stock="ecom_pipeline.platforms.woocommerce.stock",
        reconcile=ReconcileSpec(
            resources={"product": "products", "order": "orders", "customer": "customers"},
            make_client=wc_extract.make_client,
            confirm_unlisted=True,
            stock_keyed_by_product=True,
            upkeep=webhooks.upkeep,
        ),
        webhooks=WebhookSpec(
            ("webhook_secret",),
            deliveries,
            staged_from_delivery=webhooks.staged_from_delivery,
            reread=webhooks.reread,
            client_for=webhooks.client_for,
            confirm_deleted=webhooks.confirm_deleted,
            register=webhooks.connect_webhooks,
        ),
        emulator="ecom_pipeline.sandbox.woocommerce.shop:build_shop",
        # One shop over HTTPS (Basic auth, our CA) and one over HTTP (OAuth 1.0a): both connection rules run.
        demo=DemoSpec(
            shops=(
                DemoShop("acme", "acme-woo", seed=1, transport="https"),
                DemoShop("globex", "globex-woo", seed=3, webhooks=True),
            ),
            connect_args=demo.connect_args,
            connect_env=demo.connect_env,
            touch_product=demo.touch_product,
        ),
    )
