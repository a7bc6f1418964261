"""Extract assets ``[platform, entity]``: one per platform and entity, partitioned by tenant.

They are generated from the platform registry. Each run pages through every active integration of the tenant on
that platform, stages raw payloads and advances cursors; the metadata says what was read, at what cost (calls,
retries, throttle wait) and where the cursor moved. One shop failing does not stop the tenant's other shops; the
asset then fails with every shop's error, after recording each in ``sync_runs`` and ``integrations``.
"""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import dagster as dg
from pydantic import Field
from sqlalchemy import select

from ecom_pipeline.partitions import tenants_partitions
from ecom_pipeline.platforms.errors import ShopApiError
from ecom_pipeline.platforms.registry import PlatformSpec, platforms
from ecom_pipeline.platforms.shopify.lifecycle import CHECK_API_VERSION, version_check_from_reports
from ecom_pipeline.resources import CredentialStoreResource, ShopClientSettings, WarehouseResource
from ecom_pipeline.sync.extract import ExtractContext, ExtractReport
from ecom_pipeline.sync.reconcile import reconcile_if_due
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import staging_records
from ecom_pipeline.webhooks.dagster import count_missed_by_webhooks

# Shop errors are not retried by Dagster and do not fail the asset: the HTTP layer already retried transient ones
# (429, 5xx, timeouts) with backoff, retrying at the asset level would multiply the waits against a struggling shop,
# and failing the asset would stop the tenant's healthy shops from reaching the hub. The next scheduled run resumes
# from the cursor. Anything else (a worker crash, a warehouse error) fails the asset and Dagster's RetryPolicy
# applies.
NOT_RETRIED_BY_DAGSTER: tuple[type[Exception], ...] = (ShopApiError,)


CHECK_ALL_SHOPS = "all_shops_extracted"


class ExtractConfig(dg.Config):
    """Run settings for an extract asset."""

    full_refresh: bool = Field(
        default=False,
        description="Re-read every record instead of changes since the cursor; ids the shop no longer has "
        "become tombstones (deleted_at) in the hub.",
    )
    lookback_seconds: int = Field(
        default=300, description="How far before the cursor an incremental read starts, to catch late commits."
    )


def _metadata(tenant: str, reports: Sequence[tuple[str, ExtractReport]], errors: dict[str, str]) -> dict[str, Any]:
    total = ExtractReport(entity="")
    for _, r in reports:
        total.rows_fetched += r.rows_fetched
        total.staged += r.staged
        total.unchanged += r.unchanged
        total.tombstoned += r.tombstoned
        total.api_calls += r.api_calls
        total.retries += r.retries
        total.throttle_wait_s += r.throttle_wait_s
        total.pages += r.pages
    per_shop = [
        {
            "shop": name,
            "fetched": r.rows_fetched,
            "staged": r.staged,
            "unchanged": r.unchanged,
            "tombstoned": r.tombstoned,
            "api_calls": r.api_calls,
            "retries": r.retries,
            "throttle_wait_s": round(r.throttle_wait_s, 3),
            "cursor_before": r.cursor_before,
            "cursor_after": r.cursor_after,
            "duration_s": round(r.duration_s, 3),
            **({"missed_by_webhooks": r.missed_by_webhooks} if hasattr(r, "missed_by_webhooks") else {}),
            # Platforms that poll on their own schedule (PrestaShop's poll_interval_s) say when they skipped.
            **({"skipped": getattr(r, "skip_reason", None) or True} if getattr(r, "skipped", False) else {}),
        }
        for name, r in reports
    ]
    meta: dict[str, Any] = {
        "tenant": tenant,
        "shops": len(reports) + len(errors),
        "rows_fetched": total.rows_fetched,
        "staged": total.staged,
        "unchanged": total.unchanged,
        "tombstoned": total.tombstoned,
        "pages": total.pages,
        "api_calls": total.api_calls,
        "retries": total.retries,
        "throttle_wait_s": round(total.throttle_wait_s, 3),
        "dagster/row_count": total.staged,
        "duration_s": round(sum(r.duration_s for _, r in reports), 3),
        "per_shop": dg.MetadataValue.json(per_shop),
        "shops_skipped": sum(1 for _, r in reports if getattr(r, "skipped", False)),
        "missed_by_webhooks": sum(int(getattr(r, "missed_by_webhooks", 0) or 0) for _, r in reports),
    }
    # Platform reports may carry more (Shopify: throttled responses, bulk or paginated mode, warnings such as the
    # 60-day order limit without read_all_orders); surface them rather than leave them in the logs.
    extras: dict[str, Any] = {}
    for name, r in reports:
        more = getattr(r, "metadata", None)
        if callable(more):
            extras[name] = more()
    if extras:
        meta["platform_details"] = dg.MetadataValue.json(extras)
        warnings = [f"{name}: {w}" for name, m in extras.items() for w in (m.get("warnings") or [])]
        if warnings:
            meta["warnings"] = dg.MetadataValue.md("\n".join(f"- {w}" for w in warnings))
    if len(reports) == 1:
        meta["cursor_before"] = dg.MetadataValue.json(reports[0][1].cursor_before or {})
        meta["cursor_after"] = dg.MetadataValue.json(reports[0][1].cursor_after or {})
    if errors:
        meta["errors"] = dg.MetadataValue.md("\n".join(f"- **{k}**: {v}" for k, v in errors.items()))
    return meta


def _missed_by_webhooks(
    conn: Any, integration: store.IntegrationRecord, entity: str, run_id: str, full_refresh: bool
) -> int | None:
    """Changes this incremental extract staged that no webhook had delivered; None when it does not apply.

    Only meaningful for shops with webhooks registered (``settings["webhook_url"]``) and for incremental reads:
    a steady non-zero figure means deliveries are being lost (a disabled webhook, a receiver that was down).
    """
    if full_refresh or not (integration.settings or {}).get("webhook_url") or entity == "inventory":
        return None
    rows = conn.execute(
        select(staging_records.c.external_id, staging_records.c.source_updated_at).where(
            staging_records.c.dagster_run_id == run_id,
            staging_records.c.integration_id == integration.id,
            staging_records.c.entity == entity,
            staging_records.c.op == "upsert",
        )
    ).all()
    return count_missed_by_webhooks(
        conn,
        integration_id=integration.id,
        platform=integration.platform,
        entity=entity,
        records=[(r.external_id, r.source_updated_at) for r in rows],
    )


def pool_name(platform: str) -> str:
    """The concurrency pool shared by a platform's extract assets (limited in dagster.yaml)."""
    return f"{platform}_api"


def build_extract_asset(spec: PlatformSpec, asset_name: str, entity: str) -> dg.AssetsDefinition:
    """The extract asset for one platform entity."""
    deps = [dg.AssetKey([spec.name, d]) for d in spec.extract_deps.get(asset_name, ())]

    @dg.asset(
        key=dg.AssetKey([spec.name, asset_name]),
        deps=deps,
        partitions_def=tenants_partitions,
        group_name=spec.name,
        kinds={spec.name, "python"},
        pool=pool_name(spec.name),
        retry_policy=dg.RetryPolicy(max_retries=2, delay=15, backoff=dg.Backoff.EXPONENTIAL),
        description=f"Raw {spec.title} {asset_name} of each tenant's shops, staged in `staging_records`.",
        tags={"ecom/platform": spec.name, "ecom/stage": "extract"},
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_ALL_SHOPS,
                asset=dg.AssetKey([spec.name, asset_name]),
                description="Every shop of the tenant on this platform was read; a failing shop is named here.",
            ),
            *(
                [
                    dg.AssetCheckSpec(
                        CHECK_API_VERSION,
                        asset=dg.AssetKey([spec.name, asset_name]),
                        description="Every Shopify shop is on an API version neither retiring within 90 days nor "
                        "falling forward (retired).",
                    )
                ]
                if spec.name == "shopify"
                else []
            ),
        ],
    )
    def _extract(
        context: dg.AssetExecutionContext,
        config: ExtractConfig,
        warehouse: WarehouseResource,
        credentials: CredentialStoreResource,
        shop_clients: ShopClientSettings,
    ) -> dg.MaterializeResult:
        tenant = context.partition_key
        engine = warehouse.engine()
        cipher = credentials.cipher()
        with engine.connect() as conn:
            integrations = store.list_integrations(conn, tenant_id=tenant, platform=spec.name)
        reports: list[tuple[str, ExtractReport]] = []
        errors: dict[str, str] = {}
        retryable = True
        if not integrations:
            context.log.info(f"tenant {tenant} has no active {spec.title} shop; nothing to extract")
        for integration in integrations:
            label = f"{integration.name} (#{integration.id})"
            with engine.begin() as conn:
                cursor_before = store.get_cursor(conn, integration.id, entity)
                sync_run_id = store.start_sync_run(
                    conn,
                    tenant_id=tenant,
                    integration_id=integration.id,
                    platform=spec.name,
                    entity=entity,
                    direction="pull",
                    stage="extract",
                    full_refresh=config.full_refresh,
                    run_id=context.run.run_id,
                    cursor_before=cursor_before,
                )
            try:
                with engine.connect() as conn:
                    creds = store.load_credentials(conn, integration.id, cipher)
                ctx = ExtractContext(
                    engine=engine,
                    integration=integration,
                    credentials=creds,
                    run_id=context.run.run_id,
                    full_refresh=config.full_refresh,
                    lookback=timedelta(seconds=config.lookback_seconds),
                    timeout_s=shop_clients.timeout_s,
                    max_retries=shop_clients.max_retries,
                    request_budget=shop_clients.request_budget,
                    per_page=shop_clients.per_page,
                    log=context.log,
                )
                report = spec.extract(ctx, entity)
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                errors[label] = message
                retryable = retryable and not isinstance(exc, NOT_RETRIED_BY_DAGSTER)
                context.log.error(f"{spec.title} {asset_name} of {label} failed: {message}")
                with engine.begin() as conn:
                    store.finish_sync_run(
                        conn, sync_run_id, status="failed", counts={}, cursor_after=None, error=message
                    )
                    store.mark_sync_result(conn, integration.id, ok=False, error=message, counts=None)
                continue
            counts = report.counts()
            with engine.begin() as conn:
                missed = _missed_by_webhooks(conn, integration, entity, context.run.run_id, config.full_refresh)
                if missed is not None:
                    counts["missed_by_webhooks"] = missed
                    setattr(report, "missed_by_webhooks", missed)  # noqa: B010 - read back for the metadata
                store.finish_sync_run(
                    conn,
                    sync_run_id,
                    status="success",
                    counts=counts,
                    cursor_after=report.cursor_after,
                    error=None,
                )
                # A successful exchange with the shop clears a previous error and moves last_success_at, even when
                # nothing changed. Steps that did not talk to the shop (WooCommerce inventory reads staged
                # products) say nothing about its health.
                if report.api_calls:
                    store.mark_sync_result(conn, integration.id, ok=True, error=None, counts=None)
            reports.append((label, report))
            # Deletes nobody announces: an id-only listing when the shop's interval is due (sync/reconcile.py).
            reconciled = reconcile_if_due(ctx, entity, spec.reconcile)
            if reconciled is not None:
                (context.log.info if reconciled.ok else context.log.warning)(reconciled.summary(label))
            context.log.info(
                f"{spec.title} {asset_name} of {label}: fetched {report.rows_fetched}, staged {report.staged}, "
                f"unchanged {report.unchanged}, tombstoned {report.tombstoned}, {report.api_calls} API calls, "
                f"{report.retries} retries, {report.throttle_wait_s:.1f}s throttled, {report.duration_s:.2f}s"
            )
        metadata = _metadata(tenant, reports, errors)
        summary = (
            f"{len(errors)} of {len(integrations)} {spec.title} shop(s) of tenant {tenant} failed to extract "
            f"{asset_name}: " + "; ".join(f"{k}: {v}" for k, v in errors.items())
        )
        if errors and not retryable:
            # Shop errors (credentials, throttling past our retries, a shop down) fail this shop only: the asset
            # still materializes what the tenant's other shops gave, so the hub keeps applying them, and the
            # failure shows as a failed ERROR check (and in sync_runs, integrations.last_error, `status`).
            context.log.error(summary)
        elif errors:
            raise dg.Failure(description=summary, metadata=metadata, allow_retries=True)
        return dg.MaterializeResult(
            metadata=metadata,
            check_results=[
                dg.AssetCheckResult(
                    check_name=CHECK_ALL_SHOPS,
                    passed=not errors,
                    severity=dg.AssetCheckSeverity.ERROR,
                    description=summary if errors else f"every {spec.title} shop of {tenant} was read",
                    metadata={"failed_shops": dg.MetadataValue.json(errors)},
                ),
                *([version_check_from_reports(reports)] if spec.name == "shopify" else []),
            ],
        )

    return _extract


def extract_assets() -> list[dg.AssetsDefinition]:
    """Every platform's extract assets."""
    return [
        build_extract_asset(spec, asset_name, entity)
        for spec in platforms().values()
        for asset_name, entity in spec.extract_entities.items()
    ]
