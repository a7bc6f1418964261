"""The KPI arithmetic on a real warehouse (SQLite, or PostgreSQL on CI): dead runs, percentiles, the definitions."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import dagster as dg
from cryptography.fernet import Fernet
from sqlalchemy import update

from ecom_pipeline.assets.ops import OPS_ASSETS
from ecom_pipeline.definitions import defs
from ecom_pipeline.ops import kpis
from ecom_pipeline.resources import WarehouseResource
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import sync_runs
from ecom_pipeline.warehouse.types import utcnow


def _shop(url: str, tenant: str) -> int:
    with shared_engine(url).begin() as conn:
        return store.create_integration(
            conn,
            tenant_id=tenant,
            platform="woocommerce",
            name=tenant,
            base_url=f"http://127.0.0.1:1/{tenant}",
            credentials={"consumer_key": "ck", "consumer_secret": "cs"},
            settings={},
            cipher=CredentialCipher(Fernet.generate_key().decode()),
        )


def _run(
    url: str, integration_id: int, tenant: str, status: str | None, *, started_ago: timedelta, run_id: str | None = None
) -> None:
    """One sync_runs row (a run of its own unless ``run_id`` names one shared with other rows)."""
    with shared_engine(url).begin() as conn:
        row = store.start_sync_run(
            conn, tenant_id=tenant, integration_id=integration_id, platform="woocommerce", entity="product",
            direction="pull", stage="extract", full_refresh=False, run_id=run_id or uuid.uuid4().hex,
            cursor_before=None,
        )  # fmt: skip
        if status is not None:
            error = "ShopServerError: HTTP 500" if status == "failed" else None
            store.finish_sync_run(conn, row, status=status, counts={}, cursor_after=None, error=error)
        conn.execute(update(sync_runs).where(sync_runs.c.id == row).values(started_at=utcnow() - started_ago))


def test_a_run_that_died_counts_as_failed_and_one_still_running_does_not_count(warehouse_url: str) -> None:
    """Prevents killed runs (rows left `running`) from hiding failures, and a sync in flight from counting as one."""
    acme, globex = _shop(warehouse_url, "acme"), _shop(warehouse_url, "globex")
    for _ in range(49):
        _run(warehouse_url, acme, "acme", "success", started_ago=timedelta(hours=1))
    _run(warehouse_url, acme, "acme", None, started_ago=kpis.STALE_RUNNING + timedelta(minutes=5))
    _run(warehouse_url, acme, "acme", None, started_ago=timedelta(minutes=1))
    _run(warehouse_url, globex, "globex", "success", started_ago=timedelta(hours=2))
    _run(warehouse_url, globex, "globex", "failed", started_ago=timedelta(hours=1))
    _run(warehouse_url, globex, "globex", "failed", started_ago=timedelta(hours=30))  # outside the window

    with shared_engine(warehouse_url).connect() as conn:
        report = kpis.compute_kpis(conn)
        only_acme = kpis.compute_kpis(conn, tenant="acme")
    by_shop = {s.integration_id: s for s in report.sync}
    assert (by_shop[acme].succeeded, by_shop[acme].died, by_shop[acme].finished) == (49, 1, 50)
    assert by_shop[acme].rate == 0.98 and by_shop[globex].rate == 0.5
    assert [s.integration_id for s in report.sync_below()] == [globex]  # 98 % is at the promise, not below
    assert report.success_rate == 50 / 52
    assert "globex shop #" in report.sync_verdict() and "1 of 2 runs succeeded" in report.sync_verdict()
    assert "HTTP 500" in report.sync_verdict()
    assert [s.integration_id for s in only_acme.sync] == [acme] and not only_acme.sync_below()


def test_a_run_is_one_outcome_however_many_rows_it_wrote(warehouse_url: str) -> None:
    """Prevents many rows of one run (entities, stages, webhook applies) from outweighing the runs that failed."""
    shop = _shop(warehouse_url, "acme")
    for n in range(3):  # three healthy runs of 8 rows each
        for _ in range(8):
            _run(warehouse_url, shop, "acme", "success", started_ago=timedelta(hours=2), run_id=f"ok-{n}")
    for status in ("success", "success", "failed"):  # one run: two entities read, one failed
        _run(warehouse_url, shop, "acme", status, started_ago=timedelta(hours=1), run_id="bad")
    with shared_engine(warehouse_url).connect() as conn:
        [s] = kpis.compute_kpis(conn).sync
    assert (s.succeeded, s.failed, s.finished, s.rate) == (3, 1, 4, 0.75)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert kpis.percentile(values, 0.95) == 95.0 and kpis.percentile(values, 0.5) == 50.0
    assert kpis.percentile([0.2], 0.95) == 0.2 and kpis.percentile([], 0.5) is None


def test_the_ops_group_has_warn_checks_and_an_hourly_schedule() -> None:
    """Prevents the KPIs from existing only when someone clicks Materialize."""
    schedule = defs.resolve_schedule_def("ops_kpis_schedule")
    assert schedule.cron_schedule == "7 * * * *" and schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    job = defs.resolve_job_def("ops_kpis_job")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == {
        "ops/sync_success",
        "ops/webhook_latency",
        "ops/record_counts",
    }
    checks = defs.resolve_asset_graph().asset_check_keys
    assert {c.name for c in checks if c.asset_key.path[0] == "ops"} == {
        "sync_success_rate_at_promise",
        "webhook_latency_at_promise",
        "no_records_missing",
    }


def test_the_ops_assets_materialize_on_an_empty_warehouse(warehouse_url: str, dagster_home: Path) -> None:
    """Prevents the hourly KPI run from failing before the first shop is connected (nothing measured: no warning)."""
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        result = dg.materialize(
            OPS_ASSETS, instance=instance, resources={"warehouse": WarehouseResource(url=warehouse_url)}
        )
        assert result.success
        evaluations = result.get_asset_check_evaluations()
        assert len(evaluations) == 3 and all(e.passed for e in evaluations)
        [sync] = [m for m in result.asset_materializations_for_node("ops__sync_success")]
        assert sync.metadata["success_rate_pct"].value is None and sync.metadata["shop_runs"].value == 0
    finally:
        instance.dispose()
