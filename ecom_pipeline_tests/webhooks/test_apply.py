"""Applying the inbox: out-of-order deliveries, tombstones, retries with backoff and dead letters.

Deliveries go through the real receiver over HTTP (signed like WooCommerce signs them) into a real warehouse, and
are applied with the pull's own transform and resolve.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient
from ecom_pipeline.sandbox.server import SandboxServer
from ecom_pipeline.sandbox.shop import ShopHandle, ShopSpec
from ecom_pipeline.warehouse.schema import (
    entity_links,
    hub_orders,
    hub_products,
    hub_variants,
    sync_runs,
    webhook_inbox,
)
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline.webhooks.apply import apply_inbox
from ecom_pipeline_tests.webhooks.conftest import TENANT, WC_SECRET, Receiver, add_integration
from ecom_pipeline_tests.webhooks.shopify_world import ShopifyWorld
from ecom_pipeline_tests.webhooks.woo_deliveries import deliver, no_client, recorded_body


def _price(receiver: Receiver, sku: str) -> Decimal | None:
    with receiver.engine.connect() as conn:
        return conn.execute(select(hub_variants.c.price).where(hub_variants.c.sku == sku)).scalar_one_or_none()


def test_an_older_payload_arriving_late_never_overwrites_newer_hub_state(receiver: Receiver) -> None:
    """Prevents a delayed WooCommerce delivery from rolling a price back (deliveries are not ordered)."""
    base = recorded_body("webhook-delivery-product-created-simple")
    newer = copy.deepcopy(base) | {
        "price": "12.50",
        "regular_price": "12.50",
        "date_modified_gmt": "2026-11-22T00:10:00",
    }
    older = copy.deepcopy(base) | {
        "price": "11.00",
        "regular_price": "11.00",
        "date_modified_gmt": "2026-11-22T00:09:00",
    }
    deliver(receiver, "product.updated", newer)
    report = apply_inbox(receiver.engine, tenant_id=TENANT, run_id="r1", client_factory=no_client)
    assert report.applied == 1 and report.entities["product"].created == 1
    assert _price(receiver, "MUG-CLASSIC") == Decimal("12.50")

    deliver(receiver, "product.updated", older)
    report = apply_inbox(receiver.engine, tenant_id=TENANT, run_id="r2", client_factory=no_client)
    assert report.applied == 1
    assert _price(receiver, "MUG-CLASSIC") == Decimal("12.50")

    # Both versions in one batch: the newest wins whatever the arrival order.
    newest = copy.deepcopy(base) | {
        "price": "13.00",
        "regular_price": "13.00",
        "date_modified_gmt": "2026-11-22T00:11:00",
    }
    deliver(receiver, "product.updated", newest)
    deliver(receiver, "product.updated", copy.deepcopy(older) | {"price": "10.00"})
    apply_inbox(receiver.engine, tenant_id=TENANT, run_id="r3", client_factory=no_client)
    assert _price(receiver, "MUG-CLASSIC") == Decimal("13.00")


@pytest.fixture
def shop(receiver: Receiver, tmp_path: Path) -> Iterator[tuple[ShopHandle, int]]:
    """An emulated WooCommerce store and an integration of the receiver's tenant connected to it."""
    spec = ShopSpec(name="confirm", seed=5, products=6, variable_share=0.0, orders=0, customers=2)
    with SandboxServer(shops=[spec], cert_dir=tmp_path / "certs") as sandbox:
        handle = sandbox.shop("confirm")
        integration_id = add_integration(
            receiver.engine,
            receiver.cipher,
            platform="woocommerce",
            base_url=handle.http_url,
            credentials={
                "consumer_key": handle.consumer_key,
                "consumer_secret": handle.consumer_secret,
                "webhook_secret": WC_SECRET,
            },
        )
        yield handle, integration_id


def _hub_product_deleted(receiver: Receiver, external_id: int) -> bool:
    with receiver.engine.connect() as conn:
        hub_id = conn.execute(
            select(entity_links.c.hub_id).where(
                entity_links.c.entity == "product", entity_links.c.external_id == str(external_id)
            )
        ).scalar_one()
        product_deleted = conn.execute(select(hub_products.c.deleted_at).where(hub_products.c.id == hub_id)).scalar()
        variants_live = conn.execute(
            select(hub_variants.c.id).where(hub_variants.c.product_id == hub_id, hub_variants.c.deleted_at.is_(None))
        ).all()
        assert (product_deleted is None) == bool(variants_live), "variants follow their product"
        return product_deleted is not None


def test_a_delete_is_confirmed_with_the_shop_before_anything_is_tombstoned(
    receiver: Receiver, shop: tuple[ShopHandle, int]
) -> None:
    """Prevents a delete topic (an unsigned header over a body that is just {"id": N}) from tombstoning a live
    product: the shop is asked first; trashed (status trash) or gone (404) confirm it, a live product refuses it."""
    handle, iid = shop
    live, trashed, gone = [p.id for p in handle.store.products.values() if p.status == "publish"][:3]
    with WooCommerceClient(handle.http_url, handle.consumer_key, handle.consumer_secret, max_retries=0) as client:
        for product_id in (live, trashed, gone):
            deliver(receiver, "product.updated", client.get(f"products/{product_id}"), integration_id=iid)
        assert apply_inbox(receiver.engine, tenant_id=TENANT, run_id="r1", cipher=receiver.cipher).applied == 3
        client.delete(f"products/{trashed}")
        client.delete(f"products/{gone}", force=True)
    for product_id in (live, trashed, gone):
        deliver(receiver, "product.deleted", {"id": product_id}, webhook_id=3, integration_id=iid)
    report = apply_inbox(receiver.engine, tenant_id=TENANT, run_id="r2", cipher=receiver.cipher)
    assert report.applied == 2 and report.entities["product"].deleted == 2
    assert report.dead == 1 and report.unconfirmed_deletes == 1
    assert f"product {live}" in report.dead_letters[0]["error"] and "publish" in report.dead_letters[0]["error"]
    assert not _hub_product_deleted(receiver, live), "a live product must stay live"
    assert _hub_product_deleted(receiver, trashed) and _hub_product_deleted(receiver, gone)


def test_orders_and_stock_apply_from_the_payload_without_api_calls(receiver: Receiver) -> None:
    """Prevents the webhook path from costing API calls for records the delivery already carries in full."""
    deliver(receiver, "order.created", recorded_body("webhook-delivery-order-created-processing"), webhook_id=4)
    deliver(receiver, "product.created", recorded_body("webhook-delivery-product-created-simple"), webhook_id=1)
    report = apply_inbox(receiver.engine, tenant_id=TENANT, run_id="r1", client_factory=no_client)
    assert report.applied == 2 and report.dead == report.retried == 0
    assert set(report.entities) == {"product", "inventory", "order"}
    with receiver.engine.connect() as conn:
        total = conn.execute(select(hub_orders.c.total)).scalar_one()
    assert total == Decimal(recorded_body("webhook-delivery-order-created-processing")["total"])


def test_each_apply_run_records_a_webhook_stage_row_per_shop_and_entity(receiver: Receiver) -> None:
    """Prevents the documented `webhook` stage from missing in sync_runs: analysts could not see what webhook
    applies changed, how long they took, or which Dagster run did it."""
    deliver(receiver, "order.created", recorded_body("webhook-delivery-order-created-processing"), webhook_id=4)
    deliver(receiver, "product.created", recorded_body("webhook-delivery-product-created-simple"), webhook_id=1)
    apply_inbox(receiver.engine, tenant_id=TENANT, run_id="run-42", client_factory=no_client)
    with receiver.engine.connect() as conn:
        rows = conn.execute(select(sync_runs).where(sync_runs.c.stage == "webhook").order_by(sync_runs.c.id)).all()
    assert [r.entity for r in rows] == ["product", "inventory", "order"]
    for row in rows:
        assert (row.integration_id, row.platform, row.direction) == (receiver.wc_integration, "woocommerce", "pull")
        assert row.status == "success" and row.dagster_run_id == "run-42" and row.tenant_id == TENANT
        assert row.finished_at is not None and row.duration_s is not None and row.duration_s >= 0
        assert row.rows_fetched == 1 and row.created == 1 and row.failed == 0, row
    # Nothing pending: no apply, no row.
    apply_inbox(receiver.engine, tenant_id=TENANT, run_id="run-43", client_factory=no_client)
    with receiver.engine.connect() as conn:
        assert conn.execute(select(sync_runs.c.id).where(sync_runs.c.dagster_run_id == "run-43")).all() == []


def test_failing_event_backs_off_then_dead_letters_while_the_rest_applies(receiver: Receiver) -> None:
    """Prevents one event that cannot be applied (shop unreachable for a re-read) from blocking the inbox forever
    or from being retried in a hot loop; it ends in dead letters with its error, and the other events apply."""

    def unreachable(integration: Any, credentials: Any) -> WooCommerceClient:
        return WooCommerceClient("http://127.0.0.1:1", "ck_x", "cs_x", max_retries=0, timeout=2)

    deliver(receiver, "product.created", recorded_body("webhook-delivery-product-created-variable"), webhook_id=1)
    deliver(receiver, "product.created", recorded_body("webhook-delivery-product-created-simple"), webhook_id=1)
    t0 = utcnow()
    first = apply_inbox(
        receiver.engine,
        tenant_id=TENANT,
        run_id="r1",
        now=t0,
        client_factory=unreachable,
        cipher=receiver.cipher,
        max_attempts=3,
    )
    assert (first.applied, first.retried, first.dead) == (1, 1, 0)
    assert _price(receiver, "MUG-CLASSIC") == Decimal("9.90")
    with receiver.engine.connect() as conn:
        row = conn.execute(select(webhook_inbox).where(webhook_inbox.c.status == "pending")).one()
    assert row.attempts == 1 and row.next_attempt_at == t0 + timedelta(seconds=30) and "Unreachable" in row.error

    early = apply_inbox(receiver.engine, tenant_id=TENANT, run_id="r2", now=t0 + timedelta(seconds=10))
    assert early.read == 0, "a retry must wait for its backoff"

    second = apply_inbox(
        receiver.engine,
        tenant_id=TENANT,
        run_id="r3",
        now=t0 + timedelta(seconds=31),
        client_factory=unreachable,
        cipher=receiver.cipher,
        max_attempts=3,
    )
    assert second.retried == 1
    with receiver.engine.connect() as conn:
        row = conn.execute(select(webhook_inbox).where(webhook_inbox.c.id == row.id)).one()
    assert row.attempts == 2 and row.next_attempt_at == t0 + timedelta(seconds=31 + 60)

    third = apply_inbox(
        receiver.engine,
        tenant_id=TENANT,
        run_id="r4",
        now=t0 + timedelta(seconds=92),
        client_factory=unreachable,
        cipher=receiver.cipher,
        max_attempts=3,
    )
    assert third.dead == 1 and third.dead_letters[0]["topic"] == "product.created"
    with receiver.engine.connect() as conn:
        statuses = dict(conn.execute(select(webhook_inbox.c.resource_id, webhook_inbox.c.status)).all())
    assert statuses == {"22": "dead", "11": "applied"}


def test_error_body_without_an_id_is_dead_lettered_at_once(receiver: Receiver) -> None:
    """Prevents retrying eight times an event that names no resource (WooCommerce could not render it)."""
    error = {"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID.", "data": {"status": 404}}
    deliver(receiver, "product.updated", error)
    report = apply_inbox(receiver.engine, tenant_id=TENANT, run_id="r1", client_factory=no_client)
    assert report.dead == 1 and "without a resource id" in report.dead_letters[0]["error"]


def test_sensor_requests_a_run_when_a_retry_falls_due_even_with_no_new_delivery(receiver: Receiver) -> None:
    """Prevents retries from being stranded: an id cursor alone never sees a row again once it passed its id."""
    import dagster as dg
    from sqlalchemy import update

    from ecom_pipeline.resources import WarehouseResource
    from ecom_pipeline.webhooks.dagster import webhook_inbox_sensor

    deliver(receiver, "product.created", recorded_body("webhook-delivery-product-created-simple"), webhook_id=1)
    resources = {"warehouse": WarehouseResource(url=receiver.engine.url.render_as_string(hide_password=False))}
    with dg.DagsterInstance.ephemeral() as instance:
        first = webhook_inbox_sensor(dg.build_sensor_context(instance=instance, cursor=None, resources=resources))
        assert [r.run_key.split(":")[0] for r in first.run_requests] == [TENANT]
        # The run fails the event: it is retried in 30 s.
        with receiver.engine.begin() as conn:
            conn.execute(update(webhook_inbox).values(attempts=1, next_attempt_at=utcnow() + timedelta(seconds=30)))
        waiting = webhook_inbox_sensor(
            dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=resources)
        )
        assert not waiting.run_requests, "not due yet"
        with receiver.engine.begin() as conn:
            conn.execute(update(webhook_inbox).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        due = webhook_inbox_sensor(
            dg.build_sensor_context(instance=instance, cursor=waiting.cursor, resources=resources)
        )
        assert len(due.run_requests) == 1 and ":due:" in due.run_requests[0].run_key
        assert due.run_requests[0].run_key != first.run_requests[0].run_key


def test_sensor_asks_again_for_a_retry_due_later_in_the_same_second(receiver: Receiver) -> None:
    """Prevents a second retry of one tenant falling due within the same whole second as the first from waiting for
    the staleness check: Dagster drops a run request whose run key it has seen before, forever, so the key must
    tell the two due times apart (the cursor already compares them to the microsecond)."""
    import dagster as dg
    from sqlalchemy import update

    from ecom_pipeline.resources import WarehouseResource
    from ecom_pipeline.webhooks.dagster import webhook_inbox_sensor

    deliver(receiver, "product.created", recorded_body("webhook-delivery-product-created-simple"), webhook_id=1)
    resources = {"warehouse": WarehouseResource(url=receiver.engine.url.render_as_string(hide_password=False))}
    second = utcnow().replace(microsecond=0) - timedelta(seconds=5)
    with dg.DagsterInstance.ephemeral() as instance:
        first = webhook_inbox_sensor(dg.build_sensor_context(instance=instance, cursor=None, resources=resources))
        keys = [r.run_key for r in first.run_requests]
        cursor = first.cursor
        for micro in (200_000, 700_000):
            with receiver.engine.begin() as conn:
                conn.execute(
                    update(webhook_inbox).values(attempts=1, next_attempt_at=second.replace(microsecond=micro))
                )
            due = webhook_inbox_sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))
            assert len(due.run_requests) == 1, due.skip_reason
            keys.append(due.run_requests[0].run_key)
            cursor = due.cursor
    assert len(set(keys)) == 3, keys


@pytest.fixture
def shopify_world(warehouse_url: str, receiver: Receiver, tmp_path: Path) -> Iterator[ShopifyWorld]:
    """A pulled Shopify integration on the emulator, delivering to the running receiver."""
    spec = ShopSpec(name="shw", platform="shopify", seed=21, products=4, orders=0, customers=1)
    with SandboxServer(shops=[spec], cert_dir=tmp_path / "shopify-certs") as sb:
        world = ShopifyWorld(receiver.engine, receiver.cipher, sb, receiver.url)
        world.pull()
        yield world


def test_a_shopify_delete_of_a_live_product_is_refused_after_asking_the_shop(shopify_world: ShopifyWorld) -> None:
    """Prevents a products/delete (unsigned X-Shopify-Topic over an id-only body) from tombstoning a product the
    shop still has; the same check lets a real deletion through (test_product_delete_is_a_tombstone)."""
    world = shopify_world
    product = next(iter(world.shop.store.products.values()))
    assert world.post("products/delete", {"id": product.id}, "forged-delete").status_code == 200
    report = apply_inbox(world.engine, tenant_id=TENANT, run_id="forged", cipher=world.cipher)
    assert report.dead == 1 and report.unconfirmed_deletes == 1, report.errors
    assert "the shop still has product" in report.dead_letters[0]["error"]
    with world.engine.connect() as conn:
        deleted = conn.execute(
            select(entity_links.c.deleted_at).where(
                entity_links.c.entity == "product", entity_links.c.external_id == str(product.id)
            )
        ).scalar_one()
    assert deleted is None


def test_two_states_of_one_second_in_one_batch_take_the_shops_current_one(
    receiver: Receiver, shop: tuple[ShopHandle, int]
) -> None:
    """Prevents the earlier of two same-second states winning because its delivery arrived last: WooCommerce stamps
    ``date_modified_gmt`` in whole seconds, and apply keeps the later staged of two rows of one time. The tie (same
    time, other content) is settled by re-reading the product: one call, and the hub shows the shop's price."""
    handle, iid = shop
    product = next(p for p in handle.store.products.values() if p.status == "publish")
    handle.store.clock.freeze()
    try:
        with WooCommerceClient(handle.http_url, handle.consumer_key, handle.consumer_secret, max_retries=0) as client:
            client.put(f"products/{product.id}", {"regular_price": "11.00"})
            earlier = client.get(f"products/{product.id}")
            later = client.put(f"products/{product.id}", {"regular_price": "12.00"})
    finally:
        handle.store.clock.unfreeze()
    assert earlier["date_modified_gmt"] == later["date_modified_gmt"]
    deliver(receiver, "product.updated", later, webhook_id=5, integration_id=iid)
    deliver(receiver, "product.updated", earlier, webhook_id=5, integration_id=iid)  # a retry, arriving last
    reads_before = handle.stats.count("GET", f"/wp-json/wc/v3/products/{product.id}")
    report = apply_inbox(receiver.engine, tenant_id=TENANT, run_id="tie", cipher=receiver.cipher)
    assert report.applied == 2 and report.dead == report.retried == 0, report.errors
    with receiver.engine.connect() as conn:
        price = conn.execute(
            select(hub_variants.c.price)
            .join(entity_links, entity_links.c.hub_id == hub_variants.c.id)
            .where(entity_links.c.entity == "variant", entity_links.c.integration_id == iid)
            .where(entity_links.c.external_parent_id == str(product.id))
        ).scalar_one()
    assert price == Decimal("12.00")
    assert report.reread_tied == 1
    assert handle.stats.count("GET", f"/wp-json/wc/v3/products/{product.id}") - reads_before == 1


def test_a_delivery_stored_before_its_shop_was_disconnected_is_not_applied(
    receiver: Receiver, shop: tuple[ShopHandle, int]
) -> None:
    """Prevents deliveries received before a disconnect from being applied afterwards (with re-reads using the
    credentials the merchant withdrew): they are dead-lettered with the reason, the hub is left alone."""
    from ecom_pipeline.warehouse import store

    handle, iid = shop
    product = next(p for p in handle.store.products.values() if p.status == "publish")
    with WooCommerceClient(handle.http_url, handle.consumer_key, handle.consumer_secret, max_retries=0) as client:
        deliver(receiver, "product.updated", client.get(f"products/{product.id}"), integration_id=iid)
    with receiver.engine.begin() as conn:
        store.disconnect_integration(conn, iid)
    report = apply_inbox(receiver.engine, tenant_id=TENANT, run_id="after-disconnect", cipher=receiver.cipher)
    assert (report.applied, report.dead, report.retried) == (0, 1, 0)
    assert "is disconnected" in report.dead_letters[0]["error"]
    with receiver.engine.connect() as conn:
        assert conn.execute(select(entity_links.c.id).where(entity_links.c.integration_id == iid)).first() is None


def test_a_body_tying_with_a_re_read_of_the_same_batch_is_a_suspect_and_a_re_read_alone_is_not(
    receiver: Receiver, shop: tuple[ShopHandle, int]
) -> None:
    """Prevents a late body of the earlier state winning over a re-read of the same second in one batch (apply keeps
    the later staged of two rows of one time), while a re-read alone is never read again as a tie."""
    from datetime import UTC, datetime

    from ecom_pipeline.warehouse import store
    from ecom_pipeline.webhooks import same_second

    _handle, iid = shop
    with receiver.engine.connect() as conn:
        integration = store.get_integration(conn, iid)
    when = datetime(2026, 12, 5, 7, 0, 0, tzinfo=UTC)

    def order(status: str, *, read_now: bool) -> store.StagedRecord:
        payload = {"id": 77, "status": status, "date_modified_gmt": "2026-12-05T07:00:00"}
        return store.StagedRecord(
            integration.tenant_id, iid, "woocommerce", "order", "77", payload, source_updated_at=when, read_now=read_now
        )

    def suspects(*records: store.StagedRecord) -> set[same_second.RecordKey]:
        return same_second.suspects(receiver.engine, tenant_id=TENANT, records=records, transforms=lambda _: {})

    assert suspects(order("completed", read_now=True), order("processing", read_now=False)) == {(iid, "order", "77")}
    assert suspects(order("completed", read_now=True)) == set()
    assert suspects(order("completed", read_now=True), order("completed", read_now=False)) == set()
