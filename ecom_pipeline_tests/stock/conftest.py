"""The stock world (three emulated shops, one shared SKU) for the stock tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from ecom_pipeline.stock.world import StockWorld, stock_world


@pytest.fixture
def world(warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StockWorld]:
    home = tmp_path / "home"
    monkeypatch.setenv("ECOM_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("ECOM_PIPELINE_HOME", str(home))
    monkeypatch.setenv("ECOM_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("ECOM_SHOPIFY_ACCESS_TOKEN", "")
    monkeypatch.setenv("ECOM_PRESTASHOP_API_KEY", "")
    # The Plus plan's cost bucket (1,000 points/s): on the default plan the many-rounds test waited ~40 of its 43 s
    # for the emulated Shopify's bucket to refill, which nothing here is about.
    with stock_world(warehouse_url, tmp_path / "certs", home, shopify_plan="plus") as w:
        yield w
