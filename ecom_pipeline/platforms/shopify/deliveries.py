"""What a Shopify webhook delivery is: its signature, its topic checked against the signed body's gid, its key.

Shopify signs the raw body only (``X-Shopify-Hmac-Sha256``: base64 HMAC-SHA256 with the app's client secret); the
topic, webhook id, event id and trigger time travel in unsigned headers, so the body decides what is stored
wherever it can say (see ``webhooks/inbox.py`` for the rules every platform follows).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecom_pipeline.webhooks import inbox
from ecom_pipeline.webhooks.signatures import verify_base64_hmac

SIGNATURE_HEADER = "x-shopify-hmac-sha256"
TOPIC_HEADER = "x-shopify-topic"
HEADER_PREFIX = "x-shopify-"
KNOWN_HEADERS = tuple(
    f"x-shopify-{n}"
    for n in ("topic", "hmac-sha256", "shop-domain", "api-version", "webhook-id", "event-id", "triggered-at")
)
# Resources whose topics we check against the body (and which an id-only body may be keyed under).
KINDS = ("products", "orders", "customers", "inventory_levels", "inventory_items", "refunds")
# Shopify's update topic of each resource (a delete topic over a live body is stored as this).
UPDATE_TOPIC = {"products": "products/update", "orders": "orders/updated", "customers": "customers/update"}
# Which inbox topics describe which staging entity (topic prefix match).
TOPIC_ENTITIES: Mapping[str, tuple[str, ...]] = {
    "product": ("products/",),
    "order": ("orders/",),
    "customer": ("customers/",),
    "inventory": ("inventory_levels/", "inventory_items/"),
}


def verify(secret: str | None, headers: Mapping[str, str], body: bytes, now: float) -> str | None:
    """None when X-Shopify-Hmac-Sha256 is the body's HMAC under the app's client secret, else why not."""
    if verify_base64_hmac(secret, body, headers.get(SIGNATURE_HEADER)):
        return None
    return "X-Shopify-Hmac-Sha256 is missing or does not match"


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """Shopify sends no unsigned ping: every delivery is checked and stored."""
    return False


def sent_topic(headers: Mapping[str, str]) -> str:
    return headers.get(TOPIC_HEADER, "")


def shopify_kind(body: dict[str, Any] | None) -> str | None:
    """What a Shopify body is, as a topic resource (``products``, ``inventory_levels``), from its signed gid."""
    gid = (body or {}).get("admin_graphql_api_id")
    if not isinstance(gid, str) or not gid.startswith("gid://shopify/"):
        return None
    name = gid[len("gid://shopify/") :].split("/", 1)[0]
    snake = "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name).lstrip("_")
    return snake + "s" if snake else None


SENT_TOPIC = inbox.TopicFormat(
    topic_header=TOPIC_HEADER, id_header="x-shopify-webhook-id", separator="/", kind_of=shopify_kind, kinds=KINDS
)


def shopify_delivery(
    integration_id: int, headers: dict[str, str], body: bytes, *, now: float | None = None
) -> inbox.Delivery:
    """A verified Shopify delivery; its topic checked against the body's gid, keyed on the signed body."""
    sent = inbox.read_sent_topic(headers, body, SENT_TOPIC)
    parsed, resource, subject = sent.body, sent.resource, sent.subject
    topic = sent.topic
    if sent.event == "delete" and resource in UPDATE_TOPIC and inbox.shows_live_record(parsed, "updated_at"):
        topic = UPDATE_TOPIC[resource]
    hour = inbox.hour_unless_timed(parsed, now, "updated_at")
    parts = (subject, body) if hour is None else (subject, f"hour:{hour}", body)
    return inbox.Delivery(
        delivery_key=f"shopify:{integration_id}:{inbox.body_hash(*parts)}",
        topic=topic,
        resource_id=inbox.resource_id(parsed),
        event_id=headers.get("x-shopify-event-id", "").strip() or None,
        webhook_id=sent.webhook_id,
        # The body's own time is signed; X-Shopify-Triggered-At is a hint used only when the body has none.
        triggered_at=inbox.parse_time((parsed or {}).get("updated_at"))
        or inbox.parse_time(headers.get("x-shopify-triggered-at")),
        headers=inbox.kept_headers(headers),
    )


def parse(integration_id: int, headers: dict[str, str], body: bytes, now: float) -> inbox.Delivery:
    """The receiver's entry point (``WebhookSpec.parse``)."""
    return shopify_delivery(integration_id, headers, body, now=now)
