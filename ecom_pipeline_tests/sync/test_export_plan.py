"""The export plan (pure): what a push would send to one shop, from hub rows and the links' base snapshots."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from ecom_pipeline.platforms.prestashop.writer import PUSH_FIELDS as PRESTASHOP_FIELDS
from ecom_pipeline.platforms.shopify.writer import PUSH_FIELDS as SHOPIFY_FIELDS
from ecom_pipeline.platforms.woocommerce.writer import PUSH_FIELDS as WOOCOMMERCE_FIELDS
from ecom_pipeline.sync.export import ALL_PUSH_FIELDS, plan_export, push_fields_for
from ecom_pipeline.sync.policies import SyncSettings

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _product(pid: int, handle: str, **kw: Any) -> SimpleNamespace:
    values = {"title": handle.title(), "description": None, "status": "active", "product_type": None, "tags": [],
              "categories": [], "deleted_at": None}  # fmt: skip
    return SimpleNamespace(id=pid, handle=handle, **{**values, **kw})


def _variant(vid: int, pid: int, sku: str, price: str, **kw: Any) -> SimpleNamespace:
    values = {"compare_at_price": None, "sale_price": None, "barcode": None, "weight": None, "options": {},
              "position": None, "deleted_at": None}  # fmt: skip
    return SimpleNamespace(id=vid, product_id=pid, sku=sku, price=Decimal(price), **{**values, **kw})


def _link(ext: str, snapshot: dict[str, Any], parent: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(external_id=ext, external_parent_id=parent, base_snapshot=snapshot)


def _plan(settings: dict[str, Any], products: list[Any], variants: list[Any], plinks: dict[int, Any],
          vlinks: dict[int, Any], held: dict[tuple[str, int], set[str]] | None = None,
          push_fields: frozenset[str] = ALL_PUSH_FIELDS) -> Any:  # fmt: skip
    return plan_export(
        integration_id=1,
        platform="woocommerce",
        settings=SyncSettings.from_settings(settings),
        products=products,
        variants=variants,
        product_links=plinks,
        variant_links=vlinks,
        held=held,
        push_fields=push_fields,
    )


PUSH = {"sync_direction": "push"}
MUG_BASE = {"title": "Mug", "description": None, "status": "active"}
MUG_VBASE = {"sku": "MUG-1", "price": "8.00", "compare_at_price": None, "weight": None}


def test_a_pull_shop_gets_an_empty_plan_whatever_the_hub_has() -> None:
    """Prevents pushing to a shop the merchant connected pull-only (the default)."""
    plan = _plan({}, [_product(1, "mug")], [_variant(10, 1, "MUG-1", "8")], {}, {})
    assert plan.is_empty


def test_unlinked_products_are_creates_and_linked_equal_ones_are_unchanged() -> None:
    """Prevents a no-change push from sending anything, and a new hub product from being missed."""
    products = [_product(1, "mug"), _product(2, "tee")]
    variants = [_variant(10, 1, "MUG-1", "8.00"), _variant(20, 2, "TEE-S", "19.90", options={"Size": "S"})]
    plan = _plan(PUSH, products, variants, {1: _link("501", MUG_BASE)}, {10: _link("501", MUG_VBASE, "501")})
    assert [(c.handle, c.kind, [v.sku for v in c.variants]) for c in plan.creates] == [("tee", "variable", ["TEE-S"])]
    assert not plan.updates and not plan.deletes and plan.unchanged == 2
    # The live links, for a writer never to take a linked record for a lost create's late one.
    assert plan.linked_products == {"501": 1} and plan.linked_variants == {"501": 10}


def test_only_the_changed_field_is_an_update_compared_as_money_not_text() -> None:
    """Prevents "8" vs "8.00" counting as a change (every run would push) and a price edit being missed."""
    same = _plan(PUSH, [_product(1, "mug")], [_variant(10, 1, "MUG-1", "8")], {1: _link("501", MUG_BASE)},
                 {10: _link("501", MUG_VBASE, "501")})  # fmt: skip
    assert same.is_empty
    edited = _plan(PUSH, [_product(1, "mug")], [_variant(10, 1, "MUG-1", "9.50")], {1: _link("501", MUG_BASE)},
                   {10: _link("501", MUG_VBASE, "501")})  # fmt: skip
    assert [(u.entity, dict(u.changes)) for u in edited.updates] == [
        ("variant", {"price": (Decimal("8.00"), Decimal("9.50"))})
    ]
    assert edited.updates[0].is_simple_variant


def test_the_price_rule_is_applied_before_comparing_with_the_base() -> None:
    """Prevents a +10% shop from being re-pushed on every run (base 8.80 is what the rule gives for 8.00)."""
    base = {**MUG_VBASE, "price": "8.80"}
    plan = _plan({**PUSH, "price_rule": "+10%"}, [_product(1, "mug")], [_variant(10, 1, "MUG-1", "8.00")],
                 {1: _link("501", MUG_BASE)}, {10: _link("501", base, "501")})  # fmt: skip
    assert plan.is_empty


def test_a_deleted_hub_product_becomes_a_draft_and_archived_is_a_draft_in_woocommerce() -> None:
    """Prevents a hub delete from deleting the shop's product outright, and an archived product (a draft in
    WooCommerce, which has no archived state) from being pushed again on every run."""
    deleted = _plan(PUSH, [_product(1, "mug", deleted_at=NOW)], [_variant(10, 1, "MUG-1", "8.00")],
                    {1: _link("501", MUG_BASE)}, {10: _link("501", MUG_VBASE, "501")})  # fmt: skip
    assert [(d.external_id, dict(d.changes)) for d in deleted.deletes] == [("501", {"status": ("active", "draft")})]
    draft_base = {**MUG_BASE, "status": "draft"}
    archived = _plan(PUSH, [_product(1, "mug", status="archived")], [_variant(10, 1, "MUG-1", "8.00")],
                     {1: _link("501", draft_base)}, {10: _link("501", MUG_VBASE, "501")})  # fmt: skip
    assert archived.is_empty


def test_listing_rules_and_held_conflicts_keep_things_out_of_the_plan() -> None:
    """Prevents pushing a product the shop does not list, and a field a person has yet to decide (held)."""
    products = [_product(1, "mug"), _product(2, "old-tee")]
    variants = [_variant(10, 1, "MUG-1", "9.00"), _variant(20, 2, "OLD-1", "5")]
    plan = _plan({**PUSH, "listing_exclude": ["handle:old-*"]}, products, variants, {1: _link("501", MUG_BASE)},
                 {10: _link("501", MUG_VBASE, "501")}, held={("variant", 10): {"price"}})  # fmt: skip
    assert plan.is_empty


TEE_BASE = {"title": "Tee", "description": None, "status": "active"}


def _tee(deleted: set[int], *, held: dict[tuple[str, int], set[str]] | None = None, settings: dict[str, Any] = PUSH,
         linked: tuple[int, ...] = (20, 21)) -> Any:  # fmt: skip
    variants = [
        _variant(vid, 2, f"TEE-{size}", "19.90", options={"Size": size}, deleted_at=NOW if vid in deleted else None)
        for vid, size in ((20, "S"), (21, "M"))
    ]
    vlinks = {
        vid: SimpleNamespace(
            external_id=str(700 + vid), external_parent_id="601", sku=f"TEE-{size}",
            base_snapshot={"sku": f"TEE-{size}", "price": "19.90", "compare_at_price": None, "weight": None,
                           "options": {"Size": size}},
        )
        for vid, size in ((20, "S"), (21, "M"))
        if vid in linked
    }  # fmt: skip
    return _plan(settings, [_product(2, "tee")], variants, {2: _link("601", TEE_BASE)}, vlinks, held)


def test_a_hub_variant_deleted_under_a_live_product_is_a_variant_delete_once() -> None:
    """Prevents a variant deleted in the hub from staying on sale in the shop, and from being deleted again once
    its link is tombstoned (no link: nothing planned)."""
    plan = _tee({20})
    assert [(d.external_id, d.product_external_id, d.hub_id, d.sku) for d in plan.variant_deletes] == [
        ("720", "601", 20, "TEE-S")
    ]
    assert not plan.creates and not plan.variant_creates and not plan.updates and not plan.deletes
    assert ("delete", "variant", "TEE-S", "removed from 601") in plan.rows()
    assert _tee({20}, linked=(21,)).is_empty


def test_variant_deletes_are_held_kept_for_a_pull_shop_and_never_remove_the_last_variant() -> None:
    """Prevents deleting a variant a person has yet to decide about, pushing to a pull shop, and leaving a product
    with no variant at all (no platform sells one: the product is archived instead)."""
    assert _tee({20}, held={("variant", 20): {"variants"}}).is_empty
    assert _tee({20}, settings={"sync_direction": "pull"}).is_empty
    assert _tee({20, 21}).is_empty
    assert len(_tee({20}, settings={"sync_direction": "bidirectional"}).variant_deletes) == 1


def test_a_held_variants_conflict_keeps_a_variant_the_shop_removed_from_being_created_again() -> None:
    """Prevents a push from putting back a variant the shop removed while the hub edited it, before a person
    decided (the conflict is held on the variant's ``variants`` field)."""
    assert [vc.variant.sku for vc in _tee(set(), linked=(21,)).variant_creates] == ["TEE-S"]
    assert _tee(set(), linked=(21,), held={("variant", 20): {"variants"}}).is_empty


def test_a_field_the_platform_does_not_take_is_never_planned_so_no_update_row_repeats_forever() -> None:
    """Prevents a perpetual "update" row: a hub sale price (Shopify has none) or compare-at price (PrestaShop keeps
    it as a specific price) differs from the shop's empty value on every run, and the writer cannot close it."""
    base = {**MUG_VBASE, "compare_at_price": None, "sale_price": None, "barcode": None, "weight": None}
    hub = [_variant(10, 1, "MUG-1", "8.00", sale_price=Decimal("7.00"), compare_at_price=Decimal("9.00"),
                    barcode="4006381333931", weight="0.35")]  # fmt: skip
    links = ({1: _link("501", MUG_BASE)}, {10: _link("501", base, "501")})
    planned = {
        name: dict(_plan(PUSH, [_product(1, "mug")], hub, *links, push_fields=fields).updates[0].changes)
        for name, fields in (("woocommerce", WOOCOMMERCE_FIELDS), ("shopify", SHOPIFY_FIELDS),
                             ("prestashop", PRESTASHOP_FIELDS))
    }  # fmt: skip
    # While a sale is in force (compare-at above the price) the sale price is the price, whatever the column holds.
    assert planned["woocommerce"] == {
        "compare_at_price": (None, Decimal("9.00")),
        "sale_price": (None, Decimal("8.00")),
        "barcode": (None, "4006381333931"),
        "weight": (None, "0.35"),
    }
    assert set(planned["shopify"]) == {"compare_at_price", "barcode", "weight"}
    assert set(planned["prestashop"]) == {"barcode", "weight"}
    only_sale = [_variant(10, 1, "MUG-1", "8.00", sale_price=Decimal("7.00"))]
    assert _plan(PUSH, [_product(1, "mug")], only_sale, *links, push_fields=SHOPIFY_FIELDS).is_empty
    assert [dict(u.changes) for u in _plan(PUSH, [_product(1, "mug")], only_sale, *links).updates] == [
        {"sale_price": (None, Decimal("7.00"))}
    ]


def test_each_platforms_push_fields_come_from_its_registered_writer() -> None:
    """Prevents load_plan from planning with every field for a platform whose writer takes fewer."""
    assert push_fields_for("woocommerce") == WOOCOMMERCE_FIELDS == ALL_PUSH_FIELDS | {"categories", "tags"}
    assert {"categories", "tags"} <= PRESTASHOP_FIELDS  # categories.py, tags.py
    assert push_fields_for("shopify") == SHOPIFY_FIELDS and "sale_price" not in SHOPIFY_FIELDS
    assert "tags" in SHOPIFY_FIELDS and "categories" not in SHOPIFY_FIELDS  # Shopify has no categories
    assert push_fields_for("prestashop") == PRESTASHOP_FIELDS
    assert not {"compare_at_price", "sale_price"} & PRESTASHOP_FIELDS


@pytest.mark.parametrize(
    ("hub", "base", "planned"),
    [
        (["Mugs & Cups", "Kitchen"], ["kitchen", "Mugs &amp; Cups"], None),  # the shop's escaped names, own order
        (["Kitchen", "Gifts"], ["Kitchen"], (["Kitchen"], ["Kitchen", "Gifts"])),
        (["Kitchen"], ["Kitchen", "Gifts"], (["Kitchen", "Gifts"], ["Kitchen"])),
        ([], ["Kitchen"], None),  # a hub without categories (first read from Shopify) strips nothing
        (["Kitchen > Mugs"], ["Mugs"], None),  # a nested path agrees with the leaf name the shop answers
        (["Kitchen > Mugs"], ["Kitchen"], (["Kitchen"], ["Kitchen > Mugs"])),
        (["B > Mugs"], ["A > Mugs"], (["A > Mugs"], ["B > Mugs"])),  # a hub move to another parent: pushed
        (["A > Mugs", "B > Mugs"], ["A > Mugs"], (["A > Mugs"], ["A > Mugs", "B > Mugs"])),
        (["Kitchen > Mugs &amp; Cups"], ["kitchen >  mugs & cups"], None),  # paths without escapes, case, spaces
    ],
)
def test_a_linked_products_categories_are_planned_only_when_the_hubs_names_differ(
    hub: list[str], base: list[str], planned: tuple[list[str], list[str]] | None
) -> None:
    """Prevents a category update on every push (WordPress answers `&amp;` and its own order) and a shop's
    categories being cleared by a hub product that never had any; only a writer naming `categories` gets it."""
    products = [_product(1, "mug", categories=hub)]
    variants = [_variant(10, 1, "MUG-1", "8.00")]
    links = ({1: _link("501", {**MUG_BASE, "categories": base})}, {10: _link("501", MUG_VBASE, "501")})
    plan = _plan(PUSH, products, variants, *links, push_fields=WOOCOMMERCE_FIELDS)
    changes = [dict(u.changes) for u in plan.updates]
    assert changes == ([] if planned is None else [{"categories": planned}])
    assert _plan(PUSH, products, variants, *links, push_fields=SHOPIFY_FIELDS).updates == []


@pytest.mark.parametrize(
    ("hub", "base", "planned"),
    [
        (["Mugs & Cups", "gift"], ["Gift", "Mugs &amp; Cups"], None),  # case, escapes and order aside
        (["gift", "sale"], ["gift"], (["gift"], ["gift", "sale"])),
        (["a > b"], ["b"], (["b"], ["a > b"])),  # a ">" is part of a tag's name (tags are not nested)
        ([], ["gift"], None),  # a hub without tags strips nothing
    ],
)
def test_a_linked_products_tags_are_planned_only_when_the_hubs_names_differ(
    hub: list[str], base: list[str], planned: tuple[list[str], list[str]] | None
) -> None:
    """Prevents tags written on create only, a tag update on every push, and a shop's tags cleared by a hub product
    without any; only a writer naming `tags` (WooCommerce, Shopify, PrestaShop) gets it."""
    products = [_product(1, "mug", tags=hub)]
    variants = [_variant(10, 1, "MUG-1", "8.00")]
    links = ({1: _link("501", {**MUG_BASE, "tags": base})}, {10: _link("501", MUG_VBASE, "501")})
    plan = _plan(PUSH, products, variants, *links, push_fields=WOOCOMMERCE_FIELDS)
    assert [dict(u.changes) for u in plan.updates] == ([] if planned is None else [{"tags": planned}])
    shopify = _plan(PUSH, products, variants, *links, push_fields=SHOPIFY_FIELDS)
    assert [dict(u.changes) for u in shopify.updates] == ([] if planned is None else [{"tags": planned}])
    prestashop = _plan(PUSH, products, variants, *links, push_fields=PRESTASHOP_FIELDS)
    assert [dict(u.changes) for u in prestashop.updates] == ([] if planned is None else [{"tags": planned}])
