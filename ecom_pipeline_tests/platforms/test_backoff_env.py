"""The back-off base a test can shorten through the environment (``ECOM_HTTP_BACKOFF_BASE_S``)."""

from __future__ import annotations

import pytest

from ecom_pipeline.platforms.http import BACKOFF_BASE_ENV, HttpOptions


def test_the_backoff_base_defaults_to_half_a_second_and_the_environment_can_shorten_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Prevents the knob the failing-shop tests use from being ignored (they would wait ~8 s a request again) or
    from changing the default when it is unset or empty."""
    monkeypatch.delenv(BACKOFF_BASE_ENV, raising=False)
    assert HttpOptions().backoff_base_s == 0.5
    monkeypatch.setenv(BACKOFF_BASE_ENV, "")
    assert HttpOptions().backoff_base_s == 0.5
    monkeypatch.setenv(BACKOFF_BASE_ENV, "0.01")
    assert HttpOptions().backoff_base_s == 0.01
    assert HttpOptions.of("http://shop.test").backoff_base_s == 0.01
    assert HttpOptions(backoff_base_s=2.0).backoff_base_s == 2.0  # an explicit value still wins
