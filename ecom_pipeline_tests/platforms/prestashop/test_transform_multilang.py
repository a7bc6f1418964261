"""PrestaShop transform on the recordings of the real TWO-language shop (prestashop-8.2.1-multilang).

Failures prevented: the Python text of a language list stored as an order status or a name, category ids where
names belong, a tax-excluded price presented as the price a buyer pays, orders without e-mail, customers
without phone, city or country.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from ecom_pipeline.platforms.errors import TransformError
from ecom_pipeline.platforms.prestashop import transform as ps
from ecom_pipeline_tests.platforms.replay_server import FIXTURES

MULTILANG = FIXTURES / "recorded" / "prestashop-8.2.1-multilang"
CTX = {"timezone": "Europe/Paris", "language_id": 1, "currency": "EUR"}


def body(name: str) -> Any:
    return json.loads((MULTILANG / name).read_text())["response"]["body"]


def _state(state_id: int) -> dict[str, Any]:
    return next(s for s in body("order-states-list-full.json")["order_states"] if s["id"] == state_id)


@pytest.mark.parametrize("language_id", [1, 2])
def test_order_status_of_a_two_language_shop_is_the_state_name_not_a_list(language_id: int) -> None:
    """Prevents "[{'id': '1', 'value': 'Shipped'}, ...]" as hub_orders.status on a shop with two languages."""
    order = body("orders-get-single.json")["order"]
    context = {**CTX, "language_id": language_id, "state": _state(4)}
    result = ps.order_to_canonical({"order": order, "context": context})
    assert result.status == "Shipped"
    assert (result.financial_status, result.fulfillment_status) == ("paid", "fulfilled")


def test_a_list_in_a_plain_text_field_is_rejected_not_stored_as_python_text() -> None:
    """Prevents any other list-valued field from reaching the hub as its Python repr."""
    order = {**body("orders-get-single.json")["order"], "reference": [{"id": "1", "value": "X"}]}
    with pytest.raises(ValueError, match="expected text"):
        ps.order_to_canonical({"order": order, "context": {**CTX, "state": _state(4)}})


def _product_record(language_id: int, **context: Any) -> dict[str, Any]:
    product = body("products-get-single-with-combinations.json")["product"]
    combinations = body("combinations-list-for-product.json")["combinations"]
    names = {str(c["id"]): c["name"] for c in body("categories-list-names.json")["categories"]}
    ids = [c["id"] for c in product["associations"]["categories"]]
    return {
        "product": product,
        "combinations": combinations,
        "context": {
            **CTX,
            "language_id": language_id,
            "categories": {i: names[i] for i in ids if i in names},
            **context,
        },
    }


def test_product_name_and_categories_are_read_in_the_integration_language() -> None:
    """Prevents English-only names on a French integration, and category ids instead of names."""
    english = ps.product_to_canonical(_product_record(1))
    french = ps.product_to_canonical(_product_record(2))
    assert not english.title.endswith(" FR")
    assert french.title == english.title + " FR"
    assert all(not c.isdigit() for c in english.categories), english.categories
    product = body("products-get-single-with-combinations.json")["product"]
    category_ids = [c["id"] for c in product["associations"]["categories"]]
    names = {str(c["id"]): c["name"] for c in body("categories-list-names.json")["categories"]}
    expected_fr = tuple(dict.fromkeys(next(v["value"] for v in names[i] if v["id"] == "2") for i in category_ids))
    assert french.categories == expected_fr


def test_prices_are_what_the_buyer_pays_with_the_tax_excluded_price_beside() -> None:
    """Prevents PrestaShop's stored tax-excluded price being read as the selling price (docs: price = buyer's)."""
    recorded = body("products-get-price-after-specific-price.json")["products"][0]
    prices = {
        "316-226": {"final": recorded["final"], "final_ht": recorded["final_ht"],
                    "final_no_reduction": recorded["final_no_reduction"]},
    }  # fmt: skip
    product = ps.product_to_canonical(_product_record(1, prices=prices))
    default = next(v for v in product.variants if v.external_id == "316-226")
    assert default.price == Decimal("151.260000")  # 168.0671 x 0.9, tax included, reduction applied
    assert default.price_tax_excl == Decimal("126.050000")
    assert default.compare_at_price == Decimal("168.070000")  # before the 10 % reduction
    assert default.price_includes_tax is True
    other = next(v for v in product.variants if v.external_id != "316-226")
    # Without the shop's computed price the stored one is kept, and flagged as tax excluded.
    assert other.price == other.price_tax_excl and other.price_includes_tax is False


def test_order_email_comes_from_the_customer_the_extract_read() -> None:
    """Prevents NULL hub_orders.email for every PrestaShop order (the e-mail lives on the customer)."""
    order = body("orders-get-single.json")["order"]
    customer = body("customers-get-single-for-order.json")["customer"]
    context = {**CTX, "state": _state(4), "email": customer["email"].upper()}
    assert ps.order_to_canonical({"order": order, "context": context}).email == "lea.dubois19@example.test"


def test_customer_gets_phone_city_and_country_from_the_address() -> None:
    """Prevents customers without phone, city and country (they live on addresses and countries)."""
    customer = body("customers-get-single-for-order.json")["customer"]
    address = body("addresses-get-single.json")["address"]
    country = body("countries-get-single.json")["country"]
    context = {
        **CTX,
        "address": {"phone": address["phone"], "city": address["city"], "country_iso": country["iso_code"]},
    }
    result = ps.customer_to_canonical({"customer": customer, "context": context})
    assert (result.phone, result.city, result.country) == (address["phone"], "Paris", "FR")
    assert result.email == "lea.dubois19@example.test"


def test_a_country_that_is_not_an_iso_code_is_rejected() -> None:
    """Prevents a country name or id landing in the two-letter hub column."""
    customer = body("customers-get-single-for-order.json")["customer"]
    with pytest.raises(TransformError, match="country_iso"):
        ps.customer_to_canonical({"customer": customer, "context": {**CTX, "address": {"country_iso": "France"}}})


def test_order_lines_are_rounded_per_line_as_the_shop_does_and_add_up_to_its_totals() -> None:
    """Prevents line totals and taxes computed unrounded (85.854367 x 1: tax 4.72 where the shop says 4.73), lines
    that do not add up to the order's total_products."""
    order = body("orders-get-single.json")["order"]  # round_type 2 (per line), round_mode 2 (half up)
    result = ps.order_to_canonical({"order": order, "context": {**CTX, "state": _state(4)}})
    by_id = {line.external_id: line for line in result.lines}
    assert (by_id["9"].unit_price, by_id["9"].total, by_id["9"].tax) == (
        Decimal("85.854367"), Decimal("85.85"), Decimal("4.73")
    )  # fmt: skip
    assert (by_id["8"].total, by_id["8"].tax) == (Decimal("147.00"), Decimal("29.40"))
    assert sum(line.total or 0 for line in result.lines) == Decimal(order["total_products"])
    assert sum((line.total or 0) + (line.tax or 0) for line in result.lines) == Decimal(order["total_products_wt"])
    # The shop's own per-line totals (order_details carries them) are taken as they are.
    rows = order["associations"]["order_rows"]
    shop_totals = [{**rows[0], "total_price_tax_excl": "147.010000", "total_price_tax_incl": "176.420000"}, rows[1]]
    order = {**order, "associations": {"order_rows": shop_totals}}
    first = ps.order_to_canonical({"order": order, "context": {**CTX, "state": _state(4)}}).lines[0]
    assert (first.total, first.tax) == (Decimal("147.010000"), Decimal("29.410000"))
    # Per item (round_type 1): the unit prices rounded first.
    item = {**order, "round_type": "1", "associations": {"order_rows": [{**rows[1], "product_quantity": "3"}]}}
    [line] = ps.order_to_canonical({"order": item, "context": {**CTX, "state": _state(4)}}).lines
    assert (line.total, line.tax) == (Decimal("257.55"), Decimal("14.19"))
