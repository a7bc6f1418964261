"""Two identical PrestaShop notices in one second (same record, same action: one inbox key) through the real
receiver over HTTP, the real inbox (SQLite or PostgreSQL) and the real apply, which re-reads the record from the
emulated webservice. Failure prevented: the second change waiting for the next poll because its notice was dropped
as a duplicate of the first, whether the first was already applied, or being applied (its record re-read, its row
not yet marked) when the copy came. And the copies' handling must not cost other deliveries anything: several
receivers racing still store each key once, with no 5xx, while an apply runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import dagster as dg
import pytest
import requests
from sqlalchemy import Engine, func, select

from ecom_pipeline.platforms.prestashop import webhooks as prestashop_webhooks
from ecom_pipeline.runner import run_sync
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.warehouse import store as warehouse_store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import default_home, make_engine, shared_engine
from ecom_pipeline.warehouse.schema import integrations, webhook_inbox
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline.webhooks import inbox
from ecom_pipeline.webhooks.app import create_app
from ecom_pipeline.webhooks.apply import apply_inbox
from ecom_pipeline_tests.integration.conftest import OpenTenant
from ecom_pipeline_tests.integration.prestashop_notices import PRESTASHOP_SECRET_ENV, hub_price, post_notice
from ecom_pipeline_tests.webhooks.conftest import WC_SECRET, ReceiverServer, add_integration, recorded_delivery

SHOP = "presta-repeat"
TENANT = "repeatco"
SECRET = "ps-repeat-secret-2026"


@pytest.fixture
def presta(
    monkeypatch: pytest.MonkeyPatch, open_tenant: OpenTenant
) -> Iterator[tuple[SandboxServer, dg.DagsterInstance]]:
    monkeypatch.setenv("ECOM_PRESTASHOP_WEBHOOK_SECRET", SECRET)
    spec = ShopSpec(name=SHOP, seed=9, products=4, variable_share=0.0, orders=0, customers=0, platform="prestashop")
    with open_tenant(spec, tenant=TENANT, secret_env=PRESTASHOP_SECRET_ENV) as connected:
        yield connected


def _post(url: str, body: dict, timestamp: str) -> requests.Response:
    return post_notice(url, body, SECRET, timestamp)


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
        first_receipt = _received_at(engine)
        # A copy while the first is still pending is a duplicate: its re-read is still to come. The row's
        # generation moves (by a microsecond: the first receipt is kept), in case an apply had already taken it.
        assert _post(url, notice, second).json()["duplicate"] is True
        assert _received_at(engine) - first_receipt == timedelta(microseconds=1)
        report = apply_inbox(engine, tenant_id=TENANT, run_id="first")
        assert (report.applied, report.dead, report.retried, report.reopened) == (1, 0, 0, 0), report.errors
        first_price = hub_price(warehouse_url, integration_id, pid)

        store.update_product(pid, price="43.00")  # the second change, after the first notice was applied
        before_copy = utcnow()
        assert _post(url, notice, second).json() == {"ok": True, "duplicate": False}  # back to pending
        # The pending work is the copy's: its receipt is what the latency KPI measures from.
        assert _received_at(engine) >= before_copy
        report = apply_inbox(engine, tenant_id=TENANT, run_id="second")
        assert (report.applied, report.dead, report.retried) == (1, 0, 0), report.errors
        assert hub_price(warehouse_url, integration_id, pid) > first_price
    with engine.connect() as conn:
        rows = conn.execute(select(webhook_inbox.c.status, webhook_inbox.c.attempts)).all()
    assert [tuple(r) for r in rows] == [("applied", 1)]  # one row, applied twice, its count started again


def _received_at(engine: Engine) -> datetime:
    with engine.connect() as conn:
        return conn.execute(select(webhook_inbox.c.received_at)).scalar_one()


def _integration_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(integrations.c.id).where(integrations.c.platform == "prestashop")).scalar_one())


def test_a_copy_arriving_while_the_first_is_being_applied_is_applied_again(
    presta: tuple[SandboxServer, dg.DagsterInstance], warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy comes after the apply re-read the record (the row still pending, the second change not read):
    before, it was answered as a duplicate and the row was then marked applied, so the second change waited for
    the next poll. Now the apply sees the row's generation moved and leaves it pending for the next apply."""
    sandbox, instance = presta
    assert run_sync(TENANT, instance=instance).success
    store = sandbox.shop(SHOP).store
    engine = shared_engine(warehouse_url)
    integration_id = _integration_id(engine)
    pid = min(store.tables["products"])
    notice = {"resource": "products", "id": pid, "action": "update"}
    second = str(int(time.time()))
    answers: list[dict] = []
    with ReceiverServer(create_app(engine=engine)) as receiver:
        url = f"{receiver.url}/webhooks/prestashop/{integration_id}"
        original = prestashop_webhooks.reread

        def reread_then_second_change(**kw: object) -> object:  # the apply has re-read; the row is still pending
            out = original(**kw)
            store.update_product(pid, price="43.00")
            answers.append(_post(url, notice, second).json())
            return out

        store.update_product(pid, price="41.00")
        assert _post(url, notice, second).json() == {"ok": True, "duplicate": False}
        monkeypatch.setattr(prestashop_webhooks, "reread", reread_then_second_change)
        report = apply_inbox(engine, tenant_id=TENANT, run_id="first")
        monkeypatch.setattr(prestashop_webhooks, "reread", original)
        assert answers == [{"ok": True, "duplicate": True}]
        with engine.connect() as conn:  # not marked applied: the copy came after the row was taken
            assert conn.execute(select(webhook_inbox.c.status)).scalar_one() == "pending"
        # Not counted as applied: the row was left pending (review 3: the count included it).
        assert (report.applied, report.reopened, report.dead, report.retried) == (0, 1, 0, 0), report.errors
        first_price = hub_price(warehouse_url, integration_id, pid)

        report = apply_inbox(engine, tenant_id=TENANT, run_id="second")
        assert (report.applied, report.reopened, report.dead, report.retried) == (1, 0, 0, 0), report.errors
        assert hub_price(warehouse_url, integration_id, pid) > first_price  # the second change reached the hub
        assert apply_inbox(engine, tenant_id=TENANT, run_id="third").read == 0
    with engine.connect() as conn:
        rows = conn.execute(select(webhook_inbox.c.status, webhook_inbox.c.attempts)).all()
    assert [tuple(r) for r in rows] == [("applied", 1)]


def test_a_copy_arriving_while_the_apply_commits_is_re_opened_after_it(
    presta: tuple[SandboxServer, dg.DagsterInstance], warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy comes while the apply's transaction holds the row (PostgreSQL: its row lock; SQLite: the write
    lock): the receiver waits for the commit, finds the row applied and re-opens it; no error, no 5xx."""
    sandbox, instance = presta
    assert run_sync(TENANT, instance=instance).success
    store = sandbox.shop(SHOP).store
    engine = shared_engine(warehouse_url)
    integration_id = _integration_id(engine)
    pid = min(store.tables["products"])
    notice = {"resource": "products", "id": pid, "action": "update"}
    second = str(int(time.time()))
    answers: list[requests.Response] = []
    with ReceiverServer(create_app(engine=engine)) as receiver:
        url = f"{receiver.url}/webhooks/prestashop/{integration_id}"
        original = warehouse_store.stage_records
        copy: list[threading.Thread] = []

        def stage_then_copy(*args: object, **kw: object) -> object:  # inside the apply's transaction
            out = original(*args, **kw)
            store.update_product(pid, price="47.00")
            copy.append(threading.Thread(target=lambda: answers.append(_post(url, notice, second))))
            copy[0].start()
            time.sleep(0.5)  # the copy reaches the warehouse and waits on the apply's locks
            assert not answers, "the copy must wait for the apply's commit"
            return out

        store.update_product(pid, price="41.00")
        assert _post(url, notice, second).json() == {"ok": True, "duplicate": False}
        monkeypatch.setattr(warehouse_store, "stage_records", stage_then_copy)
        report = apply_inbox(engine, tenant_id=TENANT, run_id="first")
        monkeypatch.setattr(warehouse_store, "stage_records", original)
        copy[0].join(30)
        assert [(a.status_code, a.json()) for a in answers] == [(200, {"ok": True, "duplicate": False})]
        assert (report.applied, report.reopened) == (1, 0), report.errors
        first_price = hub_price(warehouse_url, integration_id, pid)
        report = apply_inbox(engine, tenant_id=TENANT, run_id="second")
        assert (report.applied, report.dead, report.retried) == (1, 0, 0), report.errors
        assert hub_price(warehouse_url, integration_id, pid) > first_price


def test_several_receivers_racing_store_each_key_once_while_the_apply_runs(
    presta: tuple[SandboxServer, dg.DagsterInstance], warehouse_url: str
) -> None:
    """Copies of PrestaShop notices (rows applied, pending, or new) and of WooCommerce deliveries, each sent to three
    receivers at the same instant while the apply runs in a loop: every answer is 200, each key is one row, each
    WooCommerce delivery is stored by exactly one receiver, and a re-opened notice is reported stored once."""
    sandbox, instance = presta
    assert run_sync(TENANT, instance=instance).success
    engine = shared_engine(warehouse_url)
    integration_id = _integration_id(engine)
    woo = add_integration(
        engine,
        CredentialCipher.from_env(default_home()),
        platform="woocommerce",
        base_url="http://127.0.0.1:1/recorded",
        credentials={"consumer_key": "ck_x", "consumer_secret": "cs_x", "webhook_secret": WC_SECRET},
        tenant="woo-tenant",
    )
    pids = sorted(sandbox.shop(SHOP).store.tables["products"])
    second = str(int(time.time()))
    notices = [{"resource": "products", "id": pid, "action": "update"} for pid in pids]
    receivers = 3
    engines = [make_engine(warehouse_url) for _ in range(receivers)]
    servers = [ReceiverServer(create_app(engine=e)) for e in engines]
    stop = threading.Event()
    applies: list[object] = []

    def apply_loop() -> None:
        while not stop.is_set():
            try:
                applies.append(apply_inbox(engine, tenant_id=TENANT, run_id="loop"))
            except Exception as exc:  # reported below, with the receivers' answers
                applies.append(exc)

    try:
        for server in servers:
            server.__enter__()
        ps_url = [f"{s.url}/webhooks/prestashop/{integration_id}" for s in servers]
        # Half of the notices are applied before the race, a quarter left pending, a quarter new.
        for body in notices[: len(notices) // 2]:
            assert _post(ps_url[0], body, second).json()["duplicate"] is False
        assert apply_inbox(engine, tenant_id=TENANT, run_id="before").applied == len(notices) // 2
        for body in notices[len(notices) // 2 : len(notices) * 3 // 4]:
            assert _post(ps_url[0], body, second).json()["duplicate"] is False
        sends: list[Callable[[], requests.Response]] = []
        for body in notices:
            sends += [lambda url=url, body=body: _post(url, body, second) for url in ps_url]
        for name in ("webhook-delivery-product-updated-price", "webhook-delivery-product-created-simple"):
            headers, raw = recorded_delivery(name)
            sends += [
                lambda s=s, headers=headers, raw=raw: requests.post(
                    f"{s.url}/webhooks/woocommerce/{woo}", data=raw, headers=headers, timeout=30
                )
                for s in servers
            ]
        applier = threading.Thread(target=apply_loop)
        applier.start()
        barrier = threading.Barrier(len(sends))

        def at_once(send: Callable[[], requests.Response]) -> requests.Response:
            barrier.wait(30)
            return send()

        with ThreadPoolExecutor(max_workers=len(sends)) as pool:
            answers = list(pool.map(at_once, sends))
        stop.set()
        applier.join(60)
    finally:
        stop.set()
        for server in servers:
            server.__exit__(None, None, None)
        for e in engines:
            e.dispose()
    assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers if a.status_code != 200]
    assert not [a for a in applies if isinstance(a, Exception)], applies
    per_delivery = [answers[i : i + receivers] for i in range(0, len(answers), receivers)]
    stored = [sum(not a.json()["duplicate"] for a in copies) for copies in per_delivery]
    # WooCommerce deliveries: stored by exactly one receiver. New notices: by one at least (a copy coming after the
    # apply loop applied the row re-opens it, as one coming after a first apply would).
    assert stored[len(notices) :] == [1, 1], stored
    assert all(n >= 1 for n in stored[len(notices) * 3 // 4 : len(notices)]), stored
    report = apply_inbox(engine, tenant_id=TENANT, run_id="after")
    assert (report.dead, report.retried, report.reopened) == (0, 0, 0), report.errors
    with engine.connect() as conn:
        total, keys = conn.execute(select(func.count(), func.count(func.distinct(webhook_inbox.c.delivery_key)))).one()
    assert total == keys == len(notices) + 2
    with engine.connect() as conn:
        left = conn.execute(
            select(webhook_inbox.c.status).where(
                webhook_inbox.c.platform == "prestashop", webhook_inbox.c.status != "applied"
            )
        ).all()
    assert left == []


def test_other_platforms_keep_exactly_once_storage_of_an_applied_delivery(warehouse_url: str) -> None:
    """The re-opening is PrestaShop's only: a WooCommerce (or any other) delivery already applied stays applied and
    untouched, even in a group that also holds a PrestaShop notice (of another tenant): one plain
    ``ON CONFLICT DO NOTHING`` insert, as before the re-opening existed."""
    engine = shared_engine(warehouse_url)
    from ecom_pipeline.warehouse import store

    cipher = CredentialCipher(CredentialCipher.generate_key())
    with engine.begin() as conn:
        woo = store.create_integration(
            conn, tenant_id="other", platform="woocommerce", name="woo", base_url="http://127.0.0.1:1",
            credentials={}, settings={}, cipher=cipher,
        )  # fmt: skip
        ps = store.create_integration(
            conn, tenant_id="third", platform="prestashop", name="ps", base_url="http://127.0.0.1:2",
            credentials={}, settings={}, cipher=cipher,
        )  # fmt: skip

    def row(platform: str, integration: int, tenant: str) -> dict:
        delivery = inbox.Delivery(
            delivery_key=f"{platform}:{integration}:abc", topic="product.updated", resource_id="5", event_id=None,
            webhook_id=None, triggered_at=None, headers={},
        )  # fmt: skip
        return {"tenant_id": tenant, "integration_id": integration, "platform": platform, "delivery": delivery,
                "body": b"{}", "received_at": utcnow()}  # fmt: skip

    woo_row, ps_row = row("woocommerce", woo, "other"), row("prestashop", ps, "third")
    with engine.begin() as conn:
        assert inbox.insert_deliveries(conn, [woo_row, ps_row]) == [True, True]
        conn.execute(webhook_inbox.update().values(status="applied", processed_at=utcnow(), attempts=1))
    with engine.connect() as conn:
        before = conn.execute(select(webhook_inbox).where(webhook_inbox.c.platform == "woocommerce")).one()
    copies = [row("woocommerce", woo, "other"), row("woocommerce", woo, "other"), row("prestashop", ps, "third")]
    with engine.begin() as conn:
        assert inbox.insert_deliveries(conn, copies) == [False, False, True]
    with engine.connect() as conn:
        after = conn.execute(select(webhook_inbox).where(webhook_inbox.c.platform == "woocommerce")).one()
        statuses = dict(conn.execute(select(webhook_inbox.c.platform, webhook_inbox.c.status)).all())
    assert after == before  # received_at, processed_at, attempts: all as they were
    assert statuses == {"woocommerce": "applied", "prestashop": "pending"}
