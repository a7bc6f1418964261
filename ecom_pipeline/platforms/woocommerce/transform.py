"""WooCommerce wc/v3 payloads -> canonical records. The ONLY module that knows WooCommerce field names.

Rules that come from the recorded store (``fixtures/recorded/woocommerce-10.0.2``), not from guesswork:

- Money is a decimal string ("9.90", refunds "-26.00"), except ``line_items[].price`` which is a JSON number
  computed by PHP as a float; we derive the unit price from ``subtotal / quantity`` in Decimal and only fall back
  to ``price`` (read from the float's shortest text, never ``Decimal(float)``) when the quantity is zero. A float
  in any other money field is refused, as on every platform (field readers: ``platforms/readers.py``).
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
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from ecom_pipeline.platforms.errors import TransformError
from ecom_pipeline.platforms.readers import Fields, record_id
from ecom_pipeline.sync.canonical import (
    CanonicalCustomer,
    CanonicalInventory,
    CanonicalOrder,
    CanonicalOrderLine,
    CanonicalProduct,
    CanonicalVariant,
)
from ecom_pipeline.sync.category_paths import escape_name, join_path

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


# -- field readers (the shared ones are in platforms/readers.py) -----------------------------------------------


def _external_id(entity: str, payload: Mapping[str, Any], field: str = "id") -> str:
    return record_id(entity, payload, field)


def _gmt(f: Fields, payload: Mapping[str, Any], field: str) -> datetime | None:
    """A ``*_gmt`` field (``YYYY-MM-DDTHH:MM:SS``, UTC, no offset) as an aware UTC datetime."""
    return f.utc_time(field, payload.get(field), naive_is_utc=True, expected="a UTC date-time like 2026-11-22T00:09:21")


def _name(f: Fields, field: str, value: Any) -> str | None:
    """Names come back HTML-escaped when WordPress sanitised them ("Mugs &amp; Cups")."""
    text = f.text(field, value)
    return html.unescape(text) if text else None


def _mapping(value: Any) -> Mapping[str, Any]:
    """A nested object such as ``billing``, or empty when the shop sent null or a non-object."""
    return value if isinstance(value, Mapping) else {}


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


def _prices(f: Fields, payload: Mapping[str, Any]) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    """(price, compare_at_price, sale_price): ``price`` is the active price; the regular price is the compare-at
    when on sale. ``sale_price`` is the shop's own: the price while on sale, or a sale scheduled for later (sale
    dates in the future: not on sale yet, the price is still the regular one)."""
    price = f.money("price", payload.get("price"))
    regular = f.money("regular_price", payload.get("regular_price"))
    sale = f.money("sale_price", payload.get("sale_price"))
    if price is None:
        price = regular
    compare_at = None
    if f.flag("on_sale", payload.get("on_sale")) and regular is not None and price is not None and regular > price:
        compare_at = regular
    return price, compare_at, sale


def _stock(f: Fields, payload: Mapping[str, Any]) -> tuple[int | None, bool, bool]:
    """(quantity, managed, managed_by_parent). Negative stock is legitimate (backorders), so not refused."""
    manage = payload.get("manage_stock")
    quantity = f.integer("stock_quantity", payload.get("stock_quantity"))
    if manage == "parent":
        return quantity, True, True
    if manage is True:
        return quantity, True, False
    if manage in (False, None, ""):
        return None, False, False
    f.fail("manage_stock", f'expected true, false or "parent", found {manage!r}')


def _options(f: Fields, variation: Mapping[str, Any]) -> dict[str, str]:
    options: dict[str, str] = {}
    attributes = variation.get("attributes") or []
    if not isinstance(attributes, list):
        f.fail("attributes", f"expected a list, found {attributes!r}")
    for attribute in attributes:
        if not isinstance(attribute, Mapping):
            f.fail("attributes", f"expected objects, found {attribute!r}")
        name = _name(f, "attributes.name", attribute.get("name"))
        option = f.text("attributes.option", attribute.get("option"))
        if name and option:  # option "" means "any value" for this attribute: not an option of the variant
            options[name] = option
    return options


def _variant(
    f: Fields,
    payload: Mapping[str, Any],
    *,
    currency: str | None,
    options: dict[str, str],
    weight: str | None,
    position: int | None,
    includes_tax: bool | None = None,
) -> CanonicalVariant:
    """The canonical variant of a simple product or a variation (the fields both carry under the same names).

    ``includes_tax`` flags the price as ``canonical.with_tax_flag`` does (None: not known, both tax fields None),
    set here rather than by replacing every variant of a product afterwards (a second validated dataclass each).
    """
    price, compare_at, sale = _prices(f, payload)
    quantity, managed, _by_parent = _stock(f, payload)
    return CanonicalVariant(
        external_id=str(f.record_id),
        sku=f.text("sku", payload.get("sku")),
        title=_name(f, "name", payload.get("name")),
        price=price,
        compare_at_price=compare_at,
        sale_price=sale,
        # GTIN/UPC/EAN/ISBN (WooCommerce 9.2+; absent before, read as none).
        barcode=f.text("global_unique_id", payload.get("global_unique_id")),
        price_tax_excl=price if includes_tax is False else None,
        price_includes_tax=includes_tax,
        currency=currency,
        options=options,
        weight=weight,
        position=position,
        stock_quantity=quantity,
        stock_managed=managed,
        stock_status=f.text("stock_status", payload.get("stock_status")),
        created_at=_gmt(f, payload, "date_created_gmt"),
        updated_at=_gmt(f, payload, "date_modified_gmt"),
    )


def _simple_variant(
    product: Mapping[str, Any], product_id: str, currency: str | None, includes_tax: bool | None = None
) -> CanonicalVariant:
    f = Fields("product", product_id)
    weight = f.text("weight", product.get("weight"))
    return _variant(f, product, currency=currency, options={}, weight=weight, position=0, includes_tax=includes_tax)


def variant_from_variation(
    variation: Mapping[str, Any],
    parent: Mapping[str, Any] | None = None,
    *,
    position: int | None = None,
    currency: str | None = None,
    includes_tax: bool | None = None,
) -> CanonicalVariant:
    """One WooCommerce variation -> a canonical variant (also used for ``product.*`` webhooks of variations).

    Weight "" on a variation means "inherit the parent's"; parent-managed stock is reported as the pool's
    quantity with ``stock_managed=True`` (see the module docstring for how inventory avoids double counting).
    ``includes_tax``: whether its price includes tax, as ``canonical.with_tax_flag`` sets it (None: unknown).
    """
    f = Fields("variation", _external_id("variation", variation))
    weight = f.text("weight", variation.get("weight"))
    if weight is None and parent:
        weight = f.text("parent.weight", parent.get("weight"))
    if position is None:
        position = f.integer("menu_order", variation.get("menu_order"))
    return _variant(
        f,
        variation,
        currency=currency,
        options=_options(f, variation),
        weight=weight,
        position=position,
        includes_tax=includes_tax,
    )


def _sorted_variations(variations: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Variations in shop display order (menu_order, then id): that order is the variant position."""

    def key(variation: Mapping[str, Any]) -> tuple[int, int]:
        order = variation.get("menu_order")
        vid = variation.get("id")
        return (order if isinstance(order, int) else 0, vid if isinstance(vid, int) else 0)

    return sorted(variations, key=key)


def _terms(
    f: Fields, product: Mapping[str, Any], field: str, paths: Mapping[str, Any] | None = None
) -> tuple[str, ...]:
    """A product's term names; with ``paths`` (category id -> ``Parent > Child``), a nested category's path. A
    category's own name (a top-level one, or a leaf whose path is not known) is written as a step of a hub path
    (``sync.category_paths.escape_name``: ``Kids > 3 years``, one category, is ``Kids \\> 3 years``); tags as
    they are."""
    terms = product.get(field) or []
    if not isinstance(terms, list):
        f.fail(field, f"expected a list, found {terms!r}")
    names: list[str] = []
    for term in terms:
        path = paths.get(str(term.get("id"))) if paths and isinstance(term, Mapping) else None
        name = _name(f, field, term.get("name") if isinstance(term, Mapping) else term)
        if name:
            own = escape_name(name) if field == "categories" else name
            names.append(path if isinstance(path, str) and path else own)
    return tuple(names)


def category_paths(terms: Iterable[Mapping[str, Any]], wanted: Iterable[Any]) -> dict[str, str]:
    """``{id: "Parent > Child"}`` of the nested categories among ``wanted`` ids, from the shop's category terms
    (``GET /products/categories``: ``id``, ``name``, ``parent``). A top-level category is left out (its name is its
    path); a parent missing from ``terms`` ends the path there."""
    by_id = {str(t.get("id")): t for t in terms if isinstance(t, Mapping)}
    out: dict[str, str] = {}
    for cid in {str(w) for w in wanted}:
        steps: list[str] = []
        step: str | None = cid
        while step is not None and step in by_id and len(steps) <= len(by_id):
            term = by_id[step]
            steps.insert(0, html.unescape(str(term.get("name") or "")))
            parent = term.get("parent")
            step = str(parent) if parent not in (None, 0, "0", "") else None
        if len(steps) > 1:
            out[cid] = join_path(steps)
    return out


def _paths(f: Fields, record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The record's ``category_paths`` (staged by the extract and the writer's read-back), or None."""
    paths = record.get("category_paths") if "product" in record else None
    if paths is not None and not isinstance(paths, Mapping):
        f.fail("category_paths", f"expected an object, found {paths!r}")
    return paths


def _prices_include_tax(record: Mapping[str, Any], product: Mapping[str, Any]) -> bool | None:
    """Whether the entered prices include tax: False for a product not taxed at all (``tax_status`` none), else
    the store setting ``woocommerce_prices_include_tax`` when the extract staged it (``prices_include_tax``),
    else None: the product API does not say."""
    if product.get("tax_status") == "none":
        return False
    flag = record.get("prices_include_tax") if isinstance(record, Mapping) else None
    return flag if isinstance(flag, bool) else None


def product_to_canonical(record: Mapping[str, Any], *, currency: str | None = None) -> CanonicalProduct:
    """A staged ``{"product", "variations"[, "category_paths"]}`` record -> CanonicalProduct.

    Non-variable products (simple, external, grouped) have one variant whose external id is the product id. A
    variable product has one variant per variation (none if it has no variations yet). ``currency`` is the store
    currency (products do not carry it; system_status does).
    """
    product, variations = _split_record(record)
    product_id = _external_id("product", product)
    f = Fields("product", product_id)
    product_type = f.text("type", product.get("type"))
    if product_type == "variation":
        f.fail("type", "a variation is not a product: transform it with variant_from_variation(variation, parent)")
    raw_status = f.text("status", product.get("status"))
    status = PRODUCT_STATUS.get(raw_status or "", "draft")  # unknown (plugin) statuses: not visible, so draft
    includes_tax = _prices_include_tax(record, product)
    if product_type == "variable":
        variants = tuple(
            variant_from_variation(variation, product, position=index, currency=currency, includes_tax=includes_tax)
            for index, variation in enumerate(_sorted_variations(variations))
        )
    else:
        variants = (_simple_variant(product, product_id, currency, includes_tax),)
    title = _name(f, "name", product.get("name"))
    if title is None:
        f.fail("name", f"a product needs a name, found {product.get('name')!r}")
    handle = f.text("slug", product.get("slug"))
    if handle and handle.endswith(_TRASHED_SUFFIX):
        handle = handle[: -len(_TRASHED_SUFFIX)] or None
    return CanonicalProduct(
        external_id=product_id,
        title=title,
        status=status,
        variants=variants,  # flagged as with_tax_flag would (``includes_tax``)
        description=f.text("description", product.get("description")),
        product_type=product_type,
        handle=handle,
        tags=_terms(f, product, "tags"),
        categories=_terms(f, product, "categories", _paths(f, record)),
        created_at=_gmt(f, product, "date_created_gmt"),
        updated_at=_gmt(f, product, "date_modified_gmt"),
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
    f = Fields("product", product_id)
    if f.text("type", product.get("type")) != "variable":
        quantity, managed, _ = _stock(f, product)
        return [
            CanonicalInventory(
                variant_external_id=product_id,
                sku=f.text("sku", product.get("sku")),
                location=DEFAULT_LOCATION,
                available=quantity,
                managed=managed,
                stock_status=f.text("stock_status", product.get("stock_status")),
                updated_at=_gmt(f, product, "date_modified_gmt"),
            )
        ]
    pool_quantity = f.integer("stock_quantity", product.get("stock_quantity"))
    # The pool's quantity changes on the parent (an order, an edit), which WooCommerce stamps on the parent only:
    # a pooled row's time is the later of the two, or a changed pool would read as older than the last one seen.
    pool_at = _gmt(f, product, "date_modified_gmt")
    rows: list[CanonicalInventory] = []
    for variation in _sorted_variations(variations):
        variation_id = _external_id("variation", variation)
        v = Fields("variation", variation_id)
        quantity, managed, by_parent = _stock(v, variation)
        if by_parent and pool_quantity is not None:
            quantity = pool_quantity  # the parent is the truth; a variation's mirror may lag behind it
        rows.append(
            CanonicalInventory(
                variant_external_id=variation_id,
                sku=v.text("sku", variation.get("sku")),
                location=DEFAULT_LOCATION,
                available=quantity,
                managed=True if by_parent else managed,
                stock_status=v.text("stock_status", variation.get("stock_status")),
                updated_at=_later(_gmt(v, variation, "date_modified_gmt"), pool_at if by_parent else None),
                stock_pool=f"product:{product_id}" if by_parent else None,
            )
        )
    return rows


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(a, b) if a is not None and b is not None else a or b


def stock_owner_ids(record: Mapping[str, Any]) -> dict[str, str]:
    """variant external id -> the id whose ``stock_quantity`` holds its stock (the parent for "parent" stock).

    Export needs it: writing stock to a parent-managed variation would not change the pool.
    """
    product, variations = _split_record(record)
    product_id = _external_id("product", product)
    if Fields("product", product_id).text("type", product.get("type")) != "variable":
        return {product_id: product_id}
    owners: dict[str, str] = {}
    for variation in variations:
        variation_id = _external_id("variation", variation)
        owners[variation_id] = product_id if variation.get("manage_stock") == "parent" else variation_id
    return owners


# -- orders -----------------------------------------------------------------------------------------------------


def _unit_price(f: Fields, line_id: str, line: Mapping[str, Any], quantity: int) -> Decimal | None:
    """subtotal / quantity in Decimal (pre-discount unit price); the float ``price`` only when quantity is 0.

    ``price`` is the one money field WooCommerce sends as a JSON number (PHP float); it is read from the float's
    shortest text, which is what PHP wrote (platforms/readers.py), never as ``Decimal(float)``.
    """
    subtotal = f.money(f"line_items[{line_id}].subtotal", line.get("subtotal"))
    if subtotal is not None and quantity > 0:
        unit = subtotal / quantity
        exact = unit.quantize(_TWO_PLACES, rounding=ROUND_HALF_EVEN)
        return exact if exact == unit else unit.quantize(_FOUR_PLACES, rounding=ROUND_HALF_EVEN)
    return f.money_from_json_number(f"line_items[{line_id}].price", line.get("price"))


def _order_line(f: Fields, line: Any, index: int) -> CanonicalOrderLine:
    if not isinstance(line, Mapping):
        f.fail(f"line_items[{index}]", f"expected an object, found {line!r}")
    line_id_value = line.get("id")
    if isinstance(line_id_value, bool) or not isinstance(line_id_value, int | str) or not str(line_id_value).strip():
        f.fail(f"line_items[{index}].id", f"missing line id, found {line_id_value!r}")
    line_id = str(line_id_value)
    quantity = f.integer(f"line_items[{line_id}].quantity", line.get("quantity"), non_negative=True)
    if quantity is None:
        f.fail(f"line_items[{line_id}].quantity", "quantity is missing")
    variation_id = f.integer(f"line_items[{line_id}].variation_id", line.get("variation_id")) or 0
    product_id = f.integer(f"line_items[{line_id}].product_id", line.get("product_id")) or 0
    # product_id 0: the product was deleted since; the SKU (kept on the line) is then the only key.
    variant_id = str(variation_id) if variation_id else (str(product_id) if product_id else None)
    return CanonicalOrderLine(
        external_id=line_id,
        variant_external_id=variant_id,
        sku=f.text(f"line_items[{line_id}].sku", line.get("sku")),
        title=_name(f, f"line_items[{line_id}].name", line.get("name")),
        quantity=quantity,
        unit_price=_unit_price(f, line_id, line, quantity),
        subtotal=f.money(f"line_items[{line_id}].subtotal", line.get("subtotal")),
        total=f.money(f"line_items[{line_id}].total", line.get("total")),
        tax=f.money(f"line_items[{line_id}].total_tax", line.get("total_tax")),
    )


def _refunded_total(f: Fields, order: Mapping[str, Any]) -> Decimal:
    refunds = order.get("refunds") or []
    if not isinstance(refunds, list):
        f.fail("refunds", f"expected a list, found {refunds!r}")
    total = Decimal("0.00")
    for index, refund in enumerate(refunds):
        if not isinstance(refund, Mapping):
            f.fail(f"refunds[{index}]", f"expected an object, found {refund!r}")
        amount = f.money(f"refunds[{index}].total", refund.get("total"))
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
    f = Fields("order", order_id)
    status = f.text("status", order.get("status"))
    if status is None:
        f.fail("status", f"missing status, found {order.get('status')!r}")
    currency = f.text("currency", order.get("currency"))
    if currency is None:
        f.fail("currency", f"missing currency, found {order.get('currency')!r}")
    raw_lines = order.get("line_items") or []
    if not isinstance(raw_lines, list):
        f.fail("line_items", f"expected a list, found {raw_lines!r}")
    lines = tuple(_order_line(f, line, index) for index, line in enumerate(raw_lines))
    total = f.required_money("total", order.get("total"))
    refunded = _refunded_total(f, order)
    subtotals = [line.subtotal for line in lines if line.subtotal is not None]
    customer_id = f.integer("customer_id", order.get("customer_id"))
    raw_billing = order.get("billing")
    billing: Mapping[str, Any] = raw_billing if isinstance(raw_billing, Mapping) else {}
    return CanonicalOrder(
        external_id=order_id,
        order_number=f.text("number", order.get("number")),
        status=status,
        financial_status=_financial_status(status, total, refunded),
        fulfillment_status=ORDER_FULFILLMENT_STATUS.get(status, "unfulfilled"),
        currency=currency,
        subtotal=sum(subtotals, Decimal("0.00")) if subtotals else (Decimal("0.00") if not lines else None),
        discount_total=f.money("discount_total", order.get("discount_total")),
        shipping_total=f.money("shipping_total", order.get("shipping_total")),
        tax_total=f.money("total_tax", order.get("total_tax")),
        total=total,
        refunded_total=refunded,
        lines=lines,
        customer_external_id=str(customer_id) if customer_id else None,  # 0 = guest checkout
        email=f.email("billing.email", billing.get("email")),
        placed_at=_gmt(f, order, "date_created_gmt"),
        paid_at=_gmt(f, order, "date_paid_gmt"),
        completed_at=_gmt(f, order, "date_completed_gmt"),
        updated_at=_gmt(f, order, "date_modified_gmt"),
    )


# -- customers --------------------------------------------------------------------------------------------------


def customer_to_canonical(customer: Mapping[str, Any]) -> CanonicalCustomer:
    """A wc/v3 customer -> CanonicalCustomer; billing fills what the account itself leaves empty."""
    customer_id = _external_id("customer", customer)
    f = Fields("customer", customer_id)
    account = ("", customer)
    billing = ("billing.", _mapping(customer.get("billing")))
    shipping = ("shipping.", _mapping(customer.get("shipping")))
    email = _first_text(f, "email", account, billing)
    return CanonicalCustomer(
        external_id=customer_id,
        email=email.lower() if email else None,
        first_name=_first_text(f, "first_name", account, billing),
        last_name=_first_text(f, "last_name", account, billing),
        phone=_first_text(f, "phone", billing, shipping),
        company=_first_text(f, "company", billing, shipping),
        city=_first_text(f, "city", billing, shipping),
        country=_first_text(f, "country", billing, shipping),
        created_at=_gmt(f, customer, "date_created_gmt"),
        updated_at=_gmt(f, customer, "date_modified_gmt"),
    )


def _first_text(f: Fields, key: str, *sources: tuple[str, Mapping[str, Any]]) -> str | None:
    """The first non-empty ``key`` among ``(field prefix, object)`` sources: the account, then its addresses."""
    for prefix, source in sources:
        text = f.text(f"{prefix}{key}", source.get(key))
        if text:
            return text
    return None


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
    return _gmt(Fields("record", str(raw_id) if raw_id else None), payload, "date_modified_gmt")


__all__ = [
    "DEFAULT_LOCATION",
    "TransformError",
    "category_paths",
    "customer_to_canonical",
    "inventory_from_product",
    "order_to_canonical",
    "product_to_canonical",
    "source_updated_at",
    "stock_owner_ids",
    "variant_from_variation",
]
