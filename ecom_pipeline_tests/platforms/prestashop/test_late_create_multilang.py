"""The late-create narrowing and the post-create look-again on a two-language shop (en, fr): a create writes the
name and slug in every language, and the look-ups compare every language (review of h-idemps's checks)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from ecom_pipeline.platforms.prestashop import options as O
from ecom_pipeline.platforms.prestashop import writer as W
from ecom_pipeline.platforms.prestashop.client import PrestaShopClient
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline.sync.export import CREATE_UNCERTAIN
from ecom_pipeline_tests.platforms.prestashop import test_create_uncertain_next_push as base
from ecom_pipeline_tests.platforms.prestashop.test_create_uncertain_next_push import (
    _RUN,
    TIMEOUT_S,
    by_handle,
    recorded,
    settled,
    simple_plan,
)

integration_id = base.integration_id
ML = {"timezone": "Europe/Paris", "language_id": 1, "languages": {"1": "en", "2": "fr"}, "currency": "EUR"}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    specs = [
        ShopSpec(
            name="ps-ml-rev",
            platform="prestashop",
            seed=7,
            products=3,
            orders=0,
            customers=0,
            options={"languages": ["en", "fr"]},
        )
    ]
    with SandboxServer(shops=specs, cert_dir=tmp_path_factory.mktemp("certs")) as server:
        yield server


@pytest.fixture()
def shop(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[ShopHandle]:
    monkeypatch.setattr(O, "SETTLE_DELAYS_S", (0.2, 0.2), raising=False)
    handle = sandbox.shop("ps-ml-rev")
    handle.faults.reset()
    yield handle
    handle.faults.reset()


def client_for(shop: ShopHandle, timeout: float = TIMEOUT_S) -> PrestaShopClient:
    client = PrestaShopClient(shop.http_url, shop.credentials["api_key"], timeout=timeout, backoff_base_s=0.0)
    client.integration_settings = dict(ML)  # type: ignore[attr-defined]
    return client


def test_two_languages_several_candidates_narrowed(shop: ShopHandle, engine: Engine, integration_id: int) -> None:
    handle = f"ml-cand-{next(_RUN)}"
    plan = simple_plan(handle)
    plan.creates[0].variants[0].values["price"] = Decimal("12.345678")
    shop.api.commit_late("POST /api/products", TIMEOUT_S + 1.5)
    with client_for(shop) as client:
        out = W.apply_plan(client, plan, lambda rows: None, concurrency=1)
    assert CREATE_UNCERTAIN in out.rejections[0].payload
    settled(shop)
    [late] = by_handle(shop, handle)
    other = simple_plan(handle)
    other.creates[0].values["title"] = "Other"
    with client_for(shop) as client:
        client.post_xml_id("products", W.create_document(other.creates[0], W._Shop(ML)))
        print(
            client.list(
                "products", {"filter[id]": f"[{late['id']}]", "display": "[id,reference,name,price,link_rewrite]"}
            )
        )
    links: list[dict[str, Any]] = []
    plan2 = simple_plan(handle)
    plan2.creates[0].variants[0].values["price"] = Decimal("12.345678")
    with client_for(shop) as client:
        again = W.apply_plan(client, recorded(engine, integration_id, out, plan2), links.extend, concurrency=1)
    assert again.rejections == [], again.rejections
    assert {r["external_id"] for r in links if r["entity"] == "product"} == {str(late["id"])}


def test_two_languages_race_deletes_ours(shop: ShopHandle, engine: Engine, integration_id: int) -> None:
    handle = f"ml-race-{next(_RUN)}"
    shop.api.commit_late("POST /api/products", 6.0)
    with client_for(shop) as client:
        out = W.apply_plan(client, simple_plan(handle), lambda rows: None, concurrency=1)
    assert by_handle(shop, handle) == []
    plan2 = recorded(engine, integration_id, out, simple_plan(handle))
    shop.api.commit_late("POST /api/products", 6.0)
    links: list[dict[str, Any]] = []
    with client_for(shop, 15.0) as client:
        again = W.apply_plan(client, plan2, links.extend, concurrency=1)
    settled(shop)
    [kept] = by_handle(shop, handle)
    assert again.rejections == []
    assert {r["external_id"] for r in links if r["entity"] == "product"} == {str(kept["id"])}
