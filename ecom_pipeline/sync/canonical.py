"""The canonical model: what every platform's transform produces and the resolver merges into the hub.

Each platform's ``transform`` module is the only place that knows that platform's field names; everything after
it (resolve, export, checks) speaks these dataclasses. Money is ``Decimal`` and times are aware UTC ``datetime``
here, by construction: ``__post_init__`` refuses floats and naive times so a transform bug fails loudly at the
boundary instead of rounding a price or shifting an order by an hour.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any


class CanonicalError(ValueError):
    """A value that cannot be represented in the canonical model (e.g. a float price, a naive time)."""


def _check_money(owner: str, name: str, value: Any) -> None:
    if value is not None and not isinstance(value, Decimal):
        raise CanonicalError(f"{owner}.{name} must be Decimal or None, got {type(value).__name__} {value!r}")


def _check_time(owner: str, name: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise CanonicalError(f"{owner}.{name} must be a timezone-aware datetime, got {value!r}")


def _validate(obj: Any, money: tuple[str, ...], times: tuple[str, ...]) -> None:
    owner = type(obj).__name__
    for name in money:
        _check_money(owner, name, getattr(obj, name))
    for name in times:
        _check_time(owner, name, getattr(obj, name))


@dataclass(frozen=True)
class CanonicalVariant:
    """One sellable item. SKU is the cross-shop key; a simple product has exactly one variant."""

    external_id: str
    sku: str | None
    title: str | None
    # The price a buyer sees (tax included where the platform can tell, reductions applied where it computes
    # them); ``price_includes_tax`` says whether it includes tax (None: the platform cannot tell).
    price: Decimal | None
    compare_at_price: Decimal | None = None
    # The reduced price: ``price`` while a sale is in force (a compare-at above it), else a sale the shop has
    # scheduled (WooCommerce ``sale_price`` with future sale dates) or None. See ``sale_price_of``.
    sale_price: Decimal | None = None
    # GTIN / EAN / UPC / ISBN as the shop keeps it (text: leading zeros matter).
    barcode: str | None = None
    price_tax_excl: Decimal | None = None
    price_includes_tax: bool | None = None
    currency: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    weight: str | None = None
    position: int | None = None
    # Stock as the shop reports it. ``None`` quantity with ``managed=False`` means "not tracked".
    stock_quantity: int | None = None
    stock_managed: bool = False
    stock_status: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # The platform's GraphQL global id beside the numeric ``external_id`` (Shopify: gid://shopify/ProductVariant/1).
    external_gid: str | None = None

    def __post_init__(self) -> None:
        _validate(self, ("price", "compare_at_price", "sale_price", "price_tax_excl"), ("created_at", "updated_at"))


@dataclass(frozen=True)
class CanonicalProduct:
    """A product with its variants, as one shop sees it."""

    external_id: str
    title: str
    status: str  # active | draft | archived
    variants: tuple[CanonicalVariant, ...]
    description: str | None = None
    # The product's kind where the platform has one (WooCommerce ``simple``/``variable``, PrestaShop ``standard``/
    # ``combinations``): what the WooCommerce push reads to choose simple or variable. None where it has none.
    product_type: str | None = None
    handle: str | None = None
    # Shopify's brand/maker and free-text product type ("Mugs"). None where the platform has no such field
    # (WooCommerce, PrestaShop), which resolve reads as "not known here": it never blanks another shop's value.
    # Shopify's empty value is "" (known to be empty).
    vendor: str | None = None
    shopify_product_type: str | None = None
    tags: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    external_gid: str | None = None  # GraphQL global id where the platform has one (Shopify)
    # Fields this reading says nothing about (unknown, not empty): a Shopify product read without its collections
    # (``shopify_collections`` off, or a REST body) has no categories to tell. Resolve leaves such a field alone
    # (no pull, no conflict, base kept). Decided by the reading itself, not by the settings when it is applied, so a
    # setting changed between read and apply cannot turn an unread field into an empty one. Never in snapshots.
    unread: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        _validate(self, (), ("created_at", "updated_at"))


@dataclass(frozen=True)
class CanonicalInventory:
    """Stock of one item at one location of one shop."""

    variant_external_id: str
    sku: str | None
    location: str
    available: int | None
    managed: bool
    stock_status: str | None = None
    updated_at: datetime | None = None
    # Rows with the same stock_pool draw on one shared quantity (e.g. WooCommerce variations whose stock is managed
    # by the parent product): count the pool once, not once per row.
    stock_pool: str | None = None

    def __post_init__(self) -> None:
        _validate(self, (), ("updated_at",))


@dataclass(frozen=True)
class CanonicalCustomer:
    """A customer; email (lower-cased) is the cross-shop key."""

    external_id: str
    email: str | None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    company: str | None = None
    city: str | None = None
    country: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    external_gid: str | None = None  # GraphQL global id where the platform has one (Shopify)

    def __post_init__(self) -> None:
        _validate(self, (), ("created_at", "updated_at"))


@dataclass(frozen=True)
class CanonicalOrderLine:
    """One order line; ``variant_external_id`` and ``sku`` are how the resolver finds the hub variant."""

    external_id: str
    variant_external_id: str | None
    sku: str | None
    title: str | None
    quantity: int
    unit_price: Decimal | None
    subtotal: Decimal | None
    total: Decimal | None
    tax: Decimal | None

    def __post_init__(self) -> None:
        _validate(self, ("unit_price", "subtotal", "total", "tax"), ())


@dataclass(frozen=True)
class CanonicalOrder:
    """An order with its lines, in the shop currency."""

    external_id: str
    order_number: str | None
    status: str
    financial_status: str | None
    fulfillment_status: str | None
    currency: str
    subtotal: Decimal | None
    discount_total: Decimal | None
    shipping_total: Decimal | None
    tax_total: Decimal | None
    total: Decimal
    refunded_total: Decimal | None
    lines: tuple[CanonicalOrderLine, ...]
    customer_external_id: str | None = None
    email: str | None = None
    placed_at: datetime | None = None
    paid_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime | None = None
    external_gid: str | None = None  # GraphQL global id where the platform has one (Shopify)
    # What the buyer saw when it differs from the shop currency (Shopify presentmentMoney); ``currency``/``total``
    # stay in the shop currency so sums over orders never mix currencies.
    presentment_currency: str | None = None
    presentment_total: Decimal | None = None

    def __post_init__(self) -> None:
        _validate(
            self,
            (
                "subtotal",
                "discount_total",
                "shipping_total",
                "tax_total",
                "total",
                "refunded_total",
                "presentment_total",
            ),
            ("placed_at", "paid_at", "completed_at", "updated_at"),
        )


def with_tax_flag(variants: tuple[CanonicalVariant, ...], includes_tax: bool | None) -> tuple[CanonicalVariant, ...]:
    """Variants whose ``price`` is the price as the merchant entered it, flagged with whether it includes tax.

    For platforms that do not compute the tax themselves (WooCommerce, Shopify): when prices are entered without
    tax, ``price_tax_excl`` is ``price``; when they include tax, the tax-excluded price depends on the buyer's
    address and stays None; when it is unknown, both stay None.
    """
    return tuple(
        replace(v, price_includes_tax=includes_tax, price_tax_excl=v.price if includes_tax is False else None)
        for v in variants
    )


def sale_price_of(price: Decimal | None, compare_at_price: Decimal | None) -> Decimal | None:
    """The sale price of a platform that keeps no sale price apart (Shopify, PrestaShop): the price while a sale
    is in force (a compare-at above it), else none. The hub means the same by ``sale_price`` for every platform,
    so a product pulled from one shop pushes the same sale to WooCommerce."""
    if price is not None and compare_at_price is not None and compare_at_price > price:
        return price
    return None
