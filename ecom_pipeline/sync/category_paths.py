r"""Nested category paths (``Parent > Child``) compared between the hub and a shop's readings: pure functions.

Why: the hub writes a nested category as its path from the shop's top level, ``Clothing > Shirts``, and the pull
reads it back the same way (WooCommerce through the category tree, PrestaShop through each category's
``id_parent``; a WooCommerce product webhook, which names its categories without parents, through the same tree:
``platforms.woocommerce.webhooks``). Some readings only know the category's own name, though: link bases stored
before the pull read paths, and a webhook applied while the shop's category tree could not be read. A leaf-only
reading ``Shirts`` must not count as a change against ``Clothing > Shirts`` (the three-way merge would write the
leaf over the hub's path), and when a shop's real change (a category added in the shop) comes in with such a
reading, the hub's path for the categories it kept must survive. Hence:

- :func:`same_categories`: two lists name the same categories when, leaf by leaf, they give the same full paths,
  except that a side naming a leaf only by itself (one step: a leaf-only reading, an old base, or a top-level
  category) agrees with any paths of that leaf. The one rule for every comparison: resolve's merge (shop reading
  against the base) and export's plan (hub against the base), so a hub move ``A > Mugs`` -> ``B > Mugs`` is a
  change to push, while a base stored before paths existed (``Mugs``) agrees with the hub's ``A > Mugs`` and the
  upgrade pushes nothing. The price: a move between a top-level ``Mugs`` and a nested ``A > Mugs`` is not seen
  (the one-step name could be either), which is also what the writers do with a one-step name (any category of
  that name, a top-level one first);
- :func:`refine_categories`: a one-step name in a shop's reading takes the one path of that leaf the hub (or the
  base) already has, so the hub keeps ``Clothing > Shirts`` when the shop's webhook says ``Shirts``.

Names are compared without HTML escapes, case or repeated spaces (WordPress stores ``Mugs & Cups`` as
``Mugs &amp; Cups``; shops answer in their own case).

A shop category whose own name holds the separator (WooCommerce's ``Kids > 3 years``, a Shopify collection
``A>B``: one category, one level) is written in a hub path with that ``>`` escaped, ``Kids \> 3 years``
(:func:`escape_name`, applied by :func:`join_path` and by every reading of a shop's own names), and
:func:`split_path` (every writer's and comparison's split) splits only on an unescaped ``>`` and undoes the escape.
A name without ``>`` is written as it always was, so existing hub values, bases and their digests do not change.
Only ``\>`` is an escape: any other backslash is part of the name (a name ``A\>B`` with a literal backslash is
written ``A\\>B`` and split back to ``A\>B``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

# How the hub writes a nested category: ``Parent > Child`` (sync.export.CATEGORY_PATH_SEPARATOR is the same).
SEPARATOR = ">"
JOINER = f" {SEPARATOR} "
# A ``>`` that is part of a category's own name, in a hub path (see the module docstring).
ESCAPED_SEPARATOR = "\\" + SEPARATOR
_UNESCAPED_SEPARATOR = re.compile(r"(?<!\\)" + re.escape(SEPARATOR))


def escape_name(name: Any) -> str:
    r"""One shop category's own name as a step of a hub path: each ``>`` in it written ``\>`` (``"Kids > 3 years"``
    -> ``"Kids \> 3 years"``), so it is one step, not two; a name without ``>`` is returned as it is."""
    text = str(name)
    return text.replace(SEPARATOR, ESCAPED_SEPARATOR) if SEPARATOR in text else text


def split_path(path: Any) -> list[str]:
    r"""A hub category value as its steps from the top level, each the category's own name: split on each ``>``
    not escaped, ``\>`` undone, spaces collapsed, empty steps dropped (``"Clothing > Kids \> 3 years"`` ->
    ``["Clothing", "Kids > 3 years"]``). HTML escapes are left alone (callers that read them undo them first)."""
    out: list[str] = []
    for part in _UNESCAPED_SEPARATOR.split(str(path or "")):
        name = " ".join(part.replace(ESCAPED_SEPARATOR, SEPARATOR).split())
        if name:
            out.append(name)
    return out


def steps(name: Any) -> tuple[str, ...]:
    r"""A category name as its comparable steps from the top level (``"Clothing > Shirts"`` -> ``("clothing",
    "shirts")``); empty steps dropped, an empty name has none; an escaped ``\>`` is part of its step's name."""
    return tuple(s.casefold() for s in split_path(html.unescape(str(name or ""))))


def join_path(names: Sequence[str]) -> str:
    """Shop category names (top level first) written as the hub writes a nested category (``["Clothing",
    "Shirts"]`` -> ``"Clothing > Shirts"``), a ``>`` in a name escaped (:func:`escape_name`)."""
    return JOINER.join(escape_name(n.strip()) for n in names if n and n.strip())


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
    """Whether two category lists name the same categories (order, case, spacing and HTML escapes aside).

    The leaves must be the same set; for each leaf, the two sides' paths must be the same set, unless one side
    names that leaf only as itself (one step, once): a leaf-only reading or a top-level category agrees with any
    paths of that leaf (see the module docstring for why, and what it cannot see).
    """
    left, right = _by_leaf(_names(a)), _by_leaf(_names(b))
    if set(left) != set(right):
        return False
    for leaf, paths in left.items():
        other = right[leaf]
        if paths == other:
            continue
        only_leaf = {(leaf,)}
        if paths != only_leaf and other != only_leaf:
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
