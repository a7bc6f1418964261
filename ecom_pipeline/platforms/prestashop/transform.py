"""PrestaShop webservice payloads -> canonical records. The ONLY module that knows PrestaShop field names.

Staged payloads carry the raw webservice objects plus a ``context`` the extract adds, because a PrestaShop record
cannot be read on its own: its dates are shop-local (``context.timezone``, an IANA name), its multilingual fields
need the shop's default language (``context.language_id``), an order's status and currency are ids
(``context.state``, ``context.currency``) and a combination's attribute values are ids (``context.option_values``).

- product: ``{"product": {...display=full...}, "combinations": [...], "context": {"timezone", "language_id",
  "currency", "option_values", "categories": {id: name}, "category_parents": {id: id_parent}, "tags": {id: {"id_lang",
  "name"}}, "prices": {variant id: {"final", "final_ht", "final_no_reduction"}}}}``
- inventory: ``{"id_product": "1", "rows": [stock_available, ...], "context": {"observed_at": iso UTC}}``
- order: ``{"order": {...}, "context": {"timezone", "language_id", "currency", "state": order_state, "email"}}``
- customer: ``{"customer": {...}, "context": {"timezone", "language_id", "address": {"phone", "phone_mobile",
  "city", "company", "country_iso"}}}``

Rules from the recorded 8.2.1 store (fixtures/recorded/prestashop-8.2.1):

- Every scalar is a string ("23.900000", "1", "", "0000-00-00"); ``id`` is a number. Single-resource JSON omits
  falsy top-level fields (``"0"``, ``""``, null), so a missing field reads as its falsy value, never as an error.
- Multilingual fields (names, descriptions, categories, order state names) are plain strings in a one-language shop
  and ``[{"id": "1", "value": "..."}]`` otherwise (recorded: prestashop-8.2.1-multilang): we take
  ``context.language_id`` (the integration's language, else the first) and keep every language in the staged
  payload. A list or object where text belongs is refused, never stored as its Python text.
- Variant ids: ``"<id_product>-<id_product_attribute>"`` ("1-0" for a product without combinations, "1-5" for
  combination 5). That is the key stock_availables and order_rows use, and it cannot collide between products and
  combinations, whose ids are separate sequences.
- Price: PrestaShop stores prices **tax excluded** (product ``price`` + combination ``price``, the impact). The
  extract asks the shop for its computed prices (``price[final][use_tax]=1`` and friends: tax of the default
  country, specific prices, combination impact): ``price`` is ``final``, ``price_tax_excl`` is ``final_ht``,
  ``compare_at_price`` is ``final_no_reduction`` when higher; without them the stored tax-excluded price is kept,
  with ``price_includes_tax`` False. Categories are names from ``context.categories``, a nested one as its path
  from home ``Parent > Child`` through ``context.category_parents`` (ids only for payloads staged before names
  were read).
- SKU = ``reference`` (the combination's own, else none). A reference shared by several combinations of one
  product (the demo shop copies "demo_1" on all 8 of product 1) is not a SKU: it would merge distinct items in the
  hub, so those variants get ``sku=None`` and are matched by link only.
- Barcode = the first non-empty of ``ean13``, ``upc``, ``isbn`` (the combination's own for a combination).
  ``sale_price`` is the price while a reduction is in force (PrestaShop keeps it as a specific price).
- Dates are shop-local, converted with :mod:`~ecom_pipeline.platforms.prestashop.dates` (DST rules there); zero
  dates ("0000-00-00 00:00:00") are None.
- Order status: ``status`` is the order_state's name. Financial status: state 7 (PS_OS_REFUND) "refunded", states
  6 (PS_OS_CANCELED) and 8 (PS_OS_ERROR) "voided", otherwise "paid" when the state's ``paid`` flag is set, else
  "pending". Fulfillment: "cancelled" for 6, "fulfilled" when the state's ``shipped`` flag is set, else
  "unfulfilled". The ids are PrestaShop's installation defaults; the flags carry the rest, so renamed or added
  states map correctly.
- Order money: ``total`` = total_paid_tax_incl, ``subtotal`` = total_products (tax excl.), ``shipping_total`` =
  total_shipping_tax_excl, ``discount_total`` = total_discounts_tax_excl, ``tax_total`` = total_paid_tax_incl -
  total_paid_tax_excl. Lines: unit price tax excl. (``unit_price_tax_excl``); ``total`` and ``tax`` are the
  shop's per-line totals when the row carries them (``total_price_tax_excl`` / ``_incl``, as ``order_details``
  does; ``order_rows`` do not, recorded), else computed as PrestaShop computes them: the line's tax-excluded and
  tax-included totals rounded to the currency's decimals (the order's ``round_type``: 1 rounds the unit prices
  before multiplying, otherwise the line; ``round_mode`` as PrestaShop's PS_ROUND_* modes, half up by default),
  ``tax`` the difference. Unrounded, a 85.854367 line (90.576357 with tax) had tax 4.72 where the shop says 4.73,
  and the lines did not add up to ``total_products``.
- Order e-mail: ``context.email`` (the customer's, read in batches by the extract); a customer's phone, city and
  country come from ``context.address`` (its most recent address; the country as ISO code).
- ``paid_at`` is ``invoice_date`` (PrestaShop issues the invoice when the order reaches a paid state) and
  ``completed_at`` is ``delivery_date``, when set.

Every malformed input raises :class:`TransformError` naming the record and field; callers reject that record only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ecom_pipeline.catalog.columns import minor_units
from ecom_pipeline.platforms.errors import TransformError
from ecom_pipeline.platforms.prestashop.dates import local_to_utc, shop_zone
from ecom_pipeline.platforms.readers import Fields, record_id
from ecom_pipeline.sync.canonical import (
    CanonicalCustomer,
    CanonicalInventory,
    CanonicalOrder,
    CanonicalOrderLine,
    CanonicalProduct,
    CanonicalVariant,
    sale_price_of,
)
from ecom_pipeline.sync.category_paths import join_path

DEFAULT_LOCATION = "default"  # stock_availables of one shop (multishop: the connected id_shop)
STATE_CANCELED = "6"
STATE_REFUNDED = "7"
STATE_PAYMENT_ERROR = "8"


# -- field readers (the shared ones are in platforms/readers.py) -----------------------------------------------


def _id(entity: str, payload: Any, field: str = "id") -> str:
    return record_id(entity, payload, field)


def _lang(f: Fields, field: str, value: Any, language_id: int | None) -> str | None:
    """A multilingual field: plain string (one language) or ``[{"id","value"}]`` (several).

    The entry of ``language_id`` (the integration's language, the shop's ``PS_LANG_DEFAULT`` unless chosen at
    connect) wins; without one, the first entry (PrestaShop lists languages in id order). An empty translation
    reads as None, like an empty one-language field.
    """
    if value is None or isinstance(value, str | int):
        return f.text(field, value)
    if isinstance(value, list):
        entries = [v for v in value if isinstance(v, Mapping)]
        if len(entries) != len(value) or any(isinstance(e.get("value"), list | dict) for e in entries):
            f.fail(field, f"expected language entries, found {str(value)[:120]}")
        chosen = next((e for e in entries if str(e.get("id")) == str(language_id)), None)
        if chosen is None and entries:
            chosen = entries[0]
        return f.text(field, chosen.get("value")) if chosen else None
    f.fail(field, f"expected a string or a list of languages, found {str(value)[:120]}")


def _language_id(f: Fields, context: Mapping[str, Any]) -> int | None:
    return f.integer("context.language_id", context.get("language_id"))


def _zone(f: Fields, context: Mapping[str, Any]) -> ZoneInfo:
    try:
        return shop_zone(context.get("timezone"))
    except ValueError as exc:
        f.fail("context.timezone", str(exc))


def _date(f: Fields, record: Mapping[str, Any], field: str, zone: ZoneInfo) -> datetime | None:
    """A shop-local ``YYYY-MM-DD HH:MM:SS`` as aware UTC (DST rules in prestashop/dates.py); zero dates are None."""
    expected = "'YYYY-MM-DD HH:MM:SS' (shop-local)"
    value = record.get(field)
    text = f.time_text(field, value, expected) if value != "" else ""
    if text is None:
        return None
    try:
        return local_to_utc(text, zone)
    except ValueError:
        f.fail(field, f"expected {expected}, found {value!r}")


def _parts(entity: str, record: Any, key: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """(the webservice object, the context) of a staged record; a bare object has an empty context."""
    if not isinstance(record, Mapping):
        raise TransformError(entity, None, key, f"expected a JSON object, found {type(record).__name__}")
    obj = record.get(key, record)
    if not isinstance(obj, Mapping):
        raise TransformError(entity, None, key, f"expected a JSON object, found {type(obj).__name__}")
    context = record.get("context") or {}
    if not isinstance(context, Mapping):
        raise TransformError(entity, None, "context", f"expected an object, found {context!r}")
    return obj, context


def _associations(entity: str, rid: str, record: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    associations = record.get("associations") or {}
    if not isinstance(associations, Mapping):
        raise TransformError(entity, rid, "associations", f"expected an object, found {associations!r}")
    items = associations.get(name) or []
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise TransformError(entity, rid, f"associations.{name}", f"expected a list of objects, found {items!r}")
    return items


def variant_id(product_id: int | str, attribute_id: int | str) -> str:
    """The canonical variant id of (id_product, id_product_attribute): "1-0", "1-5"."""
    return f"{int(product_id)}-{int(attribute_id)}"


# -- products ---------------------------------------------------------------------------------------------------


def product_to_canonical(record: Mapping[str, Any]) -> CanonicalProduct:
    """A staged ``{"product", "combinations", "context"}`` -> CanonicalProduct (see the module docstring)."""
    product, context = _parts("product", record, "product")
    pid = _id("product", product)
    f = Fields("product", pid)
    zone = _zone(f, context)
    language_id = _language_id(f, context)
    currency = f.text("context.currency", context.get("currency"))
    combinations = record.get("combinations") or [] if isinstance(record, Mapping) else []
    if not isinstance(combinations, list) or not all(isinstance(c, Mapping) for c in combinations):
        f.fail("combinations", f"expected a list of objects, found {combinations!r}")
    declared = _associations("product", pid, product, "combinations")
    if declared and not combinations:
        # Without them we would invent a "<id>-0" variant that the shop does not sell.
        f.fail("combinations", f"the product has {len(declared)} combinations but none were staged")
    name = _lang(f, "name", product.get("name"), language_id)
    if name is None:
        f.fail("name", f"a product needs a name, found {product.get('name')!r}")
    base_price = f.money("price", product.get("price"), default=Decimal("0"))
    assert base_price is not None
    reference = f.text("reference", product.get("reference"))
    updated = _date(f, product, "date_upd", zone)
    created = _date(f, product, "date_add", zone)
    weight = f.money("weight", product.get("weight"), default=Decimal("0"))
    prices = context.get("prices")
    if prices is not None and not isinstance(prices, Mapping):
        f.fail("context.prices", f"expected an object, found {prices!r}")

    def variant(
        attribute_id: int | str,
        stored: Decimal,
        *,
        sku: str | None,
        title: str,
        options: dict[str, str],
        weight: Decimal | None,
        position: int,
        barcode: str | None,
    ) -> CanonicalVariant:
        """One sellable item: the product itself (attribute 0) or one of its combinations."""
        vid = variant_id(pid, attribute_id)
        price, price_excl, compare_at, includes_tax = _variant_prices(f, vid, stored, prices)
        return CanonicalVariant(
            external_id=vid,
            sku=sku,
            title=title,
            price=price,
            price_tax_excl=price_excl,
            price_includes_tax=includes_tax,
            compare_at_price=compare_at,
            sale_price=sale_price_of(price, compare_at),
            barcode=barcode,
            currency=currency,
            options=options,
            weight=str(weight.normalize()) if weight else None,
            position=position,
            stock_managed=True,
            created_at=created,
            updated_at=updated,
        )

    variants: list[CanonicalVariant]
    if combinations:
        option_values = context.get("option_values") or {}
        refs = Counter(f.text("combinations.reference", c.get("reference")) for c in combinations)
        variants = []
        ordered = sorted(combinations, key=lambda c: int(_id("combination", c)))
        for position, combination in enumerate(ordered):
            cid = _id("combination", combination)
            field = f"combinations[{cid}]"
            if str(f.integer(f"{field}.id_product", combination.get("id_product"), default=0)) != pid:
                f.fail(f"{field}.id_product", "combination of another product")
            impact = f.money(f"{field}.price", combination.get("price"), default=Decimal("0"))
            assert impact is not None
            options: dict[str, str] = {}
            for value in _associations("product", pid, combination, "product_option_values"):
                known = option_values.get(str(value.get("id"))) if isinstance(option_values, Mapping) else None
                if isinstance(known, Mapping) and known.get("group") and known.get("name"):
                    options[str(known["group"])] = str(known["name"])
            sku = f.text(f"{field}.reference", combination.get("reference"))
            if sku is not None and refs[sku] > 1:
                sku = None  # shared by several combinations: not an item key (module docstring)
            weight_impact = f.money(f"{field}.weight", combination.get("weight"), default=Decimal("0"))
            total_weight = (weight or Decimal("0")) + (weight_impact or Decimal("0"))
            title = f"{name} - {', '.join(options.values())}" if options else name
            variants.append(
                variant(
                    cid,
                    base_price + impact,
                    sku=sku,
                    title=title,
                    options=options,
                    weight=total_weight,
                    position=position,
                    barcode=read_barcode(f, field, combination),
                )
            )
    else:
        variants = [
            variant(0, base_price, sku=reference, title=name, options={}, weight=weight, position=0,
                    barcode=read_barcode(f, "product", product))
        ]  # fmt: skip
    categories = _category_names(f, product, context, language_id)
    return CanonicalProduct(
        external_id=pid,
        title=name,
        status="active" if f.flag("active", product.get("active")) else "draft",
        variants=tuple(variants),
        description=_lang(f, "description", product.get("description"), language_id),
        product_type=f.text("product_type", product.get("product_type")) or f.text("type", product.get("type")),
        handle=_lang(f, "link_rewrite", product.get("link_rewrite"), language_id),
        categories=categories,
        tags=_tag_names(f, product, context, language_id),
        created_at=created,
        updated_at=updated,
    )


# Where PrestaShop keeps a barcode, in the order the hub reads them (the first non-empty one is the barcode).
BARCODE_FIELDS = ("ean13", "upc", "isbn")


def read_barcode(f: Fields, field: str, record: Mapping[str, Any]) -> str | None:
    """A product's or combination's barcode: its ``ean13``, else ``upc``, else ``isbn`` (the first non-empty one; a
    combination's own, never its product's). The writer puts a hub barcode back where this reads it first."""
    for name in BARCODE_FIELDS:
        value = f.text(f"{field}.{name}", record.get(name))
        if value:
            return value
    return None


def _variant_prices(
    f: Fields, vid: str, stored: Decimal, prices: Mapping[str, Any] | None
) -> tuple[Decimal, Decimal, Decimal | None, bool]:
    """(price, price_tax_excl, compare_at_price, price_includes_tax) of one variant.

    With the shop's computed prices in the context (``price[final][use_tax]=1`` and friends, which apply the tax
    rule of the shop's default country, the specific prices in force and the combination's impact): ``price`` is
    ``final`` (tax included, reductions applied), ``price_tax_excl`` is ``final_ht`` and ``compare_at_price`` is
    ``final_no_reduction`` when a reduction lowers the price. Without them (a key that may not compute prices, a
    payload staged before they were read): the stored tax-excluded price, and ``price_includes_tax`` False.
    """
    entry = prices.get(vid) if prices else None
    if not isinstance(entry, Mapping):
        return stored, stored, None, False
    field = f"context.prices[{vid}]"
    final = f.money(f"{field}.final", entry.get("final"))
    final_ht = f.money(f"{field}.final_ht", entry.get("final_ht"))
    regular = f.money(f"{field}.final_no_reduction", entry.get("final_no_reduction"))
    if final is None:
        return stored, stored, None, False
    compare_at = regular if regular is not None and regular > final else None
    return final, final_ht if final_ht is not None else stored, compare_at, True


def _category_names(
    f: Fields, product: Mapping[str, Any], context: Mapping[str, Any], language_id: int | None
) -> tuple[str, ...]:
    """The product's categories as the hub writes them (``context.categories``: the shop's ``categories`` id ->
    name, as read; ``context.category_parents``: id -> ``id_parent`` of those and their ancestors).

    The names are read in the integration's language. A nested category is its path from home, ``Clothing >
    Shirts`` (home, id 2, and the root, id 1, are not part of it): the notation the push (``categories.py``) walks
    from home, so the pull of a pushed product reads the hub's own value and a product created in the shop brings
    its parent along. A payload staged before parents were read has leaf names (the merge takes a leaf as agreeing
    with a path of it: ``sync.category_paths``); one staged before names were read keeps ids.
    """
    associated = _associations("product", str(f.record_id), product, "categories")
    ids = [str(c.get("id")) for c in associated if c.get("id") is not None]
    names = context.get("categories")
    if names is None:
        return tuple(ids)
    if not isinstance(names, Mapping):
        f.fail("context.categories", f"expected an object, found {names!r}")
    parents = context.get("category_parents") or {}
    if not isinstance(parents, Mapping):
        f.fail("context.category_parents", f"expected an object, found {parents!r}")
    out: list[str] = []
    for cid in ids:
        steps: list[str] = []
        seen: set[str] = set()
        step: str | None = cid
        while step is not None and step not in seen:
            seen.add(step)
            name = _lang(f, f"context.categories[{step}]", names.get(step), language_id)
            if not name:
                break
            steps.insert(0, name)
            up = parents.get(step)
            step = str(up) if up is not None and str(up) not in _TREE_TOP and str(up) in names else None
        path = join_path(steps)
        if path and path not in out:
            out.append(path)
    return tuple(out)


def _tag_names(
    f: Fields, product: Mapping[str, Any], context: Mapping[str, Any], language_id: int | None
) -> tuple[str, ...]:
    """The product's tags in the integration's language (``context.tags``: tag id -> ``{"id_lang", "name"}`` of the
    product's tags, read by the extract). A PrestaShop tag belongs to one language and a product's
    ``associations/tags`` lists the tags of every language: the others are not the hub's (the push keeps them).
    No ``context.tags`` (a payload staged before tags were read, or a key that may not read them): no tags."""
    tags = context.get("tags")
    if tags is None:
        return ()
    if not isinstance(tags, Mapping):
        f.fail("context.tags", f"expected an object, found {tags!r}")
    out: list[str] = []
    for ref in _associations("product", str(f.record_id), product, "tags"):
        tid = str(ref.get("id"))
        tag = tags.get(tid)
        if not isinstance(tag, Mapping):
            continue
        if language_id is not None and str(tag.get("id_lang")) != str(language_id):
            continue
        name = f.text(f"context.tags[{tid}].name", tag.get("name"))
        if name and name not in out:
            out.append(name)
    return tuple(out)


# Where a path stops going up: no parent (0), the root (1) and home (2, PS_HOME_CATEGORY), from which the push walks.
_TREE_TOP = frozenset({"0", "1", "2"})


def category_context(
    names: Mapping[str, Any], parents: Mapping[str, Any], ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The ``categories`` and ``category_parents`` context of a product in categories ``ids``: each category and
    its ancestors up to home (``names``: the shop's id -> name in every language; ``parents``: id -> id_parent)."""
    wanted: dict[str, Any] = {}
    ups: dict[str, str] = {}
    for cid in ids:
        step: str | None = str(cid)
        while step is not None and step in names and step not in wanted:
            wanted[step] = names[step]
            up = parents.get(step)
            if up is None or str(up) in _TREE_TOP:
                break
            ups[step] = str(up)
            step = str(up)
    out: dict[str, dict[str, Any]] = {"categories": wanted}
    if ups:
        out["category_parents"] = ups
    return out


def option_value_index(
    values: Sequence[Mapping[str, Any]], groups: Sequence[Mapping[str, Any]], language_id: int | None
) -> dict[str, dict[str, str]]:
    """product_option_values + product_options -> {value id: {"group": "Size", "name": "S"}} for the context."""
    group_names = {
        str(g.get("id")): _lang(Fields("product_option", str(g.get("id"))), "name", g.get("name"), language_id)
        for g in groups
    }
    index: dict[str, dict[str, str]] = {}
    for value in values:
        vid = str(value.get("id"))
        name = _lang(Fields("product_option_value", vid), "name", value.get("name"), language_id)
        group = group_names.get(str(value.get("id_attribute_group")))
        if name and group:
            index[vid] = {"group": group, "name": name}
    return index


def combination_option_ids(combination: Mapping[str, Any]) -> list[str]:
    """The product_option_values ids of a combination (to copy only those into the context)."""
    cid = str(combination.get("id"))
    return [str(v.get("id")) for v in _associations("combination", cid, combination, "product_option_values")]


def has_combinations(product: Mapping[str, Any]) -> bool:
    """Whether the product lists combinations (then its variants must be fetched with it)."""
    return bool(_associations("product", str(product.get("id")), product, "combinations"))


# -- stock ------------------------------------------------------------------------------------------------------


def inventory_to_canonical(record: Mapping[str, Any]) -> list[CanonicalInventory]:
    """A product's stock_availables -> one row per sellable item.

    The product-level row (``id_product_attribute`` 0) is the item itself for a product without combinations; for
    a product with combinations it is the SUM of the combination rows, so it is dropped (counting it would
    double the stock). ``updated_at`` is when the extract read the rows: stock_availables carry no date.
    """
    if not isinstance(record, Mapping):
        Fields("inventory").fail("rows", f"expected a JSON object, found {type(record).__name__}")
    pid = _id("inventory", record, "id_product")
    f = Fields("inventory", pid)
    rows = record.get("rows")
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        f.fail("rows", f"expected a list of stock_availables, found {rows!r}")
    context = record.get("context") or {}
    observed = f.utc_time("context.observed_at", context.get("observed_at")) if isinstance(context, Mapping) else None
    parsed: list[tuple[int, int]] = []
    for index, row in enumerate(rows):
        field = f"rows[{index}]"
        if str(f.integer(f"{field}.id_product", row.get("id_product"), default=None)) != pid:
            f.fail(f"{field}.id_product", f"row of another product: {row!r}")
        attribute = f.integer(f"{field}.id_product_attribute", row.get("id_product_attribute"), default=0)
        quantity = f.integer(f"{field}.quantity", row.get("quantity"), default=0)
        assert attribute is not None and quantity is not None
        if attribute < 0:
            f.fail(f"{field}.id_product_attribute", f"negative id {attribute}")
        parsed.append((attribute, quantity))
    has_combinations = any(attribute > 0 for attribute, _ in parsed)
    return [
        CanonicalInventory(
            variant_external_id=variant_id(pid, attribute),
            sku=None,
            location=DEFAULT_LOCATION,
            available=quantity,
            managed=True,
            stock_status="instock" if quantity > 0 else "outofstock",
            updated_at=observed,
        )
        for attribute, quantity in parsed
        if attribute > 0 or not has_combinations
    ]


# -- orders -----------------------------------------------------------------------------------------------------


# PrestaShop's rounding modes (PS_ROUND_UP, _DOWN, _HALF_UP, _HALF_DOWN, _HALF_EVEN, _HALF_ODD: the last has no
# Decimal twin and is taken as half up) and round types (Order::ROUND_ITEM 1, ROUND_LINE 2, ROUND_TOTAL 3).
_ROUND_MODES = {"0": ROUND_CEILING, "1": ROUND_FLOOR, "2": ROUND_HALF_UP, "3": ROUND_HALF_DOWN, "4": ROUND_HALF_EVEN}
_ROUND_ITEM = "1"


def _line_amount(unit: Decimal, quantity: int, places: Decimal, order: Mapping[str, Any]) -> Decimal:
    """A line's total as the shop rounds it (module docstring): per item or per line, to the currency's cents."""
    mode = _ROUND_MODES.get(str(order.get("round_mode") or "2"), ROUND_HALF_UP)
    if str(order.get("round_type") or "") == _ROUND_ITEM:
        return unit.quantize(places, rounding=mode) * quantity
    return (unit * quantity).quantize(places, rounding=mode)


def _order_line(
    f: Fields, row: Mapping[str, Any], index: int, order: Mapping[str, Any] | None = None, currency: str | None = None
) -> CanonicalOrderLine:
    lid = f.text(f"order_rows[{index}].id", row.get("id"))
    if lid is None or not lid.isdigit():
        f.fail(f"order_rows[{index}].id", f"missing line id, found {row.get('id')!r}")
    field = f"order_rows[{lid}]"
    quantity = f.integer(f"{field}.product_quantity", row.get("product_quantity"), default=None)
    if quantity is None or quantity < 0:
        f.fail(f"{field}.product_quantity", f"expected a quantity, found {quantity!r}")
    product_id = f.integer(f"{field}.product_id", row.get("product_id"), default=0)
    attribute_id = f.integer(f"{field}.product_attribute_id", row.get("product_attribute_id"), default=0)
    assert product_id is not None and attribute_id is not None
    unit_excl = f.money(f"{field}.unit_price_tax_excl", row.get("unit_price_tax_excl"))
    unit_incl = f.money(f"{field}.unit_price_tax_incl", row.get("unit_price_tax_incl"))
    if unit_excl is None:
        unit_excl = f.money(f"{field}.product_price", row.get("product_price"))
    places = Decimal(1).scaleb(-minor_units(currency))
    shop_excl = f.money(f"{field}.total_price_tax_excl", row.get("total_price_tax_excl"))
    shop_incl = f.money(f"{field}.total_price_tax_incl", row.get("total_price_tax_incl"))
    total = shop_excl
    if total is None and unit_excl is not None:
        total = _line_amount(unit_excl, quantity, places, order or {})
    line_incl = shop_incl
    if line_incl is None and unit_incl is not None:
        line_incl = _line_amount(unit_incl, quantity, places, order or {})
    tax = line_incl - total if line_incl is not None and total is not None else None
    return CanonicalOrderLine(
        external_id=lid,
        # product_id 0: the product was deleted since; the reference (kept on the row) is then the only key.
        variant_external_id=variant_id(product_id, attribute_id) if product_id else None,
        sku=f.text(f"{field}.product_reference", row.get("product_reference")),
        title=f.text(f"{field}.product_name", row.get("product_name")),
        quantity=quantity,
        unit_price=unit_excl,
        subtotal=total,
        total=total,
        tax=tax,
    )


def _statuses(f: Fields, state_id: str, state: Mapping[str, Any]) -> tuple[str, str]:
    if state_id == STATE_REFUNDED:
        financial = "refunded"
    elif state_id in (STATE_CANCELED, STATE_PAYMENT_ERROR):
        financial = "voided"
    else:
        financial = "paid" if f.flag("context.state.paid", state.get("paid")) else "pending"
    if state_id == STATE_CANCELED:
        fulfillment = "cancelled"
    else:
        fulfillment = "fulfilled" if f.flag("context.state.shipped", state.get("shipped")) else "unfulfilled"
    return financial, fulfillment


def order_to_canonical(record: Mapping[str, Any]) -> CanonicalOrder:
    """A staged ``{"order", "context"}`` -> CanonicalOrder (money rules in the module docstring)."""
    order, context = _parts("order", record, "order")
    oid = _id("order", order)
    f = Fields("order", oid)
    zone = _zone(f, context)
    state_id = str(f.integer("current_state", order.get("current_state"), default=0))
    state = context.get("state") or {}
    if not isinstance(state, Mapping):
        f.fail("context.state", f"expected an order_state object, found {state!r}")
    if state and str(state.get("id")) != state_id:
        f.fail("context.state", f"state {state.get('id')} is not current_state {state_id}")
    currency = f.text("context.currency", context.get("currency"))
    if currency is None:
        f.fail("context.currency", f"unknown currency id {order.get('id_currency')!r}")
    rows = _associations("order", oid, order, "order_rows")
    lines = tuple(_order_line(f, row, index, order, currency) for index, row in enumerate(rows))
    total = f.money("total_paid_tax_incl", order.get("total_paid_tax_incl"), default=Decimal("0"))
    total_excl = f.money("total_paid_tax_excl", order.get("total_paid_tax_excl"), default=Decimal("0"))
    assert total is not None and total_excl is not None
    financial, fulfillment = _statuses(f, state_id, state)
    customer = f.integer("id_customer", order.get("id_customer"), default=0)
    status = _lang(f, "context.state.name", state.get("name"), _language_id(f, context))
    email = context.get("email")
    if email is not None and not isinstance(email, str):
        f.fail("context.email", f"expected text, found {email!r}")
    return CanonicalOrder(
        external_id=oid,
        order_number=f.text("reference", order.get("reference")),
        status=status or f"state {state_id}",
        financial_status=financial,
        fulfillment_status=fulfillment,
        currency=currency,
        subtotal=f.money("total_products", order.get("total_products"), default=Decimal("0")),
        discount_total=f.money("total_discounts_tax_excl", order.get("total_discounts_tax_excl"), default=Decimal("0")),
        shipping_total=f.money("total_shipping_tax_excl", order.get("total_shipping_tax_excl"), default=Decimal("0")),
        tax_total=total - total_excl,
        total=total,
        refunded_total=total if financial == "refunded" else Decimal("0"),
        lines=lines,
        customer_external_id=str(customer) if customer else None,
        # Orders carry id_customer only: the extract reads the customers' e-mails in batches into the context.
        email=email.strip().lower() if email and email.strip() else None,
        placed_at=_date(f, order, "date_add", zone),
        paid_at=_date(f, order, "invoice_date", zone),
        completed_at=_date(f, order, "delivery_date", zone),
        updated_at=_date(f, order, "date_upd", zone),
    )


# -- customers --------------------------------------------------------------------------------------------------


def customer_to_canonical(record: Mapping[str, Any]) -> CanonicalCustomer:
    """A staged ``{"customer", "context"}`` -> CanonicalCustomer. The password hash is never read."""
    customer, context = _parts("customer", record, "customer")
    cid = _id("customer", customer)
    f = Fields("customer", cid)
    zone = _zone(f, context)
    email = f.text("email", customer.get("email"))
    address = context.get("address") or {}
    if not isinstance(address, Mapping):
        f.fail("context.address", f"expected an address object, found {address!r}")
    country = f.text("context.address.country_iso", address.get("country_iso"))
    if country is not None and (len(country) != 2 or not country.isalpha()):
        f.fail("context.address.country_iso", f"expected ISO 3166-1, found {country!r}")
    return CanonicalCustomer(
        external_id=cid,
        email=email.lower() if email else None,
        first_name=f.text("firstname", customer.get("firstname")),
        last_name=f.text("lastname", customer.get("lastname")),
        phone=f.text("context.address.phone", address.get("phone"))
        or f.text("context.address.phone_mobile", address.get("phone_mobile")),
        company=f.text("company", customer.get("company")) or f.text("context.address.company", address.get("company")),
        city=f.text("context.address.city", address.get("city")),
        country=country.upper() if country else None,
        created_at=_date(f, customer, "date_add", zone),
        updated_at=_date(f, customer, "date_upd", zone),
    )


def source_updated_at(record: Mapping[str, Any], timezone: str) -> datetime | None:
    """``date_upd`` of a raw product/order/customer in UTC (the extract's cursor and unchanged check)."""
    zone = shop_zone(timezone)
    rid = str(record.get("id")) if record.get("id") else None
    return _date(Fields("record", rid or "?"), record, "date_upd", zone)


__all__ = [
    "DEFAULT_LOCATION",
    "TransformError",
    "combination_option_ids",
    "customer_to_canonical",
    "has_combinations",
    "inventory_to_canonical",
    "option_value_index",
    "order_to_canonical",
    "product_to_canonical",
    "source_updated_at",
    "variant_id",
]
