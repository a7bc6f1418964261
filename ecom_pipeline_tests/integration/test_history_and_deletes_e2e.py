"""End to end (real HTTP to the emulated WooCommerce, real Dagster, real warehouse): deletes rewrite no history.

Issue 8, "History is not rewritten", "Stock of deleted things" and "Bookkeeping that says what happened".
"""

from __future__ import annotations

from sqlalchemy import func, select

from ecom_pipeline.runner import run_sync
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import (
    entity_links,
    hub_inventory,
    hub_order_lines,
    hub_products,
    staging_records,
    sync_runs,
)
from ecom_pipeline_tests.integration.conftest import SHOP, Env

TENANT = "acme"


def _sold_simple_product(env: Env) -> tuple[int, str]:
    """A published simple product that some order line sold, and its SKU."""
    store = env.sandbox.shop(SHOP).store
    sold = {li.product_id for o in store.orders.values() for li in o.line_items if not li.variation_id}
    p = next(p for p in store.products.values() if p.id in sold and p.status == "publish" and p.sku)
    return p.id, p.sku


def test_full_refresh_after_a_product_is_deleted_keeps_old_order_lines_sku_and_variant(env: Env) -> None:
    """Prevents a full refresh from setting sku and variant_id to NULL on lines of a since-deleted product."""
    assert env.connect(TENANT) == 0
    assert run_sync(TENANT, instance=env.instance).success
    pid, sku = _sold_simple_product(env)
    engine = shared_engine(env.warehouse_url)
    with engine.connect() as conn:
        before = conn.execute(
            select(hub_order_lines.c.id, hub_order_lines.c.variant_id).where(hub_order_lines.c.sku == sku)
        ).all()
    assert before and all(r.variant_id is not None for r in before)

    env.sandbox.shop(SHOP).store.delete_product(pid, force=True)
    outcome = run_sync(TENANT, instance=env.instance, full_refresh=True)
    assert outcome.success, outcome.failure
    with engine.connect() as conn:
        after = conn.execute(
            select(hub_order_lines.c.id, hub_order_lines.c.variant_id, hub_order_lines.c.sku).where(
                hub_order_lines.c.id.in_([r.id for r in before])
            )
        ).all()
        status = conn.execute(
            select(hub_products.c.status, hub_products.c.deleted_at).where(hub_products.c.deleted_at.is_not(None))
        ).all()
    assert sorted((r.id, r.variant_id, r.sku) for r in after) == sorted((r.id, r.variant_id, sku) for r in before)
    assert [s.status for s in status] == ["archived"]


def test_a_trashed_product_is_archived_and_its_stock_no_longer_counts(env: Env) -> None:
    """Prevents a trashed product staying 'active' and its units staying in the tenant's total stock."""
    assert env.connect(TENANT) == 0
    assert run_sync(TENANT, instance=env.instance).success
    store = env.sandbox.shop(SHOP).store
    trashed = next(p for p in store.products.values() if p.type == "simple" and p.status == "publish")
    store.set_stock(trashed.id, 40)
    assert run_sync(TENANT, instance=env.instance).success
    engine = shared_engine(env.warehouse_url)
    live_units = select(func.sum(hub_inventory.c.available)).where(hub_inventory.c.deleted_at.is_(None))
    with engine.connect() as conn:
        units_before = conn.execute(live_units).scalar_one()

    store.delete_product(trashed.id)  # to the trash (what WooCommerce's product.deleted webhook announces)
    outcome = run_sync(TENANT, instance=env.instance, full_refresh=True)
    assert outcome.success, outcome.failure
    with engine.connect() as conn:
        product = conn.execute(
            select(hub_products.c.status, hub_products.c.deleted_at).where(hub_products.c.title == trashed.name)
        ).one()
        units_after = conn.execute(live_units).scalar_one()
    assert product.status == "archived" and product.deleted_at is not None
    assert units_after == units_before - 40


def test_resolve_rows_of_a_full_refresh_have_real_duration_rows_read_and_the_flag(env: Env) -> None:
    """Prevents resolve rows claiming ~0 s, 0 rows read and full_refresh false for a full refresh's real work."""
    assert env.connect(TENANT) == 0
    outcome = run_sync(TENANT, instance=env.instance, full_refresh=True)
    assert outcome.success, outcome.failure
    engine = shared_engine(env.warehouse_url)
    with engine.connect() as conn:
        rows = {
            r.entity: r
            for r in conn.execute(
                select(sync_runs).where(sync_runs.c.stage == "resolve", sync_runs.c.dagster_run_id == outcome.run_id)
            )
        }
        staged = dict(
            conn.execute(
                select(staging_records.c.entity, func.count())
                .where(staging_records.c.dagster_run_id == outcome.run_id)
                .group_by(staging_records.c.entity)
            ).all()
        )
        linked = conn.execute(
            select(func.count()).where(entity_links.c.entity == "product", entity_links.c.deleted_at.is_(None))
        ).scalar_one()
    assert set(rows) == {"product", "inventory", "order", "customer"}
    for entity, row in rows.items():
        assert row.status == "success" and row.full_refresh, entity
        assert row.rows_fetched == staged[entity], entity
        meta = outcome.materializations[f"hub/{'inventory' if entity == 'inventory' else entity + 's'}"]
        assert row.duration_s >= meta["duration_s"] - 0.001, (entity, row.duration_s, meta["duration_s"])
    assert rows["product"].created == linked
