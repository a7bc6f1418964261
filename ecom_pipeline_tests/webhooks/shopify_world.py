"""A synced Shopify integration delivering webhooks to a running receiver, shared by the webhook tests."""

from __future__ import annotations

import json
from typing import Any

import requests
from sqlalchemy import Engine

from ecom_pipeline.platforms.shopify.spec import platform_spec
from ecom_pipeline.sandbox.server import SandboxServer
from ecom_pipeline.sandbox.shop import ShopHandle
from ecom_pipeline.sandbox.shopify.webhooks import sign_body
from ecom_pipeline.sync.apply import apply_staged
from ecom_pipeline.sync.extract import ExtractContext
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.webhooks.apply import apply_inbox
from ecom_pipeline_tests.webhooks.conftest import TENANT, add_integration

ENTITIES = ("product", "inventory", "customer", "order")


class ShopifyWorld:
    """A synced Shopify integration with the receiver running and webhooks registered."""

    def __init__(self, engine: Engine, cipher: CredentialCipher, sandbox: SandboxServer, receiver_url: str) -> None:
        self.engine = engine
        self.cipher = cipher
        self.sandbox = sandbox
        self.shop: ShopHandle = sandbox.shop("shw")
        self.receiver_url = receiver_url
        self.credentials = {
            "access_token": self.shop.credentials["access_token"],
            "client_secret": self.shop.credentials["client_secret"],
        }
        self.integration_id = add_integration(
            engine,
            cipher,
            platform="shopify",
            base_url=self.shop.http_url,
            credentials=self.credentials,
            settings={"bulk": "never", "currency": self.shop.store.currency},
        )

    def pull(self) -> None:
        spec = platform_spec()
        with self.engine.connect() as conn:
            integration = store.get_integration(conn, self.integration_id)
        for entity in ENTITIES:
            ctx = ExtractContext(
                engine=self.engine, integration=integration, credentials=dict(self.credentials), run_id="pull"
            )
            spec.extract(ctx, entity)
            report = apply_staged(
                self.engine,
                tenant_id=TENANT,
                entity=entity,
                transforms={"shopify": spec.transforms[entity]},
                run_id="pull",
            )
            assert report.rejected == 0, report.rejection_reasons

    def delivered(self, timeout: float = 10.0) -> None:
        """Wait until the shop has no pending delivery (the emulator delivers from a background thread)."""
        hub = self.shop.extra["webhooks"]
        if not hub.settled(timeout):
            raise AssertionError("deliveries still pending")
        assert all(d.state == "delivered" for d in hub.deliveries), [d.statuses for d in hub.deliveries]

    def apply(self) -> Any:
        self.delivered()
        report = apply_inbox(self.engine, tenant_id=TENANT, run_id="hook", cipher=self.cipher)
        assert report.dead == 0 and report.retried == 0, report.errors
        for entity, rep in report.entities.items():
            assert rep.rejected == 0, (entity, rep.rejection_reasons)
        return report

    def post(self, topic: str, body: dict[str, Any], webhook_id: str) -> requests.Response:
        """A delivery as Shopify sends it (used to replay a late retry of an older event)."""
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": sign_body(raw, self.shop.credentials["client_secret"]),
            "X-Shopify-Shop-Domain": "shw.myshopify.com",
            "X-Shopify-Webhook-Id": webhook_id,
        }
        return requests.post(
            f"{self.receiver_url}/webhooks/shopify/{self.integration_id}", data=raw, headers=headers, timeout=10
        )

    def scalar(self, query: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none()
