"""The export plan (pure) for Shopify's vendor and product type: only a writer that names them plans them, and the
WooCommerce kind (simple/variable) never comes from Shopify's free-text type."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from ecom_pipeline.platforms.prestashop.writer import PUSH_FIELDS as PRESTASHOP_FIELDS
from ecom_pipeline.platforms.shopify.writer import PUSH_FIELDS as SHOPIFY_FIELDS
from ecom_pipeline.platforms.shopify.writer import create_input
from ecom_pipeline.platforms.woocommerce.writer import PUSH_FIELDS as WOOCOMMERCE_FIELDS
from ecom_pipeline.sync.export import plan_export
from ecom_pipeline.sync.policies import SettingsError, SyncSettings, parse_policy

PUSH = SyncSettings.from_settings({"sync_direction": "push"})
BASE = {"title": "Mug", "description": None, "status": "active", "vendor": "Acme", "shopify_product_type": "Mugs"}


def _product(**kw: Any) -> SimpleNamespace:
    values = {"id": 1, "handle": "mug", "title": "Mug", "description": None, "status": "active",
              "product_type": None, "vendor": "Acme", "shopify_product_type": "Mugs", "tags": [], "categories": [],
              "deleted_at": None}  # fmt: skip
    return SimpleNamespace(**{**values, **kw})


def _variants() -> list[SimpleNamespace]:
    return [SimpleNamespace(id=10, product_id=1, sku="MUG-1", price=Decimal("8"), compare_at_price=None,
                            sale_price=None, barcode=None, weight=None, options={}, position=None,
                            deleted_at=None)]  # fmt: skip


def _plan(fields: frozenset[str], product: SimpleNamespace, linked: bool) -> Any:
    links = {1: SimpleNamespace(external_id="501", external_parent_id=None, base_snapshot=BASE)} if linked else {}
    return plan_export(integration_id=1, platform="x", settings=PUSH, products=[product], variants=_variants(),
                       product_links=links, variant_links={}, push_fields=fields)  # fmt: skip


@pytest.mark.parametrize("fields", [WOOCOMMERCE_FIELDS, PRESTASHOP_FIELDS], ids=["woocommerce", "prestashop"])
def test_woocommerce_and_prestashop_never_get_shopify_vendor_or_type(fields: frozenset[str]) -> None:
    """Prevents Shopify's type ("Mugs") reaching WooCommerce as a product kind, or a vendor edit planned for a shop
    that has no place for it (an update the writer could never close, planned on every push)."""
    create = _plan(fields, _product(vendor="Acme", shopify_product_type="Mugs"), linked=False).creates[0]
    assert create.kind == "simple"  # from the variants: "Mugs" is not a kind
    assert "vendor" not in create.values and "shopify_product_type" not in create.values
    edited = _plan(fields, _product(vendor="Other", shopify_product_type="Cups"), linked=True)
    assert edited.updates == [] and edited.unchanged == 1


def test_shopify_gets_a_changed_vendor_and_type_and_a_create_carries_them() -> None:
    """Prevents a hub edit of vendor or type not reaching Shopify, and a create without them."""
    edited = _plan(SHOPIFY_FIELDS, _product(vendor="Other", shopify_product_type="Cups"), linked=True)
    [update] = edited.updates
    assert dict(update.changes) == {"vendor": ("Acme", "Other"), "shopify_product_type": ("Mugs", "Cups")}
    create = _plan(SHOPIFY_FIELDS, _product(product_type="variable"), linked=False).creates[0]
    body = create_input(create)
    assert (body["vendor"], body["productType"]) == ("Acme", "Mugs")  # the kind never goes to Shopify
    assert _plan(SHOPIFY_FIELDS, _product(), linked=True).updates == []


def test_vendor_and_type_take_a_policy_and_a_type_listing_rule_matches_shopifys_type() -> None:
    """Prevents the new fields escaping the per-field policies, and a `type:` rule written for Shopify types (which
    lived in product_type before migration 0014) from no longer matching."""
    assert parse_policy("vendor=hub")[0] == "vendor"
    assert parse_policy("shopify_product_type=shop")[0] == "shopify_product_type"
    assert PUSH.policies["vendor"].value == "newest"
    with pytest.raises(SettingsError):
        parse_policy("product_type=hub")
    only_mugs = SyncSettings.from_settings({"sync_direction": "push", "listing_include": ["type:mug*"]})
    plan = plan_export(integration_id=1, platform="x", settings=only_mugs, products=[_product()], variants=_variants(),
                       product_links={}, variant_links={}, push_fields=SHOPIFY_FIELDS)  # fmt: skip
    assert len(plan.creates) == 1
    by_vendor = SyncSettings.from_settings({"sync_direction": "push", "listing_exclude": ["vendor:acme"]})
    plan = plan_export(integration_id=1, platform="x", settings=by_vendor, products=[_product()], variants=_variants(),
                       product_links={}, variant_links={}, push_fields=SHOPIFY_FIELDS)  # fmt: skip
    assert plan.creates == []
