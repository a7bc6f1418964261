"""The Shopify client takes the shared HTTP options object (``platforms/http.py`` ``HttpOptions``) like the
WooCommerce and PrestaShop clients, and the places that build one keep what is Shopify's own.

Failures prevented: a client that can only be built from a dozen loose arguments (so a new HTTP setting has to be
threaded through every caller by hand), an integration stored without a pinned version silently moving to today's
default when its client is built from options, and a GraphQL answer that is not an object reported without its
URL and status.
"""

from __future__ import annotations

from typing import Any

import pytest

from ecom_pipeline.platforms.errors import RequestBudgetExceeded, ShopResponseError
from ecom_pipeline.platforms.http import HttpOptions
from ecom_pipeline.platforms.shopify.client import ShopifyClient
from ecom_pipeline.platforms.shopify.extract import make_client
from ecom_pipeline.platforms.shopify.versions import DEFAULT_API_VERSION, LEGACY_DEFAULT_VERSION
from ecom_pipeline.platforms.shopify.webhooks import client_for
from ecom_pipeline.sync.extract import ExtractContext
from ecom_pipeline_tests.platforms.integration_records import integration_record
from ecom_pipeline_tests.platforms.shopify.stub_server import FakeClock, GraphQLStub, StubServer

SHOP_QUERY = "query Shop { shop { name } }"


def test_client_built_from_http_options_speaks_their_version_and_spends_their_budget(
    stub: GraphQLStub, server: StubServer, clock: FakeClock
) -> None:
    """Prevents the options object being ignored: its API version picks the endpoint, its budget is enforced."""
    stub.on("shop {", {"shop": {"name": "x"}})
    options = HttpOptions(
        base_url=server.url, api_version="2025-07", request_budget=1, max_retries=0, sleep=clock.sleep
    )
    with ShopifyClient(options, "shpat_good", clock=clock.time) as client:
        assert client.execute(SHOP_QUERY) == {"shop": {"name": "x"}}
        assert stub.requests[-1]["path"] == "/test-shop/admin/api/2025-07/graphql.json"
        with pytest.raises(RequestBudgetExceeded):
            client.execute(SHOP_QUERY)
    # The URL form with keyword overrides still works; no version given means the client's default.
    with ShopifyClient(server.url, "shpat_good", sleep=clock.sleep, clock=clock.time, max_retries=0) as client:
        assert client.api_version == DEFAULT_API_VERSION and client.http.max_retries == 0


def test_a_graphql_answer_that_is_not_an_object_names_url_and_status(
    stub: GraphQLStub, server: StubServer, clock: FakeClock
) -> None:
    """Prevents an unexplained failure on a body of the wrong shape: the error says where it came from."""
    stub.on("shop {", lambda _v, _h: (200, ["not", "an", "object"]))
    with (
        ShopifyClient(server.url, "shpat_good", sleep=clock.sleep, clock=clock.time) as client,
        pytest.raises(ShopResponseError) as caught,
    ):
        client.execute(SHOP_QUERY)
    assert caught.value.status == 200 and caught.value.method == "POST"
    assert "graphql.json" in str(caught.value.url) and "expected a JSON object" in str(caught.value)


@pytest.mark.parametrize(
    ("settings", "version", "verify"),
    [
        ({}, LEGACY_DEFAULT_VERSION, True),
        ({"api_version": "2026-01", "insecure": True}, "2026-01", False),
    ],
)
def test_clients_of_a_stored_shop_keep_its_pinned_version_and_tls(
    settings: dict[str, Any], version: str, verify: bool
) -> None:
    """Prevents an integration connected before versions were stored from jumping to today's default version (the
    options object alone would say "no version"), and the TLS choice or the run's limits being lost on the way."""
    integration = integration_record(settings, platform="shopify")
    ctx = ExtractContext(
        engine=None,  # type: ignore[arg-type]  # building a client touches no database
        integration=integration,
        credentials={"access_token": "shpat_x"},
        run_id=None,
        timeout_s=12.0,
        max_retries=4,
        request_budget=99,
    )
    with make_client(ctx) as extract_client:
        assert (extract_client.api_version, extract_client.verify) == (version, verify)
        http = extract_client.http
        assert (http.max_retries, http.request_budget, http.timeout[1]) == (4, 99, 12.0)
    with client_for(integration, {"access_token": "shpat_x"}, timeout=7.0) as webhook_client:
        assert (webhook_client.api_version, webhook_client.verify) == (version, verify)
        assert (webhook_client.http.max_retries, webhook_client.http.timeout[1]) == (2, 7.0)
