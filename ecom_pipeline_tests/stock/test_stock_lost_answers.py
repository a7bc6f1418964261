"""A stock write whose answer is lost: the shop applied it, we never recorded it (issue 11, a known gap).

The loss is deterministic, not timed: the emulator applies the stock write, then holds its answer back
(``FaultSwitches.hold_after_writes``); the test waits until it is held and SIGKILLs the ``ecom-pipeline stock push``
process, then lets the answer go (to nobody). The shop shows our new number, the link's base the old one. Before
the link remembered the number being written (``stock_links.pending_quantity``), the rerun booked that difference
as a shop adjustment (a movement nobody made) and the hub counted the sale twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select

from ecom_pipeline.stock.world import PLATFORMS, TENANT, StockWorld
from ecom_pipeline.warehouse.schema import hub_inventory, stock_links, stock_movements
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.stock.ledger_reads import on_hand

# The shop whose write is lost, and the shop where the sale that makes it write happens.
CASES = [("woocommerce", "prestashop"), ("shopify", "woocommerce"), ("prestashop", "shopify")]


def adjustments(world: StockWorld) -> list[tuple[int, str]]:
    """Shop adjustments booked from readings (``reading:`` keys): the spurious movement this file is about."""
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(stock_movements.c.delta, stock_movements.c.external_ref).where(
                stock_movements.c.reason == "shop_adjustment", stock_movements.c.source_key.like("reading:%")
            )
        )
        return [(int(d), str(ref)) for d, ref in rows]


def pending(world: StockWorld, platform: str) -> tuple[int | None, int | None]:
    """(base, pending) of the shared item's link in this shop."""
    with world.engine.connect() as conn:
        row = conn.execute(
            select(stock_links.c.base_quantity, stock_links.c.pending_quantity).where(
                stock_links.c.integration_id == world.ids[platform], stock_links.c.variant_id == world.variant_id()
            )
        ).one()
    return row.base_quantity, row.pending_quantity


def push_killed_after_write(world: StockWorld, platform: str) -> None:
    """``ecom-pipeline stock push`` in its own process, SIGKILLed once ``platform`` applied its stock write."""
    faults = world.shop(platform).faults
    faults.update({"hold_after_writes": 1, "hold_timeout_s": 120})
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecom_pipeline.cli", "--warehouse-url", world.url, "stock", "push", "--tenant", TENANT],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
    )
    try:
        held = faults.held.wait(timeout=120)
        assert held, f"the push never wrote {platform}: {proc.poll()} {proc.stdout.read() if proc.stdout else ''}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        faults.release_held()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize(("lost", "sold_in"), CASES, ids=[c[0] for c in CASES])
def test_a_stock_write_whose_answer_is_lost_is_not_a_shop_adjustment(
    world: StockWorld, lost: str, sold_in: str
) -> None:
    """Prevents double counting after a lost answer: the shop shows our own write, the rerun takes it for ours
    (no movement), on hand stays start - sold, and every shop converges."""
    world.stock()
    world.sell(sold_in)
    world.pull()
    push_killed_after_write(world, lost)
    assert world.shown()[lost] == 9  # the shop applied the write whose answer never came
    assert pending(world, lost) == (10, 9)  # the base is the old number; the write was recorded before it was sent
    world.cycle()
    world.cycle()
    assert adjustments(world) == []
    assert on_hand(world) == 9
    assert world.shown() == {p: 9 for p in PLATFORMS}
    assert pending(world, lost) == (9, None)


@pytest.mark.parametrize(("lost", "sold_in"), CASES[:2], ids=[c[0] for c in CASES[:2]])
def test_a_sale_after_the_lost_write_is_counted_once(world: StockWorld, lost: str, sold_in: str) -> None:
    """Prevents a sale counted twice when it lands after our lost write: the shop shows the write minus the sale;
    that is our write and the sale's order, not a shop adjustment on top of the order."""
    world.stock()
    world.sell(sold_in)
    world.pull()
    push_killed_after_write(world, lost)
    world.sell(lost)  # the shop: 9 - 1
    world.cycle()
    world.cycle()
    assert adjustments(world) == []
    assert on_hand(world) == 8
    assert world.shown() == {p: 8 for p in PLATFORMS}


def test_a_pending_write_that_never_landed_is_not_taken_for_one(world: StockWorld) -> None:
    """Prevents the opposite mistake: the process recorded the write it meant to send and died before sending it
    (the state written here is what that leaves). The shop still shows the old number: no movement, the rerun
    writes it."""
    world.stock()
    world.sell("woocommerce")
    world.pull()
    with world.engine.begin() as conn:
        conn.execute(
            stock_links.update()
            .where(stock_links.c.integration_id == world.ids["shopify"], stock_links.c.variant_id == world.variant_id())
            .values(pending_quantity=9, pending_at=utcnow())
        )
    world.cycle()
    assert adjustments(world) == []
    assert on_hand(world) == 9
    assert world.shown() == {p: 9 for p in PLATFORMS}
    assert pending(world, "shopify") == (9, None)


def test_a_sale_stamped_in_the_lost_writes_own_second_is_counted_once(world: StockWorld) -> None:
    """Prevents a flaky double count: Shopify stamps a level's ``updatedAt`` to the second, so a sale right after our
    lost write reads as stamped before it (the write was recorded at .999 of that second here). Such a reading may be
    either side of the write: the sale's order explains it with the write landed, so no shop adjustment."""
    world.stock()
    world.sell("woocommerce")
    world.pull()
    push_killed_after_write(world, "shopify")
    world.sell("shopify")  # the shop: 9 - 1, stamped to the second
    world.pull()
    with world.engine.begin() as conn:
        stamp = conn.execute(
            select(hub_inventory.c.source_updated_at).where(
                hub_inventory.c.integration_id == world.ids["shopify"], hub_inventory.c.variant_id == world.variant_id()
            )
        ).scalar_one()
        assert stamp is not None and stamp.microsecond == 0
        conn.execute(
            stock_links.update()
            .where(stock_links.c.integration_id == world.ids["shopify"], stock_links.c.variant_id == world.variant_id())
            .values(pending_at=stamp + timedelta(milliseconds=999))
        )
    world.stock()
    world.cycle()
    assert adjustments(world) == []
    assert on_hand(world) == 8
    assert world.shown() == {p: 8 for p in PLATFORMS}
