"""One emulated WooCommerce shop: :class:`WooStore` puts its parts together and is what the API and tests use.

The parts, one job each: :mod:`.state` (records, ids, clock, listeners, plain reads), :mod:`.seed` (the generated
demo history), :mod:`.query` (list queries), :mod:`.stock`, :mod:`.orders`, :mod:`.refunds`, :mod:`.products`,
:mod:`.customers` (the writes the REST API performs), :mod:`.render` (records as wc/v3 JSON). This module adds the
admin operations of :class:`~ecom_pipeline.sandbox.shop.ShopAdmin`, how tests, the demo and benchmarks change a
shop behind the API's back (``store.set_stock(...)``, ``store.touch_products(...)``) while the server serves it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.shop import ShopAdmin
from ecom_pipeline.sandbox.woocommerce.catalog import WooCatalog
from ecom_pipeline.sandbox.woocommerce.customers import WooCustomers
from ecom_pipeline.sandbox.woocommerce.errors import StoreError
from ecom_pipeline.sandbox.woocommerce.products import WooProducts
from ecom_pipeline.sandbox.woocommerce.query import WooQueries
from ecom_pipeline.sandbox.woocommerce.records import Product, Variation, money
from ecom_pipeline.sandbox.woocommerce.refunds import WooRefunds
from ecom_pipeline.sandbox.woocommerce.seed import CATEGORIES, COLOUR_TERMS, SIZE_TERMS, WooSeeder

__all__ = ["StoreError", "WooStore"]  # StoreError: the name older imports use (it lives in .errors)


class WooStore(WooRefunds, WooProducts, WooCustomers, WooQueries, ShopAdmin):
    """All records of one shop, generated deterministically from ``seed``.

    ``anchor`` is the instant the seeded history ends at (default: the clock's current UTC day at 00:00), so
    two stores built with the same seed on the same day are identical, and every seeded date is in the past.
    """

    def __init__(
        self,
        name: str,
        seed: int = 1,
        products: int = 50,
        variable_share: float = 0.3,
        orders: int = 120,
        customers: int = 40,
        timezone: str = "Europe/Paris",
        clock: SandboxClock | None = None,
        anchor: datetime | None = None,
    ) -> None:
        super().__init__(name, seed=seed, timezone=timezone, clock=clock, anchor=anchor)
        self.catalog = WooCatalog(self)
        self.catalog.seed(CATEGORIES, {"Size": SIZE_TERMS, "Colour": COLOUR_TERMS})
        WooSeeder(self).run(products, variable_share, orders, customers)

    # ------------------------------------------------------------------ admin operations (ShopAdmin)

    def set_stock(self, item_id: int, quantity: int) -> Product | Variation:
        """Absolute stock set on a product or variation (as PUT ``stock_quantity`` does)."""
        with self.lock:
            if item_id in self.variations:
                v = self.variations[item_id]
                return self.update_variation(v.parent_id, item_id, {"stock_quantity": quantity})
            return self.update_product(item_id, {"stock_quantity": quantity})

    def touch_products(self, count: int | None = None, ids: list[int] | None = None) -> list[int]:
        """Bump ``date_modified`` of some products (admin helper for incremental-sync tests)."""
        with self.lock:
            ts = self.now()
            if ids is None:
                live = [p.id for p in self.products.values() if p.status != "trash"]
                ids = live[: count if count is not None else 1]
            for pid in ids:
                self.get_product(pid).modified = max(self.products[pid].modified, ts)
                self._emit("product", "updated", pid)
            self._touch("products")
            return ids

    def refund_order(
        self, oid: int, amount: str | None = None, reason: str = "", restock: bool = True
    ) -> dict[str, Any]:
        """Admin helper: full (default) or amount-only partial refund; a full refund makes the order "refunded"."""
        with self.lock:
            o = self.get_order(oid)
            value = Decimal(amount) if amount is not None else o.total() - self.refunded_total(o)
            lines: dict[int, tuple[int, Decimal]] | None = None if amount is None else {}
            full = {"amount": str(value), "reason": reason, "api_refund": False, "api_restock": restock}
            if lines is None:
                full["line_items"] = [
                    {"id": li.id, "quantity": li.quantity, "refund_total": str(li.total)} for li in o.line_items
                ]
            refund = self.create_refund(oid, full)
            return {"id": refund.id, "reason": refund.reason, "total": money(-refund.amount)}
