"""A PrestaShop create answered by something in front of PHP (review r1 #2): a proxy's 503 (Heroku H12, Varnish),
Cloudflare's 520/522/524. PHP may still be saving the record, so the push must not look once and POST again (a
second product when PHP finishes): it waits for the record like after a timeout (``options.may_still_run``) and,
not finding it, rejects the item without a second POST. A 5xx carrying a webservice error document is PrestaShop's
own finished answer. Real HTTP to the emulator, its fault injection answering the POST with the 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from ecom_pipeline.platforms.errors import ShopRateLimitedError, ShopServerError, ShopUnreachableError
from ecom_pipeline.platforms.prestashop import options as O
from ecom_pipeline.platforms.prestashop import writer as W
from ecom_pipeline.platforms.prestashop.client import PrestaShopClient
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline.sync.export import ExportPlan, ProductCreate, VariantValues

SETTINGS = {"timezone": "Europe/Paris", "language_id": 1, "languages": {"1": "en"}, "currency": "EUR"}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    specs = [ShopSpec(name="ps-proxy", platform="prestashop", seed=7, products=3, orders=0, customers=0)]
    with SandboxServer(shops=specs, cert_dir=tmp_path_factory.mktemp("certs")) as server:
        yield server


@pytest.fixture()
def shop(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[ShopHandle]:
    monkeypatch.setattr(O, "SETTLE_DELAYS_S", (0.1, 0.1), raising=False)
    handle = sandbox.shop("ps-proxy")
    handle.faults.reset()
    handle.stats.reset()
    yield handle
    handle.faults.reset()


def plan_for(sku: str) -> ExportPlan:
    plan = ExportPlan(integration_id=1, platform="prestashop", tenant_id="t")
    variant = VariantValues(hub_id=901, sku=sku, values={"sku": sku, "price": Decimal("9.00")}, options={})
    plan.creates = [
        ProductCreate(hub_id=90, handle=sku.lower(), kind="simple", values={"title": "Proxy", "status": "active"},
                      variants=(variant,))
    ]  # fmt: skip
    return plan


@pytest.mark.parametrize("status", [503, 520, 522, 524, 500])
def test_a_create_answered_by_a_proxys_5xx_is_not_posted_again(shop: ShopHandle, status: int) -> None:
    """Prevents the second POST: a 503/52x (no webservice error body) was a finished answer, the look-up ran at
    once and the product was sent again; PHP saving the first made two."""
    sku = f"PROXY-{status}"
    shop.faults.update(
        {"server_errors": 1, "server_error_statuses": [status], "server_error_path": "POST /api/products"}
    )
    client = PrestaShopClient(shop.http_url, shop.credentials["api_key"], backoff_base_s=0.0)
    client.integration_settings = dict(SETTINGS)  # type: ignore[attr-defined]
    with client:
        out = W.apply_plan(client, plan_for(sku), lambda rows: None, concurrency=1)
    assert shop.stats.count("POST", "/api/products") == 1
    assert [r.key for r in out.rejections] == [sku] and "not sent again" in out.rejections[0].reason
    assert out.created == 0


def test_what_may_still_be_running() -> None:
    """The rule itself: a 5xx with a webservice error code is PrestaShop's finished answer; a 429 is not a 5xx."""
    assert O.may_still_run(ShopServerError("proxy", platform="prestashop", status=503))
    assert O.may_still_run(ShopServerError("cloudflare", platform="prestashop", status=524))
    assert not O.may_still_run(ShopServerError("PHP warnings", platform="prestashop", status=500, code="3"))
    assert not O.may_still_run(ShopRateLimitedError("slow down", platform="prestashop", status=429))
    assert O.may_still_run(ShopUnreachableError("Read timed out", platform="prestashop"))
    assert not O.may_still_run(ShopUnreachableError("Failed to establish a new connection", platform="prestashop"))
