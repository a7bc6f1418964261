"""Nested category paths compared between hub and shop readings (``sync.category_paths``).

Failures prevented: a leaf-only reading (a WooCommerce webhook, a base stored before the pull read paths) taken for
a change of the hub's ``Parent > Child``, a real move between parents missed, and a category added in the shop
flattening the hub's path of the others.
"""

from __future__ import annotations

from ecom_pipeline.sync.category_paths import refine_categories, same_categories, steps


def test_steps_ignore_case_spaces_and_html_escapes() -> None:
    assert steps(" Kitchen >  Mugs &amp; Cups ") == ("kitchen", "mugs & cups")
    assert steps("") == () and steps(None) == ()


def test_a_leaf_agrees_with_any_path_of_it_and_two_paths_must_be_the_same() -> None:
    assert same_categories(["Clothing > Shirts"], ["Shirts"])
    assert same_categories(("shirts",), ["Clothing > Shirts"])
    assert same_categories(["Clothing > Shirts", "Sale"], ["sale", "clothing > shirts"])
    assert not same_categories(["Clothing > Shirts"], ["Kids > Shirts"])  # moved: a change
    assert not same_categories(["Clothing > Shirts"], ["Clothing > Shirts", "Sale"])
    assert not same_categories(["Shirts"], [])
    assert same_categories([], None)


def test_paths_of_a_leaf_must_be_the_same_set_unless_one_side_names_only_the_leaf() -> None:
    """Prevents a hub move ``A > Mugs`` -> ``B > Mugs`` (or a second path of the leaf) from passing as no change,
    while an old leaf-only base still agrees with every path of its leaf (no push of every product on upgrade)."""
    assert not same_categories(["A > Mugs", "B > Mugs"], ["A > Mugs"])
    assert not same_categories(["A > Mugs", "Mugs"], ["A > Mugs"])  # a top-level Mugs added
    assert same_categories(["A > Mugs", "B > Mugs"], ["Mugs"])  # the leaf-only side agrees with both
    assert same_categories(["Mugs"], ["mugs", "MUGS"])


def test_refine_takes_the_one_known_path_of_a_leaf() -> None:
    known = ["Clothing > Shirts", "Kitchen > Mugs", "Office > Mugs"]
    assert refine_categories(["Shirts", "Sale"], known) == ["Clothing > Shirts", "Sale"]
    assert refine_categories(["Mugs"], known) == ["Mugs"]  # two known paths: not guessed
    assert refine_categories(["Kids > Shirts"], known) == ["Kids > Shirts"]  # a path stays as it is
    assert refine_categories(["Shirts", "shirts"], ["Clothing > Shirts"]) == ["Clothing > Shirts"]
    assert refine_categories(None, known) == []


def test_the_merge_keeps_the_hubs_paths_against_leaf_readings_and_takes_a_real_shop_change() -> None:
    """Prevents the three-way merge (``Merger._categories``) writing a leaf-only reading over the hub's path, and a
    category added in the shop flattening the hub's path of the others; the new base keeps the base's paths."""
    from types import SimpleNamespace
    from typing import Any

    from ecom_pipeline.sync.resolve.threeway import Merger

    hub: Any = SimpleNamespace(categories=["Clothing > Shirts"])
    new_base: dict[str, Any] = {}
    # A webhook reading (leaf names) against a base holding the path: no change, the base keeps the path.
    kept = Merger._categories(hub, {"categories": ["Clothing > Shirts"]}, {"categories": ["Shirts"]}, new_base)
    assert kept == ["Clothing > Shirts"] and new_base["categories"] == ["Clothing > Shirts"]
    # A base stored before the pull read paths (leaf), the pull's path: agreement, the base now holds the path.
    kept = Merger._categories(hub, {"categories": ["Shirts"]}, {"categories": ["Clothing > Shirts"]}, new_base)
    assert kept == ["Clothing > Shirts"] and new_base["categories"] == ["Clothing > Shirts"]
    # The shop added "Sale" (read as leaf names): taken, with the hub's path for Shirts.
    taken = Merger._categories(hub, {"categories": ["Shirts"]}, {"categories": ["Shirts", "Sale"]}, new_base)
    assert taken == ["Clothing > Shirts", "Sale"]
    # The shop moved it under another parent: taken as the shop says.
    moved = Merger._categories(hub, {"categories": ["Clothing > Shirts"]}, {"categories": ["Kids > Shirts"]}, {})
    assert moved == ["Kids > Shirts"]
    # A first link with a shop that has no categories (Shopify): the hub's stay.
    assert Merger._categories(hub, {}, {"categories": []}, {}) == ["Clothing > Shirts"]
