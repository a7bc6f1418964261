"""WooCommerce webhook deliveries for the receiver under test: recorded bodies, and a POST signed like the store's."""

from __future__ import annotations

import json
from typing import Any

import requests

from ecom_pipeline.sandbox.woocommerce.webhooks import php_json, signature
from ecom_pipeline_tests.webhooks.conftest import RECORDED, WC_SECRET, Receiver


def recorded_body(name: str) -> dict[str, Any]:
    return json.loads(json.loads((RECORDED / f"{name}.json").read_text())["request"]["body_raw"])


def deliver(
    receiver: Receiver, topic: str, body: dict[str, Any], webhook_id: int = 2, integration_id: int | None = None
) -> None:
    """POST one delivery the way WooCommerce sends it (PHP-style JSON, base64 HMAC of the raw bytes)."""
    raw = php_json(body)
    resource, _, event = topic.partition(".")
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-ID": str(webhook_id),
        "X-WC-Webhook-Signature": signature(WC_SECRET, raw),
    }
    url = receiver.endpoint("woocommerce", integration_id or receiver.wc_integration)
    response = requests.post(url, data=raw, headers=headers)
    assert response.status_code == 200, response.text


def no_client(*_: Any) -> Any:
    raise AssertionError("this delivery must apply without an API call")
