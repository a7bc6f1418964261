"""Shopify's registration (``registry.PLATFORM_PROVIDERS`` calls ``platform_spec``)."""

from __future__ import annotations

from ecom_pipeline.platforms.registry import CliSpec, DemoShop, DemoSpec, PlatformSpec, ReportCheck, WebhookSpec
from ecom_pipeline.platforms.shopify import cli, confirm, connect_rules, deliveries, oauth, webhooks
from ecom_pipeline.platforms.shopify import connect as shopify_connect
from ecom_pipeline.platforms.shopify import extract as shopify_extract
from ecom_pipeline.platforms.shopify import transform as shopify
from ecom_pipeline.platforms.shopify.lifecycle import CHECK_API_VERSION, version_check_from_reports
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
        connect_rules=connect_rules,
        # Orders are not reconciled: deleted only on request (orders/delete webhook) and, without read_all_orders,
        # listable for 60 days only (a partial listing by construction). See ShopifyClient.list_ids.
        writer="ecom_pipeline.platforms.shopify.writer",
        stock="ecom_pipeline.platforms.shopify.stock",
        reconcile=ReconcileSpec(
            resources={"product": "products", "customer": "customers"}, make_client=shopify_extract.make_client
        ),
        webhooks=WebhookSpec(
            # The app's client secret signs deliveries; older installs stored it under other names.
            ("webhook_secret", "client_secret", "api_secret_key", "api_secret"),
            deliveries,
            staged_from_delivery=webhooks.staged_from_delivery,
            reread=webhooks.reread,
            client_for=webhooks.client_for,
            confirm_deleted=confirm.confirm_deleted,
            register=webhooks.connect_webhooks,
            routes=oauth.receiver_routes,
        ),
        emulator="ecom_pipeline.sandbox.shopify.shop:build_shop",
        # On the Plus plan (1,000 query points/s instead of 100), so the demo shows the pipeline rather than the
        # standard plan's pacing (which the benchmarks measure). Connected with an Admin API access token.
        demo=DemoSpec(
            shops=(DemoShop("acme", "acme-shopify", seed=2, options={"plan": "plus"}),),
            connect_args=lambda info: [],
            connect_env=lambda info: {"ECOM_SHOPIFY_ACCESS_TOKEN": info["access_token"]},
        ),
        report_checks=(
            ReportCheck(
                CHECK_API_VERSION,
                "Every Shopify shop is on an API version neither retiring within 90 days nor falling forward "
                "(retired).",
                version_check_from_reports,
            ),
        ),
        cli=CliSpec(add_commands=cli.add_commands, print_status=cli.print_status),
    )
