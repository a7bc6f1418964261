"""Order writes of an emulated WooCommerce shop: create, update (status and its side effects), delete, coupons."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from ecom_pipeline.sandbox.woocommerce.errors import StoreError
from ecom_pipeline.sandbox.woocommerce.records import (
    ORDER_STATUS_LABELS,
    PAID_STATUSES,
    STOCK_REDUCING_STATUSES,
    Order,
    Product,
    Variation,
    money,
    order_address,
)
from ecom_pipeline.sandbox.woocommerce.state import copy_record
from ecom_pipeline.sandbox.woocommerce.stock import WooStock


class WooOrders(WooStock):
    """POST/PUT/DELETE /orders and the status transitions behind them (stock, coupons, notes, paying customer)."""

    def add_order(self, data: dict[str, Any]) -> Order:
        """POST /orders: ``set_paid`` makes it processing (date_paid, stock reduced); default pending."""
        with self.lock:
            ts = self.now()
            items = []
            for li in data.get("line_items") or []:
                vid = int(li.get("variation_id") or 0)
                target: Product | Variation = (
                    self.get_variation(int(li["product_id"]), vid) if vid else self.get_product(int(li["product_id"]))
                )
                price = Decimal(str(li["price"])) if li.get("price") is not None else None
                items.append(self._make_line_item(target, int(li.get("quantity", 1)), price))
            customer_id = int(data.get("customer_id") or 0)
            if customer_id:
                self.get_customer(customer_id)
            coupons = self._order_coupons(data.get("coupon_lines"))
            order = Order(
                id=self._post_id(),
                status="pending",
                created=ts,
                modified=ts,
                customer_id=customer_id,
                billing=order_address(True, **(data.get("billing") or {})),
                shipping=order_address(False, **(data.get("shipping") or {})),
                line_items=items,
                order_key=self._order_key(),
                payment_method=data.get("payment_method", ""),
                payment_method_title=data.get("payment_method_title", ""),
                transaction_id=data.get("transaction_id", ""),
                created_via="rest-api",
                customer_note=data.get("customer_note", ""),
                shipping_lines=[
                    self._shipping_line(money(s.get("total", "0")))
                    | {"method_title": s.get("method_title", "Flat rate"), "method_id": s.get("method_id", "flat_rate")}
                    for s in data.get("shipping_lines") or []
                ],
            )
            for m in data.get("meta_data") or []:
                order.meta_data.append({"id": self._meta_id(), "key": m.get("key"), "value": m.get("value")})
            for coupon in coupons:
                self._apply_coupon(order, coupon)
            self.orders[order.id] = order
            status = data.get("status") or ("processing" if data.get("set_paid") else "pending")
            if data.get("set_paid"):
                order.paid = ts
            self._set_order_status(order, status, ts)
            self._touch("orders")
            self._emit("order", "created", order.id)
            return order

    def _order_coupons(self, lines: Any) -> list[Any]:
        """The coupons an order write names in ``coupon_lines`` (checked before anything is written)."""
        out = []
        for line in lines if isinstance(lines, list) else []:
            code = str((line or {}).get("code") or "").strip() if isinstance(line, dict) else ""
            if not code:
                raise StoreError(400, "woocommerce_rest_required_coupon_code", "Coupon code is required.")
            coupon = self.catalog.coupon_by_code(code)
            if coupon is None:
                raise StoreError(
                    400,
                    "woocommerce_rest_invalid_coupon",
                    f'Coupon "{code.lower()}" cannot be applied because it does not exist.',
                )
            out.append(coupon)
        return out

    def _apply_coupon(self, order: Order, coupon: Any) -> None:
        """Discount the lines (percent of each line, fixed per unit, or a fixed cart amount spread by line value)
        and record the coupon line and its usage, as WooCommerce shows them (orders-list-page2.json, order 35)."""
        amount = Decimal(coupon.amount)
        lines = [li for li in order.line_items if li.total > 0]
        discounts: dict[int, Decimal] = {}
        if coupon.discount_type == "percent":
            for li in lines:
                discounts[li.id] = min(li.total, (li.subtotal * amount / 100).quantize(Decimal("0.01")))
        elif coupon.discount_type == "fixed_product":
            for li in lines:
                discounts[li.id] = min(li.total, amount * li.quantity)
        else:  # fixed_cart: spread by line value, the rounding remainder on the last line
            base = sum((li.total for li in lines), Decimal(0))
            wanted = min(amount, base)
            given = Decimal(0)
            for i, li in enumerate(lines):
                share = wanted - given if i == len(lines) - 1 else (wanted * li.total / base).quantize(Decimal("0.01"))
                discounts[li.id] = min(li.total, share)
                given += discounts[li.id]
        for li in lines:
            li.discount += discounts.get(li.id, Decimal(0))
        nominal = int(amount) if amount == amount.to_integral_value() else float(amount)
        info = json.dumps([coupon.id, coupon.code, coupon.discount_type, nominal], separators=(",", ":"))
        order.coupon_lines.append(
            {
                "id": self._item_id(),
                "code": coupon.code,
                "discount": money(sum(discounts.values(), Decimal(0))),
                "discount_tax": "0",
                "meta_data": [
                    {
                        "id": self._meta_id(),
                        "key": "coupon_info",
                        "value": info,
                        "display_key": "coupon_info",
                        "display_value": info,
                    }
                ],
                "discount_type": coupon.discount_type,
                "nominal_amount": nominal,
                "free_shipping": coupon.free_shipping,
            }
        )
        coupon.usage_count += 1
        coupon.used_by.append(str(order.customer_id) if order.customer_id else order.billing.get("email", ""))
        self.touch_catalog()
        self._emit("coupon", "updated", coupon.id)

    def _release_coupons(self, order: Order) -> None:
        """A cancelled order gives its coupon uses back (``wc_update_coupon_usage_counts``)."""
        who = str(order.customer_id) if order.customer_id else order.billing.get("email", "")
        for line in order.coupon_lines:
            coupon = self.catalog.coupon_by_code(line["code"])
            if coupon is None:
                continue
            coupon.usage_count = max(0, coupon.usage_count - 1)
            if who in coupon.used_by:
                coupon.used_by.remove(who)
            self._emit("coupon", "updated", coupon.id)

    def _set_order_status(self, order: Order, status: str, ts: int) -> None:
        previous = order.status
        order.status = status
        if status in STOCK_REDUCING_STATUSES:
            self._reduce_stock(order, ts)
        elif status in ("cancelled", "pending") and previous != status:
            self._restore_stock(order, ts)  # wc_maybe_increase_stock_levels listens to both
        if status == "cancelled" and previous != status:
            self._release_coupons(order)
        if previous != status:
            self.add_note(
                order.id,
                f"Order status changed from {ORDER_STATUS_LABELS.get(previous, previous)} to "
                f"{ORDER_STATUS_LABELS.get(status, status)}.",
                ts=ts,
            )
        if status in ("processing", "completed") and order.paid is None:
            order.paid = ts
        if status == "completed" and order.completed is None:
            order.completed = ts
        if order.customer_id and status in PAID_STATUSES and order.customer_id in self.customers:
            self.customers[order.customer_id].is_paying_customer = True

    def update_order(self, oid: int, data: dict[str, Any]) -> Order:
        """PUT /orders/{id}: status change (with stock side effects) and simple fields; bumps date_modified."""
        with self.lock:
            o = self.get_order(oid)
            ts = self.now()
            if "status" in data and data["status"] != o.status:
                self._set_order_status(o, data["status"], ts)
            for key in ("customer_note", "transaction_id", "payment_method", "payment_method_title"):
                if key in data:
                    setattr(o, key, data[key])
            for key in ("billing", "shipping"):
                if key in data:
                    getattr(o, key).update({k: v for k, v in data[key].items() if k in getattr(o, key)})
            if data.get("set_paid") and o.paid is None:
                o.paid = ts
            o.modified = max(o.modified, ts)
            self._touch("orders")
            self._emit("order", "updated", o.id)
            return o

    def delete_order(self, oid: int, force: bool = False) -> Order:
        """DELETE /orders/{id}: ``force`` deletes for good, otherwise the order goes to the trash."""
        with self.lock:
            o = self.get_order(oid)
            before = copy_record(o)
            if force:
                del self.orders[oid]
            else:
                if o.status != "trash":
                    o.pre_trash_status = o.status
                o.status = "trash"
                o.modified = max(o.modified, self.now())
            self._touch("orders")
            self._emit("order", "deleted", oid)
            return before

    def untrash_order(self, oid: int) -> Order:
        """Out of the trash (the admin's Restore): the status it had before, a new date_modified, and
        ``untrashed_post``, which order.restored listens to. No-op when not trashed."""
        with self.lock:
            o = self.get_order(oid)
            if o.status == "trash":
                o.status = o.pre_trash_status or "pending"
                o.modified = max(o.modified, self.now())
                self._touch("orders")
                self._emit("order", "restored", oid)
            return o
