"""REST/webhook bodies of the Shopify emulator against the documented samples and against its own GraphQL side.

Consumers take a webhook body instead of re-reading the order only when the body can give the same record the
GraphQL pull gives: line discounts as ``discount_allocations`` and refunds with their ``transactions``. These tests
pin that the emulator's bodies carry both, in the documented shape, with the same amounts as GraphQL, and that
stock taken by an order (or put back by a restocking refund) is announced with ``inventory_levels/update``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline.platforms.shopify.client import assemble_bulk
from ecom_pipeline.platforms.shopify.transform import order_to_canonical
from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.server import ShopHandle
from ecom_pipeline.sandbox.shopify.store import ShopifyStore, money
from ecom_pipeline_tests.sandbox.shopify.conftest import SAMPLES, ShopifyClient
from ecom_pipeline_tests.sandbox.shopify.webhook_receiver import CREATE_WEBHOOK, WebhookReceiver

LINE_MONEY = """query($id: ID!) { order(id: $id) {
  totalRefundedSet { shopMoney { amount } presentmentMoney { amount currencyCode } }
  currentTotalPriceSet { shopMoney { amount } presentmentMoney { amount } }
  currentSubtotalPriceSet { shopMoney { amount } presentmentMoney { amount } }
  lineItems(first: 50) { nodes { id quantity
    originalTotalSet { shopMoney { amount } presentmentMoney { amount } }
    discountedTotalSet { shopMoney { amount } presentmentMoney { amount } }
    totalDiscountSet { shopMoney { amount } presentmentMoney { amount } } } } } }"""


def _sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def _amount(bag: dict[str, Any], side: str = "shop_money") -> Decimal:
    return Decimal(str(bag[side]["amount"]))


class _Events:
    """A store listener: every (topic, body) the store emits, in order."""

    def __init__(self, store: ShopifyStore) -> None:
        self.store = store
        self.seen: list[tuple[str, dict[str, Any]]] = []
        store.listeners.append(self.on_event)

    def on_event(self, topic: str, payload: dict[str, Any]) -> None:
        self.seen.append((topic, json.loads(json.dumps(payload))))  # the body as delivered (JSON)

    def bodies(self, topic: str) -> list[dict[str, Any]]:
        return [body for t, body in self.seen if t == topic]

    def close(self) -> None:
        self.store.listeners.remove(self.on_event)


@pytest.fixture()
def events(shop: ShopHandle) -> Iterator[_Events]:
    ev = _Events(shop.store)
    yield ev
    ev.close()


def _discounted_order(store: ShopifyStore, currency: str) -> int:
    """An order in ``currency`` with a 10 % line discount and an odd fixed one (both kinds of application)."""
    variants = [v for v in store.variants.values() if store.levels.get(v.inventory_item_id)][:2]
    order = store.add_order(
        {
            "line_items": [
                {"variant_id": variants[0].id, "quantity": 3},
                {"variant_id": variants[1].id, "quantity": 2},
            ],
            "presentment_currency": currency,
        }
    )
    first, second = order.line_items
    first.discount = money(first.unit_price * first.quantity * Decimal("0.10"))
    second.discount = Decimal("1.23")
    return order.id


# ------------------------------------------------------------------------------------------------ 1. discounts


@pytest.mark.parametrize("currency", ["USD", "JPY", "EUR"])
def test_line_allocations_add_up_to_graphql_discounted_totals(
    client: ShopifyClient, shop: ShopHandle, currency: str
) -> None:
    """price x quantity - sum(discount_allocations) must be discountedTotalSet, in shop and presentment money."""
    store = shop.store
    order_id = _discounted_order(store, currency)
    body = store.rest_order(store.orders[order_id])
    node = client.gql(LINE_MONEY, {"id": f"gid://shopify/Order/{order_id}"})["data"]["order"]
    gql_lines = {n["id"]: n for n in node["lineItems"]["nodes"]}
    assert len(body["discount_applications"]) == 2
    for line in body["line_items"]:
        gql = gql_lines[line["admin_graphql_api_id"]]
        assert line["discount_allocations"], line
        for rest_side, gql_side in (("shop_money", "shopMoney"), ("presentment_money", "presentmentMoney")):
            allocated = sum((_amount(a["amount_set"], rest_side) for a in line["discount_allocations"]), Decimal(0))
            original = Decimal(gql["originalTotalSet"][gql_side]["amount"])
            discounted = Decimal(gql["discountedTotalSet"][gql_side]["amount"])
            assert allocated == original - discounted
            assert allocated == Decimal(gql["totalDiscountSet"][gql_side]["amount"])
            assert allocated == _amount(line["total_discount_set"], rest_side)
            assert _amount(line["price_set"], rest_side) * line["quantity"] - allocated == discounted
        assert sum(Decimal(a["amount"]) for a in line["discount_allocations"]) == Decimal(line["total_discount"])
        for allocation in line["discount_allocations"]:
            assert body["discount_applications"][allocation["discount_application_index"]]["target_type"] == "line_item"
    assert Decimal(body["total_discounts"]) == sum(Decimal(li["total_discount"]) for li in body["line_items"])


def test_discount_shapes_match_the_documented_bodies(shop: ShopHandle) -> None:
    """Allocation and application keys are the documented ones (rest order, orders/create, order create examples)."""
    store = shop.store
    body = store.rest_order(store.orders[_discounted_order(store, "USD")])
    documented = _sample("rest_2025-07_order.json")["order"]
    allocation_keys = set(documented["line_items"][0]["discount_allocations"][0])
    assert allocation_keys == {"amount", "amount_set", "discount_application_index"}
    for line in body["line_items"]:
        for allocation in line["discount_allocations"]:
            assert set(allocation) == allocation_keys
            assert set(allocation["amount_set"]) == {"shop_money", "presentment_money"}
            assert set(allocation["amount_set"]["shop_money"]) == {"amount", "currency_code"}
    # manual applications have title/description (order create examples), code ones have code (rest order)
    documented_application_keys = set(documented["discount_applications"][0]) | {"title", "description"}
    for application in body["discount_applications"]:
        assert set(application) <= documented_application_keys
        assert application["type"] == "manual" and application["value_type"] in ("percentage", "fixed_amount")
    webhook = _sample("webhook_orders_create.json")
    line_keys = {"discount_allocations", "total_discount", "total_discount_set", "price_set", "current_quantity"}
    assert line_keys <= set(webhook["line_items"][0]) and line_keys <= set(body["line_items"][0])
    assert {"discount_applications", "current_total_price_set", "current_subtotal_price_set"} <= set(webhook)
    assert {"discount_applications", "current_total_price_set", "current_subtotal_price_set"} <= set(body)


def test_undiscounted_lines_carry_empty_allocations(shop: ShopHandle) -> None:
    """Like the documented bodies, a line without discount has ``discount_allocations: []`` (not a missing key)."""
    store = shop.store
    plain = next(o for o in store.orders.values() if all(li.discount == 0 for li in o.line_items))
    body = store.rest_order(plain)
    assert body["discount_applications"] == []
    assert all(line["discount_allocations"] == [] for line in body["line_items"])


# ------------------------------------------------------------------------------------------------ 2. refunds


@pytest.mark.parametrize("currency", ["USD", "EUR"])
def test_refund_transactions_sum_to_the_refunded_amount(
    client: ShopifyClient, shop: ShopHandle, events: _Events, currency: str
) -> None:
    """refunds/create carries its refund transaction(s); they add up to GraphQL totalRefundedSet."""
    store = shop.store
    order_id = _discounted_order(store, currency)
    order = store.orders[order_id]
    first = order.line_items[0]
    refund = store.refund_order(order_id, [(first.id, 1)], note="Too small")
    (refund_body,) = events.bodies("refunds/create")
    node = client.gql(LINE_MONEY, {"id": f"gid://shopify/Order/{order_id}"})["data"]["order"]
    transactions = refund_body["transactions"]
    assert transactions, "a refund with money back has a refund transaction"
    for transaction in transactions:
        assert (transaction["kind"], transaction["status"], transaction["gateway"]) == ("refund", "success", "bogus")
        assert transaction["order_id"] == order_id and transaction["currency"] == order.presentment_currency
        assert transaction["admin_graphql_api_id"] == f"gid://shopify/OrderTransaction/{transaction['id']}"
    refunded = sum((Decimal(t["amount"]) for t in transactions), Decimal(0))
    # REST transactions are in the presentment currency (Shopify's multi-currency Transaction change)
    assert refunded == Decimal(node["totalRefundedSet"]["presentmentMoney"]["amount"]) == order.present(refund.total)
    assert node["totalRefundedSet"]["presentmentMoney"]["currencyCode"] == currency
    if currency == order.currency:
        assert refunded == Decimal(node["totalRefundedSet"]["shopMoney"]["amount"])
    refund_line = refund_body["refund_line_items"][0]
    assert refund_line["line_item_id"] == first.id and refund_line["line_item"]["id"] == first.id
    assert refund_line["restock_type"] == "no_restock" and refund_body["restock"] is False

    (order_body,) = events.bodies("orders/updated")
    assert [r["id"] for r in order_body["refunds"]] == [refund.id]
    assert order_body["refunds"][0]["transactions"] == transactions
    assert Decimal(order_body["current_total_price"]) == Decimal(node["currentTotalPriceSet"]["shopMoney"]["amount"])
    assert _amount(order_body["current_total_price_set"], "presentment_money") == Decimal(
        node["currentTotalPriceSet"]["presentmentMoney"]["amount"]
    )
    assert Decimal(order_body["current_subtotal_price"]) == Decimal(
        node["currentSubtotalPriceSet"]["shopMoney"]["amount"]
    )
    assert Decimal(order_body["total_price"]) - Decimal(order_body["current_total_price"]) == refund.total
    assert order_body["financial_status"] == "partially_refunded"
    line = next(li for li in order_body["line_items"] if li["id"] == first.id)
    assert line["current_quantity"] == first.quantity - 1


def test_refund_shapes_match_the_documented_bodies(shop: ShopHandle, events: _Events) -> None:
    """Refund, refund line item and transaction keys are documented ones (REST refund + refunds/create)."""
    store = shop.store
    order_id = _discounted_order(store, "USD")
    store.refund_order(order_id)
    (body,) = events.bodies("refunds/create")
    rest = _sample("rest_2025-07_refund.json")["refund"]
    webhook = _sample("webhook_refunds_create.json")
    assert set(body) <= set(rest) | set(webhook)
    assert {"id", "order_id", "created_at", "restock", "refund_line_items", "transactions"} <= set(body)
    documented_transaction = set(rest["transactions"][0]) | set(webhook["transactions"][0])
    for transaction in body["transactions"]:
        assert set(transaction) <= documented_transaction
        assert {"id", "kind", "status", "amount", "currency", "gateway", "order_id", "created_at"} <= set(transaction)
        assert isinstance(transaction["amount"], str)
    documented_line = set(rest["refund_line_items"][0]) | set(webhook["refund_line_items"][0])
    for refund_line in body["refund_line_items"]:
        assert set(refund_line) <= documented_line
        assert set(refund_line["line_item"]) <= set(webhook["refund_line_items"][0]["line_item"]) | {
            "admin_graphql_api_id",
            "current_quantity",
        }


def test_rest_order_refunds_read_like_graphql(client: ShopifyClient, shop: ShopHandle) -> None:
    """The consumer's transform gives the same order record from the body as from the GraphQL node (shop currency)."""
    store = shop.store
    order_id = _discounted_order(store, "USD")
    store.refund_order(order_id, [(store.orders[order_id].line_items[1].id, 1)])
    body = json.loads(json.dumps(store.rest_order(store.orders[order_id])))
    node = client.gql(q.ORDER_BY_ID_QUERY, {"id": f"gid://shopify/Order/{order_id}", "linesFirst": 50})
    from_body = order_to_canonical(body)
    from_graphql = order_to_canonical(node["data"]["order"])
    assert from_body.refunded_total == from_graphql.refunded_total > 0
    assert [(li.external_id, li.total) for li in from_body.lines] == [
        (li.external_id, li.total) for li in from_graphql.lines
    ]
    assert (from_body.total, from_body.discount_total, from_body.subtotal) == (
        from_graphql.total,
        from_graphql.discount_total,
        from_graphql.subtotal,
    )


def _bulk_order(client: ShopifyClient, clock: SandboxClock, order_id: int) -> dict[str, Any]:
    """The order as the bulk extract reads it: ``q.BULK_ORDERS`` run, its JSONL assembled like the client does."""
    run = client.gql(q.BULK_RUN_MUTATION, {"query": q.BULK_ORDERS})["data"]["bulkOperationRunQuery"]
    assert run["userErrors"] == [], run
    for _ in range(200):
        op = client.gql(q.BULK_OPERATION_QUERY, {"id": run["bulkOperation"]["id"]})["data"]["bulkOperation"]
        if op["status"] not in ("CREATED", "RUNNING"):
            break
        clock.advance(1)
        time.sleep(0.01)
    assert op["status"] == "COMPLETED", op
    lines = [
        json.loads(line) for line in requests.get(op["url"], verify=client.sb.ca_bundle, timeout=30).text.splitlines()
    ]
    orders = assemble_bulk(lines, q.BULK_CHILD_CONNECTIONS)
    return next(o for o in orders if o["id"] == f"gid://shopify/Order/{order_id}")


def test_code_and_order_level_discounts_give_the_same_line_totals_by_poll_bulk_and_webhook(
    client: ShopifyClient, shop: ShopHandle, clock: SandboxClock
) -> None:
    """Prevents wrong line totals on the GraphQL paths: ``discountedTotalSet`` leaves out order-level discounts (and
    code ones by default, 2026-04 schema), while the webhook body's ``discount_allocations`` carry every discount.
    The poll, the bulk extract and the webhook must all give price x quantity minus every discount; and the emulator
    must serve ``discountedTotalSet`` as Shopify does, so a pull that trusted it would show the difference."""
    store = shop.store
    first, second = [v for v in store.variants.values() if v.price > 5][:2]
    order = store.add_order(
        {
            "line_items": [
                {
                    "variant_id": first.id,
                    "quantity": 2,
                    "discount": "1.00",
                    "code_discount": "2.50",
                    "order_discount": "0.75",
                },
                {"variant_id": second.id, "quantity": 1, "code_discount": "1.10", "order_discount": "0.40"},
            ]
        }
    )
    expected = [
        first.price * 2 - Decimal("4.25"),
        second.price - Decimal("1.50"),
    ]
    body = json.loads(json.dumps(store.rest_order(order)))
    assert {c["code"] for c in body["discount_codes"]} == {store.DISCOUNT_CODE}
    poll = client.gql(q.ORDER_BY_ID_QUERY, {"id": f"gid://shopify/Order/{order.id}", "linesFirst": 50})
    bulk = _bulk_order(client, clock, order.id)
    for payload in (body, poll["data"]["order"], bulk):
        assert [li.total for li in order_to_canonical(payload).lines] == expected
    served = client.gql(
        """query($id: ID!) { order(id: $id) { lineItems(first: 5) { nodes {
          discountedTotalSet { shopMoney { amount } }
          withCodes: discountedTotalSet(withCodeDiscounts: true) { shopMoney { amount } } } } } }""",
        {"id": f"gid://shopify/Order/{order.id}"},
    )["data"]["order"]["lineItems"]["nodes"]
    assert [Decimal(n["discountedTotalSet"]["shopMoney"]["amount"]) for n in served] == [
        first.price * 2 - Decimal("1.00"),
        second.price,
    ]
    assert [Decimal(n["withCodes"]["shopMoney"]["amount"]) for n in served] == [
        first.price * 2 - Decimal("3.50"),
        second.price - Decimal("1.10"),
    ]


# ------------------------------------------------------------------------------------------------ 3. stock


def test_order_sends_inventory_levels_update_per_level(shop: ShopHandle, events: _Events) -> None:
    """add_order announces each level it took stock from, once, with the level's new ``available``."""
    store = shop.store
    variants = [v for v in store.variants.values() if store.levels.get(v.inventory_item_id)][2:4]
    store.add_order(
        {
            "line_items": [
                {"variant_id": variants[0].id, "quantity": 1},
                {"variant_id": variants[1].id, "quantity": 2},
                {"variant_id": variants[0].id, "quantity": 1},
            ]
        }
    )
    assert [t for t, _ in events.seen] == ["orders/create", "inventory_levels/update", "inventory_levels/update"]
    sample = _sample("webhook_inventory_levels_update.json")
    bodies = events.bodies("inventory_levels/update")
    assert {b["inventory_item_id"] for b in bodies} == {v.inventory_item_id for v in variants}
    for body in bodies:
        assert set(body) == set(sample)
        level = store.levels[body["inventory_item_id"]][body["location_id"]]
        assert body["available"] == level.available
        assert body["admin_graphql_api_id"] == (
            f"gid://shopify/InventoryLevel/{body['location_id']}?inventory_item_id={body['inventory_item_id']}"
        )
        assert body["updated_at"] == store.rest_time(store.now())


def test_restocking_refund_puts_stock_back_and_announces_it(shop: ShopHandle, events: _Events) -> None:
    """refund_order(restock=True) returns the quantity to the level the order took it from (restock_type cancel)."""
    store = shop.store
    variant = [v for v in store.variants.values() if store.levels.get(v.inventory_item_id)][4]
    level = next(iter(store.levels[variant.inventory_item_id].values()))
    before = level.available
    order = store.add_order({"line_items": [{"variant_id": variant.id, "quantity": 3}]})
    assert level.available == before - 3
    store.refund_order(order.id, [(order.line_items[0].id, 2)], restock=True)
    assert level.available == before - 1
    (refund_body,) = events.bodies("refunds/create")
    assert refund_body["restock"] is True
    refund_line = refund_body["refund_line_items"][0]
    assert (refund_line["restock_type"], refund_line["location_id"]) == ("cancel", level.location_id)
    levels = events.bodies("inventory_levels/update")
    assert [b["available"] for b in levels] == [before - 3, before - 1]
    assert events.seen[-1][0] == "inventory_levels/update"
    # without restock nothing moves and nothing is announced
    store.refund_order(order.id, [(order.line_items[0].id, 1)])
    assert level.available == before - 1 and len(events.bodies("inventory_levels/update")) == 2


def test_order_delivers_inventory_levels_update_to_a_subscribed_callback(
    client: ShopifyClient, shop: ShopHandle, receiver: WebhookReceiver
) -> None:
    """A subscribed callback really gets the signed inventory_levels/update delivery for an order."""
    sub = client.gql(CREATE_WEBHOOK, {"topic": "INVENTORY_LEVELS_UPDATE", "uri": receiver.url})["data"]
    sub_id = sub["webhookSubscriptionCreate"]["webhookSubscription"]["id"]
    try:
        store = shop.store
        variant = [v for v in store.variants.values() if store.levels.get(v.inventory_item_id)][5]
        store.add_order({"line_items": [{"variant_id": variant.id, "quantity": 1}]})
        receiver.wait(1)
        headers, raw = receiver.received[0]
        assert headers["X-Shopify-Topic"] == "inventory_levels/update"
        body = json.loads(raw)
        assert body["inventory_item_id"] == variant.inventory_item_id
        assert body["available"] == store.levels[variant.inventory_item_id][body["location_id"]].available
    finally:
        client.gql(
            "mutation($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId } }", {"id": sub_id}
        )
