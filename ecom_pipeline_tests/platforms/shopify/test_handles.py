"""The handle a Shopify create is sent, looked up and compared with (``writer.shopify_handle``): a form Shopify stores
as it is given, so the look-up by key of a rerun finds what the killed push created."""

from __future__ import annotations

import pytest

from ecom_pipeline.platforms.shopify.writer import HANDLE_MAX, generated_handle, shopify_handle
from ecom_pipeline.sandbox.shopify.store import product_handle

CASES = [
    ("tee", "tee"),
    ("T-Shirt_Bio", "t-shirt-bio"),  # PrestaShop link_rewrite: Shopify would store t-shirt_bio
    ("caf%c3%a9", "cafe"),  # a WooCommerce slug is percent-encoded UTF-8
    ("100%-cotton", "100-cotton"),  # not an escape: left as text, then a hyphen
    ("Été (Spécial) 2024", "ete-special-2024"),
    ("it's", "its"),  # Shopify removes quotes rather than hyphenating them
    ("  --Mug  XL--  ", "mug-xl"),
    ("日本", ""),  # nothing ASCII is left: the create gets a generated handle
    (None, ""),
]


@pytest.mark.parametrize(("hub", "expected"), CASES)
def test_a_hub_handle_becomes_one_shopify_stores_unchanged(hub: str | None, expected: str) -> None:
    """Prevents a handle sent in a form Shopify rewrites (the rerun's look-up by the sent key then misses)."""
    assert shopify_handle(hub) == expected
    assert product_handle(expected) == expected  # the emulator, storing as Shopify does, keeps it as sent
    assert shopify_handle(expected) == expected


def test_a_long_hub_handle_is_cut_to_shopifys_length_without_a_trailing_hyphen() -> None:
    handle = shopify_handle("a" * (HANDLE_MAX - 1) + " b")
    assert len(handle) <= HANDLE_MAX and not handle.endswith("-")


def test_a_generated_handle_attempt_adds_a_deterministic_suffix() -> None:
    """The next generated handle (another hub product has the first) is the same on every push: a rerun tries the
    same handles in the same order."""
    assert generated_handle(7, "Mug") == "mug-h7"
    assert generated_handle(7, "Mug", 2) == "mug-h7-2" == generated_handle(7, "Mug", 2)
    long = generated_handle(7, "x" * 400, 12)
    assert len(long) == HANDLE_MAX and long.endswith("-h7-12")
