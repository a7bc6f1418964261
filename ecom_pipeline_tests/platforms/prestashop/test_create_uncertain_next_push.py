"""A PrestaShop create that got no answer and was saved by the shop after the push's ~15 s wait (review r1, HIGH).

The first push rejects the item (``options.CreateUncertain``); the rejection, recorded in ``rejected_records`` like
every export refusal, carries the writer's marker, and the next push reads it (``sync.export.uncertain_creates``)
and looks the record up by what it has: a product with combinations or without SKU by its ``link_rewrite``, a
combination without reference by its option values, only among ids above the first push's floor. Before, the next
push found nothing by reference and created a second product. Real HTTP to the emulator (``commit_late`` plays PHP
saving after the client gave up), the rejections through the real warehouse on both backends.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine

from ecom_pipeline.platforms.prestashop import options as O
from ecom_pipeline.platforms.prestashop import writer as W
from ecom_pipeline.platforms.prestashop.client import PrestaShopClient
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline.sync.export import (
    ExportPlan,
    ProductCreate,
    VariantCreate,
    VariantValues,
    WriteOutcome,
    record_export_rejections,
    uncertain_creates,
)
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher

SETTINGS = {"timezone": "Europe/Paris", "language_id": 1, "languages": {"1": "en"}, "currency": "EUR"}
TIMEOUT_S = 1.0
_RUN = itertools.count(1)  # one emulator per module and worker, each test twice (both backends): names made unique


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    specs = [ShopSpec(name="ps-late2", platform="prestashop", seed=6, products=4, orders=0, customers=0)]
    with SandboxServer(shops=specs, cert_dir=tmp_path_factory.mktemp("certs")) as server:
        yield server


@pytest.fixture()
def shop(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[ShopHandle]:
    monkeypatch.setattr(O, "SETTLE_DELAYS_S", (0.2, 0.2), raising=False)  # a short wait: the shop outlasts it
    handle = sandbox.shop("ps-late2")
    handle.faults.reset()
    yield handle
    handle.faults.reset()


@pytest.fixture()
def integration_id(engine: Engine) -> int:
    with engine.begin() as conn:
        return store.create_integration(
            conn,
            tenant_id="acme",
            platform="prestashop",
            name="ps",
            base_url="http://127.0.0.1:1/ps",
            credentials={},
            settings={},
            cipher=CredentialCipher(Fernet.generate_key().decode()),
        )


def client_for(shop: ShopHandle) -> PrestaShopClient:
    client = PrestaShopClient(shop.http_url, shop.credentials["api_key"], timeout=TIMEOUT_S, backoff_base_s=0.0)
    client.integration_settings = dict(SETTINGS)  # type: ignore[attr-defined]
    return client


def settled(shop: ShopHandle) -> None:
    deadline = time.monotonic() + 10
    while shop.api.late_in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    assert shop.api.late_in_flight == 0


def by_handle(shop: ShopHandle, handle: str) -> list[dict[str, Any]]:
    return [r for r in shop.store.tables["products"].values() if shop.store.text(r["link_rewrite"]) == handle]


def combinations_of(shop: ShopHandle, pid: Any) -> list[dict[str, Any]]:
    return [r for r in shop.store.tables["combinations"].values() if str(r["id_product"]) == str(pid)]


def recorded(engine: Engine, iid: int, out: WriteOutcome, plan: ExportPlan) -> ExportPlan:
    """What ``run_push`` does between two pushes: record the refusals, and give the next plan the markers."""
    with engine.begin() as conn:
        shop = SimpleNamespace(id=iid, platform="prestashop")
        record_export_rejections(conn, tenant_id="acme", shop=shop, run_id=None, refused=out.rejections)
    with engine.connect() as conn:
        plan.uncertain_creates = uncertain_creates(conn, iid)
    return plan


def variable_plan(tag: str, skus: bool = True) -> ExportPlan:
    plan = ExportPlan(integration_id=1, platform="prestashop", tenant_id="acme")
    variants = tuple(
        VariantValues(hub_id=810 + i, sku=f"LATEV-{tag}-{size}" if skus else None,
                      values={"sku": f"LATEV-{tag}-{size}" if skus else None, "price": Decimal("20.00") + i},
                      options={"Size": size})
        for i, size in enumerate(("S", "M"))
    )  # fmt: skip
    plan.creates = [
        ProductCreate(hub_id=81, handle=f"late-var-{tag}", kind="variable", values={"title": "Late var",
                      "status": "active"}, variants=variants)
    ]  # fmt: skip
    return plan


def simple_plan(handle: str) -> ExportPlan:
    plan = ExportPlan(integration_id=1, platform="prestashop", tenant_id="acme")
    variant = VariantValues(hub_id=701, sku=None, values={"price": Decimal("12.00")}, options={})
    plan.creates = [
        ProductCreate(hub_id=70, handle=handle, kind="simple", values={"title": "Late", "status": "active"},
                      variants=(variant,))
    ]  # fmt: skip
    return plan


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_product_with_combinations_saved_after_the_wait_is_adopted_by_the_next_push(
    shop: ShopHandle, engine: Engine, integration_id: int, concurrency: int
) -> None:
    """The reviewer's repro (r1): the next push created the product again (two ``late-var-r1``)."""
    tag = f"r1c{concurrency}n{next(_RUN)}"
    shop.api.commit_late("POST /api/products", TIMEOUT_S + 1.5)
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        out = W.apply_plan(client, variable_plan(tag), links.extend, concurrency=concurrency)
    assert [r.key for r in out.rejections] == [f"late-var-{tag}"] and links == []
    settled(shop)
    second = recorded(engine, integration_id, out, variable_plan(tag))
    assert set(second.uncertain_creates) == {81}
    with client_for(shop) as client:
        again = W.apply_plan(client, second, links.extend, concurrency=concurrency)
    [made] = by_handle(shop, f"late-var-{tag}")
    combos = combinations_of(shop, made["id"])
    assert sorted(c["reference"] for c in combos) == [f"LATEV-{tag}-M", f"LATEV-{tag}-S"]
    assert {r["external_id"] for r in links if r["entity"] == "product"} == {str(made["id"])}
    assert {r["external_id"] for r in links if r["entity"] == "variant"} == {f"{made['id']}-{c['id']}" for c in combos}
    assert again.rejections == [] and ("product", 81) in second.adopted
    # The next push after that one has nothing marked: the refusal was closed.
    with engine.connect() as conn:
        record_export_rejections(
            conn, tenant_id="acme", shop=SimpleNamespace(id=integration_id, platform="prestashop"), run_id=None,
            refused=again.rejections,
        )  # fmt: skip
        assert uncertain_creates(conn, integration_id) == {}


def test_a_simple_product_without_sku_saved_late_is_adopted_not_a_merchants_older_one(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """A product without SKU has only its slug; a merchant's own product of that slug made before the first push is
    never taken for it (ids above that push's floor only)."""
    handle = f"late-nosku-r1n{next(_RUN)}"
    with client_for(shop) as client:  # the merchant's product, same slug, no reference
        W.apply_plan(client, simple_plan(handle), lambda rows: None, concurrency=1)
    [merchant] = by_handle(shop, handle)
    shop.api.commit_late("POST /api/products", TIMEOUT_S + 1.5)
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        out = W.apply_plan(client, simple_plan(handle), links.extend, concurrency=1)
    assert len(out.rejections) == 1 and links == []
    settled(shop)
    late = [r for r in by_handle(shop, handle) if r["id"] != merchant["id"]]
    assert len(late) == 1
    with client_for(shop) as client:
        again = W.apply_plan(client, recorded(engine, integration_id, out, simple_plan(handle)), links.extend,
                             concurrency=1)  # fmt: skip
    assert len(by_handle(shop, handle)) == 2  # the merchant's and the late one: no third
    assert {r["external_id"] for r in links if r["entity"] == "product"} == {str(late[0]["id"])}
    assert again.rejections == []


def test_a_combination_without_reference_saved_late_is_adopted_by_the_next_push(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """The product was made, its first combination (no reference) was saved after the wait: the next push (the
    product linked, its variants planned as variant creates) links that combination instead of a second one."""
    tag = f"r1nocomb{next(_RUN)}"
    shop.api.commit_late("POST /api/combinations", TIMEOUT_S + 1.5)
    links: list[dict[str, Any]] = []
    first = variable_plan(tag, skus=False)
    with client_for(shop) as client:
        out = W.apply_plan(client, first, links.extend, concurrency=1)
    assert len(out.rejections) == 1
    settled(shop)
    [made] = by_handle(shop, f"late-var-{tag}")
    pid = str(made["id"])
    assert {r["external_id"] for r in links} == {pid}  # the product linked (and read back), no combination
    [late] = combinations_of(shop, pid)
    second = ExportPlan(integration_id=1, platform="prestashop", tenant_id="acme")
    second.variant_creates = [VariantCreate(81, pid, v) for v in first.creates[0].variants]
    with client_for(shop) as client:
        again = W.apply_plan(client, recorded(engine, integration_id, out, second), links.extend, concurrency=1)
    combos = combinations_of(shop, pid)
    assert len(combos) == 2, combos  # the late one (size S) and size M, no second S
    variant_links = {r["hub_id"]: r["external_id"] for r in links if r["entity"] == "variant"}
    assert variant_links[810] == f"{pid}-{late['id']}"
    assert again.rejections == []
