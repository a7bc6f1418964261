"""Shopify webhooks: the topics we subscribe to, registering them, and turning a delivery into staging.

Deliveries -> staging (used by ``ecom_pipeline.webhooks.apply``)
-----------------------------------------------------------------
Shopify delivers REST-shaped bodies (snake_case, numeric ``id``), while the pull stages GraphQL nodes. The registered
transforms (``spec.py``) accept both shapes and map them to identical canonical records (``test_transform``), so a
body is staged as the pull would stage its node, and one transform and one resolve serve both paths:

- ``products/create|update``: the product is re-read through GraphQL (one query per delivery) and staged as the
  pull stages it: the REST body has no variant weight (Shopify keeps it on the inventory item's measurement, which
  bodies of 2025-07 and later leave out), so a body staged as is would read as "weight removed" and flap the hub
  weight against the pull; bodies also stop at 100 variants.
- ``orders/create|updated|cancelled``: the body, unless it cannot give the same record the pull would: a line
  discount without ``discount_allocations`` (line totals would ignore it) or a refund without transactions (the
  refunded total would read zero). Such an order is re-read through GraphQL.
- ``refunds/create``: the body is the refund, not the order: the order is re-read (its refunded total changed).
- ``customers/create|update``: the body.
- ``inventory_levels/update``: the body names the inventory item and location, not the variant; a 2-point
  ``inventoryItem`` query finds the variant (and the item's SKU and ``tracked``), and the level is staged in the
  pull's own ``{"level", "location"}`` form, one row per (variant, location). An item without a variant is dropped.
- ``*/delete``: the body is ``{"id": N}``: a delete (tombstone) is staged.
- a body the transform refuses is re-read once; a record gone on re-read becomes a tombstone.

Shopify renders the body when the event happens, and deliveries may arrive out of order or hours late (retries):
resolve skips a payload whose ``updated_at`` is older than the one the entity link holds, so a late delivery never
overwrites newer hub state. Re-reads return the current state, which is never older than any delivery.

Registration
------------
:func:`ensure_webhooks` is idempotent: it lists ``webhookSubscriptions`` and matches on topic + callback URL, and
creates only what is missing with ``webhookSubscriptionCreate``. Shopify signs every delivery with the app's client
secret (there is no per-subscription secret), so :func:`connect_webhooks` stores that secret as ``webhook_secret``
in the encrypted credentials before registering, and the receiver verifies the first delivery already.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Engine, update

from ecom_pipeline.platforms.errors import ShopApiError
from ecom_pipeline.platforms.http import HttpOptions
from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline.platforms.shopify.client import ShopifyClient
from ecom_pipeline.platforms.shopify.credentials import plain_credentials, provider_for
from ecom_pipeline.platforms.shopify.errors import PLATFORM, user_errors_error
from ecom_pipeline.platforms.shopify.extract import first_variant
from ecom_pipeline.platforms.shopify.transform import (
    TransformError,
    customer_to_canonical,
    numeric_id,
    order_to_canonical,
    product_to_canonical,
    source_updated_at,
)
from ecom_pipeline.platforms.shopify.versions import pinned_version
from ecom_pipeline.sync.extract import staged_with_time
from ecom_pipeline.sync.policies import shopify_collections_of
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher, reveal
from ecom_pipeline.warehouse.schema import integrations
from ecom_pipeline.warehouse.store import IntegrationRecord, StagedRecord
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline.webhooks import inbox

TOPICS: tuple[str, ...] = (
    "products/create",
    "products/update",
    "products/delete",
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "orders/delete",
    "customers/create",
    "customers/update",
    "customers/delete",
    "inventory_levels/update",
    "refunds/create",
)
# Shopify resource (topic head) -> staging entity
RESOURCES: dict[str, str] = {"products": "product", "orders": "order", "customers": "customer"}
# Webhook product bodies list at most this many variants; at or above it the body may be truncated.
BODY_VARIANT_LIMIT = 100
REREAD_VARIANTS = 100
# Collections asked with the re-read (its hub categories: a webhook body carries none); more are paged.
REREAD_COLLECTIONS = 50
REREAD_LINES = 50
_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "product": product_to_canonical,
    "order": order_to_canonical,
    "customer": customer_to_canonical,
}


class PermanentEventError(Exception):
    """The delivery can never be applied as it is (retrying will not help): it goes straight to dead letters."""


class ShopifyWebhookSecretMissing(ShopApiError):
    """No client secret is known for a shop connected with a static token: deliveries could not be verified."""

    kind = "Shopify webhooks need the app's client secret"
    default_hint = (
        "Shopify signs deliveries with the app's client secret (Apps > Develop apps > API credentials). Reconnect "
        "with --webhook-secret <client secret> (or --client-id/--client-secret), then add --webhook-url again."
    )


def topic_enum(topic: str) -> str:
    """``inventory_levels/update`` -> ``INVENTORY_LEVELS_UPDATE`` (the GraphQL ``WebhookSubscriptionTopic``)."""
    return topic.replace("/", "_").upper()


def topic_from_enum(value: str) -> str:
    """``INVENTORY_LEVELS_UPDATE`` -> ``inventory_levels/update``."""
    head, _, tail = value.lower().rpartition("_")
    return f"{head}/{tail}"


def gid(kind: str, numeric: str) -> str:
    return f"gid://shopify/{kind}/{numeric}"


# --- deliveries -> staging ---------------------------------------------------------------------------------------


def _valid(entity: str, record: Any) -> str | None:
    """None when the registered transform accepts ``record``, else why not."""
    try:
        _VALIDATORS[entity](record)
    except (TransformError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _positive(value: Any) -> bool:
    try:
        return Decimal(str(value)) > 0
    except (InvalidOperation, ValueError):
        return False


def _order_body_incomplete(body: Mapping[str, Any]) -> str | None:
    """Why this REST order cannot give the record the GraphQL pull gives (None when it can)."""
    for line in body.get("line_items") or []:
        if isinstance(line, Mapping) and "discount_allocations" not in line and _positive(line.get("total_discount")):
            return "line discount without discount_allocations"
    for refund in body.get("refunds") or []:
        if isinstance(refund, Mapping) and refund.get("refund_line_items") and not refund.get("transactions"):
            return "refund without transactions"
    return None


def _read_product(client: ShopifyClient, product_id: str) -> dict[str, Any] | None:
    """The product as the pull reads it; its collections (categories) only when the integration opted in
    (``client.shopify_collections``): off, 0 are asked and the empty connection dropped, as the extract does."""
    collections = client.shopify_collections
    data = client.execute(
        q.PRODUCT_BY_ID_QUERY,
        {
            "id": gid("Product", product_id),
            "variantsFirst": REREAD_VARIANTS,
            "collectionsFirst": REREAD_COLLECTIONS if collections else 0,
        },
        key="ProductById",
    )
    node = data.get("product")
    if not isinstance(node, dict):
        return None
    client.complete_connection(node, "variants", q.PRODUCT_VARIANTS_QUERY, ("product", "variants"))
    if collections:
        client.complete_connection(node, "collections", q.PRODUCT_COLLECTIONS_QUERY, ("product", "collections"))
    else:
        node.pop("collections", None)
    return node


def _read_order(client: ShopifyClient, order_id: str, scopes: list[str] | None = None) -> dict[str, Any] | None:
    """Re-read an order, leaving out the links the granted ``scopes`` do not cover (as the pull does)."""
    options = q.order_options(scopes)
    data = client.execute(
        q.order_by_id_query(**options), {"id": gid("Order", order_id), "linesFirst": REREAD_LINES}, key="OrderById"
    )
    node = data.get("order")
    if not isinstance(node, dict):
        return None
    lines_query = q.order_lines_query(variant=options["variant"])
    client.complete_connection(node, "lineItems", lines_query, ("order", "lineItems"))
    return node


def _read_customer(client: ShopifyClient, customer_id: str) -> dict[str, Any] | None:
    data = client.execute(q.CUSTOMER_BY_ID_QUERY, {"id": gid("Customer", customer_id)}, key="CustomerById")
    node = data.get("customer")
    return node if isinstance(node, dict) else None


_READERS: dict[str, Callable[[ShopifyClient, str], dict[str, Any] | None]] = {
    "product": _read_product,
    "order": _read_order,
    "customer": _read_customer,
}


def _level_record(client: ShopifyClient, body: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(external id, staged payload) of an ``inventory_levels/update`` body, or None for an item without variant."""
    item_id = numeric_id(body.get("inventory_item_id"))
    location_id = numeric_id(body.get("location_id"))
    if item_id is None or location_id is None:
        raise PermanentEventError(f"inventory_levels/update without inventory_item_id/location_id: {dict(body)!r}")
    data = client.execute(q.INVENTORY_ITEM_QUERY, {"id": gid("InventoryItem", item_id)}, key="InventoryItemVariant")
    item = data.get("inventoryItem")
    if not isinstance(item, Mapping):
        return None  # the item was deleted with its variant: nothing in the hub to update
    variant = first_variant(dict(item)) or None
    variant_id = numeric_id((variant or {}).get("legacyResourceId") or (variant or {}).get("id"))
    if variant_id is None:
        return None
    level = {
        "id": body.get("admin_graphql_api_id"),
        "updatedAt": body.get("updated_at"),
        "quantities": [{"name": "available", "quantity": body.get("available")}],
        "item": {
            "id": item.get("id"),
            "legacyResourceId": item.get("legacyResourceId"),
            "sku": item.get("sku"),
            "tracked": item.get("tracked"),
            "variant": {"id": (variant or {}).get("id"), "legacyResourceId": variant_id},
        },
    }
    location = {"id": gid("Location", location_id), "legacyResourceId": location_id}
    return f"{variant_id}@{location_id}", {"level": level, "location": location}


def _staged(
    integration: IntegrationRecord,
    entity: str,
    external_id: str,
    payload: dict[str, Any] | None,
    op: str = "upsert",
    *,
    read_now: bool = False,
) -> StagedRecord:
    """One staged record, stamped with the payload's modification time (``staged_with_time``)."""
    return staged_with_time(integration, entity, external_id, payload, source_updated_at, op=op, read_now=read_now)


def _wrap(integration: IntegrationRecord, entity: str, node: dict[str, Any]) -> dict[str, Any]:
    """The staged payload of a node or body: products carry the shop's currency, as the pull stages them."""
    if entity != "product":
        return node
    return {"product": node, "currency": (integration.settings or {}).get("currency")}


def reread(
    *, integration: IntegrationRecord, entity: str, external_id: str, client: Callable[[], ShopifyClient]
) -> list[StagedRecord]:
    """The record as the shop has it now, read through GraphQL and staged as the pull stages it (a tombstone when
    the shop no longer has it). Raises ``ValueError`` when even the shop's current record is refused.

    Used by :func:`staged_from_delivery` when a body is not enough, and by ``webhooks.apply`` for a body whose
    modification time ties with the one the hub holds but whose content differs (``webhooks.same_second``): Shopify
    renders a body when the event happens, so a late retry can carry the earlier of two states of one second.
    """
    if entity == "order":
        node = _read_order(client(), external_id, (integration.settings or {}).get("scopes"))
    else:
        node = _READERS[entity](client(), external_id)
    if node is None:
        return [_staged(integration, entity, external_id, None, op="delete")]
    problem = _valid(entity, _wrap(integration, entity, node))
    if problem is not None:
        raise ValueError(f"{entity} {external_id} re-read from the shop is still invalid: {problem}")
    return [_staged(integration, entity, external_id, _wrap(integration, entity, node), read_now=True)]


def staged_from_delivery(
    *,
    integration: IntegrationRecord,
    topic: str,
    body_text: str,
    resource_id: str | None,
    client: Callable[[], ShopifyClient],
) -> list[StagedRecord]:
    """The staged records one Shopify delivery stands for ([] for topics we do not sync).

    ``client`` is called only when the delivery needs a re-read (see the module docstring): product events cost one
    query, most order and customer events none. Raises :class:`PermanentEventError` for deliveries no retry can
    fix; any other exception (the shop is down, THROTTLED past the retries) is worth retrying later.
    """
    resource, _, event = topic.partition("/")
    try:
        body: Any = json.loads(body_text)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}

    if topic == "inventory_levels/update":
        found = _level_record(client(), body)
        if found is None:
            return []
        return [_staged(integration, "inventory", found[0], found[1])]

    if topic == "refunds/create":
        order_id = numeric_id(body.get("order_id"))
        if order_id is None:
            raise PermanentEventError(f"refunds/create without order_id: {body_text[:200]!r}")
        # The order as it is now, staged whatever it holds: one the transform refuses is kept in rejected_records
        # with the reason (a retry of the delivery would read the same order again).
        node = _read_order(client(), order_id, (integration.settings or {}).get("scopes"))
        if node is None:
            return [_staged(integration, "order", order_id, None, op="delete")]
        return [_staged(integration, "order", order_id, node, read_now=True)]

    if resource not in RESOURCES:
        return []  # bulk_operations/finish, app/uninstalled, ...: nothing the hub keeps
    entity = RESOURCES[resource]
    external_id = numeric_id(body.get("id")) or numeric_id(resource_id)
    if external_id is None:
        raise PermanentEventError(f"{topic} delivery without a resource id: {body_text[:300]!r}")
    if event == "delete":
        return [_staged(integration, entity, external_id, None, op="delete")]

    why: str | None = None
    if entity == "product" and len(body.get("variants") or []) >= BODY_VARIANT_LIMIT:
        why = f"{len(body['variants'])} variants in the body (webhook bodies stop at {BODY_VARIANT_LIMIT})"
    elif entity == "product":
        why = "product bodies carry no variant weight (the inventory item's measurement)"
    elif entity == "order":
        why = _order_body_incomplete(body)
    if why is None:
        why = _valid(entity, _wrap(integration, entity, body))
    if why is None:
        return [_staged(integration, entity, external_id, _wrap(integration, entity, body))]
    try:
        return reread(integration=integration, entity=entity, external_id=external_id, client=client)
    except ValueError as exc:
        raise ValueError(f"{exc} (re-read because: {why})") from exc


def client_for(
    integration: IntegrationRecord, credentials: Mapping[str, Any], *, timeout: float = 20.0
) -> ShopifyClient:
    """A client for re-reads during webhook apply (few retries: the event itself is retried with backoff)."""
    options = HttpOptions.for_integration(
        integration, api_version=pinned_version(integration.settings), timeout=timeout, max_retries=2
    )
    client = ShopifyClient(
        options, provider_for(integration.base_url, credentials, verify=options.verify, timeout=timeout)
    )
    client.shopify_collections = shopify_collections_of(integration.settings)
    return client


# --- registration ------------------------------------------------------------------------------------------------


@dataclass
class RegistrationReport:
    """What :func:`ensure_webhooks` did, per topic (subscription gids in the shop)."""

    callback_url: str
    created: dict[str, str] = field(default_factory=dict)
    unchanged: dict[str, str] = field(default_factory=dict)

    @property
    def delivery_url(self) -> str:
        """Same name as the WooCommerce report, so callers print either."""
        return self.callback_url

    @property
    def changed(self) -> bool:
        return bool(self.created)

    def summary(self) -> str:
        parts = [f"{len(v)} {name}" for name, v in (("created", self.created), ("already there", self.unchanged)) if v]
        return f"webhooks to {self.callback_url}: " + ", ".join(parts)


def list_subscriptions(client: ShopifyClient) -> list[dict[str, Any]]:
    """Every webhook subscription of this app on the shop (topics as ``products/update``)."""
    found: list[dict[str, Any]] = []
    for page in client.paginate(q.WEBHOOK_SUBSCRIPTIONS_QUERY, ("webhookSubscriptions",), {"first": 100}):
        for node in page.nodes:
            found.append({**node, "topic": topic_from_enum(str(node.get("topic", "")))})
    return found


def ensure_webhooks(client: ShopifyClient, callback_url: str, *, topics: Iterable[str] = TOPICS) -> RegistrationReport:
    """Make the shop deliver every topic in ``topics`` to ``callback_url``; idempotent (creates only what lacks)."""
    report = RegistrationReport(callback_url=callback_url)
    existing = {(s["topic"], s.get("uri")): str(s.get("id")) for s in list_subscriptions(client)}
    for topic in topics:
        if (topic, callback_url) in existing:
            report.unchanged[topic] = existing[(topic, callback_url)]
            continue
        data = client.execute(
            q.WEBHOOK_CREATE_MUTATION,
            {"topic": topic_enum(topic), "webhookSubscription": {"uri": callback_url, "format": "JSON"}},
            key="WebhookSubscriptionCreate",
        )
        result = data.get("webhookSubscriptionCreate") or {}
        errors = result.get("userErrors") or []
        if errors:
            if any("already been taken" in str(e.get("message", "")) for e in errors if isinstance(e, Mapping)):
                report.unchanged[topic] = "taken"  # created meanwhile by a concurrent connect: that is fine
                continue
            raise user_errors_error(errors, url=client.http.url_for(client.endpoint), operation="WebhookCreate")
        report.created[topic] = str((result.get("webhookSubscription") or {}).get("id"))
    return report


def callback_url_for(base_url: str, integration_id: int) -> str:
    """The receiver's route for this integration's deliveries (``inbox.delivery_url``)."""
    return inbox.delivery_url(base_url, "shopify", integration_id)


def connect_webhooks(
    engine: Engine,
    integration_id: int,
    receiver_base_url: str,
    cipher: CredentialCipher,
    *,
    client: ShopifyClient | None = None,
    timeout: float = 20.0,
    webhook_secret: str | None = None,
) -> RegistrationReport:
    """Store the signing secret (the app's client secret) once and register the shop's webhooks.

    The secret is ``webhook_secret`` (given here or stored at connect) or else the stored ``client_secret``; it is
    written to the encrypted credentials BEFORE the subscriptions are created, so the first delivery verifies. A
    shop connected with a static token and no client secret raises :class:`ShopifyWebhookSecretMissing`: its
    deliveries could not be verified, and accepting unverified ones is not an option.
    """
    callback_url = callback_url_for(receiver_base_url, integration_id)
    with engine.begin() as conn:
        integration = store.get_integration(conn, integration_id, for_update=True)
        credentials = store.load_credentials(conn, integration_id, cipher)
        stored = credentials.get("webhook_secret")
        secret = webhook_secret or (reveal(stored) if stored else None)
        if not secret and credentials.get("client_secret"):
            secret = reveal(credentials["client_secret"])
        if not secret:
            raise ShopifyWebhookSecretMissing(
                f"integration #{integration_id} was connected with an access token only, and Shopify signs webhook "
                "deliveries with the app's client secret, which we do not have",
                platform=PLATFORM,
                code="WEBHOOK_SECRET_MISSING",
            )
        settings = dict(integration.settings or {})
        if secret != (reveal(stored) if stored else None) or settings.get("webhook_url") != callback_url:
            plain = plain_credentials(credentials)
            plain["webhook_secret"] = secret
            settings["webhook_url"] = callback_url
            conn.execute(
                update(integrations)
                .where(integrations.c.id == integration_id)
                .values(credentials_encrypted=cipher.encrypt(plain), settings=settings, updated_at=utcnow())
            )
    own_client = client is None
    client = client or client_for(integration, credentials, timeout=timeout)
    try:
        return ensure_webhooks(client, callback_url)
    finally:
        if own_client:
            client.close()


__all__ = [
    "TOPICS",
    "PermanentEventError",
    "RegistrationReport",
    "ShopifyWebhookSecretMissing",
    "callback_url_for",
    "client_for",
    "connect_webhooks",
    "ensure_webhooks",
    "list_subscriptions",
    "staged_from_delivery",
]
