"""PrestaShop's registration (``registry.PLATFORM_PROVIDERS`` calls ``platform_spec``)."""

from __future__ import annotations

from ecom_pipeline.platforms.prestashop import connect as ps_connect
from ecom_pipeline.platforms.prestashop import deliveries, webhooks
from ecom_pipeline.platforms.prestashop import extract as ps_extract
from ecom_pipeline.platforms.prestashop import transform as ps
from ecom_pipeline.platforms.registry import DemoShop, DemoSpec, PlatformSpec, WebhookSpec
from ecom_pipeline.sync.reconcile import ReconcileSpec


def platform_spec() -> PlatformSpec:
    """Products, inventory (after products: stock rows need the variant links), orders and customers.

    PrestaShop has no webhooks in core: its shops are polled, and a module on the shop may post signed change
    notices (``deliveries``), each applied by re-reading the record (``webhooks``); connect with
    ``--webhook-secret`` to accept them.
    """
    return PlatformSpec(
        name="prestashop",
        title="PrestaShop",
        extract_entities={"products": "product", "inventory": "inventory", "orders": "order", "customers": "customer"},
        transforms={
            "product": ps.product_to_canonical,
            "inventory": ps.inventory_to_canonical,
            "order": ps.order_to_canonical,
            "customer": ps.customer_to_canonical,
        },
        extract=ps_extract.extract,
        extract_deps={"inventory": ("products",)},
        add_connect_arguments=ps_connect.add_connect_arguments,
        connect=ps_connect.connect,
        # The webservice's display=[id] listing (keyset by id), the one the extract uses.
        writer="ecom_pipeline.platforms.prestashop.writer",
        stock="ecom_pipeline.platforms.prestashop.stock",
        reconcile=ReconcileSpec(
            resources={"product": "products", "order": "orders", "customer": "customers"},
            make_client=ps_extract.make_client,
            stock_keyed_by_product=True,
        ),
        webhooks=WebhookSpec(
            ("webhook_secret",),
            deliveries,
            staged_from_delivery=webhooks.staged_from_delivery,
            client_for=webhooks.client_for,
            reread=webhooks.reread,
            confirm_deleted=webhooks.confirm_deleted,
        ),
        emulator="ecom_pipeline.sandbox.prestashop.shop:build_shop",
        # Two languages (English default, French), like the recorded real two-language store; webservice key.
        demo=DemoSpec(
            shops=(DemoShop("initech", "initech-presta", seed=4, options={"languages": ["en", "fr"]}),),
            connect_args=lambda info: [],
            connect_env=lambda info: {"ECOM_PRESTASHOP_API_KEY": info["api_key"]},
        ),
    )
