"""Shopify payloads -> canonical records: documented REST/webhook samples, GraphQL nodes, malformed input."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ecom_pipeline.platforms.errors import TransformError
from ecom_pipeline.platforms.shopify import transform as t
from ecom_pipeline_tests.platforms.shopify.conftest import product_node, variant_node
from ecom_pipeline_tests.platforms.shopify.stub_server import load_sample


def bag(amount: str, presentment: str | None = None, currency: str = "EUR", pcur: str = "USD") -> dict[str, Any]:
    return {
        "shopMoney": {"amount": amount, "currencyCode": currency},
        "presentmentMoney": {"amount": presentment or amount, "currencyCode": pcur},
    }


def graphql_order(**overrides: Any) -> dict[str, Any]:
    order = {
        "id": "gid://shopify/Order/450789469",
        "legacyResourceId": "450789469",
        "name": "#1001",
        "createdAt": "2025-03-01T09:00:00Z",
        "updatedAt": "2025-03-02T10:30:00Z",
        "processedAt": "2025-03-01T09:00:00Z",
        "cancelledAt": None,
        "closedAt": None,
        "displayFinancialStatus": "PARTIALLY_REFUNDED",
        "displayFulfillmentStatus": "PARTIALLY_FULFILLED",
        "currencyCode": "EUR",
        "presentmentCurrencyCode": "USD",
        "email": "Bob@Example.com",
        "customer": {"id": "gid://shopify/Customer/207119551", "legacyResourceId": "207119551"},
        "subtotalPriceSet": bag("30.00", "32.70"),
        "totalDiscountsSet": bag("0.00"),
        "totalShippingPriceSet": bag("4.90", "5.34"),
        "totalTaxSet": bag("6.98", "7.61"),
        "totalPriceSet": bag("41.88", "45.65"),
        "totalRefundedSet": bag("10.00", "10.90"),
        "lineItems": {
            "pageInfo": {"hasNextPage": False, "endCursor": None},
            "nodes": [
                {
                    "id": "gid://shopify/LineItem/466157049",
                    "sku": "TEE-S",
                    "name": "Tee - S",
                    "quantity": 3,
                    "variant": {"id": "gid://shopify/ProductVariant/808950810", "legacyResourceId": "808950810"},
                    "originalUnitPriceSet": bag("10.00", "10.90"),
                    "discountedTotalSet": bag("30.00", "32.70"),
                }
            ],
        },
    }
    order.update(overrides)
    return order


def test_rest_product_sample_maps_ids_prices_options_and_utc_times() -> None:
    """Prevents wrong ids/prices/options from the documented REST product (webhooks deliver this shape)."""
    product = t.product_from_rest(load_sample("rest_2025-07_product.json")["product"], currency="USD")
    assert product.external_id == "632910392"
    assert product.external_gid == "gid://shopify/Product/632910392"
    assert product.title == "IPod Nano - 8GB" and product.status == "active" and product.handle == "ipod-nano"
    assert product.tags == ("Emotive", "Flash Memory", "MP3", "Music")
    assert product.updated_at == datetime(2025, 7, 2, 16, 29, 59, tzinfo=UTC)  # -05:00 -> UTC
    first = product.variants[0]
    assert (first.external_id, first.sku, first.price, first.currency) == (
        "808950810",
        "IPOD2008PINK",
        Decimal("199.00"),
        "USD",
    )
    assert isinstance(first.price, Decimal)
    assert first.options == {"Color": "Pink"}
    assert first.stock_quantity == 10 and first.stock_managed is True
    assert first.external_gid == "gid://shopify/ProductVariant/808950810"
    assert [v.sku for v in product.variants] == ["IPOD2008PINK", "IPOD2008RED", "IPOD2008GREEN", "IPOD2008BLACK"]


def test_products_update_webhook_sample_keeps_large_ids_exact() -> None:
    """Prevents float rounding of ids above 2**53 (the sample's ids were restored from their gids)."""
    product = t.product_from_rest(load_sample("webhook_products_update.json"))
    assert product.external_id == "788032119674292922"
    assert [v.external_id for v in product.variants] == ["642667041472713922", "757650484644203962"]
    assert product.variants[0].compare_at_price == Decimal("24.99")


def test_rest_order_sample_maps_money_refunds_statuses_and_lines() -> None:
    """Prevents float money, a missing refunded total, or wrong statuses on the documented REST order."""
    order = t.order_from_rest(load_sample("rest_2025-07_order.json")["order"])
    assert order.external_id == "450789469" and order.order_number == "#1001"
    assert order.total == Decimal("598.94") and order.currency == "USD"
    assert order.subtotal == Decimal("597.00") and order.tax_total == Decimal("11.94")
    assert order.discount_total == Decimal("10.00")
    assert order.refunded_total == Decimal("209.00")
    assert order.financial_status == "partially_refunded" and order.fulfillment_status == "unfulfilled"
    assert order.status == "open"
    assert order.presentment_currency == "USD" and order.presentment_total == Decimal("598.94")
    assert order.placed_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert order.customer_external_id == "207119551" and order.email == "bob.norman@mail.example.com"
    line = order.lines[0]
    assert (line.external_id, line.variant_external_id, line.sku) == ("466157049", "39072856", "IPOD2008GREEN")
    assert (line.unit_price, line.subtotal, line.total) == (Decimal("199.00"), Decimal("199.00"), Decimal("195.66"))


def test_orders_create_webhook_sample_is_a_cancelled_voided_order() -> None:
    """Prevents cancelled orders being reported open (the webhook sample is cancelled and voided)."""
    order = t.order_from_rest(load_sample("webhook_orders_create.json"))
    assert order.external_id == "820982911946154508"
    assert (order.status, order.financial_status) == ("cancelled", "voided")
    assert order.total == Decimal("359.97") and order.shipping_total == Decimal("10.00")
    assert [line.sku for line in order.lines] == ["SKU2006-001", "SKU2006-020", "SKU2006-035"]


def test_customer_samples_map_email_and_address() -> None:
    """Prevents customers failing to merge across shops (email is the key) or losing address fields."""
    customer = t.customer_from_rest(load_sample("rest_2025-07_customer.json")["customer"])
    assert customer.external_id == "207119551" and customer.email == "bob.norman@mail.example.com"
    assert (customer.first_name, customer.city, customer.country) == ("Bob", "Louisville", "US")
    assert customer.updated_at == datetime(2025, 7, 2, 16, 25, 58, tzinfo=UTC)
    webhook = t.customer_from_rest(load_sample("webhook_customers_update.json"))
    assert webhook.external_id == "706405506930370084" and webhook.country == "CA"


def test_graphql_order_keeps_shop_and_presentment_money_apart() -> None:
    """Prevents mixing currencies: totals stay in the shop currency, what the buyer paid goes to presentment."""
    order = t.order_to_canonical(graphql_order())
    assert (order.currency, order.total) == ("EUR", Decimal("41.88"))
    assert (order.presentment_currency, order.presentment_total) == ("USD", Decimal("45.65"))
    assert order.refunded_total == Decimal("10.00") and order.shipping_total == Decimal("4.90")
    assert order.financial_status == "partially_refunded" and order.fulfillment_status == "partially_fulfilled"
    assert order.updated_at == datetime(2025, 3, 2, 10, 30, tzinfo=UTC)
    assert order.external_gid == "gid://shopify/Order/450789469"
    line = order.lines[0]
    assert (line.external_id, line.variant_external_id, line.quantity) == ("466157049", "808950810", 3)
    assert (line.unit_price, line.subtotal, line.total) == (Decimal("10.00"), Decimal("30.00"), Decimal("30.00"))


def test_graphql_product_and_inventory_level() -> None:
    """Prevents wrong variant ids/options in the pull path and stock rows under the wrong location key."""
    node = product_node(42, [variant_node(2, "B", "12.50", position=2), variant_node(1, "A", "9.90", position=1)])
    product = t.product_to_canonical({"product": node, "currency": "EUR"})
    assert product.external_id == "42" and product.status == "active" and product.tags == ("summer", "cotton")
    assert [(v.external_id, v.sku, v.price, v.currency) for v in product.variants] == [
        ("1", "A", Decimal("9.90"), "EUR"),
        ("2", "B", Decimal("12.50"), "EUR"),
    ]
    assert product.variants[0].options == {"Size": "S1"}
    assert t.inventory_item_ids({"product": node}) == {"2": "1002", "1": "1001"}
    rows = t.inventory_to_canonical(
        {
            "level": {
                "id": "gid://shopify/InventoryLevel/1?inventory_item_id=1001",
                "updatedAt": "2025-03-01T08:00:00Z",
                "quantities": [{"name": "available", "quantity": 7}],
                "item": {
                    "id": "gid://shopify/InventoryItem/1001",
                    "legacyResourceId": "1001",
                    "sku": "A",
                    "tracked": True,
                    "variant": {"id": "gid://shopify/ProductVariant/1", "legacyResourceId": "1"},
                },
            },
            "location": {"id": "gid://shopify/Location/487838322", "legacyResourceId": "487838322", "name": "Main"},
        }
    )
    assert [(r.variant_external_id, r.location, r.available, r.managed) for r in rows] == [("1", "487838322", 7, True)]


def test_rest_inventory_level_sample_maps_location_and_quantity() -> None:
    """Prevents webhook stock levels landing under another location key than the pull path uses."""
    level = load_sample("rest_2025-07_location_inventory_levels.json")["inventory_levels"][0]
    row = t.inventory_level_from_rest(level, variant_external_id="49148385")
    assert (row.location, row.available, row.updated_at) == (
        "487838322",
        18,
        datetime(2025, 7, 2, 16, 9, 43, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"totalPriceSet": {"shopMoney": {"amount": "12,50"}}}, "totalPriceSet.shopMoney.amount"),
        ({"totalPriceSet": {"shopMoney": {"amount": 12.5}}}, "totalPriceSet.shopMoney.amount"),
        ({"updatedAt": "2025-03-02 10:30:00"}, "updatedAt"),
        ({"currencyCode": None}, "currencyCode"),
        ({"legacyResourceId": "abc"}, "legacyResourceId"),
    ],
)
def test_malformed_order_raises_transform_error_naming_record_and_field(change: dict, field: str) -> None:
    """Prevents a bad record from crashing the batch or being stored with a guessed value."""
    with pytest.raises(TransformError) as info:
        t.order_to_canonical(graphql_order(**change))
    assert info.value.field == field
    assert info.value.entity == "order"


def test_incomplete_nested_variants_are_refused_not_truncated() -> None:
    """Prevents staging a product whose variants connection was not fully paged (variants would vanish)."""
    node = product_node(1, [variant_node(1, "A")], has_next=True, end_cursor="x")
    with pytest.raises(TransformError, match="hasNextPage"):
        t.product_to_canonical({"product": node})


def test_rest_and_graphql_shapes_of_one_order_give_the_same_record() -> None:
    """Prevents a webhook (REST) and the next poll (GraphQL) flipping the hub order back and forth."""
    rest = {
        "id": 450789469,
        "admin_graphql_api_id": "gid://shopify/Order/450789469",
        "name": "#1001",
        "created_at": "2025-03-01T10:00:00+01:00",
        "updated_at": "2025-03-02T11:30:00+01:00",
        "cancelled_at": None,
        "closed_at": None,
        "financial_status": "partially_refunded",
        "fulfillment_status": "partial",
        "currency": "EUR",
        "presentment_currency": "USD",
        "email": "bob@example.com",
        "customer": {"id": 207119551},
        "subtotal_price_set": {"shop_money": {"amount": "30.00"}},
        "total_discounts_set": {"shop_money": {"amount": "0.00"}},
        "total_shipping_price_set": {"shop_money": {"amount": "4.90"}},
        "total_tax_set": {"shop_money": {"amount": "6.98"}},
        "total_price_set": {"shop_money": {"amount": "41.88"}, "presentment_money": {"amount": "45.65"}},
        "refunds": [],
        "line_items": [
            {
                "id": 466157049,
                "variant_id": 808950810,
                "sku": "TEE-S",
                "name": "Tee - S",
                "quantity": 3,
                "price_set": {"shop_money": {"amount": "10.00"}},
                "discount_allocations": [],
                "tax_lines": [{"price_set": {"shop_money": {"amount": "6.98"}}}],
            }
        ],
    }
    # The GraphQL order was refunded 10.00 EUR; the REST body's refunds are checked separately below, because
    # their transactions are in the buyer's currency (USD here) and cannot give the shop-currency total.
    from_rest = dataclasses.replace(t.order_from_rest(rest), refunded_total=Decimal("10.00"))
    assert from_rest == t.order_to_canonical(graphql_order())
    rest["refunds"] = [{"transactions": [{"kind": "refund", "status": "success", "amount": "10.90"}]}]
    with pytest.raises(TransformError, match="re-read"):
        t.order_from_rest(rest)
    rest["presentment_currency"] = "EUR"
    rest["refunds"] = [{"transactions": [{"kind": "refund", "status": "success", "amount": "10.00"}]}]
    assert t.order_from_rest(rest).refunded_total == Decimal("10.00")


# -- Shopify reads fields with the shared readers (platforms/readers.py), like WooCommerce and PrestaShop ------------


def _rest_order() -> dict[str, Any]:
    return load_sample("rest_2025-07_order.json")["order"]


def _rest_order_with_line_price(value: Any) -> dict[str, Any]:
    """The REST order sample whose first line has a plain ``price`` (no ``price_set``) of ``value``."""
    order = _rest_order()
    line = order["line_items"][0]
    line.pop("price_set", None)
    line["price"] = value
    return order


@pytest.mark.parametrize(
    ("transform", "record", "field"),
    [
        (
            t.product_to_canonical,
            lambda: {"product": product_node(42, [variant_node(1, "A", price=19.99)])},  # type: ignore[arg-type]
            "variants[1].price",
        ),
        (
            t.order_from_rest,
            lambda: {**_rest_order(), "total_price_set": None, "total_price": 598.94},
            "total_price",
        ),
        (
            t.order_from_rest,
            lambda: _rest_order_with_line_price(199.0),
            "line_items[466157049].price",
        ),
    ],
)
def test_a_float_amount_is_refused_by_the_shared_money_reader(transform: Any, record: Any, field: str) -> None:
    """Prevents Shopify reading money by rules of its own: a JSON float is refused with the shared reader's reason
    (a float cannot carry an exact amount), in the GraphQL and the REST shape alike, as on every platform."""
    with pytest.raises(TransformError) as caught:
        transform(record())
    assert caught.value.field == field
    assert "a float cannot carry an exact amount" in str(caught.value)


@pytest.mark.parametrize(
    ("transform", "record", "field"),
    [
        (t.order_to_canonical, lambda: graphql_order(name={"value": "#1001"}), "name"),
        (t.order_to_canonical, lambda: graphql_order(email=["bob@example.com"]), "email"),
        (
            t.customer_to_canonical,
            lambda: {**load_sample("rest_2025-07_customer.json")["customer"], "first_name": ["Bob"]},
            "first_name",
        ),
        (
            t.product_to_canonical,
            lambda: {"product": product_node(42, [variant_node(1, {"sku": "A"})])},  # type: ignore[arg-type]
            "variants[1].sku",
        ),
    ],
)
def test_a_list_or_object_where_text_belongs_is_refused_naming_the_field(
    transform: Any, record: Any, field: str
) -> None:
    """Prevents the Python text of a list or an object (``{'value': '#1001'}``) landing in a hub column: Shopify
    used to store ``str(value)``; now, as on WooCommerce and PrestaShop, the record is rejected naming the field."""
    with pytest.raises(TransformError) as caught:
        transform(record())
    assert caught.value.field == field
    assert "expected text" in str(caught.value)


def test_integers_are_read_as_on_every_platform() -> None:
    """Prevents integers parsed differently per platform: a whole float is an integer (2.0 is 2), and only an
    optional minus and digits make an integer string (Python's ``int`` would take "+3" and "1_000")."""
    node = product_node(42, [variant_node(1, "A", position=2.0)])  # type: ignore[arg-type]
    assert t.product_to_canonical({"product": node}).variants[0].position == 2
    for text in ("+3", "1_000"):
        order = _rest_order()
        order["line_items"][0]["quantity"] = text
        with pytest.raises(TransformError) as caught:
            t.order_from_rest(order)
        assert caught.value.field == "line_items[466157049].quantity"


def test_shopifys_default_title_option_of_a_single_variant_product_is_no_option() -> None:
    """Prevents Shopify's ``Title`` / ``Default Title`` (the option of a product without options) from reading as a
    real option: the hub would hold an option no other shop has, and the variant would ping-pong between shops.
    A real option named Title, or Default Title beside another option, is kept."""
    default = [{"name": "Title", "value": "Default Title"}]
    node = product_node(7, [variant_node(70, "MUG-1", selectedOptions=default)])
    assert t.product_to_canonical({"product": node}).variants[0].options == {}
    rest = {
        "id": 7, "title": "Mug", "options": [{"name": "Title", "position": 1, "values": ["Default Title"]}],
        "variants": [{"id": 70, "sku": "MUG-1", "price": "8.00", "option1": "Default Title", "position": 1}],
    }  # fmt: skip
    assert t.product_from_rest(rest).variants[0].options == {}
    real = [{"name": "Title", "value": "Doctor"}]
    assert t.product_to_canonical(
        {"product": product_node(8, [variant_node(80, "T-1", selectedOptions=real)])}
    ).variants[0].options == {"Title": "Doctor"}
    both = [{"name": "Title", "value": "Default Title"}, {"name": "Size", "value": "M"}]
    assert t.product_to_canonical(
        {"product": product_node(9, [variant_node(90, "T-2", selectedOptions=both)])}
    ).variants[0].options == {"Title": "Default Title", "Size": "M"}


def test_order_amounts_are_written_with_cents_whichever_shape_gave_them() -> None:
    """Prevents an order applied from its webhook (REST: ``"2.00"``) and read again by the poll (GraphQL's Decimal
    scalar: ``"2.0"``) from having two digests for the same amounts (the hub row was rewritten after each webhook);
    more decimals than two are kept, nothing is rounded."""
    from decimal import Decimal

    from ecom_pipeline.platforms.shopify.transform import _at_least_cents

    assert str(_at_least_cents(Decimal("2.0"))) == str(_at_least_cents(Decimal("2.00"))) == "2.00"
    assert str(_at_least_cents(Decimal("2"))) == "2.00"
    assert str(_at_least_cents(Decimal("2E+1"))) == "20.00"
    assert str(_at_least_cents(Decimal("3.335"))) == "3.335"
    assert _at_least_cents(None) is None
