"""The ``ops`` asset group: the briefs' KPIs (sync success, webhook latency, zero data loss) in the Dagster UI.

Each asset recomputes one KPI for every tenant and shop from the warehouse (ops/kpis.py, the same figures
``ecom-pipeline status`` prints) and records it as materialization metadata: a table per shop, a Markdown verdict,
and plain numbers (the fleet figure) that Dagster's asset plots draw as a trend over materializations. Each has an
asset check of severity WARN that fails when the KPI breaks its promise; the thresholds are the run config.

The assets are not partitioned by tenant: one hourly run measures every tenant with a few queries, whereas a
partition per tenant would be one run per tenant per hour for numbers the per-shop table already splits. They
read only the warehouse (no shop is called), so they run on their own hourly schedule, not inside ``sync_job``.
"""

from datetime import timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from ecom_pipeline.ops import kpis
from ecom_pipeline.resources import WarehouseResource

GROUP = "ops"
WARN = dg.AssetCheckSeverity.WARN


class KpiConfig(dg.Config):
    """The window measured and the promises checked (defaults: the briefs')."""

    window_hours: float = Field(default=24.0, description="Hours of history each KPI covers.")
    min_success_rate: float = Field(
        default=kpis.MIN_SUCCESS_RATE, description="Lowest share of sync steps per shop that must succeed (0..1)."
    )
    max_webhook_latency_s: float = Field(
        default=kpis.MAX_WEBHOOK_LATENCY_S, description="Highest p95 seconds from webhook received to applied."
    )
    max_pending_s: float = Field(
        default=kpis.MAX_PENDING_S,
        description="Seconds a webhook delivery may stay pending before it breaks the latency promise by itself.",
    )
    max_missing_records: int = Field(
        default=kpis.MAX_MISSING_RECORDS, description="Records a shop may list that the hub lacks (per shop entity)."
    )

    def report(self, warehouse: WarehouseResource) -> kpis.KpiReport:
        thresholds = kpis.Thresholds(
            min_success_rate=self.min_success_rate,
            max_webhook_latency_s=self.max_webhook_latency_s,
            max_missing_records=self.max_missing_records,
            max_pending_s=self.max_pending_s,
        )
        with warehouse.engine().connect() as conn:
            return kpis.compute_kpis(conn, window=timedelta(hours=self.window_hours), thresholds=thresholds)


def _table(columns: list[tuple[str, str]], rows: list[dict[str, Any]]) -> dg.TableMetadataValue:
    return dg.TableMetadataValue(
        records=[dg.TableRecord(row) for row in rows],
        schema=dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in columns]),
    )


def _num(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _check(name: str, passed: bool, description: str, **metadata: Any) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name,
        passed=passed,
        severity=WARN,
        description=description[:2000],
        metadata={k: v for k, v in metadata.items() if v is not None},
    )


@dg.asset(
    key=["ops", "sync_success"],
    group_name=GROUP,
    description="Share of runs per tenant and shop over the window in which every sync step (extract, resolve, "
    "reconcile, export, webhook apply) succeeded; the briefs promise above 98 %.",
    check_specs=[
        dg.AssetCheckSpec(
            "sync_success_rate_at_promise",
            asset=["ops", "sync_success"],
            description="Every shop's share of successful runs is at least min_success_rate (default 98 %).",
        )
    ],
)
def sync_success(config: KpiConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    report = config.report(warehouse)
    rows = [
        {"tenant": s.tenant_id, "shop": s.integration_id, "platform": s.platform, "succeeded": s.succeeded,
         "failed": s.failed, "died": s.died, "success_pct": _num(s.rate * 100 if s.rate is not None else None, 2),
         "last_error": (s.last_error or "")[:200]}
        for s in report.sync
    ]  # fmt: skip
    below = report.sync_below()
    rate = report.success_rate
    return dg.MaterializeResult(
        metadata={
            "success_rate_pct": dg.FloatMetadataValue(_num(rate * 100 if rate is not None else None, 3)),
            "shop_runs": sum(s.finished for s in report.sync),
            "shops_below_promise": len(below),
            "window_hours": config.window_hours,
            "by_shop": _table(
                [
                    ("tenant", "string"),
                    ("shop", "int"),
                    ("platform", "string"),
                    ("succeeded", "int"),
                    ("failed", "int"),
                    ("died", "int"),
                    ("success_pct", "float"),
                    ("last_error", "string"),
                ],
                rows,
            ),
            "verdict": dg.MarkdownMetadataValue(report.sync_verdict()),
        },
        check_results=[
            _check(
                "sync_success_rate_at_promise",
                not below,
                report.sync_verdict(),
                success_rate_pct=_num(rate * 100 if rate is not None else None, 3),
                threshold_pct=config.min_success_rate * 100,
                shops_below=len(below),
            )
        ],
    )


@dg.asset(
    key=["ops", "webhook_latency"],
    group_name=GROUP,
    description="Seconds from webhook received (webhook_inbox.received_at) to applied (processed_at) per tenant and "
    "shop over the window (p50, p95, max), with pending-overdue and dead deliveries; the briefs promise under 1 s.",
    check_specs=[
        dg.AssetCheckSpec(
            "webhook_latency_at_promise",
            asset=["ops", "webhook_latency"],
            description="Every shop's p95 webhook latency is at most max_webhook_latency_s (default 1 s) and no "
            "delivery is pending longer than max_pending_s (default 300 s).",
        )
    ],
)
def webhook_latency(config: KpiConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    report = config.report(warehouse)
    rows = [
        {"tenant": w.tenant_id, "shop": w.integration_id, "platform": w.platform, "applied": w.applied,
         "p50_s": _num(w.p50_s), "p95_s": _num(w.p95_s), "max_s": _num(w.max_s), "over_promise": w.over_promise,
         "pending_overdue": w.pending_overdue, "dead": w.dead}
        for w in report.webhooks
    ]  # fmt: skip
    over = report.webhooks_over()
    return dg.MaterializeResult(
        metadata={
            "p95_s_worst_shop": dg.FloatMetadataValue(_num(report.webhook_p95_s)),
            "deliveries_applied": sum(w.applied for w in report.webhooks),
            "pending_overdue": sum(w.pending_overdue for w in report.webhooks),
            "dead": sum(w.dead for w in report.webhooks),
            "window_hours": config.window_hours,
            "by_shop": _table(
                [
                    ("tenant", "string"),
                    ("shop", "int"),
                    ("platform", "string"),
                    ("applied", "int"),
                    ("p50_s", "float"),
                    ("p95_s", "float"),
                    ("max_s", "float"),
                    ("over_promise", "int"),
                    ("pending_overdue", "int"),
                    ("dead", "int"),
                ],
                rows,
            ),
            "verdict": dg.MarkdownMetadataValue(report.webhook_verdict()),
        },
        check_results=[
            _check(
                "webhook_latency_at_promise",
                not over,
                report.webhook_verdict(),
                p95_s_worst_shop=_num(report.webhook_p95_s),
                threshold_s=config.max_webhook_latency_s,
                shops_over=len(over),
            )
        ],
    )


@dg.asset(
    key=["ops", "record_counts"],
    group_name=GROUP,
    description="Count reconciliation per tenant, shop and entity: the shop's total (its last id listing, "
    "sync_runs stage reconcile) against the hub's live linked rows; missing records break the briefs' zero data "
    "loss.",
    check_specs=[
        dg.AssetCheckSpec(
            "no_records_missing",
            asset=["ops", "record_counts"],
            description="No shop lists more records than the hub holds for it beyond its open rejections (and "
            "max_missing_records).",
        )
    ],
)
def record_counts(config: KpiConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    report = config.report(warehouse)
    rows = [
        {"tenant": c.tenant_id, "shop": c.integration_id, "platform": c.platform, "entity": c.entity,
         "shop_total": c.shop_total, "hub_rows": c.hub_rows, "missing": c.missing, "rejected_open": c.rejected_open,
         "unexplained": c.unexplained,
         "counted_at": c.counted_at.isoformat(timespec="seconds") if c.counted_at else None}
        for c in report.counts
    ]  # fmt: skip
    missing = report.counts_missing()
    return dg.MaterializeResult(
        metadata={
            "missing_records": report.missing_records,
            "missing_with_open_rejection": sum(c.missing or 0 for c in report.counts) - report.missing_records,
            "shop_entities_counted": sum(1 for c in report.counts if c.shop_total is not None),
            "shop_entities_not_counted": sum(1 for c in report.counts if c.shop_total is None),
            "by_shop": _table(
                [
                    ("tenant", "string"),
                    ("shop", "int"),
                    ("platform", "string"),
                    ("entity", "string"),
                    ("shop_total", "int"),
                    ("hub_rows", "int"),
                    ("missing", "int"),
                    ("rejected_open", "int"),
                    ("unexplained", "int"),
                    ("counted_at", "string"),
                ],
                rows,
            ),
            "verdict": dg.MarkdownMetadataValue(report.count_verdict()),
        },
        check_results=[
            _check(
                "no_records_missing",
                not missing,
                report.count_verdict(),
                missing_records=report.missing_records,
                threshold=config.max_missing_records,
                shop_entities_missing=len(missing),
            )
        ],
    )


OPS_ASSETS = [sync_success, webhook_latency, record_counts]

ops_kpis_job = dg.define_asset_job(
    "ops_kpis_job",
    selection=dg.AssetSelection.groups(GROUP),
    description="Recompute the briefs' KPIs (ops asset group) from the warehouse; no shop is called.",
    executor_def=dg.in_process_executor,
)

ops_kpis_schedule = dg.ScheduleDefinition(
    name="ops_kpis_schedule",
    job=ops_kpis_job,
    cron_schedule="7 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour at :07: the KPIs of the last 24 hours (sync success, webhook latency, record counts).",
)
