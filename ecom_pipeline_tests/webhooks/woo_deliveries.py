"""WooCommerce webhook deliveries for the receiver under test: recorded bodies, and a POST signed like the store's."""

from __future__ import annotations

import json
from typing import Any

import requests

from ecom_pipeline.sandbox.woocommerce.webhooks import php_json, signature
from ecom_pipeline_tests.webhooks.conftest import RECORDED, WC_SECRET, Receiver


def recorded_body(name: str) -> dict[str, Any]:
    return json.loads(json.loads((RECORDED / f"{name}.json").read_text())["request"]["body_raw"])


def woo_headers(topic: str, raw: bytes, *, webhook_id: int, secret: str = WC_SECRET) -> dict[str, str]:
    """The headers WooCommerce sends with a delivery of ``raw``: its topic, resource and event, the webhook's id and
    the base64 HMAC-SHA256 of the raw bytes under the webhook's secret."""
    resource, _, event = topic.partition(".")
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-ID": str(webhook_id),
        "X-WC-Webhook-Signature": signature(secret, raw),
    }


def deliver(
    receiver: Receiver, topic: str, body: dict[str, Any], webhook_id: int = 2, integration_id: int | None = None
) -> None:
    """POST one delivery the way WooCommerce sends it (PHP-style JSON, base64 HMAC of the raw bytes)."""
    raw = php_json(body)
    headers = woo_headers(topic, raw, webhook_id=webhook_id)
    url = receiver.endpoint("woocommerce", integration_id or receiver.wc_integration)
    response = requests.post(url, data=raw, headers=headers)
    assert response.status_code == 200, response.text


def no_client(*_: Any) -> Any:
    raise AssertionError("this delivery must apply without an API call")
