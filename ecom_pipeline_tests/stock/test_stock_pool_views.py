"""The stock views analysts read (``stock_on_hand``, ``stock_available``, ``stock_pool_members``: migration 0015,
``stock/views.py``) count a shared pool as one stock unit, as ``stock levels`` and the push do.

The Beanie of ``test_stock_pools.py`` (S, M and L sharing one WooCommerce pool of 5; Shopify selling the sizes as
items of their own) next to the stock world's shelf item (no pool). Real emulators over HTTP, the real stock step,
the suite's warehouse backend; ``test_stock_views_sql.py`` covers both backends in one session.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.stock import ledger
from ecom_pipeline.stock.levels import levels
from ecom_pipeline.stock.links import stock_integrations
from ecom_pipeline.stock.world import TENANT, StockWorld, sleep_into_next_second
from ecom_pipeline.warehouse.schema import stock_links
from ecom_pipeline_tests.stock.test_stock_pool_changes import _shopify_levels
from ecom_pipeline_tests.stock.test_stock_pools import SIZES, _beanie, _hub_ids, _on_hand
from ecom_pipeline_tests.stock.test_stock_surface import _printed_levels


def _on_hand_view(world: StockWorld) -> dict[tuple[int, str], tuple[int, int, int, int]]:
    """``stock_on_hand`` by (variant, location): on hand, unit variant, unit variants, own on hand."""
    with world.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT variant_id, location, on_hand, unit_variant_id, unit_variants, own_on_hand "
                "FROM stock_on_hand WHERE tenant_id = :t"
            ),
            {"t": TENANT},
        ).all()
    return {(int(r[0]), str(r[1])): (int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows}


def _available_view(world: StockWorld) -> dict[int, tuple[int, int, int | None, int | None, int]]:
    """``stock_available`` by link: on hand, committed, buffer, available, unit variant."""
    with world.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT link_id, on_hand, committed, buffer, available, unit_variant_id FROM stock_available "
                "WHERE tenant_id = :t"
            ),
            {"t": TENANT},
        ).all()
    return {int(r[0]): (int(r[1]), int(r[2]), r[3], r[4], int(r[5])) for r in rows}


def _assert_views_are_the_ledgers(world: StockWorld) -> None:
    """Every ``stock_on_hand`` row is ``ledger.on_hand`` of its key, summing one row per unit (or every row's own
    sum) gives the ledger's total once, and every ``stock_available`` row is ``levels()`` of its link."""
    view = _on_hand_view(world)
    with world.engine.connect() as conn:
        hand = ledger.on_hand(conn, TENANT, list(view))
        units = ledger.on_hand(conn, TENANT)  # one entry per stock unit
        shops = {int(s.id): s for s in stock_integrations(conn, TENANT)}
        links = [r for r in conn.execute(select(stock_links)) if int(r.integration_id) in shops]
        numbers = levels(conn, TENANT, links, shops)
    assert {key: row[0] for key, row in view.items()} == hand
    per_unit = {(v, loc): row[0] for (v, loc), row in view.items() if v == row[1]}
    assert per_unit == {key: n for key, n in units.items() if key in per_unit}
    assert sum(per_unit.values()) == sum(row[3] for row in view.values()) == sum(units.values())
    available = _available_view(world)
    assert {link_id: (n.on_hand, n.committed, n.buffer, n.available) for link_id, n in numbers.items()} == {
        link_id: row[:4] for link_id, row in available.items()
    }


def test_the_views_show_a_pools_number_on_every_variant_and_count_it_once(
    world: StockWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents analysts reading a pooled variant's own movements as its stock (before 0015, after a pool of 5 for
    S/M/L sold one M: S 5, M -1, L no row, where `stock levels` and every shop showed 4): each size shows the pool's
    4 in ``stock_on_hand`` and ``stock_available``, equal to `stock levels`, to the shops after the push and to
    the ledger; the pool is one unit (one row where ``variant_id = unit_variant_id``); the shelf item (no pool) is
    its own unit as before."""
    parent, variations, variants = _beanie(world, 5)
    world.pull(("products", "inventory"))
    world.stock()
    ids = _hub_ids(world)
    sleep_into_next_second()
    woo = world.shop("woocommerce").store
    woo.add_order(
        {"line_items": [{"product_id": parent, "variation_id": variations["M"], "quantity": 1}], "set_paid": True}
    )
    world.cycle()
    world.cycle()
    assert _on_hand(world, ids) == dict.fromkeys(SIZES, 4)
    assert woo.products[parent].stock_quantity == 4
    assert _shopify_levels(world, variants) == dict.fromkeys(SIZES, 4)

    lowest = min(ids.values())
    view = _on_hand_view(world)
    assert {s: view[(v, "main")][:3] for s, v in ids.items()} == dict.fromkeys(SIZES, (4, lowest, 3))
    own = {s: view[(v, "main")][3] for s, v in ids.items()}
    assert own[next(s for s, v in ids.items() if v == lowest)] == 5 and own["M"] == -1 and sum(own.values()) == 4
    shelf = (world.variant_id(), "main")
    assert view[shelf][1:3] == (world.variant_id(), 1) and view[shelf][0] == view[shelf][3]
    with world.engine.connect() as conn:
        members = conn.execute(
            text("SELECT variant_id, unit_variant_id, link_id FROM stock_pool_members WHERE tenant_id = :t"),
            {"t": TENANT},
        ).all()
        pool_link = conn.execute(
            select(stock_links.c.id).where(stock_links.c.integration_id == world.ids["woocommerce"])
            .where(stock_links.c.variant_id.in_(ids.values()))
        ).scalar_one()  # fmt: skip
    assert sorted(members) == sorted((v, lowest, pool_link) for v in ids.values())

    available = _available_view(world)
    beanie = {
        link_id: row for link_id, row in available.items() if row[4] == lowest
    }  # Woo's pool link and Shopify's three
    assert len(beanie) == 4 and {row[:4] for row in beanie.values()} == {(4, 0, 0, 4)}
    capsys.readouterr()
    assert cli_main(["--warehouse-url", world.url, "stock", "levels", "--tenant", TENANT, "--limit", "1000"]) == 0
    printed = [r for r in _printed_levels(capsys.readouterr().out) if r["sku"].startswith("BEANIE-")]
    assert len(printed) == 4 and {(r["on hand"], r["available"], r["shop shows"]) for r in printed} == {("4", "4", "4")}
    _assert_views_are_the_ledgers(world)


def test_a_pool_that_ends_leaves_the_views_per_variation(world: StockWorld) -> None:
    """Prevents the views holding on to a pool the merchant ended: after a pool of 5 sold one M and WooCommerce
    went back to stock per variation (S=3, M=4, L=1), each size is its own unit in the views with the ledger's
    number for it, and nothing is listed in ``stock_pool_members``."""
    parent, variations, variants = _beanie(world, 5)
    world.pull(("products", "inventory"))
    world.stock()
    ids = _hub_ids(world)
    sleep_into_next_second()
    world.shop("shopify").store.add_order({"line_items": [{"variant_id": variants["M"], "quantity": 1}]})
    world.cycle()
    world.cycle()
    _assert_views_are_the_ledgers(world)
    assert {s: _on_hand_view(world)[(v, "main")][0] for s, v in ids.items()} == dict.fromkeys(SIZES, 4)

    sleep_into_next_second()
    woo = world.shop("woocommerce").store
    woo.update_product(parent, {"manage_stock": False})
    for size, quantity in zip(SIZES, (3, 4, 1), strict=True):
        woo.update_variation(parent, variations[size], {"manage_stock": True, "stock_quantity": quantity})
    world.pull(("products", "orders", "inventory"))
    world.stock()
    world.cycle()
    assert _on_hand(world, ids) == {"S": 3, "M": 4, "L": 1}
    view = _on_hand_view(world)
    assert {s: view[(v, "main")] for s, v in ids.items()} == {
        s: (n, ids[s], 1, n) for s, n in zip(SIZES, (3, 4, 1), strict=True)
    }
    with world.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM stock_pool_members")).scalar_one() == 0
    _assert_views_are_the_ledgers(world)
