"""Cancelled orders give back only what their shop put back on the shelf (``stock/ledger.py``, ``stock/refunds.py``).

Shopify cancels with ``orderCancel(restock:)`` ("Restock items"): without a restock its levels do not move, so the
ledger must not either; what a cancel restocks comes as the cancel's refund lines (restock type ``cancel``).
Real emulators over HTTP (the cancel is the GraphQL mutation, sent with the real client), the real extractors and
stock writers, both warehouse backends. WooCommerce's cancel (it gives back what each line still holds) is
``test_stock_refunds.test_a_cancel_after_a_refund_restock_gives_back_only_the_rest``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ecom_pipeline.stock.world import PLATFORMS, TENANT, StockWorld, sleep_into_next_second
from ecom_pipeline.warehouse.schema import stock_movements
from ecom_pipeline_tests.stock.ledger_reads import on_hand

CANCEL = """mutation Cancel($id: ID!, $restock: Boolean!, $refund: OrderCancelRefundMethodInput) {
  orderCancel(orderId: $id, reason: CUSTOMER, restock: $restock, refundMethod: $refund, staffNote: "test") {
    job { id done }
    orderCancelUserErrors { code field message }
    userErrors { field message }
  }
}"""


def _client(world: StockWorld) -> Any:
    from ecom_pipeline.platforms.shopify.writer import make_client
    from ecom_pipeline.warehouse import store

    with world.engine.connect() as conn:
        integration = next(s for s in store.list_integrations(conn, tenant_id=TENANT) if s.platform == "shopify")
        credentials = store.credentials_loader(lambda: world.cipher)(conn, int(integration.id))
    return make_client(integration, credentials)


def cancel(world: StockWorld, order_id: str, *, restock: bool, refund: bool = False) -> dict[str, Any]:
    """The merchant cancels a Shopify order (``orderCancel``), with or without "Restock items"."""
    variables = {
        "id": f"gid://shopify/Order/{order_id}",
        "restock": restock,
        "refund": {"originalPaymentMethodsRefund": True} if refund else None,
    }
    answer: dict[str, Any] = _client(world).execute(CANCEL, variables, key="OrderCancel")["orderCancel"]
    return answer


def movements(world: StockWorld) -> list[tuple[str, int]]:
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(stock_movements.c.reason, stock_movements.c.delta)
            .where(stock_movements.c.variant_id == world.variant_id(), stock_movements.c.reason != "import")
            .order_by(stock_movements.c.id)
        )
        return [(str(r), int(d)) for r, d in rows]


def test_a_shopify_cancel_gives_back_only_what_it_restocked(world: StockWorld) -> None:
    """Prevents a cancel without restock giving the units back to every shop (the ledger above the shelf: Shopify
    keeps its level when "Restock items" is unticked): one unit cancelled without restock stays sold everywhere;
    two units cancelled with restock (and their money refunded) come back everywhere, once, however often the
    orders are read."""
    world.stock()
    kept = world.sell("shopify", 1)
    world.cycle()
    assert world.shown() == {p: 9 for p in PLATFORMS}
    sleep_into_next_second()  # orders are read by updated_at, to the second
    answer = cancel(world, kept, restock=False)
    assert answer["orderCancelUserErrors"] == [] and answer["job"]["done"] is True
    world.cycle()
    world.cycle()
    assert on_hand(world) == 9
    assert world.shown() == {p: 9 for p in PLATFORMS}

    back = world.sell("shopify", 2)
    world.cycle()
    assert world.shown() == {p: 7 for p in PLATFORMS}
    sleep_into_next_second()
    assert cancel(world, back, restock=True, refund=True)["orderCancelUserErrors"] == []
    world.cycle()
    world.cycle()
    assert on_hand(world) == 9
    assert world.shown() == {p: 9 for p in PLATFORMS}
    world.cycle()
    assert movements(world) == [("order", -1), ("order", -2), ("refund_restock", 2)]


def test_a_shopify_cancel_with_restock_and_no_money_back_is_read_by_the_poll(world: StockWorld) -> None:
    """Prevents a restocking cancel that refunds nothing (``totalRefundedSet`` 0) going unread by the poll: its
    refund lines are asked for every cancelled order, so the restock is a movement, not a shop adjustment."""
    world.stock()
    order_id = world.sell("shopify", 3)
    world.cycle()
    sleep_into_next_second()
    assert cancel(world, order_id, restock=True)["orderCancelUserErrors"] == []
    world.cycle()
    world.cycle()
    assert on_hand(world) == 10
    assert world.shown() == {p: 10 for p in PLATFORMS}
    assert movements(world) == [("order", -3), ("refund_restock", 3)]


def test_the_emulated_order_cancel_records_the_cancel_as_shopify_does(world: StockWorld) -> None:
    """Prevents an emulator that cancels differently from Shopify: a cancel records the lines as a refund
    ``Order canceled`` (restock types ``NO_RESTOCK`` without restock, as the documented REST cancel answer), leaves
    the level as it is without restock, and refuses a second cancel and an unknown order with
    ``orderCancelUserErrors``."""
    shop = world.shop("shopify").store
    order_id = world.sell("shopify", 2)
    before = world.shown()["shopify"]
    assert cancel(world, order_id, restock=False)["orderCancelUserErrors"] == []
    assert world.shown()["shopify"] == before
    order = shop.order(int(order_id))
    assert order.cancelled_at is not None and order.cancel_reason == "customer"
    assert [(r.note, [(rl.quantity, rl.restock_type) for rl in r.lines], r.total) for r in order.refunds] == [
        ("Order canceled", [(2, "NO_RESTOCK")], 0)
    ]
    again = cancel(world, order_id, restock=True)
    assert again["job"] is None
    assert [(e["code"], e["field"]) for e in again["orderCancelUserErrors"]] == [("INVALID", ["orderId"])]
    assert world.shown()["shopify"] == before
    missing = cancel(world, "999999999", restock=True)
    assert [(e["code"], e["field"]) for e in missing["orderCancelUserErrors"]] == [("NOT_FOUND", ["orderId"])]
    read = _client(world).execute(
        f'query {{ order(id: "gid://shopify/Order/{order_id}") {{ cancelledAt cancelReason }} }}', key="Probe"
    )["order"]
    assert read["cancelledAt"] is not None and read["cancelReason"] == "CUSTOMER"
