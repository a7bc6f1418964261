"""PrestaShop transform on every recorded body kind: concrete canonical values, DST rules, typed failures.

Failures prevented: prices as floats or off by the combination impact, stock double-counted through the
product-level row, order times an hour off, a shared reference merging variants, a malformed record aborting a page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ecom_pipeline.platforms.errors import TransformError
from ecom_pipeline.platforms.prestashop import transform as ps
from ecom_pipeline.platforms.prestashop.dates import local_to_utc, shop_zone
from ecom_pipeline_tests.platforms.prestashop.replay import body

CTX = {"timezone": "Europe/Paris", "language_id": 1, "currency": "USD"}
OPTIONS = {"1": {"group": "Size", "name": "S"}, "8": {"group": "Color", "name": "White"}}


def _product(index: int = 0) -> dict[str, Any]:
    return body("products-list-full-limit-0-5.json")["products"][index]


def test_product_with_combinations_maps_each_to_a_variant_priced_with_its_impact() -> None:
    """Prevents a product with combinations becoming one variant, and float or impact-less prices."""
    combinations = body("combinations-list-for-product.json")["combinations"]
    combinations[1] = {**combinations[1], "price": "-2.500000", "reference": "demo_1_WM"}
    record = {"product": _product(), "combinations": combinations, "context": {**CTX, "option_values": OPTIONS}}
    product = ps.product_to_canonical(record)
    assert product.external_id == "1"
    assert product.title == "Hummingbird printed t-shirt"
    assert product.status == "active"
    assert product.handle == "hummingbird-printed-t-shirt"
    assert product.product_type == "combinations"
    assert product.categories == ("2", "3", "4")
    assert product.updated_at == datetime(2026, 11, 22, 0, 3, 53, tzinfo=UTC)  # 01:03:53 Paris (UTC+1)
    assert len(product.variants) == 8
    first, second = product.variants[0], product.variants[1]
    assert first.external_id == "1-1"
    assert first.price == Decimal("23.900000") and isinstance(first.price, Decimal)
    assert first.options == {"Size": "S", "Color": "White"}
    assert first.title == "Hummingbird printed t-shirt - S, White"
    assert first.currency == "USD"
    assert second.price == Decimal("21.400000")  # 23.90 + (-2.50) impact, tax excluded
    assert second.sku == "demo_1_WM"
    assert first.sku is None  # "demo_1" is shared by the other 7 combinations: not a SKU


def test_product_without_combinations_is_one_variant_keyed_by_reference() -> None:
    """Prevents simple products from having no sellable variant; the SKU is the reference."""
    single = body("products-get-single-with-associations.json")["product"]
    single = {**single, "associations": {**single["associations"], "combinations": []}}
    product = ps.product_to_canonical({"product": single, "context": CTX})
    (variant,) = product.variants
    assert (variant.external_id, variant.sku, variant.price) == ("1-0", "demo_1", Decimal("23.900000"))
    assert variant.weight == "0.3"


def test_product_with_combinations_but_none_staged_is_rejected() -> None:
    """Prevents inventing a "1-0" variant the shop does not sell when the combinations call was skipped."""
    with pytest.raises(TransformError) as info:
        ps.product_to_canonical({"product": _product(), "context": CTX})
    assert info.value.field == "combinations" and info.value.external_id == "1"


def test_multilanguage_fields_pick_the_configured_language() -> None:
    """Prevents names in a random language in multi-language shops (JSON gives [{id, value}])."""
    product = {**_product(4), "name": [{"id": "1", "value": "Mug EN"}, {"id": "2", "value": "Tasse FR"}]}
    product["associations"] = {**product["associations"], "combinations": []}
    result = ps.product_to_canonical({"product": product, "context": {**CTX, "language_id": 2}})
    assert result.title == "Tasse FR"


def test_stock_rows_drop_the_product_level_sum_when_combinations_exist() -> None:
    """Prevents double-counted stock: row attribute 0 (2400) is the sum of the 8 combination rows (300 each)."""
    rows = body("stock-availables-list-for-product.json")["stock_availables"]
    items = ps.inventory_to_canonical(
        {"id_product": "1", "rows": rows, "context": {"observed_at": "2026-11-22T00:20:00+00:00"}}
    )
    assert [i.variant_external_id for i in items] == [f"1-{n}" for n in range(1, 9)]
    assert {i.available for i in items} == {300}
    assert items[0].updated_at == datetime(2026, 11, 22, 0, 20, tzinfo=UTC)


def test_stock_of_a_product_without_combinations_is_its_own_row() -> None:
    """Prevents losing the stock of simple products (only the attribute-0 row exists)."""
    single = body("stock-availables-get-after-put.json")["stock_available"]  # falsy fields omitted
    items = ps.inventory_to_canonical({"id_product": single["id_product"], "rows": [single]})
    assert [(i.variant_external_id, i.available) for i in items] == [(f"{single['id_product']}-0", 42)]


def test_order_maps_money_states_and_lines() -> None:
    """Prevents wrong totals, float money and statuses read from ids instead of the order_state."""
    order = body("orders-list-full.json")["orders"][0]
    state = next(s for s in body("order-states-list.json")["order_states"] if s["id"] == 6)
    result = ps.order_to_canonical({"order": order, "context": {**CTX, "state": state}})
    assert result.external_id == "1" and result.order_number == "XKBKNABJK"
    assert (result.status, result.financial_status, result.fulfillment_status) == ("Canceled", "voided", "cancelled")
    assert result.total == Decimal("68.200000")
    assert result.tax_total == Decimal("1.400000")
    assert result.shipping_total == Decimal("7.000000")
    assert result.subtotal == Decimal("59.800000")
    assert result.customer_external_id == "2"
    assert result.placed_at == datetime(2026, 11, 22, 0, 3, 54, tzinfo=UTC)
    assert result.paid_at is None  # invoice_date "0000-00-00 00:00:00"
    line = result.lines[0]
    assert (line.variant_external_id, line.sku, line.quantity, line.unit_price) == (
        "1-1",
        "demo_1",
        1,
        Decimal("23.900000"),
    )


def test_shipped_state_is_paid_and_fulfilled() -> None:
    """Prevents a shipped order staying "unfulfilled": the state's flags decide."""
    order = body("orders-after-state-change.json")
    order = order.get("order") or order["orders"][0]
    state = next(s for s in body("order-states-list.json")["order_states"] if s["id"] == 4)
    order = {**order, "current_state": "4", "id": order.get("id", 2)}
    order.setdefault("associations", {"order_rows": []})
    result = ps.order_to_canonical({"order": order, "context": {**CTX, "state": state}})
    assert (result.status, result.financial_status, result.fulfillment_status) == ("Shipped", "paid", "fulfilled")


def test_customer_from_single_resource_json_with_omitted_fields() -> None:
    """Prevents failing on the single-resource form, where "" and "0" fields are left out."""
    customer = body("customers-get-created.json")["customer"]
    result = ps.customer_to_canonical({"customer": customer, "context": CTX})
    assert (result.external_id, result.email, result.first_name, result.last_name) == (
        "3",
        "zoe.mueller@example.com",
        "Zoë",
        "Müller",
    )
    assert result.company is None
    assert result.created_at == datetime(2026, 11, 22, 0, 13, 20, tzinfo=UTC)


def test_ambiguous_autumn_hour_reads_as_the_earlier_instant() -> None:
    """Prevents a cursor jumping an hour ahead: 02:30 on 2026-10-25 in Paris is read as 00:30 UTC (CEST)."""
    assert local_to_utc("2026-10-25 02:30:00", shop_zone("Europe/Paris")) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_nonexistent_spring_hour_is_shifted_forward() -> None:
    """Prevents a crash or a backwards time: 02:30 on 2026-03-29 in Paris never happens; it reads as 03:30 CEST."""
    assert local_to_utc("2026-03-29 02:30:00", shop_zone("Europe/Paris")) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.update(price="12,50"), "price"),
        (lambda p: p.update(date_upd="22/11/2026"), "date_upd"),
        (lambda p: p.update(id="abc"), "id"),
        (lambda p: p.update(name=""), "name"),
    ],
)
def test_malformed_product_raises_transform_error_naming_the_field(mutate: Any, field: str) -> None:
    """Prevents a bad record aborting the page or being stored half-typed: the field is named for the user."""
    product = {**_product(4)}
    product["associations"] = {**product["associations"], "combinations": []}
    mutate(product)
    with pytest.raises(TransformError) as info:
        ps.product_to_canonical({"product": product, "context": CTX})
    assert info.value.field == field


def test_missing_timezone_is_refused_not_guessed() -> None:
    """Prevents silently reading shop-local dates as UTC."""
    with pytest.raises(TransformError) as info:
        ps.customer_to_canonical({"customer": body("customers-get-created.json")["customer"]})
    assert info.value.field == "context.timezone"


def test_nested_categories_are_read_as_their_path_from_home() -> None:
    """Prevents the pull reading a nested category as its leaf (``Men``), which a pushed ``Clothes > Men`` and a
    product created in the shop both lose: the path from home, in the integration's language (issue 10)."""
    names = {"1": "Root", "2": "Home", "3": "Clothes", "4": "Men", "9": [{"id": "1", "value": "Art"}]}
    parents = {"1": "0", "2": "1", "3": "2", "4": "3", "9": "2"}
    context = ps.category_context(names, parents, ["2", "4", "9"])
    assert context == {
        "categories": {"2": "Home", "4": "Men", "3": "Clothes", "9": [{"id": "1", "value": "Art"}]},
        "category_parents": {"4": "3"},
    }
    record = {"product": _product(), "combinations": body("combinations-list-for-product.json")["combinations"]}
    record["context"] = {**CTX, "option_values": OPTIONS, **context}
    record["product"]["associations"]["categories"] = [{"id": "2"}, {"id": "4"}, {"id": "9"}]
    assert ps.product_to_canonical(record).categories == ("Home", "Clothes > Men", "Art")
    del record["context"]["category_parents"]  # staged before parents were read: leaf names, as before
    assert ps.product_to_canonical(record).categories == ("Home", "Men", "Art")
