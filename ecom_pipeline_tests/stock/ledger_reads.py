"""What the stock ledger holds for the stock world's variant, read by the stock tests."""

from __future__ import annotations

from ecom_pipeline.stock import ledger
from ecom_pipeline.stock.world import TENANT, StockWorld


def on_hand(world: StockWorld) -> int:
    with world.engine.connect() as conn:
        return sum(ledger.on_hand(conn, TENANT, [(world.variant_id(), "main")]).values())
