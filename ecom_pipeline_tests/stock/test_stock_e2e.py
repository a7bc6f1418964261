"""The stock ledger end to end: three emulated shops (WooCommerce, Shopify, PrestaShop) over real HTTP, one shelf.

Orders are placed in the emulators as a buyer would; the hub reads them with the real extractors and pushes with
the real stock writers (``ecom_pipeline/stock/world.py``).
"""

from __future__ import annotations

from sqlalchemy import select

from ecom_pipeline.stock import ledger
from ecom_pipeline.stock.world import PLATFORMS, StockWorld
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
    with world.engine.connect() as conn:
        reasons = [r for (r,) in conn.execute(select(stock_movements.c.reason).order_by(stock_movements.c.id))]
    assert reasons.count("order") == 2
