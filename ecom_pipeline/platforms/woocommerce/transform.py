"""WooCommerce wc/v3 payloads -> canonical records. The ONLY module that knows WooCommerce field names.

Rules that come from the recorded store (``fixtures/recorded/woocommerce-10.0.2``), not from guesswork:

- Money is a decimal string ("9.90", refunds "-26.00"), except ``line_items[].price`` which is a JSON number
  computed by PHP as a float; we derive the unit price from ``subtotal / quantity`` in Decimal and only fall back
  to ``price`` (via ``Decimal(str(x))``, never ``Decimal(float)``) when the quantity is zero.
- ``date_*`` are store-local without offset; only the ``*_gmt`` twins are used (UTC, no offset either).
- ``manage_stock`` is True/False on products and True/False/"parent" on variations. "parent" means the variation
  has no stock of its own: ``stock_quantity`` mirrors the parent's shared pool.

Stock shared with the parent (see ``inventory_from_product``): every variant reports what the shop shows (the
pool's quantity, ``stock_managed=True``), and each parent-managed variation's inventory row carries
``stock_pool="product:<parent id>"``, the same value on every row drawing on that pool. The hub's inventory is keyed
by variant (the parent of a variable product is not a sellable variant), so the pool cannot be one row of its own;
the shared ``stock_pool`` is what tells analysts and the stock ledger to count it once. ``stock_owner_ids`` tells
export which id to write a variant's stock to.

Every malformed input raises :class:`TransformError` naming the record and field; callers reject that record only.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from ecom_pipeline.platforms.errors import TransformError
from ecom_pipeline.sync.canonical import (
    CanonicalCustomer,
    CanonicalInventory,
    CanonicalOrder,
    CanonicalOrderLine,
    CanonicalProduct,
    CanonicalVariant,
    with_tax_flag,
)

DEFAULT_LOCATION = "default"  # WooCommerce core has a single stock location

PRODUCT_STATUS = {
    "publish": "active",
    "draft": "draft",
    "pending": "draft",
    "private": "draft",
    "future": "draft",
    "trash": "archived",
}
ORDER_FINANCIAL_STATUS = {
    "pending": "pending",
    "on-hold": "pending",
    "checkout-draft": "pending",
    "processing": "paid",
    "completed": "paid",
    "refunded": "refunded",
    "cancelled": "voided",
    "failed": "voided",
}
ORDER_FULFILLMENT_STATUS = {"completed": "fulfilled", "cancelled": "cancelled"}
_TWO_PLACES = Decimal("0.01")
_FOUR_PLACES = Decimal("0.0001")
_TRASHED_SUFFIX = "__trashed"


# -- field readers ----------------------------------------------------------------------------------------------


def _external_id(entity: str, payload: Mapping[str, Any], field: str = "id") -> str:
    if not isinstance(payload, Mapping):
        raise TransformError(entity, None, field, f"expected a JSON object, found {type(payload).__name__}")
    value = payload.get(field)
    if isinstance(value, bool) or value is None or value == "" or value == 0:
        raise TransformError(entity, None, field, f"missing or empty id, found {value!r}")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return str(value).strip()
    raise TransformError(entity, None, field, f"expected an integer id, found {value!r}")


def _money(entity: str, external_id: str | None, field: str, value: Any) -> Decimal | None:
    """Decimal from a WooCommerce money value; "" and None mean "no value"."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise TransformError(entity, external_id, field, f"expected a decimal amount, found {value!r}")
    if isinstance(value, float):
        value = str(value)  # repr of a float is its shortest round-trip text: 26.1 stays 26.1, not 26.10000000001
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, int) else Decimal(value)
    except InvalidOperation:
        raise TransformError(entity, external_id, field, f"expected a decimal amount, found {value!r}") from None
    if not amount.is_finite():
        raise TransformError(entity, external_id, field, f"expected a finite decimal amount, found {value!r}")
    return amount


def _required_money(entity: str, external_id: str, field: str, value: Any) -> Decimal:
    amount = _money(entity, external_id, field, value)
    if amount is None:
        raise TransformError(entity, external_id, field, f"required amount is missing, found {value!r}")
    return amount


def _int(entity: str, external_id: str | None, field: str, value: Any, *, allow_negative: bool = True) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise TransformError(entity, external_id, field, f"expected an integer, found {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise TransformError(entity, external_id, field, f"expected an integer, found {value!r}")
    if not allow_negative and value < 0:
        raise TransformError(entity, external_id, field, f"expected a non-negative integer, found {value!r}")
    return value


def _gmt(entity: str, external_id: str | None, payload: Mapping[str, Any], field: str) -> datetime | None:
    """A ``*_gmt`` field (``YYYY-MM-DDTHH:MM:SS``, UTC, no offset) as an aware UTC datetime."""
    value = payload.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TransformError(entity, external_id, field, f"expected a date-time string, found {value!r}")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise TransformError(
            entity, external_id, field, f"expected a UTC date-time like 2026-11-22T00:09:21, found {value!r}"
        ) from None
    if parsed.tzinfo is not None:  # not what 10.0.2 sends, but an explicit offset is unambiguous
        return parsed.astimezone(UTC)
    return parsed.replace(tzinfo=UTC)


def _text(value: Any) -> str | None:
    """Non-empty string or None; WooCommerce uses "" for "not set"."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _name(value: Any) -> str | None:
    """Names come back HTML-escaped when WordPress sanitised them ("Mugs &amp; Cups")."""
    text = _text(value)
    return html.unescape(text) if text else None


def _mapping(value: Any) -> Mapping[str, Any]:
    """A nested object such as ``billing``, or empty when the shop sent null or a non-object."""
    return value if isinstance(value, Mapping) else {}


def _email(value: Any) -> str | None:
    text = _text(value)
    return text.lower() if text else None


def _bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "yes", "1"))


# -- products ---------------------------------------------------------------------------------------------------


def _split_record(record: Mapping[str, Any]) -> tuple[Mapping[str, Any], list[Mapping[str, Any]]]:
    """Staged records are ``{"product": ..., "variations": [...]}``; a bare product (webhook) is accepted too."""
    if not isinstance(record, Mapping):
        raise TransformError("product", None, "product", f"expected a JSON object, found {type(record).__name__}")
    if "product" in record:
        product = record["product"]
        variations = record.get("variations") or []
    else:
        product, variations = record, []
    if not isinstance(product, Mapping):
        raise TransformError("product", None, "product", f"expected a JSON object, found {type(product).__name__}")
    if not isinstance(variations, list):
        pid = str(product.get("id")) if product.get("id") else None
        raise TransformError("product", pid, "variations", f"expected a list, found {type(variations).__name__}")
    return product, variations


def _prices(entity: str, external_id: str, payload: Mapping[str, Any]) -> tuple[Decimal | None, Decimal | None]:
    """(price, compare_at_price): ``price`` is the active price; the regular price is the compare-at when on sale."""
    price = _money(entity, external_id, "price", payload.get("price"))
    regular = _money(entity, external_id, "regular_price", payload.get("regular_price"))
    _money(entity, external_id, "sale_price", payload.get("sale_price"))  # validate even if unused
    if price is None:
        price = regular
    compare_at = None
    if _bool(payload.get("on_sale")) and regular is not None and price is not None and regular > price:
        compare_at = regular
    return price, compare_at


def _stock(entity: str, external_id: str, payload: Mapping[str, Any]) -> tuple[int | None, bool, bool]:
    """(quantity, managed, managed_by_parent). Negative stock is legitimate (backorders), so not refused."""
    manage = payload.get("manage_stock")
    quantity = _int(entity, external_id, "stock_quantity", payload.get("stock_quantity"))
    if manage == "parent":
        return quantity, True, True
    if manage is True:
        return quantity, True, False
    if manage in (False, None, ""):
        return None, False, False
    raise TransformError(entity, external_id, "manage_stock", f'expected true, false or "parent", found {manage!r}')


def _options(entity: str, external_id: str, variation: Mapping[str, Any]) -> dict[str, str]:
    options: dict[str, str] = {}
    attributes = variation.get("attributes") or []
    if not isinstance(attributes, list):
        raise TransformError(entity, external_id, "attributes", f"expected a list, found {attributes!r}")
    for attribute in attributes:
        if not isinstance(attribute, Mapping):
            raise TransformError(entity, external_id, "attributes", f"expected objects, found {attribute!r}")
        name = _name(attribute.get("name"))
        option = _text(attribute.get("option"))
        if name and option:  # option "" means "any value" for this attribute: not an option of the variant
            options[name] = option
    return options


def _simple_variant(product: Mapping[str, Any], product_id: str, currency: str | None) -> CanonicalVariant:
    price, compare_at = _prices("product", product_id, product)
    quantity, managed, _ = _stock("product", product_id, product)
    return CanonicalVariant(
        external_id=product_id,
        sku=_text(product.get("sku")),
        title=_name(product.get("name")),
        price=price,
        compare_at_price=compare_at,
        currency=currency,
        options={},
        weight=_text(product.get("weight")),
        position=0,
        stock_quantity=quantity,
        stock_managed=managed,
        stock_status=_text(product.get("stock_status")),
        created_at=_gmt("product", product_id, product, "date_created_gmt"),
        updated_at=_gmt("product", product_id, product, "date_modified_gmt"),
    )


def variant_from_variation(
    variation: Mapping[str, Any],
    parent: Mapping[str, Any] | None = None,
    *,
    position: int | None = None,
    currency: str | None = None,
) -> CanonicalVariant:
    """One WooCommerce variation -> a canonical variant (also used for ``product.*`` webhooks of variations).

    Weight "" on a variation means "inherit the parent's"; parent-managed stock is reported as the pool's
    quantity with ``stock_managed=True`` (see the module docstring for how inventory avoids double counting).
    """
    variation_id = _external_id("variation", variation)
    price, compare_at = _prices("variation", variation_id, variation)
    quantity, managed, _by_parent = _stock("variation", variation_id, variation)
    weight = _text(variation.get("weight")) or (_text(parent.get("weight")) if parent else None)
    return CanonicalVariant(
        external_id=variation_id,
        sku=_text(variation.get("sku")),
        title=_name(variation.get("name")),
        price=price,
        compare_at_price=compare_at,
        currency=currency,
        options=_options("variation", variation_id, variation),
        weight=weight,
        position=position
        if position is not None
        else _int("variation", variation_id, "menu_order", variation.get("menu_order")),
        stock_quantity=quantity,
        stock_managed=managed,
        stock_status=_text(variation.get("stock_status")),
        created_at=_gmt("variation", variation_id, variation, "date_created_gmt"),
        updated_at=_gmt("variation", variation_id, variation, "date_modified_gmt"),
    )


def _sorted_variations(variations: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Variations in shop display order (menu_order, then id): that order is the variant position."""

    def key(variation: Mapping[str, Any]) -> tuple[int, int]:
        order = variation.get("menu_order")
        vid = variation.get("id")
        return (order if isinstance(order, int) else 0, vid if isinstance(vid, int) else 0)

    return sorted(variations, key=key)


def _terms(entity: str, external_id: str, product: Mapping[str, Any], field: str) -> tuple[str, ...]:
    terms = product.get(field) or []
    if not isinstance(terms, list):
        raise TransformError(entity, external_id, field, f"expected a list, found {terms!r}")
    names = [_name(term.get("name")) if isinstance(term, Mapping) else _name(term) for term in terms]
    return tuple(name for name in names if name)


def _prices_include_tax(record: Mapping[str, Any], product: Mapping[str, Any]) -> bool | None:
    """Whether the entered prices include tax: False for a product not taxed at all (``tax_status`` none), else
    the store setting ``woocommerce_prices_include_tax`` when the extract staged it (``prices_include_tax``),
    else None: the product API does not say."""
    if product.get("tax_status") == "none":
        return False
    flag = record.get("prices_include_tax") if isinstance(record, Mapping) else None
    return flag if isinstance(flag, bool) else None


def product_to_canonical(record: Mapping[str, Any], *, currency: str | None = None) -> CanonicalProduct:
    """A staged ``{"product", "variations"}`` record -> CanonicalProduct.

    Non-variable products (simple, external, grouped) have one variant whose external id is the product id. A
    variable product has one variant per variation (none if it has no variations yet). ``currency`` is the store
    currency (products do not carry it; system_status does).
    """
    product, variations = _split_record(record)
    product_id = _external_id("product", product)
    product_type = _text(product.get("type"))
    if product_type == "variation":
        raise TransformError(
            "product",
            product_id,
            "type",
            "a variation is not a product: transform it with variant_from_variation(variation, parent)",
        )
    raw_status = _text(product.get("status"))
    status = PRODUCT_STATUS.get(raw_status or "", "draft")  # unknown (plugin) statuses: not visible, so draft
    if product_type == "variable":
        variants = tuple(
            variant_from_variation(variation, product, position=index, currency=currency)
            for index, variation in enumerate(_sorted_variations(variations))
        )
    else:
        variants = (_simple_variant(product, product_id, currency),)
    title = _name(product.get("name"))
    if title is None:
        raise TransformError("product", product_id, "name", f"a product needs a name, found {product.get('name')!r}")
    handle = _text(product.get("slug"))
    if handle and handle.endswith(_TRASHED_SUFFIX):
        handle = handle[: -len(_TRASHED_SUFFIX)] or None
    return CanonicalProduct(
        external_id=product_id,
        title=title,
        status=status,
        variants=with_tax_flag(variants, _prices_include_tax(record, product)),
        description=_text(product.get("description")),
        product_type=product_type,
        handle=handle,
        tags=_terms("product", product_id, product, "tags"),
        categories=_terms("product", product_id, product, "categories"),
        created_at=_gmt("product", product_id, product, "date_created_gmt"),
        updated_at=_gmt("product", product_id, product, "date_modified_gmt"),
    )


def inventory_from_product(record: Mapping[str, Any]) -> list[CanonicalInventory]:
    """One inventory row per sellable item at location "default".

    - simple product: the product's own row;
    - variation with its own stock (or untracked): its own row;
    - variations with ``manage_stock == "parent"``: one row each, all showing the parent's quantity and all
      carrying ``stock_pool="product:<parent id>"`` so the shared pool is counted once, not once per variation.
    """
    product, variations = _split_record(record)
    product_id = _external_id("product", product)
    if _text(product.get("type")) != "variable":
        quantity, managed, _ = _stock("product", product_id, product)
        return [
            CanonicalInventory(
                variant_external_id=product_id,
                sku=_text(product.get("sku")),
                location=DEFAULT_LOCATION,
                available=quantity,
                managed=managed,
                stock_status=_text(product.get("stock_status")),
                updated_at=_gmt("product", product_id, product, "date_modified_gmt"),
            )
        ]
    pool_quantity = _int("product", product_id, "stock_quantity", product.get("stock_quantity"))
    rows: list[CanonicalInventory] = []
    for variation in _sorted_variations(variations):
        variation_id = _external_id("variation", variation)
        quantity, managed, by_parent = _stock("variation", variation_id, variation)
        if by_parent and pool_quantity is not None:
            quantity = pool_quantity  # the parent is the truth; a variation's mirror may lag behind it
        rows.append(
            CanonicalInventory(
                variant_external_id=variation_id,
                sku=_text(variation.get("sku")),
                location=DEFAULT_LOCATION,
                available=quantity,
                managed=True if by_parent else managed,
                stock_status=_text(variation.get("stock_status")),
                updated_at=_gmt("variation", variation_id, variation, "date_modified_gmt"),
                stock_pool=f"product:{product_id}" if by_parent else None,
            )
        )
    return rows


def stock_owner_ids(record: Mapping[str, Any]) -> dict[str, str]:
    """variant external id -> the id whose ``stock_quantity`` holds its stock (the parent for "parent" stock).

    Export needs it: writing stock to a parent-managed variation would not change the pool.
    """
    product, variations = _split_record(record)
    product_id = _external_id("product", product)
    if _text(product.get("type")) != "variable":
        return {product_id: product_id}
    owners: dict[str, str] = {}
    for variation in variations:
        variation_id = _external_id("variation", variation)
        owners[variation_id] = product_id if variation.get("manage_stock") == "parent" else variation_id
    return owners


# -- orders -----------------------------------------------------------------------------------------------------


def _unit_price(order_id: str, line_id: str, line: Mapping[str, Any], quantity: int) -> Decimal | None:
    """subtotal / quantity in Decimal (pre-discount unit price); the float ``price`` only when quantity is 0."""
    subtotal = _money("order", order_id, f"line_items[{line_id}].subtotal", line.get("subtotal"))
    if subtotal is not None and quantity > 0:
        unit = subtotal / quantity
        exact = unit.quantize(_TWO_PLACES, rounding=ROUND_HALF_EVEN)
        return exact if exact == unit else unit.quantize(_FOUR_PLACES, rounding=ROUND_HALF_EVEN)
    return _money("order", order_id, f"line_items[{line_id}].price", line.get("price"))


def _order_line(order_id: str, line: Any, index: int) -> CanonicalOrderLine:
    if not isinstance(line, Mapping):
        raise TransformError("order", order_id, f"line_items[{index}]", f"expected an object, found {line!r}")
    line_id_value = line.get("id")
    if isinstance(line_id_value, bool) or not isinstance(line_id_value, int | str) or not str(line_id_value).strip():
        raise TransformError("order", order_id, f"line_items[{index}].id", f"missing line id, found {line_id_value!r}")
    line_id = str(line_id_value)
    quantity = _int("order", order_id, f"line_items[{line_id}].quantity", line.get("quantity"), allow_negative=False)
    if quantity is None:
        raise TransformError("order", order_id, f"line_items[{line_id}].quantity", "quantity is missing")
    variation_id = _int("order", order_id, f"line_items[{line_id}].variation_id", line.get("variation_id")) or 0
    product_id = _int("order", order_id, f"line_items[{line_id}].product_id", line.get("product_id")) or 0
    # product_id 0: the product was deleted since; the SKU (kept on the line) is then the only key.
    variant_id = str(variation_id) if variation_id else (str(product_id) if product_id else None)
    return CanonicalOrderLine(
        external_id=line_id,
        variant_external_id=variant_id,
        sku=_text(line.get("sku")),
        title=_name(line.get("name")),
        quantity=quantity,
        unit_price=_unit_price(order_id, line_id, line, quantity),
        subtotal=_money("order", order_id, f"line_items[{line_id}].subtotal", line.get("subtotal")),
        total=_money("order", order_id, f"line_items[{line_id}].total", line.get("total")),
        tax=_money("order", order_id, f"line_items[{line_id}].total_tax", line.get("total_tax")),
    )


def _refunded_total(order_id: str, order: Mapping[str, Any]) -> Decimal:
    refunds = order.get("refunds") or []
    if not isinstance(refunds, list):
        raise TransformError("order", order_id, "refunds", f"expected a list, found {refunds!r}")
    total = Decimal("0.00")
    for index, refund in enumerate(refunds):
        if not isinstance(refund, Mapping):
            raise TransformError("order", order_id, f"refunds[{index}]", f"expected an object, found {refund!r}")
        amount = _money("order", order_id, f"refunds[{index}].total", refund.get("total"))
        if amount is not None:
            total += -amount  # the order's refund summary carries negative totals ("-26.00")
    return total


def _financial_status(status: str, total: Decimal, refunded: Decimal) -> str | None:
    if status == "refunded":
        return "refunded"
    if refunded > 0:
        return "refunded" if refunded >= total else "partially_refunded"
    return ORDER_FINANCIAL_STATUS.get(status)


def order_to_canonical(order: Mapping[str, Any]) -> CanonicalOrder:
    """A wc/v3 order -> CanonicalOrder (money in the order currency, times UTC from the ``_gmt`` fields)."""
    order_id = _external_id("order", order)
    status = _text(order.get("status"))
    if status is None:
        raise TransformError("order", order_id, "status", f"missing status, found {order.get('status')!r}")
    currency = _text(order.get("currency"))
    if currency is None:
        raise TransformError("order", order_id, "currency", f"missing currency, found {order.get('currency')!r}")
    raw_lines = order.get("line_items") or []
    if not isinstance(raw_lines, list):
        raise TransformError("order", order_id, "line_items", f"expected a list, found {raw_lines!r}")
    lines = tuple(_order_line(order_id, line, index) for index, line in enumerate(raw_lines))
    total = _required_money("order", order_id, "total", order.get("total"))
    refunded = _refunded_total(order_id, order)
    subtotals = [line.subtotal for line in lines if line.subtotal is not None]
    customer_id = _int("order", order_id, "customer_id", order.get("customer_id"))
    billing = _mapping(order.get("billing"))
    return CanonicalOrder(
        external_id=order_id,
        order_number=_text(order.get("number")),
        status=status,
        financial_status=_financial_status(status, total, refunded),
        fulfillment_status=ORDER_FULFILLMENT_STATUS.get(status, "unfulfilled"),
        currency=currency,
        subtotal=sum(subtotals, Decimal("0.00")) if subtotals else (Decimal("0.00") if not lines else None),
        discount_total=_money("order", order_id, "discount_total", order.get("discount_total")),
        shipping_total=_money("order", order_id, "shipping_total", order.get("shipping_total")),
        tax_total=_money("order", order_id, "total_tax", order.get("total_tax")),
        total=total,
        refunded_total=refunded,
        lines=lines,
        customer_external_id=str(customer_id) if customer_id else None,  # 0 = guest checkout
        email=_email(billing.get("email")),
        placed_at=_gmt("order", order_id, order, "date_created_gmt"),
        paid_at=_gmt("order", order_id, order, "date_paid_gmt"),
        completed_at=_gmt("order", order_id, order, "date_completed_gmt"),
        updated_at=_gmt("order", order_id, order, "date_modified_gmt"),
    )


# -- customers --------------------------------------------------------------------------------------------------


def customer_to_canonical(customer: Mapping[str, Any]) -> CanonicalCustomer:
    """A wc/v3 customer -> CanonicalCustomer; billing fills what the account itself leaves empty."""
    customer_id = _external_id("customer", customer)
    billing = _mapping(customer.get("billing"))
    shipping = _mapping(customer.get("shipping"))
    email = _email(customer.get("email")) or _email(billing.get("email"))
    return CanonicalCustomer(
        external_id=customer_id,
        email=email,
        first_name=_text(customer.get("first_name")) or _text(billing.get("first_name")),
        last_name=_text(customer.get("last_name")) or _text(billing.get("last_name")),
        phone=_text(billing.get("phone")) or _text(shipping.get("phone")),
        company=_text(billing.get("company")) or _text(shipping.get("company")),
        city=_text(billing.get("city")) or _text(shipping.get("city")),
        country=_text(billing.get("country")) or _text(shipping.get("country")),
        created_at=_gmt("customer", customer_id, customer, "date_created_gmt"),
        updated_at=_gmt("customer", customer_id, customer, "date_modified_gmt"),
    )


def source_updated_at(payload: Mapping[str, Any]) -> datetime | None:
    """When the shop last modified this product/order/customer (``date_modified_gmt``), UTC; None if absent.

    Accepts a staged product record too; for it the parent's time is used (WooCommerce bumps the parent's
    date_modified when a variation changes).
    """
    if isinstance(payload, Mapping) and isinstance(payload.get("product"), Mapping):
        payload = payload["product"]
    if not isinstance(payload, Mapping):
        raise TransformError("payload", None, "date_modified_gmt", f"expected an object, found {payload!r}")
    raw_id = payload.get("id")
    return _gmt("record", str(raw_id) if raw_id else None, payload, "date_modified_gmt")


__all__ = [
    "DEFAULT_LOCATION",
    "TransformError",
    "customer_to_canonical",
    "inventory_from_product",
    "order_to_canonical",
    "product_to_canonical",
    "source_updated_at",
    "stock_owner_ids",
    "variant_from_variation",
]
