"""Resolve keeps history and stops counting what the shop deleted (issue 8: history, stock of deleted things).

Real warehouse (SQLite and PostgreSQL), no mocks: each test resolves canonical records the way a later read of the
shop would deliver them.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func, select

from ecom_pipeline.sync import resolve
from ecom_pipeline.warehouse.schema import hub_inventory, hub_order_lines, hub_products, hub_variants
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.sync.helpers import (
    T0,
    connect,
    line,
    order,
    product,
    resolve_inventory,
    resolve_products,
    stock,
    variant,
)


def test_a_later_read_without_product_keeps_the_sku_and_variant_the_line_was_sold_as(engine: Engine) -> None:
    """WooCommerce reports product_id 0 and no SKU on old lines once the product is deleted: history must stay."""
    with engine.begin() as conn:
        iid = connect(conn)
        resolve_products(conn, iid, product("1", variant("1", "MUG")))
        resolve.resolve_orders(
            conn, tenant_id="acme", integration_id=iid, orders=[order("100", line("L1", "1", "MUG"))], now=utcnow()
        )
        sold_as = conn.execute(select(hub_order_lines.c.variant_id, hub_order_lines.c.sku)).one()
        assert sold_as.variant_id is not None and sold_as.sku == "MUG"
        resolve.tombstone(
            conn, tenant_id="acme", integration_id=iid, entity="product", external_ids=["1"], now=utcnow()
        )
        later = order("100", line("L1", None, None, qty=2), updated=T0 + timedelta(days=3), status="completed")
        counts = resolve.resolve_orders(conn, tenant_id="acme", integration_id=iid, orders=[later], now=utcnow())
        assert counts.updated == 1
        row = conn.execute(
            select(hub_order_lines.c.variant_id, hub_order_lines.c.sku, hub_order_lines.c.quantity)
        ).one()
    assert (row.variant_id, row.sku) == (sold_as.variant_id, "MUG")
    assert row.quantity == 2  # the rest of the later read still applies


def test_a_tombstoned_product_is_archived_and_a_restored_one_takes_the_shops_status(engine: Engine) -> None:
    """A deleted or trashed product left 'active' counts in every active-catalogue report (docs promise archived)."""
    with engine.begin() as conn:
        iid = connect(conn)
        resolve_products(conn, iid, product("1", variant("1", "MUG")))
        resolve.tombstone(
            conn, tenant_id="acme", integration_id=iid, entity="product", external_ids=["1"], now=utcnow()
        )
        row = conn.execute(select(hub_products.c.status, hub_products.c.deleted_at)).one()
        assert row.status == "archived" and row.deleted_at is not None
        back = product("1", variant("1", "MUG"), updated=T0 + timedelta(hours=1))
        resolve_products(conn, iid, back)
        row = conn.execute(select(hub_products.c.status, hub_products.c.deleted_at)).one()
    assert row.status == "active" and row.deleted_at is None


def _live_units(conn: object) -> int:
    query = select(func.coalesce(func.sum(hub_inventory.c.available), 0)).where(hub_inventory.c.deleted_at.is_(None))
    return int(conn.execute(query).scalar_one())  # type: ignore[attr-defined]


def test_stock_rows_of_a_deleted_product_are_tombstoned_so_total_stock_is_not_overstated(engine: Engine) -> None:
    """Units of deleted products kept live in hub_inventory overstate the merchant's stock."""
    with engine.begin() as conn:
        iid = connect(conn)
        resolve_products(
            conn, iid, product("1", variant("11", "A"), variant("12", "B")), product("2", variant("2", "C"))
        )
        resolve_inventory(conn, iid, stock("11", "A", 5), stock("12", "B", 7), stock("2", "C", 1))
        assert _live_units(conn) == 13
        resolve.tombstone(
            conn, tenant_id="acme", integration_id=iid, entity="product", external_ids=["1"], now=utcnow()
        )
        assert _live_units(conn) == 1
        # A stock reading staged before the deletion arrives late: it must not bring the units back.
        late = resolve_inventory(conn, iid, stock("11", "A", 5))
        assert (late.created, late.updated, late.failed) == (0, 0, 0)
        assert _live_units(conn) == 1
        # Restored in the shop: the product comes back first, then its stock.
        resolve_products(
            conn, iid, product("1", variant("11", "A"), variant("12", "B"), updated=T0 + timedelta(hours=1))
        )
        back = resolve_inventory(conn, iid, stock("11", "A", 5))
        assert back.updated == 1
        assert _live_units(conn) == 6


def test_a_variant_deleted_in_one_shop_keeps_the_other_shops_stock(engine: Engine) -> None:
    """Only the deleting shop's units go: the same SKU still stocked by another shop is real stock."""
    with engine.begin() as conn:
        a, b = connect(conn, url="https://a.example"), connect(conn, url="https://b.example")
        for iid, ext in ((a, "1"), (b, "9")):
            resolve_products(conn, iid, product(ext, variant(ext, "S")))
            resolve_inventory(conn, iid, stock(ext, "S", 4))
        resolve.tombstone(conn, tenant_id="acme", integration_id=a, entity="product", external_ids=["1"], now=utcnow())
        rows = dict(conn.execute(select(hub_inventory.c.integration_id, hub_inventory.c.deleted_at)).all())
        assert rows[a] is not None and rows[b] is None
        assert conn.execute(select(hub_variants.c.deleted_at)).scalar_one() is None
        assert _live_units(conn) == 4
