"""Nested category paths (``Parent > Child``) compared between the hub and a shop's readings: pure functions.

Why: the hub writes a nested category as its path from the shop's top level, ``Clothing > Shirts``, and the pull
reads it back the same way (WooCommerce through the category tree, PrestaShop through each category's
``id_parent``). Some readings only know the category's own name, though: a WooCommerce product webhook (the
product carries ``{id, name}`` of its categories, not their parents), and link bases stored before the pull read
paths. A leaf-only reading ``Shirts`` must not count as a change against ``Clothing > Shirts`` (the three-way merge
would write the leaf over the hub's path), and when a shop's real change (a category added in the shop) comes in
with such a reading, the hub's path for the categories it kept must survive. Hence:

- :func:`same_categories`: two lists name the same categories when, leaf by leaf, their full paths agree wherever
  both sides give a path of more than one step (a one-step name, top-level or leaf-only, agrees with any path of
  that leaf);
- :func:`refine_categories`: a one-step name in a shop's reading takes the one path of that leaf the hub (or the
  base) already has, so the hub keeps ``Clothing > Shirts`` when the shop's webhook says ``Shirts``.

Names are compared without HTML escapes, case or repeated spaces (WordPress stores ``Mugs & Cups`` as
``Mugs &amp; Cups``; shops answer in their own case).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

# How the hub writes a nested category: ``Parent > Child`` (sync.export.CATEGORY_PATH_SEPARATOR is the same).
SEPARATOR = ">"
JOINER = f" {SEPARATOR} "


def steps(name: Any) -> tuple[str, ...]:
    """A category name as its comparable steps from the top level (``"Clothing > Shirts"`` -> ``("clothing",
    "shirts")``); empty steps dropped, an empty name has none."""
    parts = (" ".join(s.split()).casefold() for s in html.unescape(str(name or "")).split(SEPARATOR))
    return tuple(p for p in parts if p)


def join_path(names: Sequence[str]) -> str:
    """Steps written as the hub writes a nested category (``["Clothing", "Shirts"]`` -> ``"Clothing > Shirts"``)."""
    return JOINER.join(n.strip() for n in names if n and n.strip())


def _by_leaf(names: Iterable[Any]) -> dict[str, set[tuple[str, ...]]]:
    out: dict[str, set[tuple[str, ...]]] = {}
    for name in names:
        path = steps(name)
        if path:
            out.setdefault(path[-1], set()).add(path)
    return out


def _names(value: Any) -> list[Any]:
    """A categories value (a JSON list, a tuple, None) as a list of names."""
    return list(value) if isinstance(value, list | tuple) else []


def same_categories(a: Any, b: Any) -> bool:
    """Whether two category lists name the same categories (order, case and escapes aside).

    The leaves must be the same set; for each leaf, where both sides give paths of more than one step, those paths
    must be the same set; a one-step name on either side (a top-level category, or a reading that only knows the
    leaf) agrees with any path of that leaf.
    """
    left, right = _by_leaf(_names(a)), _by_leaf(_names(b))
    if set(left) != set(right):
        return False
    for leaf, paths in left.items():
        deep_left = {p for p in paths if len(p) > 1}
        deep_right = {p for p in right[leaf] if len(p) > 1}
        # A side with no deep path of this leaf knows only the leaf (or a top-level one): it agrees with any path.
        if deep_left and deep_right and deep_left != deep_right:
            return False
    return True


def refine_categories(names: Any, known: Iterable[Any]) -> list[str]:
    """``names`` with each one-step name replaced by the one path of that leaf among ``known`` (the hub's, the
    base's), as ``known`` writes it; a name with several known paths of its leaf, or none, stays as it is."""
    paths: dict[str, dict[tuple[str, ...], str]] = {}
    for name in known:
        path = steps(name)
        if len(path) > 1:
            paths.setdefault(path[-1], {}).setdefault(path, str(name).strip())
    out: list[str] = []
    for name in _names(names):
        path = steps(name)
        found = list(paths.get(path[-1], {}).values()) if len(path) == 1 else []
        chosen = found[0] if len(found) == 1 else str(name)
        if chosen not in out:
            out.append(chosen)
    return out
