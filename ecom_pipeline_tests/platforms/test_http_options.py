"""One HTTP options object from the stored shop (or the connect arguments) down to the session.

Failures prevented: a value dropped on the way from the integration to the client (the CA bundle, ``--insecure``,
the API version, the run's retries or request budget), and the older keyword call form silently meaning
something else than the options object.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecom_pipeline.platforms.errors import ShopServerError
from ecom_pipeline.platforms.http import HttpOptions, HttpSession
from ecom_pipeline.platforms.prestashop.client import PrestaShopClient
from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient
from ecom_pipeline.sync.extract import ExtractContext
from ecom_pipeline_tests.platforms.integration_records import integration_record
from ecom_pipeline_tests.platforms.replay_server import ReplayServer, Reply

KEY = "ck_4f1c2a9b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b"
SECRET = "cs_9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer(consumer_key=KEY, consumer_secret=SECRET) as srv:
        yield srv


def test_a_stored_shop_gives_its_ca_bundle_insecure_flag_and_api_version(tmp_path: Path) -> None:
    bundle = str(tmp_path / "ca.pem")
    options = HttpOptions.for_integration(integration_record({"ca_bundle": bundle, "api_version": "wc/v2"}))
    assert (options.base_url, options.verify, options.ca_bundle, options.insecure) == (
        "https://shop.example",
        bundle,
        bundle,
        False,
    )
    assert options.api_version == "wc/v2"
    insecure = HttpOptions.for_integration(integration_record({"insecure": True}))
    assert insecure.verify is False and insecure.insecure and insecure.api_version is None


def test_the_extract_context_hands_the_runs_limits_to_the_client() -> None:
    ctx = ExtractContext(
        engine=None,  # type: ignore[arg-type]  # not used to build options
        integration=integration_record({"insecure": True, "api_version": "wc/v3"}),
        credentials={"consumer_key": KEY, "consumer_secret": SECRET},
        run_id=None,
        timeout_s=12.0,
        max_retries=3,
        request_budget=40,
        per_page=50,
    )
    client = WooCommerceClient(ctx.http_options(), KEY, SECRET, per_page=ctx.per_page)
    http = client.http
    assert (http.verify, http.timeout, http.max_retries, http.request_budget) == (False, (10.0, 12.0), 3, 40)
    assert client.api_root == "https://shop.example/wp-json/wc/v3" and client.per_page == 50


def test_connect_arguments_give_the_options_and_the_settings_to_store(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    args = argparse.Namespace(
        url="https://shop.example/", ca_bundle=str(bundle), insecure=False, timeout=7.0, api_version="wc/v3"
    )
    options, settings = HttpOptions.from_connect_args(args, max_retries=2)
    assert (options.base_url, options.verify, options.timeout, options.max_retries) == (
        "https://shop.example",
        str(bundle.resolve()),
        7.0,
        2,
    )
    assert settings == {"ca_bundle": str(bundle.resolve()), "api_version": "wc/v3"}
    presta_args = argparse.Namespace(url="http://ps.example", ca_bundle=None, insecure=True, timeout=20.0)
    presta, presta_settings = HttpOptions.from_connect_args(presta_args)
    assert presta.verify is False and presta.api_version is None and presta_settings == {"insecure": True}


def test_keywords_and_the_options_object_build_the_same_session() -> None:
    """Shopify's client still passes verify=, timeout=, max_retries=... one by one: they must mean the same."""
    sleeps: list[float] = []
    by_keywords = HttpSession(
        "https://x/api", platform="t", verify="/ca.pem", timeout=5.0, max_retries=1, sleep=sleeps.append
    )
    options = HttpOptions(verify="/ca.pem", timeout=5.0, max_retries=1, sleep=sleeps.append)
    by_options = HttpSession("https://x/api", platform="t", options=options)
    for session in (by_keywords, by_options):
        assert (session.verify, session.timeout, session.max_retries, session._sleep) == (
            "/ca.pem",
            (5.0, 5.0),
            1,
            sleeps.append,
        )
    with pytest.raises(TypeError):
        HttpSession("https://x/api", platform="t", retries=3)  # a misspelt option is an error, not ignored


def test_clients_take_the_options_object_or_a_url_with_keywords() -> None:
    options = HttpOptions(base_url="https://shop.example/", api_version="wc/v2", timeout=5.0, max_retries=1)
    woo = WooCommerceClient(options, KEY, SECRET)
    legacy = WooCommerceClient("https://shop.example/", KEY, SECRET, api_version="wc/v2", timeout=5.0, max_retries=1)
    for client in (woo, legacy):
        assert client.api_root == "https://shop.example/wp-json/wc/v2"
        assert (client.http.timeout, client.http.max_retries) == ((5.0, 5.0), 1)
    presta = PrestaShopClient(HttpOptions(base_url="http://ps.example/api", max_retries=0), "K" * 32, shop_id=2)
    assert presta.api_root == "http://ps.example/api" and presta.http.max_retries == 0 and presta.shop_id == 2


def test_a_client_built_from_options_uses_their_retries_and_sleep(server: ReplayServer) -> None:
    """The retry policy travels with the options: one retry, slept through the injected sleep, then the error."""
    waits: list[float] = []
    options = HttpOptions(base_url=server.site_url, timeout=5.0, max_retries=1, sleep=waits.append, rng=lambda: 1.0)
    down = Reply.json(503, {"code": "down", "message": "maintenance"})
    server.add("GET", "products", down, down, down)
    with WooCommerceClient(options, KEY, SECRET) as client, pytest.raises(ShopServerError):
        client.check_credentials()
    assert len(server.requests) == 2 and waits == [0.5]  # full jitter with rng 1.0: the backoff base
