"""The stock asset ``hub/stock_push``: the ledger moved by the shops' orders and readings, then pushed (issue 11).

A thin wrapper of ``stock.push.run_stock`` (the function ``ecom-pipeline stock push`` runs): under the tenant's
lock it records order and cancel movements from the hub's orders, reconciles the shops' stock readings, pushes each
stock-managed shop whose number changed (through ``platforms/<platform>/stock.py``) and detects oversells. It runs
after the hub assets in a tenant's sync and after each webhook apply, when the tenant has a shop whose stock the
hub manages (``stock_sync``, set with ``ecom-pipeline stock buffer --integration N --manage``).

The asset check ``stock_no_open_oversells`` warns while an oversell is open (on hand below zero somewhere).
"""

from typing import Any

import dagster as dg
from pydantic import Field

from ecom_pipeline.assets.export import INBOX_ASSET_KEY
from ecom_pipeline.assets.tenant_run import credentials_loader, run_lock
from ecom_pipeline.partitions import tenants_partitions
from ecom_pipeline.resources import CredentialStoreResource, WarehouseResource
from ecom_pipeline.stock.oversells import open_oversells
from ecom_pipeline.stock.push import run_stock

STOCK_KEY = dg.AssetKey(["hub", "stock_push"])
CHECK_OVERSELLS = "stock_no_open_oversells"


class StockConfig(dg.Config):
    """Run settings for the stock step."""

    dry_run: bool = Field(default=False, description="Record movements and plan; write nothing to any shop.")


def _oversell_check(conn: Any, tenant: str) -> dg.AssetCheckResult:
    found = open_oversells(conn, tenant)
    sample = [
        {
            "variant_id": r.variant_id,
            "location": r.location,
            "on_hand": r.on_hand,
            "orders": r.orders,
            "detected_at": r.detected_at.isoformat(),
        }
        for r in found[:20]
    ]
    return dg.AssetCheckResult(
        asset_key=STOCK_KEY,
        check_name=CHECK_OVERSELLS,
        passed=not found,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "open_oversells": len(found),
            "sample": dg.MetadataValue.json(sample),
            "where": "SELECT * FROM stock_oversells WHERE resolved_at IS NULL",
        },
        description="On hand below zero: more units were sold than the shelf had (two shops sold the last one).",
    )


@dg.asset(
    key=STOCK_KEY,
    deps=[dg.AssetKey(["hub", "orders"]), dg.AssetKey(["hub", "inventory"]), INBOX_ASSET_KEY],
    partitions_def=tenants_partitions,
    group_name="hub",
    kinds={"sql", "python"},
    check_specs=[dg.AssetCheckSpec(CHECK_OVERSELLS, asset=STOCK_KEY)],
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL),
    description="The stock ledger (stock_movements) moved by the shops' orders and stock readings, and each "
    "stock-managed shop pushed where its available number changed.",
    tags={"ecom/stage": "stock"},
)
def stock_push(
    context: dg.AssetExecutionContext,
    config: StockConfig,
    warehouse: WarehouseResource,
    credentials: CredentialStoreResource,
) -> dg.MaterializeResult:
    tenant = context.partition_key
    engine = warehouse.engine()
    credentials_for = credentials_loader(credentials)
    with run_lock(context, engine, "hub/stock_push") as lock:
        report = run_stock(engine, tenant_id=tenant, credentials_for=credentials_for, dry_run=config.dry_run)
    per_shop = [
        {
            "integration_id": s.integration_id,
            "platform": s.platform,
            "planned": len(s.planned),
            **(
                {
                    "writes": s.outcome.writes,
                    "failed": len(s.outcome.failed),
                    "refusals": s.outcome.refusals,
                    "api_calls": s.outcome.api_calls,
                }
                if s.outcome
                else {}
            ),
            **({"error": s.error} if s.error else {}),
        }
        for s in report.shops
    ]
    metadata: dict[str, Any] = {
        "tenant": tenant,
        "dry_run": config.dry_run,
        "links_created": report.prepared.links_created,
        "movements": report.prepared.movements,
        "shop_adjustments": report.prepared.adjustments,
        "writes": report.writes,
        "failed": report.failed,
        "api_calls": report.api_calls,
        "oversells_opened": report.prepared.oversells_opened + report.oversells_opened,
        "per_shop": dg.MetadataValue.json(per_shop),
        "dagster/row_count": report.prepared.movements + report.prepared.adjustments,
        "tenant_lock_wait_s": round(lock.waited_s, 3),
    }
    with engine.connect() as conn:
        check = _oversell_check(conn, tenant)
    errors = {f"#{s.integration_id}": s.error for s in report.shops if s.error}
    if errors:
        raise dg.Failure(
            description=f"stock push to {len(errors)} shop(s) of {tenant} failed: {errors}",
            metadata=metadata,
            allow_retries=True,
        )
    context.log.info(
        f"hub/stock_push for {tenant}: {report.prepared.movements} movement(s), {report.writes} shop write(s), "
        f"{report.failed} failed"
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])
