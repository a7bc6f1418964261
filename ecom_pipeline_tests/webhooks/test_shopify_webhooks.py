"""Shopify webhooks end to end: emulated shop -> signed delivery -> receiver -> inbox -> apply_inbox -> hub rows.

Nothing of ours is mocked: the emulated shop registers subscriptions through ``webhookSubscriptionCreate`` and
POSTs deliveries signed with the app's client secret to the real receiver over HTTP; the warehouse is real
(PostgreSQL under CI, else SQLite). Failures prevented: webhook bodies mapped differently from the pull (the hub
would flip on every poll), deletions lost, stock levels that never reach ``hub_inventory``, a late delivery
overwriting newer state, refunds that never change the order, and registration that duplicates subscriptions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from ecom_pipeline.platforms.shopify.webhooks import (
    TOPICS,
    ShopifyWebhookSecretMissing,
    connect_webhooks,
)
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher, reveal
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.schema import (
    entity_links,
    hub_inventory,
    hub_orders,
    hub_products,
    hub_variants,
    webhook_inbox,
)
from ecom_pipeline.webhooks.app import create_app
from ecom_pipeline.webhooks.apply import apply_inbox
from ecom_pipeline_tests.webhooks.conftest import SAMPLES, TENANT, Receiver, ReceiverServer, add_integration
from ecom_pipeline_tests.webhooks.shopify_world import ShopifyWorld


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    spec = ShopSpec(name="shw", platform="shopify", seed=21, products=8, orders=5, customers=4)
    with SandboxServer(shops=[spec], cert_dir=tmp_path / "certs") as sb:
        yield sb


@pytest.fixture
def world(warehouse_url: str, cipher: CredentialCipher, sandbox: SandboxServer) -> Iterator[ShopifyWorld]:
    engine = make_engine(warehouse_url)
    with ReceiverServer(create_app(engine=engine, cipher=cipher)) as receiver:
        w = ShopifyWorld(engine, cipher, sandbox, receiver.url)
        w.pull()
        report = connect_webhooks(engine, w.integration_id, receiver.url, cipher)
        assert sorted(report.created) == sorted(TOPICS)
        yield w
    engine.dispose()


def test_registration_is_idempotent_and_stores_the_client_secret(world: ShopifyWorld) -> None:
    """Prevents duplicate subscriptions on reconnect (Shopify would refuse them) and unverifiable deliveries."""
    again = connect_webhooks(world.engine, world.integration_id, world.receiver_url, world.cipher)
    assert not again.changed and sorted(again.unchanged) == sorted(TOPICS)
    subs = world.shop.extra["webhooks"].list()
    assert len(subs) == len(TOPICS)
    assert {s.uri for s in subs} == {f"{world.receiver_url}/webhooks/shopify/{world.integration_id}"}
    with world.engine.connect() as conn:
        creds = store.load_credentials(conn, world.integration_id, world.cipher)
    assert reveal(creds["webhook_secret"]) == world.shop.credentials["client_secret"]


def test_static_token_without_client_secret_asks_for_it(
    warehouse_url: str, cipher: CredentialCipher, sandbox: SandboxServer
) -> None:
    """Prevents registering webhooks whose deliveries the receiver could never verify (all would be 401)."""
    engine = make_engine(warehouse_url)
    shop = sandbox.shop("shw")
    integration_id = add_integration(
        engine, cipher, platform="shopify", base_url=shop.http_url, credentials={"access_token": "shpat_x"}
    )
    with pytest.raises(ShopifyWebhookSecretMissing) as info:
        connect_webhooks(engine, integration_id, "http://127.0.0.1:9", cipher)
    assert "--webhook-secret" in info.value.hint
    assert not shop.extra["webhooks"].list()
    engine.dispose()


def test_product_update_order_create_and_stock_level_reach_the_hub(world: ShopifyWorld) -> None:
    """Prevents webhook changes that land in the inbox but never in hub_variants, hub_orders or hub_inventory."""
    st = world.shop.store
    product = next(p for p in st.products.values() if len(p.variant_ids) >= 2)
    variant = st.variants[product.variant_ids[1]]
    world.sandbox.clock.advance(5)
    st.update_variant_price(variant.id, "77.70")
    report = world.apply()
    assert report.by_topic == {"products/update": 1}
    assert world.scalar(select(hub_variants.c.price).where(hub_variants.c.sku == variant.sku)) == Decimal("77.70")

    world.sandbox.clock.advance(5)
    order = st.add_order(line_items=[{"variant_id": variant.id, "quantity": 2}])
    world.apply()
    total = world.scalar(select(hub_orders.c.total).where(hub_orders.c.order_number == order.name))
    assert total is not None and Decimal(total) == order.total

    world.sandbox.clock.advance(5)
    location = next(iter(st.levels[variant.inventory_item_id]))
    st.set_inventory(variant.inventory_item_id, location, 42)
    report = world.apply()
    assert report.by_topic == {"inventory_levels/update": 1}
    available = world.scalar(
        select(hub_inventory.c.available).where(
            hub_inventory.c.sku == variant.sku, hub_inventory.c.location.like(f"%:{location}")
        )
    )
    assert available == 42


def test_webhook_records_equal_the_pull_so_the_next_poll_changes_nothing(world: ShopifyWorld) -> None:
    """Prevents webhook and pull shapes that disagree: the hub would flip back and forth on every poll."""
    st = world.shop.store
    product = next(iter(st.products.values()))
    world.sandbox.clock.advance(5)
    st.update_product(product.id, title="Renamed by webhook")
    # An order with a discount, if the shop has one: its REST body is where the shapes could disagree.
    order = max(st.orders.values(), key=lambda o: o.discounts)
    st.update_order(order.id, note="packed")
    world.apply()
    with world.engine.connect() as conn:
        before = {
            (r.entity, r.external_id): r.base_hash
            for r in conn.execute(select(entity_links.c.entity, entity_links.c.external_id, entity_links.c.base_hash))
        }
    world.pull()
    with world.engine.connect() as conn:
        after = {
            (r.entity, r.external_id): r.base_hash
            for r in conn.execute(select(entity_links.c.entity, entity_links.c.external_id, entity_links.c.base_hash))
        }
    assert after[("product", str(product.id))] == before[("product", str(product.id))]
    assert after[("order", str(order.id))] == before[("order", str(order.id))]


def test_refund_rereads_the_order(world: ShopifyWorld) -> None:
    """Prevents a refund that never shows in hub_orders.refunded_total (the refund body is not the order)."""
    st = world.shop.store
    order = next(iter(st.orders.values()))
    world.sandbox.clock.advance(5)
    st.refund_order(order.id)
    report = world.apply()
    assert report.by_topic == {"refunds/create": 1, "orders/updated": 1}
    refunded = world.scalar(select(hub_orders.c.refunded_total).where(hub_orders.c.order_number == order.name))
    assert Decimal(refunded) == st.orders[order.id].refunded > 0


def test_product_delete_is_a_tombstone(world: ShopifyWorld) -> None:
    """Prevents deleted products staying live in the hub until a full refresh (or being hard-deleted)."""
    st = world.shop.store
    product = next(iter(st.products.values()))
    st.delete_product(product.id)
    world.apply()
    with world.engine.connect() as conn:
        link = conn.execute(
            select(entity_links.c.deleted_at, entity_links.c.hub_id).where(
                entity_links.c.entity == "product", entity_links.c.external_id == str(product.id)
            )
        ).one()
        hub_deleted = conn.execute(select(hub_products.c.deleted_at).where(hub_products.c.id == link.hub_id)).scalar()
    assert link.deleted_at is not None
    assert hub_deleted is not None


def test_late_delivery_of_an_older_event_does_not_overwrite_newer_state(world: ShopifyWorld) -> None:
    """Prevents a Shopify retry arriving hours late from rolling the hub back to an older title."""
    st = world.shop.store
    product = next(iter(st.products.values()))
    world.sandbox.clock.advance(5)
    st.update_product(product.id, title="Older title")
    world.delivered()
    hub = world.shop.extra["webhooks"]
    older = json.loads(hub.deliveries[-1].body)
    world.sandbox.clock.advance(5)
    st.update_product(product.id, title="Newer title")
    world.apply()
    assert world.post("products/update", older, "late-retry-1").status_code == 200
    report = apply_inbox(world.engine, tenant_id=TENANT, run_id="late", cipher=world.cipher)
    assert report.dead == 0  # the same bytes again are one delivery (keys come from the signed body)
    title = world.scalar(
        select(hub_products.c.title)
        .join(entity_links, entity_links.c.hub_id == hub_products.c.id)
        .where(entity_links.c.entity == "product", entity_links.c.external_id == str(product.id))
    )
    assert title == "Newer title"


def test_documented_sample_delivery_is_verified_stored_and_applied(receiver: Receiver) -> None:
    """Prevents drift from Shopify's documented body and headers: the sample must verify and map to an order."""
    meta = json.loads((SAMPLES / "shopify" / "webhook_delivery_headers_orders_create.json").read_text())
    raw = (SAMPLES / meta["body_file"]).read_bytes()
    url = receiver.endpoint("shopify", receiver.shopify_integration)
    assert requests.post(url, data=raw, headers=meta["headers"], timeout=10).status_code == 200
    # The same delivery again (a Shopify retry keeps X-Shopify-Webhook-Id): stored once.
    assert requests.post(url, data=raw, headers=meta["headers"], timeout=10).status_code == 200
    with receiver.engine.connect() as conn:
        rows = conn.execute(select(webhook_inbox.c.topic).where(webhook_inbox.c.platform == "shopify")).all()
    assert [r.topic for r in rows] == ["orders/create"]
    report = apply_inbox(receiver.engine, tenant_id=TENANT, run_id="sample", cipher=receiver.cipher)
    assert report.applied == 1 and report.dead == 0, report.errors
    body = json.loads(raw)
    with receiver.engine.connect() as conn:
        total = conn.execute(select(hub_orders.c.total).where(hub_orders.c.order_number == body["name"])).scalar_one()
    assert Decimal(total) == Decimal(body["total_price"])


def test_a_late_retry_of_the_earlier_of_two_states_in_one_second_does_not_roll_the_order_back(
    world: ShopifyWorld,
) -> None:
    """Prevents an order going back to 'pending' for good when the delivery of a state written in the same second as
    a later one arrives late: Shopify renders the body at the event and retries it for hours, both states carry one
    ``updated_at`` (whole seconds), resolve skips only strictly older records, and no poll repairs it (the order's
    time does not change). The tied body is replaced by a re-read of the order: the shop says which state is last."""
    st = world.shop.store
    order = next(iter(st.orders.values()))
    clock = world.sandbox.clock
    hub = world.shop.extra["webhooks"]
    clock.advance(5)
    clock.freeze()
    second = clock.time()
    try:
        st.update_order(order.id, financial_status="PENDING")
        world.delivered()
        earlier = hub.deliveries[-1]
        assert json.loads(earlier.body)["financial_status"] == "pending"
        # The receiver never saw that first attempt (it was down): only its retry, below, will reach it.
        with world.engine.begin() as conn:
            conn.execute(webhook_inbox.delete().where(webhook_inbox.c.topic == "orders/updated"))
        st.update_order(order.id, financial_status="PAID")  # same second
        world.apply()
    finally:
        clock.unfreeze()

    def hub_status() -> str:
        return str(world.scalar(select(hub_orders.c.financial_status).where(hub_orders.c.order_number == order.name)))

    assert hub_status() == "paid"
    # Shopify's retry: the same body, headers and webhook id, hours later.
    resent = requests.post(earlier.uri, data=earlier.body, headers=earlier.headers, timeout=10)
    assert resent.status_code == 200
    report = apply_inbox(world.engine, tenant_id=TENANT, run_id="late", cipher=world.cipher)
    assert report.applied == 1 and report.dead == 0 and report.retried == 0, report.errors
    assert hub_status() == "paid"
    assert report.reread_tied == 1
    # A body tying with the hub's time and content (a note, which the hub does not keep, edited in that second)
    # costs no re-read.
    clock.freeze(second)  # the paid order's second again: its updated_at stays the one the hub holds
    try:
        st.update_order(order.id, note="gift wrap")
    finally:
        clock.unfreeze()
    noted = json.loads(hub.deliveries[-1].body)
    assert noted["updated_at"] == json.loads(earlier.body)["updated_at"]
    again = world.apply()
    assert again.applied == 1 and again.reread_tied == 0
    assert hub_status() == "paid"
