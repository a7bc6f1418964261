"""The issue-10 fields per platform (pure): weight, barcode and sale price read from each shop's payload, and the
payload each writer sends for them, so a value pushed reads back the same (else it would be pushed every run)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import Element, SubElement

import pytest

from ecom_pipeline.platforms.errors import TransformError
from ecom_pipeline.platforms.prestashop import writer as ps_writer
from ecom_pipeline.platforms.prestashop.transform import read_barcode
from ecom_pipeline.platforms.readers import Fields
from ecom_pipeline.platforms.shopify import transform as shopify
from ecom_pipeline.platforms.shopify import writer as shopify_writer
from ecom_pipeline.platforms.woocommerce import transform as woo
from ecom_pipeline.platforms.woocommerce.writer import variant_fields
from ecom_pipeline_tests.platforms.shopify.conftest import product_node, variant_node


def _measured(value: Any, unit: str) -> dict[str, Any]:
    return {"id": "gid://shopify/InventoryItem/9", "legacyResourceId": "9", "tracked": True,
            "measurement": {"weight": {"value": value, "unit": unit}}}  # fmt: skip


@pytest.mark.parametrize(
    ("value", "unit", "kg"),
    [(0.35, "KILOGRAMS", "0.35"), (250, "GRAMS", "0.25"), (1.25, "POUNDS", "0.56699"), (16, "OUNCES", "0.453592"),
     (0.0, "KILOGRAMS", None), (2, "KILOGRAMS", "2")],
)  # fmt: skip
def test_shopify_weight_is_read_from_the_measurement_in_kilograms(value: Any, unit: str, kg: str | None) -> None:
    """Prevents a weight in grams or pounds from reaching the hub as kilograms (1 lb is not 1 kg), and a 0 weight
    (Shopify's "none") from differing from the other shops' empty weight."""
    node = product_node(1, [variant_node(1, "A", barcode="4006381333931", inventoryItem=_measured(value, unit))])
    variant = shopify.product_to_canonical({"product": node}).variants[0]
    assert (variant.weight, variant.barcode) == (kg, "4006381333931")


def test_shopify_bad_weight_unit_is_refused_naming_the_field() -> None:
    """Prevents an unknown unit from being read as kilograms."""
    node = product_node(1, [variant_node(1, "A", inventoryItem=_measured(1, "STONES"))])
    with pytest.raises(TransformError, match="unit"):
        shopify.product_to_canonical({"product": node})


def test_shopify_sale_price_is_the_price_only_while_a_compare_at_is_above_it() -> None:
    """Prevents a hub sale price that disagrees with a WooCommerce shop pushed from the same catalogue."""
    on_sale = variant_node(1, "A", "8.00", compareAtPrice="10.00")
    plain = variant_node(2, "B", "8.00", position=2, compareAtPrice="8.00")
    variants = shopify.product_to_canonical({"product": product_node(1, [on_sale, plain])}).variants
    assert [v.sale_price for v in variants] == [Decimal("8.00"), None]


def test_shopify_writer_sends_weight_in_kilograms_and_the_barcode() -> None:
    """Prevents the weight from being sent in a unit the pull reads differently (a perpetual update)."""
    body = shopify_writer.variant_input({"weight": "0.35", "barcode": None, "sku": "A"}, ("weight", "barcode", "sku"))
    assert body == {
        "barcode": "",
        "inventoryItem": {"sku": "A", "measurement": {"weight": {"value": 0.35, "unit": "KILOGRAMS"}}},
    }
    assert shopify_writer.weight_input(None) == {"weight": {"value": 0.0, "unit": "KILOGRAMS"}}


def test_woocommerce_reads_global_unique_id_and_its_own_sale_price() -> None:
    """Prevents the barcode and a scheduled sale (sale price kept, not in force: the price is the regular one) from
    being lost on the pull."""
    product = {"id": 7, "type": "simple", "name": "Mug", "status": "publish", "sku": "MUG", "price": "8.00",
               "regular_price": "8.00", "sale_price": "6.00", "on_sale": False, "global_unique_id": "4006381333931",
               "date_created_gmt": "2026-01-01T00:00:00", "date_modified_gmt": "2026-01-02T00:00:00"}  # fmt: skip
    variant = woo.product_to_canonical({"product": product}).variants[0]
    assert (variant.price, variant.compare_at_price, variant.sale_price, variant.barcode) == (
        Decimal("8.00"), None, Decimal("6.00"), "4006381333931",
    )  # fmt: skip


def test_woocommerce_writer_sends_the_three_prices_together() -> None:
    """Prevents a price edit from leaving a stale sale price in the shop (WooCommerce would keep selling at it)."""
    on_sale = {"price": Decimal("8"), "compare_at_price": Decimal("10"), "sale_price": Decimal("8")}
    assert variant_fields(on_sale, ("price",)) == {"regular_price": "10", "sale_price": "8"}
    scheduled = {"price": Decimal("10"), "compare_at_price": None, "sale_price": Decimal("7")}
    assert variant_fields(scheduled, ("sale_price",)) == {"regular_price": "10", "sale_price": "7"}
    assert variant_fields({"barcode": None}, ("barcode",)) == {"global_unique_id": ""}


@pytest.mark.parametrize(
    ("barcode", "fields"),
    [
        ("96385074", {"ean13": "96385074"}),
        ("4006381333931", {"ean13": "4006381333931"}),
        ("036000291452", {"ean13": "", "upc": "036000291452"}),
        ("978-0-306-40615-7", {"ean13": "", "upc": "", "isbn": "978-0-306-40615-7"}),
        ("12345", {"ean13": "", "upc": "", "isbn": "12345"}),
        (None, {"ean13": "", "upc": "", "isbn": ""}),
    ],
)
def test_prestashop_barcode_goes_where_the_pull_reads_it_first(barcode: str | None, fields: dict[str, str]) -> None:
    """Prevents a barcode written to upc/isbn while an old ean13 (read first) hides it: pushed on every run."""
    assert ps_writer.barcode_fields(barcode) == fields
    record = Element("product")
    for name, text in {"ean13": "5901234123457", "upc": "", "isbn": "0-306"}.items():
        SubElement(record, name).text = text
    ps_writer.apply_product_changes(record, {"barcode": barcode}, ("barcode",), ps_writer._Shop({}))
    read = {name: (record.find(name).text or "") for name in ("ean13", "upc", "isbn")}  # type: ignore[union-attr]
    assert read_barcode(Fields("product", "1"), "product", read) == barcode
