"""A no-change run stays cheap and its checks keep their meaning (issue 12: a 1,000-tenant tick on one machine).

A hub step with nothing pending neither takes the tenant's lock nor opens the apply's transactions
(``store.has_pending_staging``); it still closes obsolete rejections, and its checks still run over the whole
tenant. Real shops over HTTP, a real warehouse and
a real Dagster instance; nothing of ours is mocked.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import select, update

from ecom_pipeline.runner import run_sync
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.locks import ENV_LOCK_TIMEOUT, tenant_lock
from ecom_pipeline.warehouse.schema import entity_links, hub_variants, rejected_records
from ecom_pipeline_tests.integration.conftest import SHOP, Env

TENANT = "acme"


def _check(env: Env, run_id: str, name: str, asset: str = "hub/products") -> dg.AssetCheckEvaluation:
    records = env.instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    found = [
        data
        for r in records
        if isinstance(data := r.event_log_entry.get_dagster_event().event_specific_data, dg.AssetCheckEvaluation)
        and data.check_name == name
        and data.asset_key.to_user_string() == asset
    ]
    assert len(found) == 1, [r.event_log_entry.message for r in records]
    return found[0]


def test_a_no_change_run_takes_no_tenant_lock_and_a_negative_price_still_fails_its_check(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents two things: a no-change run paying the tenant lock (and the apply's transactions) in every hub step
    (with the lock held elsewhere it waited, then failed); and the cheaper path skipping the checks: a negative
    price written into the hub outside any sync (a catalogue import, an analyst) fails the next no-change run."""
    assert env.connect(TENANT) == 0
    assert run_sync(TENANT, instance=env.instance).success
    engine = shared_engine(env.warehouse_url)
    monkeypatch.setenv(ENV_LOCK_TIMEOUT, "1")
    with tenant_lock(engine, TENANT, purpose="test holding the lock"):
        outcome = run_sync(TENANT, instance=env.instance)
    assert outcome.success, outcome.failure
    for name in ("products", "inventory", "customers", "orders"):
        meta = outcome.materializations[f"hub/{name}"]
        assert meta["nothing_pending"] is True and meta["rows_read"] == 0, (name, meta)
    assert _check(env, outcome.run_id, "variant_prices_valid").passed

    with engine.begin() as conn:
        first = conn.execute(select(hub_variants.c.id, hub_variants.c.sku).order_by(hub_variants.c.id)).first()
        assert first is not None
        conn.execute(update(hub_variants).where(hub_variants.c.id == first.id).values(price=Decimal("-2.50")))
    outcome = run_sync(TENANT, instance=env.instance)
    assert not outcome.success
    assert outcome.failure is not None and "hub/products" in outcome.failure, outcome.failure
    assert outcome.materializations["hub/products"]["nothing_pending"] is True
    evaluation = _check(env, outcome.run_id, "variant_prices_valid")
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["negative_prices"].value == 1
    sample: Any = evaluation.metadata["sample"].value
    assert isinstance(sample, list) and len(sample) == 1, sample
    [sample] = sample
    assert sample["sku"] == first.sku and Decimal(sample["price"]) == Decimal("-2.5")


def test_a_run_with_staged_work_still_applies_under_the_tenant_lock(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prevents the no-lock path from being taken when there is work: a changed product must be applied under the
    tenant's lock (held elsewhere here, so the hub step waits its 1 s and fails naming the lock)."""
    assert env.connect(TENANT) == 0
    assert run_sync(TENANT, instance=env.instance).success
    store = env.sandbox.shop(SHOP).store
    simple = next(p for p in store.products.values() if p.type == "simple" and p.status == "publish" and p.sku)
    store.update_product(simple.id, {"regular_price": "77.70", "sale_price": ""})
    engine = shared_engine(env.warehouse_url)
    monkeypatch.setenv(ENV_LOCK_TIMEOUT, "1")
    with tenant_lock(engine, TENANT, purpose="test holding the lock"):
        held = run_sync(TENANT, instance=env.instance)
    assert not held.success
    failures = env.instance.get_records_for_run(held.run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    errors = {
        r.event_log_entry.step_key: error.to_string()
        for r in failures
        if (error := r.event_log_entry.get_dagster_event().step_failure_data.error) is not None
    }
    assert "hub__resolve" in errors, errors
    assert "hub/products: TenantLockTimeout" in errors["hub__resolve"], errors
    outcome = run_sync(TENANT, instance=env.instance)
    assert outcome.success, outcome.failure
    assert outcome.materializations["hub/products"]["nothing_pending"] is False
    assert outcome.materializations["hub/products"]["updated"] >= 1
    with engine.connect() as conn:
        price = conn.execute(select(hub_variants.c.price).where(hub_variants.c.sku == simple.sku)).scalar_one()
    assert price == Decimal("77.70")


def test_a_no_change_run_still_closes_a_rejection_a_later_apply_made_obsolete(env: Env) -> None:
    """Prevents the no-lock path from leaving open a rejection whose record has since been applied (by a webhook
    apply, which does not close them itself): ``rejected_records WHERE resolved_at IS NULL`` must list only what
    still needs a person, and the rejection check counts it."""
    assert env.connect(TENANT) == 0
    assert run_sync(TENANT, instance=env.instance).success
    engine = shared_engine(env.warehouse_url)
    with engine.begin() as conn:
        link = conn.execute(
            select(entity_links.c.integration_id, entity_links.c.external_id, entity_links.c.last_synced_at)
            .where(entity_links.c.entity == "product")
            .order_by(entity_links.c.id)
        ).first()
        assert link is not None
        store.reject_records(
            conn,
            [
                {
                    "tenant_id": TENANT,
                    "integration_id": link.integration_id,
                    "platform": "woocommerce",
                    "entity": "product",
                    "external_id": link.external_id,
                    "stage": "transform",
                    "reason": "an older version was malformed",
                    "payload": None,
                    "staging_id": None,
                    "dagster_run_id": "earlier",
                }
            ],
        )
        # Recorded before the product's link was last written: a later version of the record was applied since.
        conn.execute(update(rejected_records).values(created_at=link.last_synced_at - timedelta(minutes=5)))
    outcome = run_sync(TENANT, instance=env.instance)
    assert outcome.success, outcome.failure
    assert outcome.materializations["hub/products"]["nothing_pending"] is True
    with engine.connect() as conn:
        assert conn.execute(select(rejected_records.c.resolved_at)).scalar_one() is not None
    assert _check(env, outcome.run_id, "no_new_rejections").metadata["unresolved_rejections"].value == 0
