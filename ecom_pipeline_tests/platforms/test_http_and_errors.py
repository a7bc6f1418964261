"""Shared HTTP helpers and error hierarchy: the pieces every platform client relies on."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from ecom_pipeline.platforms.errors import (
    ShopApiError,
    ShopAuthError,
    ShopRateLimitedError,
    redact_text,
    sanitize_url,
)
from ecom_pipeline.platforms.http import HttpSession, parse_link_header, parse_retry_after

SIGNED = (
    "http://127.0.0.1:8080/wp-json/wc/v3/products?per_page=2&oauth_consumer_key=ck_0123456789abcdef"
    "&oauth_timestamp=1795306210&oauth_nonce=57b1&oauth_signature_method=HMAC-SHA256&oauth_signature=abc%3D&page=2"
)


def test_sanitize_url_drops_oauth_and_key_params_but_keeps_the_rest() -> None:
    assert sanitize_url(SIGNED) == "http://127.0.0.1:8080/wp-json/wc/v3/products?per_page=2&page=2"
    assert sanitize_url("https://u:p@shop.example/x?consumer_key=ck_1&consumer_secret=cs_2") == "https://shop.example/x"


def test_redact_text_scrubs_urls_inside_library_messages_and_literal_secrets() -> None:
    message = f"HTTPConnectionPool: Max retries exceeded with url: {SIGNED[21:]} (Caused by refused)"
    cleaned = redact_text(message)
    assert "oauth" not in cleaned and "ck_0123" not in cleaned
    assert "/wp-json/wc/v3/products?per_page=2&page=2 (Caused by refused)" in cleaned
    assert redact_text("secret is s3cr3t!", ("s3cr3t!",)) == "secret is <redacted>"


def test_error_text_is_one_paragraph_with_where_and_what_to_do() -> None:
    err = ShopAuthError(
        "Sorry, you cannot list resources.",
        platform="woocommerce",
        method="GET",
        url=SIGNED,
        status=401,
        code="woocommerce_rest_cannot_view",
    )
    text = str(err)
    assert "\n" not in text
    assert "GET http://127.0.0.1:8080/wp-json/wc/v3/products?per_page=2&page=2" in text
    assert "(HTTP 401 woocommerce_rest_cannot_view)" in text and "reconnect" in text
    assert "oauth" not in text and "oauth" not in repr(err)


def test_errors_survive_pickling_for_multiprocess_executors() -> None:
    err = ShopRateLimitedError("Slow down", platform="woocommerce", method="GET", url=SIGNED, status=429, hint="Wait.")
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is ShopRateLimitedError and str(clone) == str(err) and isinstance(clone, ShopApiError)


def test_retry_after_seconds_and_http_date() -> None:
    now = datetime(2026, 11, 22, 0, 10, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Sun, 22 Nov 2026 00:10:05 GMT", now) == pytest.approx(5.0)
    assert parse_retry_after("Sun, 22 Nov 2026 00:09:00 GMT", now) == 0.0  # in the past: retry now
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None


def test_link_header_with_prev_and_next_in_one_line() -> None:
    value = (
        '<https://127.0.0.1:8080/wp-json/wc/v3/products?per_page=5&page=1>; rel="prev", '
        '<https://127.0.0.1:8080/wp-json/wc/v3/products?per_page=5&page=3>; rel="next"'
    )
    links = parse_link_header(value)
    assert links["next"].endswith("page=3") and links["prev"].endswith("page=1")


def test_backoff_is_full_jitter_capped() -> None:
    session = HttpSession("http://x", platform="t", rng=lambda: 1.0, backoff_base_s=0.5, max_backoff_s=4.0)
    from ecom_pipeline.platforms.http import _Retryable

    failure = _Retryable(ShopApiError("boom"))
    assert [session._wait_before_retry(n, failure) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert session._wait_before_retry(0, _Retryable(ShopApiError("x"), retry_after=500)) is None  # too long
