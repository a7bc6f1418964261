"""A product notice of a multishop PrestaShop whose shop the integration cannot tell (review 3, MEDIUM 4).

``ShopStock.select`` refuses a multishop stock listing when neither the integration's ``shop_id`` nor the shop's
``PS_SHOP_DEFAULT`` is known (``shops.ShopUnknownError``). On a product notice that refusal made the whole re-read
fail: nothing staged, the notice retried to dead letters although no retry can help. Now the product is staged and
only its stock is skipped, with a warning saying to connect with ``--shop-id``. Real HTTP to the emulator.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ecom_pipeline.platforms.prestashop.client import PrestaShopClient
from ecom_pipeline.platforms.prestashop.webhooks import reread
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline.warehouse.store import IntegrationRecord


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[ShopHandle]:
    spec = ShopSpec(name="ps-notice-multi", platform="prestashop", seed=9, products=3, orders=0, customers=0)
    with SandboxServer(shops=[spec], cert_dir=tmp_path / "certs") as server:
        handle = server.shop("ps-notice-multi")
        handle.store.add_shop_stock(2, 0, quantity=5)  # a second shop's rows: a multishop listing
        yield handle


def _integration(settings: dict[str, object]) -> IntegrationRecord:
    return IntegrationRecord(
        id=1, tenant_id="t", platform="prestashop", name="ps", base_url="http://127.0.0.1:1/ps",
        settings={"timezone": "Europe/Paris", "language_id": 1, "currency": "EUR", **settings}, status="active",
        created_at=datetime.now(UTC), last_sync_at=None, last_success_at=None, last_error=None, last_error_at=None,
    )  # fmt: skip


def test_a_product_notice_is_staged_without_stock_when_the_shop_is_unknown(
    shop: ShopHandle, caplog: pytest.LogCaptureFixture
) -> None:
    configurations = shop.store.tables["configurations"]
    for cid in [c for c, r in configurations.items() if r["name"] == "PS_SHOP_DEFAULT"]:
        del configurations[cid]
    pid = str(next(iter(shop.store.tables["products"])))

    def client() -> PrestaShopClient:
        return PrestaShopClient(shop.http_url, shop.credentials["api_key"])

    with caplog.at_level(logging.WARNING):
        records = reread(integration=_integration({}), entity="product", external_id=pid, client=client)
    assert [(r.entity, r.external_id) for r in records] == [("product", pid)]
    assert any("--shop-id" in r.getMessage() and pid in r.getMessage() for r in caplog.records)
    # Named shop: the stock is staged with the product, as before.
    records = reread(integration=_integration({"shop_id": 2}), entity="product", external_id=pid, client=client)
    assert [(r.entity, r.external_id) for r in records] == [("product", pid), ("inventory", pid)]
