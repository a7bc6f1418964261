"""The webhook inbox: what a delivery is (key, topic, resource), and storing it exactly once.

Parsing here is deliberately shallow: the receiver must answer in milliseconds and must never lose a signed
delivery because its body surprised us, so it only pulls out the identifiers it indexes (topic, resource id, event
id, when it happened) and stores the raw body untouched. Interpreting the payload is the apply step's job.

Delivery keys (``webhook_inbox.delivery_key``, unique) must identify one delivery, so a retried delivery is
stored once and two different deliveries are never merged:

- Shopify: ``X-Shopify-Webhook-Id`` is unique per delivery and stays the same on Shopify's retries.
- WooCommerce: ``X-WC-Webhook-Delivery-ID`` is a hash of the webhook id and the current Unix second, so every
  delivery of one webhook within one second shares it (see webhook-delivery-product-created-same-delivery-id.json:
  products 11, 12 and 18 arrived with the same id). We key on sha256(webhook id + topic + raw body) instead.
  WooCommerce builds the body when it sends, so two deliveries with the same body carry the same state of the
  same resource: storing one of them loses nothing. (webhook id, resource id, date_modified) would be shorter,
  but a stock change by an order is not guaranteed to move ``date_modified`` on every store version, and then a
  real change would be dropped as a duplicate; the body hash cannot make that mistake.
- Generic: ``X-Ecom-Delivery-Id`` when the sender gives one, else the body hash.

Every key is prefixed with the platform and the integration id, so two shops can never collide.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from ecom_pipeline.warehouse.schema import webhook_inbox
from ecom_pipeline.warehouse.store import dialect_insert, without_nul

# Headers worth keeping with the body (audit, replay, re-verification); everything else is transport noise.
KEPT_HEADER_PREFIXES = ("x-wc-webhook-", "x-shopify-", "x-ecom-")
KEPT_HEADERS = ("content-type", "user-agent")


@dataclass(frozen=True)
class Delivery:
    """One verified delivery, ready to be stored."""

    delivery_key: str
    topic: str
    resource_id: str | None
    event_id: str | None
    webhook_id: str | None
    triggered_at: datetime | None
    headers: dict[str, str]


def kept_headers(headers: dict[str, str]) -> dict[str, str]:
    """The headers stored with a delivery (lower-cased names)."""
    return {k: v for k, v in headers.items() if k in KEPT_HEADERS or k.startswith(KEPT_HEADER_PREFIXES)}


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _parse_time(value: Any) -> datetime | None:
    """ISO-8601 -> aware UTC; naive values are UTC (WooCommerce ``*_gmt``); nanoseconds are cut to micro."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in text:  # Shopify sends 9 fractional digits; Python parses at most 6
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        tail = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{tail}" if digits else head + tail
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _resource_id(body: dict[str, Any] | None) -> str | None:
    if not body:
        return None
    for key in ("id", "inventory_item_id"):
        value = body.get(key)
        if isinstance(value, int | str) and not isinstance(value, bool) and str(value).strip():
            return str(value)
    return None


def body_hash(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode("utf-8"))
        digest.update(b"\x00")  # separator: ("ab", "c") and ("a", "bc") must not hash alike
    return digest.hexdigest()


def is_woocommerce_ping(headers: dict[str, str], body: bytes) -> bool:
    """WooCommerce's creation ping: form body ``webhook_id=N`` and no X-WC-Webhook-* headers (never stored)."""
    if any(k.startswith("x-wc-webhook-") for k in headers):
        return False
    text = body.decode("latin-1").strip()
    return text.startswith("webhook_id=") and text[len("webhook_id=") :].isdigit()


def woocommerce_delivery(integration_id: int, headers: dict[str, str], body: bytes) -> Delivery:
    """A verified WooCommerce delivery (``triggered_at`` = the payload's date_modified_gmt, see module doc)."""
    topic = headers.get("x-wc-webhook-topic", "").strip() or "unknown"
    webhook_id = headers.get("x-wc-webhook-id", "").strip() or None
    parsed = _json_object(body)
    return Delivery(
        delivery_key=f"woocommerce:{integration_id}:{body_hash(webhook_id or '', topic, body)}",
        topic=topic,
        resource_id=_resource_id(parsed),
        event_id=None,  # X-WC-Webhook-Delivery-ID is not unique (kept in headers for audit only)
        webhook_id=webhook_id,
        # WooCommerce renders the payload at send time: its modification time is the state it carries.
        triggered_at=_parse_time(parsed.get("date_modified_gmt")) if parsed else None,
        headers=kept_headers(headers),
    )


def shopify_delivery(integration_id: int, headers: dict[str, str], body: bytes) -> Delivery:
    """A verified Shopify delivery, keyed on X-Shopify-Webhook-Id (stable across Shopify's retries)."""
    topic = headers.get("x-shopify-topic", "").strip() or "unknown"
    webhook_id = headers.get("x-shopify-webhook-id", "").strip() or None
    key = webhook_id or body_hash(topic, body)
    return Delivery(
        delivery_key=f"shopify:{integration_id}:{key}"[:128],
        topic=topic,
        resource_id=_resource_id(_json_object(body)),
        event_id=headers.get("x-shopify-event-id", "").strip() or None,
        webhook_id=webhook_id,
        triggered_at=_parse_time(headers.get("x-shopify-triggered-at")),
        headers=kept_headers(headers),
    )


def generic_delivery(integration_id: int, headers: dict[str, str], body: bytes) -> Delivery:
    """A verified generic delivery: topic/resource/delivery id from X-Ecom-* headers, else from the body."""
    topic = headers.get("x-ecom-topic", "").strip() or "generic"
    delivery_id = headers.get("x-ecom-delivery-id", "").strip()
    parsed = _json_object(body)
    return Delivery(
        delivery_key=f"generic:{integration_id}:{delivery_id or body_hash(topic, body)}"[:128],
        topic=topic,
        resource_id=headers.get("x-ecom-resource-id", "").strip() or _resource_id(parsed),
        event_id=delivery_id or None,
        webhook_id=None,
        triggered_at=_parse_time(headers.get("x-ecom-triggered-at")),
        headers=kept_headers(headers),
    )


def insert_delivery(
    conn: Connection,
    *,
    tenant_id: str,
    integration_id: int,
    platform: str,
    delivery: Delivery,
    body: bytes,
    received_at: datetime,
) -> bool:
    """INSERT .. ON CONFLICT (delivery_key) DO NOTHING; True when this call stored it (False: a duplicate).

    One statement, no read-before-write: two copies of a delivery racing on two receivers both succeed, and
    exactly one row exists afterwards.
    """
    stmt = (
        dialect_insert(conn, webhook_inbox)
        .values(
            tenant_id=tenant_id,
            integration_id=integration_id,
            platform=platform,
            delivery_key=delivery.delivery_key,
            topic=delivery.topic[:64],
            headers=delivery.headers,
            body=body.decode("utf-8", "replace"),
            received_at=received_at,
            event_id=delivery.event_id,
            webhook_id=delivery.webhook_id,
            resource_id=delivery.resource_id,
            triggered_at=delivery.triggered_at,
            status="pending",
            attempts=0,
            next_attempt_at=None,
        )
        .on_conflict_do_nothing(index_elements=[webhook_inbox.c.delivery_key])
    )
    return bool(conn.execute(stmt).rowcount)


def _bounded(value: str | None, size: int) -> str | None:
    return None if value is None else value.replace("\x00", "")[:size]


def insert_deliveries(conn: Connection, rows: list[dict[str, Any]]) -> list[bool]:
    """Many deliveries in ONE statement (INSERT .. ON CONFLICT DO NOTHING RETURNING delivery_key).

    ``rows`` hold the keyword arguments of :func:`insert_delivery` (without ``conn``). Returns, per row, whether
    it was stored by this call; a key repeated within ``rows`` is stored once, for its first occurrence. One
    statement instead of one per delivery is what lets a group of deliveries cost one round trip on PostgreSQL.
    """
    if not rows:
        return []
    values = [
        {
            "tenant_id": r["tenant_id"],
            "integration_id": r["integration_id"],
            "platform": r["platform"],
            "delivery_key": r["delivery"].delivery_key,
            "topic": r["delivery"].topic[:64],
            "headers": without_nul(r["delivery"].headers),
            # PostgreSQL text cannot hold U+0000 (see store.without_nul); the signature was checked on the raw bytes.
            "body": r["body"].decode("utf-8", "replace").replace("\x00", "\ufffd"),
            "received_at": r["received_at"],
            # Ids from headers are the sender's: bounded to the column sizes so one odd delivery cannot fail the
            # whole group it is stored with.
            "event_id": _bounded(r["delivery"].event_id, 128),
            "webhook_id": _bounded(r["delivery"].webhook_id, 64),
            "resource_id": _bounded(r["delivery"].resource_id, 128),
            "triggered_at": r["delivery"].triggered_at,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": None,
        }
        for r in rows
    ]
    stmt = (
        dialect_insert(conn, webhook_inbox)
        .values(values)
        .on_conflict_do_nothing(index_elements=[webhook_inbox.c.delivery_key])
        .returning(webhook_inbox.c.delivery_key)
    )
    stored = set(conn.execute(stmt).scalars())
    result: list[bool] = []
    for value in values:
        key = value["delivery_key"]
        result.append(key in stored)
        stored.discard(key)  # later copies of the same key in this group are duplicates
    return result
