"""Refunds with a restock become ``refund_restock`` movements, once each (issue 11, ``stock/refunds.py``).

WooCommerce end to end: refunds made through the emulator's refund controller (the code behind
``POST /orders/{id}/refunds``), read back by the real extractor. Shopify end to end by the poll (the order pull asks
a refunded order's refunds), and its parser on the recorded REST order (platform-samples) and on the emulator's
GraphQL answer over HTTP.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ecom_pipeline.platforms.shopify import stock as shopify_stock
from ecom_pipeline.platforms.woocommerce import stock as woo_stock
from ecom_pipeline.stock.world import PLATFORMS, TENANT, StockWorld, sleep_into_next_second
from ecom_pipeline.warehouse.schema import stock_movements, sync_cursors
from ecom_pipeline_tests.paths import fixtures_dir
from ecom_pipeline_tests.stock.ledger_reads import on_hand

SAMPLES = fixtures_dir() / "platform-samples"
RECORDED = fixtures_dir() / "recorded" / "woocommerce-10.0.2"


def movements(world: StockWorld) -> list[tuple[str, int, str]]:
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(stock_movements.c.reason, stock_movements.c.delta, stock_movements.c.source_key)
            .where(stock_movements.c.variant_id == world.variant_id())
            .order_by(stock_movements.c.id)
        )
        return [(str(r), int(d), str(k)) for r, d, k in rows]


def refund(world: StockWorld, order_id: str, quantity: int, *, restock: bool) -> None:
    """A partial refund of ``quantity`` units of the order's line, as ``POST /orders/{id}/refunds`` makes it."""
    store = world.shop("woocommerce").store
    order = store.get_order(int(order_id))
    line = order.line_items[0]
    total = f"{line.price * quantity:.2f}"
    body = {"amount": total, "reason": "damaged", "api_refund": False, "api_restock": restock,
            "line_items": [{"id": line.id, "quantity": quantity, "refund_total": total}]}  # fmt: skip
    store.create_refund(int(order_id), body)


def test_woocommerce_refund_restocks_are_movements_counted_once(world: StockWorld) -> None:
    """Prevents a restock booked as a shop adjustment, or counted again on every read of the refunded order: two
    partial refunds with restock are two ``refund_restock`` movements, a refund without restock moves nothing, and
    re-reading every order changes nothing."""
    world.stock()
    order_id = world.sell("woocommerce", 3)
    world.cycle()
    assert world.shown() == {p: 7 for p in PLATFORMS}
    sleep_into_next_second()  # the shop stamps orders to the second: a change in the same second reads as no change
    refund(world, order_id, 1, restock=True)
    world.cycle()
    world.cycle()
    assert on_hand(world) == 8
    assert world.shown() == {p: 8 for p in PLATFORMS}
    sleep_into_next_second()
    refund(world, order_id, 1, restock=False)  # money back, the unit stays with the buyer
    world.cycle()
    assert on_hand(world) == 8
    sleep_into_next_second()
    refund(world, order_id, 1, restock=True)
    world.cycle()
    with world.engine.begin() as conn:
        conn.execute(sync_cursors.delete())  # the next read starts from scratch: every order staged again
    world.cycle()
    world.cycle()
    assert on_hand(world) == 9
    assert world.shown() == {p: 9 for p in PLATFORMS}
    seen = movements(world)
    restocks = [(d, k.rsplit(":", 1)[1]) for r, d, k in seen if r == "refund_restock"]
    assert restocks == [(1, "1"), (1, "2")]  # restock:<line>:<units so far>
    assert [m for m in seen if m[0] == "shop_adjustment"] == []


def test_a_cancel_after_a_refund_restock_gives_back_only_the_rest(world: StockWorld) -> None:
    """Prevents a unit restocked twice: one of three units refunded with restock, then the order cancelled (the
    shop gives back the two it still held): +1 then +2, on hand back at the start."""
    world.stock()
    order_id = world.sell("woocommerce", 3)
    world.cycle()
    sleep_into_next_second()
    refund(world, order_id, 1, restock=True)
    world.cycle()
    assert on_hand(world) == 8
    sleep_into_next_second()
    world.shop("woocommerce").store.update_order(int(order_id), {"status": "cancelled"})
    world.cycle()
    world.cycle()
    assert on_hand(world) == 10
    assert world.shown() == {p: 10 for p in PLATFORMS}
    moved = [(r, d) for r, d, _ in movements(world) if r != "import"]
    assert moved == [("order", -3), ("refund_restock", 1), ("cancel", 2)]


def test_shopify_refund_restocks_read_by_the_poll_are_movements_counted_once(world: StockWorld) -> None:
    """Prevents a polled Shopify shop's restock being booked as a shop adjustment: the order pull asks a refunded
    order's refunds (``OrderRefunds``), so a refund with restock is a ``refund_restock`` movement, one without moves
    nothing, and re-reading every order changes nothing."""
    world.stock()
    order_id = world.sell("shopify", 3)
    world.cycle()
    assert world.shown() == {p: 7 for p in PLATFORMS}
    shop = world.shop("shopify").store
    line_id = shop.order(int(order_id)).line_items[0].id
    sleep_into_next_second()  # orders are read by updated_at to the second
    shop.refund_order(int(order_id), [(line_id, 1)], restock=True)
    world.cycle()
    world.cycle()
    assert on_hand(world) == 8
    assert world.shown() == {p: 8 for p in PLATFORMS}
    sleep_into_next_second()
    shop.refund_order(int(order_id), [(line_id, 1)], restock=False)
    world.cycle()
    with world.engine.begin() as conn:
        conn.execute(sync_cursors.delete())  # every order read and staged again
    world.cycle()
    world.cycle()
    assert on_hand(world) == 8
    assert world.shown() == {p: 8 for p in PLATFORMS}
    seen = movements(world)
    assert [(d, k.rsplit(":", 1)[1]) for r, d, k in seen if r == "refund_restock"] == [(1, "1")]
    assert [m for m in seen if m[0] == "shop_adjustment"] == []


def _body(path: Path) -> Any:
    data = json.loads(path.read_text())
    return data["response"]["body"] if "response" in data else data


def test_woocommerce_parser_reads_the_recorded_partially_refunded_order() -> None:
    """Prevents reading restocks from the wrong place: the recorded order (WooCommerce 10.0.2) after a refund of
    one unit with ``api_restock`` carries ``_restock_refunded_items`` 1 on that line, nothing on the other."""
    order = _body(RECORDED / "orders-get-partially-refunded.json")
    assert woo_stock.restocked_lines(order) == {"15": (1, None)}


def test_shopify_parser_reads_rest_refund_lines_with_their_restock_type() -> None:
    """Prevents a restock type ignored or a ``no_restock`` line counted: the documented REST order has two
    ``legacy_restock`` refund lines; a ``no_restock`` line adds nothing."""
    order = _body(SAMPLES / "shopify" / "rest_2025-07_order.json")
    order = order.get("order", order)
    found = shopify_stock.restocked_lines(order)
    assert {line: units for line, (units, _) in found.items()} == {"703073504": 1, "466157049": 1}
    assert all(when is not None and when.tzinfo is not None for _, when in found.values())
    order["refunds"][0]["refund_line_items"][0]["restock_type"] = "no_restock"
    assert {line: units for line, (units, _) in shopify_stock.restocked_lines(order).items()} == {"466157049": 1}


def test_shopify_parser_reads_the_graphql_refunds_the_emulator_serves(world: StockWorld) -> None:
    """Prevents a parser that only knows one shape: an order refunded with restock in the Shopify emulator, read
    over HTTP with the real client (``refunds { refundLineItems { restockType } }``), parses to its units."""
    from ecom_pipeline.platforms.shopify.writer import make_client
    from ecom_pipeline.warehouse import store

    shop = world.shop("shopify").store
    order = shop.add_order({"line_items": [{"variant_id": world.shelf.shopify_variant, "quantity": 2}]})
    line_id = order.line_items[0].id
    shop.refund_order(order.id, [(line_id, 1)], restock=True)
    shop.refund_order(order.id, [(line_id, 1)], restock=False)
    with world.engine.connect() as conn:
        integration = next(s for s in store.list_integrations(conn, tenant_id=TENANT) if s.platform == "shopify")
        credentials = store.credentials_loader(lambda: world.cipher)(conn, int(integration.id))
    client = make_client(integration, credentials)
    fields = "refunds { createdAt refundLineItems(first: 10) { nodes { quantity restockType lineItem { id } } } }"
    query = f'query {{ order(id: "gid://shopify/Order/{order.id}") {{ {fields} }} }}'
    data = client.execute(query, key="RefundsProbe")
    found = shopify_stock.restocked_lines(data["order"])
    assert {line: units for line, (units, _) in found.items()} == {str(line_id): 1}
