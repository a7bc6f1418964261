"""ShopifyClient against a stub GraphQL server: pagination, cost pacing, THROTTLED, errors, bulk operations."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecom_pipeline.platforms.errors import ShopAuthError
from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline.platforms.shopify.client import ShopifyClient, assemble_bulk
from ecom_pipeline.platforms.shopify.errors import (
    ShopifyAccessDeniedError,
    ShopifyBulkOperationError,
    ShopifyGraphQLError,
    ShopifyThrottledError,
)
from ecom_pipeline_tests.platforms.shopify.conftest import connection, product_node, variant_node
from ecom_pipeline_tests.platforms.shopify.stub_server import (
    FIXTURES,
    FakeClock,
    GraphQLStub,
    StubServer,
    graphql_requests,
)


def _pages(pages: dict[str | None, dict[str, Any]], root: str = "products"):
    def handler(variables: dict[str, Any], _headers: dict[str, str]) -> dict[str, Any]:
        return {root: pages[variables.get("after")]}

    return handler


def test_paginate_follows_end_cursor_until_has_next_page_is_false(stub: GraphQLStub, client: ShopifyClient) -> None:
    """Prevents stopping after the first page (or looping forever) when following pageInfo cursors."""
    stub.on(
        "products(",
        _pages(
            {
                None: connection([product_node(1, [])], True, "c1"),
                "c1": connection([product_node(2, [])], True, "c2"),
                "c2": connection([product_node(3, [])], False, "c3"),
            }
        ),
    )
    pages = list(client.paginate(q.PRODUCTS_QUERY, ("products",), {"first": 1, "variantsFirst": 1}))
    assert [n["legacyResourceId"] for p in pages for n in p.nodes] == ["1", "2", "3"]
    sent = [r["body"]["variables"]["after"] for r in graphql_requests(stub, "products(")]
    assert sent == [None, "c1", "c2"]
    assert client.stats.api_calls == 3


def test_nested_variants_are_paginated_when_a_product_has_more_than_one_page(
    stub: GraphQLStub, client: ShopifyClient
) -> None:
    """Prevents losing variants beyond the first nested page (products may have up to 2,048 variants)."""
    product = product_node(7, [variant_node(1, "A", position=1)], has_next=True, end_cursor="v1")
    stub.on(
        "product(id",
        lambda v, _h: {
            "product": {
                "variants": connection([variant_node(2, "B", position=2)], True, "v2")
                if v["after"] == "v1"
                else connection([variant_node(3, "C", position=3)])
            }
        },
    )
    calls = client.complete_connection(product, "variants", q.PRODUCT_VARIANTS_QUERY, ("product", "variants"))
    assert calls == 2
    assert [n["sku"] for n in product["variants"]["nodes"]] == ["A", "B", "C"]
    assert product["variants"]["pageInfo"]["hasNextPage"] is False
    assert graphql_requests(stub, "product(id")[0]["body"]["variables"]["id"] == "gid://shopify/Product/7"


def test_governor_paces_queries_so_a_bucket_enforcing_server_never_throttles(
    stub: GraphQLStub, client: ShopifyClient, clock: FakeClock
) -> None:
    """Prevents THROTTLED storms at steady state: the governor must sleep before a query that would not fit."""
    stub.on("shop {", {"shop": {"name": "x"}}, requested=450, actual=400)
    start = clock.time()
    for _ in range(30):
        client.execute("query Shop { shop { name } }")
    assert stub.throttled == 0
    assert client.stats.throttled == 0
    # 30 x 400 points at 100/s with a 2,000-point bucket: at least (12,000 - 2,000 + 50) / 100 s of waiting ...
    elapsed = clock.time() - start
    assert elapsed >= (30 * 400 - 2000) / 100
    # ... and not much more than the floor the budget implies (within 1.2x).
    assert elapsed <= 1.2 * (30 * 400 - 2000 + 450) / 100
    assert client.stats.throttle_wait_s == pytest.approx(elapsed)


def test_governor_learns_the_plan_restore_rate_from_the_shop(stub: GraphQLStub, clock: FakeClock) -> None:
    """Prevents pacing a Plus shop (1,000 points/s) at the Standard plan's 100/s, i.e. 10x slower than allowed."""
    stub.maximum, stub.restore = 10_000.0, 1000.0
    stub.on("shop {", {"shop": {"name": "x"}}, requested=900, actual=900)
    with StubServer(stub) as server, ShopifyClient(server.url, "shpat_good", sleep=clock.sleep, clock=clock.time) as c:
        start = clock.time()
        for _ in range(40):
            c.execute("query Shop { shop { name } }")
        assert c.governor.restore_rate == 1000.0
        assert stub.throttled == 0
        assert clock.time() - start <= 1.2 * (40 * 900 - 10_000 + 900) / 1000


def test_throttled_answer_waits_what_the_cost_data_implies_and_retries(
    stub: GraphQLStub, client: ShopifyClient, clock: FakeClock
) -> None:
    """Prevents failing (or hammering) on THROTTLED: wait (requested - available) / restoreRate, then retry."""
    stub.on("shop {", {"shop": {"name": "x"}}, requested=752)
    stub.available, stub.last = 110.0, clock.time()  # the documented throttled state: 110 of 2,000 available
    client.governor.costs["query Shop"] = 0.0  # the governor has not learnt this query yet
    data = client.execute("query Shop { shop { name } }")
    assert data == {"shop": {"name": "x"}}
    assert stub.throttled == 1
    assert client.stats.throttled == 1
    assert clock.slept[0] == pytest.approx((752 - 110) / 100, abs=0.02)


def test_throttled_forever_raises_a_rate_limit_error_with_a_hint(stub: GraphQLStub, clock: FakeClock) -> None:
    """Prevents an endless loop when another app keeps the bucket empty."""
    sample = json.loads((FIXTURES / "graphql_cost_and_throttle_synthetic.json").read_text())["throttled_response"]
    stub.on("shop {", lambda _v, _h: (200, json.loads(json.dumps(sample))))
    with (
        StubServer(stub) as server,
        ShopifyClient(server.url, "shpat_good", sleep=clock.sleep, clock=clock.time, max_throttle_retries=3) as c,
        pytest.raises(ShopifyThrottledError) as info,
    ):
        c.execute("query Shop { shop { name } }")
    assert "THROTTLED" in str(info.value)
    assert c.stats.throttled == 4


def test_401_becomes_an_auth_error_that_says_how_to_reconnect(server: StubServer, clock: FakeClock) -> None:
    """Prevents an opaque failure (or retries) when the token was revoked: the user must know what to do."""
    with (
        ShopifyClient(server.url, "shpat_revoked", sleep=clock.sleep, clock=clock.time) as c,
        pytest.raises(ShopAuthError) as info,
    ):
        c.execute("query Shop { shop { name } }")
    text = str(info.value)
    assert info.value.status == 401
    assert "Invalid API key or access token" in text
    assert "ecom-pipeline connect shopify" in text
    assert "shpat_revoked" not in text


def test_graphql_errors_map_to_access_denied_or_query_errors(stub: GraphQLStub, client: ShopifyClient) -> None:
    """Prevents HTTP-200 GraphQL errors passing as data (or as a generic failure without the missing scope)."""
    stub.on(
        "orders(",
        {"errors": [{"message": "Access denied for orders field.", "extensions": {"code": "ACCESS_DENIED"}}]},
    )
    stub.on("bogus", {"errors": [{"message": "Field 'bogus' doesn't exist on type 'QueryRoot'"}]})
    with pytest.raises(ShopifyAccessDeniedError, match="read_orders"):
        client.execute("query { orders(first: 1) { nodes { id } } }")
    with pytest.raises(ShopifyGraphQLError, match="bogus"):
        client.execute("query { bogus }")


def test_5xx_is_retried_by_the_shared_layer(stub: GraphQLStub, client: ShopifyClient) -> None:
    """Prevents a transient Shopify 502 from failing a sync."""
    answers = iter([(502, {"errors": "Bad gateway"}), {"shop": {"name": "x"}}])
    stub.on("shop {", lambda _v, _h: next(answers))
    assert client.execute("query Shop { shop { name } }") == {"shop": {"name": "x"}}
    assert client.stats.retries == 1


# -- bulk operations ------------------------------------------------------------------------------------------------


def test_bulk_jsonl_sample_is_reassembled_from_parent_ids() -> None:
    """Prevents variants being lost or attached to the wrong product when rebuilding bulk JSONL (__parentId)."""
    lines = [
        json.loads(line) for line in (FIXTURES / "graphql_bulk_operation_result_example.jsonl").read_text().splitlines()
    ]
    records = list(assemble_bulk(lines, q.BULK_CHILD_CONNECTIONS))
    assert [r["id"] for r in records] == ["gid://shopify/Product/1921569226808", "gid://shopify/Product/1921569259576"]
    assert [v["title"] for v in records[0]["variants"]["nodes"]] == ["52", "70"]
    assert "__parentId" not in records[0]["variants"]["nodes"][0]
    assert "variants" not in records[1]


def test_bulk_lines_in_any_order_are_reassembled() -> None:
    """Prevents losing variants when the JSONL is not parent-then-children (groupObjects false, the 2026-01
    default): children before their parent, and parents interleaved, still end up under the right parent."""
    lines = [
        {"id": "gid://shopify/ProductVariant/9", "__parentId": "gid://shopify/Product/1"},
        {"id": "gid://shopify/Product/2"},
        {"id": "gid://shopify/ProductVariant/7", "__parentId": "gid://shopify/Product/2"},
        {"id": "gid://shopify/Product/1"},
        {"id": "gid://shopify/ProductVariant/8", "__parentId": "gid://shopify/Product/1"},
    ]
    records = {r["id"]: r for r in assemble_bulk(lines, q.BULK_CHILD_CONNECTIONS)}
    assert [v["id"] for v in records["gid://shopify/Product/1"]["variants"]["nodes"]] == [
        "gid://shopify/ProductVariant/9",
        "gid://shopify/ProductVariant/8",
    ]
    assert [v["id"] for v in records["gid://shopify/Product/2"]["variants"]["nodes"]] == [
        "gid://shopify/ProductVariant/7"
    ]
    assert list(records) == ["gid://shopify/Product/2", "gid://shopify/Product/1"]


def test_bulk_child_whose_parent_is_not_in_the_file_is_refused() -> None:
    """Prevents silently dropping a child whose parent is missing (a truncated file), before any record is used."""
    lines = [
        {"id": "gid://shopify/Product/2"},
        {"id": "gid://shopify/ProductVariant/9", "__parentId": "gid://shopify/Product/1"},
    ]
    with pytest.raises(ShopifyBulkOperationError, match="Product/1"):
        next(iter(assemble_bulk(lines, q.BULK_CHILD_CONNECTIONS)))


def _bulk_stub(stub: GraphQLStub, server: StubServer, statuses: list[str], *, error_code: str | None = None) -> None:
    polls = iter(statuses)
    stub.on(
        "bulkOperationRunQuery",
        {
            "bulkOperationRunQuery": {
                "bulkOperation": {"id": "gid://shopify/BulkOperation/1", "status": "CREATED"},
                "userErrors": [],
            }
        },
    )

    def current(variables: dict[str, Any], _h: dict[str, str]) -> dict[str, Any]:
        assert variables == {"id": "gid://shopify/BulkOperation/1"}  # ours, by id: others may run meanwhile
        status = next(polls)
        return {
            "bulkOperation": {
                "id": "gid://shopify/BulkOperation/1",
                "status": status,
                "errorCode": error_code if status == "FAILED" else None,
                "objectCount": "4",
                "url": server.file_url("result.jsonl") if status == "COMPLETED" else None,
                "partialDataUrl": None,
            }
        }

    stub.on("bulkOperation(", current, requested=1)
    stub.files["result.jsonl"] = (FIXTURES / "graphql_bulk_operation_result_example.jsonl").read_bytes()


def test_bulk_polls_grow_with_the_time_waited_so_the_end_is_seen_at_most_a_quarter_late(
    stub: GraphQLStub, server: StubServer, client: ShopifyClient, clock: FakeClock
) -> None:
    """Prevents both polling a long operation every second and sleeping far past its end (the old x1.5 backoff
    could see a 21 s operation end at 32 s)."""
    _bulk_stub(stub, server, ["RUNNING"] * 12 + ["COMPLETED"])
    list(client.run_bulk_query(q.BULK_PRODUCTS))
    waits = clock.slept[:12]
    for i, wait in enumerate(waits):
        assert wait == max(1.0, 0.25 * sum(waits[:i]))
    assert waits[-1] > 2.0


def test_bulk_query_polls_with_backoff_then_streams_the_result(
    stub: GraphQLStub, server: StubServer, client: ShopifyClient, clock: FakeClock
) -> None:
    """Prevents hammering the shop with polls, reading the file before the operation completed, and relying on
    the version's groupObjects default (false from 2026-01)."""
    _bulk_stub(stub, server, ["RUNNING", "RUNNING", "RUNNING", "COMPLETED"])
    records = list(client.run_bulk_query(q.BULK_PRODUCTS))
    assert len(records) == 2 and len(records[0]["variants"]["nodes"]) == 2
    assert clock.slept[:3] == [1.0, 1.0, 1.0]  # at least bulk_poll_initial_s between polls
    download = next(r for r in stub.requests if r["path"].endswith("result.jsonl"))
    assert "x-shopify-access-token" not in download["headers"]  # the token never goes to the storage URL
    assert client.stats.bulk_operations == 1
    start = graphql_requests(stub, "bulkOperationRunQuery")[0]["body"]["query"]
    assert "groupObjects: true" in start


def test_failed_bulk_operation_raises_with_its_error_code(
    stub: GraphQLStub, server: StubServer, client: ShopifyClient
) -> None:
    """Prevents a FAILED bulk operation being read as an empty shop (which would tombstone everything)."""
    _bulk_stub(stub, server, ["RUNNING", "FAILED"], error_code="INTERNAL_SERVER_ERROR")
    with pytest.raises(ShopifyBulkOperationError) as info:
        list(client.run_bulk_query(q.BULK_PRODUCTS))
    assert info.value.code == "INTERNAL_SERVER_ERROR"
    assert "FAILED" in str(info.value)


SIGNED_QUERY = (
    "?GoogleAccessId=bulk-reader%40shopify-tiers.iam.gserviceaccount.com&Expires=1767225600"
    "&Signature=c2VjcmV0LXNpZ25hdHVyZQ%3D%3D&X-Goog-Algorithm=GOOG4-RSA-SHA256"
    "&X-Goog-Credential=bulk-reader%2F20261205%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Signature=deadbeefcafe"
)


@pytest.mark.parametrize("failure", ["status", "not json", "connection"])
def test_a_bulk_result_download_error_names_the_url_without_its_signed_query(
    stub: GraphQLStub, server: StubServer, client: ShopifyClient, failure: str
) -> None:
    """Prevents the signed download URL of a bulk result (its query: Signature, GoogleAccessId, X-Goog-*, which
    let anyone read the file until it expires) from reaching error text, logs and run failures: the error keeps
    the scheme, host and path only."""
    stub.files["cut.jsonl"] = b'{"id": "gid://shopify/Product/1"}\n{"id": "gid://sho'
    base = {
        "status": server.file_url("missing.jsonl"),
        "not json": server.file_url("cut.jsonl"),
        "connection": "http://127.0.0.1:9/files/result.jsonl",  # the discard port: nothing listens
    }[failure]
    with pytest.raises(ShopifyBulkOperationError) as info:
        list(client.iter_jsonl(base + SIGNED_QUERY))
    err = info.value
    assert err.url == base
    for text in (str(err), repr(err), json.dumps(err._state(), default=str)):
        assert "?" not in text.replace("(file cut off?)", "")
        for secret in ("Signature", "GoogleAccessId", "X-Goog", "deadbeefcafe", "c2VjcmV0"):
            assert secret not in text


def test_bulk_at_the_concurrency_limit_waits_and_starts_again_without_cancelling_others(
    stub: GraphQLStub, client: ShopifyClient, clock: FakeClock
) -> None:
    """Prevents a sync cancelling another extract's bulk operation (several may run at once from 2026-01), or
    failing at once when the shop is at its limit."""
    busy = {
        "bulkOperationRunQuery": {
            "bulkOperation": None,
            "userErrors": [
                {"field": None, "message": "Limit of 5 concurrent bulk operations reached.", "code": "LIMIT_REACHED"}
            ],
        }
    }
    started = {
        "bulkOperationRunQuery": {
            "bulkOperation": {"id": "gid://shopify/BulkOperation/2", "status": "CREATED"},
            "userErrors": [],
        }
    }
    starts = iter([busy, busy, started])
    stub.on("bulkOperationRunQuery", lambda _v, _h: next(starts))
    assert client.start_bulk_query(q.BULK_PRODUCTS) == "gid://shopify/BulkOperation/2"
    assert clock.slept[:2] == [1.0, 1.5]
    assert not graphql_requests(stub, "bulkOperationCancel")


def test_a_bulk_mutation_is_polled_when_its_pace_says_it_ends(
    stub: GraphQLStub, client: ShopifyClient, clock: FakeClock
) -> None:
    """Prevents sleeping far past the end of a bulk mutation (or polling it every second): with its number of
    lines known, the wait follows the objectCount pace between the last two polls while it runs."""
    polls = iter([("CREATED", "0"), ("RUNNING", "100"), ("RUNNING", "300"), ("RUNNING", "900"), ("COMPLETED", "1000")])

    def current(_v: dict[str, Any], _h: dict[str, str]) -> dict[str, Any]:
        status, count = next(polls)
        return {"bulkOperation": {"id": "gid://shopify/BulkOperation/7", "status": status, "errorCode": None,
                                  "objectCount": count, "url": None, "partialDataUrl": None}}  # fmt: skip

    stub.on("bulkOperation(", current, requested=1)
    assert client.wait_for_bulk("gid://shopify/BulkOperation/7", expected_objects=1000)["status"] == "COMPLETED"
    # 1 s (no pace yet); 1 s (the first second may hold the start delay: no pace from it); 700 left at 200/s:
    # 3.5 s; 100 left at 600 per 3.5 s: under a second, so the 1 s minimum.
    assert clock.slept == [1.0, 1.0, 3.5, 1.0]
