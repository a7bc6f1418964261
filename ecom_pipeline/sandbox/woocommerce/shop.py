"""Builds one emulated WooCommerce 10.0.2 shop: seeded data, REST v3 API, auth, fault switches."""

from __future__ import annotations

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.faults import FaultSwitches
from ecom_pipeline.sandbox.shop import ShopHandle, ShopSpec
from ecom_pipeline.sandbox.woocommerce.api import WooShopApi
from ecom_pipeline.sandbox.woocommerce.auth import WooAuthenticator, credentials_for
from ecom_pipeline.sandbox.woocommerce.store import WooStore
from ecom_pipeline.sandbox.woocommerce.webhooks import WooWebhooks


def build_shop(spec: ShopSpec, clock: SandboxClock) -> ShopHandle:
    """Generate the shop's data and wire its API (no network).

    ``spec.options``: ``webhook_delay_s`` (seconds between a change and its delivery; default 0, a real store
    takes seconds) and ``webhook_max_failures`` (WooCommerce's ``woocommerce_max_webhook_delivery_failures``, 5: a
    failure when more than that many are counted disables the webhook, i.e. the 7th in a row).
    The webhook registry is ``handle.extra["webhooks"]`` (tests flush it and read its delivery log).
    """
    store = WooStore(
        spec.name,
        **spec.catalogue(),
        timezone=spec.timezone,
        clock=clock,
    )
    ck, cs = credentials_for(spec.name, spec.seed)
    faults = FaultSwitches()
    webhooks = WooWebhooks(
        store,
        delay_s=float(spec.options.get("webhook_delay_s", 0.0)),
        max_failures=int(spec.options.get("webhook_max_failures", 5)),
    )
    api = WooShopApi(store, WooAuthenticator(ck, cs), faults, webhooks)
    return ShopHandle(
        spec=spec,
        store=store,
        faults=faults,
        api=api,
        credentials={"consumer_key": ck, "consumer_secret": cs},
        api_path="/wp-json/wc/v3",
        extra={"webhooks": webhooks},
    )
