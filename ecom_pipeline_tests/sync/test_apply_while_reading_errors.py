"""The apply-while-reading worker when a batch fails partway through a round: what it committed is counted.

Real warehouse (PostgreSQL under CI, else SQLite), real staging rows, the real worker thread; the transform that
fails is a test transform standing in for a bug in a platform's transform (not a ValueError, so the batch fails).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, func, select

from ecom_pipeline.sync.apply_while_reading import ApplyWhileReading, applied_in_run
from ecom_pipeline.warehouse.schema import staging_records, sync_runs
from ecom_pipeline_tests.sync.helpers import connect
from ecom_pipeline_tests.sync.test_apply import _product, _stage, transform


def test_a_batch_failing_late_in_a_round_keeps_the_counts_of_the_batches_committed_before_it(engine: Engine) -> None:
    """Prevents 20 products applied to the hub by the worker from being counted nowhere (metadata, sync_runs, the hub
    step's totals) and its resolve row saying success, when the third batch of the same round fails."""
    with engine.begin() as conn:
        iid = connect(conn)
    _stage(engine, iid, [_product(i) for i in range(1, 31)])  # three full batches of 10

    def buggy(payload: dict[str, Any]) -> Any:
        if payload["id"] == 25:
            raise RuntimeError("bug in a transform")
        return transform(payload)

    worker = ApplyWhileReading(engine, "acme", "product", [iid], {"woocommerce": buggy}, "run-x", "test", batch_rows=10)
    worker.start()
    worker.staged("product", 30)
    deadline = time.monotonic() + 30
    while worker._result.error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    result = worker.stop()
    assert result.error is not None and "bug in a transform" in result.error
    assert (result.report.rows_read, result.report.created, result.report.batches) == (20, 20, 2)
    with engine.connect() as conn:
        applied = conn.execute(
            select(func.count()).select_from(staging_records).where(staging_records.c.applied_at.is_not(None))
        ).scalar_one()
        rows = conn.execute(
            select(sync_runs.c.status, sync_runs.c.rows_fetched, sync_runs.c.created, sync_runs.c.error).where(
                sync_runs.c.stage == "resolve"
            )
        ).all()
        in_run = applied_in_run(conn, tenant_id="acme", entity="product", run_id="run-x")
    assert applied == 20
    assert [(r.status, r.rows_fetched, r.created) for r in rows] == [("failed", 20, 20)]
    assert "bug in a transform" in rows[0].error
    assert in_run["created"] == 20
