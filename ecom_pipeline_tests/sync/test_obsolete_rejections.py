"""Rejections that no longer apply are closed (``resolved_at``), so the open ones are what a person must look at.

Issue 8: a rejected record whose record was since applied or deleted stayed open for good (and stock rows of
deleted products were rejected again and again with advice that cannot help). Real warehouse, both backends.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from ecom_pipeline.sync import resolve
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import rejected_records
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.sync.helpers import T0, connect, product, variant


def _reject(conn: object, iid: int, entity: str, external_id: str) -> None:
    store.reject_record(
        conn,  # type: ignore[arg-type]
        tenant_id="acme",
        integration_id=iid,
        platform="woocommerce",
        entity=entity,
        external_id=external_id,
        stage="resolve",
        reason="test",
        payload=None,
        staging_id=None,
        run_id=None,
    )


def _open(conn: object) -> set[tuple[str, str]]:
    query = select(rejected_records.c.entity, rejected_records.c.external_id).where(
        rejected_records.c.resolved_at.is_(None)
    )
    return {tuple(r) for r in conn.execute(query)}  # type: ignore[attr-defined]


def test_a_rejected_version_superseded_by_a_later_applied_one_is_closed(engine: Engine) -> None:
    """Prevents a rejection staying open after a newer version of its record reached the hub by another path."""
    with engine.begin() as conn:
        iid = connect(conn)
        resolve.resolve_products(
            conn, tenant_id="acme", integration_id=iid, products=[product("1", variant("1", "A"))], now=utcnow()
        )
        _reject(conn, iid, "product", "1")  # version 2 refused
        _reject(conn, iid, "product", "2")  # never applied at all: stays open
    with engine.begin() as conn:
        later = product("1", variant("1", "A"), title="v3", updated=T0 + timedelta(hours=1))
        resolve.resolve_products(conn, tenant_id="acme", integration_id=iid, products=[later], now=utcnow())
        closed = store.resolve_obsolete_rejections(conn, tenant_id="acme", entity="product")
        assert closed == 1
        assert _open(conn) == {("product", "2")}


def test_a_rejection_older_than_the_link_write_it_came_with_stays_open(engine: Engine) -> None:
    """Prevents closing the rejection of a version that is still not in the hub (only the older one is)."""
    with engine.begin() as conn:
        iid = connect(conn)
        resolve.resolve_products(
            conn, tenant_id="acme", integration_id=iid, products=[product("1", variant("1", "A"))], now=utcnow()
        )
        _reject(conn, iid, "product", "1")
        assert store.resolve_obsolete_rejections(conn, tenant_id="acme", entity="product") == 0
        assert _open(conn) == {("product", "1")}


def test_stock_rejections_of_a_product_deleted_since_are_closed(engine: Engine) -> None:
    """Prevents rejected stock rows of a deleted product staying open with advice ("sync products first") that
    cannot help."""
    with engine.begin() as conn:
        iid = connect(conn)
        resolve.resolve_products(
            conn,
            tenant_id="acme",
            integration_id=iid,
            products=[product("1", variant("11", "A")), product("2", variant("2", "B"))],
            now=utcnow(),
        )
        _reject(conn, iid, "inventory", "1")  # WooCommerce / PrestaShop: keyed by product id
        _reject(conn, iid, "inventory", "11@5")  # Shopify: <variant>@<location>
        _reject(conn, iid, "inventory", "2")  # product 2 still exists: still open
        resolve.tombstone(
            conn, tenant_id="acme", integration_id=iid, entity="product", external_ids=["1"], now=utcnow()
        )
        assert store.resolve_obsolete_rejections(conn, tenant_id="acme", entity="inventory") == 2
        assert _open(conn) == {("inventory", "2")}
