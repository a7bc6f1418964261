"""The shared field readers, and that WooCommerce and PrestaShop now read the same value the same way.

Failures prevented: a JSON float taken as money on one platform and refused on another (WooCommerce accepted
``"total": 26.1`` while PrestaShop and Shopify refused it), a float turned into a Decimal with binary noise, a list
or an object stored as its Python text in a hub column, a malformed field raising a bare ValueError that names no
field, and a time without offset silently read as UTC where the platform does not say it is UTC.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ecom_pipeline.platforms.errors import TransformError
from ecom_pipeline.platforms.prestashop import transform as ps
from ecom_pipeline.platforms.readers import Fields, record_id
from ecom_pipeline.platforms.woocommerce import transform as wc
from ecom_pipeline_tests.platforms.replay_server import RECORDINGS

F = Fields("order", "34")


def _woo_order() -> dict[str, Any]:
    import json

    body = json.loads((RECORDINGS / "orders-get-single.json").read_text())["response"]["body"]
    return copy.deepcopy(body)


PS_CONTEXT = {"timezone": "Europe/Paris", "language_id": 1, "currency": "EUR", "state": {"id": "2", "paid": "1"}}


def _ps_order(**fields: Any) -> dict[str, Any]:
    order = {
        "id": 5,
        "current_state": "2",
        "id_customer": "0",
        "reference": "XKBKNABJK",
        "total_paid_tax_incl": "61.800000",
        "total_paid_tax_excl": "51.500000",
        "total_products": "51.500000",
        "date_add": "2026-11-22 10:00:00",
        "date_upd": "2026-11-22 10:00:00",
        "associations": {"order_rows": []},
        **fields,
    }
    return {"order": order, "context": PS_CONTEXT}


# -- the readers --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [26.1, 0.1, 1.0, float("nan")])
def test_money_from_a_json_float_is_refused(value: float) -> None:
    with pytest.raises(TransformError) as caught:
        F.money("total", value)
    assert caught.value.field == "total" and "float cannot carry an exact amount" in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("23.900000", Decimal("23.900000")),
        ("-26.00", Decimal("-26.00")),
        (" 9.90 ", Decimal("9.90")),
        (12, Decimal(12)),
    ],
)
def test_money_from_text_or_int_is_exact(value: Any, expected: Decimal) -> None:
    assert F.money("total", value) == expected


@pytest.mark.parametrize("value", ["12,50", "NaN", "Infinity", "abc", True, [1], {"amount": "1"}])
def test_malformed_money_names_the_field(value: Any) -> None:
    with pytest.raises(TransformError, match="order 34: field 'total'"):
        F.money("total", value)


def test_missing_money_is_the_default_and_required_money_says_it_is_missing() -> None:
    assert F.money("total", "") is None and F.money("total", None, default=Decimal("0")) == Decimal("0")
    with pytest.raises(TransformError, match="required amount is missing"):
        F.required_money("total", None)


def test_a_documented_float_amount_is_read_from_its_shortest_text_not_its_binary_value() -> None:
    """0.1 as a float is 0.1000000000000000055...; PHP wrote "0.1", and that is what must be read."""
    assert F.money_from_json_number("price", 0.1) == Decimal("0.1")
    assert F.money_from_json_number("price", 26.1) == Decimal("26.1")
    assert F.money_from_json_number("price", "14.40") == Decimal("14.40")
    with pytest.raises(TransformError):
        F.money_from_json_number("price", float("inf"))


@pytest.mark.parametrize(("value", "expected"), [(3, 3), ("-3", -3), (" 7 ", 7), (2.0, 2), ("", None), (None, None)])
def test_integers(value: Any, expected: int | None) -> None:
    assert F.integer("quantity", value) == expected


@pytest.mark.parametrize("value", [2.5, True, "2.5", "lots", [1]])
def test_non_integers_are_refused(value: Any) -> None:
    with pytest.raises(TransformError, match="field 'quantity': expected an integer"):
        F.integer("quantity", value)


def test_negative_integer_is_refused_where_it_must_not_be() -> None:
    with pytest.raises(TransformError, match="non-negative"):
        F.integer("quantity", -1, non_negative=True)


@pytest.mark.parametrize("value", [[{"id": "1", "value": "Mug"}], {"a": 1}, ("x",)])
def test_a_list_or_object_where_text_belongs_is_a_transform_error_naming_the_field(value: Any) -> None:
    with pytest.raises(TransformError) as caught:
        F.text("billing.city", value)
    assert caught.value.field == "billing.city"


def test_text_email_and_flags() -> None:
    assert F.text("x", "  a  ") == "a" and F.text("x", "") is None and F.text("x", 12) == "12"
    assert F.text("x", " \t\n") is None and F.text("x", "é ") == "é"
    assert F.email("email", " Ann@Example.COM ") == "ann@example.com"
    assert [F.flag("f", v) for v in (True, 1, "1", "true", "Yes")] == [True] * 5
    assert [F.flag("f", v) for v in (False, 0, "0", "", None, "no", 2)] == [False] * 7


def test_times_become_utc_and_a_missing_offset_is_refused_unless_the_field_is_utc() -> None:
    expected = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)
    assert F.utc_time("t", "2026-11-22T00:00:00-05:00") == expected
    assert F.utc_time("t", "2026-11-22T05:00:00Z") == expected
    assert F.utc_time("t", "2026-11-22T05:00:00", naive_is_utc=True) == expected
    with pytest.raises(TransformError, match="without offset"):
        F.utc_time("t", "2026-11-22T05:00:00")
    with pytest.raises(TransformError, match="'22/11/2026'"):
        F.utc_time("t", "22/11/2026")
    with pytest.raises(TransformError, match="expected a date-time string"):
        F.utc_time("t", 1700000000)


@pytest.mark.parametrize(("value", "expected"), [(34, "34"), ("34", "34"), (" 034", "34")])
def test_record_ids_have_one_spelling(value: Any, expected: str) -> None:
    assert record_id("order", {"id": value}) == expected


@pytest.mark.parametrize("value", [None, "", 0, -3, "abc", True, 1.5])
def test_bad_record_ids_are_refused(value: Any) -> None:
    with pytest.raises(TransformError, match="order \\(no id\\): field 'id'"):
        record_id("order", {"id": value})


# -- the platforms parse alike ------------------------------------------------------------------------------------


def test_woocommerce_refuses_a_float_order_total_like_prestashop() -> None:
    """Before the shared readers, WooCommerce stored 26.1 (a float) as money while PrestaShop refused it."""
    order = _woo_order()
    order["total"] = 26.1
    with pytest.raises(TransformError) as woo:
        wc.order_to_canonical(order)
    with pytest.raises(TransformError) as presta:
        ps.order_to_canonical(_ps_order(total_paid_tax_incl=26.1))
    assert woo.value.field == "total" and presta.value.field == "total_paid_tax_incl"
    assert "float" in str(woo.value) and "float" in str(presta.value)


def test_woocommerce_line_price_float_is_read_from_its_exact_text() -> None:
    """The one float WooCommerce documents (line_items[].price) is still read, exactly, when it is needed."""
    order = _woo_order()
    line = order["line_items"][0]
    line.update(quantity=0, subtotal="0.00", total="0.00", price=26.1)
    canonical = wc.order_to_canonical(order)
    assert canonical.lines[0].unit_price == Decimal("26.1")


def test_woocommerce_refuses_an_object_where_a_name_belongs() -> None:
    """Before, WooCommerce stored ``{'first': 'Ann'}`` as the customer's first name (PrestaShop refused it)."""
    customer = {"id": 7, "email": "a@b.c", "first_name": {"first": "Ann"}}
    with pytest.raises(TransformError) as caught:
        wc.customer_to_canonical(customer)
    assert caught.value.field == "first_name" and caught.value.external_id == "7"


def test_prestashop_list_where_text_belongs_is_a_transform_error_naming_the_field() -> None:
    """Before, PrestaShop raised a bare ValueError here that named neither the record nor the field."""
    with pytest.raises(TransformError) as caught:
        ps.order_to_canonical(_ps_order(reference=["A", "B"]))
    assert caught.value.field == "reference" and caught.value.external_id == "5"


def test_both_platforms_read_whole_float_quantities_alike() -> None:
    """WooCommerce accepted a stock quantity of 3.0 and PrestaShop refused it; both now read 3."""
    product = {"id": 9, "name": "Mug", "type": "simple", "manage_stock": True, "stock_quantity": 3.0}
    assert wc.inventory_from_product({"product": product, "variations": []})[0].available == 3
    rows = [{"id_product": "9", "id_product_attribute": "0", "quantity": 3.0}]
    assert ps.inventory_to_canonical({"id_product": "9", "rows": rows})[0].available == 3
