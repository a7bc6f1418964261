"""Deletes that nobody announces: id reconciliation through the normal sync, against emulated shops over HTTP.

Issue 8: WooCommerce sends no webhook for a permanent delete and an incremental read cannot see one, so a
force-deleted record stayed live in the hub until someone ran ``--full-refresh``. Each test names what it prevents.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest
from sqlalchemy import select, update

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.platforms.registry import get_platform
from ecom_pipeline.runner import run_sync
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.sync import reconcile
from ecom_pipeline.sync.extract import ExtractContext
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import default_home, shared_engine
from ecom_pipeline.warehouse.schema import (
    entity_links,
    hub_customers,
    hub_orders,
    hub_products,
    integrations,
    rejected_records,
    staging_records,
    sync_runs,
)
from ecom_pipeline_tests.integration.conftest import SHOP, Env, OpenTenant, count

TENANT = "acme"


def _connect(env: Env, *extra: str) -> int:
    """``ecom-pipeline connect woocommerce`` for the test shop, with extra options."""
    info = env.sandbox.shop(SHOP)
    argv = ["--warehouse-url", env.warehouse_url, "connect", "woocommerce", "--tenant", TENANT, "--url", info.http_url]
    argv += ["--consumer-key", info.consumer_key, "--consumer-secret", info.consumer_secret, "--timeout", "5"]
    return cli_main([*argv, *extra])


def _reconcile_rows(url: str) -> list:
    with shared_engine(url).connect() as conn:
        return list(conn.execute(select(sync_runs).where(sync_runs.c.stage == "reconcile").order_by(sync_runs.c.id)))


def _delete_in_woocommerce(env: Env) -> tuple[str, str, str]:
    """Force-delete a product, an order and a customer in the shop (no webhook, no modification date)."""
    shop = env.sandbox.shop(SHOP).store
    product = next(p for p in shop.products.values() if p.status == "publish")
    order = next(iter(shop.orders.values()))
    customer = next(iter(shop.customers.values()))
    shop.delete_product(product.id, force=True)
    shop.delete_order(order.id, force=True)
    with shop.lock:  # the emulator has no DELETE customers route; WooCommerce deletes users for good
        del shop.customers[customer.id]
        shop._touch("customers")  # invalidates the emulator's sorted listings
    return product.name, str(order.id), str(customer.id)


def test_force_deleted_records_leave_the_hub_on_a_normal_sync_when_reconciliation_is_due(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a permanently deleted product, order or customer staying live in the hub until a full refresh."""
    assert _connect(env, "--reconcile-hours", "0") == 0
    assert run_sync(TENANT, instance=env.instance).success
    name, order_id, customer_id = _delete_in_woocommerce(env)

    outcome = run_sync(TENANT, instance=env.instance)
    assert outcome.success, outcome.failure
    with shared_engine(env.warehouse_url).connect() as conn:
        product = conn.execute(
            select(hub_products.c.status, hub_products.c.deleted_at).where(hub_products.c.title == name)
        ).one()
        gone = dict(
            conn.execute(
                select(entity_links.c.entity, entity_links.c.external_id).where(entity_links.c.deleted_at.is_not(None))
            ).all()
        )
    assert product.deleted_at is not None and product.status == "archived"
    assert gone.get("order") == order_id and gone.get("customer") == customer_id
    assert count(env.warehouse_url, hub_orders, hub_orders.c.deleted_at.is_not(None)) == 1
    assert count(env.warehouse_url, hub_customers, hub_customers.c.deleted_at.is_not(None)) == 1

    rows = [r for r in _reconcile_rows(env.warehouse_url) if r.dagster_run_id == outcome.run_id]
    assert {r.entity: r.deleted for r in rows} == {"product": 1, "order": 1, "customer": 1}
    assert all(r.status == "success" and r.rows_fetched > 0 and r.api_calls > 0 for r in rows)

    capsys.readouterr()
    assert cli_main(["--warehouse-url", env.warehouse_url, "status", "--tenant", TENANT]) == 0
    out = capsys.readouterr().out
    assert "Id reconciliation" in out
    section = out.split("Id reconciliation", 1)[1]
    for entity in ("product", "order", "customer"):
        assert entity in section
    assert "never" not in section.split("\n\n", 1)[0]


def test_reconciliation_waits_for_the_shops_interval_and_costs_no_call_before(env: Env) -> None:
    """Prevents listing every id on every sync (the default is daily) and a setting that is never honoured."""
    assert env.connect(TENANT) == 0  # default interval: 24 hours
    assert run_sync(TENANT, instance=env.instance).success
    name, _, _ = _delete_in_woocommerce(env)
    assert run_sync(TENANT, instance=env.instance).success
    assert _reconcile_rows(env.warehouse_url) == []
    assert count(env.warehouse_url, hub_products, hub_products.c.title == name, hub_products.c.deleted_at.is_(None))

    # A day later (the connection moved back a day), the normal sync reconciles.
    engine = shared_engine(env.warehouse_url)
    with engine.begin() as conn:
        created = conn.execute(select(integrations.c.created_at)).scalar_one()
        conn.execute(update(integrations).values(created_at=created - reconcile.interval({}) * 1.01))
    assert run_sync(TENANT, instance=env.instance).success
    assert {r.entity for r in _reconcile_rows(env.warehouse_url)} == {"product", "order", "customer"}
    assert count(env.warehouse_url, hub_products, hub_products.c.title == name, hub_products.c.deleted_at.is_not(None))
    # Done: the next sync is not due again.
    assert run_sync(TENANT, instance=env.instance).success
    assert len(_reconcile_rows(env.warehouse_url)) == 3


def _context(env: Env, **limits: object) -> ExtractContext:
    """The context an extract asset builds for the tenant's WooCommerce shop (real credentials, real engine)."""
    engine = shared_engine(env.warehouse_url)
    with engine.connect() as conn:
        [integration] = store.list_integrations(conn, tenant_id=TENANT)
        integration_id = integration.id
        creds = store.load_credentials(conn, integration_id, CredentialCipher.from_env(default_home()))
    return ExtractContext(engine=engine, integration=integration, credentials=creds, run_id="test", **limits)  # type: ignore[arg-type]


def test_a_failing_listing_tombstones_nothing_and_stays_due(env: Env) -> None:
    """Prevents a listing cut short by shop errors from marking every unlisted record deleted."""
    assert _connect(env, "--reconcile-hours", "0") == 0
    assert run_sync(TENANT, instance=env.instance).success
    _delete_in_woocommerce(env)
    spec = get_platform("woocommerce").reconcile
    assert spec is not None
    ctx = _context(env, max_retries=0)
    shop = env.sandbox.shop(SHOP)
    shop.faults.update({"server_errors": 1000, "server_error_statuses": [500]})
    report = reconcile.reconcile(ctx, "product", spec)
    shop.faults.reset()
    assert not report.ok and report.deleted == 0 and "500" in (report.error or "")
    assert count(env.warehouse_url, staging_records, staging_records.c.op == "delete") == 0
    [row] = [r for r in _reconcile_rows(env.warehouse_url) if r.dagster_run_id == "test"]
    assert row.status == "failed" and row.error and row.deleted == 0
    with shared_engine(env.warehouse_url).connect() as conn:
        assert reconcile.is_due(conn, ctx.integration, "product", row.finished_at)


def test_a_listing_that_lacks_most_linked_ids_is_refused_as_partial(env: Env) -> None:
    """Prevents a short (partial) id listing from tombstoning most of a catalogue in one go."""
    assert _connect(env, "--reconcile-hours", "0") == 0
    assert run_sync(TENANT, instance=env.instance).success
    shop = env.sandbox.shop(SHOP).store
    live = [p.id for p in shop.products.values() if p.status == "publish"]
    for pid in live[: int(len(live) * 0.8)]:
        shop.delete_product(pid, force=True)
    report = reconcile.reconcile(_context(env), "product", get_platform("woocommerce").reconcile)  # type: ignore[arg-type]
    assert not report.ok and "full-refresh" in (report.error or "")
    assert report.deleted == 0
    assert count(env.warehouse_url, staging_records, staging_records.c.op == "delete") == 0


def test_a_record_deleted_while_the_listing_pages_is_not_taken_for_gone(env: Env) -> None:
    """Prevents page-number shifts (a delete during the listing) from tombstoning a live record it skipped."""
    assert _connect(env, "--reconcile-hours", "0") == 0
    assert run_sync(TENANT, instance=env.instance).success
    spec = get_platform("woocommerce").reconcile
    assert spec is not None
    shop = env.sandbox.shop(SHOP).store
    ordered = sorted(p.id for p in shop.products.values() if p.status != "trash")
    victim, shifted = ordered[0], ordered[10]

    class DeletingDuringListing:
        """The real client; the first product is force-deleted in the shop once the first page was read."""

        def __init__(self, ctx: ExtractContext) -> None:
            self.client = spec.make_client(ctx)
            self.client.per_page = 10
            self.stats = self.client.stats

        def list_ids(self, resource: str) -> Iterator[str]:
            for n, external_id in enumerate(self._pages(resource)):
                if n == 9:  # the last id of page 1: page 2 is not read yet
                    shop.delete_product(victim, force=True)
                listed.append(external_id)
                yield external_id

        def _pages(self, resource: str) -> Iterator[str]:
            for page in self.client.iter_pages(resource, {"_fields": "id", "orderby": "id", "order": "asc"}):
                yield from (str(i["id"]) for i in page.items)

        def present_ids(self, resource: str, ids: list[str]) -> set[str]:
            return self.client.present_ids(resource, ids)

        def close(self) -> None:
            self.client.close()

    listed: list[str] = []
    paged = reconcile.ReconcileSpec(spec.resources, DeletingDuringListing, confirm_unlisted=True)
    report = reconcile.reconcile(_context(env), "product", paged)
    assert report.ok, report.error
    with shared_engine(env.warehouse_url).connect() as conn:
        staged = set(
            conn.execute(select(staging_records.c.external_id).where(staging_records.c.op == "delete")).scalars()
        )
    assert str(victim) in listed and str(shifted) not in listed  # the shift really hid a live record
    assert staged == set()  # ... which was asked for by id, found alive, and kept


@pytest.fixture
def shopify(open_tenant: OpenTenant) -> Iterator[tuple[SandboxServer, dg.DagsterInstance]]:
    spec = ShopSpec(name="shopi", seed=5, products=12, orders=10, customers=6, platform="shopify")
    with open_tenant(spec, tenant="hooli", secret_env={"ECOM_SHOPIFY_ACCESS_TOKEN": "access_token"}) as connected:
        yield connected


def test_a_shopify_product_deleted_without_a_delivered_webhook_leaves_the_hub(
    shopify: tuple[SandboxServer, dg.DagsterInstance], warehouse_url: str
) -> None:
    """Prevents a lost products/delete webhook from leaving a Shopify product live in the hub for good."""
    sandbox, instance = shopify
    with shared_engine(warehouse_url).begin() as conn:
        settings = dict(conn.execute(select(integrations.c.settings)).scalar_one())
        conn.execute(update(integrations).values(settings={**settings, reconcile.SETTING: 0}))
    assert run_sync("hooli", instance=instance).success
    shop = sandbox.shop("shopi").store
    product = next(iter(shop.products.values()))
    shop.delete_product(product.id)  # nobody receives the webhook: no receiver is registered
    outcome = run_sync("hooli", instance=instance)
    assert outcome.success, outcome.failure
    with shared_engine(warehouse_url).connect() as conn:
        row = conn.execute(
            select(hub_products.c.status, hub_products.c.deleted_at).where(hub_products.c.title == product.title)
        ).one()
    assert row.deleted_at is not None and row.status == "archived"
    rows = {r.entity: r for r in _reconcile_rows(warehouse_url) if r.dagster_run_id == outcome.run_id}
    assert set(rows) == {"product", "customer"}  # orders: see ShopifyClient.list_ids
    assert rows["product"].deleted == 1 and rows["customer"].deleted == 0


def test_the_rejection_of_a_record_the_shop_deleted_is_closed_by_the_reconciliation(env: Env) -> None:
    """Prevents a rejected record that was deleted in the shop from staying open in rejected_records for good."""
    assert _connect(env, "--reconcile-hours", "0") == 0
    shop = env.sandbox.shop(SHOP)
    variable = next(p for p in shop.store.products.values() if p.type == "variable" and p.status == "publish")
    shop.faults.update({"malformed_product_ids": [variable.variation_ids[0]]})
    assert run_sync(TENANT, instance=env.instance).success
    open_rejections = rejected_records.c.resolved_at.is_(None)
    with shared_engine(env.warehouse_url).connect() as conn:
        rejected = conn.execute(select(rejected_records.c.external_id).where(open_rejections)).scalars().all()
    assert str(variable.id) in rejected
    shop.faults.reset()
    shop.store.delete_product(variable.id, force=True)  # never linked: no tombstone will name it

    assert run_sync(TENANT, instance=env.instance).success
    with shared_engine(env.warehouse_url).connect() as conn:
        still_open = conn.execute(select(rejected_records.c.external_id).where(open_rejections)).scalars().all()
    assert str(variable.id) not in still_open


@pytest.fixture
def presta(open_tenant: OpenTenant) -> Iterator[tuple[SandboxServer, dg.DagsterInstance]]:
    spec = ShopSpec(
        name="presta", seed=3, products=10, variable_share=0.5, orders=8, customers=5, platform="prestashop"
    )
    with open_tenant(spec, tenant="initech", secret_env={"ECOM_PRESTASHOP_API_KEY": "api_key"}) as connected:
        yield connected


def test_a_prestashop_deletion_is_archived_with_its_stock_and_reconciled_once(
    presta: tuple[SandboxServer, dg.DagsterInstance], warehouse_url: str
) -> None:
    """Prevents PrestaShop deletions staying 'active' with live stock, or being staged twice (extract and listing)."""
    sandbox, instance = presta
    with shared_engine(warehouse_url).begin() as conn:
        settings = dict(conn.execute(select(integrations.c.settings)).scalar_one())
        conn.execute(update(integrations).values(settings={**settings, reconcile.SETTING: 0}))
    assert run_sync("initech", instance=instance).success
    shop = sandbox.shop("presta").store
    pid = next(iter(shop.tables["products"]))
    shop.delete_product(pid)
    outcome = run_sync("initech", instance=instance)
    assert outcome.success, outcome.failure
    with shared_engine(warehouse_url).connect() as conn:
        hub_id = conn.execute(
            select(entity_links.c.hub_id).where(
                entity_links.c.entity == "product", entity_links.c.external_id == str(pid)
            )
        ).scalar_one()
        product = conn.execute(
            select(hub_products.c.status, hub_products.c.deleted_at).where(hub_products.c.id == hub_id)
        ).one()
        deletes = conn.execute(
            select(staging_records.c.id).where(staging_records.c.op == "delete", staging_records.c.entity == "product")
        ).all()
    assert product.status == "archived" and product.deleted_at is not None
    assert len(deletes) == 1  # the extract's listing staged it; the reconciliation did not stage it again
    rows = {r.entity: r for r in _reconcile_rows(warehouse_url) if r.dagster_run_id == outcome.run_id}
    assert set(rows) == {"product", "order", "customer"} and all(r.status == "success" for r in rows.values())


def test_webhooks_the_store_disabled_after_failed_deliveries_are_enabled_again_by_the_reconciliation(env: Env) -> None:
    """Prevents a receiver outage of seven deliveries from ending a WooCommerce shop's webhooks for good: the store
    disables a webhook on the 7th consecutive failure and never enables it again, so only polls would bring
    changes."""
    import socket

    from ecom_pipeline.platforms.woocommerce.webhooks import connect_webhooks

    assert _connect(env, "--reconcile-hours", "0") == 0
    engine = shared_engine(env.warehouse_url)
    with engine.connect() as conn:
        iid = conn.execute(select(integrations.c.id)).scalar_one()
    with socket.socket() as probe:  # a port nothing listens on: the receiver is down
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    cipher = CredentialCipher.from_env(default_home())
    connect_webhooks(engine, iid, dead, cipher)
    handle = env.sandbox.shop(SHOP)
    hub = handle.extra["webhooks"]
    product = next(p for p in handle.store.products.values() if p.status == "publish")
    for n in range(7):  # one delivery each: the store sends a resource once per queued change
        handle.store.update_product(product.id, {"name": f"Renamed {n}"})
        assert hub.flush(20)
    product_hooks = [h for h in hub.hooks.values() if h.topic == "product.updated"]
    assert [h.status for h in product_hooks] == ["disabled"]

    outcome = run_sync(TENANT, instance=env.instance)
    assert outcome.success, outcome.failure
    assert [h.status for h in hub.hooks.values() if h.topic == "product.updated"] == ["active"]
    assert all(h.status == "active" for h in hub.hooks.values())
    said = [e.user_message for e in env.instance.all_logs(outcome.run_id) if "had disabled" in e.user_message]
    assert len(said) == 1 and "1 re-enabled" in said[0], said  # the run's log says so (a warning)
