"""hub_variants price columns on WooCommerce and Shopify: the flag says honestly whether ``price`` includes tax.

Failures prevented: a tax-excluded price presented as tax included (or the reverse), and a guessed
``price_tax_excl`` where the platform cannot tell it without the buyer's address.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from ecom_pipeline.platforms.shopify import transform as shopify
from ecom_pipeline.platforms.woocommerce import transform as woo
from ecom_pipeline_tests.platforms.replay_server import FIXTURES


def _woo_product(**changes: Any) -> dict[str, Any]:
    path = FIXTURES / "recorded" / "woocommerce-10.0.2" / "products-get-long-html.json"
    return {**json.loads(path.read_text())["response"]["body"], **changes}


def test_woocommerce_price_is_flagged_from_the_store_tax_setting() -> None:
    """Prevents NULL or wrong price_includes_tax when the extract staged woocommerce_prices_include_tax."""
    product = _woo_product(type="simple")
    (entered_with_tax,) = woo.product_to_canonical({"product": product, "prices_include_tax": True}).variants
    assert entered_with_tax.price_includes_tax is True and entered_with_tax.price_tax_excl is None
    (entered_without,) = woo.product_to_canonical({"product": product, "prices_include_tax": False}).variants
    assert entered_without.price_includes_tax is False
    assert entered_without.price_tax_excl == entered_without.price and isinstance(entered_without.price, Decimal)
    (unknown,) = woo.product_to_canonical({"product": product}).variants
    assert unknown.price_includes_tax is None and unknown.price_tax_excl is None


def test_woocommerce_untaxed_product_price_is_its_tax_excluded_price() -> None:
    """Prevents an untaxed product (tax_status none) from having an unknown tax-excluded price."""
    (variant,) = woo.product_to_canonical({"product": _woo_product(type="simple", tax_status="none")}).variants
    assert (variant.price_includes_tax, variant.price_tax_excl) == (False, variant.price)


def test_shopify_price_is_flagged_from_shop_taxes_included() -> None:
    """Prevents Shopify prices entered with tax being read as tax excluded (shop.taxesIncluded)."""
    node = {
        "id": "gid://shopify/Product/1", "legacyResourceId": "1", "title": "Mug", "status": "ACTIVE",
        "handle": "mug", "tags": [], "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z",
        "variants": {"nodes": [{"id": "gid://shopify/ProductVariant/2", "legacyResourceId": "2", "sku": "MUG",
                                "title": "Default", "price": "12.00", "position": 1, "selectedOptions": [],
                                "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"}]},
    }  # fmt: skip
    (included,) = shopify.product_to_canonical({"product": node, "currency": "EUR", "taxes_included": True}).variants
    assert (included.price, included.price_includes_tax, included.price_tax_excl) == (Decimal("12.00"), True, None)
    (excluded,) = shopify.product_to_canonical({"product": node, "currency": "USD", "taxes_included": False}).variants
    assert (excluded.price_includes_tax, excluded.price_tax_excl) == (False, Decimal("12.00"))
