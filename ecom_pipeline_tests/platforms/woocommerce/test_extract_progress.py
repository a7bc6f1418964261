"""The WooCommerce extract's progress log, over real HTTP to the sandbox emulator, into a real warehouse.

Failure prevented: one log line per page. Under Dagster every log line is an event committed to the run's event
log (~45 ms each), so a 10,000-product full sync (300 product and order pages) spent ~13 s logging progress. The
scan must still stage every page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from ecom_pipeline.platforms.woocommerce import extract as wc
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.sync.extract import ExtractContext
from ecom_pipeline.warehouse.schema import staging_records
from ecom_pipeline_tests.platforms.woocommerce.connect import connect_shop


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    spec = ShopSpec(name="wc-shop", platform="woocommerce", seed=5, products=30, variable_share=0.5, orders=25)
    with SandboxServer(shops=[spec], cert_dir=tmp_path / "certs") as server:
        yield server


def test_a_many_page_scan_stages_every_page_and_logs_its_progress_once(
    sandbox: SandboxServer, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    shop = sandbox.shop("wc-shop")
    integration, credentials = connect_shop(engine, shop, name="wc-shop")
    log = logging.getLogger("ecom_pipeline_tests.wc_progress")
    for entity in ("product", "order"):
        ctx = ExtractContext(engine, integration, credentials, "t", per_page=5, log=log)
        with caplog.at_level(logging.DEBUG, logger=log.name):
            caplog.clear()
            report = wc.extract_entity(ctx, entity)
            progress = [r.getMessage() for r in caplog.records if ": page " in r.getMessage()]
        assert report.pages >= 5, report
        with engine.connect() as conn:
            staged = conn.execute(
                select(func.count()).where(staging_records.c.entity == entity, staging_records.c.op == "upsert")
            ).scalar_one()
        assert staged == report.rows_fetched == report.staged > 0
        # The scan takes well under PROGRESS_LOG_INTERVAL_S: only its first page is logged.
        assert len(progress) == 1, progress
