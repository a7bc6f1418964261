"""Resolve against a real warehouse: create / unchanged (zero writes) / update, SKU identity, tombstones."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import Engine, select

from ecom_pipeline.sync import resolve
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import (
    entity_links,
    hub_customers,
    hub_inventory,
    hub_order_lines,
    hub_orders,
    hub_products,
    hub_variants,
)
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.sync.helpers import (
    T0,
    connect,
    customer,
    line,
    order,
    product,
    resolve_inventory,
    resolve_products,
    stock,
    variant,
)


def _snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of the hub and link tables, to prove a rerun wrote nothing."""
    with engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(select(t).order_by(t.c.id))]
            for t in (hub_products, hub_variants, entity_links, hub_orders, hub_order_lines)
        }


def test_create_then_unchanged_rerun_writes_nothing_then_change_updates(engine: Engine) -> None:
    """A no-change sync must write nothing (synced_at unchanged), or every sync would churn the hub and export."""
    page = [product("1", variant("11", "TEE-S"), variant("12", "TEE-M")), product("2", variant("2", "MUG"))]
    with engine.begin() as conn:
        iid = connect(conn)
        counts = resolve_products(conn, iid, *page)
    assert (counts.created, counts.updated, counts.unchanged) == (2, 0, 0)
    before = _snapshot(engine)
    assert len(before["hub_products"]) == 2 and len(before["hub_variants"]) == 3 and len(before["entity_links"]) == 5

    with engine.begin() as conn:
        counts = resolve_products(conn, iid, *page)
    assert (counts.created, counts.updated, counts.unchanged) == (0, 0, 2)
    assert _snapshot(engine) == before

    changed = [product("1", variant("11", "TEE-S", price="12.50"), variant("12", "TEE-M")), page[1]]
    with engine.begin() as conn:
        counts = resolve_products(conn, iid, *changed)
        price = conn.execute(select(hub_variants.c.price).where(hub_variants.c.sku == "TEE-S")).scalar_one()
    assert (counts.created, counts.updated, counts.unchanged) == (0, 1, 1)
    assert price == Decimal("12.50")
    after = _snapshot(engine)
    assert len(after["hub_variants"]) == 3 and len(after["entity_links"]) == 5


def test_same_sku_on_two_shops_is_one_hub_variant(engine: Engine) -> None:
    """SKU is the cross-shop key: two shops selling TEE-S must meet on one hub variant (or stock would split)."""
    with engine.begin() as conn:
        a, b = connect(conn, url="https://a.example"), connect(conn, url="https://b.example")
        resolve_products(conn, a, product("1", variant("11", "TEE-S")))
        counts = resolve_products(conn, b, product("900", variant("901", "TEE-S")))
        assert counts.created == 0 and counts.updated == 1
        assert store.count_rows(conn, hub_variants) == 1 and store.count_rows(conn, hub_products) == 1
        la = store.get_links(conn, a, "variant", ["11"])["11"]
        lb = store.get_links(conn, b, "variant", ["901"])["901"]
        assert la.hub_id == lb.hub_id
        pa = store.get_links(conn, a, "product", ["1"])["1"]
        pb = store.get_links(conn, b, "product", ["900"])["900"]
        assert pa.hub_id == pb.hub_id


def test_variant_removed_from_product_is_tombstoned_not_deleted(engine: Engine) -> None:
    """Deleting hub rows would break order lines and history; a removed variant gets deleted_at instead."""
    with engine.begin() as conn:
        iid = connect(conn)
        resolve_products(conn, iid, product("1", variant("11", "A"), variant("12", "B")))
        resolve_products(conn, iid, product("1", variant("11", "A")))
        rows = dict(conn.execute(select(hub_variants.c.sku, hub_variants.c.deleted_at)).all())
        assert rows["A"] is None and rows["B"] is not None
        assert store.active_external_ids(conn, iid, "variant") == {"11"}


def test_product_tombstone_spares_rows_another_shop_still_sells(engine: Engine) -> None:
    """A product deleted in one shop but sold in another must stay live in the hub."""
    with engine.begin() as conn:
        a, b = connect(conn, url="https://a.example"), connect(conn, url="https://b.example")
        resolve_products(conn, a, product("1", variant("11", "S1")), product("2", variant("21", "S2")))
        resolve_products(conn, b, product("7", variant("71", "S1")))
        n = resolve.tombstone(
            conn, tenant_id="acme", integration_id=a, entity="product", external_ids=["1", "2"], now=utcnow()
        )
        assert n == 2
        assert (
            resolve.tombstone(
                conn, tenant_id="acme", integration_id=a, entity="product", external_ids=["1"], now=utcnow()
            )
            == 0
        )
        variants = dict(conn.execute(select(hub_variants.c.sku, hub_variants.c.deleted_at)).all())
        assert variants["S1"] is None and variants["S2"] is not None
        assert store.active_external_ids(conn, a, "product") == set()
        assert store.active_external_ids(conn, a, "variant") == set()


def test_older_payload_never_overwrites_newer_hub_state(engine: Engine) -> None:
    """A late webhook carrying an older version must not roll the hub back."""
    with engine.begin() as conn:
        iid = connect(conn)
        resolve_products(conn, iid, product("1", variant("11", "A"), title="New", updated=T0))
        counts = resolve_products(
            conn, iid, product("1", variant("11", "A"), title="Old", updated=T0 - timedelta(hours=1))
        )
        assert counts.unchanged == 1
        assert conn.execute(select(hub_products.c.title)).scalar_one() == "New"


def test_inventory_by_link_then_sku_and_unknown_variant_fails(engine: Engine) -> None:
    """Stock for a variant the hub does not know must be reported (to be retried), never silently dropped."""
    with engine.begin() as conn:
        a, b = connect(conn, url="https://a.example"), connect(conn, url="https://b.example")
        resolve_products(conn, a, product("1", variant("11", "A")))
        counts = resolve_inventory(conn, a, stock("11", None, 5), stock("99", None, 1))
        assert (counts.created, counts.failed) == (1, 1) and counts.failures[0][0] == "99"
        counts = resolve_inventory(conn, b, stock("x", "A", 7))
        assert counts.created == 1
        rows = conn.execute(select(hub_inventory.c.location, hub_inventory.c.available)).all()
        assert sorted(rows) == [(f"woocommerce:{a}:default", 5), (f"woocommerce:{b}:default", 7)]
        again = resolve_inventory(conn, a, stock("11", None, 5))
        assert again.unchanged == 1
        changed = resolve_inventory(conn, a, stock("11", None, 3))
        assert changed.updated == 1


def test_customers_merge_by_lowercased_email_across_shops(engine: Engine) -> None:
    """The same person buying on two shops is one hub customer (email is the cross-shop key)."""
    with engine.begin() as conn:
        a, b = connect(conn, url="https://a.example"), connect(conn, url="https://b.example")
        resolve.resolve_customers(
            conn, tenant_id="acme", integration_id=a, customers=[customer("1", "Ada@Example.com")], now=utcnow()
        )
        counts = resolve.resolve_customers(
            conn,
            tenant_id="acme",
            integration_id=b,
            customers=[customer("5", "ada@example.com "), customer("6", None)],
            now=utcnow(),
        )
        assert (counts.created, counts.updated) == (1, 1)
        assert store.count_rows(conn, hub_customers) == 2
        assert conn.execute(select(hub_customers.c.email).order_by(hub_customers.c.id)).scalars().first() == (
            "ada@example.com"
        )


def test_orders_link_customer_replace_lines_and_leave_unknown_variant_null(engine: Engine) -> None:
    """Order lines with an unknown variant are kept with variant_id NULL (revenue must add up); lines are upserted."""
    with engine.begin() as conn:
        iid = connect(conn)
        resolve_products(conn, iid, product("1", variant("11", "A"), variant("12", "B")))
        resolve.resolve_customers(
            conn, tenant_id="acme", integration_id=iid, customers=[customer("c1", "x@example.com")], now=utcnow()
        )
        o = order("100", line("L1", "11", "A"), line("L2", None, "B", qty=2), line("L3", "404", "NOPE"), customer="c1")
        counts = resolve.resolve_orders(conn, tenant_id="acme", integration_id=iid, orders=[o], now=utcnow())
        assert counts.created == 1
        lines = {r.external_line_id: r for r in conn.execute(select(hub_order_lines))}
        variant_ids = dict(conn.execute(select(hub_variants.c.sku, hub_variants.c.id)).all())
        assert lines["L1"].variant_id == variant_ids["A"]
        assert lines["L2"].variant_id == variant_ids["B"]
        assert lines["L3"].variant_id is None
        hub_order = conn.execute(select(hub_orders)).one()
        assert hub_order.customer_id is not None and hub_order.total == Decimal("40.00")
        # Rerun unchanged, then a change that drops L3 and edits L1.
        assert resolve.resolve_orders(conn, tenant_id="acme", integration_id=iid, orders=[o], now=utcnow()).unchanged
        o2 = order(
            "100",
            line("L1", "11", "A", qty=3),
            line("L2", None, "B", qty=2),
            customer="c1",
            updated=T0 + timedelta(minutes=5),
            status="completed",
        )
        counts = resolve.resolve_orders(conn, tenant_id="acme", integration_id=iid, orders=[o2], now=utcnow())
        assert counts.updated == 1
        lines = {r.external_line_id: r for r in conn.execute(select(hub_order_lines))}
        assert set(lines) == {"L1", "L2"} and lines["L1"].quantity == 3
        assert store.count_rows(conn, hub_orders) == 1
