"""What a WooCommerce webhook delivery is: its signature, its topic checked against the signed body, its key.

WooCommerce signs the raw body only (``X-WC-Webhook-Signature``: base64 HMAC-SHA256 with the webhook's secret); the
topic, resource, event, webhook id and delivery id travel in unsigned headers, so the body decides what is stored
wherever it can say (see ``webhooks/inbox.py`` for the rules every platform follows).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecom_pipeline.webhooks import inbox
from ecom_pipeline.webhooks.signatures import verify_base64_hmac

SIGNATURE_HEADER = "x-wc-webhook-signature"
TOPIC_HEADER = "x-wc-webhook-topic"
HEADER_PREFIX = "x-wc-webhook-"
KNOWN_HEADERS = tuple(
    f"x-wc-webhook-{n}" for n in ("source", "topic", "resource", "event", "signature", "id", "delivery-id")
)
# Resources whose topics we check against the body (and which an id-only body may be keyed under).
KINDS = ("product", "order", "customer", "coupon")
# Which inbox topics describe which staging entity (topic prefix match).
TOPIC_ENTITIES: Mapping[str, tuple[str, ...]] = {
    "product": ("product.",),
    "order": ("order.",),
    "customer": ("customer.",),
}


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """WooCommerce's creation ping: form body ``webhook_id=N`` and no X-WC-Webhook-* headers (never stored)."""
    if any(k.startswith("x-wc-webhook-") for k in headers):
        return False
    text = body.decode("latin-1").strip()
    return text.startswith("webhook_id=") and text[len("webhook_id=") :].isdigit()


def verify(secret: str | None, headers: Mapping[str, str], body: bytes, now: float) -> str | None:
    """None when X-WC-Webhook-Signature is the body's HMAC under the shop's webhook secret, else why not."""
    if verify_base64_hmac(secret, body, headers.get(SIGNATURE_HEADER)):
        return None
    return "X-WC-Webhook-Signature is missing or does not match"


def sent_topic(headers: Mapping[str, str]) -> str:
    return headers.get(TOPIC_HEADER, "")


def _collection(links: Any) -> str | None:
    """The REST collection a WooCommerce body's ``_links`` point at (``.../wc/v3/products`` -> ``products``)."""
    if not isinstance(links, dict):
        return None
    for rel in ("collection", "self"):
        entries = links.get(rel)
        if isinstance(entries, list) and entries and isinstance(entries[0], dict):
            path = str(entries[0].get("href") or "").split("?", 1)[0].rstrip("/")
            parts = path.split("/wc/", 1)[-1].split("/")
            # wc/v3/products[/11] -> products; wc/v3/products/22/variations/23 -> products (a variation)
            if len(parts) >= 2:
                return parts[1]
    return None


def woocommerce_kind(body: dict[str, Any] | None) -> str | None:
    """What a WooCommerce body is (``product``, ``order``, ``customer``, ``coupon``), None when it cannot tell.

    From the signed body only: its ``_links`` (the wc/v3 collection it was rendered from), else fields only that
    kind carries. An id-only delete body or an error body says nothing (None).
    """
    if not body:
        return None
    collection = _collection(body.get("_links"))
    by_collection = {"products": "product", "orders": "order", "customers": "customer", "coupons": "coupon"}
    if collection in by_collection:
        return by_collection[collection]
    if "line_items" in body and "order_key" in body:
        return "order"
    if "stock_status" in body and "type" in body:
        return "product"
    if "discount_type" in body and "code" in body:
        return "coupon"
    if "username" in body and "role" in body:
        return "customer"
    return None


SENT_TOPIC = inbox.TopicFormat(
    topic_header=TOPIC_HEADER, id_header="x-wc-webhook-id", separator=".", kind_of=woocommerce_kind, kinds=KINDS
)


def woocommerce_key(integration_id: int, subject: str, body: bytes, *, second: int | None = None) -> str:
    """The delivery key of a WooCommerce body (see ``webhooks/inbox.py``): signed content, plus the arrival second
    (our clock) for a body that carries no time of its own.

    The second, not the hour: a deletion body is only ``{"id": N}``, so a product trashed, restored and trashed
    again within one hour sent the same bytes twice and the second trash was answered as a duplicate and never
    applied. WooCommerce does not resend a delivery (``WC_Webhook::deliver`` sends once and only counts the
    failure), so nothing needs a wider window. ``X-WC-Webhook-Delivery-ID`` would add nothing: it is
    ``wp_hash(webhook id . current second)`` (WC_Webhook::get_new_delivery_id), unsigned, and shared by every
    delivery of one webhook in one second (webhook-delivery-product-created-same-delivery-id.json).
    """
    parts = (subject, body) if second is None else (subject, f"second:{second}", body)
    return f"woocommerce:{integration_id}:{inbox.body_hash(*parts)}"


def woocommerce_delivery(
    integration_id: int, headers: dict[str, str], body: bytes, *, now: float | None = None
) -> inbox.Delivery:
    """A verified WooCommerce delivery; its topic checked against the body (``triggered_at``: date_modified_gmt)."""
    sent = inbox.read_sent_topic(headers, body, SENT_TOPIC)
    parsed, subject = sent.body, sent.subject
    topic = sent.topic
    if sent.event == "deleted" and inbox.shows_live_record(parsed, "date_modified_gmt", "date_modified"):
        topic = f"{sent.resource}.updated"  # the body is a live record: store it as what it is, not as a delete
    return inbox.Delivery(
        delivery_key=woocommerce_key(
            integration_id,
            subject,
            body,
            second=inbox.arrival_unless_timed(parsed, now, "date_modified_gmt", "date_modified", period_s=1),
        ),
        topic=topic,
        resource_id=inbox.resource_id(parsed),
        event_id=None,  # X-WC-Webhook-Delivery-ID is not unique (kept in headers for audit only)
        webhook_id=sent.webhook_id,
        # WooCommerce renders the payload at send time: its modification time is the state it carries.
        triggered_at=inbox.parse_time(parsed.get("date_modified_gmt")) if parsed else None,
        headers=inbox.kept_headers(headers),
    )


def parse(integration_id: int, headers: dict[str, str], body: bytes, now: float) -> inbox.Delivery:
    """The receiver's entry point (``WebhookSpec.parse``)."""
    return woocommerce_delivery(integration_id, headers, body, now=now)
