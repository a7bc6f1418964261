"""List queries of an emulated WooCommerce shop: ``orderby``/``order``, modified windows, include, paging.

Sorted views are cached per collection version, so the incremental ``orderby=modified`` poll of a large shop is a
bisect rather than a sort.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ecom_pipeline.sandbox.woocommerce.state import WooState


@dataclass
class ListResult:
    """One page of a list query plus the totals for ``X-WP-Total`` / ``X-WP-TotalPages``."""

    items: list[Any]
    total: int


def _by_created(r: Any) -> int:
    return r.created


def _price_key(r: Any) -> Decimal:
    value = r.sale_price or r.regular_price
    return Decimal(value) if value else Decimal(0)


_PRODUCT_KEYS: dict[str, Callable[[Any], Any]] = {
    "date": _by_created,
    "id": lambda r: 0,
    "title": lambda r: r.name.lower(),
    "slug": lambda r: r.slug,
    "modified": lambda r: r.modified,
    "price": _price_key,
    "popularity": lambda r: r.total_sales,
    "sales": lambda r: r.total_sales,
    "rating": lambda r: 0,
    "menu_order": lambda r: 0,
}
_VARIATION_KEYS: dict[str, Callable[[Any], Any]] = {
    "date": _by_created,
    "id": lambda r: 0,
    "title": lambda r: r.name.lower(),
    "slug": lambda r: r.sku,
    "modified": lambda r: r.modified,
    "price": _price_key,
    "menu_order": lambda r: 0,
}
_ORDER_KEYS: dict[str, Callable[[Any], Any]] = {
    "date": _by_created,
    "id": lambda r: 0,
    "title": lambda r: 0,
    "slug": lambda r: 0,
    "modified": lambda r: r.modified,
}
_CUSTOMER_KEYS: dict[str, Callable[[Any], Any]] = {
    "id": lambda r: 0,
    "name": lambda r: r.display_name.lower(),
    "registered_date": _by_created,
}
_SORT_KEYS = {
    "products": _PRODUCT_KEYS,
    "variations": _VARIATION_KEYS,
    "orders": _ORDER_KEYS,
    "customers": _CUSTOMER_KEYS,
}


class WooQueries(WooState):
    """Paged, sorted and filtered reads of products, variations, orders and customers."""

    def _sorted_view(
        self, kind: str, orderby: str, records: Iterable[Any], key: Callable[[Any], Any]
    ) -> tuple[list[Any], list[Any]]:
        """Records sorted ascending by (key, id), cached until that collection changes."""
        version = self._versions[kind]
        cached = self._sorted.get((kind, orderby))
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        rows = sorted(records, key=lambda r: (key(r), r.id))
        keys = [key(r) for r in rows]
        self._sorted[(kind, orderby)] = (version, rows, keys)
        return rows, keys

    def query(
        self,
        kind: str,
        *,
        orderby: str,
        order: str,
        page: int,
        per_page: int,
        predicate: Callable[[Any], bool] | None = None,
        modified_after: int | None = None,
        modified_before: int | None = None,
        include: list[int] | None = None,
        parent_id: int | None = None,
        offset: int | None = None,
    ) -> ListResult:
        """One page of ``kind`` records; O(log n + matches) for the ``orderby=modified`` incremental case.

        ``offset`` (records to skip) replaces ``page`` when given, as in WordPress (``WP_Query``/``WP_User_Query``
        take the offset for the LIMIT and ignore ``paged``); the total is that of the whole filtered list.
        """
        with self.lock:
            if kind == "variations":
                assert parent_id is not None
                parent = self.get_product(parent_id)
                source: Iterable[Any] = self.variations_of(parent)
                rows = sorted(source, key=lambda r: (_SORT_KEYS[kind].get(orderby, _by_created)(r), r.id))
                keys = [r.modified for r in rows]
            else:
                tables: dict[str, dict[int, Any]] = {
                    "products": self.products,
                    "orders": self.orders,
                    "customers": self.customers,
                }
                source = tables[kind].values()
                if include and orderby in ("include", "post__in"):
                    pos = {v: i for i, v in enumerate(include)}
                    rows = sorted((r for r in source if r.id in pos), key=lambda r: pos[r.id])
                    keys = []
                elif orderby == "random":
                    rows = list(source)
                    random.Random(self.clock.seconds()).shuffle(rows)
                    keys = []
                else:
                    rows, keys = self._sorted_view(kind, orderby, source, _SORT_KEYS[kind].get(orderby, _by_created))
            if (
                orderby == "modified"
                and kind != "variations"
                and (modified_after is not None or modified_before is not None)
            ):
                lo = bisect.bisect_right(keys, modified_after) if modified_after is not None else 0
                hi = bisect.bisect_left(keys, modified_before) if modified_before is not None else len(rows)
                rows = rows[lo:hi]
            else:
                if modified_after is not None:
                    rows = [r for r in rows if r.modified > modified_after]
                if modified_before is not None:
                    rows = [r for r in rows if r.modified < modified_before]
            if include:
                wanted = set(include)
                rows = [r for r in rows if r.id in wanted]
            if predicate is not None:
                rows = [r for r in rows if predicate(r)]
            if order == "desc" and orderby not in ("include", "post__in", "random"):
                rows = rows[::-1]
            start = offset if offset is not None else (page - 1) * per_page
            return ListResult(rows[start : start + per_page], len(rows))
