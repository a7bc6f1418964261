"""The stock step's report: a failed write counts once per run, however many passes tried it (issue 11)."""

from __future__ import annotations

from sqlalchemy import update

from ecom_pipeline.stock.world import StockWorld
from ecom_pipeline.warehouse.schema import stock_links


def test_a_write_failing_in_every_pass_counts_once(world: StockWorld) -> None:
    """Prevents a failure count that grows with the passes: WooCommerce's item is gone (every pass fails it) and a
    Shopify sale found by the push's own read makes a second pass; the report (and the asset's metadata built
    from it) says 1 failed, while its per-pass rows show the item twice."""
    world.stock()
    with world.engine.begin() as conn:
        conn.execute(
            update(stock_links)
            .where(stock_links.c.integration_id == world.ids["woocommerce"])
            .where(stock_links.c.variant_id == world.variant_id())
            .values(external_item="999999")  # a product the shop does not have (deleted since)
        )
    world.sell("prestashop")
    world.pull()
    world.sell("shopify")  # not pulled: the Shopify writer's read finds it, a movement, so a second pass
    report = world.stock()
    woo = [s for s in report.shops if s.platform == "woocommerce" and s.outcome]
    assert len(woo) == 2 and all(len(s.outcome.failed) == 1 for s in woo if s.outcome), report.shops
    assert report.failed == 1
