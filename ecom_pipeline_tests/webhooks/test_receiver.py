"""The receiver over real HTTP: signatures, exactly-once storage, ping, unknown integrations, size limits.

Every delivery used here is a real recorded WooCommerce delivery (or Shopify's documented sample) with its real
signature, so a receiver that re-serialises the body or compares the wrong bytes fails these tests.
"""

from __future__ import annotations

import json
import time

import requests
from sqlalchemy import func, select

from ecom_pipeline.warehouse.schema import webhook_inbox
from ecom_pipeline.webhooks.signatures import generic_signature
from ecom_pipeline_tests.webhooks.conftest import SAMPLES, TENANT, WC_SECRET, Receiver, recorded_delivery


def _rows(receiver: Receiver) -> list:
    with receiver.engine.connect() as conn:
        return list(conn.execute(select(webhook_inbox).order_by(webhook_inbox.c.id)))


def _post(receiver: Receiver, name: str, **changes: object) -> requests.Response:
    headers, body = recorded_delivery(name)
    headers.update({k: v for k, v in changes.items() if isinstance(v, str)})
    return requests.post(
        receiver.endpoint("woocommerce", receiver.wc_integration), data=body, headers=headers, timeout=5
    )


def test_recorded_woocommerce_deliveries_verify_and_are_stored_with_their_raw_body(receiver: Receiver) -> None:
    """Prevents a receiver that checks the signature over re-encoded JSON (the recorded escapes would break it)."""
    names = [
        "webhook-delivery-product-created-simple",
        "webhook-delivery-product-created-variable",
        "webhook-delivery-order-created-processing",
    ]
    for name in names:
        response = _post(receiver, name)
        assert response.status_code == 200, response.text
        assert response.json() == {"ok": True, "duplicate": False}
    rows = _rows(receiver)
    assert [r.topic for r in rows] == ["product.created", "product.created", "order.created"]
    _, raw = recorded_delivery(names[0])
    assert rows[0].body.encode() == raw
    assert rows[0].resource_id == "11" and rows[0].webhook_id == "1" and rows[0].status == "pending"
    assert rows[0].headers["x-wc-webhook-delivery-id"] == "132f51ff3c07e5ab97c68251e09224d9"
    assert rows[0].triggered_at is not None and rows[0].received_at is not None


def test_same_delivery_id_for_different_products_is_not_taken_for_a_duplicate(receiver: Receiver) -> None:
    """Prevents losing product 12 because WooCommerce reused product 11's X-WC-Webhook-Delivery-ID in one second."""
    assert _post(receiver, "webhook-delivery-product-created-simple").status_code == 200
    assert _post(receiver, "webhook-delivery-product-created-same-delivery-id").status_code == 200
    assert sorted(r.resource_id for r in _rows(receiver)) == ["11", "12"]


def test_a_redelivered_event_is_stored_once(receiver: Receiver) -> None:
    """Prevents double-applying an event the shop sent twice (retry after a timeout, two receivers)."""
    first = _post(receiver, "webhook-delivery-product-updated-price")
    second = _post(receiver, "webhook-delivery-product-updated-price")
    assert first.status_code == second.status_code == 200
    assert second.json()["duplicate"] is True
    assert len(_rows(receiver)) == 1


def test_wrong_or_missing_signature_is_refused_and_nothing_is_stored(receiver: Receiver) -> None:
    """Prevents anyone who knows the URL from writing into a merchant's hub."""
    wrong = _post(receiver, "webhook-delivery-product-created-simple", **{"X-WC-Webhook-Signature": "AAAA" * 11})
    assert wrong.status_code == 401
    headers, body = recorded_delivery("webhook-delivery-product-created-simple")
    headers.pop("X-WC-Webhook-Signature")
    missing = requests.post(receiver.endpoint("woocommerce", receiver.wc_integration), data=body, headers=headers)
    assert missing.status_code == 401
    tampered = requests.post(
        receiver.endpoint("woocommerce", receiver.wc_integration),
        data=body.replace(b'"price":"9.90"', b'"price":"0.01"'),
        headers=recorded_delivery("webhook-delivery-product-created-simple")[0],
    )
    assert tampered.status_code == 401
    assert _rows(receiver) == []


def test_woocommerce_creation_ping_is_answered_200_and_not_stored(receiver: Receiver) -> None:
    """Prevents a failing ping (WooCommerce shows it to the merchant) and junk rows in the inbox."""
    headers, body = recorded_delivery("webhook-delivery-ping")
    response = requests.post(receiver.endpoint("woocommerce", receiver.wc_integration), data=body, headers=headers)
    assert response.status_code == 200
    assert _rows(receiver) == []


def test_unknown_integration_or_wrong_platform_is_404(receiver: Receiver) -> None:
    """Prevents storing deliveries nobody can attribute to a tenant."""
    headers, body = recorded_delivery("webhook-delivery-product-created-simple")
    assert requests.post(receiver.endpoint("woocommerce", 999_999), data=body, headers=headers).status_code == 404
    assert (
        requests.post(receiver.endpoint("shopify", receiver.wc_integration), data=body, headers=headers).status_code
        == 404
    )
    assert requests.post(f"{receiver.url}/webhooks/woocommerce/abc", data=body, headers=headers).status_code == 404
    assert _rows(receiver) == []


def test_oversized_bodies_are_refused_by_content_length_and_while_streaming(receiver: Receiver) -> None:
    """Prevents a huge (or endless chunked) body from exhausting the receiver's memory."""
    url = receiver.endpoint("woocommerce", receiver.wc_integration)
    big = b"{" + b" " * (70 * 1024) + b"}"
    assert requests.post(url, data=big, headers={"Content-Type": "application/json"}).status_code == 413
    chunked = requests.post(url, data=iter([b" " * 16 * 1024] * 8), headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413
    assert _rows(receiver) == []


def test_shopify_sample_signature_verifies_and_keeps_event_id_and_trigger_time(receiver: Receiver) -> None:
    """Prevents losing Shopify's delivery identity (a retry is a duplicate; event id and trigger time kept)."""
    sample = json.loads((SAMPLES / "shopify" / "webhook_delivery_headers_orders_create.json").read_text())
    body = (SAMPLES / sample["body_file"]).read_bytes()
    url = receiver.endpoint("shopify", receiver.shopify_integration)
    assert requests.post(url, data=body, headers=sample["headers"]).status_code == 200
    assert requests.post(url, data=body, headers=sample["headers"]).json()["duplicate"] is True
    bad = dict(sample["headers"], **{"X-Shopify-Hmac-Sha256": sample["headers"]["X-Shopify-Hmac-Sha256"][::-1]})
    assert requests.post(url, data=body, headers=bad).status_code == 401
    (row,) = _rows(receiver)
    assert row.delivery_key.startswith(f"shopify:{receiver.shopify_integration}:")
    assert row.event_id == sample["headers"]["X-Shopify-Event-Id"]
    assert row.webhook_id == sample["headers"]["X-Shopify-Webhook-Id"]
    # The body's own (signed) updated_at, 2021-12-31T19:00:00-05:00; X-Shopify-Triggered-At is unsigned.
    assert row.triggered_at.isoformat().startswith("2022-01-01T00:00:00")


def test_generic_endpoint_checks_signature_and_timestamp_skew(receiver: Receiver) -> None:
    """Prevents replaying a captured generic delivery later (the timestamp is signed and must be recent)."""
    url = receiver.endpoint("generic", receiver.generic_integration)
    body = b'{"id": 7, "state": "paid"}'
    now = str(int(time.time()))
    good = {"X-Ecom-Timestamp": now, "X-Ecom-Signature": generic_signature("generic-s3cret", now, body)}
    assert requests.post(url, data=body, headers={**good, "X-Ecom-Topic": "receipt.paid"}).status_code == 200
    old = str(int(time.time()) - 600)
    stale = {"X-Ecom-Timestamp": old, "X-Ecom-Signature": generic_signature("generic-s3cret", old, body)}
    assert requests.post(url, data=body, headers=stale).status_code == 401
    assert requests.post(url, data=body, headers={"X-Ecom-Timestamp": now}).status_code == 401
    rows = _rows(receiver)
    assert [(r.topic, r.resource_id, r.platform) for r in rows] == [("receipt.paid", "7", "etsy")]
    with receiver.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(webhook_inbox)).scalar_one() == 1
    # Nothing applies a generic delivery of a platform without a planner: dead-lettered with the reason at its first
    # apply, not after 8 retries (each a Dagster run the sensor would launch, two hours of backoff).
    from ecom_pipeline.webhooks.apply import apply_inbox

    report = apply_inbox(receiver.engine, tenant_id=TENANT, run_id="generic", cipher=receiver.cipher)
    assert (report.dead, report.retried, report.applied) == (1, 0, 0)
    assert "no webhook apply for platform 'etsy'" in report.dead_letters[0]["error"]


def test_integration_ids_must_be_plain_ascii_digits_without_leading_zeros(receiver: Receiver) -> None:
    """Prevents `0001`, an Arabic-Indic digit or `+1` from reaching integration 1 (one shop, many URLs), and a
    huge id from ending in a database overflow and a 500."""
    headers, body = recorded_delivery("webhook-delivery-product-created-simple")
    assert receiver.wc_integration == 1
    for raw in ("0001", "01", "%D9%A1", "+1", "1_0", "%201", "-1", "0", "99999999999999999999999", "2147483648"):
        response = requests.post(f"{receiver.url}/webhooks/woocommerce/{raw}", data=body, headers=headers, timeout=5)
        assert response.status_code == 404, (raw, response.status_code, response.text)
        assert response.json()["code"] == "unknown_integration"
        assert "positive integer" in response.json()["message"], raw
    assert _rows(receiver) == []
    assert _post(receiver, "webhook-delivery-product-created-simple").status_code == 200


def test_generic_route_refuses_integrations_of_a_platform_with_its_own_route(receiver: Receiver) -> None:
    """Prevents /webhooks/generic/<id> from accepting deliveries for a WooCommerce (or Shopify) integration, whose
    signature scheme and unsigned headers then escape the platform's own checks."""
    body = b'{"id": 11, "name": "Mug"}'
    now = str(int(time.time()))
    headers = {
        "X-Ecom-Timestamp": now,
        "X-Ecom-Signature": generic_signature(WC_SECRET, now, body),
        "X-Ecom-Topic": "product.deleted",
    }
    response = requests.post(receiver.endpoint("generic", receiver.wc_integration), data=body, headers=headers)
    assert response.status_code == 404, response.text
    assert "/webhooks/woocommerce/" in response.json()["message"]
    assert _rows(receiver) == []


def test_a_signed_update_resent_as_a_delete_or_with_new_ids_is_not_a_new_delivery(receiver: Receiver) -> None:
    """Prevents unsigned headers from changing what is stored: a captured product.updated re-sent with
    X-WC-Webhook-Topic: product.deleted (or a new X-WC-Webhook-ID / Delivery-ID) must not become a second
    delivery, let alone a delete."""
    assert _post(receiver, "webhook-delivery-product-updated-price").json() == {"ok": True, "duplicate": False}
    forged = [
        {"X-WC-Webhook-Topic": "product.deleted", "X-WC-Webhook-Event": "deleted"},
        {"X-WC-Webhook-ID": "99", "X-WC-Webhook-Delivery-ID": "0" * 32},
        {"X-WC-Webhook-Topic": "product.created", "X-WC-Webhook-ID": "1"},
    ]
    for headers in forged:
        response = _post(receiver, "webhook-delivery-product-updated-price", **headers)
        assert response.status_code == 200, response.text
        assert response.json()["duplicate"] is True, headers
    (row,) = _rows(receiver)
    assert row.topic == "product.updated"


def test_a_delete_topic_over_a_live_record_is_stored_as_the_update_it_is(receiver: Receiver) -> None:
    """Prevents a live product's signed body, sent first under a delete topic, from being stored as a delete."""
    response = _post(
        receiver,
        "webhook-delivery-product-updated-price",
        **{"X-WC-Webhook-Topic": "product.deleted", "X-WC-Webhook-Event": "deleted"},
    )
    assert response.status_code == 200, response.text
    (row,) = _rows(receiver)
    assert row.topic == "product.updated" and row.resource_id == "11"
    assert row.headers["x-wc-webhook-topic"] == "product.deleted", "what was sent stays on record"


def test_a_topic_that_contradicts_the_signed_body_is_refused(receiver: Receiver) -> None:
    """Prevents an order's signed body from being applied as a product (or a product's as a customer)."""
    order = _post(receiver, "webhook-delivery-order-created-pending", **{"X-WC-Webhook-Topic": "product.updated"})
    assert order.status_code == 422, order.text
    assert order.json()["code"] == "topic_mismatch" and "order" in order.json()["message"]
    product = _post(receiver, "webhook-delivery-product-created-simple", **{"X-WC-Webhook-Topic": "customer.deleted"})
    assert product.status_code == 422
    assert _rows(receiver) == []


def test_shopify_unsigned_topic_and_webhook_id_cannot_forge_a_delete_or_a_new_delivery(receiver: Receiver) -> None:
    """Prevents the same forgeries through Shopify's unsigned X-Shopify-Topic / X-Shopify-Webhook-Id."""
    sample = json.loads((SAMPLES / "shopify" / "webhook_delivery_headers_products_update.json").read_text())
    body = (SAMPLES / sample["body_file"]).read_bytes()
    url = receiver.endpoint("shopify", receiver.shopify_integration)
    first = requests.post(url, data=body, headers={**sample["headers"], "X-Shopify-Topic": "products/delete"})
    assert first.status_code == 200 and first.json()["duplicate"] is False
    again = requests.post(url, data=body, headers={**sample["headers"], "X-Shopify-Webhook-Id": "forged-new-id"})
    assert again.status_code == 200 and again.json()["duplicate"] is True
    (row,) = _rows(receiver)
    assert row.topic == "products/update"
    orders = json.loads((SAMPLES / "shopify" / "webhook_delivery_headers_orders_create.json").read_text())
    order_body = (SAMPLES / orders["body_file"]).read_bytes()
    mismatch = requests.post(url, data=order_body, headers={**orders["headers"], "X-Shopify-Topic": "products/update"})
    assert mismatch.status_code == 422 and mismatch.json()["code"] == "topic_mismatch"
    assert len(_rows(receiver)) == 1


def test_a_stored_row_keeps_a_bounded_set_of_headers(receiver: Receiver) -> None:
    """Prevents a captured delivery re-sent with dozens of padded X-WC-Webhook-* headers from storing them all:
    what one inbox row holds is bounded (the body by the body limit, the headers by count and length)."""
    headers, body = recorded_delivery("webhook-delivery-product-updated-price")
    padded = {f"X-WC-Webhook-Pad-{i}": "p" * 200 for i in range(40)} | headers  # padding sent first
    padded["X-WC-Webhook-Source"] = "http://127.0.0.1:8080/" + "s" * 2000
    url = receiver.endpoint("woocommerce", receiver.wc_integration)
    response = requests.post(url, data=body, headers=padded, timeout=5)
    assert response.status_code == 200, response.text
    (row,) = _rows(receiver)
    assert len(row.headers) <= 24 and all(len(v) <= 512 for v in row.headers.values())
    assert len(json.dumps(row.headers)) < 16 * 1024
    assert row.headers["x-wc-webhook-topic"] == "product.updated", "the headers that matter are kept first"


def test_an_integrations_signing_key_is_not_in_its_repr() -> None:
    """Prevents a traceback or log line that prints the receiver's cached integration from printing the decrypted
    webhook secret (the cache entries are handed around every request)."""
    from ecom_pipeline.webhooks.app import IntegrationInfo

    info = IntegrationInfo(id=1, tenant_id="acme", platform="woocommerce", active=True, secret="wc-very-secret")
    assert "wc-very-secret" not in repr(info) and "wc-very-secret" not in str(info)
    assert info.secret == "wc-very-secret"
