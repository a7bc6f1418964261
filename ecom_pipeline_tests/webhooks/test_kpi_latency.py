"""The webhook-latency KPI (issue 12 part 5) from real inbox rows: received by the receiver, applied by apply_inbox.

Deliveries go over HTTP to the real receiver (signed like WooCommerce signs them), are applied with the pull's own
transform and resolve, and the ``ops/webhook_latency`` asset is materialized on a real Dagster instance.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path

import dagster as dg
from sqlalchemy import select

from ecom_pipeline.assets.ops import webhook_latency
from ecom_pipeline.ops import kpis
from ecom_pipeline.resources import WarehouseResource
from ecom_pipeline.warehouse.schema import webhook_inbox
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline.webhooks.apply import apply_inbox
from ecom_pipeline_tests.webhooks.conftest import TENANT, Receiver
from ecom_pipeline_tests.webhooks.woo_deliveries import deliver, no_client, recorded_body


def _materialize(receiver: Receiver, instance: dg.DagsterInstance, **config: float) -> dg.AssetCheckEvaluation:
    result = dg.materialize(
        [webhook_latency],
        instance=instance,
        resources={"warehouse": WarehouseResource(url=receiver.engine.url.render_as_string(hide_password=False))},
        run_config={"ops": {"ops__webhook_latency": {"config": config}}} if config else None,
    )
    assert result.success
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def test_webhook_latency_is_measured_from_received_to_applied_and_checked_against_the_promise(
    receiver: Receiver, dagster_home: Path
) -> None:
    """Prevents the 'under 1 s' promise from being asserted rather than measured (and a slow shop hiding)."""
    base = recorded_body("webhook-delivery-product-created-simple")
    for minute in (10, 11, 12):
        body = copy.deepcopy(base) | {"date_modified_gmt": f"2026-11-22T00:{minute}:00", "price": f"1{minute}.00"}
        deliver(receiver, "product.updated", body)
    report = apply_inbox(receiver.engine, tenant_id=TENANT, run_id="r1", client_factory=no_client)
    assert report.applied == 3
    with receiver.engine.connect() as conn:
        rows = conn.execute(select(webhook_inbox.c.received_at, webhook_inbox.c.processed_at)).all()
    latencies = sorted((p - r).total_seconds() for r, p in rows)
    assert len(latencies) == 3 and latencies[0] >= 0

    # One more delivery arrives and is not applied: pending is not late at first, five minutes later it is.
    deliver(receiver, "product.updated", copy.deepcopy(base) | {"date_modified_gmt": "2026-11-22T00:13:00"})
    # The promise is set above what this run measured: the latency itself depends on the machine's load and is
    # measured in benchmarks/ (kpi_bench); this test checks how it is measured and compared, deterministically.
    kept = kpis.Thresholds(max_webhook_latency_s=latencies[-1] * 2 + 1.0)
    with receiver.engine.connect() as conn:
        now = kpis.compute_kpis(conn, tenant=TENANT, thresholds=kept)
        kpi = kpis.compute_kpis(
            conn, tenant=TENANT, thresholds=kept, now=utcnow() + timedelta(seconds=kpis.MAX_PENDING_S + 1)
        )
    assert now.webhooks[0].pending_overdue == 0 and not now.webhooks_over()
    assert [w.integration_id for w in kpi.webhooks_over()] == [receiver.wc_integration]
    assert "1 deliveries pending for over 300 s" in kpi.webhook_verdict()
    [shop] = kpi.webhooks
    assert shop.integration_id == receiver.wc_integration
    assert shop.applied == 3 and shop.pending_overdue == 1 and shop.dead == 0
    assert shop.max_s == latencies[-1] and shop.p50_s == latencies[1] and shop.p95_s == latencies[-1]

    apply_inbox(receiver.engine, tenant_id=TENANT, run_id="r2", client_factory=no_client)
    with receiver.engine.connect() as conn:
        rows = conn.execute(select(webhook_inbox.c.received_at, webhook_inbox.c.processed_at)).all()
    latencies = sorted((p - r).total_seconds() for r, p in rows)
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        check = _materialize(receiver, instance, max_webhook_latency_s=latencies[-1] * 2 + 1.0)
        assert check.passed and check.severity == dg.AssetCheckSeverity.WARN
        # A stricter promise than what was measured fails the check, which names the shop and the figure.
        strict = latencies[-1] / 2
        check = _materialize(receiver, instance, max_webhook_latency_s=strict)
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        p95 = kpis.percentile(latencies, 0.95)
        assert f"shop #{receiver.wc_integration} (woocommerce): webhook p95 {kpis.secs(p95)} over" in (
            check.description or ""
        )
        record = instance.fetch_materializations(dg.AssetKey(["ops", "webhook_latency"]), limit=1).records[0]
        metadata = record.asset_materialization.metadata  # type: ignore[union-attr]
        assert metadata["p95_s_worst_shop"].value == round(p95 or 0.0, 4)
        assert metadata["deliveries_applied"].value == 4 and metadata["pending_overdue"].value == 0
    finally:
        instance.dispose()
