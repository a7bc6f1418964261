"""Connecting a PrestaShop shop: the language multilingual fields are read in, from the shop or from --language.

Failures prevented: a two-language shop read in whatever language comes first (or as lists), a mistyped
--language silently ignored, and a one-language shop whose settings change meaning.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from ecom_pipeline.platforms.connect import ConnectUsageError
from ecom_pipeline.platforms.prestashop import connect as ps_connect
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    specs = [
        ShopSpec(name="one", platform="prestashop", products=3, orders=1, customers=1),
        ShopSpec(
            name="two", platform="prestashop", products=3, orders=1, customers=1, options={"languages": ["en", "fr"]}
        ),
    ]
    with SandboxServer(shops=specs, cert_dir=tmp_path_factory.mktemp("certs")) as server:
        yield server


def _args(sandbox: SandboxServer, shop: str, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url")
    parser.add_argument("--name", default=None)
    parser.add_argument("--timeout", type=float, default=5)
    parser.add_argument("--ca-bundle", default=None)
    parser.add_argument("--insecure", action="store_true")
    ps_connect.add_connect_arguments(parser)
    handle = sandbox.shop(shop)
    return parser.parse_args(["--url", handle.http_url, "--api-key", handle.credentials["api_key"], *extra])


@pytest.mark.parametrize(
    ("shop", "extra", "expected"),
    [
        ("two", (), (1, "en")),  # PS_LANG_DEFAULT
        ("two", ("--language", "fr"), (2, "fr")),
        ("two", ("--language", "FR"), (2, "fr")),
        ("two", ("--language-id", "2"), (2, "fr")),
        ("one", (), (1, "en")),
    ],
)
def test_connect_stores_the_language_to_read(
    sandbox: SandboxServer, shop: str, extra: tuple[str, ...], expected: tuple[int, str]
) -> None:
    """Prevents names read in an arbitrary language: the default is the shop's, --language overrides it."""
    result = ps_connect.connect(_args(sandbox, shop, *extra))
    assert (result.settings["language_id"], result.settings["language"]) == expected
    assert result.settings["languages"] == ({"1": "en", "2": "fr"} if shop == "two" else {"1": "en"})


def test_connect_refuses_a_language_the_shop_does_not_have(sandbox: SandboxServer) -> None:
    """Prevents a mistyped --language from silently falling back to another language."""
    with pytest.raises(ConnectUsageError, match=r"no such language; its languages: en \(id 1\), fr \(id 2\)"):
        ps_connect.connect(_args(sandbox, "two", "--language", "de"))
