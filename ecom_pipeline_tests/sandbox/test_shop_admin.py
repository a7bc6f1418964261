"""The admin operations every emulator declares (``ShopAdmin``) do the same thing on WooCommerce and PrestaShop.

Tests, the demo, benchmarks and the server's ``/__sandbox/<shop>/touch|stock|orders`` endpoints change shops only
through these; a store that drifted (an operation renamed, a date not moved, stock not taken) breaks here first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.registry import build_emulated_shop, emulators
from ecom_pipeline.sandbox.shop import ShopAdmin, ShopSpec

ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Platform:
    """How to read one platform's records in the test (the operations themselves are the shared interface)."""

    name: str
    simple_stocked: Callable[[Any], int]
    modified: Callable[[Any, int], int]
    stock: Callable[[Any, int], int]
    order_payload: Callable[[int], dict[str, Any]]
    gone: Callable[[Any, int], bool]


WOO = Platform(
    "woocommerce",
    simple_stocked=lambda s: next(
        p.id for p in s.products.values() if p.type == "simple" and p.manage_stock and p.status == "publish"
    ),
    modified=lambda s, pid: s.products[pid].modified,
    stock=lambda s, pid: s.products[pid].stock_quantity,
    order_payload=lambda pid: {"set_paid": True, "line_items": [{"product_id": pid, "quantity": 2}]},
    gone=lambda s, pid: s.products[pid].status == "trash",  # a back-office delete goes to the trash
)
PRESTA = Platform(
    "prestashop",
    simple_stocked=lambda s: next(pid for pid, combos in sorted(s.combinations_of.items()) if not combos),
    modified=lambda s, pid: s.tables["products"][pid]["date_upd"],
    stock=lambda s, pid: int(s.stock_row(pid)["quantity"]),
    order_payload=lambda pid: {"lines": [[pid, 0, 2]], "customer_id": 1},
    gone=lambda s, pid: pid not in s.tables["products"],
)


def _shop(platform: str) -> tuple[Any, SandboxClock]:
    clock = SandboxClock(start=datetime(2026, 11, 2, 9, tzinfo=UTC))
    clock.freeze()
    spec = ShopSpec(name=f"admin-{platform}", platform=platform, products=12, orders=6, customers=3, anchor=ANCHOR)
    return build_emulated_shop(spec, clock).store, clock


@pytest.mark.parametrize("platform", sorted(emulators()))
def test_every_emulator_store_offers_the_admin_operations(platform: str) -> None:
    """The server's admin endpoints call these on whatever store a shop has."""
    store, _ = _shop(platform)
    assert isinstance(store, ShopAdmin)


@pytest.mark.parametrize("platform", [WOO, PRESTA], ids=lambda p: p.name)
def test_admin_operations_touch_set_stock_order_and_delete_alike(platform: Platform) -> None:
    store, clock = _shop(platform.name)
    pid = platform.simple_stocked(store)
    clock.advance(30)
    assert store.touch_products(ids=[pid]) == [pid]
    assert platform.modified(store, pid) == store.now()

    level = store.set_stock(pid, 7)
    assert level.stock_quantity == 7 and platform.stock(store, pid) == 7

    order = store.add_order(platform.order_payload(pid))
    assert order.id and platform.stock(store, pid) == 5  # a paid order takes its units

    clock.advance(30)
    touched = store.touch_products(count=2)
    assert len(touched) == 2 and all(platform.modified(store, t) == store.now() for t in touched)
    store.delete_product(pid)
    assert platform.gone(store, pid)
