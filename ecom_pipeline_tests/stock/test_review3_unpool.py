"""The reviewer's reproduction (review 3): a parent-managed pool switched to stock per variation.

Kept as the reviewer wrote it, with the expected numbers asserted (it printed them).
"""

from __future__ import annotations

from sqlalchemy import select

from ecom_pipeline.stock.world import StockWorld, sleep_into_next_second
from ecom_pipeline.warehouse.schema import stock_links
from ecom_pipeline_tests.stock.test_stock_pools import SIZES, _beanie, _hub_ids, _movements, _on_hand


def test_unpool(world: StockWorld) -> None:
    """Prevents on hand {S: 5, M: -2, L: 1} and WooCommerce M overwritten with 0 after the merchant's 3/4/1."""
    parent, variations, variants = _beanie(world, 5)
    world.pull(("products", "inventory"))
    world.stock()
    ids = _hub_ids(world)
    sleep_into_next_second()
    world.shop("shopify").store.add_order({"line_items": [{"variant_id": variants["M"], "quantity": 2}]})
    world.cycle()
    world.cycle()
    print("POOLED on hand", _on_hand(world, ids))
    sleep_into_next_second()
    woo = world.shop("woocommerce").store
    # the merchant switches to per-variation stock and counts each size: S=3, M=4, L=1
    woo.update_product(parent, {"manage_stock": False})
    for size, q in zip(SIZES, (3, 4, 1), strict=True):
        woo.update_variation(parent, variations[size], {"manage_stock": True, "stock_quantity": q})
    world.pull(("products", "orders", "inventory"))
    world.stock()
    world.cycle()
    world.cycle()
    shopify = world.shop("shopify").store
    shown = {
        size: next(iter(shopify.levels[shopify.variants[vid].inventory_item_id].values())).available
        for size, vid in variants.items()
    }
    print("AFTER on hand", _on_hand(world, ids))
    print("AFTER woo variations", {s: woo.variations[v].stock_quantity for s, v in variations.items()})
    print("AFTER shopify", shown)
    print("MOVEMENTS", _movements(world, ids))
    with world.engine.connect() as conn:
        print(
            "LINKS",
            conn.execute(
                select(stock_links.c.integration_id, stock_links.c.variant_id, stock_links.c.external_item).where(
                    stock_links.c.variant_id.in_(list(ids.values()))
                )
            ).all(),
        )
    assert _on_hand(world, ids) == {"S": 3, "M": 4, "L": 1}
    assert {s: woo.variations[v].stock_quantity for s, v in variations.items()} == {"S": 3, "M": 4, "L": 1}
    assert shown == {"S": 3, "M": 4, "L": 1}
