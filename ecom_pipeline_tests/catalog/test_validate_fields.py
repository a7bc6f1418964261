"""Catalogue validation of the sale price and barcode columns (pure): bad values are refused with the reason, the
hub's own values import back, and a file without the new columns leaves them alone."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ecom_pipeline.catalog.columns import COLUMNS
from ecom_pipeline.catalog.validate import (
    HubProduct,
    HubState,
    HubVariant,
    check_sale_price,
    parse_barcode,
    validate,
)

BASE = {"handle": "mug", "title": "Mug", "status": "active", "sku": "MUG-1", "price": "10.00"}


def _hub(**values: Any) -> HubState:
    """The hub with product 1 ("mug") and its variant MUG-1 holding ``values``."""
    product = HubProduct(1, "mug", {"title": "Mug", "status": "active"}, False)
    return HubState(
        variants={"MUG-1": HubVariant(1, 1, "MUG-1", {"price": Decimal("10.00"), **values}, False)},
        products={1: product},
        products_by_handle={"mug": [1]},
    )


def _errors(cells: dict[str, str], hub: HubState | None = None, header: tuple[str, ...] = COLUMNS) -> list[str]:
    result = validate(header, [{**BASE, **cells}], hub or HubState())
    return [f"{e.column}: {e.reason}" for e in result.errors]


@pytest.mark.parametrize("text", ["4006381333931", "036000291452", "978-0-306-40615-7", "0-306-40615-X"])
def test_barcodes_of_digits_and_hyphens_are_accepted(text: str) -> None:
    """Prevents a valid GTIN/UPC/ISBN from being refused."""
    assert parse_barcode(text, None) == text


@pytest.mark.parametrize("text", ["ABC123", "12 34", "X123", "-123", "1" * 33])
def test_a_barcode_no_shop_can_hold_is_refused_but_the_hubs_own_imports_back(text: str) -> None:
    """Prevents pushing a barcode WooCommerce would strip (then it differs on every push) or PrestaShop refuses,
    while an export of a Shopify barcode (any text there) still imports back unchanged."""
    with pytest.raises(ValueError):
        parse_barcode(text, None)
    assert parse_barcode(text, text) == text


@pytest.mark.parametrize(
    ("cells", "problem"),
    [
        ({"sale_price": "12.00"}, "above the price"),
        ({"compare_at_price": "15.00", "sale_price": "9.00"}, "differs from the price"),
        ({"sale_price": "8.00"}, "no compare-at price"),
    ],
)
def test_a_sale_price_that_does_not_fit_the_price_is_refused_with_what_to_do(
    cells: dict[str, str], problem: str
) -> None:
    """Prevents a hub sale price a shop would apply differently (WooCommerce starts a sale without dates at once,
    so the shop and the hub would disagree on the price forever)."""
    errors = _errors(cells)
    assert len(errors) == 1 and errors[0].startswith("sale_price:") and problem in errors[0], errors


def test_a_consistent_sale_and_the_hubs_scheduled_sale_are_accepted() -> None:
    """Prevents refusing a sale in force (sale price = price, compare-at above) or an export of a shop's scheduled
    sale (kept by the hub as pulled)."""
    assert _errors({"compare_at_price": "15.00", "sale_price": "10.00"}) == []
    assert _errors({"sale_price": "8.00"}, _hub(sale_price=Decimal("8.00"))) == []
    current: dict[str, Any] = {"sale_price": Decimal("8.00")}
    values = {"price": Decimal("10"), "compare_at_price": None, "sale_price": Decimal("8.00")}
    assert check_sale_price(values, current) is None


def test_a_file_without_the_new_columns_keeps_the_hubs_barcode_and_sale_price() -> None:
    """Prevents an export made before these columns existed from clearing every barcode when imported again."""
    hub = _hub(barcode="4006381333931", sale_price=Decimal("9.00"))
    header = tuple(c for c in COLUMNS if c not in ("barcode", "sale_price"))
    result = validate(header, [BASE], hub)
    assert result.errors == []
    values = result.groups[0].rows[0].values
    assert (values["barcode"], values["sale_price"]) == ("4006381333931", Decimal("9.00"))
