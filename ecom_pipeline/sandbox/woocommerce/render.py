"""WooCommerce records as the wc/v3 REST API answers them: key order, JSON types and links as recorded.

Records are compact; the full wc/v3 dict (70-odd keys for a product) is only built when a record is served. Field
names, order and types are copied from ``shared/fixtures/recorded/woocommerce-10.0.2`` (products-get-variable.json,
products-variations-list.json, orders-get-single.json, customers-get-single.json, orders-notes-create.json).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, tzinfo
from decimal import Decimal
from typing import Any

from ecom_pipeline.sandbox.woocommerce.records import (
    ITEM_ALLOW,
    WC_VERSION,
    Customer,
    LineItem,
    Note,
    Order,
    Product,
    Refund,
    RefundLine,
    Variation,
    money,
    php_number,
    wp_date,
)


def price_html(prices: list[Decimal], regular: Decimal | None = None) -> str:
    """The storefront price markup WooCommerce sends in ``price_html`` (EUR, symbol before)."""

    def amount(v: Decimal, hidden: bool = True) -> str:
        aria = ' aria-hidden="true"' if hidden else ""
        return (
            f'<span class="woocommerce-Price-amount amount"{aria}><bdi>'
            f'<span class="woocommerce-Price-currencySymbol">&euro;</span>{money(v)}</bdi></span>'
        )

    if not prices:
        return ""
    low, high = min(prices), max(prices)
    if low != high:
        return (
            f'{amount(low)} <span aria-hidden="true">&ndash;</span> {amount(high)}'
            f'<span class="screen-reader-text">Price range: &euro;{money(low)} through &euro;{money(high)}</span>'
        )
    if regular is not None and regular != low:
        return (
            f'<del aria-hidden="true">{amount(regular, False)}</del> <span class="screen-reader-text">Original price '
            f'was: &euro;{money(regular)}.</span><ins aria-hidden="true">{amount(low, False)}</ins>'
            f'<span class="screen-reader-text">Current price is: &euro;{money(low)}.</span>'
        )
    return amount(low, False)


def _self_links(href: str, collection: str) -> dict[str, Any]:
    return {
        "self": [{"href": href, "targetHints": {"allow": list(ITEM_ALLOW)}}],
        "collection": [{"href": collection}],
    }


def product_permalink(p: Product, site: str) -> str:
    if p.status in ("draft", "pending", "trash", "future", "private") or not p.slug:
        return f"{site}/?post_type=product&p={p.id}"
    return f"{site}/product/{p.slug}/"


def render_product(p: Product, variations: list[Variation], tz: tzinfo, site: str) -> dict[str, Any]:
    """The wc/v3 product object (key order as in products-get-variable.json)."""
    api = f"{site}/wp-json/wc/v3"
    if p.type == "variable":
        live = [v for v in variations if v.status == "publish"]
        prices = [Decimal(variation_price(v)) for v in live if variation_price(v)]
        price = money(min(prices)) if prices else ""
        on_sale = any(is_on_sale(v.regular_price, v.sale_price) for v in live)
        html = price_html(prices)
        stock_status = (
            "instock" if any(variation_stock_status(v, p) == "instock" for v in live) or not live else "outofstock"
        )
        regular, sale = "", ""
    else:
        regular, sale = p.regular_price, p.sale_price
        on_sale = is_on_sale(regular, sale)
        price = sale if on_sale else regular
        html = price_html([Decimal(price)], Decimal(regular) if regular else None) if price else ""
        stock_status = stock_status_for(p.manage_stock, p.stock_quantity, p.backorders)
    out: dict[str, Any] = {
        "id": p.id,
        "name": p.name,
        "slug": p.slug,
        "permalink": product_permalink(p, site),
        "date_created": wp_date(p.created, tz),
        "date_created_gmt": wp_date(p.created, UTC),
        "date_modified": wp_date(p.modified, tz),
        "date_modified_gmt": wp_date(p.modified, UTC),
        "type": p.type,
        "status": p.status,
        "featured": p.featured,
        "catalog_visibility": "visible",
        "description": p.description,
        "short_description": p.short_description,
        "sku": p.sku,
        "price": price,
        "regular_price": regular,
        "sale_price": sale,
        "date_on_sale_from": None,
        "date_on_sale_from_gmt": None,
        "date_on_sale_to": None,
        "date_on_sale_to_gmt": None,
        "on_sale": on_sale,
        "purchasable": bool(price),
        "total_sales": p.total_sales,
        "virtual": False,
        "downloadable": False,
        "downloads": [],
        "download_limit": -1,
        "download_expiry": -1,
        "external_url": "",
        "button_text": "",
        "tax_status": "taxable",
        "tax_class": "",
        "manage_stock": p.manage_stock,
        "stock_quantity": p.stock_quantity if p.manage_stock else None,
        "backorders": p.backorders,
        "backorders_allowed": p.backorders != "no",
        "backordered": False,
        "low_stock_amount": None,
        "sold_individually": False,
        "weight": p.weight,
        "dimensions": dict(p.dimensions),
        "shipping_required": True,
        "shipping_taxable": True,
        "shipping_class": "",
        "shipping_class_id": 0,
        "reviews_allowed": True,
        "average_rating": "0.00",
        "rating_count": 0,
        "upsell_ids": [],
        "cross_sell_ids": [],
        "parent_id": 0,
        "purchase_note": "",
        "categories": [dict(c) for c in p.categories],
        "brands": [],
        "tags": [dict(t) for t in p.tags],
        "images": [],
        "attributes": [dict(a, options=list(a["options"])) for a in p.attributes],
        "default_attributes": [dict(a) for a in p.default_attributes],
        "variations": list(p.variation_ids),
        "grouped_products": [],
        "menu_order": 0,
        "price_html": html,
        "related_ids": [],
        "meta_data": [dict(m) for m in p.meta_data],
        "stock_status": stock_status,
        "has_options": p.type == "variable",
        "post_password": "",
        "global_unique_id": p.global_unique_id,
        "_links": _self_links(f"{api}/products/{p.id}", f"{api}/products"),
    }
    return _with_extra(out, p.extra)


def is_on_sale(regular: str, sale: str) -> bool:
    """WooCommerce's ``is_on_sale`` without sale dates (the emulator keeps none): a sale price below the regular
    price (or with no regular price); a sale price at or above it is kept but not in force."""
    if not sale:
        return False
    return not regular or Decimal(sale) < Decimal(regular)


def variation_price(v: Variation) -> str:
    """The active price: the sale price while on sale, else the regular price."""
    return v.sale_price if is_on_sale(v.regular_price, v.sale_price) else v.regular_price


def stock_status_for(manage_stock: bool | str, qty: int | None, backorders: str) -> str:
    if manage_stock is True and qty is not None and qty <= 0:
        return "onbackorder" if backorders != "no" else "outofstock"
    return "instock"


def variation_stock(v: Variation, parent: Product | None) -> int | None:
    if v.manage_stock == "parent":
        return parent.stock_quantity if parent is not None else None
    return v.stock_quantity if v.manage_stock else None


def variation_stock_status(v: Variation, parent: Product | None) -> str:
    if v.manage_stock == "parent":
        return stock_status_for(True, variation_stock(v, parent), v.backorders)
    return stock_status_for(v.manage_stock, v.stock_quantity, v.backorders)


def attribute_query_key(attr: dict[str, Any]) -> tuple[str, str]:
    """(``attribute_<key>``, value) as used in variation permalinks: term slug for global attributes."""
    if attr["id"]:
        return f"attribute_{attr['slug']}", str(attr["option"]).lower()
    return f"attribute_{attr['slug']}", str(attr["option"])


def render_variation(v: Variation, parent: Product | None, tz: tzinfo, site: str) -> dict[str, Any]:
    """The wc/v3 variation object (key order as in products-variations-list.json)."""
    api = f"{site}/wp-json/wc/v3"
    price = variation_price(v)
    base = product_permalink(parent, site) if parent is not None else f"{site}/"
    query = "&".join(f"{k}={val}" for k, val in (attribute_query_key(a) for a in v.attributes))
    permalink = f"{base}{'&' if '?' in base else '?'}{query}" if query else base
    out: dict[str, Any] = {
        "id": v.id,
        "type": "variation",
        "date_created": wp_date(v.created, tz),
        "date_created_gmt": wp_date(v.created, UTC),
        "date_modified": wp_date(v.modified, tz),
        "date_modified_gmt": wp_date(v.modified, UTC),
        "description": v.description,
        "permalink": permalink,
        "sku": v.sku,
        "global_unique_id": v.global_unique_id,
        "price": price,
        "regular_price": v.regular_price,
        "sale_price": v.sale_price,
        "date_on_sale_from": None,
        "date_on_sale_from_gmt": None,
        "date_on_sale_to": None,
        "date_on_sale_to_gmt": None,
        "on_sale": is_on_sale(v.regular_price, v.sale_price),
        "status": v.status,
        "purchasable": bool(price),
        "virtual": False,
        "downloadable": False,
        "downloads": [],
        "download_limit": -1,
        "download_expiry": -1,
        "tax_status": "taxable",
        "tax_class": "",
        "manage_stock": v.manage_stock,
        "stock_quantity": variation_stock(v, parent),
        "stock_status": variation_stock_status(v, parent),
        "backorders": v.backorders,
        "backorders_allowed": v.backorders != "no",
        "backordered": False,
        "low_stock_amount": None,
        "weight": v.weight,
        "dimensions": {"length": "", "width": "", "height": ""},
        "shipping_class": "",
        "shipping_class_id": 0,
        "image": None,
        # An "any" attribute (empty option) is left out, as WooCommerce's ``get_attributes`` does for a variation
        # (``if ( empty( $attribute ) && '0' !== $attribute ) continue;``).
        "attributes": [
            {"id": a["id"], "name": a["name"], "slug": a["slug"], "option": a["option"]}
            for a in v.attributes
            if a["option"] not in ("", None)
        ],
        "menu_order": 0,
        "meta_data": [dict(m) for m in v.meta_data],
        "name": v.name,
        "parent_id": v.parent_id,
        "_links": {
            **_self_links(
                f"{api}/products/{v.parent_id}/variations/{v.id}", f"{api}/products/{v.parent_id}/variations"
            ),
            "up": [{"href": f"{api}/products/{v.parent_id}"}],
        },
    }
    return _with_extra(out, v.extra)


def as_analytics_variation(out: dict[str, Any], v: Variation, parent: Product | None, site: str) -> dict[str, Any]:
    """A rendered wc/v3 variation (``out``) as ``GET /wp-json/wc-analytics/variations`` lists it.

    WooCommerce's ``Admin\\API\\ProductVariations::prepare_object_for_response`` runs the wc/v3 one, then sets
    ``name`` to the variation's post title (``get_name()``), ``type`` and ``parent_id`` (keys the v3 body has: PHP
    keeps their positions). Its links come from the v2 controller's ``prepare_links``, built from the request's
    ``product_id``, which the cross-parent route does not have: ``wc-analytics/products/0/...``. WordPress computes
    the self link's ``targetHints`` from that URL's permission callbacks, and the update check refuses a
    variation whose parent is not the URL's (0): only GET and DELETE are left.
    """
    api = f"{site}/wp-json/wc-analytics"
    out["name"] = variation_post_title(v, parent)
    out["type"] = "variation"
    out["parent_id"] = v.parent_id
    out["_links"] = {
        "self": [{"href": f"{api}/products/0/variations/{v.id}", "targetHints": {"allow": ["GET", "DELETE"]}}],
        "collection": [{"href": f"{api}/products/0/variations"}],
        "up": [{"href": f"{api}/products/0"}],
    }
    return out


def variation_post_title(v: Variation, parent: Product | None) -> str:
    """A variation's post title as WooCommerce generates it on save (the variation data store's
    ``generate_product_title``): the parent's title, then " - " and the attribute values (``S, Black``) when the
    variation has fewer than 3 attributes and, with 2, neither attribute key has a dash (recorded:
    ``Organic Cotton T-Shirt - S, Black`` in webhook-delivery-product-created-variation.json)."""
    base = parent.name if parent is not None else ""
    keys = [str(a.get("slug") or a.get("name") or "") for a in v.attributes]
    include = len(keys) < 3 and (len(keys) < 2 or not any("-" in k for k in keys))
    suffix = ", ".join(str(a["option"]) for a in v.attributes if str(a["option"]) != "") if include else ""
    return f"{base} - {suffix}" if suffix else base


def _with_extra(out: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``out`` with the record's ``extra`` values over the rendered ones (every record kind renders this way); a
    key the object does not have is never added, so the key set stays the recorded one."""
    for key, value in extra.items():
        if key in out:
            out[key] = value
    return out


def _product_line(
    line: LineItem | RefundLine, subtotal: Decimal, unit: Decimal, meta_data: list[dict[str, Any]]
) -> dict[str, Any]:
    """A product line as WooCommerce renders it, an order's or a refund's alike (both are order items of type
    line_item): the same keys in the same order, taxes at zero."""
    return {
        "id": line.id,
        "name": line.name,
        "product_id": line.product_id,
        "variation_id": line.variation_id,
        "quantity": line.quantity,
        "tax_class": "",
        "subtotal": money(subtotal),
        "subtotal_tax": "0.00",
        "total": money(line.total),
        "total_tax": "0.00",
        "taxes": [],
        "meta_data": meta_data,
        "sku": line.sku,
        "price": php_number(unit),
        # Recorded quirk: simple-product lines carry {"id": ""}, variation lines {"id": 0}.
        "image": {"id": 0 if line.variation_id else "", "src": ""},
        "parent_name": line.parent_name,
    }


def render_line_item(li: LineItem) -> dict[str, Any]:
    unit = li.total / li.quantity if li.quantity else li.price
    return _product_line(li, li.subtotal, unit, [dict(m) for m in li.meta_data])


def render_order(o: Order, tz: tzinfo, site: str) -> dict[str, Any]:
    """The wc/v3 order object (key order as in orders-get-single.json)."""
    api = f"{site}/wp-json/wc/v3"
    ship_total = sum((Decimal(s["total"]) for s in o.shipping_lines), Decimal(0))
    unpaid = o.status in ("pending", "failed")
    links = _self_links(f"{api}/orders/{o.id}", f"{api}/orders")
    links["email_templates"] = [{"embeddable": True, "href": f"{api}/orders/{o.id}/actions/email_templates"}]
    if o.customer_id:
        links["customer"] = [{"href": f"{api}/customers/{o.customer_id}"}]
    out: dict[str, Any] = {
        "id": o.id,
        "parent_id": 0,
        "status": o.status,
        "currency": "EUR",
        "version": WC_VERSION,
        "prices_include_tax": False,
        "date_created": wp_date(o.created, tz),
        "date_modified": wp_date(o.modified, tz),
        "discount_total": money(sum((li.discount for li in o.line_items), Decimal(0))),
        "discount_tax": "0.00",
        "shipping_total": money(ship_total),
        "shipping_tax": "0.00",
        "cart_tax": "0.00",
        "total": money(o.total()),
        "total_tax": "0.00",
        "customer_id": o.customer_id,
        "order_key": o.order_key,
        "billing": dict(o.billing),
        "shipping": dict(o.shipping),
        "payment_method": o.payment_method,
        "payment_method_title": o.payment_method_title,
        "transaction_id": o.transaction_id,
        "customer_ip_address": "",
        "customer_user_agent": "",
        "created_via": o.created_via,
        "customer_note": o.customer_note,
        "date_completed": wp_date(o.completed, tz),
        "date_paid": wp_date(o.paid, tz),
        "cart_hash": "",
        "number": str(o.id),
        "meta_data": [dict(m) for m in o.meta_data],
        "line_items": [render_line_item(li) for li in o.line_items],
        "tax_lines": [],
        "shipping_lines": [dict(s) for s in o.shipping_lines],
        "fee_lines": [dict(f) for f in o.fee_lines],
        "coupon_lines": [dict(c) for c in o.coupon_lines],
        "refunds": [dict(r) for r in o.refunds],
        "payment_url": f"{site}/checkout/order-pay/{o.id}/?pay_for_order=true&key={o.order_key}",
        "is_editable": o.status in ("pending", "on-hold", "auto-draft"),
        "needs_payment": unpaid,
        "needs_processing": True,
        "date_created_gmt": wp_date(o.created, UTC),
        "date_modified_gmt": wp_date(o.modified, UTC),
        "date_completed_gmt": wp_date(o.completed, UTC),
        "date_paid_gmt": wp_date(o.paid, UTC),
        "currency_symbol": "\u20ac",
        "_links": links,
    }
    return _with_extra(out, o.extra)


def render_customer(c: Customer, tz: tzinfo, site: str) -> dict[str, Any]:
    """The wc/v3 customer object (key order as in customers-get-single.json)."""
    api = f"{site}/wp-json/wc/v3"
    email_hash = hashlib.sha256(c.email.strip().lower().encode()).hexdigest()
    out: dict[str, Any] = {
        "id": c.id,
        "date_created": wp_date(c.created, tz),
        "date_created_gmt": wp_date(c.created, UTC),
        "date_modified": wp_date(c.modified, tz),
        "date_modified_gmt": wp_date(c.modified, UTC),
        "email": c.email,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "role": c.role,
        "username": c.username,
        "billing": dict(c.billing),
        "shipping": dict(c.shipping),
        "is_paying_customer": c.is_paying_customer,
        "avatar_url": f"https://secure.gravatar.com/avatar/{email_hash}?s=96&d=mm&r=g",
        "meta_data": [dict(m) for m in c.meta_data],
        "_links": _self_links(f"{api}/customers/{c.id}", f"{api}/customers"),
    }
    return _with_extra(out, c.extra)


def render_note(n: Note, tz: tzinfo, site: str) -> dict[str, Any]:
    """The wc/v3 order note (orders-notes-create.json): its self link allows only GET and DELETE."""
    api = f"{site}/wp-json/wc/v3/orders/{n.order_id}"
    return {
        "id": n.id,
        "author": n.author,
        "date_created": wp_date(n.created, tz),
        "date_created_gmt": wp_date(n.created, UTC),
        "note": n.note,
        "customer_note": n.customer_note,
        "_links": {
            "self": [{"href": f"{api}/notes/{n.id}", "targetHints": {"allow": ["GET", "DELETE"]}}],
            "collection": [{"href": f"{api}/notes"}],
            "up": [{"href": api}],
        },
    }


def render_refund_line(rl: RefundLine) -> dict[str, Any]:
    """Same keys as an order line; ``price`` is total/quantity, so positive (orders-refunds-create-*.json)."""
    price = rl.total / rl.quantity if rl.quantity else Decimal(0)
    refunded = {
        "id": rl.meta_id,
        "key": "_refunded_item_id",
        "value": str(rl.refunded_item_id),
        "display_key": "_refunded_item_id",
        "display_value": str(rl.refunded_item_id),
    }
    return _product_line(rl, rl.total, price, [refunded])


def render_refund(r: Refund, tz: tzinfo, site: str) -> dict[str, Any]:
    """The wc/v3 order refund (orders-refunds-list.json); links allow only GET and DELETE."""
    api = f"{site}/wp-json/wc/v3/orders/{r.order_id}"
    return {
        "id": r.id,
        "date_created": wp_date(r.created, tz),
        "date_created_gmt": wp_date(r.created, UTC),
        "amount": money(r.amount),
        "reason": r.reason,
        "refunded_by": r.refunded_by,
        "refunded_payment": r.refunded_payment,
        "meta_data": [dict(m) for m in r.meta_data],
        "line_items": [render_refund_line(rl) for rl in r.lines],
        "shipping_lines": [],
        "tax_lines": [],
        "fee_lines": [],
        "_links": {
            "self": [{"href": f"{api}/refunds/{r.id}", "targetHints": {"allow": ["GET", "DELETE"]}}],
            "collection": [{"href": f"{api}/refunds"}],
            "up": [{"href": api}],
        },
    }
