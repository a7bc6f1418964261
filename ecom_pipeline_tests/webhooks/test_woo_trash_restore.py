"""A WooCommerce product trashed, restored and trashed again within one clock hour, by webhook only.

Failures prevented (review 3, HIGH): a deletion body is only ``{"id": N}``, so its delivery key was the body plus
the arrival *hour*: the second trash was answered 200 as a duplicate and never applied, and the hub kept a
product the shop had trashed. And ``product.restored`` / ``order.restored`` were not subscribed, so a restore
reached the hub only by the next poll. Deliveries go through the real receiver (with a controlled clock) into a
real warehouse, signed like WooCommerce signs them, and are applied against the emulated shop.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient
from ecom_pipeline.platforms.woocommerce.webhooks import TOPICS, ensure_webhooks, list_webhooks, upkeep
from ecom_pipeline.sandbox.server import SandboxServer
from ecom_pipeline.sandbox.shop import ShopHandle, ShopSpec
from ecom_pipeline.sandbox.woocommerce.webhooks import delivery_id, php_json, signature
from ecom_pipeline.sync.extract import ExtractContext
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_orders, hub_products
from ecom_pipeline.webhooks.app import create_app
from ecom_pipeline.webhooks.apply import apply_inbox
from ecom_pipeline_tests.webhooks.conftest import TENANT, WC_SECRET, add_integration

HOUR_START = 3600 * 500_000.0  # 10:00 of some hour


@pytest.fixture
def world(warehouse_url: str, cipher: CredentialCipher, tmp_path: Path) -> Iterator[dict[str, Any]]:
    spec = ShopSpec(name="restore", seed=5, products=4, variable_share=0.0, orders=2, customers=1)
    engine = make_engine(warehouse_url)
    with SandboxServer(shops=[spec], cert_dir=tmp_path / "certs") as sandbox:
        shop = sandbox.shop("restore")
        iid = add_integration(
            engine,
            cipher,
            platform="woocommerce",
            base_url=shop.http_url,
            credentials={
                "consumer_key": shop.consumer_key,
                "consumer_secret": shop.consumer_secret,
                "webhook_secret": WC_SECRET,
            },
        )
        now = [HOUR_START]
        app = create_app(engine=engine, cipher=cipher, clock=lambda: now[0])
        with TestClient(app) as http:
            yield {"engine": engine, "shop": shop, "iid": iid, "now": now, "http": http, "cipher": cipher}
    engine.dispose()


def _client(shop: ShopHandle) -> WooCommerceClient:
    return WooCommerceClient(shop.http_url, shop.consumer_key, shop.consumer_secret, max_retries=0)


def _deliver(world: dict[str, Any], topic: str, body: dict[str, Any], webhook_id: int) -> dict[str, Any]:
    raw = php_json(body)
    resource, _, event = topic.partition(".")
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-ID": str(webhook_id),
        "X-WC-Webhook-Delivery-ID": delivery_id(webhook_id, int(world["now"][0])),
        "X-WC-Webhook-Signature": signature(WC_SECRET, raw),
    }
    response = world["http"].post(f"/webhooks/woocommerce/{world['iid']}", content=raw, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _apply(world: dict[str, Any], run: str) -> Any:
    return apply_inbox(world["engine"], tenant_id=TENANT, run_id=run, cipher=world["cipher"])


def _hub_deleted(engine: Engine, entity: str, external_id: int) -> bool:
    table = hub_products if entity == "product" else hub_orders
    with engine.connect() as conn:
        hub_id = conn.execute(
            select(entity_links.c.hub_id).where(
                entity_links.c.entity == entity, entity_links.c.external_id == str(external_id)
            )
        ).scalar_one()
        return conn.execute(select(table.c.deleted_at).where(table.c.id == hub_id)).scalar() is not None


def test_trash_restore_trash_within_one_hour_ends_deleted_and_the_restore_applies_by_webhook(
    world: dict[str, Any],
) -> None:
    shop, engine, now = world["shop"], world["engine"], world["now"]
    wc_store = shop.store
    pid = next(p.id for p in wc_store.products.values() if p.status == "publish")
    with _client(shop) as client:
        _deliver(world, "product.updated", client.get(f"products/{pid}"), webhook_id=2)
        _apply(world, "r0")
        assert not _hub_deleted(engine, "product", pid)

        now[0] = HOUR_START + 60  # 10:01 trash
        wc_store.delete_product(pid)
        assert _deliver(world, "product.deleted", {"id": pid}, webhook_id=3)["duplicate"] is False
        assert _apply(world, "r1").entities["product"].deleted == 1
        assert _hub_deleted(engine, "product", pid)

        now[0] = HOUR_START + 20 * 60  # 10:20 restore: the product.restored delivery revives it in the hub
        wc_store.untrash_product(pid)
        _deliver(world, "product.restored", client.get(f"products/{pid}"), webhook_id=4)
        _apply(world, "r2")
        assert not _hub_deleted(engine, "product", pid), "the restore must apply by webhook"

        now[0] = HOUR_START + 51 * 60  # 10:51 trash again: the same {"id": N} body, within the same hour
        wc_store.delete_product(pid)
        assert _deliver(world, "product.deleted", {"id": pid}, webhook_id=3)["duplicate"] is False
        assert _apply(world, "r3").entities["product"].deleted == 1
    assert _hub_deleted(engine, "product", pid)


def test_a_restore_applied_after_the_trash_that_followed_it_does_not_revive(world: dict[str, Any]) -> None:
    """Deliveries are not ordered: a restore is applied by re-read, and a record back in the trash stays deleted."""
    shop, engine, now = world["shop"], world["engine"], world["now"]
    wc_store = shop.store
    oid = next(iter(wc_store.orders))
    with _client(shop) as client:
        _deliver(world, "order.updated", client.get(f"orders/{oid}"), webhook_id=5)
        _apply(world, "r0")
        now[0] += 60
        wc_store.delete_order(oid)
        _deliver(world, "order.deleted", {"id": oid}, webhook_id=6)
        _apply(world, "r1")
        assert _hub_deleted(engine, "order", oid)
        now[0] += 60
        wc_store.untrash_order(oid)
        restored_body = client.get(f"orders/{oid}")
        now[0] += 60
        wc_store.delete_order(oid)
        _deliver(world, "order.deleted", {"id": oid}, webhook_id=6)
        _deliver(world, "order.restored", restored_body, webhook_id=7)  # arrives last
        _apply(world, "r2")
    assert _hub_deleted(engine, "order", oid)


def test_upkeep_subscribes_shops_connected_before_to_the_restored_topics_once(world: dict[str, Any]) -> None:
    shop, engine = world["shop"], world["engine"]
    url = "http://127.0.0.1:9/webhooks/woocommerce/1"
    old_topics = [t for t in TOPICS if not t.endswith(".restored")]
    with _client(shop) as client:
        ensure_webhooks(client, url, WC_SECRET, topics=old_topics)
    with engine.begin() as conn:
        iid = store.create_integration(
            conn,
            tenant_id=TENANT,
            platform="woocommerce",
            name="restore-upkeep",
            base_url=shop.http_url,
            credentials={
                "consumer_key": shop.consumer_key,
                "consumer_secret": shop.consumer_secret,
                "webhook_secret": WC_SECRET,
            },
            settings={"webhook_url": url},
            cipher=world["cipher"],
        )
        integration = store.get_integration(conn, iid)
    credentials = {
        "consumer_key": shop.consumer_key,
        "consumer_secret": shop.consumer_secret,
        "webhook_secret": WC_SECRET,
    }
    ctx = ExtractContext(engine, integration, credentials, None, log=logging.getLogger("wc_upkeep"))
    message = upkeep(ctx)
    assert message is not None and "product.restored" not in message  # a summary, not a topic dump
    assert "added since this shop was connected" in message
    with _client(shop) as client:
        topics = sorted(h["topic"] for h in list_webhooks(client) if h["delivery_url"] == url)
    assert topics == sorted(TOPICS)
    assert upkeep(ctx) is None  # idempotent
