"""PrestaShop change notices end to end: a module's signed notice -> receiver -> inbox -> re-read -> hub rows.

PrestaShop has no webhooks in core; a module on the shop posts ``{"resource", "id", "action"}`` signed with the
integration's webhook secret (``platforms/prestashop/deliveries.py``). Nothing of ours is mocked: the shop is the
emulated webservice, connected through the CLI (``--webhook-secret`` from the environment), the receiver runs over
HTTP, and the apply re-reads the record through the webservice. Failures prevented: a PrestaShop change waiting for
the schedule when the shop tells us at once; a notice's content trusted as data; a deletion notice tombstoning a
live product; a notice accepted and then dead-lettered after hours of retries because nothing could apply it.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import dagster as dg
import pytest
import requests
from sqlalchemy import select

from ecom_pipeline.runner import run_sync
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_inventory, integrations
from ecom_pipeline.webhooks.app import create_app
from ecom_pipeline.webhooks.apply import apply_inbox
from ecom_pipeline_tests.integration.conftest import OpenTenant
from ecom_pipeline_tests.integration.prestashop_notices import (
    PRESTASHOP_SECRET_ENV,
    hub_price,
    hub_product,
    post_notice,
)
from ecom_pipeline_tests.webhooks.conftest import ReceiverServer

SHOP = "presta-notices"
TENANT = "initech"
SECRET = "ps-module-secret-2026"


@pytest.fixture
def presta(
    monkeypatch: pytest.MonkeyPatch, open_tenant: OpenTenant
) -> Iterator[tuple[SandboxServer, dg.DagsterInstance]]:
    monkeypatch.setenv("ECOM_PRESTASHOP_WEBHOOK_SECRET", SECRET)
    spec = ShopSpec(name=SHOP, seed=7, products=10, variable_share=0.5, orders=3, customers=3, platform="prestashop")
    with open_tenant(spec, tenant=TENANT, secret_env=PRESTASHOP_SECRET_ENV) as connected:
        yield connected


def _post(url: str, body: dict, secret: str = SECRET) -> requests.Response:
    return post_notice(url, body, secret)


def test_a_signed_notice_brings_the_shops_record_to_the_hub_by_re_reading_it(
    presta: tuple[SandboxServer, dg.DagsterInstance], warehouse_url: str
) -> None:
    """Prevents PrestaShop changes waiting for the schedule when a module tells us at once, and a notice's own
    content ever being taken as data (the hub shows what the webservice holds, not what the notice says)."""
    sandbox, instance = presta
    assert run_sync(TENANT, instance=instance).success
    store = sandbox.shop(SHOP).store
    engine = shared_engine(warehouse_url)
    with engine.connect() as conn:
        integration_id = conn.execute(select(integrations.c.id)).scalar_one()
    pid, other, live = sorted(p for p in store.tables["products"] if not store.combinations_of.get(p))[:3]
    before = hub_price(warehouse_url, integration_id, pid)
    store.update_product(pid, price="77.50")
    store.set_stock(pid, 31)

    with ReceiverServer(create_app(engine=engine)) as receiver:
        url = f"{receiver.url}/webhooks/prestashop/{integration_id}"
        # The notice says nothing about the price: the re-read does.
        assert _post(url, {"resource": "products", "id": pid, "action": "update", "price": "0.01"}).status_code == 200
        assert _post(url, {"ping": True}).json().get("ping") is True  # a module's liveness check: not stored
        assert _post(url, {"resource": "products", "id": pid}, secret="wrong").status_code == 401
        generic = _post(f"{receiver.url}/webhooks/generic/{integration_id}", {"resource": "products", "id": pid})
        assert generic.status_code == 404 and f"/webhooks/prestashop/{integration_id}" in generic.text
        report = apply_inbox(engine, tenant_id=TENANT, run_id="notice")
        assert (report.applied, report.dead, report.retried) == (1, 0, 0), report.errors
        assert report.by_topic == {"product.update": 1}
        price = hub_price(warehouse_url, integration_id, pid)
        # The price the poll would compute (specific prices applied), not the notice's 0.01.
        assert price != before and price > Decimal("1") and not hub_product(warehouse_url, integration_id, pid)[1]
        with engine.connect() as conn:
            quantities = conn.execute(select(hub_inventory.c.available)).scalars().all()
        assert 31 in quantities

        # A deletion notice is confirmed with the shop: a gone product is tombstoned, a live one is not.
        store.delete_product(other)
        assert _post(url, {"resource": "products", "id": other, "action": "delete"}).status_code == 200
        assert _post(url, {"resource": "products", "id": live, "action": "delete"}).status_code == 200
        # A notice naming nothing we sync is dead-lettered at once, with the reason.
        assert _post(url, {"resource": "carriers", "id": 3}).status_code == 200
        report = apply_inbox(engine, tenant_id=TENANT, run_id="deletes")
        assert report.applied == 1 and report.dead == 2 and report.retried == 0, report.errors
        assert report.unconfirmed_deletes == 1
        errors = " ".join(d["error"] for d in report.dead_letters)
        assert f"the shop still lists product {live}" in errors and "carriers" in errors
        assert hub_product(warehouse_url, integration_id, other)[1]
        assert not hub_product(warehouse_url, integration_id, live)[1]

    # The next poll reads the same record: the hub keeps the price the notice's re-read brought.
    outcome = run_sync(TENANT, instance=instance)
    assert outcome.success, outcome.failure
    assert hub_price(warehouse_url, integration_id, pid) == price


def test_a_combination_notice_reads_its_product_once_and_a_batch_reads_the_reference_lists_once(
    presta: tuple[SandboxServer, dg.DagsterInstance], warehouse_url: str
) -> None:
    """Prevents a notice's re-read from being read again as a tie (PrestaShop does not move the product's date_upd
    when a combination changes, so the re-read ties with the hub's time and differs: it was read twice), and a batch
    of notices from reading the option and category lists once per notice."""
    sandbox, instance = presta
    assert run_sync(TENANT, instance=instance).success
    shop = sandbox.shop(SHOP)
    store = shop.store
    engine = shared_engine(warehouse_url)
    with engine.connect() as conn:
        integration_id = conn.execute(select(integrations.c.id)).scalar_one()
    with_combinations = sorted(pid for pid, combos in store.combinations_of.items() if combos)[:2]
    assert len(with_combinations) == 2
    first, second = with_combinations
    cid = store.combinations_of[first][0]
    with store.lock:  # a combination's price impact edited in the back office: no date moves on the product
        store.tables["combinations"][cid]["price"] = "3.000000"
    with ReceiverServer(create_app(engine=engine)) as receiver:
        url = f"{receiver.url}/webhooks/prestashop/{integration_id}"
        assert _post(url, {"resource": "combinations", "id": cid, "id_product": first}).status_code == 200
        assert _post(url, {"resource": "products", "id": second, "action": "update"}).status_code == 200
        shop.stats.reset()
        report = apply_inbox(engine, tenant_id=TENANT, run_id="combination")
    assert (report.applied, report.dead, report.retried) == (2, 0, 0), report.errors
    assert report.reread_tied == 0
    assert report.entities["product"].updated >= 1  # the new impact reached the hub
    api = "/api/"
    assert shop.stats.count("GET", f"{api}products") == 2  # one re-read per notice, none twice
    assert shop.stats.count("GET", f"{api}product_options") == 1  # once per batch, not per notice
    assert shop.stats.count("GET", f"{api}categories") <= 1
