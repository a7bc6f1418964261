"""Concurrent deliveries are grouped into shared transactions without losing or doubling any of them."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from sqlalchemy import String, cast, func, select
from sqlalchemy.exc import StatementError

from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.schema import webhook_inbox
from ecom_pipeline.webhooks import inbox
from ecom_pipeline_tests.webhooks.conftest import Receiver, add_integration
from ecom_pipeline_tests.webhooks.woo_deliveries import woo_headers


def _signed(product_id: int) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"id": product_id, "name": f"P{product_id}", "date_modified_gmt": "2026-11-22T00:00:00"})
    raw = body.encode()
    headers = {**woo_headers("product.updated", raw, webhook_id=1), "X-WC-Webhook-Delivery-ID": "same-second"}
    return headers, raw


def test_concurrent_deliveries_with_duplicates_are_each_stored_exactly_once(receiver: Receiver) -> None:
    """Prevents group commits from dropping a delivery, storing one twice, or answering 2xx before the commit."""
    url = receiver.endpoint("woocommerce", receiver.wc_integration)
    ids = list(range(1, 301)) + list(range(1, 101))  # 100 exact duplicates mixed in

    def send(product_id: int) -> tuple[int, bool]:
        headers, raw = _signed(product_id)
        with requests.Session() as session:
            response = session.post(url, data=raw, headers=headers, timeout=30)
        return response.status_code, bool(response.json().get("duplicate"))

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(send, ids))
    assert all(status == 200 for status, _ in results)
    assert sum(1 for _, duplicate in results if duplicate) == 100
    with receiver.engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(webhook_inbox)).scalar_one()
        distinct = conn.execute(select(func.count(func.distinct(webhook_inbox.c.resource_id)))).scalar_one()
    assert rows == 300 and distinct == 300


def test_group_insert_stores_what_the_orm_statement_would_nul_long_ids_and_repeats_included(
    warehouse_url: str, cipher: CredentialCipher
) -> None:
    """Prevents the hand-written PostgreSQL insert (psycopg2 ``execute_values``) from drifting from the table:
    U+0000 in body and headers, header ids longer than their columns, a key repeated inside one group, aware
    times (a naive one is refused, as ``UTCDateTime`` does) must come back as the SQLAlchemy path stores them."""
    engine = make_engine(warehouse_url)
    iid = add_integration(engine, cipher, platform="etsy", base_url="https://etsy.example", credentials={})
    when = datetime(2026, 11, 22, 1, 2, 3, tzinfo=timezone(timedelta(hours=2)))

    def row(key: str) -> dict[str, Any]:
        delivery = inbox.Delivery(
            delivery_key=key,
            topic="t" * 80,
            resource_id="r" * 200,
            event_id="e\x00" * 100,
            webhook_id=None,
            triggered_at=when,
            headers={"x-ecom-topic": "a\x00b"},
        )
        body = b'{"id": 1, "note": "nul\x00here"}'
        return {
            "tenant_id": "acme",
            "integration_id": iid,
            "platform": "etsy",
            "delivery": delivery,
            "body": body,
            "received_at": when,
        }

    with engine.begin() as conn:
        assert inbox.insert_deliveries(conn, [row("k1"), row("k2"), row("k1")]) == [True, True, False]
        assert inbox.insert_deliveries(conn, [row("k2")]) == [False]
        orm = row("k0")  # the one-row ORM insert does not clean NULs: give it a plain delivery
        orm["body"] = b'{"id": 1}'
        orm["delivery"] = replace(orm["delivery"], event_id=None, headers={}, topic="t", resource_id="1")
        inbox.insert_delivery(conn, **orm)
    with engine.connect() as conn:
        stored = conn.execute(select(webhook_inbox).where(webhook_inbox.c.delivery_key == "k1")).mappings().one()
        # The stored text of the times is the ORM's, byte for byte (SQLite compares times as text).
        as_text = {
            key: conn.execute(
                select(cast(webhook_inbox.c.received_at, String), cast(webhook_inbox.c.triggered_at, String)).where(
                    webhook_inbox.c.delivery_key == key
                )
            ).one()
            for key in ("k0", "k1")
        }
    assert as_text["k0"] == as_text["k1"]
    assert stored["topic"] == "t" * 64 and stored["resource_id"] == "r" * 128
    assert stored["event_id"] == ("e" * 100)[:128] and "\x00" not in stored["body"]
    assert stored["headers"] == {"x-ecom-topic": "a\ufffdb"}
    assert stored["triggered_at"] == when and stored["received_at"] == when
    assert (stored["status"], stored["attempts"], stored["next_attempt_at"]) == ("pending", 0, None)
    naive = row("k3")
    naive["received_at"] = when.replace(tzinfo=None)
    with pytest.raises((ValueError, StatementError)), engine.begin() as conn:
        inbox.insert_deliveries(conn, [naive])
    engine.dispose()


def test_a_group_is_inserted_in_key_order_so_two_groups_sharing_keys_cannot_deadlock(
    warehouse_url: str, cipher: CredentialCipher
) -> None:
    """Two groups in flight with the same keys in opposite orders (a double-fired delivery) would each hold a key
    the other waits for, and PostgreSQL would kill one group as a deadlock (every delivery in it answered 5xx).
    Inserted in key order, the second simply waits for the first. The serial ids show the order rows went in;
    the answers stay in the caller's order."""
    engine = make_engine(warehouse_url)
    iid = add_integration(engine, cipher, platform="etsy", base_url="https://etsy.example", credentials={})
    when = datetime(2026, 12, 5, 1, 0, 0, tzinfo=UTC)

    def row(key: str) -> dict[str, Any]:
        delivery = inbox.Delivery(
            delivery_key=key, topic="t", resource_id="1", event_id=None, webhook_id=None, triggered_at=when, headers={}
        )
        return {"tenant_id": "acme", "integration_id": iid, "platform": "etsy", "delivery": delivery,
                "body": b'{"id": 1}', "received_at": when}  # fmt: skip

    with engine.begin() as conn:
        assert inbox.insert_deliveries(conn, [row("k3"), row("k1"), row("k2"), row("k1")]) == [True, True, True, False]
    with engine.connect() as conn:
        ids = dict(conn.execute(select(webhook_inbox.c.delivery_key, webhook_inbox.c.id)).tuples().all())
    assert ids["k1"] < ids["k2"] < ids["k3"]
    engine.dispose()
