"""In-memory WooCommerce records and the value formats WooCommerce writes them in (money, dates, addresses).

Records are compact slotted objects; the full wc/v3 dict (70-odd keys for a product) is only built when a
record is served (:mod:`.render`), so a shop of 10,000 products, 30,000 variations and 20,000 orders fits in
memory and builds in seconds.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

WP_VERSION = "6.8.8"
WC_VERSION = "10.0.2"
ITEM_ALLOW = ["GET", "POST", "PUT", "PATCH", "DELETE"]
CENT = Decimal("0.01")
PAID_STATUSES = frozenset({"processing", "completed", "on-hold", "refunded"})
STOCK_REDUCING_STATUSES = frozenset({"processing", "completed", "on-hold"})


def money(value: Decimal | str | int | float) -> str:
    """WooCommerce money: a string with exactly 2 decimals ("9.90")."""
    return str(Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP))


def php_number(value: Decimal) -> int | float:
    """``line_items[].price`` is a PHP float: JSON ``24`` when integral, ``14.4`` otherwise."""
    return int(value) if value == value.to_integral_value() else float(value)


def wp_date(ts: int | None, tz: tzinfo) -> str | None:
    """WordPress date string without offset (``YYYY-MM-DDTHH:MM:SS``) in ``tz``."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%dT%H:%M:%S")


def empty_address(with_email: bool) -> dict[str, str]:
    keys = ["first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode", "country"]
    out = dict.fromkeys(keys, "")
    if with_email:
        out["email"] = ""
    out["phone"] = ""
    return out


@dataclass(slots=True)
class Product:
    """A simple or variable product (variations live in :class:`Variation`)."""

    id: int
    name: str
    slug: str
    type: str
    status: str
    sku: str
    regular_price: str
    sale_price: str
    created: int
    modified: int
    manage_stock: bool
    stock_quantity: int | None
    description: str = ""
    short_description: str = ""
    weight: str = ""
    global_unique_id: str = ""  # GTIN/UPC/EAN/ISBN (WooCommerce 9.2+), unique across products and variations
    dimensions: dict[str, str] = field(default_factory=lambda: {"length": "", "width": "", "height": ""})
    categories: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, Any]] = field(default_factory=list)  # ``{"id", "name", "slug"}`` of ``product_tag`` terms
    attributes: list[dict[str, Any]] = field(default_factory=list)
    default_attributes: list[dict[str, Any]] = field(default_factory=list)
    variation_ids: list[int] = field(default_factory=list)
    total_sales: int = 0
    featured: bool = False
    backorders: str = "no"
    meta_data: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    pre_trash_slug: str = ""
    pre_trash_status: str = ""  # WordPress's _wp_trash_meta_status: what a restore brings back


@dataclass(slots=True)
class Variation:
    """One variation of a variable product; ``manage_stock`` is True, False or "parent"."""

    id: int
    parent_id: int
    sku: str
    regular_price: str
    sale_price: str
    created: int
    modified: int
    manage_stock: bool | str
    stock_quantity: int | None
    attributes: list[dict[str, Any]]
    weight: str = ""
    global_unique_id: str = ""
    status: str = "publish"
    description: str = ""
    backorders: str = "no"
    meta_data: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return ", ".join(str(a["option"]) for a in self.attributes)


@dataclass(slots=True)
class LineItem:
    """An order line; ``price`` is the unit price before coupons, ``discount`` what coupons took off the line.

    Rendered like WooCommerce: ``subtotal`` before and ``total`` after the discount, and the JSON-number
    ``price`` is total/quantity (orders-list-page2.json: a 10% coupon turns 37.50 into 33.75, price 11.25).
    """

    id: int
    name: str
    product_id: int
    variation_id: int
    quantity: int
    price: Decimal
    sku: str
    parent_name: str | None
    meta_data: list[dict[str, Any]] = field(default_factory=list)
    discount: Decimal = Decimal(0)

    @property
    def subtotal(self) -> Decimal:
        return (self.price * self.quantity).quantize(CENT)

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.discount


@dataclass(slots=True)
class Order:
    """A shop order with its lines, shipping/fee lines and refunds summary."""

    id: int
    status: str
    created: int
    modified: int
    customer_id: int
    billing: dict[str, str]
    shipping: dict[str, str]
    line_items: list[LineItem]
    order_key: str
    payment_method: str = "bacs"
    payment_method_title: str = "Direct bank transfer"
    transaction_id: str = ""
    paid: int | None = None
    completed: int | None = None
    shipping_lines: list[dict[str, Any]] = field(default_factory=list)
    fee_lines: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    meta_data: list[dict[str, Any]] = field(default_factory=list)
    coupon_lines: list[dict[str, Any]] = field(default_factory=list)
    customer_note: str = ""
    created_via: str = "checkout"
    stock_reduced: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    pre_trash_status: str = ""  # WordPress's _wp_trash_meta_status: what a restore brings back

    def total(self) -> Decimal:
        items = sum((li.total for li in self.line_items), Decimal(0))
        ship = sum((Decimal(s["total"]) for s in self.shipping_lines), Decimal(0))
        fees = sum((Decimal(f["total"]) for f in self.fee_lines), Decimal(0))
        return items + ship + fees


@dataclass(slots=True)
class Customer:
    """A registered user the customers endpoint shows (role ``customer`` unless a plugin or a person gave it
    another, e.g. ``wholesale_customer``); guests are not customers."""

    id: int
    created: int
    modified: int
    email: str
    first_name: str
    last_name: str
    username: str
    billing: dict[str, str]
    shipping: dict[str, str]
    is_paying_customer: bool = False
    meta_data: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    role: str = "customer"

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.username


ORDER_STATUS_LABELS = {
    "pending": "Pending payment",
    "processing": "Processing",
    "on-hold": "On hold",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
    "failed": "Failed",
    "checkout-draft": "Draft",
    "trash": "Trash",
}


@dataclass(slots=True)
class Note:
    """An order note (a ``wp_comments`` row of type ``order_note``); it never bumps the order's date_modified."""

    id: int
    order_id: int
    created: int
    note: str
    customer_note: bool = False
    author: str = "WooCommerce"


@dataclass(slots=True)
class RefundLine:
    """A refunded line: negative quantity and total, pointing at the order line through ``_refunded_item_id``."""

    id: int
    name: str
    product_id: int
    variation_id: int
    quantity: int
    total: Decimal
    sku: str
    parent_name: str | None
    refunded_item_id: int
    meta_id: int


@dataclass(slots=True)
class Refund:
    """A ``shop_order_refund``: ``amount`` positive; the order's ``refunds`` summary shows it negated."""

    id: int
    order_id: int
    created: int
    amount: Decimal
    reason: str
    refunded_by: int
    refunded_payment: bool
    lines: list[RefundLine] = field(default_factory=list)
    meta_data: list[dict[str, Any]] = field(default_factory=list)


def slugify(text: str) -> str:
    """WordPress sanitize_title, close enough: ASCII-folded, lower-case, dash-separated."""
    text = unicodedata.normalize("NFKD", text.replace("&amp;", "")).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def customer_address(with_email: bool, **values: str) -> dict[str, str]:
    """Customer addresses order their keys city, postcode, country, state (unlike orders)."""
    keys = ["first_name", "last_name", "company", "address_1", "address_2", "city", "postcode", "country", "state"]
    out = {k: values.get(k, "") for k in keys}
    if with_email:
        out["email"] = values.get("email", "")
    out["phone"] = values.get("phone", "")
    return out


def order_address(with_email: bool, **values: str) -> dict[str, str]:
    """Order addresses order their keys city, state, postcode, country."""
    keys = ["first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode", "country"]
    out = {k: values.get(k, "") for k in keys}
    if with_email:
        out["email"] = values.get("email", "")
    out["phone"] = values.get("phone", "")
    return out
