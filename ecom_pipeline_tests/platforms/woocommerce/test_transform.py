"""WooCommerce transform over every product, variation, order and customer body the real store (and the docs) sent.

Failures prevented: a float sneaking into money, a store-local time taken for UTC (one hour off), parent-managed
stock counted once per variation, a guest order attached to customer 0, and malformed payloads that crash a whole
batch or fail with a message nobody can act on.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ecom_pipeline.platforms.errors import TransformError
from ecom_pipeline.platforms.woocommerce.transform import (
    customer_to_canonical,
    inventory_from_product,
    order_to_canonical,
    product_to_canonical,
    source_updated_at,
    stock_owner_ids,
    variant_from_variation,
)
from ecom_pipeline.sync.canonical import CanonicalVariant
from ecom_pipeline_tests.platforms.replay_server import RECORDINGS, SAMPLES

# -- collecting every entity body --------------------------------------------------------------------------------


def _kind(obj: dict[str, Any]) -> str | None:
    if "id" not in obj:
        return None
    if "line_items" in obj and "order_key" in obj:
        return "order"
    if "username" in obj and "role" in obj:
        return "customer"
    if "permalink" in obj and "stock_status" in obj:
        attributes = obj.get("attributes") or []
        if obj.get("type") == "variation" or any(isinstance(a, dict) and "option" in a for a in attributes):
            return "variation"
        return "product"
    return None


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Entities in a response body: the body itself, a list of them, or a batch {"create": [...], ...}."""
    if isinstance(node, list):
        for item in node:
            yield from _walk(item)
    elif isinstance(node, dict):
        if _kind(node):
            yield node
        else:
            for key in ("create", "update", "delete"):
                yield from _walk(node.get(key))


def _bodies(path: Path) -> Iterator[Any]:
    data = json.loads(path.read_text())
    if path.parent == RECORDINGS:
        if path.name.startswith("webhook-delivery-"):
            yield data["request"]["body"]
        elif "response" in data:  # webhook-deliveries-summary.json is metadata, not an exchange
            yield data["response"]["body"]
    elif isinstance(data, dict) and "response_body" in data:
        yield data["response_body"]
    elif isinstance(data, list) and data and isinstance(data[0], dict) and "response_body" in data[0]:
        yield from (d["response_body"] for d in data)
    else:
        yield data


def _collect() -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {"product": [], "variation": [], "order": [], "customer": []}
    files = sorted(RECORDINGS.glob("*.json")) + sorted(SAMPLES.glob("*.json"))
    for path in files:
        for body in _bodies(path):
            for index, entity in enumerate(_walk(body)):
                kind = _kind(entity)
                assert kind is not None
                label = f"{path.parent.name}/{path.name}#{index}:{entity['id']}"
                found[kind].append(pytest.param(entity, id=label))
    return found


ENTITIES = _collect()


def test_the_fixture_walk_finds_every_kind() -> None:
    """Guards the parametrization itself: an empty list would make the tests below vacuous."""
    assert {k: len(v) >= 4 for k, v in ENTITIES.items()} == dict.fromkeys(ENTITIES, True)


def recorded(name: str) -> Any:
    return json.loads((RECORDINGS / name).read_text())["response"]["body"]


def _gmt(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _assert_time(actual: datetime | None, raw: str | None) -> None:
    if raw:
        assert actual == _gmt(raw)
        assert actual is not None and actual.utcoffset().total_seconds() == 0
    else:
        assert actual is None


def _assert_variant(variant: CanonicalVariant) -> None:
    for value in (variant.price, variant.compare_at_price):
        assert value is None or isinstance(value, Decimal)
    assert variant.sku != ""


# -- every body maps --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("product", ENTITIES["product"])
def test_every_product_body_maps(product: dict[str, Any]) -> None:
    canonical = product_to_canonical({"product": product, "variations": []})
    assert canonical.external_id == str(product["id"])
    assert canonical.status in ("active", "draft", "archived")
    _assert_time(canonical.updated_at, product.get("date_modified_gmt"))
    _assert_time(canonical.created_at, product.get("date_created_gmt"))
    for variant in canonical.variants:
        _assert_variant(variant)
    if product["type"] != "variable":
        (variant,) = canonical.variants
        assert variant.external_id == str(product["id"])
        assert variant.sku == (product["sku"] or None)
    assert source_updated_at(product) == canonical.updated_at
    inventory_from_product({"product": product, "variations": []})


@pytest.mark.parametrize("variation", ENTITIES["variation"])
def test_every_variation_body_maps(variation: dict[str, Any]) -> None:
    variant = variant_from_variation(variation)
    _assert_variant(variant)
    assert variant.external_id == str(variation["id"])
    _assert_time(variant.updated_at, variation.get("date_modified_gmt"))
    assert all(variant.options.values())
    if variation.get("manage_stock") in (True, "parent"):
        assert variant.stock_managed and variant.stock_quantity == variation["stock_quantity"]


@pytest.mark.parametrize("order", ENTITIES["order"])
def test_every_order_body_maps(order: dict[str, Any]) -> None:
    canonical = order_to_canonical(order)
    assert canonical.total == Decimal(order["total"])
    money = [canonical.subtotal, canonical.discount_total, canonical.shipping_total, canonical.tax_total]
    money += [canonical.refunded_total]
    for line in canonical.lines:
        money += [line.unit_price, line.subtotal, line.total, line.tax]
    assert all(value is None or isinstance(value, Decimal) for value in money)
    _assert_time(canonical.placed_at, order.get("date_created_gmt"))
    _assert_time(canonical.paid_at, order.get("date_paid_gmt"))
    _assert_time(canonical.completed_at, order.get("date_completed_gmt"))
    _assert_time(canonical.updated_at, order.get("date_modified_gmt"))
    for raw, line in zip(order["line_items"], canonical.lines, strict=True):
        expected_variant = raw["variation_id"] or raw["product_id"]
        assert line.variant_external_id == (str(expected_variant) if expected_variant else None)  # 0: product gone
        assert line.quantity == raw["quantity"]
        if raw["quantity"]:
            # unit_price is the pre-discount unit price (subtotal / qty, like Shopify's line price); WooCommerce's
            # float "price" is total / qty, i.e. after coupons: both must agree with the Decimal strings.
            assert line.unit_price == Decimal(raw["subtotal"]) / raw["quantity"]
            assert Decimal(str(raw["price"])) == (Decimal(raw["total"]) / raw["quantity"]).quantize(Decimal("0.0001"))
    assert canonical.customer_external_id == (str(order["customer_id"]) if order["customer_id"] else None)


@pytest.mark.parametrize("customer", ENTITIES["customer"])
def test_every_customer_body_maps(customer: dict[str, Any]) -> None:
    canonical = customer_to_canonical(customer)
    assert canonical.external_id == str(customer["id"])
    assert canonical.email == customer["email"].lower()
    _assert_time(canonical.updated_at, customer.get("date_modified_gmt"))
    _assert_time(canonical.created_at, customer.get("date_created_gmt"))


# -- concrete values ----------------------------------------------------------------------------------------------


def test_single_order_values() -> None:
    order = order_to_canonical(recorded("orders-get-single.json"))
    assert (order.external_id, order.order_number, order.currency) == ("34", "34", "EUR")
    assert order.total == Decimal("61.80") and order.shipping_total == Decimal("9.00")
    assert order.subtotal == Decimal("52.80")
    assert (order.financial_status, order.fulfillment_status) == ("paid", "unfulfilled")
    assert order.customer_external_id == "3" and order.email == "john.smith@example.com"
    assert order.placed_at == datetime(2026, 11, 22, 0, 8, 32, tzinfo=UTC)
    assert order.refunded_total == Decimal("0.00")
    first, second = order.lines
    assert (first.sku, first.variant_external_id, first.unit_price) == ("TSHIRT-ORG-M-BLA", "24", Decimal("24.00"))
    # price 14.4 is a JSON float; the unit price comes from "28.80" / 2 in Decimal
    assert (second.sku, second.variant_external_id, second.quantity) == ("BEANIE-WOOL-NAVY", "30", 2)
    assert second.unit_price == Decimal("14.40") and str(second.unit_price) == "14.40"


def test_partially_refunded_order() -> None:
    order = order_to_canonical(recorded("orders-get-partially-refunded.json"))
    assert order.status == "on-hold"
    assert order.financial_status == "partially_refunded"
    assert order.refunded_total == Decimal("26.00")
    assert order.total == Decimal("117.50")  # the order total is not reduced by the refund
    assert order.lines[0].variant_external_id == "17"  # simple product: variation_id 0 -> product id


@pytest.mark.parametrize(
    ("name", "financial", "fulfillment"),
    [
        ("orders-create-pending.json", "pending", "unfulfilled"),
        ("orders-update-status-completed.json", "paid", "fulfilled"),
        ("orders-update-status-cancelled.json", "voided", "cancelled"),
        ("orders-refunds-create-partial-restock.json", None, None),
    ],
)
def test_order_statuses(name: str, financial: str | None, fulfillment: str | None) -> None:
    body = recorded(name)
    if "line_items" not in body or "order_key" not in body:  # a refund object, not an order
        return
    order = order_to_canonical(body)
    assert (order.financial_status, order.fulfillment_status) == (financial, fulfillment)


def test_refunded_orders_are_refunded() -> None:
    orders = [order_to_canonical(o) for o in recorded("orders-list-status-refunded.json")]
    assert orders and all(o.financial_status == "refunded" for o in orders)
    assert all(o.refunded_total == o.total for o in orders)


def test_guest_order_has_no_customer_but_keeps_the_email() -> None:
    order = order_to_canonical(recorded("orders-update-status-cancelled.json"))
    assert order.customer_external_id is None
    assert order.email == "guest.buyer@example.com"


def test_email_is_lower_cased() -> None:
    body = copy.deepcopy(recorded("orders-get-single.json"))
    body["billing"]["email"] = " John.Smith@Example.COM "
    assert order_to_canonical(body).email == "john.smith@example.com"


def test_variable_product_has_one_variant_per_variation_with_options() -> None:
    product = product_to_canonical(
        {"product": recorded("products-get-variable.json"), "variations": recorded("products-variations-list.json")}
    )
    assert product.product_type == "variable" and product.categories == ("Apparel",)
    by_sku = {v.sku: v for v in product.variants}
    assert set(by_sku) == {
        "TSHIRT-ORG-S-BLA",
        "TSHIRT-ORG-M-BLA",
        "TSHIRT-ORG-L-BLA",
        "TSHIRT-ORG-M-WHI",
        "TSHIRT-ORG-L-WHI",
    }
    large_white = by_sku["TSHIRT-ORG-L-WHI"]
    assert large_white.external_id == "27"
    assert large_white.options == {"Size": "L", "Colour": "White"}
    assert large_white.price == Decimal("26.00") and large_white.stock_quantity == 2 and large_white.stock_managed


def _beanie() -> dict[str, Any]:
    parent = next(p for p in recorded("auth-oauth1-http-products.json") if p["id"] == 28)
    return {"product": parent, "variations": recorded("products-variations-list-parent-managed-stock.json")}


def test_parent_managed_stock_is_one_pool_not_one_per_variation() -> None:
    """Three variations report the parent's 28: each row shows it, all share one stock_pool, so it counts once."""
    record = _beanie()
    product = product_to_canonical(record)
    assert len(product.variants) == 3
    assert all(v.stock_managed and v.stock_quantity == 28 for v in product.variants)
    inventory = inventory_from_product(record)
    assert sorted(row.variant_external_id for row in inventory) == ["29", "30", "31"]
    assert {(row.available, row.managed, row.stock_pool, row.location) for row in inventory} == {
        (28, True, "product:28", "default")
    }
    pools = {row.stock_pool: row.available for row in inventory}
    assert sum(v or 0 for v in pools.values()) == 28
    assert stock_owner_ids(record) == {"29": "28", "30": "28", "31": "28"}


def test_own_stock_variations_each_have_their_inventory_row() -> None:
    record = {
        "product": recorded("products-get-variable.json"),
        "variations": recorded("products-variations-list.json"),
    }
    rows = {row.variant_external_id: row.available for row in inventory_from_product(record)}
    assert rows == {"23": 6, "24": 9, "25": 8, "26": 7, "27": 2}
    assert stock_owner_ids(record)["27"] == "27"


def test_simple_product_values() -> None:
    body = recorded("products-create-simple.json")
    product = product_to_canonical({"product": body, "variations": []})
    (variant,) = product.variants
    assert variant.external_id == str(body["id"]) and variant.sku == body["sku"]
    assert variant.price == Decimal(body["price"])
    (row,) = inventory_from_product({"product": body, "variations": []})
    assert (row.available, row.managed) == (body["stock_quantity"], True)


def test_draft_and_trash_statuses_and_trashed_slug() -> None:
    draft = product_to_canonical({"product": recorded("products-create-draft.json")})
    assert draft.status == "draft" and draft.handle is None
    trashed = product_to_canonical({"product": recorded("products-get-trashed.json")})
    assert trashed.status == "archived"
    assert trashed.handle and not trashed.handle.endswith("__trashed")


def test_empty_sku_is_none_and_unmanaged_stock_is_untracked() -> None:
    body = copy.deepcopy(recorded("products-create-simple.json"))
    body.update(sku="", manage_stock=False, stock_quantity=None)
    (variant,) = product_to_canonical({"product": body}).variants
    assert variant.sku is None and variant.stock_quantity is None and not variant.stock_managed


def test_sale_price_sets_compare_at_price() -> None:
    body = copy.deepcopy(recorded("products-create-simple.json"))
    body.update(price="19.90", regular_price="24.90", sale_price="19.90", on_sale=True)
    (variant,) = product_to_canonical({"product": body}).variants
    assert (variant.price, variant.compare_at_price) == (Decimal("19.90"), Decimal("24.90"))


def test_category_names_are_unescaped() -> None:
    body = copy.deepcopy(recorded("products-create-simple.json"))
    body["categories"] = [{"id": 19, "name": "Mugs &amp; Cups", "slug": "mugs-cups"}]
    assert product_to_canonical({"product": body}).categories == ("Mugs & Cups",)


def test_customer_values() -> None:
    customer = customer_to_canonical(recorded("customers-get-single.json"))
    assert (customer.external_id, customer.email, customer.first_name) == ("3", "john.smith@example.com", "John")
    assert (customer.company, customer.city, customer.country) == ("Smith Roasters LLC", "San Francisco", "US")
    assert customer.phone == "+1 415 555 0199"
    assert customer.updated_at == datetime(2026, 11, 22, 0, 9, 22, tzinfo=UTC)


def test_source_updated_at_reads_the_gmt_twin() -> None:
    body = recorded("customers-get-single.json")
    assert source_updated_at(body) == datetime(2026, 11, 22, 0, 9, 22, tzinfo=UTC)  # local says 01:09:22
    assert source_updated_at({"product": recorded("products-get-variable.json"), "variations": []}) is not None
    assert source_updated_at({"id": 1}) is None


# -- malformed input -------------------------------------------------------------------------------------------


def _order_with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(recorded("orders-get-single.json"))
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "field", "fragment"),
    [
        (("id",), _DELETE, "id", "missing"),
        (("total",), "12,50", "total", "'12,50'"),
        (("total",), "NaN", "total", "'NaN'"),
        (("total",), None, "total", "missing"),
        (("shipping_total",), True, "shipping_total", "True"),
        (("line_items", 0, "quantity"), -1, "line_items[3].quantity", "non-negative"),
        (("line_items", 0, "subtotal"), "abc", "line_items[3].subtotal", "'abc'"),
        (("date_created_gmt",), "22/11/2026", "date_created_gmt", "'22/11/2026'"),
        (("currency",), "", "currency", "missing"),
    ],
)
def test_malformed_order_raises_a_precise_transform_error(
    path: tuple[Any, ...], value: Any, field: str, fragment: str
) -> None:
    with pytest.raises(TransformError) as caught:
        order_to_canonical(_order_with(path, value))
    err = caught.value
    assert err.entity == "order" and err.field == field
    assert err.external_id == (None if path == ("id",) else "34")
    assert fragment in str(err) and field in str(err)


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"price": "abc"}, "price", "'abc'"),
        ({"regular_price": "1.2.3"}, "regular_price", "'1.2.3'"),
        ({"date_modified_gmt": "yesterday"}, "date_modified_gmt", "'yesterday'"),
        ({"stock_quantity": "lots"}, "stock_quantity", "'lots'"),
        ({"manage_stock": "maybe"}, "manage_stock", "'maybe'"),
        ({"id": None}, "id", "None"),
        ({"name": ""}, "name", "''"),
    ],
)
def test_malformed_product_raises_a_precise_transform_error(change: dict[str, Any], field: str, fragment: str) -> None:
    body = copy.deepcopy(recorded("products-create-simple.json"))
    body.update(change)
    with pytest.raises(TransformError) as caught:
        product_to_canonical({"product": body, "variations": []})
    assert caught.value.field == field and fragment in str(caught.value)
    assert str(caught.value).startswith("product ")


def test_malformed_variation_names_the_variation() -> None:
    record = _beanie()
    record["variations"] = copy.deepcopy(record["variations"])
    record["variations"][1]["price"] = "18,00"
    with pytest.raises(TransformError) as caught:
        product_to_canonical(record)
    assert str(caught.value) == "variation 30: field 'price': expected a decimal amount, found '18,00'"


def test_malformed_customer_and_payload_shapes() -> None:
    with pytest.raises(TransformError, match="customer \\(no id\\): field 'id'"):
        customer_to_canonical({"email": "a@b.c"})
    with pytest.raises(TransformError, match="expected a JSON object"):
        product_to_canonical({"product": ["not", "a", "product"]})
    with pytest.raises(TransformError, match="variant_from_variation"):
        product_to_canonical({"product": recorded("products-variations-list.json")[0]})


def test_transform_error_pickles() -> None:
    import pickle

    err = TransformError("order", "34", "total", "expected a decimal amount, found 'x'")
    assert str(pickle.loads(pickle.dumps(err))) == str(err)


def test_coupon_line_keeps_pre_discount_unit_price_and_discounted_total() -> None:
    """WooCommerce's float ``price`` (11.25) is after the coupon; unit_price is the list price, total the net."""
    order = next(o for o in recorded("orders-list-page2.json") if o["id"] == 35)
    line = order_to_canonical(order).lines[0]
    assert (line.unit_price, line.subtotal, line.total) == (Decimal("12.50"), Decimal("37.50"), Decimal("33.75"))
    assert line.title == "Crème brûlée Tasse \u2013 250 ml"


def test_non_terminating_unit_price_is_rounded_to_four_places() -> None:
    body = copy.deepcopy(recorded("orders-get-single.json"))
    body["line_items"][0].update(quantity=3, subtotal="10.00")
    assert order_to_canonical(body).lines[0].unit_price == Decimal("3.3333")


def test_nested_categories_are_read_as_their_path() -> None:
    """Prevents a nested category read as its leaf when the extract staged the shop's paths (issue 10); without
    them (a webhook) the leaf name, as before."""
    from ecom_pipeline.platforms.woocommerce.transform import category_paths

    terms = [
        {"id": 15, "name": "Uncategorized", "parent": 0},
        {"id": 20, "name": "Clothing", "parent": 0},
        {"id": 21, "name": "Shirts &amp; Tops", "parent": 20},
        {"id": 22, "name": "Linen", "parent": 21},
    ]
    assert category_paths(terms, [15, 21, 22]) == {
        "21": "Clothing > Shirts & Tops",
        "22": "Clothing > Shirts & Tops > Linen",
    }
    body = copy.deepcopy(recorded("products-create-simple.json"))
    body["categories"] = [
        {"id": 21, "name": "Shirts &amp; Tops", "slug": "shirts"},
        {"id": 15, "name": "Uncategorized"},
    ]
    record = {"product": body, "variations": [], "category_paths": category_paths(terms, [21, 15])}
    assert product_to_canonical(record).categories == ("Clothing > Shirts & Tops", "Uncategorized")
    assert product_to_canonical({"product": body}).categories == ("Shirts & Tops", "Uncategorized")
