"""Shopify payloads -> canonical records. The ONLY module that knows Shopify field names.

Two shapes of the same records arrive here and must give **identical** canonical records for the same shop state,
or a webhook followed by a poll would flip the hub back and forth:

- GraphQL Admin API nodes (what extract stages): camelCase, ``legacyResourceId`` + ``id`` (gid), money as
  ``MoneyBag { shopMoney presentmentMoney }``, nested connections as ``{"nodes": [...]}``;
- REST-shaped bodies (webhooks deliver them, and the documented REST samples): snake_case, numeric ``id`` +
  ``admin_graphql_api_id``, money as strings and ``*_set { shop_money presentment_money }``.

Rules:

- ``external_id`` is the numeric id as a string (``legacyResourceId`` / REST ``id``); ``external_gid`` keeps the
  global id. Order lines have no legacy id in GraphQL, so their id is the numeric tail of the gid (equal to REST).
- Money is Decimal from the ``amount`` strings (never float). ``currency`` / ``total`` are the shop currency
  (``shopMoney``); what the buyer saw (``presentmentMoney``) goes to ``presentment_currency`` / ``presentment_total``.
- Times carry an offset (REST: shop-local ``-05:00``; GraphQL: ``Z``) and become aware UTC; a time without offset
  is refused rather than guessed.
- ``financial_status`` is ``displayFinancialStatus`` / ``financial_status`` lower-cased (paid, pending, authorized,
  partially_paid, partially_refunded, refunded, voided, expired); ``fulfillment_status`` likewise (REST ``null`` is
  ``unfulfilled``, ``partial`` is ``partially_fulfilled``). ``status`` is cancelled / closed / open.
- Inventory rows are per (variant, location); ``location`` is the Shopify **location legacy id** (names can be
  renamed, ids cannot). ``managed`` is the inventory item's ``tracked``.
- Variant ``weight`` is left empty in both shapes: GraphQL keeps it on the inventory item's measurement, which the
  catalogue query does not read (it would add cost to every page), and filling it from webhooks only would flap.

Every malformed input raises :class:`TransformError` naming the record and field; callers reject that record only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
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

PRODUCT_STATUS = {"active": "active", "draft": "draft", "archived": "archived", "unlisted": "active"}
FULFILLMENT_ALIASES = {"partial": "partially_fulfilled", "null": "unfulfilled"}
_ZERO = Decimal("0.00")


# -- field readers --------------------------------------------------------------------------------------------------


def _obj(entity: str, record_id: str | None, field: str, value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TransformError(entity, record_id, field, f"expected an object, found {value!r}")
    return value


def _list(entity: str, record_id: str | None, field: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, Mapping) and "nodes" in value:  # a GraphQL connection
        value = value.get("nodes")
    if isinstance(value, Mapping) and "edges" in value:
        value = [e.get("node") for e in value.get("edges") or [] if isinstance(e, Mapping)]
    if not isinstance(value, list):
        raise TransformError(entity, record_id, field, f"expected a list, found {value!r}")
    return value


def numeric_id(value: Any) -> str | None:
    """A positive numeric id as a string from an int, a digit string or a gid (``gid://shopify/Product/1``)."""
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, int):
        return str(value) if value > 0 else None
    text = str(value).strip()
    if text.startswith("gid://"):
        text = text.rsplit("/", 1)[-1].split("?", 1)[0]
    return text if text.isdigit() and int(text) > 0 else None


def record_id(entity: str, payload: Any) -> str:
    """The numeric id (``legacyResourceId``, REST ``id``, or the tail of the gid) as a string."""
    if not isinstance(payload, Mapping):
        raise TransformError(entity, None, "id", f"expected a JSON object, found {type(payload).__name__}")
    for field in ("legacyResourceId", "id"):
        value = payload.get(field)
        if value is None:
            continue
        numeric = numeric_id(value)
        if numeric is None:
            raise TransformError(entity, None, field, f"expected a numeric id or gid, found {value!r}")
        return numeric
    raise TransformError(entity, None, "id", "missing id (neither legacyResourceId nor id)")


def _gid(payload: Mapping[str, Any]) -> str | None:
    for field in ("admin_graphql_api_id", "id"):
        value = payload.get(field)
        if isinstance(value, str) and value.startswith("gid://"):
            return value
    return None


def _money(entity: str, record: str | None, field: str, value: Any) -> Decimal | None:
    """Decimal from a Money string (or MoneyV2 ``{"amount"}``); None/"" mean no value. Floats are refused."""
    if isinstance(value, Mapping):
        value = value.get("amount")
    if value is None or value == "":
        return None
    if isinstance(value, bool | float):
        raise TransformError(entity, record, field, f"expected a decimal amount string, found {value!r}")
    try:
        amount = Decimal(value) if isinstance(value, int) else Decimal(str(value).strip())
    except InvalidOperation:
        raise TransformError(entity, record, field, f"expected a decimal amount, found {value!r}") from None
    if not amount.is_finite():
        raise TransformError(entity, record, field, f"expected a finite amount, found {value!r}")
    return amount


def _bag(entity: str, record: str | None, field: str, bag: Any, side: str = "shop") -> Decimal | None:
    """An amount from a MoneyBag (``shopMoney``/``presentmentMoney``) or a REST ``*_set`` (``shop_money``...)."""
    if bag is None:
        return None
    bag = _obj(entity, record, field, bag)
    keys = ("shopMoney", "shop_money") if side == "shop" else ("presentmentMoney", "presentment_money")
    for key in keys:
        if key in bag:
            return _money(entity, record, f"{field}.{key}.amount", bag.get(key))
    raise TransformError(entity, record, field, f"expected a money bag with {keys[0]}, found {dict(bag)!r}")


def _int(entity: str, record: str | None, field: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TransformError(entity, record, field, f"expected an integer, found {value!r}")
    try:
        return int(value)
    except ValueError:
        raise TransformError(entity, record, field, f"expected an integer, found {value!r}") from None


def _time(entity: str, record: str | None, field: str, value: Any) -> datetime | None:
    """ISO 8601 with an offset (``Z`` or ``-05:00``) -> aware UTC; no offset is an error, not a guess."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TransformError(entity, record, field, f"expected a date-time string, found {value!r}")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise TransformError(entity, record, field, f"expected an ISO 8601 date-time, found {value!r}") from None
    if parsed.tzinfo is None:
        raise TransformError(entity, record, field, f"date-time without offset is ambiguous: {value!r}")
    return parsed.astimezone(UTC)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _email(value: Any) -> str | None:
    text = _text(value)
    return text.lower() if text else None


def _lower(value: Any) -> str | None:
    text = _text(value)
    return text.lower() if text else None


def _tags(entity: str, record: str, value: Any) -> tuple[str, ...]:
    """GraphQL gives a list, REST a comma-separated string: both become a tuple in the shop's order."""
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise TransformError(entity, record, "tags", f"expected a list or a string, found {value!r}")
    return tuple(t for t in (str(i).strip() for i in items) if t)


def _is_graphql(payload: Mapping[str, Any]) -> bool:
    return "legacyResourceId" in payload or "updatedAt" in payload or "createdAt" in payload


# -- products -------------------------------------------------------------------------------------------------------


def _unwrap_product(record: Any) -> tuple[Mapping[str, Any], str | None]:
    """Staged records are ``{"product": node, "currency": "USD"}``; a bare node (GraphQL or REST) is accepted."""
    if not isinstance(record, Mapping):
        raise TransformError("product", None, "product", f"expected a JSON object, found {type(record).__name__}")
    if isinstance(record.get("product"), Mapping):
        return record["product"], _text(record.get("currency"))
    return record, None


def _variant_graphql(node: Any, product_id: str, currency: str | None, index: int) -> CanonicalVariant:
    if not isinstance(node, Mapping):
        raise TransformError("product", product_id, f"variants[{index}]", f"expected an object, found {node!r}")
    vid = record_id("variant", node)
    field = f"variants[{vid}]"
    options: dict[str, str] = {}
    for option in _list("product", product_id, f"{field}.selectedOptions", node.get("selectedOptions")):
        if isinstance(option, Mapping) and _text(option.get("name")) and _text(option.get("value")):
            options[str(option["name"]).strip()] = str(option["value"]).strip()
    item = _obj("product", product_id, f"{field}.inventoryItem", node.get("inventoryItem"))
    tracked = bool(item.get("tracked")) if item else False
    return CanonicalVariant(
        external_id=vid,
        sku=_text(node.get("sku")),
        title=_text(node.get("title")),
        price=_money("product", product_id, f"{field}.price", node.get("price")),
        compare_at_price=_money("product", product_id, f"{field}.compareAtPrice", node.get("compareAtPrice")),
        currency=currency,
        options=options,
        weight=None,
        position=_int("product", product_id, f"{field}.position", node.get("position")),
        stock_quantity=_int("product", product_id, f"{field}.inventoryQuantity", node.get("inventoryQuantity"))
        if tracked
        else None,
        stock_managed=tracked,
        created_at=_time("product", product_id, f"{field}.createdAt", node.get("createdAt")),
        updated_at=_time("product", product_id, f"{field}.updatedAt", node.get("updatedAt")),
        external_gid=_gid(node),
    )


def _variant_rest(
    node: Any, product_id: str, option_names: list[str], currency: str | None, index: int
) -> CanonicalVariant:
    if not isinstance(node, Mapping):
        raise TransformError("product", product_id, f"variants[{index}]", f"expected an object, found {node!r}")
    vid = record_id("variant", node)
    field = f"variants[{vid}]"
    options: dict[str, str] = {}
    for position, name in enumerate(option_names, start=1):
        value = _text(node.get(f"option{position}"))
        if value:
            options[name] = value
    # 2025-07+ webhook bodies dropped ``inventory_management``; a quantity is then the sign of tracked stock.
    if "inventory_management" in node:
        tracked = node.get("inventory_management") == "shopify"
    else:
        tracked = node.get("inventory_quantity") is not None
    return CanonicalVariant(
        external_id=vid,
        sku=_text(node.get("sku")),
        title=_text(node.get("title")),
        price=_money("product", product_id, f"{field}.price", node.get("price")),
        compare_at_price=_money("product", product_id, f"{field}.compare_at_price", node.get("compare_at_price")),
        currency=currency,
        options=options,
        weight=None,
        position=_int("product", product_id, f"{field}.position", node.get("position")),
        stock_quantity=_int("product", product_id, f"{field}.inventory_quantity", node.get("inventory_quantity"))
        if tracked
        else None,
        stock_managed=tracked,
        created_at=_time("product", product_id, f"{field}.created_at", node.get("created_at")),
        updated_at=_time("product", product_id, f"{field}.updated_at", node.get("updated_at")),
        external_gid=_gid(node),
    )


def _product(
    product: Mapping[str, Any], product_id: str, variants: tuple[CanonicalVariant, ...], graphql: bool
) -> CanonicalProduct:
    title = _text(product.get("title"))
    if title is None:
        raise TransformError("product", product_id, "title", f"a product needs a title, found {product.get('title')!r}")
    status_field = "status"
    raw_status = _lower(product.get(status_field))
    return CanonicalProduct(
        external_id=product_id,
        title=title,
        status=PRODUCT_STATUS.get(raw_status or "", "draft"),
        variants=tuple(
            sorted(variants, key=lambda v: (v.position if v.position is not None else 0, int(v.external_id)))
        ),
        description=_text(product.get("descriptionHtml" if graphql else "body_html")),
        product_type=_text(product.get("productType" if graphql else "product_type")),
        handle=_text(product.get("handle")),
        tags=_tags("product", product_id, product.get("tags")),
        created_at=_time(
            "product",
            product_id,
            "createdAt" if graphql else "created_at",
            product.get("createdAt" if graphql else "created_at"),
        ),
        updated_at=_time(
            "product",
            product_id,
            "updatedAt" if graphql else "updated_at",
            product.get("updatedAt" if graphql else "updated_at"),
        ),
        external_gid=_gid(product),
    )


def product_to_canonical(record: Mapping[str, Any], *, currency: str | None = None) -> CanonicalProduct:
    """A staged ``{"product": node, "currency"}`` record (GraphQL) or a REST product -> CanonicalProduct.

    ``currency`` (the shop currency) overrides the staged one; product payloads do not carry it themselves.
    """
    product, staged_currency = _unwrap_product(record)
    currency = currency or staged_currency
    if not _is_graphql(product):
        return product_from_rest(product, currency=currency)
    product_id = record_id("product", product)
    variants_connection = product.get("variants")
    if isinstance(variants_connection, Mapping) and (variants_connection.get("pageInfo") or {}).get("hasNextPage"):
        raise TransformError(
            "product", product_id, "variants", "incomplete variants connection (hasNextPage): extract must page it"
        )
    nodes = _list("product", product_id, "variants", variants_connection)
    variants = tuple(_variant_graphql(node, product_id, currency, i) for i, node in enumerate(nodes))
    # Shopify prices are as entered; shop.taxesIncluded says whether they include tax (None when not staged).
    taxes_included = record.get("taxes_included") if isinstance(record, Mapping) else None
    variants = with_tax_flag(variants, taxes_included if isinstance(taxes_included, bool) else None)
    return _product(product, product_id, variants, graphql=True)


def product_from_rest(product: Mapping[str, Any], *, currency: str | None = None) -> CanonicalProduct:
    """A REST product (``products/update`` webhook body, REST samples) -> CanonicalProduct."""
    product_id = record_id("product", product)
    options = _list("product", product_id, "options", product.get("options"))
    names = [
        str(o.get("name")).strip()
        for o in sorted((o for o in options if isinstance(o, Mapping)), key=lambda o: o.get("position") or 0)
        if _text(o.get("name"))
    ]
    nodes = _list("product", product_id, "variants", product.get("variants"))
    variants = tuple(_variant_rest(node, product_id, names, currency, i) for i, node in enumerate(nodes))
    return _product(product, product_id, variants, graphql=False)


def inventory_item_ids(record: Mapping[str, Any]) -> dict[str, str]:
    """variant external id -> inventory item legacy id (export writes stock to the item, not the variant)."""
    product, _ = _unwrap_product(record)
    product_id = record_id("product", product)
    found: dict[str, str] = {}
    for node in _list("product", product_id, "variants", product.get("variants")):
        if not isinstance(node, Mapping):
            continue
        item = node.get("inventoryItem")
        item_id = (
            record_id("inventory_item", item)
            if isinstance(item, Mapping)
            else numeric_id(node.get("inventory_item_id"))
        )
        if item_id:
            found[record_id("variant", node)] = item_id
    return found


# -- inventory ------------------------------------------------------------------------------------------------------


def _available(entity: str, record: str, quantities: Any) -> int | None:
    for quantity in _list(entity, record, "quantities", quantities):
        if isinstance(quantity, Mapping) and quantity.get("name") == "available":
            return _int(entity, record, "quantities.available", quantity.get("quantity"))
    return None


def inventory_to_canonical(record: Mapping[str, Any]) -> list[CanonicalInventory]:
    """A staged ``{"level": InventoryLevel node, "location": Location}`` -> one row (or none for an orphan item).

    An inventory item without a variant (its variant was deleted) has no hub item to attach to: no row.
    """
    if not isinstance(record, Mapping) or not isinstance(record.get("level"), Mapping):
        raise TransformError(
            "inventory", None, "level", f"expected {{'level': ..., 'location': ...}}, found {record!r}"
        )
    level = record["level"]
    location = _obj("inventory", None, "location", record.get("location"))
    item = _obj("inventory", None, "level.item", level.get("item"))
    item_id = record_id("inventory", item) if item else None
    # ``variants(first: 1)`` since 2026-01 (InventoryItem.variant is deprecated); webhook re-reads stage ``variant``.
    variants = item.get("variants")
    nodes = variants.get("nodes") if isinstance(variants, Mapping) else None
    first = nodes[0] if isinstance(nodes, list) and nodes else None
    variant = _obj("inventory", item_id, "level.item.variant", item.get("variant") if first is None else first)
    if not variant:
        return []
    location_id = numeric_id(location.get("legacyResourceId") or location.get("id"))
    if location_id is None:
        raise TransformError("inventory", item_id, "location.id", f"missing location id, found {dict(location)!r}")
    return [
        CanonicalInventory(
            variant_external_id=record_id("inventory", variant),
            sku=_text(item.get("sku")),
            location=location_id,
            available=_available("inventory", item_id or "", level.get("quantities")),
            managed=bool(item.get("tracked")),
            updated_at=_time("inventory", item_id, "level.updatedAt", level.get("updatedAt")),
        )
    ]


def inventory_level_from_rest(
    level: Mapping[str, Any], *, variant_external_id: str, sku: str | None = None, tracked: bool = True
) -> CanonicalInventory:
    """A REST inventory level (``inventory_levels/update`` webhook) -> a row.

    The body names the inventory item, not the variant: the caller maps ``inventory_item_id`` to the variant (from
    the links or :func:`inventory_item_ids` of the staged product) and passes it in.
    """
    if not isinstance(level, Mapping):
        raise TransformError("inventory", None, "level", f"expected an object, found {level!r}")
    item_id = numeric_id(level.get("inventory_item_id"))
    location_id = numeric_id(level.get("location_id"))
    if location_id is None:
        raise TransformError("inventory", item_id, "location_id", f"missing, found {level.get('location_id')!r}")
    return CanonicalInventory(
        variant_external_id=variant_external_id,
        sku=sku,
        location=location_id,
        available=_int("inventory", item_id, "available", level.get("available")),
        managed=tracked,
        updated_at=_time("inventory", item_id, "updated_at", level.get("updated_at")),
    )


# -- orders ---------------------------------------------------------------------------------------------------------


def _order_status(cancelled: Any, closed: Any) -> str:
    if cancelled:
        return "cancelled"
    if closed:
        return "closed"
    return "open"


def _fulfillment(value: Any) -> str:
    text = _lower(value) or "unfulfilled"
    return FULFILLMENT_ALIASES.get(text, text)


def _line_graphql(order_id: str, node: Any, index: int) -> CanonicalOrderLine:
    if not isinstance(node, Mapping):
        raise TransformError("order", order_id, f"lineItems[{index}]", f"expected an object, found {node!r}")
    line_id = numeric_id(node.get("id"))
    if line_id is None:
        raise TransformError("order", order_id, f"lineItems[{index}].id", f"missing line id, found {node.get('id')!r}")
    field = f"lineItems[{line_id}]"
    quantity = _int("order", order_id, f"{field}.quantity", node.get("quantity"))
    if quantity is None or quantity < 0:
        raise TransformError("order", order_id, f"{field}.quantity", f"expected a quantity, found {quantity!r}")
    unit = _bag("order", order_id, f"{field}.originalUnitPriceSet", node.get("originalUnitPriceSet"))
    # Line taxes are read only when the query asked for them (the pinned query does not: the order's totalTaxSet
    # has the tax); None then, not zero, so "unknown" is not mistaken for "untaxed".
    tax: Decimal | None = None if "taxLines" not in node else _ZERO
    for i, tax_line in enumerate(_list("order", order_id, f"{field}.taxLines", node.get("taxLines"))):
        amount = _bag(
            "order",
            order_id,
            f"{field}.taxLines[{i}].priceSet",
            _obj("order", order_id, field, tax_line).get("priceSet"),
        )
        tax = (tax or _ZERO) + (amount or _ZERO)
    variant = _obj("order", order_id, f"{field}.variant", node.get("variant"))
    return CanonicalOrderLine(
        external_id=line_id,
        variant_external_id=record_id("variant", variant) if variant else None,
        sku=_text(node.get("sku")),
        title=_text(node.get("name")),
        quantity=quantity,
        unit_price=unit,
        subtotal=unit * quantity if unit is not None else None,
        total=_bag("order", order_id, f"{field}.discountedTotalSet", node.get("discountedTotalSet")),
        tax=tax,
    )


def _line_rest(order_id: str, node: Any, index: int) -> CanonicalOrderLine:
    if not isinstance(node, Mapping):
        raise TransformError("order", order_id, f"line_items[{index}]", f"expected an object, found {node!r}")
    line_id = numeric_id(node.get("id"))
    if line_id is None:
        raise TransformError("order", order_id, f"line_items[{index}].id", f"missing line id, found {node.get('id')!r}")
    field = f"line_items[{line_id}]"
    quantity = _int("order", order_id, f"{field}.quantity", node.get("quantity"))
    if quantity is None or quantity < 0:
        raise TransformError("order", order_id, f"{field}.quantity", f"expected a quantity, found {quantity!r}")
    if node.get("price_set") is not None:
        unit = _bag("order", order_id, f"{field}.price_set", node.get("price_set"))
    else:
        unit = _money("order", order_id, f"{field}.price", node.get("price"))
    discounts = _ZERO
    for i, allocation in enumerate(
        _list("order", order_id, f"{field}.discount_allocations", node.get("discount_allocations"))
    ):
        allocation = _obj("order", order_id, f"{field}.discount_allocations[{i}]", allocation)
        amount = (
            _bag("order", order_id, f"{field}.discount_allocations[{i}].amount_set", allocation.get("amount_set"))
            if allocation.get("amount_set") is not None
            else _money("order", order_id, f"{field}.discount_allocations[{i}].amount", allocation.get("amount"))
        )
        discounts += amount or _ZERO
    tax = _ZERO
    for i, tax_line in enumerate(_list("order", order_id, f"{field}.tax_lines", node.get("tax_lines"))):
        tax_line = _obj("order", order_id, f"{field}.tax_lines[{i}]", tax_line)
        amount = (
            _bag("order", order_id, f"{field}.tax_lines[{i}].price_set", tax_line.get("price_set"))
            if tax_line.get("price_set") is not None
            else _money("order", order_id, f"{field}.tax_lines[{i}].price", tax_line.get("price"))
        )
        tax += amount or _ZERO
    variant_id = numeric_id(node.get("variant_id"))
    subtotal = unit * quantity if unit is not None else None
    return CanonicalOrderLine(
        external_id=line_id,
        variant_external_id=variant_id,
        sku=_text(node.get("sku")),
        title=_text(node.get("name")),
        quantity=quantity,
        unit_price=unit,
        subtotal=subtotal,
        total=subtotal - discounts if subtotal is not None else None,
        # Validated above but not kept: the GraphQL path does not read line taxes, and both shapes must give the
        # same record or a webhook and the next poll would flip the order back and forth.
        tax=None,
    )


def order_to_canonical(order: Mapping[str, Any]) -> CanonicalOrder:
    """A GraphQL Order node (or a REST order) -> CanonicalOrder, in the shop currency with presentment kept apart."""
    if not isinstance(order, Mapping):
        raise TransformError("order", None, "order", f"expected a JSON object, found {type(order).__name__}")
    if not _is_graphql(order):
        return order_from_rest(order)
    order_id = record_id("order", order)
    currency = _text(order.get("currencyCode"))
    if currency is None:
        raise TransformError("order", order_id, "currencyCode", f"missing, found {order.get('currencyCode')!r}")
    lines_connection = order.get("lineItems")
    if isinstance(lines_connection, Mapping) and (lines_connection.get("pageInfo") or {}).get("hasNextPage"):
        raise TransformError("order", order_id, "lineItems", "incomplete lineItems connection: extract must page it")
    lines = tuple(
        _line_graphql(order_id, node, i)
        for i, node in enumerate(_list("order", order_id, "lineItems", lines_connection))
    )
    total = _bag("order", order_id, "totalPriceSet", order.get("totalPriceSet"))
    if total is None:
        raise TransformError("order", order_id, "totalPriceSet", "missing order total")
    customer = _obj("order", order_id, "customer", order.get("customer"))
    return CanonicalOrder(
        external_id=order_id,
        order_number=_text(order.get("name")),
        status=_order_status(order.get("cancelledAt"), order.get("closedAt")),
        financial_status=_lower(order.get("displayFinancialStatus")),
        fulfillment_status=_fulfillment(order.get("displayFulfillmentStatus")),
        currency=currency,
        subtotal=_bag("order", order_id, "subtotalPriceSet", order.get("subtotalPriceSet")),
        discount_total=_bag("order", order_id, "totalDiscountsSet", order.get("totalDiscountsSet")),
        shipping_total=_bag("order", order_id, "totalShippingPriceSet", order.get("totalShippingPriceSet")),
        tax_total=_bag("order", order_id, "totalTaxSet", order.get("totalTaxSet")),
        total=total,
        refunded_total=_bag("order", order_id, "totalRefundedSet", order.get("totalRefundedSet")) or _ZERO,
        lines=lines,
        customer_external_id=record_id("customer", customer) if customer else None,
        email=_email(order.get("email")),
        placed_at=_time("order", order_id, "createdAt", order.get("createdAt")),
        completed_at=_time("order", order_id, "closedAt", order.get("closedAt")),
        updated_at=_time("order", order_id, "updatedAt", order.get("updatedAt")),
        external_gid=_gid(order),
        presentment_currency=_text(order.get("presentmentCurrencyCode")),
        presentment_total=_bag("order", order_id, "totalPriceSet", order.get("totalPriceSet"), side="presentment"),
    )


def _rest_refunded(order_id: str, order: Mapping[str, Any]) -> Decimal:
    """Sum of successful refund transactions (REST orders carry refunds, not a refunded total).

    Transactions are in the currency the buyer paid in (Shopify's multi-currency rule), so when that differs
    from the shop currency their sum is not a shop-currency amount: refuse (the webhook planner then re-reads the
    order, whose GraphQL ``totalRefundedSet.shopMoney`` is exact) rather than store 151x too much for a yen buyer.
    """
    presentment = _text(order.get("presentment_currency"))
    currency = _text(order.get("currency"))
    if order.get("refunds") and presentment and currency and presentment != currency:
        raise TransformError(
            "order",
            order_id,
            "refunds[].transactions",
            f"refund transactions are in the buyer's currency {presentment}, not the shop currency {currency}; "
            "the order must be re-read for its refunded total",
        )
    total = _ZERO
    for i, refund in enumerate(_list("order", order_id, "refunds", order.get("refunds"))):
        refund = _obj("order", order_id, f"refunds[{i}]", refund)
        for j, transaction in enumerate(
            _list("order", order_id, f"refunds[{i}].transactions", refund.get("transactions"))
        ):
            transaction = _obj("order", order_id, f"refunds[{i}].transactions[{j}]", transaction)
            if transaction.get("kind") == "refund" and transaction.get("status") in ("success", None):
                total += (
                    _money("order", order_id, f"refunds[{i}].transactions[{j}].amount", transaction.get("amount"))
                    or _ZERO
                )
    return total


def _rest_money(order_id: str, order: Mapping[str, Any], name: str) -> Decimal | None:
    if order.get(f"{name}_set") is not None:
        return _bag("order", order_id, f"{name}_set", order.get(f"{name}_set"))
    return _money("order", order_id, name, order.get(name))


def order_from_rest(order: Mapping[str, Any]) -> CanonicalOrder:
    """A REST order (``orders/*`` webhook body, REST samples) -> CanonicalOrder (same result as the GraphQL node)."""
    order_id = record_id("order", order)
    currency = _text(order.get("currency"))
    if currency is None:
        raise TransformError("order", order_id, "currency", f"missing, found {order.get('currency')!r}")
    lines = tuple(
        _line_rest(order_id, node, i)
        for i, node in enumerate(_list("order", order_id, "line_items", order.get("line_items")))
    )
    total = _rest_money(order_id, order, "total_price")
    if total is None:
        raise TransformError("order", order_id, "total_price", "missing order total")
    shipping = (
        _bag("order", order_id, "total_shipping_price_set", order.get("total_shipping_price_set"))
        if order.get("total_shipping_price_set") is not None
        else None
    )
    customer = _obj("order", order_id, "customer", order.get("customer"))
    price_set = order.get("total_price_set")
    return CanonicalOrder(
        external_id=order_id,
        order_number=_text(order.get("name")),
        status=_order_status(order.get("cancelled_at"), order.get("closed_at")),
        financial_status=_lower(order.get("financial_status")),
        fulfillment_status=_fulfillment(order.get("fulfillment_status")),
        currency=currency,
        subtotal=_rest_money(order_id, order, "subtotal_price"),
        discount_total=_rest_money(order_id, order, "total_discounts"),
        shipping_total=shipping,
        tax_total=_rest_money(order_id, order, "total_tax"),
        total=total,
        refunded_total=_rest_refunded(order_id, order),
        lines=lines,
        customer_external_id=record_id("customer", customer) if customer else None,
        email=_email(order.get("email") or order.get("contact_email")),
        placed_at=_time("order", order_id, "created_at", order.get("created_at")),
        completed_at=_time("order", order_id, "closed_at", order.get("closed_at")),
        updated_at=_time("order", order_id, "updated_at", order.get("updated_at")),
        external_gid=_gid(order),
        presentment_currency=_text(order.get("presentment_currency")),
        presentment_total=_bag("order", order_id, "total_price_set", price_set, side="presentment")
        if price_set is not None
        else None,
    )


# -- customers ------------------------------------------------------------------------------------------------------


def customer_to_canonical(customer: Mapping[str, Any]) -> CanonicalCustomer:
    """A GraphQL Customer node (or a REST customer) -> CanonicalCustomer."""
    if not isinstance(customer, Mapping):
        raise TransformError("customer", None, "customer", f"expected a JSON object, found {type(customer).__name__}")
    if not _is_graphql(customer):
        return customer_from_rest(customer)
    customer_id = record_id("customer", customer)
    address = _obj("customer", customer_id, "defaultAddress", customer.get("defaultAddress"))
    email = customer.get("email")
    if email is None and isinstance(customer.get("defaultEmailAddress"), Mapping):
        email = customer["defaultEmailAddress"].get("emailAddress")
    return CanonicalCustomer(
        external_id=customer_id,
        email=_email(email),
        first_name=_text(customer.get("firstName")),
        last_name=_text(customer.get("lastName")),
        phone=_text(_phone(customer)),
        company=_text(address.get("company")),
        city=_text(address.get("city")),
        country=_text(address.get("countryCodeV2")),
        created_at=_time("customer", customer_id, "createdAt", customer.get("createdAt")),
        updated_at=_time("customer", customer_id, "updatedAt", customer.get("updatedAt")),
        external_gid=_gid(customer),
    )


def _phone(customer: Mapping[str, Any]) -> Any:
    """``defaultPhoneNumber.phoneNumber`` (Customer.phone is deprecated), else the older ``phone``."""
    number = customer.get("defaultPhoneNumber")
    if isinstance(number, Mapping) and number.get("phoneNumber") is not None:
        return number.get("phoneNumber")
    return customer.get("phone")


def customer_from_rest(customer: Mapping[str, Any]) -> CanonicalCustomer:
    """A REST customer (``customers/update`` webhook body, REST samples) -> CanonicalCustomer."""
    customer_id = record_id("customer", customer)
    address = _obj("customer", customer_id, "default_address", customer.get("default_address"))
    return CanonicalCustomer(
        external_id=customer_id,
        email=_email(customer.get("email")),
        first_name=_text(customer.get("first_name")),
        last_name=_text(customer.get("last_name")),
        phone=_text(customer.get("phone")),
        company=_text(address.get("company")),
        city=_text(address.get("city")),
        country=_text(address.get("country_code")),
        created_at=_time("customer", customer_id, "created_at", customer.get("created_at")),
        updated_at=_time("customer", customer_id, "updated_at", customer.get("updated_at")),
        external_gid=_gid(customer),
    )


# -- extract helpers ------------------------------------------------------------------------------------------------


def source_updated_at(payload: Mapping[str, Any]) -> datetime | None:
    """When the shop last modified this record (``updatedAt`` / ``updated_at``), UTC; None if absent."""
    if isinstance(payload, Mapping) and isinstance(payload.get("product"), Mapping):
        payload = payload["product"]
    if isinstance(payload, Mapping) and isinstance(payload.get("level"), Mapping):
        payload = payload["level"]
    if not isinstance(payload, Mapping):
        raise TransformError("payload", None, "updatedAt", f"expected an object, found {payload!r}")
    field = "updatedAt" if "updatedAt" in payload else "updated_at"
    return _time("record", numeric_id(payload.get("legacyResourceId") or payload.get("id")), field, payload.get(field))


__all__ = [
    "TransformError",
    "customer_from_rest",
    "customer_to_canonical",
    "inventory_item_ids",
    "inventory_level_from_rest",
    "inventory_to_canonical",
    "numeric_id",
    "order_from_rest",
    "order_to_canonical",
    "product_from_rest",
    "product_to_canonical",
    "record_id",
    "source_updated_at",
]
