"""The catalogue file's columns, one row per variant, and how values are written as text.

The same columns go out on export and come back on import, so export -> edit -> import round-trips: money is
written as exact decimal text (never a float), lists with ``;`` between items, options as ``Name=Value;...``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

from ecom_pipeline.warehouse.schema import hub_products, hub_variants
from ecom_pipeline.warehouse.types import Money

# Product columns repeat on every row of a product (rows are grouped by ``handle``); on import a later row may
# leave them empty, but may not contradict the first row that gives them.
# ``product_type`` is the kind (WooCommerce simple/variable); ``vendor`` and ``shopify_product_type`` are Shopify's
# vendor and free-text product type, pushed to Shopify only.
PRODUCT_COLUMNS = (
    "title",
    "description",
    "status",
    "product_type",
    "vendor",
    "shopify_product_type",
    "tags",
    "categories",
)
VARIANT_COLUMNS = (
    "sku",
    "variant_title",
    "price",
    "compare_at_price",
    "sale_price",
    "currency",
    "barcode",
    "weight",
    "options",
    "position",
)
COLUMNS = ("handle", *PRODUCT_COLUMNS, *VARIANT_COLUMNS)
REQUIRED_COLUMNS = ("handle", "title", "status", "sku", "price")
# Every optional column may be left out of a file: a column the file lacks leaves the hub's value of each existing
# product and variant as it is (a price-update file ``handle,title,status,sku,price`` must not clear descriptions,
# tags, compare-at prices or options in every shop); a new product or variant gets the column's default (empty).
# An empty cell in a column the file has still means "empty".
OPTIONAL_COLUMNS = tuple(c for c in COLUMNS if c not in REQUIRED_COLUMNS)
# A variant column's hub field, where the names differ (the product has a ``title`` too).
VARIANT_FIELDS = {"variant_title": "title"}


def _length(table: Table, column: str) -> int:
    length = getattr(table.c[column].type, "length", None)
    assert isinstance(length, int), f"{table.name}.{column} has no length"
    return length


# What the hub columns hold, read from the warehouse schema so the checks follow it: a value outside is refused
# with its row and column before anything is written, never left for the database to refuse mid-import (PostgreSQL
# raises, SQLite stores it unchecked). Shopify documents no limit of its own for vendor and product type.
TEXT_LIMITS = {c: _length(hub_products, c) for c in ("product_type", "vendor", "shopify_product_type")}
HANDLE_MAX = _length(hub_products, "handle")
SKU_MAX = _length(hub_variants, "sku")
WEIGHT_MAX = _length(hub_variants, "weight")
_MONEY: Any = Money().load_dialect_impl(postgresql.dialect())  # NUMERIC(20, 6)
MONEY_MAX_DECIMALS: int = _MONEY.scale
MONEY_LIMIT = Decimal(10) ** (_MONEY.precision - _MONEY.scale)  # amounts are below this (10^14)
POSITION_MAX = 2**31 - 1  # hub_variants.position is INTEGER (32 bits) on both backends
MONEY_COLUMNS = ("price", "compare_at_price", "sale_price")
STATUSES = ("active", "draft", "archived")
LIST_SEPARATOR = ";"

# Decimals a currency's amounts have (ISO 4217 minor units); every other currency, and no currency, has 2.
_MINOR_UNITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND"), 0),
    **dict.fromkeys(("VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


def minor_units(currency: str | None) -> int:
    """How many decimals an amount in ``currency`` may have (2 when unknown)."""
    return _MINOR_UNITS.get((currency or "").upper(), 2)


def format_money(amount: Decimal | None, currency: str | None) -> str:
    """``amount`` as exact text with the currency's decimals ("12.50"), more only when the value has them.

    PostgreSQL returns NUMERIC(20,6) as ``12.500000``; the file shows ``12.50``. A shop-computed price with more
    decimals (PrestaShop's tax-included ``23.976``) is written whole, never rounded: rounding would change it.
    """
    if amount is None:
        return ""
    places = Decimal(1).scaleb(-minor_units(currency))
    rounded = amount.quantize(places)
    if rounded == amount:
        return format(rounded, "f")
    return format(amount.normalize(), "f")


class ExportError(ValueError):
    """The hub holds something the file format cannot carry exactly; the message names it."""


def format_list(values: Iterable[str] | None, *, what: str) -> str:
    items = [str(v) for v in (values or ())]
    bad = [v for v in items if LIST_SEPARATOR in v]
    if bad:
        raise ExportError(f"{what} {bad[0]!r} contains {LIST_SEPARATOR!r}, which separates items in the file")
    return LIST_SEPARATOR.join(items)


def format_options(options: Mapping[str, str] | None, *, sku: str) -> str:
    parts = []
    for name, value in (options or {}).items():
        if any(ch in str(name) for ch in "=;") or LIST_SEPARATOR in str(value):
            raise ExportError(f"option {name!r}={value!r} of SKU {sku!r} contains '=' or ';', which the file uses")
        parts.append(f"{name}={value}")
    return LIST_SEPARATOR.join(parts)
