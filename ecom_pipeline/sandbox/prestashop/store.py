"""One emulated PrestaShop 8.2.1 shop: :class:`PrestaStore` puts its parts together for the webservice and tests.

The parts, one job each: :mod:`.rows` (row shapes, defaults, formats), :mod:`.state` (tables, ids, clock,
languages, prices, stock rows, associations), :mod:`.seed` (reference tables and the generated demo history),
:mod:`.orders` and :mod:`.webservice` (the writes), :mod:`.render` (rows as JSON/XML). This module adds the admin
operations (:class:`~ecom_pipeline.sandbox.shop.ShopAdmin` and PrestaShop's own), how tests, the demo and
benchmarks change a shop behind the webservice's back while the server serves it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.prestashop.rows import ZERO_DATE, Row, StoreError, money
from ecom_pipeline.sandbox.prestashop.seed import PrestaSeeder
from ecom_pipeline.sandbox.prestashop.webservice import PrestaWebservice
from ecom_pipeline.sandbox.shop import ShopAdmin

# Row, StoreError, ZERO_DATE and money: the names older imports use (they live in .rows).
__all__ = ["ZERO_DATE", "OrderView", "PrestaStore", "Row", "StockView", "StoreError", "money"]


class PrestaStore(PrestaWebservice, ShopAdmin):
    """All tables of one shop, generated deterministically from ``seed``.

    ``anchor`` is when the seeded history ends (default: the clock's current UTC day at 00:00), so stores built
    the same day with the same seed are identical and every seeded date is in the past.
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
        languages: tuple[str, ...] = ("en",),
    ) -> None:
        super().__init__(languages, name, seed, timezone, clock, anchor)
        seeder = PrestaSeeder(self)
        seeder.reference_tables()
        seeder.run(products, variable_share, orders, customers)

    # ------------------------------------------------------------------ admin operations (ShopAdmin and more)

    def product(self, pid: int) -> Row:
        return self.tables["products"][pid]

    def stock_row(self, product_id: int, id_product_attribute: int = 0) -> Row:
        """The stock_available row of a product (``id_product_attribute`` 0) or of one of its combinations."""
        return self.tables["stock_availables"][self.stock_index[(product_id, id_product_attribute)]]

    def add_shop(self, id_shop: int, id_shop_group: int = 1, name: str | None = None) -> None:
        """A shop of a multishop install (the ``shops`` resource), in group ``id_shop_group`` (1: the default
        group, as PrestaShop makes them); an existing one moves to that group."""
        with self.lock:
            self.tables["shops"][int(id_shop)] = {
                "id": int(id_shop), "id_shop_group": str(id_shop_group), "id_category": "2", "active": "1",
                "deleted": "0", "name": name or (self.name if id_shop == 1 else f"{self.name} {id_shop}"),
                "color": "", "theme_name": "classic",
            }  # fmt: skip
            self.next_ids["shops"] = max(self.next_ids.get("shops", 1), int(id_shop) + 1)

    def add_shop_stock(self, id_shop: int, id_shop_group: int = 0, quantity: int | None = None) -> dict[int, int]:
        """Play a multishop install: every stock row of the default shop (``id_shop`` 1) gets a twin for another
        shop (``id_shop`` N, ``id_shop_group`` 0), or, ``id_shop`` 0, for a group that shares its stock. Twins get
        new (higher) ids, as rows made when a product is added to a shop, and their own ``quantity`` (the
        original's when None). The webservice lists them all. Returns ``{default row id: twin id}``. The twins
        live on their own: writes and orders of the emulator move the default shop's rows only."""
        with self.lock:
            if id_shop and id_shop not in self.tables["shops"]:
                self.add_shop(id_shop)  # a shop of its own stock: in the default group
            table = self.tables["stock_availables"]
            twins: dict[int, int] = {}
            for sid in sorted(self.stock_index.values()):
                row = dict(table[sid])
                twin = self._new_id("stock_availables")
                row.update(id=twin, id_shop=str(id_shop), id_shop_group=str(id_shop_group))
                if quantity is not None:
                    row["quantity"] = str(quantity)
                table[twin] = row
                twins[sid] = twin
            return twins

    def update_product(self, pid: int, **fields: Any) -> Row:
        """Edit a product as the back office would: fields change and ``date_upd`` moves to now."""
        with self.lock:
            row = self.tables["products"][pid]
            for key, value in fields.items():
                if key not in row:
                    raise KeyError(f"unknown product field {key!r}")
                row[key] = money(value) if key in ("price", "wholesale_price") else value
            row["date_upd"] = self.now()
            return row

    def touch_products(self, count: int = 1, ids: list[int] | None = None) -> list[int]:
        """Bump ``date_upd`` of some products (the admin ``touch`` endpoint)."""
        with self.lock:
            chosen = [int(i) for i in ids] if ids else sorted(self.tables["products"])[: int(count)]
            now = self.now()
            for pid in chosen:
                self.tables["products"][pid]["date_upd"] = now
            return chosen

    def set_stock(self, product_id: int, quantity: int, id_product_attribute: int = 0) -> StockView:
        """Set a quantity as a stock_available PUT does: absolute, no date anywhere changes.

        For a combination, the product-level row becomes the sum of the combinations (as PrestaShop does).
        """
        with self.lock:
            row = self.stock_row(product_id, id_product_attribute)
            row["quantity"] = str(int(quantity))
            if id_product_attribute:
                self._sync_product_stock(product_id)
            return StockView(row)

    def add_order(
        self,
        data: dict[str, Any] | None = None,
        *,
        lines: list[tuple[int, int, int]] | None = None,
        customer_id: int | None = None,
        state: int = 2,
    ) -> OrderView:
        """Place an order like the front office: stock of each line decreases, history gets its first state.

        ``lines`` are ``(product_id, id_product_attribute, quantity)``; ``data`` (admin endpoint) may carry
        ``{"lines": [[pid, ipa, qty], ...], "customer_id": n, "state": n}``.
        """
        data = data or {}
        lines = lines or [tuple(x) for x in data.get("lines", [])]
        if not lines:
            raise ValueError("an order needs lines: [(product_id, id_product_attribute, quantity), ...]")
        with self.lock:
            cid = customer_id if customer_id is not None else int(data.get("customer_id", 1))
            row = self._insert_order(
                [(int(p), int(a), int(q)) for p, a, q in lines],
                cid,
                self.now(),
                int(data.get("state", state)),
                decrement=True,
            )
            return OrderView(row)

    def change_order_state(self, order_id: int, state: int, employee: int = 1) -> Row:
        """What POST /api/order_histories does: a history row, new ``current_state``, ``date_upd`` = now."""
        with self.lock:
            if order_id not in self.tables["orders"]:
                raise KeyError(order_id)
            return self._add_history(order_id, state, self.now(), employee=employee)

    def update_customer(self, cid: int, **fields: Any) -> Row:
        """Edit a customer (``date_upd`` moves to now)."""
        with self.lock:
            row = self.tables["customers"][cid]
            row.update(fields)
            row["date_upd"] = self.now()
            return row


class StockView:
    """A stock_available row with the attribute names the generic admin endpoint reads."""

    def __init__(self, row: Row) -> None:
        self.row = row
        self.id = int(row["id"])
        self.stock_quantity = int(row["quantity"])


class OrderView:
    """An order row with the attribute names the generic admin endpoint reads."""

    def __init__(self, row: Row) -> None:
        self.row = row
        self.id = int(row["id"])
        self.status = row["current_state"]
