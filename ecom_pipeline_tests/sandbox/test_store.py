"""Seeded data: determinism, shapes the transforms rely on, and stock side effects of orders."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from ecom_pipeline.sandbox.woocommerce.render import render_order, render_product
from ecom_pipeline.sandbox.woocommerce.store import WooStore

ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)


def _dump(store: WooStore) -> str:
    site = "http://x/s"
    products = [render_product(p, store.variations_of(p), store.tz, site) for p in store.products.values()]
    orders = [render_order(o, store.tz, site) for o in store.orders.values()]
    return json.dumps([products, orders], sort_keys=True)


def test_same_seed_same_shop_different_seed_different_shop() -> None:
    """Fixtures and benchmarks can rely on ids/SKUs staying put between runs."""
    a = WooStore("s", seed=3, products=30, orders=40, customers=10, anchor=ANCHOR)
    b = WooStore("s", seed=3, products=30, orders=40, customers=10, anchor=ANCHOR)
    c = WooStore("s", seed=4, products=30, orders=40, customers=10, anchor=ANCHOR)
    assert _dump(a) == _dump(b)
    assert _dump(a) != _dump(c)


def test_seeded_records_have_realistic_shapes() -> None:
    """Unique SKUs, 2-decimal string prices, 2-5 variations, "parent" stock, numeric line prices, guests."""
    store = WooStore("s", seed=5, products=80, variable_share=0.5, orders=150, customers=20, anchor=ANCHOR)
    skus = [p.sku for p in store.products.values()] + [v.sku for v in store.variations.values()]
    assert len(skus) == len(set(skus))
    assert all(re.fullmatch(r"\d+\.\d\d", v.regular_price) for v in store.variations.values())
    variable = [p for p in store.products.values() if p.type == "variable"]
    assert all(2 <= len(p.variation_ids) <= 5 for p in variable)
    assert any(v.manage_stock == "parent" for v in store.variations.values())
    statuses = {o.status for o in store.orders.values()}
    assert {"pending", "processing", "completed", "cancelled", "refunded", "failed", "on-hold"} <= statuses
    rendered = [render_order(o, store.tz, "http://x") for o in store.orders.values()]
    assert any(o["customer_id"] == 0 for o in rendered)
    assert all(
        isinstance(li["price"], int | float) and isinstance(li["total"], str)
        for o in rendered
        for li in o["line_items"]
    )
    refunded = [o for o in rendered if o["status"] == "refunded"]
    assert all(o["refunds"] and o["refunds"][0]["total"].startswith("-") for o in refunded)
    stocked = list(store.products.values()) + list(store.variations.values())
    assert all(r.stock_quantity is None or r.stock_quantity >= 0 for r in stocked), "seeded oversell"
    one = rendered[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", one["date_created"])
    assert one["date_created"] != one["date_created_gmt"]  # Europe/Paris is never UTC+0


def test_paid_orders_reduce_stock_pending_do_not_and_cancel_restores() -> None:
    """Inventory sync must see the stock moves WooCommerce makes on its own."""
    store = WooStore("s", seed=6, products=20, variable_share=0.0, orders=0, customers=2, anchor=ANCHOR)
    product = next(p for p in store.products.values() if p.manage_stock and p.status == "publish")
    product.stock_quantity = 10
    store.add_order({"line_items": [{"product_id": product.id, "quantity": 2}]})
    assert product.stock_quantity == 10
    paid = store.add_order({"set_paid": True, "line_items": [{"product_id": product.id, "quantity": 3}]})
    assert product.stock_quantity == 7 and paid.status == "processing" and paid.paid is not None
    assert any(m["key"] == "_reduced_stock" for m in paid.line_items[0].meta_data)
    store.update_order(paid.id, {"status": "cancelled"})
    assert product.stock_quantity == 10


@pytest.mark.slow
def test_large_shop_builds() -> None:
    """A benchmark-sized shop (10k products, ~30k variations, 20k orders) must build; speed is benchmarked elsewhere."""
    store = WooStore("big", seed=1, products=10_000, variable_share=0.85, orders=20_000, customers=2_000, anchor=ANCHOR)
    assert len(store.products) == 10_000 and len(store.orders) == 20_000
    assert len(store.variations) > 25_000
    page = store.query("products", orderby="modified", order="asc", page=3, per_page=100, modified_after=0)
    assert len(page.items) == 100
