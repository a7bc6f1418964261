"""Nested category paths compared between hub and shop readings (``sync.category_paths``).

Failures prevented: a leaf-only reading (a WooCommerce webhook, a base stored before the pull read paths) taken for
a change of the hub's ``Parent > Child``, a real move between parents missed, and a category added in the shop
flattening the hub's path of the others.
"""

from __future__ import annotations

from ecom_pipeline.platforms.prestashop.categories import category_path as presta_path
from ecom_pipeline.platforms.shopify.writer import collection_title
from ecom_pipeline.platforms.woocommerce.taxonomy import category_path as woo_path
from ecom_pipeline.platforms.woocommerce.transform import category_paths
from ecom_pipeline.sync.category_paths import (
    escape_name,
    join_path,
    refine_categories,
    same_categories,
    split_path,
    steps,
)


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


def test_a_separator_in_a_category_name_is_escaped_and_one_step_everywhere() -> None:
    """Prevents a shop category whose own name holds ``>`` ("Kids > 3 years", "A>B": one category) from being
    read as a path of two and pushed as a parent and a child: written ``\\>`` in a hub path, split back as one
    step by the comparison and by every writer's split (WooCommerce, PrestaShop, Shopify's collection leaf)."""
    assert escape_name("Kids > 3 years") == "Kids \\> 3 years"
    assert join_path(["Clothing", "Kids > 3 years"]) == "Clothing > Kids \\> 3 years"
    assert join_path(["A>B"]) == "A\\>B"
    assert split_path("Clothing > Kids \\> 3 years") == ["Clothing", "Kids > 3 years"]
    assert steps("Clothing > Kids \\> 3 years") == ("clothing", "kids > 3 years")
    assert steps("A\\>B") == ("a>b",) and steps("A>B") == ("a", "b")  # unescaped: still a path, as before
    for split in (woo_path, presta_path):
        assert split("Clothing > Kids \\> 3 years") == ["Clothing", "Kids > 3 years"]
        assert split("Kids \\> 3 years") == ["Kids > 3 years"]
        assert split(" Kitchen >  Mugs ") == ["Kitchen", "Mugs"]
    assert collection_title("Clothing > Kids \\> 3 years") == "Kids > 3 years"
    # A literal backslash before ">" round-trips; any other backslash is part of the name.
    for name in ("A\\>B", "Foo\\", "C:\\temp", "x > y > z"):
        assert split_path(join_path(["Top", name])) == ["Top", " ".join(name.split())]
    # The one-step rule holds with escaped names: a leaf reading agrees with the hub's path of it.
    assert same_categories(["Kids \\> 3 years"], ["Clothing > Kids \\> 3 years"])
    assert not same_categories(["Kids \\> 3 years"], ["Kids > 3 years"])  # one category vs a path of two


def test_names_without_a_separator_are_written_byte_for_byte_as_before() -> None:
    """Prevents the notation from changing existing hub values (and so every base's digest) after an upgrade."""
    for names in (["Clothing", "Shirts"], ["Mugs & Cups"], ["C:\\temp", "x"], [" Kitchen ", "Mugs"]):
        assert join_path(names) == " > ".join(n.strip() for n in names)
    terms = [{"id": 1, "name": "Clothing", "parent": 0}, {"id": 2, "name": "Kids &gt; 3 years", "parent": 1}]
    assert category_paths(terms, [2]) == {"2": "Clothing > Kids \\> 3 years"}
    assert category_paths([{"id": 1, "name": "Kitchen", "parent": 0}, {"id": 3, "name": "Mugs", "parent": 1}],
                          [3]) == {"3": "Kitchen > Mugs"}  # fmt: skip
