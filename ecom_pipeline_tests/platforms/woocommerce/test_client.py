"""WooCommerce client against a replay of the real store's responses (no emulator, no mocks of our code).

Each test names the failure it prevents: a client that loses pages, replays OAuth nonces, ignores Retry-After,
mislabels an error, or leaks a consumer secret into a log line.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests

from ecom_pipeline.platforms.errors import (
    RequestBudgetExceeded,
    ShopApiError,
    ShopAuthError,
    ShopBadRequestError,
    ShopNotFoundError,
    ShopRateLimitedError,
    ShopResponseError,
    ShopServerError,
    ShopUnreachableError,
)
from ecom_pipeline.platforms.woocommerce.auth import WooCommerceBasicAuth, WooCommerceOAuth1, auth_for
from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient, format_wc_datetime
from ecom_pipeline_tests.platforms.replay_server import (
    RECORDINGS,
    ReplayServer,
    Reply,
    load_recording,
    reply_from_recording,
)

KEY = "ck_4f1c2a9b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b"
SECRET = "cs_9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"


class Sleeps:
    """Injected sleep: records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer(consumer_key=KEY, consumer_secret=SECRET) as srv:
        yield srv


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_client(server: ReplayServer, sleeps: Sleeps, **kw: object) -> WooCommerceClient:
    return WooCommerceClient(server.site_url, KEY, SECRET, sleep=sleeps, timeout=5.0, **kw)  # type: ignore[arg-type]


def assert_no_secret(text: str) -> None:
    assert SECRET not in text
    assert KEY not in text
    assert "oauth_signature" not in text


# -- pagination -----------------------------------------------------------------------------------------------


def _serve_product_pages(server: ReplayServer) -> None:
    for page, name in (
        (1, "products-list-page1.json"),
        (2, "products-list-page2.json"),
        (3, "products-list-page3-last.json"),
    ):
        server.add("GET", "products", reply_from_recording(name), match={"page": str(page)})


def test_iter_pages_follows_total_pages_and_stops_on_the_short_last_page(server: ReplayServer, sleeps: Sleeps) -> None:
    """Prevents losing or re-requesting pages: 3 pages of 5/5/1 products, exactly 3 calls, X-WP-* parsed."""
    _serve_product_pages(server)
    client = make_client(server, sleeps, per_page=5)
    pages = list(client.iter_pages("products", {}))
    assert [p.page for p in pages] == [1, 2, 3]
    assert [len(p.items) for p in pages] == [5, 5, 1]
    assert all(p.total == 11 and p.total_pages == 3 for p in pages)
    expected_ids = [
        item["id"]
        for name in ("products-list-page1.json", "products-list-page2.json", "products-list-page3-last.json")
        for item in load_recording(name)["response"]["body"]
    ]
    assert [item["id"] for p in pages for item in p.items] == expected_ids
    assert pages[0].next_url and "page=2" in pages[0].next_url
    assert pages[2].next_url is None
    assert client.stats.api_calls == 3 and client.stats.retries == 0
    assert client.stats.bytes_received > 0
    assert [r.params["page"] for r in server.requests] == ["1", "2", "3"]
    assert all(r.params["per_page"] == "5" for r in server.requests)


def test_iter_pages_is_a_stream(server: ReplayServer, sleeps: Sleeps) -> None:
    """Prevents holding a whole catalogue in memory: the second page is not fetched until asked for."""
    _serve_product_pages(server)
    pages = make_client(server, sleeps, per_page=5).iter_pages("products", {})
    next(pages)
    assert len(server.requests) == 1


def test_iter_pages_stops_on_a_short_page_even_if_total_pages_says_more(server: ReplayServer, sleeps: Sleeps) -> None:
    """Prevents an endless or wasted call when records disappear mid-scan and X-WP-TotalPages is stale."""
    short = Reply.json(200, [{"id": 1}, {"id": 2}], {"X-WP-Total": "30", "X-WP-TotalPages": "3"})
    server.add("GET", "orders", short)
    pages = list(make_client(server, sleeps, per_page=10).iter_pages("orders", {}))
    assert len(pages) == 1 and len(server.requests) == 1


def test_iter_pages_stops_on_an_empty_page_without_headers(server: ReplayServer, sleeps: Sleeps) -> None:
    """Prevents looping forever on a proxy that strips X-WP-* headers: an empty page ends the scan."""
    server.add("GET", "orders", Reply.json(200, [{"id": 1}, {"id": 2}]), match={"page": "1"})
    server.add("GET", "orders", Reply.json(200, []), match={"page": "2"})
    pages = list(make_client(server, sleeps, per_page=2).iter_pages("orders", {}))
    assert [len(p.items) for p in pages] == [2, 0]
    assert pages[0].total is None and pages[0].total_pages is None


def test_list_variations_pages_the_variations_subresource(server: ReplayServer, sleeps: Sleeps) -> None:
    server.add("GET", "products/22/variations", reply_from_recording("products-variations-list.json"))
    variations = list(make_client(server, sleeps).list_variations(22))
    assert [v["id"] for v in variations] == [27, 26, 25, 24, 23]
    assert server.requests[0].path.endswith("/wp-json/wc/v3/products/22/variations")


# -- incremental listing ----------------------------------------------------------------------------------------


def test_format_wc_datetime_is_utc_to_the_second_without_offset() -> None:
    paris = timezone(timedelta(hours=1))
    assert format_wc_datetime(datetime(2026, 11, 22, 1, 9, 21, 987654, tzinfo=paris)) == "2026-11-22T00:09:21"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_wc_datetime(datetime(2026, 11, 22, 0, 9, 21))


def test_iter_modified_asks_for_gmt_strictly_after_in_modified_order(server: ReplayServer, sleeps: Sleeps) -> None:
    """Prevents comparing against store-local time (a one-hour hole) or an unstable default order."""
    server.add("GET", "products", reply_from_recording("products-list-modified-after-gmt.json"))
    since = datetime(2026, 11, 22, 0, 9, 21, tzinfo=UTC)
    items = [i for p in make_client(server, sleeps).iter_modified("products", since, {}) for i in p.items]
    recorded = load_recording("products-list-modified-after-gmt.json")
    assert [i["id"] for i in items] == [i["id"] for i in recorded["response"]["body"]]
    params = server.requests[0].params
    assert params["modified_after"] == "2026-11-22T00:09:21"
    assert params["dates_are_gmt"] == "true"
    assert (params["orderby"], params["order"]) == ("modified", "asc")
    assert recorded["request"]["query"]["modified_after"] == params["modified_after"]


def test_iter_modified_without_since_is_a_full_scan_by_id(server: ReplayServer, sleeps: Sleeps) -> None:
    server.add("GET", "orders", reply_from_recording("orders-list-page1.json"))
    list(make_client(server, sleeps, per_page=100).iter_modified("orders", None, {"status": "any"}))
    params = server.requests[0].params
    assert (params["orderby"], params["order"], params["status"]) == ("id", "asc", "any")
    assert "modified_after" not in params


def _item(item_id: int, modified: str) -> dict[str, object]:
    return {"id": item_id, "date_modified_gmt": modified}


def test_iter_modified_keyset_does_not_skip_records_that_shift_between_pages(
    server: ReplayServer, sleeps: Sleeps
) -> None:
    """Prevents the classic page-number hole: the next request restarts from the last second seen, not page 2."""
    first = [_item(1, "2026-11-22T00:00:01"), _item(2, "2026-11-22T00:00:02")]
    second = [_item(2, "2026-11-22T00:00:02"), _item(3, "2026-11-22T00:00:03")]
    third = [_item(3, "2026-11-22T00:00:03")]
    server.add("GET", "products", Reply.json(200, first), match={"modified_after": "2026-11-22T00:00:00"})
    server.add("GET", "products", Reply.json(200, second), match={"modified_after": "2026-11-22T00:00:01"})
    server.add("GET", "products", Reply.json(200, third), match={"modified_after": "2026-11-22T00:00:02"})
    client = make_client(server, sleeps, per_page=2)
    pages = list(client.iter_modified("products", datetime(2026, 11, 22, tzinfo=UTC), {}))
    assert [i["id"] for p in pages for i in p.items] == [1, 2, 3]  # boundary duplicates dropped
    assert all(r.params["page"] == "1" for r in server.requests)


def test_iter_modified_falls_back_to_page_numbers_inside_one_busy_second(server: ReplayServer, sleeps: Sleeps) -> None:
    """Prevents an endless loop when a bulk update gives a whole page the same modification second."""
    same = "2026-11-22T00:00:01"
    server.add("GET", "products", Reply.json(200, [_item(1, same), _item(2, same)]), match={"page": "1"})
    server.add("GET", "products", Reply.json(200, [_item(3, same)]), match={"page": "2"})
    pages = list(make_client(server, sleeps, per_page=2).iter_modified("products", datetime(2026, 11, 22, tzinfo=UTC)))
    assert [i["id"] for p in pages for i in p.items] == [1, 2, 3]
    assert [r.params["page"] for r in server.requests] == ["1", "2", "1"]
    # Then the ids of that second are listed again (all seen here: nothing fetched by include=).
    relist = server.requests[2].params
    assert (relist["_fields"], relist["modified_after"], relist["modified_before"], relist["dates_are_gmt"]) == (
        "id",
        "2026-11-22T00:00:00",
        "2026-11-22T00:00:02",
        "true",
    )


def test_iter_modified_filters_customers_locally(server: ReplayServer, sleeps: Sleeps) -> None:
    """Customers have no modified_after filter in wc/v3: a full id scan, filtered with the same strict rule."""
    server.add("GET", "customers", reply_from_recording("customers-list.json"))
    since = datetime(2026, 11, 22, 0, 8, 32, tzinfo=UTC)
    items = [i for p in make_client(server, sleeps).iter_modified("customers", since) for i in p.items]
    assert "modified_after" not in server.requests[0].params
    assert items and all(i["date_modified_gmt"] > "2026-11-22T00:08:32" for i in items)


# -- authentication -------------------------------------------------------------------------------------------


def test_plain_http_requests_carry_a_valid_fresh_oauth1_signature(server: ReplayServer, sleeps: Sleeps) -> None:
    """Prevents 401s over HTTP (Basic is ignored there) and nonce replays across pages and retries."""
    server.add(
        "GET",
        "products",
        Reply.json(503, {"code": "busy"}),
        reply_from_recording("auth-oauth1-http-products.json"),
        match={"page": "1"},
    )
    server.add("GET", "products", Reply.json(200, []), match={"page": "2"})
    client = make_client(server, sleeps, per_page=2)
    list(client.iter_pages("products", {"modified_after": "2026-11-22T00:09:21", "search": "tee & mug"}))
    assert server.oauth_failures == []
    assert len(server.requests) == 3
    for request in server.requests:
        params = request.params
        assert params["oauth_consumer_key"] == KEY
        assert params["oauth_signature_method"] == "HMAC-SHA256"
        assert "Authorization" not in request.headers
        assert [k for k, _ in request.query].count("per_page") == 1  # signed URL = exactly the params sent
    assert len({r.params["oauth_nonce"] for r in server.requests}) == 3
    assert server.requests[0].headers["User-Agent"].startswith("ecom-pipeline/")


def test_a_wrong_secret_is_reported_as_a_bad_signature(server: ReplayServer, sleeps: Sleeps) -> None:
    """The replay verifies signatures like WooCommerce: a wrong secret must give an actionable auth error."""
    client = WooCommerceClient(server.site_url, KEY, "cs_wrong000000000000000000000000000000000000", sleep=sleeps)
    with pytest.raises(ShopAuthError) as caught:
        client.check_credentials()
    message = str(caught.value)
    assert caught.value.code == "woocommerce_rest_authentication_error"
    assert "wrong consumer secret or bad signature" in message
    assert "cs_wrong" not in message and KEY not in message
    assert server.oauth_failures == ["Invalid signature - provided signature does not match."]
    assert len(server.requests) == 1  # 401 is never retried


def test_https_uses_basic_auth_and_http_uses_oauth1() -> None:
    """WooCommerce accepts Basic only over TLS; OAuth query params over TLS would leak into access logs."""
    assert isinstance(auth_for("https://shop.example", KEY, SECRET), WooCommerceBasicAuth)
    assert isinstance(auth_for("http://127.0.0.1:8080/shop", KEY, SECRET), WooCommerceOAuth1)
    prepared = requests.Request("GET", "https://shop.example/wp-json/wc/v3/products?per_page=1").prepare()
    auth_for("https://shop.example", KEY, SECRET)(prepared)
    assert prepared.url == "https://shop.example/wp-json/wc/v3/products?per_page=1"
    import base64

    assert prepared.headers["Authorization"] == "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    assert SECRET not in repr(auth_for("https://shop.example", KEY, SECRET))
    assert SECRET not in repr(auth_for("http://shop.example", KEY, SECRET))


def test_check_credentials_returns_shop_facts(server: ReplayServer, sleeps: Sleeps) -> None:
    server.add("GET", "products", reply_from_recording("auth-oauth1-http-products.json"))
    facts = make_client(server, sleeps).check_credentials()
    assert facts["total_products"] == 11
    assert facts["auth"] == "oauth1"
    assert server.requests[0].params["per_page"] == "1"


def test_unknown_key_says_unknown_or_lacking_read_permission(server: ReplayServer, sleeps: Sleeps) -> None:
    server.add("GET", "products", reply_from_recording("errors-401-wrong-key-https.json"))
    with pytest.raises(ShopAuthError) as caught:
        make_client(server, sleeps).check_credentials()
    text = str(caught.value)
    assert "unknown to the store or lacks read permission" in text
    assert "Sorry, you cannot list resources" in text
    assert_no_secret(text)
    assert_no_secret(repr(caught.value))


# -- errors from the recordings -------------------------------------------------------------------------------

ERROR_CASES = {
    "errors-400-duplicate-sku.json": ShopBadRequestError,
    "errors-400-invalid-stock-quantity-type.json": ShopBadRequestError,
    "errors-400-modified-after-not-a-date.json": ShopBadRequestError,
    "errors-400-order-status-bogus.json": ShopBadRequestError,
    "errors-400-orderby-bogus.json": ShopBadRequestError,
    "errors-400-per-page-too-large.json": ShopBadRequestError,
    "errors-400-webhook-invalid-delivery-url.json": ShopBadRequestError,
    "errors-400-webhook-invalid-topic.json": ShopBadRequestError,
    "errors-401-basic-auth-over-plain-http.json": ShopAuthError,
    "errors-401-no-credentials-https.json": ShopAuthError,
    "errors-401-oauth1-bad-signature-http.json": ShopAuthError,
    "errors-401-wrong-key-https.json": ShopAuthError,
    "errors-404-deleted-order.json": ShopNotFoundError,
    "errors-404-unknown-order.json": ShopNotFoundError,
    "errors-404-unknown-product.json": ShopNotFoundError,
    "errors-404-unknown-route.json": ShopNotFoundError,
    "errors-products-get-deleted-404.json": ShopNotFoundError,
}


def test_every_recorded_error_file_is_covered() -> None:
    assert sorted(p.name for p in RECORDINGS.glob("errors-*.json")) == sorted(ERROR_CASES)


@pytest.mark.parametrize("name", sorted(ERROR_CASES))
def test_recorded_error_maps_to_the_right_exception(name: str, server: ReplayServer, sleeps: Sleeps) -> None:
    """Prevents retrying a request that can never succeed, and error text that hides the store's reason."""
    recording = load_recording(name)
    body = recording["response"]["body"]
    method = recording["request"]["method"]
    server.add(method, "thing", reply_from_recording(name))
    client = make_client(server, sleeps)
    with pytest.raises(ERROR_CASES[name]) as caught:
        client.request(method, "thing", json_body=recording["request"].get("body"))
    err = caught.value
    assert err.status == recording["response"]["status"]
    assert err.code == body["code"]
    assert body["message"].rstrip(".") in str(err)
    for reason in (body.get("data", {}).get("params") or {}).values():
        assert reason in str(err)  # rest_invalid_param: the per-parameter reason, not just "Invalid parameter(s)"
    assert err.platform == "woocommerce" and err.method == method
    assert err.hint and err.hint in str(err)
    assert len(server.requests) == 1 and client.stats.retries == 0
    assert_no_secret(str(err))
    assert_no_secret(repr(err))


def test_get_of_a_deleted_product_is_not_found(server: ReplayServer, sleeps: Sleeps) -> None:
    server.add("GET", "products/44", reply_from_recording("errors-products-get-deleted-404.json"))
    with pytest.raises(ShopNotFoundError, match="Invalid ID"):
        make_client(server, sleeps).get("products/44")


def test_duplicate_sku_error_keeps_the_owning_product(server: ReplayServer, sleeps: Sleeps) -> None:
    """Export relies on data.resource_id to link to the existing product instead of creating a duplicate."""
    server.add("POST", "products", reply_from_recording("errors-400-duplicate-sku.json"))
    with pytest.raises(ShopBadRequestError) as caught:
        make_client(server, sleeps).post("products", {"name": "x", "sku": "dup"})
    data = load_recording("errors-400-duplicate-sku.json")["response"]["body"]["data"]
    assert caught.value.details["resource_id"] == data["resource_id"]


# -- retries, throttling, budget ------------------------------------------------------------------------------


def test_429_retry_after_is_honoured_and_counted_as_throttle(server: ReplayServer, sleeps: Sleeps) -> None:
    """Prevents hammering a throttled shop: two 429 with Retry-After: 1, then the page; waits are exactly 1 s."""
    too_many = Reply.json(429, {"code": "too_many_requests", "message": "Slow down"}, {"Retry-After": "1"})
    server.add("GET", "products", too_many, too_many, reply_from_recording("products-list-page3-last.json"))
    client = make_client(server, sleeps)
    pages = list(client.iter_pages("products", {}))
    assert len(pages[0].items) == 1
    assert sleeps.waits == [1.0, 1.0]
    assert client.stats.retries == 2
    assert client.stats.throttle_wait_s == pytest.approx(2.0)
    assert client.stats.backoff_wait_s == 0
    assert client.stats.api_calls == 3


def test_retry_after_as_http_date(server: ReplayServer, sleeps: Sleeps) -> None:
    server.add(
        "GET",
        "orders",
        Reply.json(503, {"code": "maintenance"}, {"Retry-After": "Sun, 22 Nov 2026 00:10:10 GMT"}),
        Reply.json(200, []),
    )
    now = datetime(2026, 11, 22, 0, 10, 7, tzinfo=UTC).timestamp()
    client = WooCommerceClient(server.site_url, KEY, SECRET, sleep=sleeps, clock=lambda: now)
    list(client.iter_pages("orders", {}))
    assert sleeps.waits == [pytest.approx(3.0)]


def test_rate_limit_exhausted_raises_a_clear_error(
    server: ReplayServer, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    too_many = Reply.json(429, {"code": "too_many_requests", "message": "Slow down"}, {"Retry-After": "2"})
    server.add("GET", "products", too_many)
    client = make_client(server, sleeps, max_retries=3)
    with (
        caplog.at_level("WARNING", logger="ecom_pipeline.platforms.http"),
        pytest.raises(ShopRateLimitedError) as caught,
    ):
        list(client.iter_pages("products", {}))
    text = str(caught.value)
    assert "rate-limiting" in text and "HTTP 429" in text and "Slow down" in text
    assert "/wp-json/wc/v3/products" in text and "requests per second" in text
    assert_no_secret(text)
    assert len(server.requests) == 4 and sleeps.waits == [2.0, 2.0, 2.0]
    assert client.stats.throttle_wait_s == pytest.approx(6.0)
    assert len([r for r in caplog.records if "retry" in r.getMessage()]) == 3
    for record in caplog.records:
        assert_no_secret(record.getMessage())


def test_5xx_html_then_success_uses_jittered_backoff(server: ReplayServer, sleeps: Sleeps) -> None:
    nginx = (
        "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
    )
    server.add(
        "GET",
        "orders/33",
        Reply.text(502, nginx),
        Reply.text(502, nginx),
        reply_from_recording("orders-get-single.json"),
    )
    client = make_client(server, sleeps)
    order = client.get("orders/33")
    assert order["id"] == load_recording("orders-get-single.json")["response"]["body"]["id"]
    assert client.stats.retries == 2 and client.stats.throttle_wait_s == 0
    assert len(sleeps.waits) == 2 and all(0 <= w <= 30 for w in sleeps.waits)
    assert client.stats.backoff_wait_s == pytest.approx(sum(sleeps.waits))


def test_5xx_exhausted_quotes_the_html_page(server: ReplayServer, sleeps: Sleeps) -> None:
    server.add("GET", "orders", Reply.text(502, "<html><title>502 Bad Gateway</title>" + "x" * 500 + "</html>"))
    with pytest.raises(ShopServerError) as caught:
        list(make_client(server, sleeps, max_retries=2).iter_pages("orders", {}))
    text = str(caught.value)
    assert "502 Bad Gateway" in text and "HTTP 502" in text
    assert "x" * 300 not in text  # quoted, not dumped


def test_cut_body_is_retried(server: ReplayServer, sleeps: Sleeps) -> None:
    """A chunked body cut halfway (dying PHP worker) is transient: retry rather than fail or parse garbage."""
    full = reply_from_recording("orders-get-single.json")
    cut = Reply(full.status, full.headers, full.body, cut=True)
    server.add("GET", "orders/33", cut, full)
    client = make_client(server, sleeps)
    assert client.get("orders/33") == load_recording("orders-get-single.json")["response"]["body"]
    assert client.stats.retries == 1


def test_cut_body_every_time_is_a_response_error(server: ReplayServer, sleeps: Sleeps) -> None:
    full = reply_from_recording("orders-get-single.json")
    server.add("GET", "orders/33", Reply(full.status, full.headers, full.body, cut=True))
    with pytest.raises(ShopResponseError, match="cut off"):
        make_client(server, sleeps, max_retries=1).get("orders/33")


def test_html_instead_of_json_is_a_response_error_with_an_excerpt(server: ReplayServer, sleeps: Sleeps) -> None:
    """A 200 HTML page (wrong base URL, plain permalinks) must not be taken for an empty list."""
    server.add("GET", "products", Reply.text(200, "<!DOCTYPE html><html><body>Welcome to my shop</body></html>"))
    with pytest.raises(ShopResponseError) as caught:
        list(make_client(server, sleeps).iter_pages("products", {}))
    assert "Welcome to my shop" in str(caught.value) and "text/html" in str(caught.value)
    assert len(server.requests) == 1


def test_timeout_is_retried_then_unreachable(server: ReplayServer, sleeps: Sleeps) -> None:
    server.add("GET", "orders/33", Reply.json(200, {"id": 33}, delay_s=1.0))
    client = WooCommerceClient(server.site_url, KEY, SECRET, sleep=sleeps, timeout=0.2, max_retries=1)
    with pytest.raises(ShopUnreachableError, match="timed out") as caught:
        client.get("orders/33")
    assert client.stats.retries == 1
    assert_no_secret(str(caught.value))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_is_unreachable_without_secrets(sleeps: Sleeps) -> None:
    """requests' message embeds the signed URL; ours must not (consumer key, signature)."""
    client = WooCommerceClient(f"http://127.0.0.1:{_free_port()}/shop", KEY, SECRET, sleep=sleeps, max_retries=2)
    with pytest.raises(ShopUnreachableError) as caught:
        client.check_credentials()
    err = caught.value
    assert err.__cause__ is None and err.__suppress_context__
    assert "connection failed" in str(err) and "/wp-json/wc/v3/products" in str(err)
    assert_no_secret(str(err))
    assert_no_secret(repr(err))
    assert client.stats.retries == 2 and client.stats.api_calls == 3


def test_tls_failure_hints_at_ca_bundle_and_insecure(server: ReplayServer, sleeps: Sleeps) -> None:
    """Speaking TLS to a plain-HTTP port fails the handshake: the hint must name --ca-bundle / --insecure."""
    client = WooCommerceClient(f"https://127.0.0.1:{server.port}/shop", KEY, SECRET, sleep=sleeps, max_retries=0)
    with pytest.raises(ShopUnreachableError) as caught:
        client.get("products/11")
    assert "--ca-bundle" in str(caught.value) and "--insecure" in str(caught.value)
    assert_no_secret(str(caught.value))


def test_request_budget_stops_the_run(server: ReplayServer, sleeps: Sleeps) -> None:
    """Prevents a runaway sync from exhausting a shop's quota: the (n+1)th call is never sent."""
    _serve_product_pages(server)
    client = make_client(server, sleeps, per_page=5, request_budget=2)
    pages = client.iter_pages("products", {})
    next(pages), next(pages)
    with pytest.raises(RequestBudgetExceeded) as caught:
        next(pages)
    assert len(server.requests) == 2
    assert "budget of 2 requests" in str(caught.value)
    assert isinstance(caught.value, ShopApiError)


def test_pacing_spaces_requests_and_counts_as_throttle(server: ReplayServer, sleeps: Sleeps) -> None:
    server.add("GET", "orders/33", Reply.json(200, {"id": 33}))
    now = [1000.0]

    def sleep(seconds: float) -> None:  # a fake clock that moves only when we sleep
        sleeps(seconds)
        now[0] += seconds

    client = WooCommerceClient(
        server.site_url, KEY, SECRET, sleep=sleep, clock=lambda: now[0], max_requests_per_second=2
    )
    for _ in range(3):
        client.get("orders/33")
    assert sleeps.waits == [0.5, 0.5]
    assert client.stats.throttle_wait_s == pytest.approx(1.0)


def test_stats_metadata_is_plain_data(server: ReplayServer, sleeps: Sleeps) -> None:
    server.add("GET", "orders/33", reply_from_recording("orders-get-single.json"))
    client = make_client(server, sleeps)
    client.get("orders/33")
    meta = client.stats.as_metadata()
    assert meta["api_calls"] == 1 and meta["bytes_received"] > 1000
    json.dumps(meta)
