"""A shared pool that the merchant ends (stock per variation again) or starts (variations join one pool).

The stock world (``stock/world.py``) with the Beanie of ``test_stock_pools.py`` (sizes S, M and L), in WooCommerce
and Shopify. Real emulators over HTTP, the real extractors and stock writers, both warehouse backends. The model
(``stock/links.py``: ``end_pools``, ``start_pools``): at the shop's reading, each variant's balance is carried over
to what the shop now shows, as ``unpooled:`` / ``pooled:`` movements keyed by the reading.
"""

from __future__ import annotations

import pytest
from sqlalchemy import and_, select

from ecom_pipeline.stock import links
from ecom_pipeline.stock.world import TENANT, StockWorld, sleep_into_next_second
from ecom_pipeline.warehouse.schema import stock_links, stock_movements
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.stock.test_stock_pools import SIZES, _beanie, _hub_ids, _movements, _on_hand


def _shopify_levels(world: StockWorld, variants: dict[str, int]) -> dict[str, int]:
    shopify = world.shop("shopify").store
    return {
        size: next(iter(shopify.levels[shopify.variants[vid].inventory_item_id].values())).available
        for size, vid in variants.items()
    }


def _woo_items(world: StockWorld, ids: dict[str, int]) -> list[str]:
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(stock_links.c.external_item)
            .where(stock_links.c.integration_id == world.ids["woocommerce"], stock_links.c.variant_id.in_(ids.values()))
            .order_by(stock_links.c.variant_id)
        ).all()
    return [str(item) for (item,) in rows]


def _keys(world: StockWorld, prefix: str) -> list[str]:
    with world.engine.connect() as conn:
        rows = conn.execute(select(stock_movements.c.source_key).where(stock_movements.c.source_key.like(f"{prefix}%")))
        return sorted(str(k) for (k,) in rows)


def test_a_pool_split_into_variations_carries_each_variations_count(world: StockWorld) -> None:
    """Prevents the pool link outliving its pool (reviewer's repro): a pool of 5 for S/M/L, Shopify sells 2 of M,
    the merchant switches WooCommerce to stock per variation and counts S=3, M=4, L=1. Before the fix the ledger
    read S=5 (the pool's opening left on S), M=-2 (the pooled sale alone), L=1, wrote 0 over the merchant's 4 for M
    and kept S's link on the parent product. Now each size's on hand is what the shop shows for it, every shop
    shows it, WooCommerce's links name their variations, and a later sale of one size moves that size only."""
    parent, variations, variants = _beanie(world, 5)
    world.pull(("products", "inventory"))
    world.stock()
    ids = _hub_ids(world)
    sleep_into_next_second()
    world.shop("shopify").store.add_order({"line_items": [{"variant_id": variants["M"], "quantity": 2}]})
    world.cycle()
    world.cycle()
    assert _on_hand(world, ids) == {"S": 3, "M": 3, "L": 3}

    sleep_into_next_second()
    woo = world.shop("woocommerce").store
    woo.update_product(parent, {"manage_stock": False})
    for size, quantity in zip(SIZES, (3, 4, 1), strict=True):
        woo.update_variation(parent, variations[size], {"manage_stock": True, "stock_quantity": quantity})
    world.pull(("products", "orders", "inventory"))
    world.stock()
    world.cycle()
    world.cycle()
    assert _on_hand(world, ids) == {"S": 3, "M": 4, "L": 1}
    assert {s: woo.variations[v].stock_quantity for s, v in variations.items()} == {"S": 3, "M": 4, "L": 1}
    assert _shopify_levels(world, variants) == {"S": 3, "M": 4, "L": 1}
    assert _woo_items(world, ids) == [f"{parent}/{variations[s]}" for s in SIZES]
    carried = _keys(world, "unpooled:")
    assert len(carried) == 3  # one carry-over per size, booked once however often the step runs
    before = _movements(world, ids)
    world.stock()
    world.cycle()
    assert _movements(world, ids) == before

    sleep_into_next_second()
    world.shop("shopify").store.add_order({"line_items": [{"variant_id": variants["L"], "quantity": 1}]})
    world.cycle()
    world.cycle()
    assert _on_hand(world, ids) == {"S": 3, "M": 4, "L": 0}
    assert {s: woo.variations[v].stock_quantity for s, v in variations.items()} == {"S": 3, "M": 4, "L": 0}
    assert _shopify_levels(world, variants) == {"S": 3, "M": 4, "L": 0}
    assert _keys(world, "unpooled:") == carried


def _per_variation_beanie(world: StockWorld, counts: dict[str, int]) -> tuple[int, dict[str, int], dict[str, int]]:
    """The Beanie with stock of its own per variation in WooCommerce (and Shopify showing the same)."""
    woo = world.shop("woocommerce").store
    product = woo.create_product(
        {"name": "Beanie", "type": "variable", "sku": "BEANIE", "manage_stock": False, "regular_price": "10.00",
         "attributes": [{"name": "Size", "options": list(SIZES), "variation": True}]}
    )  # fmt: skip
    variations = {
        size: woo.create_variation(
            product.id,
            {"sku": f"BEANIE-{size}", "regular_price": "10.00", "attributes": [{"name": "Size", "option": size}],
             "manage_stock": True, "stock_quantity": counts[size]},
        ).id
        for size in SIZES
    }  # fmt: skip
    shopify = world.shop("shopify").store
    made = shopify.add_product("Wool Beanie", [{"sku": f"BEANIE-{size}", "price": "10.00"} for size in SIZES])
    variants = dict(zip(SIZES, made.variant_ids, strict=True))
    for size, vid in variants.items():
        shopify.set_stock(vid, counts[size])
    return product.id, variations, variants


def test_variations_that_become_a_pool_open_it_at_the_shops_pool_quantity(world: StockWorld) -> None:
    """Prevents the variations' own opening balances being cancelled as repeated readings of one pool when the
    merchant moves them onto a parent-managed pool: S=3, M=4, L=1 each with stock of its own, Shopify sells 2 of
    M, then WooCommerce manages the stock on the parent with 6. Before the fix the ledger kept S's opening and
    every sale but cancelled M's and L's openings, and read 4 where the shop showed 6. Now the pool opens at the
    shop's 6 (``pooled:``), each variation's own balance closed into it, and every shop shows 6, then 5."""
    parent, variations, variants = _per_variation_beanie(world, {"S": 3, "M": 4, "L": 1})
    world.pull(("products", "inventory"))
    world.stock()
    ids = _hub_ids(world)
    assert _on_hand(world, ids) == {"S": 3, "M": 4, "L": 1}
    sleep_into_next_second()
    world.shop("shopify").store.add_order({"line_items": [{"variant_id": variants["M"], "quantity": 2}]})
    world.cycle()
    world.cycle()
    woo = world.shop("woocommerce").store
    assert {s: woo.variations[v].stock_quantity for s, v in variations.items()} == {"S": 3, "M": 2, "L": 1}

    sleep_into_next_second()
    woo.update_product(parent, {"manage_stock": True, "stock_quantity": 6})
    for size in SIZES:
        woo.update_variation(parent, variations[size], {"manage_stock": "parent"})
    world.pull(("products", "orders", "inventory"))
    world.stock()
    world.cycle()
    world.cycle()
    assert _on_hand(world, ids) == {"S": 6, "M": 6, "L": 6}
    assert woo.products[parent].stock_quantity == 6
    assert _shopify_levels(world, variants) == {"S": 6, "M": 6, "L": 6}
    assert _woo_items(world, ids) == [str(parent)]
    opened = _keys(world, "pooled:")
    assert len(opened) == 4  # S, M and L closed, the pool opened
    before = _movements(world, ids)
    world.stock()
    world.cycle()
    assert _movements(world, ids) == before

    sleep_into_next_second()
    woo.add_order(
        {"line_items": [{"product_id": parent, "variation_id": variations["L"], "quantity": 1}], "set_paid": True}
    )
    world.cycle()
    world.cycle()
    assert _on_hand(world, ids) == {"S": 5, "M": 5, "L": 5}
    assert woo.products[parent].stock_quantity == 5
    assert _shopify_levels(world, variants) == {"S": 5, "M": 5, "L": 5}
    assert _keys(world, "pooled:") == opened


def test_a_pool_change_cut_short_books_nothing_twice(world: StockWorld) -> None:
    """Prevents a rerun after a kill booking a carry-over twice: ``end_pools`` is run and its transaction rolled
    back half-way (the link changes never land), then run again with the movements of a first, committed run in
    place but the link put back (a kill between the two); the second run books nothing more, and the stock step
    ends where an uninterrupted one does."""
    parent, variations, variants = _beanie(world, 5)
    world.pull(("products", "inventory"))
    world.stock()
    ids = _hub_ids(world)
    sleep_into_next_second()
    woo = world.shop("woocommerce").store
    woo.update_product(parent, {"manage_stock": False})
    for size, quantity in zip(SIZES, (2, 0, 7), strict=True):
        woo.update_variation(parent, variations[size], {"manage_stock": True, "stock_quantity": quantity})
    world.pull(("products", "inventory"))
    with world.engine.connect() as conn:
        shops = links.stock_integrations(conn, TENANT)
        pool_link = conn.execute(
            select(stock_links).where(
                stock_links.c.integration_id == world.ids["woocommerce"], stock_links.c.variant_id.in_(ids.values())
            )
        ).one()
    with pytest.raises(RuntimeError), world.engine.begin() as conn:
        assert links.end_pools(conn, TENANT, shops, utcnow()) == 1
        raise RuntimeError("killed")
    assert _keys(world, "unpooled:") == []
    with world.engine.begin() as conn:  # movements committed, the link as it was: a kill between the two
        assert links.end_pools(conn, TENANT, shops, utcnow()) == 1
        conn.execute(stock_links.update().where(stock_links.c.id == pool_link.id).values(**pool_link._mapping))
    carried = _keys(world, "unpooled:")
    assert len(carried) == 2  # S: 5 -> 2 (the pool's opening was on S), L: 0 -> 7; M had nothing and shows 0
    world.stock()
    world.cycle()
    assert _keys(world, "unpooled:") == carried
    assert _on_hand(world, ids) == {"S": 2, "M": 0, "L": 7}
    assert _shopify_levels(world, variants) == {"S": 2, "M": 0, "L": 7}


def _pool_link_size(world: StockWorld, ids: dict[str, int]) -> str:
    """The size whose hub variant holds WooCommerce's pool link (the pool's lowest)."""
    with world.engine.connect() as conn:
        variant = conn.execute(
            select(stock_links.c.variant_id).where(
                stock_links.c.integration_id == world.ids["woocommerce"], stock_links.c.variant_id.in_(ids.values())
            )
        ).scalar_one()
    return next(size for size, vid in ids.items() if vid == variant)


@pytest.mark.parametrize("leaver", ["the link's own", "another"])
def test_a_variation_that_leaves_a_pool_that_goes_on(world: StockWorld, leaver: str) -> None:
    """Prevents a variation leaving a pool that the others keep from taking the pool's past with it or leaving
    it behind: a pool of 5, Shopify sells 2 of one size (pool 3), then the merchant gives one size stock of its
    own (4) and the two others keep the pool of 3. Before the fix the leaver read -2 or 5 (its sales, or the
    pool's opening) and the pool 5 or 1. Now the leaver shows 4, the pool 3, in every shop; whether the leaver
    held the pool's link (the pool then gets a link of its own) or not."""
    parent, variations, variants = _beanie(world, 5)
    world.pull(("products", "inventory"))
    world.stock()
    ids = _hub_ids(world)
    holder = _pool_link_size(world, ids)
    gone = holder if leaver == "the link's own" else next(s for s in SIZES if s != holder)
    sold = next(s for s in SIZES if s != gone)
    sleep_into_next_second()
    world.shop("shopify").store.add_order({"line_items": [{"variant_id": variants[gone], "quantity": 1}]})
    world.shop("shopify").store.add_order({"line_items": [{"variant_id": variants[sold], "quantity": 1}]})
    world.cycle()
    world.cycle()
    assert _on_hand(world, ids) == dict.fromkeys(SIZES, 3)

    sleep_into_next_second()
    woo = world.shop("woocommerce").store
    woo.update_variation(parent, variations[gone], {"manage_stock": True, "stock_quantity": 4})
    world.pull(("products", "orders", "inventory"))
    world.stock()
    world.cycle()
    world.cycle()
    expected = {s: 4 if s == gone else 3 for s in SIZES}
    assert _on_hand(world, ids) == expected
    assert woo.products[parent].stock_quantity == 3
    assert woo.variations[variations[gone]].stock_quantity == 4
    assert _shopify_levels(world, variants) == expected
    before = _movements(world, ids)
    world.stock()
    world.cycle()
    assert _movements(world, ids) == before

    sleep_into_next_second()
    world.shop("shopify").store.add_order({"line_items": [{"variant_id": variants[sold], "quantity": 1}]})
    world.cycle()
    world.cycle()
    expected = {s: 4 if s == gone else 2 for s in SIZES}
    assert _on_hand(world, ids) == expected
    assert woo.products[parent].stock_quantity == 2
    assert _shopify_levels(world, variants) == expected


def test_a_push_before_the_pull_leaves_a_new_pool_alone(world: StockWorld) -> None:
    """Prevents a push made before the hub has read the merchant's switch to a parent-managed pool overwriting the
    pool with one variation's number (and booking the pool's reading as that variation's): S=3, M=4, L=1 of their
    own, the merchant makes a pool of 6, a person adds one S in the hub and the stock step pushes before any pull.
    Before the fix WooCommerce's S link wrote 4 on the parent (the pool) and the ledger ended at 4; now that link
    is reported failed, and after the pull the pool is the merchant's 6 plus the hub's 1 in every shop."""
    from ecom_pipeline.stock import ledger

    parent, variations, variants = _per_variation_beanie(world, {"S": 3, "M": 4, "L": 1})
    world.pull(("products", "inventory"))
    world.stock()
    ids = _hub_ids(world)
    sleep_into_next_second()
    woo = world.shop("woocommerce").store
    woo.update_product(parent, {"manage_stock": True, "stock_quantity": 6})
    for size in SIZES:
        woo.update_variation(parent, variations[size], {"manage_stock": "parent"})
    sleep_into_next_second()
    with world.engine.begin() as conn:
        ledger.hub_movement(
            conn, TENANT, variant_id=ids["S"], location="main", delta=1, note="found one", key="found", now=utcnow()
        )
    report = world.stock()
    assert woo.products[parent].stock_quantity == 6
    failed = [f for s in report.shops if s.outcome for f in s.outcome.failed.values()]
    assert any("parent product" in f for f in failed)
    world.pull(("products", "orders", "inventory"))
    world.stock()
    world.cycle()
    assert _on_hand(world, ids) == {"S": 7, "M": 7, "L": 7}
    assert woo.products[parent].stock_quantity == 7
    assert _shopify_levels(world, variants) == {"S": 7, "M": 7, "L": 7}


def test_a_pool_start_cut_short_books_nothing_twice(world: StockWorld) -> None:
    """Prevents a rerun after a kill opening a new pool twice or closing a variation twice: ``start_pools`` is
    rolled back half-way, then committed with its links put back as they were (a kill between the movements and
    the links); the stock step then books no ``pooled:`` movement more and every shop shows the pool."""
    from ecom_pipeline.stock.pools import pool_members
    from ecom_pipeline.warehouse import store

    parent, variations, variants = _per_variation_beanie(world, {"S": 3, "M": 4, "L": 1})
    world.pull(("products", "inventory"))
    world.stock()
    ids = _hub_ids(world)
    sleep_into_next_second()
    woo = world.shop("woocommerce").store
    woo.update_product(parent, {"manage_stock": True, "stock_quantity": 6})
    for size in SIZES:
        woo.update_variation(parent, variations[size], {"manage_stock": "parent"})
    world.pull(("products", "inventory"))
    woo_id = world.ids["woocommerce"]
    mine = and_(stock_links.c.integration_id == woo_id, stock_links.c.variant_id.in_(ids.values()))
    with world.engine.connect() as conn:
        before = [dict(r._mapping) for r in conn.execute(select(stock_links).where(mine))]
    assert len(before) == 3
    with pytest.raises(RuntimeError), world.engine.begin() as conn:
        assert links.start_pools(conn, TENANT, pool_members(conn, TENANT), {woo_id}, utcnow()) == 2
        raise RuntimeError("killed")
    assert _keys(world, "pooled:") == []
    with world.engine.begin() as conn:
        assert links.start_pools(conn, TENANT, pool_members(conn, TENANT), {woo_id}, utcnow()) == 2
        conn.execute(stock_links.delete().where(mine))
        store.bulk_insert(conn, stock_links, before)
    opened = _keys(world, "pooled:")
    assert len(opened) == 4
    world.stock()
    world.cycle()
    assert _keys(world, "pooled:") == opened
    assert _on_hand(world, ids) == {"S": 6, "M": 6, "L": 6}
    assert woo.products[parent].stock_quantity == 6
    assert _shopify_levels(world, variants) == {"S": 6, "M": 6, "L": 6}


@pytest.mark.parametrize("pool", ["goes on", "ends"])
def test_a_variation_added_with_stock_of_its_own_as_a_pool_changes_was_never_in_it(
    world: StockWorld, pool: str
) -> None:
    """Prevents a variation the merchant adds with stock of its own, in the same change as a pool goes on or ends,
    being carried over as if it had left the pool: Shopify sells XL (10) next to the pooled S/M/L (5), WooCommerce
    adds XL with 6. Before the fix XL's on hand became WooCommerce's 6 (a carry-over), and a pool that went on
    took XL's 10 on top of its 5 (15 in every shop). Now XL is a new item in WooCommerce: its reading is a base, the
    push writes the hub's 10 there, and the pool keeps its number (5, or each size's own when it ends)."""
    parent, variations, variants = _beanie(world, 5)
    shopify = world.shop("shopify").store
    xl = shopify.add_product("Wool Beanie XL", [{"sku": "BEANIE-XL", "price": "10.00"}]).variant_ids[0]
    shopify.set_stock(xl, 10)
    world.pull(("products", "inventory"))
    world.stock()
    ids = _hub_ids(world)
    assert _on_hand(world, ids) == {"S": 5, "M": 5, "L": 5, "XL": 10}

    sleep_into_next_second()
    woo = world.shop("woocommerce").store
    if pool == "ends":
        woo.update_product(parent, {"manage_stock": False})
        for size, quantity in zip(SIZES, (3, 4, 1), strict=True):
            woo.update_variation(parent, variations[size], {"manage_stock": True, "stock_quantity": quantity})
    woo_xl = woo.create_variation(
        parent,
        {"sku": "BEANIE-XL", "regular_price": "10.00", "attributes": [{"name": "Size", "option": "XL"}],
         "manage_stock": True, "stock_quantity": 6},
    ).id  # fmt: skip
    world.pull(("products", "orders", "inventory"))
    world.stock()
    world.cycle()
    expected = {"S": 3, "M": 4, "L": 1} if pool == "ends" else dict.fromkeys(SIZES, 5)
    assert _on_hand(world, ids) == {**expected, "XL": 10}
    assert woo.variations[woo_xl].stock_quantity == 10
    assert _shopify_levels(world, {**variants, "XL": xl}) == {**expected, "XL": 10}
    if pool == "goes on":
        assert woo.products[parent].stock_quantity == 5
    assert [k for k in _keys(world, "unpooled:") if f":{ids['XL']}:" in k] == []
