"""Resolvers binding the SDL in ``sdl.py`` to a :class:`~.store.ShopifyStore`.

Records are dataclasses whose snake_case attributes match the GraphQL camelCase fields, so most fields resolve
by name; the table :data:`RESOLVERS` covers computed ones (money bags, connections, gids). Access scopes are
checked the way Shopify documents them: on root fields, and on objects wherever they appear (``Customer`` needs
``read_customers`` also as ``Order.customer``; ``ProductVariant`` needs ``read_products`` also as
``LineItem.variant``): a missing scope nulls that field and adds an ``ACCESS_DENIED`` error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
    get_named_type,
)

from ecom_pipeline.sandbox.shopify.sdl import sdl_for
from ecom_pipeline.sandbox.shopify.search import TEXT, Fields, build_filter, document_fields, paginate, snapshot
from ecom_pipeline.sandbox.shopify.store import (
    DAY,
    Customer,
    InventoryItem,
    InventoryLevel,
    LineItem,
    Order,
    Product,
    Refund,
    ShopifyStore,
    StoreError,
    Variant,
    gid,
    iso,
    metafield_namespace,
    parse_gid,
)

SCOPE_DOCS = "https://shopify.dev/api/usage/access-scopes"
# Objects whose reference page says "Requires <scope> access scope": enforced wherever the object appears.
TYPE_SCOPES = {
    "Customer": "read_customers",
    "ProductVariant": "read_products",
    "Product": "read_products",
    "Collection": "read_products",
    "Order": "read_orders",
}
READ_ALL_ORDERS_WINDOW = 60 * DAY


@dataclass
class Context:
    """Per-request state handed to every resolver."""

    store: ShopifyStore
    scopes: set[str]
    services: Any  # the ShopifyApi (bulk operations, webhooks, plan)
    site: str
    bulk: bool = False
    search: list[dict[str, Any]] = field(default_factory=list)
    version: str = "unstable"  # the API version served

    def has(self, scope: str) -> bool:
        """``write_x`` implies ``read_x`` like on Shopify."""
        return scope in self.scopes or (scope.startswith("read_") and "write_" + scope[5:] in self.scopes)

    def require(self, scope: str, info: GraphQLResolveInfo) -> None:
        if not self.has(scope):
            required = f"`{scope}` access scope."
            raise GraphQLError(
                f"Access denied for {info.field_name} field. Required access: {required}",
                extensions={"code": "ACCESS_DENIED", "documentation": SCOPE_DOCS, "requiredAccess": required},
            )


def ruby_decimal(value: Any) -> str:
    """``Decimal`` scalar as Shopify renders it: trailing zeros dropped but one decimal kept ("10.0", "19.9")."""
    d = Decimal(str(value))
    text = format(d.normalize(), "f")
    if "." not in text:
        text += ".0"
    return text


def _money_scalar(value: Any) -> str:
    return f"{Decimal(str(value)):.2f}"


def _datetime_scalar(value: Any) -> str:
    stamp = iso(value) if isinstance(value, int | float) else None
    return stamp if stamp is not None else str(value)


@cache
def make_schema(version: str = "unstable") -> GraphQLSchema:
    """The executable schema of one served version (built once per version)."""
    schema = build_schema(sdl_for(version))
    scalars: dict[str, Callable[[Any], Any]] = {
        "DateTime": _datetime_scalar,
        "Money": _money_scalar,
        "Decimal": ruby_decimal,
        "UnsignedInt64": str,
    }
    for name, serialize in scalars.items():
        scalar = schema.type_map[name]
        assert isinstance(scalar, GraphQLScalarType)
        scalar.serialize = serialize  # type: ignore[method-assign,assignment]
    node = schema.type_map["Node"]
    node.resolve_type = lambda obj, *_: getattr(obj, "KIND", None)  # type: ignore[attr-defined]
    endpoint = schema.type_map["WebhookSubscriptionEndpoint"]
    assert isinstance(endpoint, GraphQLUnionType)
    endpoint.resolve_type = lambda obj, *_: "WebhookHttpEndpoint"  # the only kind the emulator delivers to
    return schema


_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")
_snake_cache: dict[str, str] = {}


def snake(name: str) -> str:
    if name not in _snake_cache:
        _snake_cache[name] = _SNAKE.sub("_", name).lower()
    return _snake_cache[name]


def field_resolver(parent: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    """Table first, then dict keys, then gids and snake_case attributes; then the scope of the object returned."""
    value = _resolve(parent, info, **args)
    scope = TYPE_SCOPES.get(get_named_type(info.return_type).name)
    if scope is not None and value is not None and value != []:
        _ctx(info).require(scope, info)
    return value


def _resolve(parent: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    fn = RESOLVERS.get((info.parent_type.name, info.field_name))
    if fn is not None:
        return fn(parent, info, **args)
    if isinstance(parent, dict):
        return parent.get(info.field_name)
    name = info.field_name
    if name == "id":
        return gid(parent.KIND, parent.id)
    if name == "legacyResourceId":
        return parent.id
    return getattr(parent, snake(name), None)


def _ctx(info: GraphQLResolveInfo) -> Context:
    return info.context


def bag(order: Order, amount: Decimal) -> dict[str, Any]:
    return {
        "shopMoney": {"amount": amount, "currencyCode": order.currency},
        "presentmentMoney": {"amount": order.present(amount), "currencyCode": order.presentment_currency},
    }


def _connection(
    info: GraphQLResolveInfo,
    records: list[Any],
    sort_keys: dict[str, Callable[[Any], Any]],
    fields: Fields | None = None,
    text_of: Callable[[Any], str] = lambda r: "",
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    reverse: bool = False,
    sortKey: str = "ID",
    query: str | None = None,
    index: str | None = None,
    **_ignored: Any,
) -> dict[str, Any]:
    ctx = _ctx(info)
    if query and fields is not None:
        records, warnings = _search(ctx.store, records, query, fields, text_of, index)
        if warnings:
            ctx.search.append({"path": list(info.path.as_list()), "query": query, "warnings": warnings})
    key = sort_keys.get(sortKey, lambda r: r.id)
    return paginate(records, key, first=first, after=after, last=last, before=before, reverse=reverse, bulk=ctx.bulk)


def _search(
    store: ShopifyStore,
    records: list[Any],
    query: str,
    fields: Fields,
    text_of: Callable[[Any], str],
    index: str | None,
) -> tuple[list[Any], list[dict[str, str]]]:
    """The records ``query`` matches, and Shopify's warnings. ``index`` names the search index the records are in
    (``products``, ``variants``): while it lags (``store.search_index``), a record matches by the document the index
    holds for it, not by what it is now; the records returned are read as they are now."""
    if index is None or not store.search_index.lags:
        predicate, warnings = build_filter(query, fields, text_of, store.timezone)
        return [r for r in records if predicate(r)], warnings
    predicate, warnings = build_filter(query, document_fields(fields), lambda d: d[TEXT], store.timezone)
    now = store.now()
    build = index_document(store, index)
    found = []
    for record in records:
        document = store.search_index.document(index, record, now, build)
        if document is not None and predicate(document):
            found.append(record)
    return found, warnings


def lag_search(store: ShopifyStore, delay_s: float) -> None:
    """Make the shop's searches (``products``/``productVariants``/``productsCount`` with ``query:``) lag its writes
    by ``delay_s`` clock seconds from now on, as Shopify's search index does; what the shop holds now is taken as
    indexed. 0 turns the lag off."""
    with store.lock:
        records = {
            index: [(r, index_document(store, index)(r)) for r in table.values()]
            for index, table in (("products", store.products), ("variants", store.variants))
        }
        store.search_index.set_delay(delay_s, records)


def index_document(store: ShopifyStore, index: str) -> Callable[[Any], dict[str, Any]]:
    """How a record of ``index`` becomes its search document (every search field of its kind, and its text)."""
    if index == "products":
        fields = product_fields(store)
        return lambda p: snapshot(p, fields, lambda r: r.title)
    return lambda v: snapshot(v, VARIANT_FIELDS, lambda r: r.title)


# ------------------------------------------------------------------------------------------------ search fields
def _t(attr: str) -> Callable[[Any], Any]:
    return lambda r: getattr(r, attr)


PRODUCT_FIELDS: Fields = {
    "id": ("int", _t("id")),
    "updated_at": ("time", _t("updated_at")),
    "created_at": ("time", _t("created_at")),
    "published_at": ("time", _t("published_at")),
    "title": ("text", _t("title")),
    "vendor": ("text", _t("vendor")),
    "product_type": ("text", _t("product_type")),
    "status": ("text", _t("status")),
    "handle": ("text", _t("handle")),
    "tag": ("text", _t("tags")),
}
VARIANT_FIELDS: Fields = {
    "id": ("int", _t("id")),
    "product_id": ("int", _t("product_id")),
    "updated_at": ("time", _t("updated_at")),
    "created_at": ("time", _t("created_at")),
    "sku": ("text", _t("sku")),
    "barcode": ("text", _t("barcode")),
    "title": ("text", _t("title")),
}
ORDER_FIELDS: Fields = {
    "id": ("int", _t("id")),
    "updated_at": ("time", _t("updated_at")),
    "created_at": ("time", _t("created_at")),
    "processed_at": ("time", _t("processed_at")),
    "name": ("text", lambda o: [o.name, str(o.number)]),
    "email": ("text", _t("email")),
    "financial_status": ("text", lambda o: o.financial_status.lower()),
    "fulfillment_status": ("text", lambda o: o.fulfillment_status.lower()),
    "customer_id": ("int", _t("customer_id")),
    "sku": ("text", lambda o: [li.sku for li in o.line_items]),
    "tag": ("text", _t("tags")),
    "test": ("text", lambda o: str(o.test).lower()),
}
CUSTOMER_FIELDS: Fields = {
    "id": ("int", _t("id")),
    "updated_at": ("time", _t("updated_at")),
    "created_at": ("time", _t("created_at")),
    "email": ("text", _t("email")),
    "first_name": ("text", _t("first_name")),
    "last_name": ("text", _t("last_name")),
    "phone": ("text", _t("phone")),
    "state": ("text", _t("state")),
}
ITEM_FIELDS: Fields = {
    "id": ("int", _t("id")),
    "updated_at": ("time", _t("updated_at")),
    "created_at": ("time", _t("created_at")),
}
LOCATION_FIELDS: Fields = {"id": ("int", _t("id")), "name": ("text", _t("name"))}


# ------------------------------------------------------------------------------------------------ root fields
def _products(_: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    ctx = _ctx(info)
    ctx.require("read_products", info)
    store = ctx.store
    sorts = {
        "ID": _t("id"),
        "UPDATED_AT": _t("updated_at"),
        "CREATED_AT": _t("created_at"),
        "TITLE": lambda p: p.title.lower(),
        "VENDOR": _t("vendor"),
        "PRODUCT_TYPE": _t("product_type"),
        "PUBLISHED_AT": lambda p: p.published_at or 0,
        "INVENTORY_TOTAL": lambda p: _total_inventory(store, p),
    }
    return _connection(
        info, list(store.products.values()), sorts, product_fields(store), lambda p: p.title, index="products", **args
    )


def product_fields(store: ShopifyStore) -> Fields:
    """The ``products`` search fields, with ``sku`` (any of the product's variants')."""
    return {**PRODUCT_FIELDS, "sku": ("text", lambda p: [store.variants[v].sku for v in p.variant_ids])}


_COLLECTION_SORTS: dict[str, Callable[[Any], Any]] = {
    "ID": _t("id"),
    "TITLE": lambda c: c.title.lower(),
    "UPDATED_AT": _t("updated_at"),
}


def _collections(_: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    """``collections``: custom and smart; the ``query`` search string is not supported here (ignored)."""
    ctx = _ctx(info)
    ctx.require("read_products", info)
    return _connection(info, list(ctx.store.collections.values()), _COLLECTION_SORTS, **{**args, "query": None})


def _total_inventory(store: ShopifyStore, p: Product) -> int:
    return sum(store.inventory_quantity(store.variants[v]) for v in p.variant_ids)


def _by_id(kind: str, table: str, scope: str) -> Callable[..., Any]:
    def resolve(_: Any, info: GraphQLResolveInfo, id: str) -> Any:
        ctx = _ctx(info)
        ctx.require(scope, info)
        try:
            ident = parse_gid(id, kind)
        except ValueError as exc:
            raise GraphQLError(str(exc), extensions={"code": "BAD_REQUEST"}) from exc
        record = getattr(ctx.store, table).get(ident)
        if isinstance(record, Order) and not _order_visible(ctx, record):
            return None
        return record

    return resolve


def _variant_sorts(store: ShopifyStore) -> dict[str, Callable[[Any], Any]]:
    return {
        "ID": _t("id"),
        "POSITION": _t("position"),
        "SKU": lambda v: v.sku or "",
        "TITLE": _t("title"),
        "NAME": _t("title"),
        "FULL_TITLE": _t("title"),
        "INVENTORY_QUANTITY": store.inventory_quantity,
    }


def _product_variants(_: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    ctx = _ctx(info)
    ctx.require("read_products", info)
    return _connection(
        info,
        list(ctx.store.variants.values()),
        _variant_sorts(ctx.store),
        VARIANT_FIELDS,
        lambda v: v.title,
        index="variants",
        **args,
    )


def _product_by_identifier(_: Any, info: GraphQLResolveInfo, identifier: dict[str, Any]) -> Product | None:
    """``productByIdentifier``: a read by key (id or handle), not a search, so it sees a write at once; null when no
    product matches (a custom id, ``customId``, needs a metafield definition with unique values: not emulated)."""
    ctx = _ctx(info)
    ctx.require("read_products", info)
    store = ctx.store
    if identifier.get("id"):
        try:
            return store.products.get(parse_gid(identifier["id"], "Product"))
        except ValueError as exc:
            raise GraphQLError(str(exc), extensions={"code": "BAD_REQUEST"}) from exc
    handle = identifier.get("handle")
    if handle:
        return next((p for p in store.products.values() if p.handle == handle), None)
    return None


def _order_visible(ctx: Context, order: Order) -> bool:
    """Without ``read_all_orders`` Shopify only exposes orders created in the last 60 days."""
    return ctx.has("read_all_orders") or order.created_at >= ctx.store.now() - READ_ALL_ORDERS_WINDOW


def _orders(_: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    ctx = _ctx(info)
    ctx.require("read_orders", info)
    store = ctx.store
    records = [o for o in store.orders.values() if _order_visible(ctx, o)]
    sorts = {
        "ID": _t("id"),
        "UPDATED_AT": _t("updated_at"),
        "CREATED_AT": _t("created_at"),
        "PROCESSED_AT": _t("processed_at"),
        "ORDER_NUMBER": _t("number"),
        "TOTAL_PRICE": lambda o: str(o.total).zfill(20),
    }
    return _connection(info, records, sorts, ORDER_FIELDS, lambda o: f"{o.name} {o.email or ''}", **args)


def _customers(_: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    ctx = _ctx(info)
    ctx.require("read_customers", info)
    sorts = {
        "ID": _t("id"),
        "UPDATED_AT": _t("updated_at"),
        "CREATED_AT": _t("created_at"),
        "NAME": lambda c: f"{c.first_name} {c.last_name}",
    }
    return _connection(
        info,
        list(ctx.store.customers.values()),
        sorts,
        CUSTOMER_FIELDS,
        lambda c: f"{c.first_name} {c.last_name} {c.email or ''}",
        **args,
    )


def _locations(_: Any, info: GraphQLResolveInfo, includeInactive: bool = False, **args: Any) -> dict[str, Any]:
    ctx = _ctx(info)
    ctx.require("read_locations", info)
    records = [loc for loc in ctx.store.locations.values() if loc.is_active or includeInactive]
    sorts = {"ID": _t("id"), "NAME": _t("name")}
    return _connection(info, records, sorts, LOCATION_FIELDS, lambda loc: loc.name, **{"sortKey": "NAME", **args})


def _inventory_items(_: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    ctx = _ctx(info)
    ctx.require("read_inventory", info)
    store = ctx.store
    fields = {**ITEM_FIELDS, "sku": ("text", lambda i: store.variants[i.variant_id].sku)}
    return _connection(info, list(store.inventory_items.values()), {"ID": _t("id")}, fields, **args)


def _inventory_level(_: Any, info: GraphQLResolveInfo, id: str) -> InventoryLevel | None:
    ctx = _ctx(info)
    ctx.require("read_inventory", info)
    match = re.fullmatch(r"gid://shopify/InventoryLevel/(\d+)\?inventory_item_id=(\d+)", id)
    if not match:
        raise GraphQLError(f"Invalid global id '{id}'", extensions={"code": "BAD_REQUEST"})
    return ctx.store.levels.get(int(match.group(2)), {}).get(int(match.group(1)))


def _count(kind: str) -> Callable[..., Any]:
    def resolve(
        _: Any, info: GraphQLResolveInfo, query: str | None = None, limit: int | None = 10000, **_ignored: Any
    ) -> Any:
        ctx = _ctx(info)
        store = ctx.store
        index: str | None = None
        if kind == "products":
            ctx.require("read_products", info)
            records: list[Any] = list(store.products.values())
            fields = product_fields(store)  # the products query's filters, ``sku`` included
            index = "products"
        elif kind == "customers":
            ctx.require("read_customers", info)
            records = list(store.customers.values())
            fields = CUSTOMER_FIELDS
        else:
            ctx.require("read_orders", info)
            records = [o for o in store.orders.values() if _order_visible(ctx, o)]
            fields = ORDER_FIELDS
        if query:
            records, _warnings = _search(store, records, query, fields, lambda r: "", index)
        count = len(records)
        if limit is not None and count > limit:
            return {"count": limit, "precision": "AT_LEAST"}
        return {"count": count, "precision": "EXACT"}

    return resolve


def _shop(_: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
    ctx = _ctx(info)
    store = ctx.store
    plan = ctx.services.plan_name
    return {
        "id": gid("Shop", 50_000_000 + store.seed),
        "name": store.name,
        "email": f"owner@{store.domain}",
        "myshopifyDomain": store.domain,
        "currencyCode": store.currency,
        "ianaTimezone": store.timezone,
        "plan": {
            "displayName": plan,
            "publicDisplayName": plan,
            "partnerDevelopment": False,
            "shopifyPlus": plan == "Shopify Plus",
        },
        "primaryDomain": {"host": store.domain, "url": f"https://{store.domain}"},
        "enabledPresentmentCurrencies": sorted({store.currency, "EUR", "GBP", "CAD", "JPY"}),
    }


def _app_installation(_: Any, info: GraphQLResolveInfo, id: str | None = None) -> dict[str, Any]:
    scopes = sorted(_ctx(info).scopes)
    return {"id": "gid://shopify/AppInstallation/1", "accessScopes": [{"handle": s, "description": s} for s in scopes]}


def _node(_: Any, info: GraphQLResolveInfo, id: str) -> Any:
    kind = id.split("/")[3] if id.startswith("gid://shopify/") and id.count("/") >= 4 else ""
    table = {
        "Product": ("products", "read_products"),
        "Collection": ("collections", "read_products"),
        "ProductVariant": ("variants", "read_products"),
        "Order": ("orders", "read_orders"),
        "Customer": ("customers", "read_customers"),
        "InventoryItem": ("inventory_items", "read_inventory"),
        "Location": ("locations", "read_locations"),
    }.get(kind)
    if kind == "BulkOperation":
        return _ctx(info).services.bulk.get(id)
    if table is None:
        return None
    return _by_id(kind, table[0], table[1])(None, info, id)


# ------------------------------------------------------------------------------------------------ nested fields
def _product_metafield(p: Product, info: GraphQLResolveInfo, key: str, namespace: str | None = None) -> Any:
    """``Product.metafield(namespace:, key:)``: the product's metafield, its namespace as stored (``$app`` and
    ``$app:<suffix>`` resolved as Shopify resolves them, and the default when omitted); null when it has none."""
    return p.metafields.get((metafield_namespace(namespace), key))


def _product_variants_of(p: Product, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    store = _ctx(info).store
    records = [store.variants[v] for v in p.variant_ids]
    return _connection(info, records, _variant_sorts(store), **{"sortKey": "POSITION", **args})


def _levels_of_item(item: InventoryItem, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    levels = list(_ctx(info).store.levels.get(item.id, {}).values())
    return _connection(info, levels, {"ID": _t("location_id")}, **args)


def _levels_of_location(loc: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    store = _ctx(info).store
    levels = [lv[loc.id] for lv in store.levels.values() if loc.id in lv]
    return _connection(info, levels, {"ID": _t("item_id")}, **args)


def _quantities(level: InventoryLevel, info: GraphQLResolveInfo, names: list[str]) -> list[dict[str, Any]]:
    values = {
        "available": level.available,
        "committed": level.committed,
        "on_hand": level.available + level.committed,
        "incoming": 0,
        "reserved": 0,
        "damaged": 0,
        "safety_stock": 0,
        "quality_control": 0,
    }
    out = []
    for name in names:
        if name not in values:
            raise GraphQLError(f"The quantity name '{name}' is not valid.", extensions={"code": "BAD_REQUEST"})
        out.append(
            {"id": f"{level.gid}&name={name}", "name": name, "quantity": values[name], "updatedAt": level.updated_at}
        )
    return out


def _line_items(o: Order, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return _connection(info, list(o.line_items), {"ID": _t("id")}, **args)


def _refunded_qty(o: Order, li: LineItem) -> int:
    return sum(rl.quantity for r in o.refunds for rl in r.lines if rl.line_item_id == li.id)


def _order_of_line(info: GraphQLResolveInfo, li: LineItem) -> Order:
    return _ctx(info).store.orders[li.order_id]


def _discounted_total(li: LineItem, info: GraphQLResolveInfo, withCodeDiscounts: bool = False) -> dict[str, Any]:
    """``LineItem.discountedTotalSet(withCodeDiscounts:)``: no order-level discount, a code's only when asked."""
    order = _order_of_line(info, li)
    result = bag(order, li.discounted_total(with_code_discounts=withCodeDiscounts))
    amount = order.line_discounted_presentment(li, with_code_discounts=withCodeDiscounts)
    result["presentmentMoney"] = {"amount": amount, "currencyCode": order.presentment_currency}
    return result


def _line_bag(
    compute: Callable[[LineItem], Decimal], presentment: Callable[[Order, LineItem], Decimal] | None = None
) -> Callable[..., Any]:
    """A line's MoneyBag; ``presentment`` computes the presentment side itself (else: the shop amount converted)."""

    def resolve(li: LineItem, info: GraphQLResolveInfo, **_args: Any) -> dict[str, Any]:
        order = _order_of_line(info, li)
        result = bag(order, compute(li))
        if presentment is not None:
            result["presentmentMoney"] = {"amount": presentment(order, li), "currencyCode": order.presentment_currency}
        return result

    return resolve


def _customer_orders(c: Customer, info: GraphQLResolveInfo) -> list[Order]:
    return [o for o in _ctx(info).store.orders.values() if o.customer_id == c.id]


def _address(c: Customer) -> dict[str, Any] | None:
    a = c.address
    if not a:
        return None
    return {
        "id": f"gid://shopify/MailingAddress/{a['id']}?model_name=CustomerAddress",
        "address1": a["address1"],
        "address2": a["address2"],
        "city": a["city"],
        "company": a["company"],
        "country": a["country"],
        "countryCodeV2": a["country_code"],
        "firstName": a["first_name"],
        "lastName": a["last_name"],
        "name": f"{a['first_name']} {a['last_name']}",
        "phone": a["phone"],
        "province": a["province"],
        "provinceCode": a["province_code"],
        "zip": a["zip"],
    }


def _refund_lines(r: Refund, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return _connection(info, list(r.lines), {"ID": _t("id")}, **args)


def _refund_order(r: Refund, info: GraphQLResolveInfo) -> Order:
    return _ctx(info).store.orders[r.order_id]


def _variant_of_line(li: LineItem, info: GraphQLResolveInfo) -> Variant | None:
    return _ctx(info).store.variants.get(li.variant_id) if li.variant_id else None


def _item_sku(i: InventoryItem, info: GraphQLResolveInfo) -> str | None:
    return _ctx(info).store.variants[i.variant_id].sku


RESOLVERS: dict[tuple[str, str], Callable[..., Any]] = {
    ("QueryRoot", "shop"): _shop,
    ("QueryRoot", "appInstallation"): _app_installation,
    ("QueryRoot", "products"): _products,
    ("QueryRoot", "product"): _by_id("Product", "products", "read_products"),
    ("QueryRoot", "productByIdentifier"): _product_by_identifier,
    ("QueryRoot", "productsCount"): _count("products"),
    ("QueryRoot", "productVariants"): _product_variants,
    ("QueryRoot", "productVariant"): _by_id("ProductVariant", "variants", "read_products"),
    ("QueryRoot", "orders"): _orders,
    ("QueryRoot", "order"): _by_id("Order", "orders", "read_orders"),
    ("QueryRoot", "ordersCount"): _count("orders"),
    ("QueryRoot", "customersCount"): _count("customers"),
    ("QueryRoot", "customers"): _customers,
    ("QueryRoot", "customer"): _by_id("Customer", "customers", "read_customers"),
    ("QueryRoot", "locations"): _locations,
    ("QueryRoot", "location"): lambda _, info, id=None: (
        _by_id("Location", "locations", "read_locations")(_, info, id)
        if id
        else next(iter(_ctx(info).store.locations.values()))
    ),
    ("QueryRoot", "inventoryItems"): _inventory_items,
    ("QueryRoot", "inventoryItem"): _by_id("InventoryItem", "inventory_items", "read_inventory"),
    ("QueryRoot", "inventoryLevel"): _inventory_level,
    ("QueryRoot", "node"): _node,
    ("QueryRoot", "currentBulkOperation"): lambda _, info, type="QUERY": _ctx(info).services.bulk.current(type),
    ("QueryRoot", "bulkOperation"): lambda _, info, id: _ctx(info).services.bulk.get(id),
    ("QueryRoot", "webhookSubscriptions"): lambda _, info, topics=None, callbackUrl=None, uri=None, **args: _connection(
        info,
        _ctx(info).services.webhooks.list(topics, uri or callbackUrl),
        {"ID": _t("id"), "CREATED_AT": _t("created_at")},
        **{"sortKey": "CREATED_AT", **args},
    ),
    ("QueryRoot", "webhookSubscription"): lambda _, info, id: _ctx(info).services.webhooks.get(id),
    ("QueryRoot", "collections"): _collections,
    ("QueryRoot", "collection"): _by_id("Collection", "collections", "read_products"),
    ("Product", "collections"): lambda p, info, **args: _connection(
        info, _ctx(info).store.product_collections(p.id), _COLLECTION_SORTS, **{**args, "query": None}
    ),
    ("Collection", "products"): lambda c, info, **args: _connection(
        info, [_ctx(info).store.products[i] for i in c.product_ids if i in _ctx(info).store.products], {}, **args
    ),
    ("Collection", "productsCount"): lambda c, info: {"count": len(c.product_ids), "precision": "EXACT"},
    ("Product", "variants"): _product_variants_of,
    ("Product", "metafield"): _product_metafield,
    ("Metafield", "legacyResourceId"): lambda m, info: m["id"],
    ("Metafield", "id"): lambda m, info: gid("Metafield", m["id"]),
    ("Metafield", "createdAt"): lambda m, info: m["created_at"],
    ("Metafield", "updatedAt"): lambda m, info: m["updated_at"],
    ("Product", "options"): lambda p, info, first=None: p.options[:first] if first is not None else p.options,
    ("Product", "variantsCount"): lambda p, info: {"count": len(p.variant_ids), "precision": "EXACT"},
    ("Product", "totalInventory"): lambda p, info: _total_inventory(_ctx(info).store, p),
    ("Product", "hasOnlyDefaultVariant"): lambda p, info: p.options[0].name == "Title" and len(p.variant_ids) == 1,
    ("Product", "tracksInventory"): lambda p, info: True,
    ("Product", "description"): lambda p, info: re.sub(r"<[^>]+>", "", p.description_html),
    ("ProductOption", "optionValues"): lambda o, info: [
        {"id": f"gid://shopify/ProductOptionValue/{o.id * 100 + i}", "name": v, "hasVariants": True}
        for i, v in enumerate(o.values)
    ],
    ("ProductVariant", "product"): lambda v, info: _ctx(info).store.products[v.product_id],
    ("ProductVariant", "displayName"): lambda v, info: f"{_ctx(info).store.products[v.product_id].title} - {v.title}",
    ("ProductVariant", "inventoryQuantity"): lambda v, info: _ctx(info).store.inventory_quantity(v),
    ("ProductVariant", "inventoryItem"): lambda v, info: _ctx(info).store.inventory_items[v.inventory_item_id],
    ("ProductVariant", "selectedOptions"): lambda v, info: [
        {"name": o.name, "value": val}
        for o, val in zip(_ctx(info).store.products[v.product_id].options, v.option_values, strict=False)
    ],
    ("InventoryItem", "sku"): _item_sku,
    ("InventoryItem", "variant"): lambda i, info: _ctx(info).store.variants[i.variant_id],
    ("InventoryItem", "variants"): lambda i, info, **args: _connection(
        info, [_ctx(info).store.variants[i.variant_id]], {"ID": _t("id")}, **args
    ),
    ("InventoryItem", "unitCost"): lambda i, info: (
        {"amount": i.unit_cost, "currencyCode": _ctx(info).store.currency} if i.unit_cost is not None else None
    ),
    ("InventoryItem", "measurement"): lambda i, info: {
        "id": f"gid://shopify/InventoryItemMeasurement/{i.id}",
        "weight": {"unit": i.weight_unit, "value": float(i.weight)},
    },
    ("InventoryItem", "inventoryLevels"): _levels_of_item,
    ("InventoryItem", "inventoryLevel"): lambda i, info, locationId: (
        _ctx(info).store.levels.get(i.id, {}).get(parse_gid(locationId, "Location"))
    ),
    ("InventoryLevel", "id"): lambda lv, info: lv.gid,
    ("InventoryLevel", "location"): lambda lv, info: _ctx(info).store.locations[lv.location_id],
    ("InventoryLevel", "item"): lambda lv, info: _ctx(info).store.inventory_items[lv.item_id],
    ("InventoryLevel", "quantities"): _quantities,
    ("Location", "address"): lambda loc, info: {
        "address1": loc.address1,
        "city": loc.city,
        "countryCode": loc.country_code,
        "zip": loc.zip,
    },
    ("Location", "fulfillsOnlineOrders"): lambda loc, info: True,
    ("Location", "inventoryLevels"): _levels_of_location,
    ("Customer", "displayName"): lambda c, info: f"{c.first_name} {c.last_name}",
    ("Customer", "defaultEmailAddress"): lambda c, info: {"emailAddress": c.email} if c.email else None,
    ("Customer", "defaultPhoneNumber"): lambda c, info: {"phoneNumber": c.phone} if c.phone else None,
    ("Customer", "defaultAddress"): lambda c, info: _address(c),
    ("Customer", "addresses"): lambda c, info, first=None: [a for a in [_address(c)] if a],
    ("Customer", "numberOfOrders"): lambda c, info: len(_customer_orders(c, info)),
    ("Customer", "amountSpent"): lambda c, info: {
        "amount": sum((o.total - o.refunded for o in _customer_orders(c, info)), Decimal("0.00")),
        "currencyCode": _ctx(info).store.currency,
    },
    ("Order", "currencyCode"): lambda o, info: o.currency,
    ("Order", "presentmentCurrencyCode"): lambda o, info: o.presentment_currency,
    ("Order", "displayFinancialStatus"): lambda o, info: o.financial_status,
    # stored as REST words (``customer``), served as the GraphQL enum (``CUSTOMER``)
    ("Order", "cancelReason"): lambda o, info: o.cancel_reason.upper() if o.cancel_reason else None,
    ("Order", "displayFulfillmentStatus"): lambda o, info: o.fulfillment_status,
    ("Order", "customer"): lambda o, info: _ctx(info).store.customers.get(o.customer_id) if o.customer_id else None,
    ("Order", "phone"): lambda o, info: None,
    ("Order", "totalPriceSet"): lambda o, info: bag(o, o.total),
    ("Order", "subtotalPriceSet"): lambda o, info: bag(o, o.subtotal),
    ("Order", "totalTaxSet"): lambda o, info: bag(o, o.tax),
    ("Order", "totalShippingPriceSet"): lambda o, info: bag(o, o.shipping),
    ("Order", "totalDiscountsSet"): lambda o, info: bag(o, o.discounts),
    ("Order", "totalRefundedSet"): lambda o, info: bag(o, o.refunded),
    ("Order", "currentTotalPriceSet"): lambda o, info: bag(o, o.total - o.refunded),
    ("Order", "currentSubtotalPriceSet"): lambda o, info: bag(o, max(Decimal("0.00"), o.subtotal - o.refunded)),
    ("Order", "shippingAddress"): lambda o, info: _order_address(o, info),
    ("Order", "billingAddress"): lambda o, info: _order_address(o, info),
    ("Order", "lineItems"): _line_items,
    ("Order", "refunds"): lambda o, info, first=None: o.refunds[:first] if first is not None else o.refunds,
    ("LineItem", "name"): lambda li, info: f"{li.title} - {li.variant_title}" if li.variant_title else li.title,
    ("LineItem", "currentQuantity"): lambda li, info: li.quantity - _refunded_qty(_order_of_line(info, li), li),
    ("LineItem", "refundableQuantity"): lambda li, info: li.quantity - _refunded_qty(_order_of_line(info, li), li),
    ("LineItem", "variant"): _variant_of_line,
    ("LineItem", "product"): lambda li, info: _ctx(info).store.products.get(li.product_id) if li.product_id else None,
    ("LineItem", "originalUnitPriceSet"): _line_bag(lambda li: li.unit_price),
    ("LineItem", "discountedUnitPriceSet"): _line_bag(lambda li: li.unit_price - li.discount / li.quantity),
    # Line totals are priced per unit in the presentment currency, as Shopify does (and as the REST body adds up).
    ("LineItem", "originalTotalSet"): _line_bag(
        lambda li: li.unit_price * li.quantity, lambda o, li: o.line_original_presentment(li)
    ),
    # Without order-level discounts, and without code ones unless ``withCodeDiscounts`` (the 2026-04 schema's
    # description); ``discountAllocations`` lists every discount allocated to the line.
    ("LineItem", "discountedTotalSet"): _discounted_total,
    ("LineItem", "discountAllocations"): lambda li, info: [
        {"allocatedAmountSet": bag(_order_of_line(info, li), amount)} for _kind, amount in li.allocations()
    ],
    ("LineItem", "totalDiscountSet"): _line_bag(lambda li: li.discount),
    ("Refund", "totalRefundedSet"): lambda r, info: bag(_refund_order(r, info), r.total),
    ("Refund", "order"): _refund_order,
    ("Refund", "refundLineItems"): _refund_lines,
    ("RefundLineItem", "lineItem"): lambda rl, info: next(
        li for li in _ctx(info).store.orders[_owner_of_refund_line(info, rl)].line_items if li.id == rl.line_item_id
    ),
    ("RefundLineItem", "subtotalSet"): lambda rl, info: bag(
        _ctx(info).store.orders[_owner_of_refund_line(info, rl)], rl.subtotal
    ),
    ("RefundLineItem", "priceSet"): lambda rl, info: bag(
        _ctx(info).store.orders[_owner_of_refund_line(info, rl)],
        rl.subtotal / rl.quantity if rl.quantity else Decimal(0),
    ),
    ("RefundLineItem", "id"): lambda rl, info: gid("RefundLineItem", rl.id),
}


def _owner_of_refund_line(info: GraphQLResolveInfo, rl: Any) -> int:
    return int(rl.order_id)


def _order_address(o: Order, info: GraphQLResolveInfo) -> dict[str, Any] | None:
    customer = _ctx(info).store.customers.get(o.customer_id) if o.customer_id else None
    return _address(customer) if customer else None


def user_error(exc: StoreError) -> dict[str, Any]:
    return {"field": exc.field, "message": exc.message, "code": exc.code}
