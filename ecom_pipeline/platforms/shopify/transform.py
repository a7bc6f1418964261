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
- Fields are read by the readers every platform shares (``platforms/readers.py``): money is Decimal from the
  ``amount`` strings (a float is refused), integers are ints, whole floats or digit strings, text is refused when
  a list or an object stands where it belongs. ``currency`` / ``total`` are the shop currency
  (``shopMoney``); what the buyer saw (``presentmentMoney``) goes to ``presentment_currency`` / ``presentment_total``.
- Times carry an offset (REST: shop-local ``-05:00``; GraphQL: ``Z``) and become aware UTC; a time without offset
  is refused rather than guessed.
- ``financial_status`` is ``displayFinancialStatus`` / ``financial_status`` lower-cased (paid, pending, authorized,
  partially_paid, partially_refunded, refunded, voided, expired); ``fulfillment_status`` likewise (REST ``null`` is
  ``unfulfilled``, ``partial`` is ``partially_fulfilled``). ``status`` is cancelled / closed / open.
- Inventory rows are per (variant, location); ``location`` is the Shopify **location legacy id** (names can be
  renamed, ids cannot). ``managed`` is the inventory item's ``tracked``.
- Variant ``weight`` is in kilograms: GraphQL keeps it on the inventory item's ``measurement.weight`` (``{unit,
  value}``, GRAMS/POUNDS/OUNCES converted); REST bodies carry ``weight``/``weight_unit`` only in older versions
  (2025-07 webhook bodies have none, which is why product webhooks are re-read through GraphQL). A weight of 0 is
  no weight, as in the other shops. ``barcode`` is the variant's own; ``sale_price`` is the price while a
  compare-at above it is set (Shopify keeps no sale price apart: ``canonical.sale_price_of``).

Every malformed input raises :class:`TransformError` naming the record and field; callers reject that record only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from ecom_pipeline.platforms.errors import TransformError
from ecom_pipeline.platforms.readers import Fields
from ecom_pipeline.sync.canonical import (
    CanonicalCustomer,
    CanonicalInventory,
    CanonicalOrder,
    CanonicalOrderLine,
    CanonicalProduct,
    CanonicalVariant,
    sale_price_of,
    with_tax_flag,
)
from ecom_pipeline.sync.category_paths import escape_name

PRODUCT_STATUS = {"active": "active", "draft": "draft", "archived": "archived", "unlisted": "active"}
FULFILLMENT_ALIASES = {"partial": "partially_fulfilled", "null": "unfulfilled"}
_ZERO = Decimal("0.00")


# -- field readers (the shared ones are in platforms/readers.py; these know Shopify's shapes) ------------------------


def _obj(f: Fields, field: str, value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        f.fail(field, f"expected an object, found {value!r}")
    return value


def _list(f: Fields, field: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, Mapping) and "nodes" in value:  # a GraphQL connection
        value = value.get("nodes")
    if isinstance(value, Mapping) and "edges" in value:
        value = [e.get("node") for e in value.get("edges") or [] if isinstance(e, Mapping)]
    if not isinstance(value, list):
        f.fail(field, f"expected a list, found {value!r}")
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


_CENT = Decimal("0.01")


def _at_least_cents(value: Decimal | None) -> Decimal | None:
    """An order amount written with at least two decimals (``2.0`` and ``2`` as ``2.00``; ``3.335`` kept).

    GraphQL's Decimal scalar trims trailing zeros (``"2.0"``) where REST bodies write cents (``"2.00"``): the same
    amount, but another digest, so an order applied from its webhook (REST) and then read by the poll (GraphQL)
    was rewritten, and the two shapes disagreed in every link base."""
    if value is None or not value.is_finite():
        return value
    exponent = value.as_tuple().exponent
    return value.quantize(_CENT) if isinstance(exponent, int) and exponent > -2 else value


def _bag(f: Fields, field: str, bag: Any, side: str = "shop") -> Decimal | None:
    """An amount from a MoneyBag (``shopMoney``/``presentmentMoney``, each a MoneyV2 ``{"amount", "currencyCode"}``)
    or a REST ``*_set`` (``shop_money``...), with at least two decimals (``_at_least_cents``)."""
    if bag is None:
        return None
    bag = _obj(f, field, bag)
    keys = ("shopMoney", "shop_money") if side == "shop" else ("presentmentMoney", "presentment_money")
    for key in keys:
        if key in bag:
            money = bag.get(key)
            amount = money.get("amount") if isinstance(money, Mapping) else money
            return _at_least_cents(f.money(f"{field}.{key}.amount", amount))
    f.fail(field, f"expected a money bag with {keys[0]}, found {dict(bag)!r}")


def _lower(f: Fields, field: str, value: Any) -> str | None:
    text = f.text(field, value)
    return text.lower() if text else None


def _tags(f: Fields, value: Any) -> tuple[str, ...]:
    """GraphQL gives a list, REST a comma-separated string: both become a tuple in the shop's order."""
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        f.fail("tags", f"expected a list or a string, found {value!r}")
    return tuple(t for t in (str(i).strip() for i in items) if t)


# What a Shopify reading without its collections says nothing about (``CanonicalProduct.unread``): off (the default
# of ``shopify_collections``), no collection is read, so its empty categories are unknown, not empty: the merge must
# not take them for the merchant removing every category (a shop turned off after being on would empty the hub's).
_CATEGORIES_ONLY = frozenset({"categories"})


def collection_titles(titles: Any) -> tuple[str, ...]:
    """Collection titles as the hub keeps a Shopify product's categories: trimmed, empties and repeats (without
    case) dropped, sorted without case, so the pull and the writer's base (``writer.py``) give the same list
    whatever order Shopify answers in."""
    out: dict[str, str] = {}
    for title in titles:
        text = " ".join(str(title or "").split())
        if text and text.casefold() not in out:
            out[text.casefold()] = text
    return tuple(out[k] for k in sorted(out))


def _categories(f: Fields, value: Any) -> tuple[str, ...]:
    """A product's hub categories: the titles of its custom (manual) collections. Smart collections (``ruleSet``
    set) are left out: their membership follows the product's tags, type, vendor or price, which the hub syncs as
    those fields, and no product can be put in or taken out of one by hand, so the push could never write them.
    A node without ``collections`` (a REST body, a writer's mutation answer) has none here; every product reading
    the pull stages asks for them (pages, bulk, the webhook re-read). A title is one category however it reads: a
    ``>`` in it is escaped (``sync.category_paths.escape_name``: ``Kids > 3 years`` is ``Kids \\> 3 years``)."""
    if value is None:
        return ()
    nodes = _list(f, "collections", value)
    return collection_titles(
        escape_name(n.get("title"))
        for n in nodes
        if isinstance(n, Mapping) and n.get("ruleSet") is None and n.get("title")
    )


def _is_graphql(payload: Mapping[str, Any]) -> bool:
    return "legacyResourceId" in payload or "updatedAt" in payload or "createdAt" in payload


def _graphql_node(entity: str, payload: Any) -> bool:
    """Whether ``payload`` is a GraphQL node (else a REST body); anything but a JSON object is refused."""
    if not isinstance(payload, Mapping):
        raise TransformError(entity, None, entity, f"expected a JSON object, found {type(payload).__name__}")
    return _is_graphql(payload)


# -- products -------------------------------------------------------------------------------------------------------


def _unwrap_product(record: Any) -> tuple[Mapping[str, Any], str | None]:
    """Staged records are ``{"product": node, "currency": "USD"}``; a bare node (GraphQL or REST) is accepted."""
    if not isinstance(record, Mapping):
        raise TransformError("product", None, "product", f"expected a JSON object, found {type(record).__name__}")
    if isinstance(record.get("product"), Mapping):
        return record["product"], Fields("product").text("currency", record.get("currency"))
    return record, None


# What Shopify shows as the only option of a product without options. It is not a real option: kept, it would read
# as one in the hub, and a hub variant without options (or a WooCommerce or PrestaShop one) would differ from it.
DEFAULT_OPTION = {"Title": "Default Title"}


def _variant_options(f: Fields, field: str, node: Mapping[str, Any], option_names: list[str] | None) -> dict[str, str]:
    """GraphQL: the node's ``selectedOptions`` (``option_names`` None); REST: ``option1..3`` under the product's
    option names, in position order. Shopify's ``Title`` / ``Default Title`` alone means no options: ``{}``."""
    options: dict[str, str] = {}
    if option_names is None:
        for option in _list(f, f"{field}.selectedOptions", node.get("selectedOptions")):
            if isinstance(option, Mapping):
                name = f.text(f"{field}.selectedOptions.name", option.get("name"))
                value = f.text(f"{field}.selectedOptions.value", option.get("value"))
                if name and value:
                    options[name] = value
    else:
        for position, name in enumerate(option_names, start=1):
            value = f.text(f"{field}.option{position}", node.get(f"option{position}"))
            if value:
                options[name] = value
    return {} if options == DEFAULT_OPTION else options


def _variant_tracked(f: Fields, field: str, node: Mapping[str, Any], graphql: bool) -> bool:
    """Whether Shopify tracks the variant's stock: the inventory item's ``tracked`` (GraphQL), or REST's
    ``inventory_management``; 2025-07+ webhook bodies dropped that field, and a quantity is then the sign of it."""
    if graphql:
        item = _obj(f, f"{field}.inventoryItem", node.get("inventoryItem"))
        return bool(item.get("tracked")) if item else False
    if "inventory_management" in node:
        return node.get("inventory_management") == "shopify"
    return node.get("inventory_quantity") is not None


# Kilograms per unit of Shopify's WeightUnit (GraphQL) and of REST's weight_unit.
KG_PER_UNIT: dict[str, Decimal] = {
    "KILOGRAMS": Decimal("1"),
    "GRAMS": Decimal("0.001"),
    "POUNDS": Decimal("0.45359237"),
    "OUNCES": Decimal("0.028349523125"),
    "kg": Decimal("1"),
    "g": Decimal("0.001"),
    "lb": Decimal("0.45359237"),
    "oz": Decimal("0.028349523125"),
}
_WEIGHT_PLACES = Decimal("0.000001")  # a milligram: what a converted pound or ounce weight is rounded to


def weight_in_kg(f: Fields, field: str, value: Any, unit: Any) -> str | None:
    """A Shopify weight (``value`` in ``unit``) as kilograms text, or None for no weight (absent or 0)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        f.fail(field, f"expected a number, found {value!r}")
    try:
        # A float here is a JSON number (GraphQL Float): its shortest repr is the value Shopify sent.
        amount = Decimal(repr(value) if isinstance(value, float) else str(value))
    except ArithmeticError:
        f.fail(field, f"expected a number, found {value!r}")
    factor = KG_PER_UNIT.get(str(unit))
    if factor is None:
        f.fail(f"{field}.unit", f"expected one of {', '.join(KG_PER_UNIT)}, found {unit!r}")
    if not amount.is_finite() or amount < 0:
        f.fail(field, f"expected a non-negative weight, found {value!r}")
    kg = amount * factor
    if kg == 0:
        return None
    if factor != 1:
        kg = kg.quantize(_WEIGHT_PLACES)
    return format(kg.normalize(), "f")


def _variant_weight(f: Fields, field: str, node: Mapping[str, Any], graphql: bool) -> str | None:
    """The variant's weight in kg: ``inventoryItem.measurement.weight`` (GraphQL), REST ``weight``/``weight_unit``."""
    if not graphql:
        return weight_in_kg(f, f"{field}.weight", node.get("weight"), node.get("weight_unit") or "kg")
    item = _obj(f, f"{field}.inventoryItem", node.get("inventoryItem"))
    measurement = _obj(f, f"{field}.inventoryItem.measurement", item.get("measurement"))
    weight = _obj(f, f"{field}.measurement.weight", measurement.get("weight"))
    if not weight:
        return None
    return weight_in_kg(f, f"{field}.measurement.weight.value", weight.get("value"), weight.get("unit"))


def _variant(
    f: Fields, node: Any, index: int, currency: str | None, option_names: list[str] | None = None
) -> CanonicalVariant:
    """One variant of a GraphQL product (``option_names`` None) or of a REST product (its option names)."""
    if not isinstance(node, Mapping):
        f.fail(f"variants[{index}]", f"expected an object, found {node!r}")
    vid = record_id("variant", node)
    field = f"variants[{vid}]"
    graphql = option_names is None
    compare_at, quantity, created, updated = (
        ("compareAtPrice", "inventoryQuantity", "createdAt", "updatedAt")
        if graphql
        else ("compare_at_price", "inventory_quantity", "created_at", "updated_at")
    )
    tracked = _variant_tracked(f, field, node, graphql)
    price = f.money(f"{field}.price", node.get("price"))
    compare_price = f.money(f"{field}.{compare_at}", node.get(compare_at))
    return CanonicalVariant(
        external_id=vid,
        sku=f.text(f"{field}.sku", node.get("sku")),
        title=f.text(f"{field}.title", node.get("title")),
        price=price,
        compare_at_price=compare_price,
        sale_price=sale_price_of(price, compare_price),
        barcode=f.text(f"{field}.barcode", node.get("barcode")),
        currency=currency,
        options=_variant_options(f, field, node, option_names),
        weight=_variant_weight(f, field, node, graphql),
        position=f.integer(f"{field}.position", node.get("position")),
        stock_quantity=f.integer(f"{field}.{quantity}", node.get(quantity)) if tracked else None,
        stock_managed=tracked,
        created_at=f.utc_time(f"{field}.{created}", node.get(created)),
        updated_at=f.utc_time(f"{field}.{updated}", node.get(updated)),
        external_gid=_gid(node),
    )


def _product(
    f: Fields, product: Mapping[str, Any], variants: tuple[CanonicalVariant, ...], graphql: bool
) -> CanonicalProduct:
    product_id = str(f.record_id)
    title = f.text("title", product.get("title"))
    if title is None:
        f.fail("title", f"a product needs a title, found {product.get('title')!r}")
    created, updated = ("createdAt", "updatedAt") if graphql else ("created_at", "updated_at")
    description, product_type = ("descriptionHtml", "productType") if graphql else ("body_html", "product_type")
    return CanonicalProduct(
        external_id=product_id,
        title=title,
        status=PRODUCT_STATUS.get(_lower(f, "status", product.get("status")) or "", "draft"),
        variants=tuple(
            sorted(variants, key=lambda v: (v.position if v.position is not None else 0, int(v.external_id)))
        ),
        description=f.text(description, product.get(description)),
        # Shopify's productType is the merchant's classification, not a kind: it has a column of its own, and
        # Shopify has no kind (product_type None), so a Shopify pull never overwrites a WooCommerce kind.
        vendor=f.text("vendor", product.get("vendor")) or "",
        shopify_product_type=f.text(product_type, product.get(product_type)) or "",
        handle=f.text("handle", product.get("handle")),
        tags=_tags(f, product.get("tags")),
        categories=_categories(f, product.get("collections")) if graphql else (),
        # Read without its collections (``shopify_collections`` off: the extract and the webhook re-read drop the
        # connection; a REST body has none): its categories are unknown, not empty (``CanonicalProduct.unread``).
        unread=frozenset() if graphql and "collections" in product else _CATEGORIES_ONLY,
        created_at=f.utc_time(created, product.get(created)),
        updated_at=f.utc_time(updated, product.get(updated)),
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
    f = Fields("product", record_id("product", product))
    variants_connection = product.get("variants")
    if isinstance(variants_connection, Mapping) and (variants_connection.get("pageInfo") or {}).get("hasNextPage"):
        f.fail("variants", "incomplete variants connection (hasNextPage): extract must page it")
    collections = product.get("collections")
    if isinstance(collections, Mapping) and (collections.get("pageInfo") or {}).get("hasNextPage"):
        f.fail("collections", "incomplete collections connection (hasNextPage): extract must page it")
    nodes = _list(f, "variants", variants_connection)
    variants = tuple(_variant(f, node, i, currency) for i, node in enumerate(nodes))
    # Shopify prices are as entered; shop.taxesIncluded says whether they include tax (None when not staged).
    taxes_included = record.get("taxes_included") if isinstance(record, Mapping) else None
    variants = with_tax_flag(variants, taxes_included if isinstance(taxes_included, bool) else None)
    return _product(f, product, variants, graphql=True)


def product_from_rest(product: Mapping[str, Any], *, currency: str | None = None) -> CanonicalProduct:
    """A REST product (``products/update`` webhook body, REST samples) -> CanonicalProduct."""
    f = Fields("product", record_id("product", product))
    options = _list(f, "options", product.get("options"))
    names = [
        name
        for name in (
            f.text("options.name", o.get("name"))
            for o in sorted((o for o in options if isinstance(o, Mapping)), key=lambda o: o.get("position") or 0)
        )
        if name
    ]
    nodes = _list(f, "variants", product.get("variants"))
    variants = tuple(_variant(f, node, i, currency, names) for i, node in enumerate(nodes))
    return _product(f, product, variants, graphql=False)


def inventory_item_ids(record: Mapping[str, Any]) -> dict[str, str]:
    """variant external id -> inventory item legacy id (export writes stock to the item, not the variant)."""
    product, _ = _unwrap_product(record)
    f = Fields("product", record_id("product", product))
    found: dict[str, str] = {}
    for node in _list(f, "variants", product.get("variants")):
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


def _available(f: Fields, quantities: Any) -> int | None:
    for quantity in _list(f, "quantities", quantities):
        if isinstance(quantity, Mapping) and quantity.get("name") == "available":
            return f.integer("quantities.available", quantity.get("quantity"))
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
    unknown = Fields("inventory")
    location = _obj(unknown, "location", record.get("location"))
    item = _obj(unknown, "level.item", level.get("item"))
    f = Fields("inventory", record_id("inventory", item) if item else None)
    # ``variants(first: 1)`` since 2026-01 (InventoryItem.variant is deprecated); webhook re-reads stage ``variant``.
    variants = item.get("variants")
    nodes = variants.get("nodes") if isinstance(variants, Mapping) else None
    first = nodes[0] if isinstance(nodes, list) and nodes else None
    variant = _obj(f, "level.item.variant", item.get("variant") if first is None else first)
    if not variant:
        return []
    location_id = numeric_id(location.get("legacyResourceId") or location.get("id"))
    if location_id is None:
        f.fail("location.id", f"missing location id, found {dict(location)!r}")
    return [
        CanonicalInventory(
            variant_external_id=record_id("inventory", variant),
            sku=f.text("level.item.sku", item.get("sku")),
            location=location_id,
            available=_available(f, level.get("quantities")),
            managed=bool(item.get("tracked")),
            updated_at=f.utc_time("level.updatedAt", level.get("updatedAt")),
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
    f = Fields("inventory", numeric_id(level.get("inventory_item_id")))
    location_id = numeric_id(level.get("location_id"))
    if location_id is None:
        f.fail("location_id", f"missing, found {level.get('location_id')!r}")
    return CanonicalInventory(
        variant_external_id=variant_external_id,
        sku=sku,
        location=location_id,
        available=f.integer("available", level.get("available")),
        managed=tracked,
        updated_at=f.utc_time("updated_at", level.get("updated_at")),
    )


# -- orders ---------------------------------------------------------------------------------------------------------


def _order_status(cancelled: Any, closed: Any) -> str:
    if cancelled:
        return "cancelled"
    if closed:
        return "closed"
    return "open"


def _fulfillment(f: Fields, field: str, value: Any) -> str:
    text = _lower(f, field, value) or "unfulfilled"
    return FULFILLMENT_ALIASES.get(text, text)


def _line(f: Fields, lines: str, node: Any, index: int) -> tuple[Mapping[str, Any], str, str, int]:
    """An order line's object, id (REST ``id``, or the numeric tail of the GraphQL gid: lines have no legacy id),
    field path (``lineItems[<id>]``) and quantity, in either shape (``lines`` names the list)."""
    if not isinstance(node, Mapping):
        f.fail(f"{lines}[{index}]", f"expected an object, found {node!r}")
    line_id = numeric_id(node.get("id"))
    if line_id is None:
        f.fail(f"{lines}[{index}].id", f"missing line id, found {node.get('id')!r}")
    field = f"{lines}[{line_id}]"
    quantity = f.integer(f"{field}.quantity", node.get("quantity"))
    if quantity is None or quantity < 0:
        f.fail(f"{field}.quantity", f"expected a quantity, found {quantity!r}")
    return node, line_id, field, quantity


def _line_graphql(f: Fields, line: Any, index: int) -> CanonicalOrderLine:
    node, line_id, field, quantity = _line(f, "lineItems", line, index)
    unit = _bag(f, f"{field}.originalUnitPriceSet", node.get("originalUnitPriceSet"))
    # Line taxes are read only when the query asked for them (the pinned query does not: the order's totalTaxSet
    # has the tax); None then, not zero, so "unknown" is not mistaken for "untaxed".
    tax: Decimal | None = None if "taxLines" not in node else _ZERO
    for i, tax_line in enumerate(_list(f, f"{field}.taxLines", node.get("taxLines"))):
        amount = _bag(f, f"{field}.taxLines[{i}].priceSet", _obj(f, field, tax_line).get("priceSet"))
        tax = (tax or _ZERO) + (amount or _ZERO)
    variant = _obj(f, f"{field}.variant", node.get("variant"))
    subtotal = unit * quantity if unit is not None else None
    # The original total minus every discount allocated to the line (its own, a code's, an order-level one), as the
    # REST path subtracts ``discount_allocations``: ``discountedTotalSet`` leaves order-level and code discounts out.
    # A payload staged before ``discountAllocations`` was asked has only ``discountedTotalSet``: read as it was.
    total: Decimal | None
    if "discountAllocations" in node:
        discounts = _ZERO
        for i, allocation in enumerate(_list(f, f"{field}.discountAllocations", node.get("discountAllocations"))):
            path = f"{field}.discountAllocations[{i}]"
            discounts += (
                _bag(f, f"{path}.allocatedAmountSet", _obj(f, path, allocation).get("allocatedAmountSet")) or _ZERO
            )
        total = subtotal - discounts if subtotal is not None else None
    else:
        total = _bag(f, f"{field}.discountedTotalSet", node.get("discountedTotalSet"))
    return CanonicalOrderLine(
        external_id=line_id,
        variant_external_id=record_id("variant", variant) if variant else None,
        sku=f.text(f"{field}.sku", node.get("sku")),
        title=f.text(f"{field}.name", node.get("name")),
        quantity=quantity,
        unit_price=unit,
        subtotal=subtotal,
        total=total,
        tax=tax,
    )


def _set_or_money(f: Fields, owner: Mapping[str, Any], field: str, name: str) -> Decimal | None:
    """REST ``<name>_set`` (the shop-currency money bag) when present, else the plain ``<name>`` amount string."""
    if owner.get(f"{name}_set") is not None:
        return _bag(f, f"{field}{name}_set", owner.get(f"{name}_set"))
    return _at_least_cents(f.money(f"{field}{name}", owner.get(name)))


def _line_rest(f: Fields, line: Any, index: int) -> CanonicalOrderLine:
    node, line_id, field, quantity = _line(f, "line_items", line, index)
    unit = _set_or_money(f, node, f"{field}.", "price")
    discounts = _ZERO
    for i, allocation in enumerate(_list(f, f"{field}.discount_allocations", node.get("discount_allocations"))):
        path = f"{field}.discount_allocations[{i}]"
        discounts += _set_or_money(f, _obj(f, path, allocation), f"{path}.", "amount") or _ZERO
    for i, tax_line in enumerate(_list(f, f"{field}.tax_lines", node.get("tax_lines"))):
        # Validated but not kept: the GraphQL path does not read line taxes, and both shapes must give the same
        # record or a webhook and the next poll would flip the order back and forth.
        path = f"{field}.tax_lines[{i}]"
        _set_or_money(f, _obj(f, path, tax_line), f"{path}.", "price")
    variant_id = numeric_id(node.get("variant_id"))
    subtotal = unit * quantity if unit is not None else None
    return CanonicalOrderLine(
        external_id=line_id,
        variant_external_id=variant_id,
        sku=f.text(f"{field}.sku", node.get("sku")),
        title=f.text(f"{field}.name", node.get("name")),
        quantity=quantity,
        unit_price=unit,
        subtotal=subtotal,
        total=subtotal - discounts if subtotal is not None else None,
        tax=None,
    )


def order_to_canonical(order: Mapping[str, Any]) -> CanonicalOrder:
    """A GraphQL Order node (or a REST order) -> CanonicalOrder, in the shop currency with presentment kept apart."""
    if not _graphql_node("order", order):
        return order_from_rest(order)
    f = Fields("order", record_id("order", order))
    currency = f.text("currencyCode", order.get("currencyCode"))
    if currency is None:
        f.fail("currencyCode", f"missing, found {order.get('currencyCode')!r}")
    lines_connection = order.get("lineItems")
    if isinstance(lines_connection, Mapping) and (lines_connection.get("pageInfo") or {}).get("hasNextPage"):
        f.fail("lineItems", "incomplete lineItems connection: extract must page it")
    lines = tuple(_line_graphql(f, node, i) for i, node in enumerate(_list(f, "lineItems", lines_connection)))
    total = _bag(f, "totalPriceSet", order.get("totalPriceSet"))
    if total is None:
        f.fail("totalPriceSet", "missing order total")
    customer = _obj(f, "customer", order.get("customer"))
    return CanonicalOrder(
        external_id=str(f.record_id),
        order_number=f.text("name", order.get("name")),
        status=_order_status(order.get("cancelledAt"), order.get("closedAt")),
        financial_status=_lower(f, "displayFinancialStatus", order.get("displayFinancialStatus")),
        fulfillment_status=_fulfillment(f, "displayFulfillmentStatus", order.get("displayFulfillmentStatus")),
        currency=currency,
        subtotal=_bag(f, "subtotalPriceSet", order.get("subtotalPriceSet")),
        discount_total=_bag(f, "totalDiscountsSet", order.get("totalDiscountsSet")),
        shipping_total=_bag(f, "totalShippingPriceSet", order.get("totalShippingPriceSet")),
        tax_total=_bag(f, "totalTaxSet", order.get("totalTaxSet")),
        total=total,
        refunded_total=_bag(f, "totalRefundedSet", order.get("totalRefundedSet")) or _ZERO,
        lines=lines,
        customer_external_id=record_id("customer", customer) if customer else None,
        email=f.email("email", order.get("email")),
        placed_at=f.utc_time("createdAt", order.get("createdAt")),
        completed_at=f.utc_time("closedAt", order.get("closedAt")),
        updated_at=f.utc_time("updatedAt", order.get("updatedAt")),
        external_gid=_gid(order),
        presentment_currency=f.text("presentmentCurrencyCode", order.get("presentmentCurrencyCode")),
        presentment_total=_bag(f, "totalPriceSet", order.get("totalPriceSet"), side="presentment"),
    )


def _rest_refunded(f: Fields, order: Mapping[str, Any]) -> Decimal:
    """Sum of successful refund transactions (REST orders carry refunds, not a refunded total).

    Transactions are in the currency the buyer paid in (Shopify's multi-currency rule), so when that differs
    from the shop currency their sum is not a shop-currency amount: refuse (the webhook planner then re-reads the
    order, whose GraphQL ``totalRefundedSet.shopMoney`` is exact) rather than store 151x too much for a yen buyer.
    """
    presentment = f.text("presentment_currency", order.get("presentment_currency"))
    currency = f.text("currency", order.get("currency"))
    if order.get("refunds") and presentment and currency and presentment != currency:
        f.fail(
            "refunds[].transactions",
            f"refund transactions are in the buyer's currency {presentment}, not the shop currency {currency}; "
            "the order must be re-read for its refunded total",
        )
    total = _ZERO
    for i, refund in enumerate(_list(f, "refunds", order.get("refunds"))):
        refund = _obj(f, f"refunds[{i}]", refund)
        for j, transaction in enumerate(_list(f, f"refunds[{i}].transactions", refund.get("transactions"))):
            transaction = _obj(f, f"refunds[{i}].transactions[{j}]", transaction)
            if transaction.get("kind") == "refund" and transaction.get("status") in ("success", None):
                total += f.money(f"refunds[{i}].transactions[{j}].amount", transaction.get("amount")) or _ZERO
    return total


def order_from_rest(order: Mapping[str, Any]) -> CanonicalOrder:
    """A REST order (``orders/*`` webhook body, REST samples) -> CanonicalOrder (same result as the GraphQL node)."""
    f = Fields("order", record_id("order", order))
    currency = f.text("currency", order.get("currency"))
    if currency is None:
        f.fail("currency", f"missing, found {order.get('currency')!r}")
    lines = tuple(_line_rest(f, node, i) for i, node in enumerate(_list(f, "line_items", order.get("line_items"))))
    total = _set_or_money(f, order, "", "total_price")
    if total is None:
        f.fail("total_price", "missing order total")
    customer = _obj(f, "customer", order.get("customer"))
    price_set = order.get("total_price_set")
    return CanonicalOrder(
        external_id=str(f.record_id),
        order_number=f.text("name", order.get("name")),
        status=_order_status(order.get("cancelled_at"), order.get("closed_at")),
        financial_status=_lower(f, "financial_status", order.get("financial_status")),
        fulfillment_status=_fulfillment(f, "fulfillment_status", order.get("fulfillment_status")),
        currency=currency,
        subtotal=_set_or_money(f, order, "", "subtotal_price"),
        discount_total=_set_or_money(f, order, "", "total_discounts"),
        shipping_total=_bag(f, "total_shipping_price_set", order.get("total_shipping_price_set")),
        tax_total=_set_or_money(f, order, "", "total_tax"),
        total=total,
        refunded_total=_rest_refunded(f, order),
        lines=lines,
        customer_external_id=record_id("customer", customer) if customer else None,
        email=f.email("email", order.get("email") or order.get("contact_email")),
        placed_at=f.utc_time("created_at", order.get("created_at")),
        completed_at=f.utc_time("closed_at", order.get("closed_at")),
        updated_at=f.utc_time("updated_at", order.get("updated_at")),
        external_gid=_gid(order),
        presentment_currency=f.text("presentment_currency", order.get("presentment_currency")),
        presentment_total=_bag(f, "total_price_set", price_set, side="presentment") if price_set is not None else None,
    )


# -- customers ------------------------------------------------------------------------------------------------------


def customer_to_canonical(customer: Mapping[str, Any]) -> CanonicalCustomer:
    """A GraphQL Customer node (or a REST customer) -> CanonicalCustomer."""
    if not _graphql_node("customer", customer):
        return customer_from_rest(customer)
    f = Fields("customer", record_id("customer", customer))
    address = _obj(f, "defaultAddress", customer.get("defaultAddress"))
    email = customer.get("email")
    if email is None and isinstance(customer.get("defaultEmailAddress"), Mapping):
        email = customer["defaultEmailAddress"].get("emailAddress")
    return CanonicalCustomer(
        external_id=str(f.record_id),
        email=f.email("email", email),
        first_name=f.text("firstName", customer.get("firstName")),
        last_name=f.text("lastName", customer.get("lastName")),
        phone=f.text("defaultPhoneNumber.phoneNumber", _phone(customer)),
        company=f.text("defaultAddress.company", address.get("company")),
        city=f.text("defaultAddress.city", address.get("city")),
        country=f.text("defaultAddress.countryCodeV2", address.get("countryCodeV2")),
        created_at=f.utc_time("createdAt", customer.get("createdAt")),
        updated_at=f.utc_time("updatedAt", customer.get("updatedAt")),
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
    f = Fields("customer", record_id("customer", customer))
    address = _obj(f, "default_address", customer.get("default_address"))
    return CanonicalCustomer(
        external_id=str(f.record_id),
        email=f.email("email", customer.get("email")),
        first_name=f.text("first_name", customer.get("first_name")),
        last_name=f.text("last_name", customer.get("last_name")),
        phone=f.text("phone", customer.get("phone")),
        company=f.text("default_address.company", address.get("company")),
        city=f.text("default_address.city", address.get("city")),
        country=f.text("default_address.country_code", address.get("country_code")),
        created_at=f.utc_time("created_at", customer.get("created_at")),
        updated_at=f.utc_time("updated_at", customer.get("updated_at")),
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
    f = Fields("record", numeric_id(payload.get("legacyResourceId") or payload.get("id")))
    return f.utc_time(field, payload.get(field))


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
