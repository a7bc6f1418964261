"""End to end: ``ecom-pipeline connect`` and ``sync_job`` on a real Dagster instance, against emulated shops.

Each test names the failure it prevents. Nothing of ours is mocked: the shops answer over HTTP on 127.0.0.1, the
warehouse is a real database (PostgreSQL under CI), and runs go through a real Dagster instance.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ecom_pipeline.runner import run_sync
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import (
    entity_links,
    hub_customers,
    hub_inventory,
    hub_order_lines,
    hub_orders,
    hub_products,
    hub_variants,
    integrations,
    rejected_records,
    staging_records,
    sync_runs,
)
from ecom_pipeline_tests.integration.conftest import SHOP, Env, count

TENANT = "acme"


def _expected(env: Env, shop: str = SHOP) -> dict[str, int]:
    store = env.sandbox.shop(shop).store
    products = [p for p in store.products.values() if p.status != "trash"]
    variants = sum(len(store.variations_of(p)) if p.type == "variable" else 1 for p in products)
    return {
        "products": len(products),
        "variants": variants,
        "orders": len(store.orders),
        "lines": sum(len(o.line_items) for o in store.orders.values()),
        "customers": len(store.customers),
    }


def _assert_hub_matches_shop(env: Env) -> None:
    expected = _expected(env)
    assert count(env.warehouse_url, hub_products, hub_products.c.deleted_at.is_(None)) == expected["products"]
    assert count(env.warehouse_url, hub_variants, hub_variants.c.deleted_at.is_(None)) == expected["variants"]
    assert count(env.warehouse_url, hub_orders) == expected["orders"]
    assert count(env.warehouse_url, hub_order_lines) == expected["lines"]
    assert count(env.warehouse_url, hub_customers) == expected["customers"]


def test_first_sync_brings_every_product_variant_order_and_customer_into_the_hub(env: Env) -> None:
    """Prevents a pull that silently drops pages, variations, lines or customers on the first full read."""
    assert env.connect(TENANT) == 0
    outcome = run_sync(TENANT, instance=env.instance)
    assert outcome.success, outcome.failure
    _assert_hub_matches_shop(env)
    assert count(env.warehouse_url, hub_inventory) == _expected(env)["variants"]

    meta = outcome.materializations["woocommerce/products"]
    for key in ("rows_fetched", "staged", "unchanged", "api_calls", "retries", "throttle_wait_s", "cursor_after"):
        assert key in meta, f"woocommerce/products metadata lacks {key}"
    assert meta["rows_fetched"] == _expected(env)["products"]
    hub_meta = outcome.materializations["hub/products"]
    assert hub_meta["created"] == _expected(env)["products"] and hub_meta["rejected"] == 0

    with shared_engine(env.warehouse_url).connect() as conn:
        prices = conn.execute(select(hub_variants.c.price).where(hub_variants.c.price.is_not(None))).scalars().all()
        totals = conn.execute(select(hub_orders.c.total)).scalars().all()
        runs = conn.execute(select(sync_runs.c.entity, sync_runs.c.stage, sync_runs.c.status)).all()
    assert prices and all(isinstance(p, Decimal) for p in prices)
    assert totals and all(isinstance(t, Decimal) for t in totals)
    assert {(r.entity, r.stage) for r in runs} >= {
        ("product", "extract"),
        ("order", "extract"),
        ("customer", "extract"),
        ("inventory", "extract"),
        ("product", "resolve"),
        ("order", "resolve"),
    }
    assert all(r.status == "success" for r in runs)


def test_order_totals_in_the_hub_equal_the_shop_totals_to_the_cent(env: Env) -> None:
    """Prevents float rounding or a wrong field mapping from changing what an order is worth."""
    from ecom_pipeline.sandbox.woocommerce.render import render_order

    assert env.connect(TENANT) == 0
    assert run_sync(TENANT, instance=env.instance).success
    store = env.sandbox.shop(SHOP).store
    shop_totals = {str(o.id): Decimal(render_order(o, store.tz, "http://x")["total"]) for o in store.orders.values()}
    with shared_engine(env.warehouse_url).connect() as conn:
        rows = conn.execute(
            select(entity_links.c.external_id, hub_orders.c.total).join(
                hub_orders, (entity_links.c.hub_id == hub_orders.c.id) & (entity_links.c.entity == "order")
            )
        ).all()
    assert {r.external_id: r.total for r in rows} == shop_totals


def test_no_change_sync_makes_one_list_call_per_entity_and_writes_nothing(env: Env) -> None:
    """Prevents incremental syncs from re-reading the shop or rewriting the hub when nothing changed."""
    assert env.connect(TENANT) == 0
    assert run_sync(TENANT, instance=env.instance).success
    with shared_engine(env.warehouse_url).connect() as conn:
        synced_before = conn.execute(select(func.max(hub_products.c.synced_at))).scalar_one()
        staged_before = conn.execute(select(func.count()).select_from(staging_records)).scalar_one()
    shop = env.sandbox.shop(SHOP)
    shop.stats.reset()
    outcome = run_sync(TENANT, instance=env.instance)
    assert outcome.success, outcome.failure
    calls = {
        name: outcome.materializations[f"woocommerce/{name}"]["api_calls"]
        for name in ("products", "orders", "customers")
    }
    assert all(n <= 1 for n in calls.values()), calls
    assert shop.stats.count(path_prefix="/wp-json/wc/v3/products") == 1, "products listed more than once"
    assert shop.stats.count(path_prefix="/wp-json/wc/v3/products/") == 0, "variations were re-read"
    for name in ("products", "orders", "customers", "inventory"):
        meta = outcome.materializations[f"hub/{name}"]
        assert meta["created"] == 0 and meta["updated"] == 0, (name, meta)
    with shared_engine(env.warehouse_url).connect() as conn:
        assert conn.execute(select(func.max(hub_products.c.synced_at))).scalar_one() == synced_before
        assert conn.execute(select(func.count()).select_from(staging_records)).scalar_one() == staged_before


def test_a_price_change_in_the_shop_reaches_the_hub_on_the_next_incremental_sync(env: Env) -> None:
    """Prevents the cursor (strictly-after, one-second resolution) from skipping a change made right after a sync."""
    assert env.connect(TENANT) == 0
    assert run_sync(TENANT, instance=env.instance).success
    store = env.sandbox.shop(SHOP).store
    simple = next(p for p in store.products.values() if p.type == "simple" and p.status == "publish" and p.sku)
    store.update_product(simple.id, {"regular_price": "123.45", "sale_price": ""})
    outcome = run_sync(TENANT, instance=env.instance)
    assert outcome.success, outcome.failure
    assert outcome.materializations["hub/products"]["updated"] >= 1
    with shared_engine(env.warehouse_url).connect() as conn:
        price = conn.execute(select(hub_variants.c.price).where(hub_variants.c.sku == simple.sku)).scalar_one()
    assert price == Decimal("123.45")


def test_wrong_consumer_secret_is_refused_at_connect_with_a_clear_message(env: Env, capsys) -> None:  # type: ignore[no-untyped-def]
    """Prevents saving credentials that cannot work, and error messages that leak the secret."""
    wrong = "cs_" + "0" * 40
    assert env.connect(TENANT, consumer_secret=wrong) == 1
    err = capsys.readouterr().err
    assert "signature" in err.lower() or "secret" in err.lower(), err
    assert wrong not in err
    assert count(env.warehouse_url, integrations) == 0


def test_unknown_consumer_key_over_https_is_refused_at_connect(env: Env, capsys) -> None:  # type: ignore[no-untyped-def]
    """Prevents an unknown key (which WooCommerce treats as anonymous) from looking like a permissions glitch."""
    assert env.connect(TENANT, https=True, consumer_key="ck_" + "1" * 40) == 1
    err = capsys.readouterr().err
    assert "401" in err or "key" in err.lower(), err
    assert count(env.warehouse_url, integrations) == 0


def test_https_shop_with_our_ca_bundle_syncs_and_without_it_says_how_to_fix_tls(env: Env, capsys) -> None:  # type: ignore[no-untyped-def]
    """Prevents TLS verification from being silently skipped, and TLS failures from reading as 'unreachable'."""
    assert env.connect(TENANT, https=True, no_ca=True) == 1
    err = capsys.readouterr().err
    assert "--ca-bundle" in err, err
    assert env.connect(TENANT, https=True) == 0
    assert run_sync(TENANT, instance=env.instance).success
    _assert_hub_matches_shop(env)


def test_unreachable_shop_is_refused_at_connect_with_a_clear_message(env: Env, capsys) -> None:  # type: ignore[no-untyped-def]
    """Prevents a typo in the URL from surfacing as a stack trace."""
    assert env.connect(TENANT, url="http://127.0.0.1:9/nowhere") == 1
    err = capsys.readouterr().err
    assert "127.0.0.1:9" in err
    assert count(env.warehouse_url, integrations) == 0


def test_a_burst_of_429s_is_waited_out_and_nothing_is_lost(env: Env) -> None:
    """Prevents a throttling shop from failing the sync or losing the pages that were throttled."""
    assert env.connect(TENANT) == 0
    shop = env.sandbox.shop(SHOP)
    shop.faults.update({"rate_limit_burst": 3, "retry_after_s": 1})
    outcome = run_sync(TENANT, instance=env.instance)
    assert outcome.success, outcome.failure
    retries = sum(int(m.get("retries", 0)) for k, m in outcome.materializations.items() if k.startswith("woo"))
    waited = sum(float(m.get("throttle_wait_s", 0)) for k, m in outcome.materializations.items() if k.startswith("woo"))
    assert retries >= 3 and waited >= 3.0, (retries, waited)
    _assert_hub_matches_shop(env)


def test_a_429_storm_fails_the_run_with_a_clear_error_and_the_rerun_completes(env: Env) -> None:
    """Prevents an endless storm from hanging the run or leaving a half-synced hub behind a green run."""
    assert env.connect(TENANT) == 0
    shop = env.sandbox.shop(SHOP)
    shop.faults.update({"rate_limit_burst": 1000, "retry_after_s": 0})
    outcome = run_sync(TENANT, instance=env.instance)
    assert not outcome.success
    assert "429" in (outcome.failure or "") or "rate" in (outcome.failure or "").lower(), outcome.failure
    with shared_engine(env.warehouse_url).connect() as conn:
        failed = conn.execute(select(sync_runs.c.error).where(sync_runs.c.status == "failed")).scalars().all()
        last_error = conn.execute(select(integrations.c.last_error)).scalar_one()
    assert failed and all(e for e in failed)
    assert last_error
    shop.faults.reset()
    outcome = run_sync(TENANT, instance=env.instance)
    assert outcome.success, outcome.failure
    _assert_hub_matches_shop(env)


def test_a_malformed_product_is_kept_in_rejected_records_and_the_rest_applies(env: Env) -> None:
    """Prevents one bad record from failing the whole sync, or from being dropped without a trace."""
    assert env.connect(TENANT) == 0
    store = env.sandbox.shop(SHOP).store
    bad = next(p for p in store.products.values() if p.type == "simple" and p.status == "publish")
    env.sandbox.shop(SHOP).faults.update({"malformed_product_ids": [bad.id]})
    outcome = run_sync(TENANT, instance=env.instance)
    assert outcome.success, outcome.failure
    assert outcome.materializations["hub/products"]["rejected"] >= 1
    with shared_engine(env.warehouse_url).connect() as conn:
        rejected = conn.execute(select(rejected_records).where(rejected_records.c.entity == "product")).all()
    assert rejected and rejected[0].payload is not None and rejected[0].reason
    assert count(env.warehouse_url, hub_products) == _expected(env)["products"] - 1

    env.sandbox.shop(SHOP).faults.reset()
    store.update_product(bad.id, {"name": bad.name + " (fixed)"})
    assert run_sync(TENANT, instance=env.instance).success
    assert count(env.warehouse_url, hub_products) == _expected(env)["products"]


def test_full_refresh_turns_products_gone_from_the_shop_into_tombstones(env: Env) -> None:
    """Prevents deleted shop records from lingering as live hub rows, or being hard-deleted with their history."""
    assert env.connect(TENANT) == 0
    assert run_sync(TENANT, instance=env.instance).success
    store = env.sandbox.shop(SHOP).store
    gone = next(p for p in store.products.values() if p.type == "simple" and p.status == "publish")
    store.delete_product(gone.id, force=True)
    outcome = run_sync(TENANT, instance=env.instance, full_refresh=True)
    assert outcome.success, outcome.failure
    with shared_engine(env.warehouse_url).connect() as conn:
        deleted = conn.execute(
            select(hub_products.c.title, hub_products.c.deleted_at).where(hub_products.c.deleted_at.is_not(None))
        ).all()
    assert [d.title for d in deleted] == [gone.name]
    assert count(env.warehouse_url, hub_products) == _expected(env)["products"] + 1  # the tombstone is kept


def test_a_sync_killed_mid_run_resumes_on_rerun_without_loss_or_duplicates(env: Env) -> None:
    """Prevents a crash (kill -9) mid-sync from losing staged pages or duplicating hub rows on the rerun."""
    assert env.connect(TENANT) == 0
    shop = env.sandbox.shop(SHOP)
    shop.faults.update({"slow_ms": 150})
    script = "from ecom_pipeline.runner import run_sync; run_sync('acme')"
    proc = subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and count(env.warehouse_url, staging_records) < 5:
            assert proc.poll() is None, "the sync finished before it could be interrupted"
            time.sleep(0.1)
        assert count(env.warehouse_url, staging_records) >= 5
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    shop.faults.reset()
    outcome = run_sync(TENANT, instance=env.instance)
    assert outcome.success, outcome.failure
    _assert_hub_matches_shop(env)
    with shared_engine(env.warehouse_url).connect() as conn:
        dupes = conn.execute(
            select(hub_variants.c.sku, func.count())
            .where(hub_variants.c.sku.is_not(None))
            .group_by(hub_variants.c.sku)
            .having(func.count() > 1)
        ).all()
    assert not dupes


def test_two_shops_of_one_tenant_with_shared_skus_share_hub_variants(env: Env) -> None:
    """Prevents the same item sold on two shops from appearing twice in the hub catalogue."""
    pytest.importorskip("ecom_pipeline.sandbox.server")
    assert env.connect(TENANT) == 0
    other = env.sandbox.shop("other-shop").store
    mine = env.sandbox.shop(SHOP).store
    shared_sku = next(p.sku for p in mine.products.values() if p.type == "simple" and p.sku)
    target = next(p for p in other.products.values() if p.type == "simple" and p.sku)
    other.update_product(target.id, {"sku": shared_sku})
    assert env.connect(TENANT, "other-shop") == 0
    assert run_sync(TENANT, instance=env.instance).success
    with shared_engine(env.warehouse_url).connect() as conn:
        n = conn.execute(select(func.count()).where(hub_variants.c.sku == shared_sku)).scalar_one()
        links = conn.execute(
            select(func.count()).where(entity_links.c.entity == "variant", entity_links.c.sku == shared_sku)
        ).scalar_one()
    assert n == 1 and links == 2


def test_incremental_customers_pick_up_new_and_ordering_customers_with_one_list_call(env: Env) -> None:
    """Prevents customers (no modification filter in WooCommerce) from costing a full listing on every sync,
    and prevents a new customer, or one whose details changed with a purchase, from being missed."""
    assert env.connect(TENANT) == 0
    assert run_sync(TENANT, instance=env.instance).success
    store = env.sandbox.shop(SHOP).store
    # The changes below are stamped 10 minutes ago: by the last sync they have settled (a time within the lookback of
    # a read's start is read again, sync.extract.settled_before_of, and the recent order's customer with it).
    env.sandbox.clock.advance(-600)
    new = store.create_customer({"email": "new.buyer@example.com", "first_name": "New", "last_name": "Buyer"})
    buyer = next(iter(store.customers.values()))
    store.update_customer(buyer.id, {"last_name": "Renamed"})
    product = next(p for p in store.products.values() if p.type == "simple" and p.status == "publish")
    store.add_order({"customer_id": buyer.id, "line_items": [{"product_id": product.id, "quantity": 1}]})
    outcome = run_sync(TENANT, instance=env.instance)
    assert outcome.success, outcome.failure
    with shared_engine(env.warehouse_url).connect() as conn:
        emails = set(conn.execute(select(hub_customers.c.email)).scalars())
        renamed = conn.execute(
            select(hub_customers.c.last_name).where(hub_customers.c.email == buyer.email.lower())
        ).scalar_one()
    assert new.email in emails
    assert renamed == "Renamed"
    shop = env.sandbox.shop(SHOP)
    shop.stats.reset()
    outcome = run_sync(TENANT, instance=env.instance)
    assert outcome.success, outcome.failure
    assert outcome.materializations["woocommerce/customers"]["api_calls"] == 1
    assert shop.stats.count(path_prefix="/wp-json/wc/v3/customers") == 1


def test_a_failing_shop_does_not_keep_the_tenants_other_shop_out_of_the_hub(env: Env) -> None:
    """Prevents one shop with an error (here a 429 storm) from skipping the hub step for every shop of the tenant."""
    assert env.connect(TENANT) == 0
    assert env.connect(TENANT, "other-shop") == 0
    env.sandbox.shop("other-shop").faults.update({"rate_limit_burst": 1000, "retry_after_s": 0})
    outcome = run_sync(TENANT, instance=env.instance)
    assert not outcome.success
    assert "other-shop" in (outcome.failure or "")
    assert outcome.materializations["hub/products"]["created"] == _expected(env)["products"]
    with shared_engine(env.warehouse_url).connect() as conn:
        statuses = dict(conn.execute(select(integrations.c.name, integrations.c.status)).all())
    assert statuses == {SHOP: "active", "other-shop": "error"}
