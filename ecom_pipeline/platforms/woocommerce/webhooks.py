"""WooCommerce webhooks: the topics we subscribe to, registering them, and turning a delivery into staging.

Deliveries -> staging (used by ``ecom_pipeline.webhooks.apply``)
-----------------------------------------------------------------
A delivery is turned into the SAME staged records the pull writes, so one transform and one resolve serve both
paths. WooCommerce renders the payload when the delivery is sent (not when the change happened), so a payload
is the shop's state at send time; an older one never overwrites newer hub state because resolve skips a record
whose ``date_modified_gmt`` is older than the one its link holds.

- simple/grouped/external product: the body is the full record, staged as ``{"product": body, "variations": []}``
  with no API call.
- variable product: the body lists variation ids, not variations. Its variations are read through the API, and
  so is the product itself, so both halves of the record are from the same instant (mixing a send-time product
  with read-time variations could stamp newer variations with an older time, and resolve would then skip them).
- variation (``type: "variation"``, which ``product.created``/``product.updated`` also fire for): the parent and
  its variations are re-read and the parent is staged, exactly like the pull stages it.
- nested categories: a product (in the body or re-read) names its categories as ``{id, name, slug}``, without
  their parents, so each delivery's record gets the ``category_paths`` the pull stages (``Kitchen > Mugs``, from
  the shop's category tree: ``taxonomy.CategoryTree``), and the hub reads the same path whether the product came
  by webhook or by poll (a leaf here and a path there was a hub change at each flip, pushed on to other shops).
  The tree is read once per apply batch and shop (kept with the batch's client; read again only for a category
  created since), not once per delivery; when it cannot be read, the delivery is staged as it came (leaf names:
  the price or stock it brings is not held back for a category path, and the next poll stages the path).
- order / customer: the body is the record.
- ``*.deleted``: the body is ``{"id": N}``: a delete (tombstone) is staged, which ``webhooks.apply`` confirms with
  the shop (:func:`confirm_deleted`) before it is applied: the topic header is not signed.
- ``product.restored`` / ``order.restored`` (out of the trash, WooCommerce's ``untrashed_post``): the record is
  re-read and staged like an update, which revives its tombstoned link; still trashed when re-read, a delete
  (:func:`restored`). Without them a restore reached the hub only by the next poll.
- error body (``{"code", "message", "data"}``: the store could not render the resource when it sent) or a body
  the transform refuses: that one resource is re-read; a 404 on re-read means it is gone and becomes a tombstone.
- products also stage their stock rows (entity ``inventory``), as ``woocommerce/inventory`` would, so a sale on
  the shop reaches ``hub_inventory`` in seconds.

Registration
------------
:func:`ensure_webhooks` is idempotent: it lists ``GET /webhooks`` and matches on topic + delivery URL, creates
what is missing, re-activates webhooks the store disabled (WooCommerce sets ``disabled`` on the 7th consecutive
failed delivery, and never re-enables them itself), removes duplicates, and leaves ``paused`` ones alone (a
person paused them). Re-activating keeps WooCommerce's failure count (only a successful delivery resets it), so a
webhook re-enabled while the receiver is still down is disabled again by its next failure, and enabled again by
the next upkeep. WooCommerce never returns a webhook's secret, so we cannot tell whether an existing webhook
signs with our secret: when the caller has a new secret (``replace_existing=True``), matching webhooks are deleted
and recreated with it rather than trusted.
"""

from __future__ import annotations

import json
import secrets
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, update

from ecom_pipeline.platforms.errors import ShopNotFoundError
from ecom_pipeline.platforms.http import HttpOptions
from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient, is_staff
from ecom_pipeline.platforms.woocommerce.extract import STOCK_FIELDS
from ecom_pipeline.platforms.woocommerce.taxonomy import CategoryTree
from ecom_pipeline.platforms.woocommerce.transform import (
    customer_to_canonical,
    order_to_canonical,
    product_to_canonical,
    source_updated_at,
)
from ecom_pipeline.sync.extract import staged_with_time
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher, reveal
from ecom_pipeline.warehouse.schema import integrations
from ecom_pipeline.warehouse.store import IntegrationRecord, StagedRecord
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline.webhooks import inbox

TOPICS: tuple[str, ...] = (
    "product.created",
    "product.updated",
    "product.deleted",
    "product.restored",
    "order.created",
    "order.updated",
    "order.deleted",
    "order.restored",
    "customer.created",
    "customer.updated",
    "customer.deleted",
)
# Topics added after the first release: shops connected before get them from ``upkeep`` (ensure_webhooks).
NEWER_TOPICS: frozenset[str] = frozenset({"product.restored", "order.restored"})
# WooCommerce resource -> (staging entity, REST collection)
RESOURCES: dict[str, tuple[str, str]] = {
    "product": ("product", "products"),
    "order": ("order", "orders"),
    "customer": ("customer", "customers"),
}
_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "product": product_to_canonical,
    "order": order_to_canonical,
    "customer": customer_to_canonical,
}


class PermanentEventError(Exception):
    """The delivery can never be applied as it is (retrying will not help): it goes straight to dead letters."""


# --- deliveries -> staging ---------------------------------------------------------------------------------------


def _is_error_body(body: Any) -> bool:
    """WooCommerce could not render the resource when it sent (``{"code", "message", "data"}``), or no object."""
    return not isinstance(body, dict) or "id" not in body


def _valid(entity: str, record: Mapping[str, Any]) -> str | None:
    """None when the transform accepts ``record``, else why not."""
    try:
        _VALIDATORS[entity](record)
    except ValueError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _inventory_record(record: Mapping[str, Any]) -> dict[str, Any]:
    product = record.get("product") or {}
    return {
        "product": {k: product.get(k) for k in STOCK_FIELDS},
        "variations": [{k: v.get(k) for k in STOCK_FIELDS} for v in record.get("variations") or []],
    }


def _read_product(client: WooCommerceClient, product_id: str) -> dict[str, Any]:
    """The full staged form of one product read now: the product and (for a variable one) its variations."""
    product = client.get(f"products/{product_id}")
    if not isinstance(product, dict):
        raise ValueError(f"products/{product_id} did not return an object")
    if product.get("type") == "variation" and product.get("parent_id"):
        return _read_product(client, str(product["parent_id"]))
    variations = list(client.list_variations(int(product["id"]))) if product.get("type") == "variable" else []
    return {"product": product, "variations": variations}


# The shop's category tree per apply batch: kept with the batch's client (``webhooks.apply`` makes one per shop and
# batch, and drops it at the end), so a batch reads the tree at most once per shop, and the next batch afresh.
_TREES: weakref.WeakKeyDictionary[Any, CategoryTree] = weakref.WeakKeyDictionary()


def _tree_of(client: Any) -> CategoryTree:
    tree = _TREES.get(client)
    if tree is None:
        # A weak reference: the tree (a value of _TREES) must not keep its own key, the client, alive.
        ref = weakref.ref(client)

        def current() -> WooCommerceClient:
            shop = ref()
            if shop is None:  # pragma: no cover - the tree is only used while its client is
                raise RuntimeError("the apply batch's client is gone")
            return shop

        tree = _TREES[client] = CategoryTree(current, owns_client=False)
    return tree


def with_category_paths(record: dict[str, Any], client: Callable[[], WooCommerceClient]) -> dict[str, Any]:
    """``record`` with the ``category_paths`` of its nested categories, as the pull stages it (see the module
    docstring); as it came when the product names no category, or when the tree cannot be read."""
    product = record.get("product")
    named = product.get("categories") if isinstance(product, Mapping) else None
    if not isinstance(named, list) or not any(isinstance(c, Mapping) and c.get("id") is not None for c in named):
        return record
    try:
        return _tree_of(client()).stage(record)
    except Exception:  # the shop's categories could not be read: leaf names now, the poll stages the paths
        return record


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


def _product_records(
    integration: IntegrationRecord,
    record: dict[str, Any],
    client: Callable[[], WooCommerceClient],
    *,
    read_now: bool,
) -> list[StagedRecord]:
    """A product's staged records (the product with its category paths, and its stock rows), as the pull stages
    them; raises when even this record is refused by the transform."""
    problem = _valid("product", record)
    if problem is not None:
        raise ValueError(f"product {record['product'].get('id')} re-read from the shop is still invalid: {problem}")
    record = with_category_paths(record, client)
    product_id = str(record["product"]["id"])
    return [
        _staged(integration, "product", product_id, record, read_now=read_now),
        _staged(integration, "inventory", product_id, _inventory_record(record), read_now=read_now),
    ]


def reread(
    *, integration: IntegrationRecord, entity: str, external_id: str, client: Callable[[], WooCommerceClient]
) -> list[StagedRecord]:
    """The record as the shop has it now, staged as the pull stages it (a tombstone when the shop answers 404).

    ``webhooks.apply`` calls it for a body whose modification time ties with the one the hub holds but whose content
    differs (``webhooks.same_second``): only the shop can say which of two states of one second is the later.
    """
    if entity == "product":
        try:
            return _product_records(integration, _read_product(client(), external_id), client, read_now=True)
        except ShopNotFoundError:
            return [_staged(integration, "product", external_id, None, op="delete")]
    collection = next(coll for ent, coll in RESOURCES.values() if ent == entity)
    try:
        fresh = client().get(f"{collection}/{external_id}")
    except ShopNotFoundError:
        return [_staged(integration, entity, external_id, None, op="delete")]
    problem = _valid(entity, fresh)
    if problem is not None:
        raise ValueError(f"{entity} {external_id} re-read from the shop is still invalid: {problem}")
    return [_staged(integration, entity, external_id, fresh, read_now=True)]


def restored(
    *, integration: IntegrationRecord, entity: str, external_id: str, client: Callable[[], WooCommerceClient]
) -> list[StagedRecord]:
    """A ``product.restored`` / ``order.restored`` delivery (out of the trash): the record as the shop has it now.

    Applied as an update by re-read, not from the body: deliveries are not ordered, and a restore applied after the
    trash that followed it would bring a trashed record back to life. The shop says which came last: still in the
    trash (``status: trash``) or gone (404) stages a delete (confirmed again at apply), anything else the record,
    which revives its tombstoned link in the hub.
    """
    records = reread(integration=integration, entity=entity, external_id=external_id, client=client)
    top = next((r for r in records if r.entity == entity), None)
    payload = top.payload if top is not None else None
    if isinstance(payload, dict) and entity == "product":
        payload = payload.get("product")
    if top is not None and isinstance(payload, dict) and payload.get("status") == "trash":
        # the record re-read (a variation's parent, for a variation) is in the trash: that one is deleted
        return [_staged(integration, entity, top.external_id, None, op="delete")]
    return records


def staged_from_delivery(
    *,
    integration: IntegrationRecord,
    topic: str,
    body_text: str,
    resource_id: str | None,
    client: Callable[[], WooCommerceClient],
) -> list[StagedRecord]:
    """The staged records one WooCommerce delivery stands for ([] for topics we do not sync).

    ``client`` is called only when the delivery needs a re-read, or a product's category tree (once per batch),
    so orders and customers cost no API call. Raises :class:`PermanentEventError` for deliveries that no retry
    can fix; any other exception (the shop is down, a 429) is worth retrying later.
    """
    resource, _, event = topic.partition(".")
    if resource not in RESOURCES:
        return []  # coupons, actions, ...: not synced (the hub has no table for them)
    entity, _collection = RESOURCES[resource]
    try:
        body: Any = json.loads(body_text)
    except ValueError:
        body = None
    body_id = body.get("id") if isinstance(body, dict) else None
    external_id = str(body_id) if body_id not in (None, "", 0) else resource_id

    if event == "deleted":
        if not external_id:
            raise PermanentEventError(f"{topic} delivery without an id: {body_text[:200]!r}")
        return [_staged(integration, entity, external_id, None, op="delete")]
    if event == "restored":
        if not external_id:
            raise PermanentEventError(f"{topic} delivery without an id: {body_text[:200]!r}")
        return restored(integration=integration, entity=entity, external_id=external_id, client=client)
    if not external_id:
        raise PermanentEventError(
            f"{topic} delivery is an error body without a resource id, so it cannot be re-read "
            f"(the next incremental sync reconciles it): {body_text[:300]!r}"
        )

    reread_needed = _is_error_body(body)
    if entity == "product":
        if not reread_needed and body.get("type") not in ("variable", "variation"):
            record = {"product": body, "variations": []}
            if _valid("product", record) is None:
                return _product_records(integration, record, client, read_now=False)
        try:
            return _product_records(integration, _read_product(client(), external_id), client, read_now=True)
        except ShopNotFoundError:
            parent = body.get("parent_id") if isinstance(body, dict) else None
            if not parent:
                return [_staged(integration, "product", external_id, None, op="delete")]
            # a variation that is gone: its parent may still exist
            return reread(integration=integration, entity="product", external_id=str(parent), client=client)

    if not reread_needed and _valid(entity, body) is None:
        records = [_staged(integration, entity, external_id, body)]
    else:
        records = reread(integration=integration, entity=entity, external_id=external_id, client=client)
    if entity == "customer":
        # The shop's staff (STAFF_ROLES) are not customers: the customers extract stages none of them, and neither
        # does a delivery (an administrator's profile edit, a test order's customer.updated).
        records = [r for r in records if not (isinstance(r.payload, dict) and is_staff(r.payload))]
    return records


def confirm_deleted(client: WooCommerceClient, entity: str, external_id: str) -> str | None:
    """None when the shop confirms ``entity external_id`` is gone (404, or in the trash), else what it shows.

    ``webhooks.apply`` asks before tombstoning anything a delivery calls deleted: the topic header is not signed.
    Only WooCommerce's own "no such id" (404 ``woocommerce_rest_*invalid_id``) confirms: a 404 ``rest_no_route``
    or a web server's 404 page means the API is not where we look (a moved site, a broken rewrite), which says
    nothing about the record; it is raised, so the delivery retries instead of tombstoning on a misconfiguration.
    """
    if entity not in {e for e, _ in RESOURCES.values()}:
        return f"a {entity} deletion cannot be checked on WooCommerce"
    collection = next(c for e, c in RESOURCES.values() if e == entity)
    try:
        record = client.get(f"{collection}/{external_id}")
    except ShopNotFoundError as err:
        if not (err.code or "").endswith("invalid_id"):
            raise
        return None
    status = record.get("status") if isinstance(record, dict) else None
    if status == "trash":
        return None
    return f"the shop still has {entity} {external_id}" + (f" (status {status})" if status else "")


def client_for(integration: IntegrationRecord, credentials: Mapping[str, Any], *, timeout: float = 20.0) -> Any:
    """A client for re-reads during webhook apply (few retries: the event itself is retried with backoff)."""
    options = HttpOptions.for_integration(integration, timeout=timeout, max_retries=2)
    return WooCommerceClient(options, reveal(credentials["consumer_key"]), reveal(credentials["consumer_secret"]))


# --- registration ------------------------------------------------------------------------------------------------


@dataclass
class RegistrationReport:
    """What :func:`ensure_webhooks` did, per topic (webhook ids in the shop)."""

    delivery_url: str
    created: dict[str, int] = field(default_factory=dict)
    reenabled: dict[str, int] = field(default_factory=dict)
    recreated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    paused: dict[str, int] = field(default_factory=dict)
    removed_duplicates: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.reenabled or self.recreated or self.removed_duplicates)

    def summary(self) -> str:
        parts = [
            f"{len(v)} {name}"
            for name, v in (
                ("created", self.created),
                ("re-enabled", self.reenabled),
                ("recreated with a new secret", self.recreated),
                ("already active", self.unchanged),
                ("paused by someone in the shop (left paused)", self.paused),
                ("duplicates removed", self.removed_duplicates),
            )
            if v
        ]
        return f"webhooks to {self.delivery_url}: " + ", ".join(parts)


def list_webhooks(client: WooCommerceClient) -> list[dict[str, Any]]:
    return [hook for page in client.iter_pages("webhooks", {"per_page": 100}) for hook in page.items]


def ensure_webhooks(
    client: WooCommerceClient,
    delivery_url: str,
    secret: str,
    *,
    topics: Iterable[str] = TOPICS,
    replace_existing: bool = False,
    name_prefix: str = "ecom_pipeline",
) -> RegistrationReport:
    """Make the shop deliver every topic in ``topics`` to ``delivery_url``, signed with ``secret``; idempotent."""
    report = RegistrationReport(delivery_url=delivery_url)
    existing = list_webhooks(client)
    for topic in topics:
        matches = sorted(
            (h for h in existing if h.get("topic") == topic and h.get("delivery_url") == delivery_url),
            key=lambda h: int(h["id"]),
        )
        for extra in matches[1:]:
            client.delete(f"webhooks/{extra['id']}", force=True)
            report.removed_duplicates.append(int(extra["id"]))
        hook = matches[0] if matches else None
        body = {"name": f"{name_prefix} {topic}", "topic": topic, "delivery_url": delivery_url, "secret": secret}
        if hook is not None and replace_existing:
            client.delete(f"webhooks/{hook['id']}", force=True)
            report.recreated[topic] = int(client.post("webhooks", {**body, "status": "active"})["id"])
        elif hook is None:
            report.created[topic] = int(client.post("webhooks", {**body, "status": "active"})["id"])
        elif hook.get("status") == "disabled":
            client.put(f"webhooks/{hook['id']}", {"status": "active"})
            report.reenabled[topic] = int(hook["id"])
        elif hook.get("status") == "paused":
            report.paused[topic] = int(hook["id"])
        else:
            report.unchanged[topic] = int(hook["id"])
    return report


def upkeep(ctx: Any) -> str | None:
    """Enable again the webhooks the store disabled, and register missing ones (``ReconcileSpec.upkeep``).

    WooCommerce disables a webhook on its 7th consecutive failed delivery (a receiver down for a few minutes is
    enough) and never enables it again: from then on only polls bring changes, and nothing says so but the
    ``missed_by_webhooks`` figure. Once per reconciliation interval this lists the shop's webhooks (one call) and
    calls :func:`ensure_webhooks` for the delivery URL the integration registered, with its stored secret; paused
    webhooks (a person paused them) stay paused. None when the shop has no webhooks of ours or nothing changed.
    """
    from ecom_pipeline.platforms.woocommerce.extract import make_client

    url = (ctx.integration.settings or {}).get("webhook_url")
    secret = ctx.credentials.get("webhook_secret")
    if not url or not secret:
        return None
    with make_client(ctx) as client:
        report = ensure_webhooks(client, str(url), reveal(secret))
    if not report.changed:
        return None
    if set(report.created) <= NEWER_TOPICS and not (report.reenabled or report.recreated or report.removed_duplicates):
        return f"subscribed to topics added since this shop was connected; {report.summary()}."
    return (
        f"WooCommerce had disabled or lost webhooks (it disables one after repeated failed deliveries); "
        f"{report.summary()}. Changes made meanwhile reach the hub by the polls."
    )


def delivery_url_for(base_url: str, integration_id: int) -> str:
    """The receiver's route for this integration's deliveries (``inbox.delivery_url``)."""
    return inbox.delivery_url(base_url, "woocommerce", integration_id)


def connect_webhooks(
    engine: Engine,
    integration_id: int,
    receiver_base_url: str,
    cipher: CredentialCipher,
    *,
    client: WooCommerceClient | None = None,
    timeout: float = 20.0,
) -> RegistrationReport:
    """Give the integration a webhook secret (once) and register its webhooks (``connect --webhook-url``).

    The secret is stored in the encrypted credentials (``webhook_secret``) BEFORE the webhooks are created, so the
    first deliveries already verify. Running it again reuses the stored secret and changes nothing in the shop; a
    new secret (first run) recreates any webhook that already pointed at our URL, since its secret is unknown.
    """
    # The row is read FOR UPDATE: two registrations at once would otherwise each store a secret of their own, and
    # the shop's webhooks created by the first would be signed with a secret the warehouse no longer has.
    with engine.begin() as conn:
        integration = store.get_integration(conn, integration_id, for_update=True)
        credentials = store.load_credentials(conn, integration_id, cipher)
        secret = reveal(credentials["webhook_secret"]) if credentials.get("webhook_secret") else None
        new_secret = secret is None
        if secret is None:
            secret = secrets.token_urlsafe(32)
            plain = {k: reveal(v) if isinstance(v, str) else v for k, v in credentials.items()}
            plain["webhook_secret"] = secret
            settings = dict(integration.settings or {})
            settings["webhook_url"] = delivery_url_for(receiver_base_url, integration_id)
            conn.execute(
                update(integrations)
                .where(integrations.c.id == integration_id)
                .values(credentials_encrypted=cipher.encrypt(plain), settings=settings, updated_at=utcnow())
            )
    delivery_url = delivery_url_for(receiver_base_url, integration_id)
    own_client = client is None
    client = client or client_for(integration, credentials, timeout=timeout)
    try:
        return ensure_webhooks(client, delivery_url, secret, replace_existing=new_secret)
    finally:
        if own_client:
            client.close()
