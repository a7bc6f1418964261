"""Concurrent deliveries are grouped into shared transactions without losing or doubling any of them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func, select

from ecom_pipeline.warehouse.schema import webhook_inbox
from ecom_pipeline_tests.webhooks.conftest import WC_SECRET, Receiver


def _signed(product_id: int) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"id": product_id, "name": f"P{product_id}", "date_modified_gmt": "2026-11-22T00:00:00"})
    raw = body.encode()
    signature = base64.b64encode(hmac.new(WC_SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": "product.updated",
        "X-WC-Webhook-Resource": "product",
        "X-WC-Webhook-Event": "updated",
        "X-WC-Webhook-ID": "1",
        "X-WC-Webhook-Delivery-ID": "same-second",
        "X-WC-Webhook-Signature": signature,
    }
    return headers, raw


def test_concurrent_deliveries_with_duplicates_are_each_stored_exactly_once(receiver: Receiver) -> None:
    """Prevents group commits from dropping a delivery, storing one twice, or answering 2xx before the commit."""
    url = receiver.endpoint("woocommerce", receiver.wc_integration)
    ids = list(range(1, 301)) + list(range(1, 101))  # 100 exact duplicates mixed in

    def send(product_id: int) -> tuple[int, bool]:
        headers, raw = _signed(product_id)
        with requests.Session() as session:
            response = session.post(url, data=raw, headers=headers, timeout=30)
        return response.status_code, bool(response.json().get("duplicate"))

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(send, ids))
    assert all(status == 200 for status, _ in results)
    assert sum(1 for _, duplicate in results if duplicate) == 100
    with receiver.engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(webhook_inbox)).scalar_one()
        distinct = conn.execute(select(func.count(func.distinct(webhook_inbox.c.resource_id)))).scalar_one()
    assert rows == 300 and distinct == 300
