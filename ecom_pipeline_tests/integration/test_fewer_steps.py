"""One extract step per platform and one hub step per tenant run (issue 12: fewer Dagster events and statements).

A tenant's run used to have a step per extract asset and per hub asset (8 for a one-platform tenant); it now has
``<platform>__extract`` and ``hub__resolve`` (multi-assets with the same asset keys and checks). What separate
steps gave for free must still hold: one entity's failure does not stop the others, the blocking price check stops
orders and inventory, and any subset of the assets can be run. A real Dagster instance, a real warehouse and the
WooCommerce emulator over HTTP; the one thing wrapped is the emulator's answer to the orders path (a 500).
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import Engine, func, select, text, update

from ecom_pipeline.assets import extract as extract_module
from ecom_pipeline.definitions import defs
from ecom_pipeline.jobs import SYNC_JOB_NAME
from ecom_pipeline.partitions import TENANTS_PARTITION_NAME
from ecom_pipeline.platforms.http import BACKOFF_BASE_ENV
from ecom_pipeline.platforms.registry import platforms
from ecom_pipeline.runner import run_sync, sync_run_config
from ecom_pipeline.sync.extract_run import TenantExtract
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import (
    hub_customers,
    hub_orders,
    hub_products,
    hub_variants,
    integrations,
    sync_runs,
)
from ecom_pipeline_tests.integration.conftest import SHOP, Env, count

TENANT = "acme"
ENTITIES = ("products", "inventory", "orders", "customers")


def _steps(env: Env, run_id: str) -> list[str]:
    starts = env.instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START).records
    return [r.event_log_entry.step_key or "" for r in starts]


def _checks(env: Env, run_id: str) -> dict[tuple[str, str], bool]:
    records = env.instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    found: dict[tuple[str, str], bool] = {}
    for r in records:
        data = r.event_log_entry.get_dagster_event().event_specific_data
        assert isinstance(data, dg.AssetCheckEvaluation)
        found[(data.asset_key.to_user_string(), data.check_name)] = data.passed
    return found


def _pending(env: Env, entity: str) -> bool:
    with shared_engine(env.warehouse_url).connect() as conn:
        return store.has_pending_staging(conn, tenant_id=TENANT, entity=entity)


def test_the_assets_and_their_checks_keep_their_keys_and_one_op_per_platform_and_for_the_hub() -> None:
    """Prevents the step merge from renaming an asset or a check that UI users, backfills, alerts and docs name:
    every extract asset and hub asset, and every check, keeps its key; the extract assets of a platform share one
    op (and its pool and retry policy), the four hub assets another, and both can run any subset."""
    graph = defs.resolve_asset_graph()
    for name, spec in platforms().items():
        keys = [dg.AssetKey([name, entity]) for entity in ENTITIES]
        ops = {defs.resolve_assets_def(key).op.name for key in keys}
        assert ops == {f"{name}__extract"}, ops
        assets_def = defs.resolve_assets_def(keys[0])
        assert assets_def.can_subset and assets_def.op.pool == f"{name}_api"
        assert assets_def.op.retry_policy == dg.RetryPolicy(max_retries=2, delay=15, backoff=dg.Backoff.EXPONENTIAL)
        checks = {(c.asset_key.to_user_string(), c.name) for c in assets_def.check_specs}
        expected = {"all_shops_extracted", *(c.name for c in spec.report_checks)}
        assert checks == {(key.to_user_string(), check) for key in keys for check in expected}
        for entity, deps in spec.extract_deps.items():
            upstream = graph.get(dg.AssetKey([name, entity])).parent_keys
            assert upstream == {dg.AssetKey([name, d]) for d in deps}
    hub = defs.resolve_assets_def(dg.AssetKey(["hub", "orders"]))
    assert hub.op.name == "hub__resolve" and hub.can_subset
    assert set(hub.keys) == {dg.AssetKey(["hub", e]) for e in ENTITIES}
    assert {(c.asset_key.to_user_string(), c.name, c.blocking) for c in hub.check_specs} == {
        ("hub/products", "no_new_rejections", False),
        ("hub/products", "variant_prices_valid", True),
        ("hub/inventory", "no_new_rejections", False),
        ("hub/customers", "no_new_rejections", False),
        ("hub/orders", "no_new_rejections", False),
        ("hub/orders", "order_lines_reference_known_variants", False),
    }
    assert graph.get(dg.AssetKey(["hub", "orders"])).parent_keys == {
        *(dg.AssetKey([p, "orders"]) for p in platforms()),
        dg.AssetKey(["hub", "products"]),
        dg.AssetKey(["hub", "customers"]),
    }
    assert graph.get(dg.AssetKey(["hub", "inventory"])).parent_keys == {
        *(dg.AssetKey([p, "inventory"]) for p in platforms()),
        dg.AssetKey(["hub", "products"]),
    }


def test_a_one_platform_tenants_run_has_two_steps_and_materializes_every_asset(env: Env) -> None:
    """Prevents a tenant's run from going back to a step per asset (two events and ~11-13 Dagster storage
    statements each): one extract step, one hub step, eight materializations, every check."""
    assert env.connect(TENANT) == 0
    for first in (True, False):  # the full first sync, then a no-change run
        outcome = run_sync(TENANT, instance=env.instance)
        assert outcome.success, outcome.failure
        assert _steps(env, outcome.run_id) == ["woocommerce__extract", "hub__resolve"]
        assert set(outcome.materializations) == {f"{g}/{e}" for g in ("woocommerce", "hub") for e in ENTITIES}
        checks = _checks(env, outcome.run_id)
        assert len(checks) == 4 + 6 and all(checks.values()), checks
        assert outcome.materializations["hub/products"]["nothing_pending"] is not first
    assert count(env.warehouse_url, hub_orders) > 0 and count(env.warehouse_url, hub_customers) > 0


def test_a_shop_failing_on_orders_only_still_extracts_and_applies_the_other_entities(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents one entity's shop errors from stopping the platform's other entities now that they share a step:
    the shop answers 500 to every orders request; products, inventory and customers are still read and applied,
    orders materialize with a failed ERROR check naming the shop, and the run itself succeeds."""
    monkeypatch.setenv(BACKOFF_BASE_ENV, "0.01")
    assert env.connect(TENANT) == 0
    shop = env.sandbox.shop(SHOP)
    real_api = shop.api

    async def orders_fail(scope: Any, receive: Any, send: Any, *, site: str, subpath: str) -> None:
        if "/orders" in subpath:
            body = b'{"code":"internal_server_error","message":"boom","data":{"status":500}}'
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await real_api(scope, receive, send, site=site, subpath=subpath)

    monkeypatch.setattr(shop, "api", orders_fail)
    outcome = run_sync(TENANT, instance=env.instance)
    assert not outcome.success and outcome.failure is not None and "woocommerce/orders" in outcome.failure
    run = env.instance.get_run_by_id(outcome.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS  # a failed check, not a failed run
    assert _steps(env, outcome.run_id) == ["woocommerce__extract", "hub__resolve"]
    assert set(outcome.materializations) == {f"{g}/{e}" for g in ("woocommerce", "hub") for e in ENTITIES}
    checks = _checks(env, outcome.run_id)
    failed = {key for key, passed in checks.items() if not passed}
    assert failed == {("woocommerce/orders", "all_shops_extracted")}, checks
    assert outcome.materializations["woocommerce/orders"]["staged"] == 0
    assert outcome.materializations["woocommerce/products"]["staged"] > 0
    assert outcome.materializations["woocommerce/customers"]["staged"] > 0
    assert outcome.materializations["hub/products"]["created"] > 0
    assert outcome.materializations["hub/customers"]["created"] > 0
    assert count(env.warehouse_url, hub_products) > 0 and count(env.warehouse_url, hub_customers) > 0
    assert count(env.warehouse_url, hub_orders) == 0

    monkeypatch.setattr(shop, "api", real_api)
    outcome = run_sync(TENANT, instance=env.instance)
    assert outcome.success, outcome.failure
    assert count(env.warehouse_url, hub_orders) > 0


def test_a_failed_blocking_price_check_keeps_orders_and_inventory_from_applying_but_not_customers(env: Env) -> None:
    """Prevents the one hub step from applying orders and inventory over a catalogue whose prices failed the
    blocking check (separate steps were skipped by Dagster): customers still apply, orders and inventory stay
    pending in staging, the step and the run fail naming the check, and the next run after the fix applies them."""
    assert env.connect(TENANT) == 0
    assert run_sync(TENANT, instance=env.instance).success
    engine = shared_engine(env.warehouse_url)
    with engine.begin() as conn:
        first = conn.execute(select(hub_variants.c.id, hub_variants.c.price).order_by(hub_variants.c.id)).first()
        assert first is not None
        conn.execute(update(hub_variants).where(hub_variants.c.id == first.id).values(price=Decimal("-2.50")))
    shop = env.sandbox.shop(SHOP).store
    simple = next(p for p in shop.products.values() if p.type == "simple" and p.status == "publish" and p.sku)
    shop.set_stock(simple.id, 41)
    # A registered customer's order: WooCommerce's incremental customers read fetches the customers of changed orders.
    order = next(o for o in shop.orders.values() if o.customer_id in shop.customers)
    shop.update_customer(order.customer_id, {"first_name": "Zed"})
    shop.update_order(order.id, {"customer_note": "leave at the door"})

    outcome = run_sync(TENANT, instance=env.instance)
    assert not outcome.success and outcome.failure is not None
    assert "variant_prices_valid" in outcome.failure, outcome.failure
    run = env.instance.get_run_by_id(outcome.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
    assert _steps(env, outcome.run_id) == ["woocommerce__extract", "hub__resolve"]
    hub = {key for key in outcome.materializations if key.startswith("hub/")}
    assert hub == {"hub/products", "hub/customers"}, hub
    assert outcome.materializations["hub/customers"]["rows_read"] >= 1
    assert not _checks(env, outcome.run_id)[("hub/products", "variant_prices_valid")]
    assert _pending(env, "order") and _pending(env, "inventory") and not _pending(env, "customer")

    with engine.begin() as conn:
        conn.execute(update(hub_variants).where(hub_variants.c.id == first.id).values(price=first.price))
    outcome = run_sync(TENANT, instance=env.instance)
    assert outcome.success, outcome.failure
    assert outcome.materializations["hub/orders"]["rows_read"] >= 1
    assert outcome.materializations["hub/inventory"]["nothing_pending"] is False
    assert not _pending(env, "order") and not _pending(env, "inventory")


def test_a_subset_of_the_assets_runs_only_what_was_selected(env: Env) -> None:
    """Prevents the multi-assets from running (or recording) entities a run did not select: the UI, a backfill or
    a script may materialize hub/orders alone, or one platform entity with its hub asset."""
    assert env.connect(TENANT) == 0
    assert run_sync(TENANT, instance=env.instance).success
    shop = env.sandbox.shop(SHOP).store
    order = next(iter(shop.orders.values()))
    shop.update_order(order.id, {"customer_note": "ring twice"})
    job = defs.resolve_job_def(SYNC_JOB_NAME)
    for selection in (
        [dg.AssetKey(["woocommerce", "orders"]), dg.AssetKey(["hub", "orders"])],
        [dg.AssetKey(["hub", "orders"])],
    ):
        result = job.execute_in_process(
            instance=env.instance,
            partition_key=TENANT,
            asset_selection=selection,
            run_config=sync_run_config(defs, full_refresh=False, asset_selection=selection),
        )
        assert result.success
        materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
        assert materialized == {key.to_user_string() for key in selection}
        checks = {key for key in _checks(env, result.run_id)}
        wanted = {("hub/orders", "no_new_rejections"), ("hub/orders", "order_lines_reference_known_variants")}
        if len(selection) == 2:
            wanted.add(("woocommerce/orders", "all_shops_extracted"))
        assert checks == wanted
        steps = _steps(env, result.run_id)
        assert steps == (["woocommerce__extract", "hub__resolve"] if len(selection) == 2 else ["hub__resolve"])
        if len(selection) == 2:
            orders = result.asset_materializations_for_node("hub__resolve")[0].metadata
            assert orders["rows_read"].value >= 1  # type: ignore[attr-defined]


def test_an_entity_failing_for_a_reason_not_the_shops_fails_the_step_after_the_others_and_only_it_is_retried(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents a retryable failure of one entity (a warehouse error, a bug: ``fail_step``) from stopping the
    platform's other entities, or its retry from reading them all again: the other entities are read in the first
    attempt (customers, which depend on orders, are not), the step fails, and its retry reads orders and
    customers only; the run then succeeds with every asset."""
    assert env.connect(TENANT) == 0
    calls: Counter[str] = Counter()
    real = extract_module.extract_for_tenant

    def flaky(*args: Any, **kwargs: Any) -> TenantExtract:
        calls[kwargs["label"]] += 1
        done = real(*args, **kwargs)
        if kwargs["label"] == "orders" and calls["orders"] == 1:
            done.errors["export-shop"] = "OperationalError: the warehouse went away"
        return done

    monkeypatch.setattr(extract_module, "extract_for_tenant", flaky)
    outcome = run_sync(TENANT, instance=env.instance)
    assert outcome.success, outcome.failure
    assert calls == {"products": 1, "inventory": 1, "orders": 2, "customers": 1}, calls
    assert _steps(env, outcome.run_id) == ["woocommerce__extract", "hub__resolve"]
    restarts = env.instance.get_records_for_run(outcome.run_id, of_type=dg.DagsterEventType.STEP_RESTARTED).records
    assert [r.event_log_entry.step_key for r in restarts] == ["woocommerce__extract"]
    failures = env.instance.get_records_for_run(outcome.run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    assert not failures  # the retried attempt is a STEP_UP_FOR_RETRY, not a failure
    retries = env.instance.get_records_for_run(outcome.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY).records
    [retry] = retries
    message = retry.event_log_entry.message or ""
    error = retry.event_log_entry.get_dagster_event().event_specific_data
    text = f"{message} {error}"
    assert "the warehouse went away" in text and "customers" in text, text
    assert set(outcome.materializations) == {f"{g}/{e}" for g in ("woocommerce", "hub") for e in ENTITIES}
    assert count(env.warehouse_url, hub_orders) > 0 and count(env.warehouse_url, hub_customers) > 0


def _refuse_staged_orders(engine: Engine, *, on: bool) -> None:
    """A warehouse fault (not the shop's, so the extract step fails and Dagster retries it): the warehouse refuses
    every staged WooCommerce order, as a broken constraint or a full disk would; ``on=False`` repairs it."""
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        if not on:
            conn.execute(text("DROP TRIGGER refuse_orders" + (" ON staging_records" if postgres else "")))
            if postgres:
                conn.execute(text("DROP FUNCTION refuse_orders()"))
        elif postgres:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_orders() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'the warehouse refused the order'; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_orders BEFORE INSERT ON staging_records FOR EACH ROW "
                    "WHEN (NEW.entity = 'order') EXECUTE FUNCTION refuse_orders()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_orders BEFORE INSERT ON staging_records FOR EACH ROW "
                    "WHEN NEW.entity = 'order' BEGIN SELECT RAISE(ABORT, 'the warehouse refused the order'); END"
                )
            )


def _logged(env: Env, run_id: str, words: str) -> list[str]:
    return [e.message for e in env.instance.all_logs(run_id) if words in (e.message or "")]


def test_an_entity_failing_on_every_attempt_fails_its_check_and_the_hub_applies_the_others(env: Env) -> None:
    """Prevents one entity that fails on every attempt for a reason not the shop's (a warehouse fault, a bug in a
    transform) from failing the extract step in the end, which makes Dagster skip the whole hub step and every
    export of the tenant, every run: after the retries, the step's last attempt materializes the failed entity
    (and customers, which depend on it and are not read) with a failed ERROR check naming the error, the hub step
    applies products and inventory, and the failure stays visible (the run's outcome, sync_runs, integrations)."""
    assert env.connect(TENANT) == 0
    engine = shared_engine(env.warehouse_url)
    _refuse_staged_orders(engine, on=True)
    outcome = run_sync(TENANT, instance=env.instance)
    assert not outcome.success and outcome.failure is not None
    assert "woocommerce/orders" in outcome.failure and "the warehouse refused the order" in outcome.failure
    run = env.instance.get_run_by_id(outcome.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS  # failed checks, not a failed step
    assert _steps(env, outcome.run_id) == ["woocommerce__extract", "hub__resolve"]
    retries = env.instance.get_records_for_run(outcome.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY).records
    assert len(retries) == 2  # the retry policy's max_retries: transient errors are still retried
    assert not env.instance.get_records_for_run(outcome.run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    assert set(outcome.materializations) == {f"{g}/{e}" for g in ("woocommerce", "hub") for e in ENTITIES}
    checks = _checks(env, outcome.run_id)
    failed = {key for key, passed in checks.items() if not passed}
    assert failed == {("woocommerce/orders", "all_shops_extracted"), ("woocommerce/customers", "all_shops_extracted")}
    assert "not read: woocommerce/orders failed first" in outcome.materializations["woocommerce/customers"]["not_read"]
    assert outcome.materializations["hub/products"]["created"] > 0
    assert outcome.materializations["hub/inventory"]["nothing_pending"] is False
    assert count(env.warehouse_url, hub_products) > 0 and count(env.warehouse_url, hub_orders) == 0
    assert _logged(env, outcome.run_id, "failed on the step's last attempt (3)")
    with engine.connect() as conn:
        errors = conn.execute(
            select(sync_runs.c.error).where(sync_runs.c.entity == "order", sync_runs.c.status == "failed")
        ).all()
        last_error = conn.execute(select(integrations.c.last_error)).scalar_one()
    assert len(errors) == 3 and all("the warehouse refused the order" in (e.error or "") for e in errors)
    assert "the warehouse refused the order" in (last_error or "")

    _refuse_staged_orders(engine, on=False)
    outcome = run_sync(TENANT, instance=env.instance)
    assert outcome.success, outcome.failure
    assert count(env.warehouse_url, hub_orders) > 0 and count(env.warehouse_url, hub_customers) > 0


def _execute_checks_alone(env: Env, *checks: dg.AssetCheckKey) -> dg.ExecuteInProcessResult:
    """Executes checks without their assets, as the UI's "Execute" on a check does."""
    if not env.instance.has_dynamic_partition(TENANTS_PARTITION_NAME, TENANT):
        env.instance.add_dynamic_partitions(TENANTS_PARTITION_NAME, [TENANT])
    job = defs.resolve_job_def(SYNC_JOB_NAME).get_subset(asset_selection=set(), asset_check_selection=set(checks))
    return job.execute_in_process(instance=env.instance, partition_key=TENANT, raise_on_error=False)


def test_a_hub_check_executed_alone_is_evaluated_read_only(env: Env) -> None:
    """Prevents a hub check run on its own (the UI's "Execute" on hub/products:variant_prices_valid) from
    evaluating nothing and reporting success: it is evaluated over the tenant's hub as it is, fails on a negative
    price, and applies nothing of what is pending in staging."""
    assert env.connect(TENANT) == 0
    assert run_sync(TENANT, instance=env.instance).success
    shop = env.sandbox.shop(SHOP).store
    simple = next(p for p in shop.products.values() if p.type == "simple" and p.status == "publish" and p.sku)
    shop.set_stock(simple.id, 41)
    products = [dg.AssetKey(["woocommerce", "products"]), dg.AssetKey(["woocommerce", "inventory"])]
    job = defs.resolve_job_def(SYNC_JOB_NAME)
    staged = job.execute_in_process(
        instance=env.instance,
        partition_key=TENANT,
        asset_selection=products,
        run_config=sync_run_config(defs, full_refresh=False, asset_selection=products),
    )
    assert staged.success and _pending(env, "inventory")
    prices = dg.AssetCheckKey(dg.AssetKey(["hub", "products"]), "variant_prices_valid")

    result = _execute_checks_alone(env, prices)
    assert result.success
    assert _checks(env, result.run_id) == {("hub/products", "variant_prices_valid"): True}
    assert not result.get_asset_materialization_events()

    engine = shared_engine(env.warehouse_url)
    with engine.begin() as conn:
        conn.execute(
            update(hub_variants)
            .where(hub_variants.c.id == select(func.min(hub_variants.c.id)).scalar_subquery())
            .values(price=Decimal("-2.50"))
        )
    result = _execute_checks_alone(env, prices)
    assert not result.success  # a failed blocking check fails its step, as Dagster does for any step
    assert _checks(env, result.run_id) == {("hub/products", "variant_prices_valid"): False}
    assert not result.get_asset_materialization_events()
    assert _pending(env, "inventory")  # read-only: nothing applied
    assert not _logged(env, result.run_id, "did not yield or return expected outputs")


def test_an_extract_check_executed_alone_says_it_is_evaluated_only_with_its_asset(env: Env) -> None:
    """Prevents an extract check run on its own from evaluating nothing and reporting success: it yields a WARN
    result saying it is evaluated only when its asset is extracted, and reads no shop."""
    assert env.connect(TENANT) == 0
    check = dg.AssetCheckKey(dg.AssetKey(["woocommerce", "orders"]), "all_shops_extracted")
    result = _execute_checks_alone(env, check)
    assert result.success
    assert not result.get_asset_materialization_events()
    [evaluation] = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and isinstance(e.event_specific_data, dg.AssetCheckEvaluation)
    ]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert "evaluated only when woocommerce/orders is materialized" in (evaluation.description or "")
    assert not _logged(env, result.run_id, "did not yield or return expected outputs")
    assert count(env.warehouse_url, sync_runs) == 0


def test_the_rejections_check_executed_alone_says_it_is_evaluated_only_with_its_asset(env: Env) -> None:
    """Prevents a false green: ``no_new_rejections`` reports what its run's apply rejected, and a run executing the
    check alone applies nothing, so it always passed. Alone it now says it is evaluated with its asset (WARN)."""
    assert env.connect(TENANT) == 0
    check = dg.AssetCheckKey(dg.AssetKey(["hub", "orders"]), "no_new_rejections")
    result = _execute_checks_alone(env, check)
    assert result.success
    [evaluation] = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and isinstance(e.event_specific_data, dg.AssetCheckEvaluation)
    ]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert "evaluated when hub/orders is materialized" in (evaluation.description or "")
