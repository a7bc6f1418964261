"""Webhooks of the emulated WooCommerce store: subscriptions (``/webhooks``) and deliveries, as 10.0.2 does them.

What the recordings show (and this emulates):

- ``POST /webhooks`` creates the subscription and sends a synchronous ping to ``delivery_url`` while the request
  runs: form-encoded ``webhook_id=<id>``, no X-WC-Webhook-* headers, no signature. Creation succeeds whatever the
  receiver answers. Responses never contain the secret. ``DELETE`` needs ``force=true``.
- Deliveries are queued when data changes and sent later by a background sender (Action Scheduler on a real
  store: 3-25 s in the recording session; here ``delay_s``, default 0). The body is the resource rendered when the
  delivery is SENT (so a product changed twice before sending is delivered twice in its latest state), as compact
  JSON with ``\\/`` escaping, signed ``base64(HMAC-SHA256(secret, body))``. Deletions send ``{"id": N}``; a
  resource that no longer exists when the delivery runs is sent as the REST error body, as the store would.
- Headers in wire order: User-Agent "WooCommerce/10.0.2 Hookshot (WordPress/6.8.8)", Content-Type, X-WC-Webhook-
  Source (site URL with trailing slash), -Topic, -Resource, -Event, -Signature, -ID, -Delivery-ID, Connection:
  close. The Delivery-ID is a hash of the webhook id and the current Unix second, so it repeats within a second.
- ``product.created`` also fires for each variation created; stock changes made by orders fire ``product.updated``
  for the item whose stock moved; ``product.deleted`` fires on trashing (not on a forced delete); one resource is
  queued once per webhook until its delivery runs (WooCommerce de-duplicates within a request).
- Delivery outcome, as ``WC_Webhook::log_delivery`` and ``failed_delivery`` count it (WooCommerce source): a
  2xx, 300, 301 or 302 answer is a success (``200 <= code < 303``; redirects are not followed, the request has
  ``redirection => 0``) and resets ``failure_count`` to 0. Anything else, or no answer, is a failure: while
  ``failure_count`` is not above ``max_failures`` (the ``woocommerce_max_webhook_delivery_failures`` filter, 5) it
  is incremented; a failure with the count already above it sets ``disabled`` instead, so the 7th consecutive
  failure disables the webhook, which then receives nothing until someone sets it back to ``active``. Setting it
  active (REST ``PUT /webhooks/{id}``) does NOT reset the count (``set_status`` only; neither the controller nor
  the data store touches it): a re-activated webhook is disabled again by its next failure, unless a success
  comes first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC as _UTC
from typing import Any
from urllib.parse import urlparse

import requests

from ecom_pipeline.sandbox.woocommerce.errors import StoreError, found, invalid_id
from ecom_pipeline.sandbox.woocommerce.records import wp_date as _wp_date
from ecom_pipeline.sandbox.woocommerce.render import render_customer, render_order, render_product, render_variation
from ecom_pipeline.sandbox.woocommerce.store import WooStore

USER_AGENT = "WooCommerce/10.0.2 Hookshot (WordPress/6.8.8)"
RESOURCES = ("product", "order", "customer", "coupon")
EVENTS = ("created", "updated", "deleted", "restored")
HOOKS: dict[str, list[str]] = {
    "product.created": [
        "woocommerce_process_product_meta",
        "woocommerce_new_product",
        "woocommerce_new_product_variation",
    ],
    "product.updated": [
        "woocommerce_process_product_meta",
        "woocommerce_update_product",
        "woocommerce_update_product_variation",
    ],
    "product.deleted": ["wp_trash_post"],
    "product.restored": ["untrashed_post"],
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded"],
    "order.deleted": ["wp_trash_post"],
    "order.restored": ["untrashed_post"],
    "customer.created": ["user_register", "woocommerce_created_customer", "woocommerce_new_customer"],
    "customer.updated": ["profile_update", "woocommerce_update_customer"],
    "customer.deleted": ["delete_user"],
    "coupon.created": ["woocommerce_process_shop_coupon_meta", "woocommerce_new_coupon"],
    "coupon.updated": ["woocommerce_process_shop_coupon_meta", "woocommerce_update_coupon"],
    "coupon.deleted": ["wp_trash_post"],
    "coupon.restored": ["untrashed_post"],
}
SECRET_SALT = "sandbox-wp-salt"


def php_json(value: Any) -> bytes:
    """JSON as PHP's json_encode writes it for WordPress: compact, ASCII, slashes escaped."""
    import json

    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()


def signature(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _post(
    url: str, body: bytes, headers: dict[str, str], timeout: float, *, follow_redirects: bool = True
) -> int | None:
    """POST with exactly ``headers``, in their order (requests' session defaults would reorder and add some).

    ``follow_redirects=False`` for deliveries (``WC_Webhook::deliver`` sets ``redirection => 0``); the creation ping
    goes through ``wp_safe_remote_post`` with WordPress's default of 5 redirects."""
    with requests.Session() as session:
        session.headers.clear()
        try:
            return session.post(
                url, data=body, headers=headers, timeout=timeout, allow_redirects=follow_redirects
            ).status_code
        except requests.RequestException:
            return None


def delivery_succeeded(status: int | None) -> bool:
    """``WC_Webhook::log_delivery``: "a 2xx, 301 or 302 Response Code" (``200 <= code < 303``); no answer fails."""
    return status is not None and 200 <= status < 303


def delivery_id(webhook_id: int, unix_second: int) -> str:
    """Like ``wp_hash($webhook_id . time())``: the same for every delivery of one webhook within one second."""
    return hmac.new(SECRET_SALT.encode(), f"{webhook_id}{unix_second}".encode(), hashlib.md5).hexdigest()


@dataclass
class Webhook:
    id: int
    name: str
    status: str
    topic: str
    delivery_url: str
    secret: str
    created: int
    modified: int | None = None
    failure_count: int = 0
    deliveries: int = 0

    @property
    def resource(self) -> str:
        return self.topic.split(".", 1)[0]

    @property
    def event(self) -> str:
        return self.topic.split(".", 1)[1]


@dataclass(order=True)
class _Pending:
    due: float
    seq: int
    webhook_id: int = field(compare=False)
    kind: str = field(compare=False)  # "product" | "variation" | "order" | "customer"
    resource_id: int = field(compare=False)
    event: str = field(compare=False)


@dataclass
class DeliveryLog:
    """One attempted delivery (for tests and the admin view)."""

    webhook_id: int
    topic: str
    resource_id: int
    status: int | None
    delivery_id: str
    body: bytes
    sent_at: float


class WooWebhooks:
    """Subscriptions and the delivery sender of one emulated store."""

    def __init__(self, store: WooStore, *, delay_s: float = 0.0, max_failures: int = 5, timeout_s: float = 5.0) -> None:
        self.store = store
        self.delay_s = delay_s
        self.max_failures = max_failures
        self.timeout_s = timeout_s
        self.hooks: dict[int, Webhook] = {}
        self.site = f"http://127.0.0.1/{store.name}"
        self.log: list[DeliveryLog] = []
        self._next_id = 1
        self._queue: list[_Pending] = []
        self._queued: set[tuple[int, str, int, str]] = set()
        self._seq = 0
        self._cond = threading.Condition()
        self._sending = 0
        self._thread: threading.Thread | None = None
        self._stop = False
        store.listeners.append(self.on_change)

    # -------------------------------------------------------------- subscriptions (the REST handlers call these)

    def render(self, hook: Webhook, site: str) -> dict[str, Any]:
        tz = self.store.tz
        href = f"{site}/wp-json/wc/v3/webhooks/{hook.id}"
        return {
            "id": hook.id,
            "name": hook.name,
            "status": hook.status,
            "topic": hook.topic,
            "resource": hook.resource,
            "event": hook.event,
            "hooks": list(HOOKS.get(hook.topic, [])),
            "delivery_url": hook.delivery_url,
            "date_created": _wp_date(hook.created, tz),
            "date_created_gmt": _wp_date(hook.created, _UTC),
            "date_modified": _wp_date(hook.modified, tz),
            "date_modified_gmt": _wp_date(hook.modified, _UTC),
            "_links": {
                "self": [{"href": href, "targetHints": {"allow": ["GET", "POST", "PUT", "PATCH", "DELETE"]}}],
                "collection": [{"href": f"{site}/wp-json/wc/v3/webhooks"}],
            },
        }

    @staticmethod
    def _check_topic(topic: Any) -> str:
        text = str(topic or "")
        resource, _, event = text.partition(".")
        if resource not in RESOURCES or event not in EVENTS:
            raise StoreError(
                400, "woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic is required and must be valid."
            )
        return text

    @staticmethod
    def _check_url(url: Any) -> str:
        text = str(url or "")
        parsed = urlparse(text)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise StoreError(
                400,
                "woocommerce_rest_shop_webhook_invalid_delivery_url",
                "Webhook delivery URL must be a valid URL starting with http:// or https://.",
            )
        return text

    def get(self, wid: int) -> Webhook:
        return found(self.hooks, wid, invalid_id("shop_webhook"))

    def create(self, data: dict[str, Any], site: str) -> Webhook:
        topic = self._check_topic(data.get("topic"))
        url = self._check_url(data.get("delivery_url"))
        status = str(data.get("status") or "active")
        if status not in ("active", "paused", "disabled"):
            status = "active"
        with self.store.lock:
            hook = Webhook(
                id=self._next_id,
                name=str(data.get("name") or f"Webhook created on {time.strftime('%b %d, %Y @ %I:%M %p')}"),
                status=status,
                topic=topic,
                delivery_url=url,
                secret=str(data.get("secret") or ""),
                created=self.store.now(),
            )
            self._next_id += 1
            self.hooks[hook.id] = hook
            self.site = site
        self.ping(hook)
        return hook

    def update(self, wid: int, data: dict[str, Any]) -> Webhook:
        with self.store.lock:
            hook = self.get(wid)
            if "topic" in data:
                hook.topic = self._check_topic(data["topic"])
            if "delivery_url" in data:
                hook.delivery_url = self._check_url(data["delivery_url"])
            if "secret" in data:
                hook.secret = str(data["secret"] or "")
            if "name" in data:
                hook.name = str(data["name"])
            if "status" in data and data["status"] in ("active", "paused", "disabled"):
                hook.status = str(data["status"])  # failure_count is kept (WC_Webhook::set_status only)
            hook.modified = self.store.now()
            return hook

    def delete(self, wid: int, force: bool) -> Webhook:
        if not force:
            raise StoreError(501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.")
        with self.store.lock:
            hook = self.get(wid)
            del self.hooks[wid]
            return hook

    def ping(self, hook: Webhook) -> int | None:
        """The synchronous creation ping (unsigned form body); its answer changes nothing."""
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
            "Accept-Encoding": "deflate, gzip, br, zstd",
            "Connection": "close",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return _post(hook.delivery_url, f"webhook_id={hook.id}".encode(), headers, self.timeout_s)

    # -------------------------------------------------------------- events -> queue

    def on_change(self, kind: str, event: str, resource_id: int) -> None:
        """Called by the store on every change (``kind``: product | variation | order | customer | coupon)."""
        resource = "product" if kind == "variation" else kind
        topic = f"{resource}.{event}"
        with self._cond:
            for hook in self.hooks.values():
                if hook.status != "active" or hook.topic != topic:
                    continue
                key = (hook.id, kind, resource_id, event)
                if key in self._queued:
                    continue  # already queued and not sent yet: one delivery carries the latest state
                self._queued.add(key)
                self._seq += 1
                self._queue.append(
                    _Pending(time.monotonic() + self.delay_s, self._seq, hook.id, kind, resource_id, event)
                )
            if self._queue:
                self._queue.sort()
                self._ensure_thread()
                self._cond.notify_all()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop = False
            self._thread = threading.Thread(target=self._run, name=f"wc-webhooks-{self.store.name}", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (not self._queue or self._queue[0].due > time.monotonic()):
                    wait = self._queue[0].due - time.monotonic() if self._queue else None
                    self._cond.wait(wait if wait is None or wait > 0 else 0.001)
                if self._stop:
                    return
                item = self._queue.pop(0)
                self._queued.discard((item.webhook_id, item.kind, item.resource_id, item.event))
                self._sending += 1
            try:
                self._deliver(item)
            finally:
                with self._cond:
                    self._sending -= 1
                    self._cond.notify_all()

    def _payload(self, kind: str, resource_id: int, event: str) -> dict[str, Any]:
        """The resource as the REST API renders it now (send time), ``{"id": N}`` for deletions."""
        if event == "deleted":
            return {"id": resource_id}
        store, site = self.store, self.site
        try:
            if kind == "variation":
                var = store.variations.get(resource_id)
                if var is None:
                    raise StoreError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
                return render_variation(var, store.products.get(var.parent_id), store.tz, site)
            if kind == "product":
                product = store.get_product(resource_id)
                return render_product(product, store.variations_of(product), store.tz, site)
            if kind == "order":
                return render_order(store.get_order(resource_id), store.tz, site)
            if kind == "coupon":
                return store.catalog.render_coupon(store.catalog.get_coupon(resource_id), site)
            return render_customer(store.get_customer(resource_id), store.tz, site)
        except StoreError as exc:
            return exc.body()

    def _deliver(self, item: _Pending) -> None:
        with self.store.lock:
            hook = self.hooks.get(item.webhook_id)
            if hook is None or hook.status != "active":
                return
            body = php_json(self._payload(item.kind, item.resource_id, item.event))
            secret, url, topic = hook.secret, hook.delivery_url, hook.topic
            delivery = delivery_id(hook.id, self.store.now())
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
            "Accept-Encoding": "deflate, gzip, br, zstd",
            "Content-Type": "application/json",
            "X-WC-Webhook-Source": f"{self.site}/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": hook.resource,
            "X-WC-Webhook-Event": hook.event,
            "X-WC-Webhook-Signature": signature(secret, body),
            "X-WC-Webhook-ID": str(hook.id),
            "X-WC-Webhook-Delivery-ID": delivery,
            "Connection": "close",
        }
        status = _post(url, body, headers, self.timeout_s, follow_redirects=False)
        with self.store.lock:
            self.log.append(DeliveryLog(hook.id, topic, item.resource_id, status, delivery, body, time.time()))
            hook.deliveries += 1
            hook.modified = self.store.now()
            if delivery_succeeded(status):
                hook.failure_count = 0
            elif hook.failure_count > self.max_failures:  # WC_Webhook::failed_delivery
                hook.status = "disabled"
            else:
                hook.failure_count += 1

    # -------------------------------------------------------------- test helpers

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued delivery was attempted (ignores the delay); True when the queue drained."""
        deadline = time.monotonic() + timeout
        with self._cond:
            for pending in self._queue:
                pending.due = min(pending.due, time.monotonic())
            self._cond.notify_all()
            while self._queue or self._sending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(5)
