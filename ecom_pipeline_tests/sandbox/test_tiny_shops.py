"""Tiny seeded shops (0 to 5 products, orders and customers) build, and date nothing after their anchor.

With few products the generator's time step is wide, so the last product could be dated after the anchor and the
"edited later" pass then drew from an empty range (``rng.randint(created, anchor - 60)``) and crashed.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from ecom_pipeline.sandbox.prestashop.store import PrestaStore
from ecom_pipeline.sandbox.woocommerce.store import WooStore

ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)
SIZES = list(itertools.product(range(6), repeat=3))  # (products, orders, customers), each 0..5
SEEDS = range(1, 9)  # before the fix, 47 of these WooCommerce shops and 29 PrestaShop ones crashed


@pytest.mark.parametrize("seed", SEEDS)
def test_tiny_woocommerce_shops_build_with_every_date_before_the_anchor(seed: int) -> None:
    limit = int(ANCHOR.timestamp())
    for products, orders, customers in SIZES:
        store = WooStore("shop", seed=seed, products=products, orders=orders, customers=customers, anchor=ANCHOR)
        assert len(store.products) == products and len(store.customers) == customers
        records = [*store.products.values(), *store.variations.values(), *store.customers.values()]
        records += list(store.orders.values())
        assert all(r.created <= r.modified < limit for r in records), (seed, products, orders, customers)


@pytest.mark.parametrize("seed", SEEDS)
def test_tiny_prestashop_shops_build_with_every_date_before_the_anchor(seed: int) -> None:
    limit = int(ANCHOR.timestamp())
    for products, orders, customers in SIZES:
        store = PrestaStore("shop", seed=seed, products=products, orders=orders, customers=customers, anchor=ANCHOR)
        assert len(store.tables["products"]) == products and len(store.tables["customers"]) == customers
        rows = [*store.tables["products"].values(), *store.tables["customers"].values()]
        assert all(r["date_add"] <= r["date_upd"] < limit for r in rows), (seed, products, orders, customers)
        assert all(r["date_add"] < limit for r in store.tables["orders"].values())
