"""End to end: the products extract applies full batches to the hub while later pages are still being read.

Issue 12: the hub steps used to run only after every page was downloaded. Nothing of ours is mocked: emulated shops
over real HTTP (answers slowed with the emulator's ``slow_ms`` switch, so a page takes long enough to download for
the ordering to be certain), a real warehouse (PostgreSQL when it answers, else SQLite) and real Dagster runs
through ``run_sync`` with the default settings (a batch is 500 rows; the shops have 900 products, so 500 are
applied while pages six to nine download, a margin of seconds for the worker to start on a loaded machine, and the
hub step applies the last 400: never a second, short batch while reading).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import func, select

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.runner import SyncOutcome, run_sync
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.sync.apply_while_reading import DEFAULT_BATCH_ROWS
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.locks import tenant_lock
from ecom_pipeline.warehouse.schema import entity_links, hub_products, hub_variants, staging_records, sync_runs
from ecom_pipeline_tests.integration.conftest import count, running_shop

TENANT = "overlap"
PRODUCTS = 900  # nine pages of 100: five make a full batch while four more download
SLOW_MS = 250  # every answer of the emulator; a product page (list + variations, 4 at a time) takes ~1 s


def _spec(platform: str) -> ShopSpec:
    return ShopSpec(
        name=f"{platform}-overlap",
        seed=11,
        products=PRODUCTS,
        variable_share=0.05,
        orders=10,
        customers=5,
        platform=platform,
    )


@pytest.fixture(params=["woocommerce", "prestashop"])
def shop(
    request: pytest.FixtureRequest,
    warehouse_url: str,
    dagster_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[SandboxServer, dg.DagsterInstance, ShopSpec]]:
    """The emulated shop (900 products, answers slowed) connected to the tenant by ``ecom-pipeline connect``."""
    spec = _spec(request.param)
    running = running_shop(
        spec, warehouse_url=warehouse_url, dagster_home=dagster_home, tmp_path=tmp_path, monkeypatch=monkeypatch
    )
    with running as (sandbox, instance):
        info = sandbox.shop(spec.name)
        argv = ["--warehouse-url", warehouse_url, "connect", spec.platform, "--tenant", TENANT, "--url", info.http_url]
        if spec.platform == "woocommerce":
            monkeypatch.setenv("ECOM_CONSUMER_SECRET", info.consumer_secret)
            argv += ["--consumer-key", info.consumer_key]
        else:
            monkeypatch.setenv("ECOM_PRESTASHOP_API_KEY", info.credentials["api_key"])
        assert cli_main([*argv, "--timeout", "5"]) == 0
        info.faults.update({"slow_ms": SLOW_MS})
        yield sandbox, instance, spec


def _applied_before_last_page(warehouse_url: str) -> int:
    """Product staging rows applied before the last product page was staged (``fetched_at`` is set per page)."""
    with shared_engine(warehouse_url).connect() as conn:
        last_page = conn.execute(
            select(func.max(staging_records.c.fetched_at)).where(staging_records.c.entity == "product")
        ).scalar_one()
        return int(
            conn.execute(
                select(func.count()).where(
                    staging_records.c.entity == "product", staging_records.c.applied_at < last_page
                )
            ).scalar_one()
        )


def _resolve_rows(warehouse_url: str, run_id: str) -> list[tuple[int, int, str]]:
    with shared_engine(warehouse_url).connect() as conn:
        rows = conn.execute(
            select(sync_runs.c.rows_fetched, sync_runs.c.created, sync_runs.c.status)
            .where(
                sync_runs.c.dagster_run_id == run_id, sync_runs.c.entity == "product", sync_runs.c.stage == "resolve"
            )
            .order_by(sync_runs.c.id)
        ).all()
    return [(int(r.rows_fetched), int(r.created), str(r.status)) for r in rows]


def _assert_every_product_applied_once(warehouse_url: str) -> None:
    assert count(warehouse_url, hub_products) == PRODUCTS
    assert count(warehouse_url, entity_links, entity_links.c.entity == "product") == PRODUCTS
    assert count(warehouse_url, staging_records, staging_records.c.applied_at.is_(None)) == 0


def test_products_reach_the_hub_while_later_pages_are_still_downloading(
    shop: tuple[SandboxServer, dg.DagsterInstance, ShopSpec], warehouse_url: str
) -> None:
    """Prevents the hub apply from waiting for the last page again (issue 12), and its counts from vanishing from
    the UI: the extract step shows what it applied, ``hub/products`` the run's total, ``sync_runs`` both parts."""
    _, instance, spec = shop
    outcome = run_sync(TENANT, instance=instance)
    assert outcome.success, outcome.failure
    _assert_every_product_applied_once(warehouse_url)

    # A full batch was applied before the last page was staged: the apply overlapped the read.
    assert _applied_before_last_page(warehouse_url) >= DEFAULT_BATCH_ROWS

    extract = outcome.materializations[f"{spec.platform}/products"]
    assert extract["applied_rows_read"] == DEFAULT_BATCH_ROWS and extract["applied_batches"] == 1
    assert extract["applied_created"] == DEFAULT_BATCH_ROWS and extract["applied_rejected"] == 0
    assert "applied_error" not in extract
    hub = outcome.materializations["hub/products"]
    assert hub["created"] == PRODUCTS and hub["rows_read"] == PRODUCTS and hub["rejected"] == 0
    assert hub["applied_while_reading"]["created"] == DEFAULT_BATCH_ROWS
    assert hub["applied_by_this_step"]["created"] == PRODUCTS - DEFAULT_BATCH_ROWS
    assert _resolve_rows(warehouse_url, outcome.run_id) == [
        (DEFAULT_BATCH_ROWS, DEFAULT_BATCH_ROWS, "success"),
        (PRODUCTS - DEFAULT_BATCH_ROWS, PRODUCTS - DEFAULT_BATCH_ROWS, "success"),
    ]
    # Orders still apply after products: every line found its variant.
    assert outcome.materializations["hub/orders"]["rejected"] == 0

    # Nothing changed: the next run applies nothing, in the extract or in the hub step.
    again = run_sync(TENANT, instance=instance)
    assert again.success, again.failure
    assert again.materializations[f"{spec.platform}/products"]["applied_rows_read"] == 0
    assert again.materializations["hub/products"]["created"] == 0
    _assert_every_product_applied_once(warehouse_url)


def _run_in_thread(instance: dg.DagsterInstance) -> tuple[threading.Thread, list[SyncOutcome]]:
    done: list[SyncOutcome] = []
    thread = threading.Thread(target=lambda: done.append(run_sync(TENANT, instance=instance)), daemon=True)
    thread.start()
    return thread, done


def test_the_extract_applies_nothing_while_another_apply_holds_the_tenant_lock(
    shop: tuple[SandboxServer, dg.DagsterInstance, ShopSpec], warehouse_url: str
) -> None:
    """Prevents the read's apply from bypassing the tenant lock (a webhook apply or another run of the tenant holds
    it) or from waiting for it: it skips its rounds, the read finishes, and the hub step applies every row once
    when the lock is free."""
    _, instance, spec = shop
    engine = shared_engine(warehouse_url)
    with tenant_lock(engine, TENANT, purpose="test holder"):
        thread, done = _run_in_thread(instance)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # the products extract finished (its sync_runs row is closed)
            with engine.connect() as conn:
                finished = conn.execute(
                    select(func.count()).where(
                        sync_runs.c.entity == "product", sync_runs.c.stage == "extract", sync_runs.c.status != "running"
                    )
                ).scalar_one()
            if finished:
                break
            time.sleep(0.2)
        assert finished, "the products extract did not finish while the lock was held"
        assert count(warehouse_url, hub_products) == 0  # nothing was applied under someone else's lock
    thread.join(timeout=300)
    assert done and done[0].success, done[0].failure if done else "the run did not end"
    extract = done[0].materializations[f"{spec.platform}/products"]
    assert extract["applied_rows_read"] == 0 and extract["applied_lock_busy_rounds"] >= 1
    assert done[0].materializations["hub/products"]["created"] == PRODUCTS
    _assert_every_product_applied_once(warehouse_url)


def test_a_sync_killed_after_the_read_applied_a_batch_resumes_without_loss_or_duplicates(
    shop: tuple[SandboxServer, dg.DagsterInstance, ShopSpec], warehouse_url: str
) -> None:
    """Prevents a crash (kill -9) once the extract has applied part of the shop from losing the rest or applying a
    row twice: the rerun applies every staged row exactly once (applied rows stay applied, pending ones are taken
    up, re-read pages deduplicate against the links)."""
    sandbox, instance, spec = shop
    script = f"from ecom_pipeline.runner import run_sync; run_sync({TENANT!r})"
    proc = subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ))
    applied = staging_records.c.applied_at.is_not(None)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and count(warehouse_url, staging_records, applied) == 0:
            assert proc.poll() is None, "the sync finished before it could be interrupted"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert 0 < count(warehouse_url, hub_products) < PRODUCTS
    # The batch was applied by the products extract step: the killed run had not started hub/products.
    killed = instance.get_runs(limit=1)[0]
    steps = {stat.step_key for stat in instance.get_run_step_stats(killed.run_id)}
    assert f"{spec.platform}__products" in steps and "hub__products" not in steps, steps
    sandbox.shop(spec.name).faults.reset()
    outcome = run_sync(TENANT, instance=instance)
    assert outcome.success, outcome.failure
    _assert_every_product_applied_once(warehouse_url)
    with shared_engine(warehouse_url).connect() as conn:
        dupes = conn.execute(
            select(hub_variants.c.sku, func.count())
            .where(hub_variants.c.sku.is_not(None))
            .group_by(hub_variants.c.sku)
            .having(func.count() > 1)
        ).all()
    assert not dupes
