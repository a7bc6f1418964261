"""``ShopifyClient.execute(retry=False)``: one call without the transport's retries, on the client's one session."""

from __future__ import annotations

import pytest

from ecom_pipeline.platforms.errors import ShopServerError
from ecom_pipeline.platforms.http import HttpOptions
from ecom_pipeline.platforms.shopify.client import ShopifyClient
from ecom_pipeline_tests.platforms.shopify.stub_server import FakeClock, GraphQLStub, StubServer

SHOP = "query Shop { shop { name } }"


def test_writes_without_retries_and_other_calls_keep_one_pacing_clock(
    stub: GraphQLStub, server: StubServer, clock: FakeClock
) -> None:
    """Prevents ``max_requests_per_second`` being exceeded by up to twice: ``retry=False`` went through a copy of
    the session with its own pacing clock, so its calls and the session's were each paced as if alone. Four calls
    alternating retry on and off, at 2 a second, must be spaced 0.5 s apart: 1.5 s of pacing in all."""
    stub.enforce_bucket = False
    stub.on("shop {", {"shop": {"name": "x"}}, requested=1.0)
    # The HTTP layer's clock is the options' (``clock=`` is the cost governor's): both on the fake clock.
    options = HttpOptions(
        base_url=server.url, sleep=clock.sleep, clock=clock.time, max_retries=2, max_requests_per_second=2.0
    )
    with ShopifyClient(options, "shpat_good", clock=clock.time) as client:
        for retry in (True, False, True, False):
            assert client.execute(SHOP, retry=retry) == {"shop": {"name": "x"}}
        assert client.http.stats.api_calls == 4
        assert client.http.stats.throttle_wait_s == pytest.approx(1.5)


def test_a_write_sent_with_retry_false_is_sent_once_and_the_next_call_is_retried(
    stub: GraphQLStub, client: ShopifyClient
) -> None:
    """Prevents a create whose answer was lost being resent blindly (a duplicate), and the retries staying off
    after it."""
    answers = iter([(502, {"errors": "Bad gateway"}), (502, {"errors": "Bad gateway"}), {"shop": {"name": "x"}}])
    stub.on("shop {", lambda _v, _h: next(answers))
    with pytest.raises(ShopServerError):
        client.execute(SHOP, retry=False)
    assert client.stats.api_calls == 1 and client.stats.retries == 0
    assert client.execute(SHOP) == {"shop": {"name": "x"}}
    assert client.stats.retries == 1 and client.http.max_retries == 2
