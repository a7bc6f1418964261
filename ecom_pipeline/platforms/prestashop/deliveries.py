"""What a PrestaShop change notification is: posted by a module on the shop, signed, and only ever a hint.

PrestaShop has no webhooks in core, so a module on the shop (hooked on ``actionObjectProductUpdateAfter`` and its
siblings) posts a small notice for each change to ``/webhooks/prestashop/<integration id>``::

    POST /webhooks/prestashop/7
    X-Ecom-Timestamp: 1764930000                      Unix seconds, at most 5 minutes from the receiver's clock
    X-Ecom-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body, under the integration's webhook secret>
    Content-Type: application/json

    {"resource": "products", "id": 12, "action": "update"}

``resource`` is a webservice resource: ``products``, ``combinations`` and ``stock_availables`` (both name their
product with ``id_product``), ``orders``, ``customers``; ``action`` is ``add``, ``update`` or ``delete``. The signing
scheme is the receiver's generic one (the timestamp is signed, so a captured notice cannot be replayed later).

The notice carries no record, by design: ``platforms.prestashop.webhooks`` re-reads the record through the
webservice and stages it exactly as the poll does, so nothing a module sends can put data in the hub that the
shop does not hold, and a notice that arrives late or twice changes nothing. A ``delete`` is confirmed with the
shop (the id is gone from the webservice) before anything is tombstoned.

The stored topic is ``<entity>.<action>`` (``product.update``), from the signed body; the optional ``X-Ecom-Topic``
header is only a hint. The delivery key is the generic one: the signed timestamp and the body. So two notices of
the same change kind for one record in one second share a key; the inbox puts a copy of one already applied back
to pending (``inbox.REQUEUE_PLATFORMS``) rather than dropping it, since a change made after the first re-read
would otherwise wait for the next poll. Re-reading is idempotent: a notice replayed within the signature window
only causes one more re-read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecom_pipeline.webhooks import inbox
from ecom_pipeline.webhooks.signatures import verify_generic

HEADER_PREFIX = "x-ecom-"
KNOWN_HEADERS = inbox.GENERIC_HEADERS
# webservice resource -> (staging entity, the body field naming the record to re-read)
RESOURCES: Mapping[str, tuple[str, str]] = {
    "products": ("product", "id"),
    "combinations": ("product", "id_product"),
    "stock_availables": ("product", "id_product"),
    "orders": ("order", "id"),
    "customers": ("customer", "id"),
}
# staging entity -> the resource whose own deletion deletes it
RESOURCES_OF: Mapping[str, str] = {"product": "products", "order": "orders", "customer": "customers"}
ACTIONS = ("add", "update", "delete")
TOPIC_ENTITIES: Mapping[str, tuple[str, ...]] = {
    "product": ("product.",),
    "order": ("order.",),
    "customer": ("customer.",),
}


class NoticeError(ValueError):
    """A signed notice the apply step cannot act on (unknown resource, no id): dead-lettered with the reason."""


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """A module's liveness check: ``{"ping": true}``, signed like any notice but never stored."""
    parsed = inbox.json_object(body)
    return parsed is not None and parsed.get("ping") is True and "resource" not in parsed


def verify(secret: str | None, headers: Mapping[str, str], body: bytes, now: float) -> str | None:
    """None when the generic signature over the timestamp and body holds, else why not."""
    return verify_generic(secret, body, headers.get("x-ecom-signature"), headers.get("x-ecom-timestamp"), now=now)


def sent_topic(headers: Mapping[str, str]) -> str:
    return headers.get("x-ecom-topic", "")


def notice(body: dict[str, Any] | None) -> tuple[str, str, str]:
    """(entity, external id, action) a notice's body names; :class:`NoticeError` when it names nothing we sync."""
    if body is None:
        raise NoticeError("the notice is not a JSON object")
    resource = str(body.get("resource") or "")
    if resource not in RESOURCES:
        raise NoticeError(f"resource {resource!r} is not synced; expected one of {sorted(RESOURCES)}")
    entity, field = RESOURCES[resource]
    raw = body.get(field)
    if isinstance(raw, bool) or not str(raw or "").strip().isdigit() or int(str(raw).strip()) <= 0:
        raise NoticeError(f"a {resource} notice needs a positive integer {field!r}, got {raw!r}")
    action = str(body.get("action") or "update")
    if action not in ACTIONS:
        raise NoticeError(f"action {action!r} is not one of {list(ACTIONS)}")
    # A combination or stock row deleted leaves its product: that product changed, it is not deleted.
    if resource != RESOURCES_OF[entity]:
        action = "update"
    return entity, str(int(str(raw).strip())), action


def parse(integration_id: int, headers: dict[str, str], body: bytes, now: float) -> inbox.Delivery:
    """The notice to store: keyed like a generic delivery, its topic read from the signed body when it names one
    (a body that does not is stored under the header's topic and dead-lettered by the apply with the reason)."""
    parsed = inbox.json_object(body)
    try:
        entity, external_id, action = notice(parsed)
        topic, resource = f"{entity}.{action}", external_id
    except NoticeError:
        topic, resource = (headers.get("x-ecom-topic", "").strip()[:64] or "unknown"), None
    generic = inbox.generic_delivery(integration_id, headers, body)
    return inbox.Delivery(
        delivery_key=generic.delivery_key.replace("generic:", "prestashop:", 1),
        topic=topic,
        resource_id=resource,
        event_id=generic.event_id,
        webhook_id=None,
        triggered_at=generic.triggered_at,
        headers=generic.headers,
    )
