"""Two identical PrestaShop notices in one second (same record, same action: one inbox key) through the real
receiver over HTTP, the real inbox (SQLite or PostgreSQL) and the real apply, which re-reads the record from the
emulated webservice. Failure prevented: the second change waiting for the next poll because its notice was dropped
as a duplicate of the first, already applied before the second change happened."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
import requests
from sqlalchemy import select

from ecom_pipeline.runner import run_sync
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_variants, integrations, webhook_inbox
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline.webhooks import inbox
from ecom_pipeline.webhooks.app import create_app
from ecom_pipeline.webhooks.apply import apply_inbox
from ecom_pipeline.webhooks.signatures import generic_signature
from ecom_pipeline_tests.integration.conftest import one_shop_tenant
from ecom_pipeline_tests.webhooks.conftest import ReceiverServer

SHOP = "presta-repeat"
TENANT = "repeatco"
SECRET = "ps-repeat-secret-2026"


@pytest.fixture
def presta(
    warehouse_url: str, dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SandboxServer, dg.DagsterInstance]]:
    monkeypatch.setenv("ECOM_PRESTASHOP_WEBHOOK_SECRET", SECRET)
    spec = ShopSpec(name=SHOP, seed=9, products=4, variable_share=0.0, orders=0, customers=0, platform="prestashop")
    with one_shop_tenant(
        spec,
        tenant=TENANT,
        secret_env={"ECOM_PRESTASHOP_API_KEY": "api_key"},
        warehouse_url=warehouse_url,
        dagster_home=dagster_home,
        tmp_path=tmp_path,
        monkeypatch=monkeypatch,
    ) as connected:
        yield connected


def _post(url: str, body: dict, timestamp: str) -> requests.Response:
    raw = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Ecom-Timestamp": timestamp,
        "X-Ecom-Signature": generic_signature(SECRET, timestamp, raw),
    }
    return requests.post(url, data=raw, headers=headers, timeout=10)


def _hub_price(warehouse_url: str, integration_id: int, pid: int) -> Decimal:
    with shared_engine(warehouse_url).connect() as conn:
        hub_id = conn.execute(
            select(entity_links.c.hub_id).where(
                entity_links.c.integration_id == integration_id,
                entity_links.c.entity == "product",
                entity_links.c.external_id == str(pid),
            )
        ).scalar_one()
        price = conn.execute(select(hub_variants.c.price).where(hub_variants.c.product_id == hub_id)).scalar_one()
    return Decimal(price)


def test_a_second_identical_notice_after_the_first_was_applied_is_re_read(
    presta: tuple[SandboxServer, dg.DagsterInstance], warehouse_url: str
) -> None:
    sandbox, instance = presta
    assert run_sync(TENANT, instance=instance).success
    store = sandbox.shop(SHOP).store
    engine = shared_engine(warehouse_url)
    with engine.connect() as conn:
        integration_id = conn.execute(select(integrations.c.id)).scalar_one()
    pid = min(store.tables["products"])
    notice = {"resource": "products", "id": pid, "action": "update"}
    second = str(int(time.time()))  # both notices signed in this second: one key
    with ReceiverServer(create_app(engine=engine)) as receiver:
        url = f"{receiver.url}/webhooks/prestashop/{integration_id}"
        store.update_product(pid, price="41.00")
        assert _post(url, notice, second).json() == {"ok": True, "duplicate": False}
        # A copy while the first is still pending changes nothing: its re-read is still to come.
        assert _post(url, notice, second).json()["duplicate"] is True
        report = apply_inbox(engine, tenant_id=TENANT, run_id="first")
        assert (report.applied, report.dead, report.retried) == (1, 0, 0), report.errors
        first_price = _hub_price(warehouse_url, integration_id, pid)

        store.update_product(pid, price="43.00")  # the second change, after the first notice was applied
        assert _post(url, notice, second).json() == {"ok": True, "duplicate": False}  # back to pending
        report = apply_inbox(engine, tenant_id=TENANT, run_id="second")
        assert (report.applied, report.dead, report.retried) == (1, 0, 0), report.errors
        assert _hub_price(warehouse_url, integration_id, pid) > first_price
    with engine.connect() as conn:
        rows = conn.execute(select(webhook_inbox.c.status, webhook_inbox.c.attempts)).all()
    assert [tuple(r) for r in rows] == [("applied", 1)]  # one row, applied twice, its count started again


def test_other_platforms_keep_exactly_once_storage_of_an_applied_delivery(warehouse_url: str) -> None:
    """The re-queue is PrestaShop's only: a WooCommerce (or any other) delivery already applied stays applied."""
    engine = shared_engine(warehouse_url)
    from ecom_pipeline.warehouse import store
    from ecom_pipeline.warehouse.credentials import CredentialCipher

    with engine.begin() as conn:
        woo = store.create_integration(
            conn, tenant_id="other", platform="woocommerce", name="woo", base_url="http://127.0.0.1:1",
            credentials={}, settings={}, cipher=CredentialCipher(CredentialCipher.generate_key()),
        )  # fmt: skip
    delivery = inbox.Delivery(
        delivery_key=f"woocommerce:{woo}:abc", topic="product.updated", resource_id="5", event_id=None,
        webhook_id=None, triggered_at=None, headers={},
    )  # fmt: skip
    row = {"tenant_id": "other", "integration_id": woo, "platform": "woocommerce", "delivery": delivery,
           "body": b"{}", "received_at": utcnow()}  # fmt: skip
    with engine.begin() as conn:
        assert inbox.insert_deliveries(conn, [row]) == [True]
        conn.execute(webhook_inbox.update().values(status="applied"))
    with engine.begin() as conn:
        assert inbox.insert_deliveries(conn, [row, row]) == [False, False]
        assert conn.execute(select(webhook_inbox.c.status)).scalars().all() == ["applied"]
