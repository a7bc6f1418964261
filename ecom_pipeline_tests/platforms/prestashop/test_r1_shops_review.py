"""Review r1 repro (kept as a unit test: ShopStock.select on listed rows, a stand-in client answering its two
reads): group-shared rows only (id_shop 0) of two groups, and another group's only shared row."""

from __future__ import annotations

from typing import Any

from ecom_pipeline.platforms.prestashop.shops import ShopStock


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def configuration(self, name: str) -> str | None:
        self.calls.append(name)
        return "3"

    def list_by_ids(self, resource: str, ids: list[int], display: str = "") -> list[dict[str, Any]]:
        self.calls.append(resource)
        return [{"id": 3, "id_shop_group": 2}]


ROWS = [  # product 7: group 1 shares its stock (qty 5), group 2 shares its stock (qty 900)
    {"id": 10, "id_product": 7, "id_product_attribute": 0, "id_shop": 0, "id_shop_group": 1, "quantity": 5},
    {"id": 11, "id_product": 7, "id_product_attribute": 0, "id_shop": 0, "id_shop_group": 2, "quantity": 900},
]


def test_two_groups_sharing_stock_no_setting() -> None:
    c = FakeClient()
    picked = ShopStock(c, {}).select(ROWS)
    print("no setting ->", [(r["id_shop_group"], r["quantity"]) for r in picked], c.calls)
    assert len(picked) == 1


def test_two_groups_sharing_stock_with_shop_setting() -> None:
    c = FakeClient()
    picked = ShopStock(c, {"shop_id": 3, "shop_group_id": 2}).select(ROWS)
    print("shop 3 group 2 ->", [(r["id_shop_group"], r["quantity"]) for r in picked], c.calls)
    assert [r["quantity"] for r in picked] == [900]


def test_other_groups_shared_row_taken_for_a_product_not_in_our_shop() -> None:
    rows = [
        {"id": 1, "id_product": 1, "id_product_attribute": 0, "id_shop": 1, "id_shop_group": 1, "quantity": 3},
        {"id": 2, "id_product": 2, "id_product_attribute": 0, "id_shop": 0, "id_shop_group": 2, "quantity": 900},
    ]
    c = FakeClient()
    c.list_by_ids = lambda *a, **k: [{"id": 1, "id_shop_group": 1}]  # type: ignore[method-assign]
    picked = ShopStock(c, {"shop_id": 1}).select(rows)
    print("shop 1 (group 1 unknown) ->", [(r["id_product"], r["id_shop_group"], r["quantity"]) for r in picked])
    assert [r["id_product"] for r in picked] == [1]
