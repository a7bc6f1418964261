"""Seeded data and the store methods tests use to change a shop (what the pipeline then has to notice)."""

from __future__ import annotations

from decimal import Decimal

import requests

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle
from ecom_pipeline.sandbox.shopify.store import ShopifyStore
from ecom_pipeline_tests.sandbox.shopify.conftest import START, ShopifyClient


def test_seed_is_deterministic_and_well_formed() -> None:
    """Same name + seed, same shop: fixtures and recorded expectations stay valid across runs."""
    clock = SandboxClock(start=START)
    a = ShopifyStore("det", seed=5, products=30, orders=40, customers=10, clock=clock, anchor=START)
    b = ShopifyStore("det", seed=5, products=30, orders=40, customers=10, clock=clock, anchor=START)
    assert [(v.sku, v.price) for v in a.variants.values()] == [(v.sku, v.price) for v in b.variants.values()]
    assert len({v.sku for v in a.variants.values()}) == len(a.variants)
    for order in a.orders.values():
        assert order.total == order.subtotal + order.tax + order.shipping
        assert order.updated_at >= order.created_at
    assert any(o.refunds for o in a.orders.values())
    assert all(1 <= len(a.levels[i]) <= 3 for i in a.inventory_items)


def test_store_mutations_are_visible_through_the_api(client: ShopifyClient, shop: ShopHandle) -> None:
    """add_order takes stock, refund_order changes totals, delete_product removes the product and its variants."""
    store = shop.store
    variant = next(iter(store.variants.values()))
    before = store.inventory_quantity(variant)
    order = store.add_order({"line_items": [{"sku": variant.sku, "quantity": 2}], "presentment_currency": "EUR"})
    assert store.inventory_quantity(variant) == before - 2
    refund = store.refund_order(order.id)
    body = client.gql(
        "query($id: ID!) { order(id: $id) { displayFinancialStatus presentmentCurrencyCode "
        "totalRefundedSet { shopMoney { amount } presentmentMoney { currencyCode } } refunds { id } } }",
        {"id": f"gid://shopify/Order/{order.id}"},
    )["data"]["order"]
    assert body["displayFinancialStatus"] == "REFUNDED" and body["presentmentCurrencyCode"] == "EUR"
    assert Decimal(body["totalRefundedSet"]["shopMoney"]["amount"]) == refund.total
    assert body["refunds"] == [{"id": f"gid://shopify/Refund/{refund.id}"}]
    product = store.add_product("Sandbox Lamp", variants=[{"sku": "LAMP-1", "price": "30"}])
    store.delete_product(product.id)
    body = client.gql("query($id: ID!) { product(id: $id) { id } }", {"id": f"gid://shopify/Product/{product.id}"})
    assert body["data"]["product"] is None


def test_generic_admin_endpoints_work_for_shopify(sandbox: SandboxServer, shop: ShopHandle) -> None:
    """The server's /__sandbox/<shop>/touch and /stock endpoints call this store too."""
    base = f"http://127.0.0.1:{sandbox.http_port}/__sandbox/{shop.name}"
    touched = requests.post(base + "/touch", json={"count": 2}, timeout=10).json()["touched"]
    assert len(touched) == 2 and all(shop.store.products[p].updated_at == shop.store.now() for p in touched)
    variant = next(iter(shop.store.variants.values()))
    resp = requests.post(base + "/stock", json={"id": variant.id, "quantity": 7}, timeout=10)
    assert resp.status_code == 200 and resp.json()["stock_quantity"] == 7
