"""Attribute groups and values by name (``platforms/prestashop/options.py``) against the emulated PrestaShop over real
HTTP: the shop's own found in the integration's language, missing ones created in every language, a refusal
reported with the shop's own (XML) message, and no duplicate when an answer is lost."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ecom_pipeline.platforms.prestashop.client import PrestaShopClient
from ecom_pipeline.platforms.prestashop.options import OptionError, PrestaShopOptions, names_by_language
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec

BILINGUAL = {"language_id": 1, "languages": {"1": "en", "2": "fr"}}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    specs = [
        ShopSpec(name="ps-one", platform="prestashop", seed=4, products=2, orders=0, customers=0),
        ShopSpec(
            name="ps-two", platform="prestashop", seed=4, products=2, orders=0, customers=0,
            options={"languages": ["en", "fr"]},
        ),
    ]  # fmt: skip
    with SandboxServer(shops=specs, cert_dir=tmp_path_factory.mktemp("certs")) as server:
        yield server


def shop_of(sandbox: SandboxServer, name: str) -> ShopHandle:
    shop = sandbox.shop(name)
    shop.faults.reset()
    return shop


def client_for(shop: ShopHandle) -> PrestaShopClient:
    return PrestaShopClient(shop.http_url, shop.credentials["api_key"], timeout=5.0, backoff_base_s=0.0)


def named(shop: ShopHandle, table: str, name: str) -> list[dict[str, Any]]:
    store = shop.store
    return [
        r
        for r in store.tables[table].values()
        if any(t == name for t in names_by_language(_as_json(r["name"])).values())
    ]


def _as_json(raw: Any) -> Any:
    return [{"id": str(k), "value": v} for k, v in raw.items()] if isinstance(raw, dict) else raw


def test_the_shops_own_values_are_found_and_missing_ones_created_once(sandbox: SandboxServer) -> None:
    """Prevents a second "S" next to the shop's own and a "Material" group created on every push."""
    shop = shop_of(sandbox, "ps-one")
    with client_for(shop) as client:
        first = PrestaShopOptions(client, {"language_id": 1}).value_ids({"size": "s", "Material": "Linen"})
    assert first[0] == "1"
    with client_for(shop) as client:
        again = PrestaShopOptions(client, {"language_id": 1}).value_ids({"Size": "S", "material": "LINEN"})
    assert again == first
    assert len(named(shop, "product_options", "Material")) == 1
    [linen] = named(shop, "product_option_values", "Linen")
    assert str(linen["id"]) == first[1] and linen["id_attribute_group"] == str(
        named(shop, "product_options", "Material")[0]["id"]
    )


def test_a_created_group_and_value_carry_the_hub_name_in_every_language(sandbox: SandboxServer) -> None:
    """Prevents a group or value blank in the shop's other languages (shown empty in the French back office)."""
    shop = shop_of(sandbox, "ps-two")
    with client_for(shop) as client:
        options = PrestaShopOptions(client, BILINGUAL)
        [white, wool] = options.value_ids({"Color": "White", "Fabric": "Wool"})
        # Matched in the integration's language only: "Blanc" (White's French name) is a value of its own.
        [blanc] = options.value_ids({"Color": "Blanc"})
    assert white == "8" and blanc not in ("8", white)
    [fabric] = named(shop, "product_options", "Fabric")
    assert (fabric["name"], fabric["public_name"], fabric["group_type"]) == (
        {1: "Fabric", 2: "Fabric"},
        {1: "Fabric", 2: "Fabric"},
        "select",
    )
    assert shop.store.tables["product_option_values"][int(wool)]["name"] == {1: "Wool", 2: "Wool"}


def test_a_lost_answer_is_looked_up_by_name_before_sending_again(sandbox: SandboxServer) -> None:
    """Prevents duplicates: PrestaShop has no unique names, so a blindly retried POST would make a second value."""
    shop = shop_of(sandbox, "ps-one")
    shop.faults.update({"cut_after_bytes": 10, "cut_responses": 1, "cut_path": "POST /api/product_option_values"})
    with client_for(shop) as client:
        [vid] = PrestaShopOptions(client, {"language_id": 1}).value_ids({"Size": "XXXL"})
    assert shop.faults.cut_responses == 0, "the fault must have cut the value's create"
    assert [str(r["id"]) for r in named(shop, "product_option_values", "XXXL")] == [vid]


def test_a_refused_create_is_an_option_error_with_the_shops_message(sandbox: SandboxServer) -> None:
    """Prevents 'non-JSON error body' (or a bare HTTP 400) as the reason a variant was not pushed."""
    shop = shop_of(sandbox, "ps-one")
    with client_for(shop) as client, pytest.raises(OptionError) as info:
        PrestaShopOptions(client, {"language_id": 1}).value_ids({"Size": " "})
    assert 'Validation error: "Property ProductAttribute->name is empty."' in str(info.value)


def test_a_one_language_shops_plain_names_and_a_multilingual_shops_lists_read_alike() -> None:
    """Prevents a one-language shop's options never matching (its JSON names are plain strings, not lists)."""
    assert names_by_language("Size") == {"": "Size"}
    assert names_by_language([{"id": "1", "value": "Size"}, {"id": "2", "value": "Taille"}]) == {
        "1": "Size",
        "2": "Taille",
    }
