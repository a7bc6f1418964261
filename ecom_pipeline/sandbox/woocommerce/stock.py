"""Stock bookkeeping of an emulated WooCommerce shop: what orders take, give back, and who holds the stock.

A variation may manage its own stock or leave it to its parent (``manage_stock == "parent"``); paid orders take
stock once (``_reduced_stock`` line meta), cancelling gives back what each line still holds, as WooCommerce does.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ecom_pipeline.sandbox.woocommerce.records import LineItem, Order, Product, Variation, slugify
from ecom_pipeline.sandbox.woocommerce.state import WooState


class WooStock(WooState):
    """Order lines, their stock holders, and stock taken or given back (with the order notes WooCommerce adds)."""

    def _available(self, target: Product | Variation) -> int:
        """Units a checkout could sell: unlimited (large) when stock is not managed."""
        if isinstance(target, Variation) and target.manage_stock == "parent":
            target = self.products[target.parent_id]
        if target.manage_stock is True:
            return max(0, target.stock_quantity or 0)
        return 1_000_000

    def _shipping_line(self, total: str) -> dict[str, Any]:
        return {
            "id": self._item_id(),
            "method_title": "Flat rate",
            "method_id": "flat_rate",
            "instance_id": "",
            "total": total,
            "total_tax": "0.00",
            "taxes": [],
            "tax_status": "taxable",
            "meta_data": [],
        }

    def _make_line_item(self, target: Product | Variation, qty: int, price: Decimal | None = None) -> LineItem:
        if isinstance(target, Variation):
            parent = self.products[target.parent_id]
            meta = []
            for a in target.attributes:
                key = a["slug"] if a["id"] else slugify(a["name"])
                value = str(a["option"]).lower() if a["id"] else str(a["option"])
                meta.append(
                    {
                        "id": self._meta_id(),
                        "key": key,
                        "value": value,
                        "display_key": a["name"],
                        "display_value": str(a["option"]),
                    }
                )
            unit = Decimal(target.sale_price or target.regular_price or "0")
            return LineItem(
                self._item_id(),
                f"{parent.name} - {target.name}",
                parent.id,
                target.id,
                qty,
                price if price is not None else unit,
                target.sku,
                parent.name,
                meta,
            )
        unit = Decimal(target.sale_price or target.regular_price or "0")
        return LineItem(
            self._item_id(), target.name, target.id, 0, qty, price if price is not None else unit, target.sku, None, []
        )

    def _stock_holder(self, li: LineItem) -> Product | Variation | None:
        if li.variation_id:
            v = self.variations.get(li.variation_id)
            if v is None:
                return None
            if v.manage_stock == "parent":
                return self.products.get(v.parent_id)
            return v if v.manage_stock is True else None
        p = self.products.get(li.product_id)
        return p if p is not None and p.manage_stock else None

    def _bump(self, holder: Product | Variation, ts: int) -> None:
        holder.modified = max(holder.modified, ts)
        # WooCommerce fires product.updated for the item whose stock an order moved (recorded).
        self._emit("variation" if isinstance(holder, Variation) else "product", "updated", holder.id)
        if isinstance(holder, Variation):
            parent = self.products.get(holder.parent_id)
            if parent is not None:
                parent.modified = max(parent.modified, ts)
            self._touch("variations")
        self._touch("products")

    def _reduce_stock(self, order: Order, ts: int) -> None:
        """Paid orders take stock (``_reduced_stock`` line meta), as WooCommerce does on processing/on-hold."""
        if order.stock_reduced:
            return
        changes = []
        for li in order.line_items:
            holder = self._stock_holder(li)
            product = self.products.get(li.product_id)
            if product is not None:
                product.total_sales += li.quantity
            if holder is None:
                continue
            old = holder.stock_quantity or 0
            holder.stock_quantity = old - li.quantity
            changes.append(f'{li.name} ({li.sku})<span class="description"></span> {old}&rarr;{holder.stock_quantity}')
            li.meta_data.append(
                {
                    "id": self._meta_id(),
                    "key": "_reduced_stock",
                    "value": str(li.quantity),
                    "display_key": "_reduced_stock",
                    "display_value": str(li.quantity),
                }
            )
            self._bump(holder, ts)
        order.stock_reduced = True
        if changes:
            self.add_note(order.id, "Stock levels reduced: " + ", ".join(changes), ts=ts)

    @staticmethod
    def _reduced(li: LineItem) -> int:
        """Units this line still holds out of stock (its ``_reduced_stock`` meta; refunds restock part of it)."""
        meta = next((m for m in li.meta_data if m["key"] == "_reduced_stock"), None)
        return int(meta["value"]) if meta is not None else 0

    def _set_line_meta(self, li: LineItem, key: str, value: int | None) -> None:
        meta = next((m for m in li.meta_data if m["key"] == key), None)
        if value is None:
            if meta is not None:
                li.meta_data.remove(meta)
            return
        if meta is None:
            meta = {"id": self._meta_id(), "key": key, "value": "", "display_key": key, "display_value": ""}
            li.meta_data.append(meta)
        meta["value"] = meta["display_value"] = str(value)

    def _restore_stock(self, order: Order, ts: int) -> None:
        """``wc_increase_stock_levels``: gives back what each line still holds and drops ``_reduced_stock``."""
        if not order.stock_reduced:
            return
        for li in order.line_items:
            holder = self._stock_holder(li)
            held = self._reduced(li)
            self._set_line_meta(li, "_reduced_stock", None)
            if holder is None or not held:
                continue
            holder.stock_quantity = (holder.stock_quantity or 0) + held
            self._bump(holder, ts)
        order.stock_reduced = False
