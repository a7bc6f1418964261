"""Refunds of an emulated WooCommerce shop, with the refund controller's checks and odd error shapes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ecom_pipeline.sandbox.woocommerce.errors import StoreError
from ecom_pipeline.sandbox.woocommerce.orders import WooOrders
from ecom_pipeline.sandbox.woocommerce.records import Order, Refund, RefundLine, money

OFFLINE_GATEWAYS = frozenset({"bacs", "cheque", "cod", "paypal"})
REFUNDING_GATEWAYS = frozenset({"stripe"})


def _gateway_refund_problem(payment_method: str) -> str | None:
    """``wc_refund_payment``'s refusal for this gateway, or None when it can refund automatically."""
    if payment_method in REFUNDING_GATEWAYS:
        return None
    if payment_method in OFFLINE_GATEWAYS:
        return "The payment gateway for this order does not support automatic refunds."
    return "The payment gateway for this order does not exist."


def _to_int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _to_decimal(value: Any) -> Decimal | None:
    """A PHP-numeric value as Decimal; None when it is not numeric."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip())
    except ArithmeticError:
        return None


class WooRefunds(WooOrders):
    """Refund records, their restocking and order summaries, and POST/GET/DELETE /orders/{id}/refunds."""

    def _add_refund(
        self,
        order: Order,
        amount: Decimal,
        reason: str,
        ts: int,
        restock: bool,
        lines: dict[int, tuple[int, Decimal]] | None = None,
        refunded_payment: bool = False,
    ) -> Refund:
        """Record a refund of ``amount``; ``lines`` maps order line id -> (quantity, refund_total).

        Without ``lines`` a full refund covers every line. ``restock`` puts the refunded quantities back
        (``wc_restock_refunded_items``): only lines whose stock was reduced, tracked in ``_reduced_stock`` and
        ``_restock_refunded_items`` line meta, with an order note per item.
        """
        if lines is None:
            lines = {li.id: (li.quantity, li.total) for li in order.line_items}
        refund = Refund(self._post_id(), order.id, ts, Decimal(amount), reason, 1, refunded_payment)
        for li in order.line_items:
            if li.id not in lines:
                continue
            qty, total = lines[li.id]
            if not qty and not total:
                continue
            refund.lines.append(
                RefundLine(
                    self._item_id(),
                    li.name,
                    li.product_id,
                    li.variation_id,
                    -qty,
                    -Decimal(total).quantize(Decimal("0.01")),
                    li.sku,
                    li.parent_name,
                    li.id,
                    self._meta_id(),
                )
            )
        self.refunds[refund.id] = refund
        order.refunds.insert(0, {"id": refund.id, "reason": reason, "total": money(-Decimal(amount))})
        if restock:
            for li in order.line_items:
                qty = lines.get(li.id, (0, Decimal(0)))[0]
                held = self._reduced(li)
                holder = self._stock_holder(li)
                if not qty or not held or holder is None:
                    continue
                old = holder.stock_quantity or 0
                holder.stock_quantity = old + qty
                self._bump(holder, ts)
                self._set_line_meta(li, "_reduced_stock", held - qty)
                already = next((int(m["value"]) for m in li.meta_data if m["key"] == "_restock_refunded_items"), 0)
                self._set_line_meta(li, "_restock_refunded_items", already + qty)
                self.add_note(
                    order.id, f"Item #{holder.id} stock increased from {old} to {holder.stock_quantity}.", ts=ts
                )
        order.modified = max(order.modified, ts)
        return refund

    def refunded_total(self, order: Order) -> Decimal:
        return -sum((Decimal(r["total"]) for r in order.refunds), Decimal(0))

    def create_refund(self, oid: int, data: dict[str, Any]) -> Refund:
        """POST /orders/{id}/refunds, with WooCommerce's checks and their odd error shapes.

        Errors the refund controller builds with a bare number as data come back as HTTP 500 (see
        :meth:`StoreError.bare`). ``api_refund`` (default true) asks the payment gateway: in this sandbox
        ``stripe`` refunds, the offline gateways (bacs, cheque, cod, paypal) cannot, anything else does not exist.
        """
        with self.lock:
            order = self.orders.get(oid)
            if order is None:
                raise StoreError.bare("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
            api_refund = data["api_refund"] if isinstance(data.get("api_refund"), bool) else True
            api_restock = data["api_restock"] if isinstance(data.get("api_restock"), bool) else True
            raw_lines: list[Any] = data["line_items"] if isinstance(data.get("line_items"), list) else []
            lines: dict[int, tuple[int, Decimal]] = {}
            computable = bool(raw_lines)
            computed = Decimal(0)
            for item in raw_lines:
                if not isinstance(item, dict) or item.get("id") is None:
                    lines = {}  # WooCommerce leaves such a list as it is: no line matches it
                    computable = False
                    break
                qty = _to_int(item.get("quantity", item.get("qty")))
                total = _to_decimal(item.get("refund_total"))
                if total is None:
                    computable = False
                lines[_to_int(item.get("id"))] = (qty, total or Decimal(0))
                computed += total or Decimal(0)
            amount_raw = data.get("amount")
            if amount_raw is None:
                amount = computed if computable else Decimal(0)
            else:
                amount = _to_decimal(amount_raw) or Decimal(0)
            if amount < 0:
                raise StoreError.bare(
                    "woocommerce_rest_invalid_order_refund", "Refund amount must be greater than zero.", 400
                )
            remaining = order.total() - self.refunded_total(order)
            if amount > remaining:
                raise StoreError.bare("woocommerce_rest_cannot_create_order_refund", "Invalid refund amount.", 500)
            if api_refund:
                problem = _gateway_refund_problem(order.payment_method)
                if problem is not None:
                    self._post_id()  # the refund post was created, then deleted
                    raise StoreError.bare("woocommerce_rest_cannot_create_order_refund", problem, 500)
            ts = self.now()
            refund = self._add_refund(
                order,
                amount,
                str(data.get("reason") or ""),
                ts,
                restock=api_restock,
                lines=lines,
                refunded_payment=api_refund,
            )
            if isinstance(data.get("meta_data"), list):
                for m in data["meta_data"]:
                    if isinstance(m, dict) and m.get("key"):
                        refund.meta_data.append({"id": self._meta_id(), "key": m["key"], "value": m.get("value")})
            if remaining - amount <= 0 and order.status != "refunded":
                self._set_order_status(order, "refunded", ts)
            self._touch("orders")
            self._emit("order", "updated", order.id)  # order.updated listens to woocommerce_order_refunded
            return refund

    def get_refund(self, oid: int, rid: int) -> Refund:
        """GET /orders/{id}/refunds/{rid}: unknown refund 404; wrong order the controller's bare-data 500."""
        with self.lock:
            refund = self.refunds.get(rid)
            if refund is None:
                raise StoreError(404, "woocommerce_rest_shop_order_refund_invalid_id", "Invalid ID.")
            if oid not in self.orders:
                raise StoreError.bare("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
            if refund.order_id != oid:
                raise StoreError.bare("woocommerce_rest_invalid_order_refund_id", "Invalid order refund ID.", 404)
            return refund

    def order_refunds(self, oid: int) -> list[Refund]:
        """Refunds of an order, newest first (an unknown order simply has none)."""
        with self.lock:
            return sorted((r for r in self.refunds.values() if r.order_id == oid), key=lambda r: (-r.created, -r.id))

    def delete_refund(self, oid: int, rid: int) -> Refund:
        """DELETE a refund (force only): the summary goes, stock and order status stay as they are."""
        with self.lock:
            refund = self.get_refund(oid, rid)
            del self.refunds[rid]
            order = self.orders[oid]
            order.refunds = [r for r in order.refunds if r["id"] != rid]
            self._touch("orders")
            return refund
