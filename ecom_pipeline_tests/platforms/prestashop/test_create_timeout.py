"""A PrestaShop create whose request timed out while the shop went on saving it (issue 10: a create and our link
cut apart must not make a duplicate). The emulator holds the POST past the client's timeout, then applies it
(``PrestaShopApi.commit_late``), as PHP does after the client gave up; everything runs over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from ecom_pipeline.platforms.prestashop import options as O
from ecom_pipeline.platforms.prestashop import writer as W
from ecom_pipeline.platforms.prestashop.client import PrestaShopClient
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline.sync.export import ExportPlan, ProductCreate, VariantValues

SETTINGS = {"timezone": "Europe/Paris", "language_id": 1, "languages": {"1": "en"}, "currency": "EUR"}
TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    specs = [ShopSpec(name="ps-late", platform="prestashop", seed=6, products=4, orders=0, customers=0)]
    with SandboxServer(shops=specs, cert_dir=tmp_path_factory.mktemp("certs")) as server:
        yield server


@pytest.fixture()
def shop(sandbox: SandboxServer) -> Iterator[ShopHandle]:
    handle = sandbox.shop("ps-late")
    handle.faults.reset()
    yield handle
    handle.faults.reset()


def client_for(shop: ShopHandle) -> PrestaShopClient:
    client = PrestaShopClient(shop.http_url, shop.credentials["api_key"], timeout=TIMEOUT_S, backoff_base_s=0.0)
    client.integration_settings = dict(SETTINGS)  # type: ignore[attr-defined]
    return client


def settled(shop: ShopHandle) -> None:
    """Wait until the emulator applied every late write (the duplicate, when there is one, shows only then)."""
    deadline = time.monotonic() + 10
    while shop.api.late_in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    assert shop.api.late_in_flight == 0


def products(shop: ShopHandle, **match: Any) -> list[dict[str, Any]]:
    table = shop.store.tables["products"].values()
    return [r for r in table if all(str(r.get(k)) == str(v) for k, v in match.items())]


def by_handle(shop: ShopHandle, handle: str) -> list[dict[str, Any]]:
    return [r for r in shop.store.tables["products"].values() if shop.store.text(r["link_rewrite"]) == handle]


def simple_plan(sku: str) -> ExportPlan:
    plan = ExportPlan(integration_id=1, platform="prestashop", tenant_id="t")
    variant = VariantValues(hub_id=701, sku=sku, values={"sku": sku, "price": Decimal("12.00")}, options={})
    plan.creates = [
        ProductCreate(hub_id=70, handle=sku.lower(), kind="simple", values={"title": "Late", "status": "active"},
                      variants=(variant,))
    ]  # fmt: skip
    return plan


def variable_plan(tag: str) -> ExportPlan:
    plan = ExportPlan(integration_id=1, platform="prestashop", tenant_id="t")
    variants = tuple(
        VariantValues(hub_id=810 + i, sku=f"LATEV-{tag}-{size}", values={"sku": f"LATEV-{tag}-{size}",
                      "price": Decimal("20.00") + i}, options={"Size": size})
        for i, size in enumerate(("S", "M"))
    )  # fmt: skip
    plan.creates = [
        ProductCreate(hub_id=81, handle=f"late-var-{tag}", kind="variable", values={"title": "Late var",
                      "status": "active"}, variants=variants)
    ]  # fmt: skip
    return plan


def test_a_simple_product_saved_after_the_timeout_is_found_not_created_twice(shop: ShopHandle) -> None:
    """Prevents the duplicate: the POST timed out on our side, the shop saved the product 0.6 s later, and the
    look-up made right after the timeout found nothing, so the POST was sent again (two products, one linked)."""
    sku = "LATE-SIMPLE"
    shop.api.commit_late("POST /api/products", TIMEOUT_S + 0.6)
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        out = W.apply_plan(client, simple_plan(sku), links.extend, concurrency=1)
    settled(shop)
    made = products(shop, reference=sku)
    assert len(made) == 1, made
    assert {r["external_id"] for r in links if r["entity"] == "product"} == {str(made[0]["id"])}
    assert (out.created, out.rejections) == (1, [])


@pytest.mark.parametrize(("concurrency", "path"), [(1, "POST /api/products"), (3, "POST /api/products"),
                                                   (3, "POST /api/combinations")])  # fmt: skip
def test_a_product_with_combinations_saved_after_the_timeout_is_made_once(
    shop: ShopHandle, concurrency: int, path: str
) -> None:
    """Prevents a second product (its look-up by link_rewrite ran before the shop had saved the first) or a second
    combination, in the push's own thread or a worker's."""
    tag = f"{concurrency}{path[-4:]}"
    shop.api.commit_late(path, TIMEOUT_S + 0.6)
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        out = W.apply_plan(client, variable_plan(tag), links.extend, concurrency=concurrency)
    settled(shop)
    made = by_handle(shop, f"late-var-{tag}")
    assert len(made) == 1, made
    pid = str(made[0]["id"])
    combos = [r for r in shop.store.tables["combinations"].values() if str(r["id_product"]) == pid]
    assert sorted(c["reference"] for c in combos) == [f"LATEV-{tag}-M", f"LATEV-{tag}-S"]
    assert {r["external_id"] for r in links if r["entity"] == "variant"} == {f"{pid}-{c['id']}" for c in combos}
    assert (out.created, out.rejections) == (3, [])


def test_a_create_still_unsaved_after_the_wait_is_not_sent_again_and_the_next_push_adopts_it(
    shop: ShopHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents a second create in the same push when the shop is slower than the look-ups' wait: the item is
    rejected (not re-sent), and the next push finds the product the shop saved late by its reference and links it."""
    monkeypatch.setattr(O, "SETTLE_DELAYS_S", (0.2, 0.2), raising=False)  # a short wait, so the shop outlasts it
    sku = "LATE-SLOWER"
    shop.api.commit_late("POST /api/products", TIMEOUT_S + 1.5)
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        out = W.apply_plan(client, simple_plan(sku), links.extend, concurrency=1)
    assert [r.key for r in out.rejections] == [sku]
    assert "not sent again" in out.rejections[0].reason
    assert links == [] and out.created == 0
    settled(shop)
    [late] = products(shop, reference=sku)  # the shop saved the first POST; no second one was sent
    with client_for(shop) as client:
        again = W.apply_plan(client, simple_plan(sku), links.extend, concurrency=1)
    assert len(products(shop, reference=sku)) == 1
    assert {r["external_id"] for r in links if r["entity"] == "product"} == {str(late["id"])}
    assert again.rejections == []
