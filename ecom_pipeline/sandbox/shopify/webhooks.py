"""Webhook subscriptions and signed deliveries, as Shopify sends them.

Store mutations call :meth:`WebhookHub.on_event` with a topic (``products/update``) and the REST-shaped body;
every subscription to that topic gets one delivery: a POST of the compact JSON body with the headers Shopify
documents (``X-Shopify-Hmac-Sha256`` = base64 HMAC-SHA256 of the raw body keyed with the app's client secret).
Deliveries run on a background thread; a non-2xx answer (or no answer within 5 s) is retried on Shopify's
schedule of 8 retries over about 4 hours, measured on the sandbox clock so tests can fast-forward it. The
``X-Shopify-Webhook-Id`` stays the same across retries (it is the idempotency key); ``X-Shopify-Event-Id`` is
shared by all subscriptions notified of one event.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.shopify.store import StoreError, gid, parse_gid

# Seconds (clock) to wait before retry n (8 retries, about 4 hours in total).
RETRY_SCHEDULE_S = (10, 30, 60, 180, 600, 1800, 3600, 8000)
DELIVERY_TIMEOUT_S = 5.0


def topic_name(enum_value: str) -> str:
    """``PRODUCTS_UPDATE`` -> ``products/update``; ``INVENTORY_LEVELS_UPDATE`` -> ``inventory_levels/update``."""
    head, _, tail = enum_value.lower().rpartition("_")
    return f"{head}/{tail}"


def sign_body(body: bytes, secret: str) -> str:
    """``X-Shopify-Hmac-Sha256``: base64 of HMAC-SHA256(body) keyed with the client secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Subscription:
    KIND = "WebhookSubscription"
    id: int
    topic: str
    uri: str
    format: str
    include_fields: list[str]
    filter: str | None
    created_at: int
    updated_at: int

    @property
    def callback_url(self) -> str:
        return self.uri

    @property
    def endpoint(self) -> dict[str, str]:
        return {"callbackUrl": self.uri}


@dataclass
class Delivery:
    """One webhook for one subscription, with its attempts (``statuses``: HTTP status or 0 for no answer)."""

    webhook_id: str
    event_id: str
    subscription_id: int
    topic: str
    uri: str
    body: bytes
    headers: dict[str, str]
    next_at: float
    attempts: int = 0
    statuses: list[int] = field(default_factory=list)
    state: str = "pending"  # pending | delivered | failed


class WebhookHub:
    """Subscriptions of one app on one shop, and the delivery queue."""

    def __init__(self, shop_domain: str, client_secret: str, api_version: str, clock: SandboxClock) -> None:
        self.shop_domain = shop_domain
        self.client_secret = client_secret
        self.api_version = api_version
        self.clock = clock
        self.subscriptions: dict[int, Subscription] = {}
        self.deliveries: list[Delivery] = []
        self.tickers: list[Any] = []
        self._next_id = 1_200_000_000
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stop = False
        self._session = requests.Session()

    # ------------------------------------------------------------------------------------- subscriptions
    def create(
        self,
        topic: str,
        uri: str | None,
        fmt: str = "JSON",
        include_fields: list[str] | None = None,
        filter: str | None = None,
    ) -> Subscription:
        """Subscribe ``uri`` to ``topic`` (an enum value such as ``PRODUCTS_UPDATE``)."""
        if not uri:
            raise StoreError("Address can't be blank", "INVALID", ["webhookSubscription", "callbackUrl"])
        if not uri.startswith(("https://", "http://", "pubsub://", "arn:aws:events:")):
            raise StoreError("Address is invalid", "INVALID", ["webhookSubscription", "callbackUrl"])
        with self._lock:
            for sub in self.subscriptions.values():
                if sub.topic == topic and sub.uri == uri:
                    raise StoreError(
                        "Address for this topic has already been taken", "TAKEN", ["webhookSubscription", "callbackUrl"]
                    )
            self._next_id += 1
            now = self.clock.seconds()
            sub = Subscription(self._next_id, topic, uri, fmt, include_fields or [], filter, now, now)
            self.subscriptions[sub.id] = sub
        self._ensure_thread()
        return sub

    def delete(self, ident: str) -> int:
        try:
            sid = parse_gid(ident, "WebhookSubscription")
        except ValueError as exc:
            raise StoreError("Webhook subscription does not exist", "NOT_FOUND", ["id"]) from exc
        with self._lock:
            if self.subscriptions.pop(sid, None) is None:
                raise StoreError("Webhook subscription does not exist", "NOT_FOUND", ["id"])
        return sid

    def list(self, topics: list[str] | None = None, uri: str | None = None) -> list[Subscription]:
        return [
            s for s in self.subscriptions.values() if (not topics or s.topic in topics) and (not uri or s.uri == uri)
        ]

    def get(self, ident: str) -> Subscription | None:
        try:
            return self.subscriptions.get(parse_gid(ident, "WebhookSubscription"))
        except ValueError:
            return None

    # ------------------------------------------------------------------------------------- deliveries
    def on_event(self, topic: str, payload: dict[str, Any]) -> None:
        """Queue one delivery per subscription to ``topic`` (called by the store after each mutation)."""
        targets = [s for s in self.subscriptions.values() if topic_name(s.topic) == topic]
        if not targets:
            return
        event_id = str(uuid.uuid4())
        triggered = datetime.fromtimestamp(self.clock.time(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
        for sub in targets:
            data = {k: v for k, v in payload.items() if k in sub.include_fields} if sub.include_fields else payload
            body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
            webhook_id = str(uuid.uuid4())
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": sign_body(body, self.client_secret),
                "X-Shopify-Shop-Domain": self.shop_domain,
                "X-Shopify-API-Version": self.api_version,
                "X-Shopify-Webhook-Id": webhook_id,
                "X-Shopify-Event-Id": event_id,
                "X-Shopify-Triggered-At": triggered,
                "User-Agent": "Shopify-Captain-Hook",
            }
            with self._lock:
                self.deliveries.append(
                    Delivery(webhook_id, event_id, sub.id, topic, sub.uri, body, headers, self.clock.time())
                )
        self._ensure_thread()
        self._wake.set()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name=f"webhooks-{self.shop_domain}", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop:
            self._wake.wait(0.05)
            self._wake.clear()
            for tick in list(self.tickers):
                with contextlib.suppress(Exception):
                    tick()
            now = self.clock.time()
            with self._lock:
                due = [d for d in self.deliveries if d.state == "pending" and d.next_at <= now]
            for delivery in due:
                self._attempt(delivery)

    def _attempt(self, delivery: Delivery) -> None:
        try:
            resp = self._session.post(
                delivery.uri,
                data=delivery.body,
                headers=delivery.headers,
                timeout=DELIVERY_TIMEOUT_S,
                verify=False,
                allow_redirects=False,
            )
            status = resp.status_code
        except requests.RequestException:
            status = 0
        delivery.statuses.append(status)
        delivery.attempts += 1
        if 200 <= status < 300:
            delivery.state = "delivered"
        elif delivery.attempts > len(RETRY_SCHEDULE_S):
            delivery.state = "failed"
        else:
            delivery.next_at = self.clock.time() + RETRY_SCHEDULE_S[delivery.attempts - 1]

    def settled(self, timeout_s: float = 10.0) -> bool:
        """Wait until the queue holds deliveries and none is pending (each delivered, or failed after its retries):
        True, or False at the deadline. Deliveries go out from a background thread; a test waits for them here."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if self.deliveries and all(d.state != "pending" for d in self.deliveries):
                    return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self._stop = True
        self._wake.set()

    def render(self, sub: Subscription) -> dict[str, Any]:
        return {"id": gid("WebhookSubscription", sub.id), "topic": sub.topic, "uri": sub.uri}
