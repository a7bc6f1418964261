"""Orders of an emulated PrestaShop shop: an order with its rows, details and taxes, and its state history."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from ecom_pipeline.sandbox.prestashop.resources import ORDER_DETAIL_FIELDS
from ecom_pipeline.sandbox.prestashop.rows import ORDER_TEMPLATE, ZERO_DATETIME, Row, StoreError, money
from ecom_pipeline.sandbox.prestashop.state import PrestaState

# PS_OS_CANCELED and PS_OS_ERROR: the states that give an order's quantities back to stock.
CANCEL_STATES = (6, 8)


class PrestaOrders(PrestaState):
    """Order inserts (seeded, admin or front office) and order state changes (``order_histories``)."""

    def _insert_order(
        self, lines: list[tuple[int, int, int]], customer: int, t: int, initial_state: int, decrement: bool
    ) -> Row:
        oid = self._new_id("orders")
        rows: list[Row] = []
        total = Decimal(0)
        total_incl = Decimal(0)
        for pid, ipa, qty in lines:
            product = self.tables["products"].get(pid)
            if product is None:
                raise StoreError(400, 0, f"product {pid} does not exist")
            unit = Decimal(product["price"])
            name = str(self.text(product["name"]))
            reference = product["reference"]
            if ipa:
                combo = self.tables["combinations"][ipa]
                unit += Decimal(combo["price"])
                reference = combo["reference"] or reference
                name = f"{name} - combination {ipa}"
            rate = self.tax_rate(product)
            unit_incl = (unit * (1 + rate / 100)).quantize(Decimal("0.000001"))
            total += unit * qty
            total_incl += (unit_incl * qty).quantize(Decimal("0.01"))
            line_id = self._next_order_row
            rows.append(
                {
                    "id": str(line_id),
                    "product_id": str(pid),
                    "product_attribute_id": str(ipa),
                    "product_quantity": str(qty),
                    "product_name": name,
                    "product_reference": reference,
                    "product_ean13": "",
                    "product_isbn": "",
                    "product_upc": "",
                    "product_price": money(unit),
                    "id_customization": "0",
                    "unit_price_tax_incl": money(unit_incl),
                    "unit_price_tax_excl": money(unit),
                }
            )
            detail: dict[str, Any] = dict.fromkeys(ORDER_DETAIL_FIELDS, "0")
            detail.update(
                id=line_id, id_order=str(oid), product_id=str(pid), product_attribute_id=str(ipa),
                group_reduction="0.00", download_hash="", download_deadline=ZERO_DATETIME, id_shop="1",
                product_name=name, product_quantity=str(qty), product_quantity_in_stock=str(qty),
                product_price=money(unit), reduction_percent="0.00", reduction_amount="0.000000",
                reduction_amount_tax_incl="0.000000", reduction_amount_tax_excl="0.000000",
                product_quantity_discount="0.000000", product_ean13="", product_isbn="", product_upc="",
                product_mpn="", product_reference=reference, product_supplier_reference="",
                product_weight=product.get("weight") or "0.000000",
                id_tax_rules_group=str(product["id_tax_rules_group"]),
                ecotax="0.000000", ecotax_tax_rate="0.000", unit_price_tax_incl=money(unit_incl),
                unit_price_tax_excl=money(unit),
                total_price_tax_incl=money((unit_incl * qty).quantize(Decimal("0.01"))),
                total_price_tax_excl=money((unit * qty).quantize(Decimal("0.01"))),
                total_shipping_price_tax_excl="0.000000", total_shipping_price_tax_incl="0.000000",
                purchase_supplier_price=product.get("wholesale_price") or "0.000000",
                original_product_price=money(unit),
                original_wholesale_price=product.get("wholesale_price") or "0.000000",
                total_refunded_tax_excl="0.000000", total_refunded_tax_incl="0.000000",
            )  # fmt: skip
            self.tables["order_details"][line_id] = detail
            self.detail_taxes[line_id] = [str(product["id_tax_rules_group"])]
            self._next_order_row += 1
            if decrement:
                self._adjust_stock(pid, ipa, -qty)
        if decrement:
            self.stock_taken.add(oid)
        shipping = Decimal("7.00")
        row = dict(ORDER_TEMPLATE)
        row.update(
            id=oid,
            id_address_delivery=str(customer + 4),
            id_address_invoice=str(customer + 4),
            id_cart=str(oid),
            id_customer=str(customer),
            current_state=str(initial_state),
            date_add=t,
            date_upd=t,
            secure_key=hashlib.md5(f"{self.seed}:{customer}".encode()).hexdigest(),
            total_discounts="0.000000",
            total_discounts_tax_incl="0.000000",
            total_discounts_tax_excl="0.000000",
            total_paid=money(total_incl + shipping),
            total_paid_tax_incl=money(total_incl + shipping),
            total_paid_tax_excl=money(total + shipping),
            total_paid_real="0.000000",
            total_products=money(total),
            total_products_wt=money(total_incl),
            total_shipping=money(shipping),
            total_shipping_tax_incl=money(shipping),
            total_shipping_tax_excl=money(shipping),
            total_wrapping="0.000000",
            total_wrapping_tax_incl="0.000000",
            total_wrapping_tax_excl="0.000000",
            reference="".join(self._rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(9)),
        )
        self.tables["orders"][oid] = row
        self.order_rows[oid] = rows
        self._add_history(oid, initial_state, t, employee=0, touch=False)
        return row

    def _add_history(self, oid: int, state: int, t: int, employee: int = 0, touch: bool = True) -> Row:
        hid = self._new_id("order_histories")
        row: Row = {
            "id": hid,
            "id_employee": str(employee),
            "id_order_state": str(state),
            "id_order": str(oid),
            "date_add": t,
        }
        self.tables["order_histories"][hid] = row
        if touch:
            order = self.tables["orders"][oid]
            self._restock_on_cancel(oid, int(order["current_state"]), state)
            order["current_state"] = str(state)
            order["date_upd"] = t
            flags = self.tables["order_states"].get(state)
            if flags is not None and flags["paid"] == "1":
                order["valid"] = "1"
                order["total_paid_real"] = order["total_paid"]
            if flags is not None and flags["paid"] == "0" and state in (6, 7, 8):
                order["valid"] = "0"
        return row

    def _restock_on_cancel(self, oid: int, old_state: int, new_state: int) -> None:
        """As ``OrderHistory::changeIdOrderState`` with stock management on: an order moved to Canceled (6) or
        Payment error (8) gives its lines' quantities back to stock, and one moved out of those states takes them
        again. Only for an order that took them in the first place."""
        if oid not in self.stock_taken:
            return
        was, now = old_state in CANCEL_STATES, new_state in CANCEL_STATES
        if was == now:
            return
        sign = 1 if now else -1
        for detail in self.order_rows.get(oid, []):
            self._adjust_stock(
                int(detail["product_id"]), int(detail["product_attribute_id"]), sign * int(detail["product_quantity"])
            )
