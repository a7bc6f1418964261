"""The emulator's webhooks against the recordings: subscription shape, ping, delivery headers, signature, topics."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest

from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle
from ecom_pipeline_tests.local_http import QuietHandler, serving
from ecom_pipeline_tests.sandbox.conftest import RECORDED, WooClient

SECRET = "wc-test-webhook-secret-2026"


class Capture:
    """A subscriber that records every request (headers in wire order, raw body); ``url`` while ``served``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.url = ""
        capture = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                capture.requests.append({"path": self.path, "headers": list(self.headers.items()), "body": body})
                self.send_response(200)
                self.end_headers()

        self.handler = Handler


@pytest.fixture
def capture() -> Iterator[Capture]:
    cap = Capture()
    with serving(cap.handler) as base:
        cap.url = f"{base}/hook"
        yield cap


@pytest.fixture
def hooks(shop: ShopHandle, client: WooClient) -> Iterator[Any]:
    yield shop.extra["webhooks"]
    for hook in client.get("/webhooks", {"per_page": 100}).json():
        client.request("DELETE", f"/webhooks/{hook['id']}", {"force": "true"})


def _recorded(name: str) -> dict[str, Any]:
    return json.loads((RECORDED / f"{name}.json").read_text())


def test_webhook_crud_matches_recordings_and_never_returns_the_secret(
    client: WooClient, capture: Capture, hooks: Any
) -> None:
    """Prevents registration code written against the emulator from breaking on a real store."""
    body = {"name": "t", "topic": "product.created", "delivery_url": capture.url, "secret": SECRET, "status": "active"}
    created = client.request("POST", "/webhooks", json=body)
    assert created.status_code == 201
    recorded = _recorded("webhooks-create-product-created")["response"]["body"]
    assert list(created.json()) == list(recorded) and "secret" not in created.json()
    assert created.json()["hooks"] == recorded["hooks"]
    (ping,) = capture.requests
    assert ping["body"] == f"webhook_id={created.json()['id']}".encode()
    assert not any(k.lower().startswith("x-wc-webhook") for k, _ in ping["headers"])
    listed = client.get("/webhooks")
    assert listed.headers["X-WP-Total"] == "1" and "secret" not in listed.json()[0]
    bad_topic = client.request("POST", "/webhooks", json={**body, "topic": "product.exploded"})
    assert bad_topic.json() == _recorded("errors-400-webhook-invalid-topic")["response"]["body"]
    bad_url = client.request("POST", "/webhooks", json={**body, "delivery_url": "not a url"})
    assert bad_url.json() == _recorded("errors-400-webhook-invalid-delivery-url")["response"]["body"]
    wid = created.json()["id"]
    assert client.request("DELETE", f"/webhooks/{wid}").status_code == 501
    assert client.request("DELETE", f"/webhooks/{wid}", {"force": "true"}).json()["id"] == wid


def test_deliveries_carry_recorded_headers_a_valid_signature_and_the_send_time_rendering(
    sandbox: SandboxServer, shop: ShopHandle, client: WooClient, capture: Capture, hooks: Any
) -> None:
    """Prevents a receiver tested only against the emulator from failing on real deliveries."""
    for topic in ("product.created", "product.updated"):
        client.request("POST", "/webhooks", json={"topic": topic, "delivery_url": capture.url, "secret": SECRET})
    capture.requests.clear()
    shop.store.clock.freeze()
    try:
        parent = next(p for p in shop.store.products.values() if p.type == "variable" and p.status == "publish")
        client.request("POST", f"/products/{parent.id}/variations", json={"regular_price": "5.00", "sku": "HOOK-V1"})
        simple, other = [p for p in shop.store.products.values() if p.type == "simple" and p.status == "publish"][:2]
        client.request("PUT", f"/products/{other.id}", json={"regular_price": "18.88"})
        client.request("PUT", f"/products/{simple.id}", json={"regular_price": "19.99"})
        assert hooks.flush(10)
    finally:
        shop.store.clock.unfreeze()
    recorded_order = [k for k in _recorded("webhook-delivery-product-created-simple")["request"]["headers"]]
    by_topic: dict[str, dict[str, Any]] = {}
    update_ids: list[str] = []
    for request in capture.requests:
        headers = dict(request["headers"])
        names = [k for k, _ in request["headers"] if k not in ("Host", "Content-Length")]
        assert names == [k for k in recorded_order if k not in ("Host", "Content-Length")]
        expected = base64.b64encode(hmac.new(SECRET.encode(), request["body"], hashlib.sha256).digest()).decode()
        assert headers["X-WC-Webhook-Signature"] == expected
        assert headers["User-Agent"] == "WooCommerce/10.0.2 Hookshot (WordPress/6.8.8)"
        by_topic[headers["X-WC-Webhook-Topic"]] = {"headers": headers, "body": json.loads(request["body"])}
        if headers["X-WC-Webhook-Topic"] == "product.updated":
            update_ids.append(headers["X-WC-Webhook-Delivery-ID"])
        assert b"\\/" in request["body"]
    variation = by_topic["product.created"]["body"]
    assert variation["type"] == "variation" and variation["parent_id"] == parent.id
    assert by_topic["product.updated"]["body"]["regular_price"] == "19.99"
    # Like the recording: one webhook's deliveries within one second share their Delivery-ID.
    assert len(update_ids) >= 2 and len(set(update_ids)) == 1


def test_order_stock_change_fires_product_updated_and_trash_fires_deleted_with_id_only(
    shop: ShopHandle, client: WooClient, capture: Capture, hooks: Any
) -> None:
    """Prevents the emulator from hiding the stock-by-order and deletion deliveries a real store sends."""
    for topic in ("product.updated", "product.deleted"):
        client.request("POST", "/webhooks", json={"topic": topic, "delivery_url": capture.url, "secret": SECRET})
    capture.requests.clear()
    item = next(
        p
        for p in shop.store.products.values()
        if p.type == "simple" and p.manage_stock and (p.stock_quantity or 0) > 2 and p.status == "publish"
    )
    client.request("POST", "/orders", json={"set_paid": True, "line_items": [{"product_id": item.id, "quantity": 1}]})
    assert hooks.flush(10)
    (updated,) = [json.loads(r["body"]) for r in capture.requests]
    assert updated["id"] == item.id and updated["stock_quantity"] == item.stock_quantity
    capture.requests.clear()
    client.request("DELETE", f"/products/{item.id}")
    assert hooks.flush(10)
    bodies = {dict(r["headers"])["X-WC-Webhook-Topic"]: r["body"] for r in capture.requests}
    assert bodies["product.deleted"] == f'{{"id":{item.id}}}'.encode()


def test_coupon_created_delivers_the_coupon_not_an_error_body(client: WooClient, capture: Capture, hooks: Any) -> None:
    """Prevents coupon.* deliveries from carrying a REST error instead of the coupon (coupons are a topic)."""
    client.request("POST", "/webhooks", json={"topic": "coupon.created", "delivery_url": capture.url, "secret": SECRET})
    capture.requests.clear()
    coupon = client.request("POST", "/coupons", json={"code": "HOOKED5", "amount": "5"}).json()
    assert hooks.flush(10)
    (delivery,) = [json.loads(r["body"]) for r in capture.requests]
    assert (delivery["id"], delivery["code"], delivery["amount"]) == (coupon["id"], "hooked5", "5.00")
