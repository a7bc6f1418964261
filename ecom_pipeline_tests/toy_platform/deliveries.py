"""The toy platform's webhook deliveries: hex HMAC-SHA256 of the body in ``X-Toy-Signature``, topic in a header."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from ecom_pipeline.webhooks import inbox

NAME = "toyshop"
SIGNATURE_HEADER = "x-toy-signature"
TOPIC_HEADER = "x-toy-topic"
KNOWN_HEADERS = (SIGNATURE_HEADER, TOPIC_HEADER)
HEADER_PREFIX = "x-toy-"
TOPIC_ENTITIES = {"product": ("product.",)}


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    return False


def sent_topic(headers: Mapping[str, str]) -> str:
    return headers.get(TOPIC_HEADER, "")


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str | None, headers: Mapping[str, str], body: bytes, now: float) -> str | None:
    given = headers.get(SIGNATURE_HEADER, "")
    if secret and given and hmac.compare_digest(sign(secret, body), given):
        return None
    return "X-Toy-Signature is missing or does not match"


def parse(integration_id: int, headers: dict[str, str], body: bytes, now: float) -> inbox.Delivery:
    parsed = inbox.json_object(body)
    return inbox.Delivery(
        delivery_key=f"{NAME}:{integration_id}:{inbox.body_hash(body)}",
        topic=headers.get(TOPIC_HEADER, "").strip()[:64] or "unknown",
        resource_id=inbox.resource_id(parsed),
        event_id=None,
        webhook_id=None,
        triggered_at=inbox.parse_time((parsed or {}).get("updated_at")),
        headers=inbox.kept_headers(headers),
    )
