"""The stock ledger end to end: three emulated shops (WooCommerce, Shopify, PrestaShop) over real HTTP, one shelf.

Orders are placed in the emulators as a buyer would; the hub reads them with the real extractors and pushes with
the real stock writers (``ecom_pipeline/stock/world.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from ecom_pipeline.stock import ledger
from ecom_pipeline.stock.world import PLATFORMS, StockWorld, sleep_into_next_second
from ecom_pipeline.warehouse.schema import stock_links, stock_movements


def on_hand(world: StockWorld) -> int:
    with world.engine.connect() as conn:
        return sum(ledger.on_hand(conn, "acme", [(world.variant_id(), "main")]).values())


def test_first_step_opens_the_ledger_and_every_shop_shows_it(world: StockWorld) -> None:
    """Prevents a ledger that starts empty (every shop pushed to 0) or counts each shop's stock as more units."""
    report = world.stock()
    with world.engine.connect() as conn:
        links = conn.execute(select(stock_links).where(stock_links.c.variant_id == world.variant_id())).all()
    assert sorted(link.integration_id for link in links) == sorted(world.ids.values())
    assert on_hand(world) == 10
    assert world.shown() == {p: 10 for p in PLATFORMS}
    assert report.writes == 0  # every shop already shows 10


def test_two_shops_selling_at_once_both_count_and_every_shop_follows(world: StockWorld) -> None:
    """Prevents the lost update of last-write-wins: two sales at the same moment in two shops end at 8 everywhere."""
    world.stock()
    world.sell("woocommerce")
    world.sell("shopify")
    report = world.cycle()
    assert on_hand(world) == 8, report
    assert world.shown() == {p: 8 for p in PLATFORMS}
    world.cycle()
    assert on_hand(world) == 8
    with world.engine.connect() as conn:
        query = select(stock_movements.c.reason).where(stock_movements.c.variant_id == world.variant_id())
        reasons = [r for (r,) in conn.execute(query)]
    assert reasons.count("order") == 2  # each sale is labelled by its order once the order is in the hub


def _sale_in_window(world: StockWorld, shop: str, landed: list[str]) -> Callable[[str], None]:
    """An ``after_read`` hook: one sale in ``shop`` the first time its writer has read it and not written yet."""

    def hook(platform: str) -> None:
        if platform == shop and not landed:
            landed.append(world.sell(platform))

    return hook


def test_many_rounds_of_concurrent_sales_lose_no_update(world: StockWorld) -> None:
    """Prevents lost updates under concurrency: rounds of sales in two or three shops at once, some landing after
    the hub read the shops and before it pushed (the push must refuse or re-read, never overwrite them); on hand
    stays start - sold and every shop converges on it."""
    world.stock()
    with world.engine.begin() as conn:  # a stock count: 40 on the shelf
        ledger.hub_movement(conn, "acme", variant_id=world.variant_id(), location="main", count=40, note="count",
                            key="count:start", now=ledger_now())  # fmt: skip
    world.stock()
    assert world.shown() == {p: 40 for p in PLATFORMS}
    sold = 0
    rounds = [("woocommerce", "shopify"), ("shopify", "prestashop"), ("woocommerce", "prestashop", "shopify")]
    for n, shops in enumerate(rounds * 2):
        for platform in shops:
            world.sell(platform)
            sold += 1
        world.pull()
        if n % 2:
            world.sell("shopify")  # after the hub read the shops, before the push: the push's own read sees it
            sold += 1
        landed: list[str] = []
        # Between a writer's read and its write: Shopify refuses its stale compare, WooCommerce and PrestaShop
        # overwrite the shop's number (the order still counts in the ledger).
        world.stock(after_read=_sale_in_window(world, ("shopify", "woocommerce", "prestashop")[n % 3], landed))
        sold += len(landed)
        world.pull()
        world.stock()
        assert on_hand(world) == 40 - sold, f"round {n}"
    world.cycle()
    assert on_hand(world) == 40 - sold
    assert world.shown() == {p: 40 - sold for p in PLATFORMS}


def test_an_order_read_twice_counts_once(world: StockWorld) -> None:
    """Prevents double counting: the same order applied again (a webhook then the poll, or a full re-read) is one
    hub order, and its movement is keyed by its line: on hand moves once."""
    world.stock()
    world.sell("woocommerce", 2)
    world.cycle()
    assert on_hand(world) == 8
    from ecom_pipeline.warehouse.schema import sync_cursors

    with world.engine.begin() as conn:
        conn.execute(sync_cursors.delete())  # the next read starts from scratch: every order staged again
    world.cycle()
    world.cycle()
    assert on_hand(world) == 8
    assert world.shown() == {p: 8 for p in PLATFORMS}


def test_cancel_gives_the_units_back_once(world: StockWorld) -> None:
    """Prevents a cancel that restocks twice (read twice) or never: the shop's cancel is one cancel movement."""
    world.stock()
    order_id = world.sell("woocommerce", 3)
    world.cycle()
    assert world.shown() == {p: 7 for p in PLATFORMS}
    sleep_into_next_second()  # the shop stamps the order to the second: a change in the same second reads as no change
    world.shop("woocommerce").store.update_order(int(order_id), {"status": "cancelled"})
    world.cycle()
    world.cycle()
    assert on_hand(world) == 10
    assert world.shown() == {p: 10 for p in PLATFORMS}
    with world.engine.connect() as conn:
        reasons = sorted(r for (r,) in conn.execute(select(stock_movements.c.reason)) if r in ("order", "cancel"))
    assert reasons == ["cancel", "order"]


def test_a_refund_with_restock_comes_back_to_every_shop(world: StockWorld) -> None:
    """Prevents a restock lost because no order movement explains it: the shop's higher number is a movement."""
    world.stock()
    order = world.shop("shopify").store.add_order(
        {"line_items": [{"variant_id": world.shelf.shopify_variant, "quantity": 2}]}
    )
    world.cycle()
    assert on_hand(world) == 8
    sleep_into_next_second()  # the shop stamps to the second: a change in the same second reads as no change
    world.shop("shopify").store.refund_order(order.id, restock=True)
    world.cycle()
    assert on_hand(world) == 10
    assert world.shown() == {p: 10 for p in PLATFORMS}


@pytest.mark.parametrize("api_version", ["2026-04", "2026-01"])
def test_shopify_refuses_a_stale_compare_and_the_push_recomputes(world: StockWorld, api_version: str) -> None:
    """Prevents a blind overwrite: a sale lands in Shopify after the writer read it and before it wrote; the
    compare value is stale (changeFromQuantity from 2026-04, compareQuantity on 2026-01), Shopify refuses, the
    writer re-reads, records the sale and writes the recomputed number; the order arriving later counts once."""
    world.set_settings("shopify", api_version=api_version)
    world.stock()
    world.sell("woocommerce")
    world.pull()
    landed: list[str] = []
    report = world.stock(after_read=_sale_in_window(world, "shopify", landed))
    shopify = next(s for s in report.shops if s.platform == "shopify" and s.outcome)
    assert shopify.outcome is not None and shopify.outcome.refusals == 1
    assert on_hand(world) == 8
    world.cycle()  # the Shopify order arrives: counted once (the refused write's re-read had counted it)
    assert on_hand(world) == 8
    assert world.shown() == {p: 8 for p in PLATFORMS}


def test_buffers_fixed_and_percent_and_per_product(world: StockWorld) -> None:
    """Prevents a buffer applied to the wrong shop or rounded away: 2 units for WooCommerce, 25% (rounded up) for
    PrestaShop, and a per-product buffer on Shopify's link that overrides its shop's."""
    world.set_settings("woocommerce", stock_buffer="2")
    world.set_settings("prestashop", stock_buffer="25%")
    world.stock()
    with world.engine.begin() as conn:
        conn.execute(
            stock_links.update()
            .where(stock_links.c.integration_id == world.ids["shopify"], stock_links.c.variant_id == world.variant_id())
            .values(buffer="1")
        )
    world.stock()
    assert world.shown() == {"woocommerce": 8, "prestashop": 7, "shopify": 9}
    world.sell("woocommerce", 7)  # Woo shows 1; on hand 3
    world.cycle()
    assert on_hand(world) == 3
    assert world.shown() == {"woocommerce": 1, "prestashop": 2, "shopify": 2}


def test_an_oversell_is_recorded_with_its_orders(world: StockWorld) -> None:
    """Prevents a hidden oversell: the last units sold in two shops at once take on hand below zero; the hub
    records it with both orders, shows 0 everywhere, and closes it when stock comes back."""
    from ecom_pipeline.stock.oversells import open_oversells

    world.stock()
    world.sell("woocommerce", 6)
    world.sell("prestashop", 6)
    world.cycle()
    assert on_hand(world) == -2
    with world.engine.connect() as conn:
        found = open_oversells(conn, "acme")
    assert len(found) == 1 and found[0].on_hand == -2
    assert sorted(o["quantity"] for o in found[0].orders) == [6, 6]
    assert {o["integration_id"] for o in found[0].orders} == {world.ids["woocommerce"], world.ids["prestashop"]}
    assert world.shown() == {p: 0 for p in PLATFORMS} | {"woocommerce": 0, "prestashop": 0}
    with world.engine.begin() as conn:
        ledger.hub_movement(conn, "acme", variant_id=world.variant_id(), location="main", count=5, note="recount",
                            key="count:test", now=ledger_now())  # fmt: skip
    world.stock()
    with world.engine.connect() as conn:
        assert open_oversells(conn, "acme") == []
    assert world.shown() == {p: 5 for p in PLATFORMS}


def test_a_process_killed_between_a_movement_and_its_push_converges(world: StockWorld) -> None:
    """Prevents a lost push: movements recorded, then the process dies before writing any shop (the dry run records
    and writes nothing); the next run pushes exactly what differs."""
    world.stock()
    world.sell("prestashop", 4)
    world.pull()
    world.stock(dry_run=True)  # movements recorded, no shop written: what a kill after prepare leaves
    assert on_hand(world) == 6 and world.shown()["woocommerce"] == 10
    report = world.stock()
    assert world.shown() == {p: 6 for p in PLATFORMS}
    assert report.writes == 2  # the two shops whose number changed; PrestaShop already shows 6


def ledger_now() -> Any:
    from ecom_pipeline.warehouse.types import utcnow

    return utcnow()
